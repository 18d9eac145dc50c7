/*
 * Misuse of the socket API: NULL handles and pointers, bad addresses and configurations,
 * unknown sessions, small buffers, double closes, a wrong key, destroying sockets with open
 * sessions. Every case must give its error code (never a crash), leave nothing allocated, and
 * leave the sockets involved working.
 */
#include "socket_common.h"

static unsigned char big[300000];

static kcp_config sealed_config(void) {
    kcp_config cfg;
    OK(kcp_config_init(&cfg, sizeof cfg));
    cfg.passphrase = "misuse test passphrase";
    return cfg;
}

/* Makes a server with `cfg` at `addr`, expecting `want`; the out-pointer is NULL on failure. */
static void server_fails(const kcp_config *cfg, const char *addr, int want) {
    kcp_socket *s = (kcp_socket *)&s; /* not NULL: the call must reset it */
    EXPECT_RC(kcp_server_new(cfg, addr, &s), want);
    CHECK(s == NULL);
    CHECK(kcp_last_error()[0] != '\0');
}

static void config_cases(void) {
    kcp_config cfg;
    EXPECT_RC(kcp_config_init(NULL, sizeof cfg), KCP_EINVAL);
    EXPECT_RC(kcp_config_init(&cfg, 0), KCP_EINVAL);
    EXPECT_RC(kcp_config_init(&cfg, sizeof cfg - 4), KCP_EINVAL);
    OK(kcp_config_init(&cfg, sizeof cfg));
    CHECK(cfg.size == sizeof cfg && cfg.mode == KCP_MODE_SEALED && cfg.passphrase == NULL);
    CHECK(cfg.fec_data_shards == 10 && cfg.fec_parity_shards == 3);

    /* A program built against a newer, larger header: the tail it knows and we do not is 0. */
    union {
        kcp_config cfg;
        unsigned char bytes[sizeof(kcp_config) + 32];
    } newer;
    memset(&newer, 0xAB, sizeof newer);
    OK(kcp_config_init(&newer.cfg, sizeof newer));
    CHECK(newer.cfg.size == sizeof newer);
    for (size_t i = sizeof(kcp_config); i < sizeof newer; i++) CHECK(newer.bytes[i] == 0);
    newer.cfg.passphrase = "newer";
    kcp_socket *s = NULL;
    OK(kcp_server_new(&newer.cfg, "127.0.0.1:0", &s));
    EXPECT_RC(kcp_socket_destroy(s), KCP_OK);

    /* Not initialised. */
    memset(&cfg, 0, sizeof cfg);
    cfg.passphrase = "x";
    server_fails(&cfg, "127.0.0.1:0", KCP_EINVAL);
    server_fails(NULL, "127.0.0.1:0", KCP_EINVAL);

    /* Keys. */
    cfg = sealed_config();
    cfg.passphrase = NULL;
    server_fails(&cfg, "127.0.0.1:0", KCP_EKEY);
    cfg.passphrase = "";
    server_fails(&cfg, "127.0.0.1:0", KCP_EKEY);
    cfg.mode = KCP_MODE_LEGACY;
    cfg.passphrase = NULL;
    server_fails(&cfg, "127.0.0.1:0", KCP_EKEY);
    cfg.crypt = KCP_CRYPT_NONE; /* no cipher: no key needed */
    OK(kcp_server_new(&cfg, "127.0.0.1:0", &s));
    EXPECT_RC(kcp_socket_destroy(s), KCP_OK);
    static const uint8_t raw[KCP_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    cfg = sealed_config();
    cfg.passphrase = NULL;
    cfg.key = raw;
    OK(kcp_server_new(&cfg, "127.0.0.1:0", &s));
    EXPECT_RC(kcp_socket_destroy(s), KCP_OK);

    /* Values out of range. */
    struct {
        const char *what;
        kcp_config cfg;
    } bad[10];
    int n = 0;
    for (int i = 0; i < 10; i++) bad[i].cfg = sealed_config();
    bad[n].what = "mode";
    bad[n++].cfg.mode = 7;
    bad[n].what = "profile";
    bad[n++].cfg.profile = 99;
    bad[n].what = "stream";
    bad[n++].cfg.stream = 2;
    bad[n].what = "mtu";
    bad[n++].cfg.mtu = 10;
    bad[n].what = "mtu";
    bad[n++].cfg.mtu = 100000;
    bad[n].what = "send_window";
    bad[n++].cfg.send_window = 70000;
    bad[n].what = "crypt";
    bad[n].cfg.mode = KCP_MODE_LEGACY;
    bad[n++].cfg.crypt = 42;
    bad[n].what = "fec";
    bad[n].cfg.mode = KCP_MODE_LEGACY;
    bad[n].cfg.fec_data_shards = 200;
    bad[n++].cfg.fec_parity_shards = 100;
    for (int i = 0; i < n; i++) {
        server_fails(&bad[i].cfg, "127.0.0.1:0", KCP_EINVAL);
        if (strstr(kcp_last_error(), bad[i].what) == NULL && strcmp(bad[i].what, "fec") != 0) {
            fprintf(stderr, "error for %s does not name it: %s\n", bad[i].what, kcp_last_error());
            exit(1);
        }
    }
    /* A small receive window in message mode is fine: messages get fewer fragments. */
    cfg = sealed_config();
    cfg.recv_window = 16;
    OK(kcp_server_new(&cfg, "127.0.0.1:0", &s));
    CHECK(OK(kcp_max_message_size(s)) <= 16 * 1400);
    EXPECT_RC(kcp_socket_destroy(s), KCP_OK);
}

static void address_cases(void) {
    kcp_config cfg = sealed_config();
    const char *bad[] = {"", "nope", "127.0.0.1", "127.0.0.1:99999", "[::1", "1.2.3.4:-1", ":"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) server_fails(&cfg, bad[i], KCP_EADDR);
    server_fails(&cfg, NULL, KCP_EINVAL);
    EXPECT_RC(kcp_server_new(&cfg, "127.0.0.1:0", NULL), KCP_EINVAL);

    kcp_socket *c = (kcp_socket *)&c;
    uint64_t id = 99;
    EXPECT_RC(kcp_client_new(&cfg, "nope", &c, &id), KCP_EADDR);
    CHECK(c == NULL && id == 0);
    EXPECT_RC(kcp_client_new(&cfg, NULL, &c, &id), KCP_EINVAL);
    EXPECT_RC(kcp_client_new(&cfg, "127.0.0.1:9", NULL, &id), KCP_EINVAL);
    EXPECT_RC(kcp_client_new(NULL, "127.0.0.1:9", &c, &id), KCP_EINVAL);

    /* The port is taken. */
    kcp_socket *a = NULL;
    OK(kcp_server_new(&cfg, "127.0.0.1:0", &a));
    char addr[KCP_ADDRSTRLEN];
    OK(kcp_local_addr(a, addr, sizeof addr));
    server_fails(&cfg, addr, KCP_EIO);
    CHECK(strstr(kcp_last_error(), addr) != NULL);
    EXPECT_RC(kcp_connect(a, "not an address", &id), KCP_EADDR);
    EXPECT_RC(kcp_connect(a, NULL, &id), KCP_EINVAL);
    EXPECT_RC(kcp_socket_destroy(a), KCP_OK);
}

static void null_socket_cases(void) {
    kcp_event ev[4];
    char buf[64];
    kcp_session_stats ss;
    kcp_socket_stats st;
    uint64_t id;
    EXPECT_RC(kcp_poll(NULL, ev, 4, 0), KCP_EINVAL);
    CHECK(strstr(kcp_last_error(), "socket") != NULL);
    EXPECT_RC(kcp_flush(NULL), KCP_EINVAL);
    EXPECT_RC(kcp_send(NULL, 1, "x", 1), KCP_EINVAL);
    EXPECT_RC(kcp_recv(NULL, 1, buf, sizeof buf), KCP_EINVAL);
    EXPECT_RC(kcp_close(NULL, 1, 0), KCP_EINVAL);
    EXPECT_RC(kcp_connect(NULL, "127.0.0.1:9", &id), KCP_EINVAL);
    EXPECT_RC(kcp_get_session_stats(NULL, 1, &ss, sizeof ss), KCP_EINVAL);
    EXPECT_RC(kcp_get_socket_stats(NULL, &st, sizeof st), KCP_EINVAL);
    EXPECT_RC(kcp_local_addr(NULL, buf, sizeof buf), KCP_EINVAL);
    EXPECT_RC(kcp_session_remote(NULL, 1, buf, sizeof buf), KCP_EINVAL);
    EXPECT_RC(kcp_max_message_size(NULL), KCP_EINVAL);
    EXPECT_RC(kcp_socket_destroy(NULL), KCP_OK);
}

static void text_cases(void) {
    int codes[] = {KCP_OK,      KCP_EINVAL, KCP_EADDR,  KCP_ENOSESSION, KCP_EAGAIN, KCP_EMSGSIZE,
                   KCP_EKEY,    KCP_EIO,    KCP_ELIMIT, KCP_EBUSY,      KCP_EPANIC, -12345,
                   12345};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *text = kcp_strerror(codes[i]);
        CHECK(text != NULL && text[0] != '\0');
    }
    CHECK(strcmp(kcp_strerror(-12345), "unknown error code") == 0);
    CHECK(strcmp(kcp_strerror(KCP_EINVAL), kcp_strerror(KCP_EADDR)) != 0);
    for (uint32_t r = 0; r <= 8; r++) CHECK(kcp_close_reason_str(r)[0] != '\0');
    CHECK(strcmp(kcp_close_reason_str(1000), "unknown close reason") == 0);
    CHECK(kcp_version()[0] >= '0' && kcp_version()[0] <= '9');
}

/* Calls on live sockets with unknown sessions, bad buffers and out-pointers. */
static void session_cases(void) {
    kcp_config cfg = sealed_config();
    peer server = {"server", NULL, {{0}}, 0}, client = {"client", NULL, {{0}}, 0};
    peer *all[] = {&server, &client};
    OK(kcp_server_new(&cfg, "127.0.0.1:0", &server.sock));
    char addr[KCP_ADDRSTRLEN];
    OK(kcp_local_addr(server.sock, addr, sizeof addr));

    /* Small and missing output buffers. */
    char small[4] = "abc";
    EXPECT_RC(kcp_local_addr(server.sock, small, sizeof small), KCP_EMSGSIZE);
    CHECK(small[0] == '\0');
    EXPECT_RC(kcp_local_addr(server.sock, small, 0), KCP_EMSGSIZE);
    EXPECT_RC(kcp_local_addr(server.sock, NULL, 64), KCP_EINVAL);
    kcp_event ev[4];
    EXPECT_RC(kcp_poll(server.sock, NULL, 4, 0), KCP_EINVAL);
    CHECK(OK(kcp_poll(server.sock, NULL, 0, 0)) == 0);
    CHECK(OK(kcp_poll(server.sock, ev, 4, 0)) == 0);
    kcp_socket_stats st;
    EXPECT_RC(kcp_get_socket_stats(server.sock, NULL, sizeof st), KCP_EINVAL);
    EXPECT_RC(kcp_get_socket_stats(server.sock, &st, sizeof st - 8), KCP_EINVAL);
    union {
        kcp_socket_stats st;
        unsigned char bytes[sizeof(kcp_socket_stats) + 16];
    } newer;
    memset(&newer, 0xAB, sizeof newer);
    OK(kcp_get_socket_stats(server.sock, &newer.st, sizeof newer));
    for (size_t i = sizeof(kcp_socket_stats); i < sizeof newer; i++) CHECK(newer.bytes[i] == 0);

    /* Sessions that do not exist. */
    uint64_t unknown[] = {0, 1, 0x100000001ull, 0x200000001ull, UINT64_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        uint64_t id = unknown[i];
        char buf[64];
        kcp_session_stats ss;
        EXPECT_RC(kcp_send(server.sock, id, "x", 1), KCP_ENOSESSION);
        EXPECT_RC(kcp_recv(server.sock, id, buf, sizeof buf), KCP_ENOSESSION);
        EXPECT_RC(kcp_close(server.sock, id, 0), KCP_ENOSESSION);
        EXPECT_RC(kcp_get_session_stats(server.sock, id, &ss, sizeof ss), KCP_ENOSESSION);
        EXPECT_RC(kcp_session_remote(server.sock, id, buf, sizeof buf), KCP_ENOSESSION);
    }

    /* A client that did not ask for its session id learns it from KCP_EVENT_CONNECTED. */
    OK(kcp_client_new(&cfg, addr, &client.sock, NULL));
    uint64_t learned = wait_for(&client, KCP_EVENT_CONNECTED, 0, all, 2).session;
    CHECK(learned != 0);
    EXPECT_RC(kcp_send(client.sock, learned, "", 0), 0);
    EXPECT_RC(kcp_socket_destroy(client.sock), KCP_OK);
    client.sock = NULL;
    client.queued = 0;
    /* The server saw that session come and go. */
    uint64_t gone = wait_for(&server, KCP_EVENT_ACCEPTED, 0, all, 2).session;
    CHECK(wait_for(&server, KCP_EVENT_CLOSED, gone, all, 2).reason == KCP_CLOSE_PEER);
    server.queued = 0;

    /* A live session: bad buffers and sizes, and an id used on the wrong socket. */
    uint64_t c_id = 0;
    OK(kcp_client_new(&cfg, addr, &client.sock, &c_id));
    (void)wait_for(&client, KCP_EVENT_CONNECTED, c_id, all, 2);
    EXPECT_RC(kcp_send(client.sock, c_id, NULL, 5), KCP_EINVAL);
    EXPECT_RC(kcp_send(client.sock, c_id, NULL, 0), 0); /* an empty message */
    int max = (int)OK(kcp_max_message_size(client.sock));
    CHECK(max > 0 && (size_t)max < sizeof big);
    EXPECT_RC(kcp_send(client.sock, c_id, big, (size_t)max + 1), KCP_EMSGSIZE);
    for (size_t i = 0; i < 3000; i++) big[i] = (unsigned char)i;
    EXPECT_RC(kcp_send(client.sock, c_id, big, 3000), 3000);
    kcp_session_stats ss;
    EXPECT_RC(kcp_get_session_stats(client.sock, c_id, NULL, sizeof ss), KCP_EINVAL);
    EXPECT_RC(kcp_get_session_stats(client.sock, c_id, &ss, 3), KCP_EINVAL);

    uint64_t s_id = wait_for(&server, KCP_EVENT_ACCEPTED, 0, all, 2).session;
    /* The client's id means nothing on the server's socket (unless they happen to match). */
    if (s_id != c_id) EXPECT_RC(kcp_close(server.sock, c_id, 0), KCP_ENOSESSION);
    (void)wait_for(&server, KCP_EVENT_READABLE, s_id, all, 2);
    char tiny[100];
    /* The empty message first, then the 3000 bytes: too big for 100, then read whole. */
    EXPECT_RC(kcp_recv(server.sock, s_id, tiny, sizeof tiny), 0);
    EXPECT_RC(kcp_recv(server.sock, s_id, tiny, sizeof tiny), KCP_EMSGSIZE);
    CHECK(strstr(kcp_last_error(), "3000") != NULL);
    EXPECT_RC(kcp_recv(server.sock, s_id, NULL, 100), KCP_EINVAL);
    memset(big, 0, 3000);
    EXPECT_RC(kcp_recv(server.sock, s_id, big, sizeof big), 3000);
    for (size_t i = 0; i < 3000; i++) CHECK(big[i] == (unsigned char)i);
    EXPECT_RC(kcp_recv(server.sock, s_id, big, sizeof big), KCP_EAGAIN);

    /* Close twice; nothing more is said about a session after the application closed it. */
    OK(kcp_close(server.sock, s_id, 5));
    EXPECT_RC(kcp_close(server.sock, s_id, 5), KCP_ENOSESSION);
    EXPECT_RC(kcp_send(server.sock, s_id, "x", 1), KCP_ENOSESSION);
    EXPECT_RC(kcp_session_remote(server.sock, s_id, tiny, sizeof tiny), KCP_ENOSESSION);
    kcp_event closed = wait_for(&client, KCP_EVENT_CLOSED, c_id, all, 2);
    CHECK(closed.reason == KCP_CLOSE_PEER && closed.code == 5);
    CHECK(!mentions(&server, s_id));
    EXPECT_RC(kcp_recv(client.sock, c_id, tiny, sizeof tiny), KCP_ENOSESSION);

    EXPECT_RC(kcp_socket_destroy(client.sock), KCP_OK);
    EXPECT_RC(kcp_socket_destroy(server.sock), KCP_OK);
}

/* A server destroyed while it has sessions: its clients hear it; nothing leaks. */
static void destroy_with_sessions(void) {
    kcp_config cfg = sealed_config();
    peer server = {"server", NULL, {{0}}, 0}, a = {"a", NULL, {{0}}, 0}, b = {"b", NULL, {{0}}, 0};
    peer *all[] = {&server, &a, &b};
    OK(kcp_server_new(&cfg, "127.0.0.1:0", &server.sock));
    char addr[KCP_ADDRSTRLEN];
    OK(kcp_local_addr(server.sock, addr, sizeof addr));
    uint64_t ida = 0, idb = 0, pending = 0;
    OK(kcp_client_new(&cfg, addr, &a.sock, &ida));
    OK(kcp_client_new(&cfg, addr, &b.sock, &idb));
    (void)wait_for(&a, KCP_EVENT_CONNECTED, ida, all, 3);
    (void)wait_for(&b, KCP_EVENT_CONNECTED, idb, all, 3);
    EXPECT_RC(kcp_send(a.sock, ida, "a", 1), 1);
    EXPECT_RC(kcp_send(b.sock, idb, "b", 1), 1);
    (void)wait_for(&server, KCP_EVENT_ACCEPTED, 0, all, 3);
    (void)wait_for(&server, KCP_EVENT_ACCEPTED, 0, all, 3);
    /* Data left unread, events left untaken, and one more handshake under way. */
    OK(kcp_connect(server.sock, addr, &pending));
    EXPECT_RC(kcp_socket_destroy(server.sock), KCP_OK);
    server.sock = NULL;
    kcp_event ea = wait_for(&a, KCP_EVENT_CLOSED, ida, all, 3);
    kcp_event eb = wait_for(&b, KCP_EVENT_CLOSED, idb, all, 3);
    CHECK(ea.reason == KCP_CLOSE_PEER && ea.code == 0);
    CHECK(eb.reason == KCP_CLOSE_PEER && eb.code == 0);
    /* Clients destroyed with sessions in handshake (to a port nobody answers). */
    uint64_t nowhere = 0;
    OK(kcp_connect(a.sock, "127.0.0.1:9", &nowhere));
    OK(kcp_poll(a.sock, NULL, 0, 0));
    EXPECT_RC(kcp_socket_destroy(a.sock), KCP_OK);
    EXPECT_RC(kcp_socket_destroy(b.sock), KCP_OK);
}

/* Keys that differ, and a server that is not there: the client is told why. */
static void handshake_failures(void) {
    kcp_config cfg = sealed_config();
    cfg.handshake_timeout_ms = 1500;
    peer server = {"server", NULL, {{0}}, 0}, client = {"client", NULL, {{0}}, 0};
    peer *all[] = {&server, &client};
    OK(kcp_server_new(&cfg, "127.0.0.1:0", &server.sock));
    char addr[KCP_ADDRSTRLEN];
    OK(kcp_local_addr(server.sock, addr, sizeof addr));
    kcp_config other = cfg;
    other.passphrase = "another passphrase";
    uint64_t id = 0;
    OK(kcp_client_new(&other, addr, &client.sock, &id));
    kcp_event closed = wait_for(&client, KCP_EVENT_CLOSED, id, all, 2);
    CHECK(closed.reason == KCP_CLOSE_KEY_MISMATCH);
    kcp_socket_stats st;
    OK(kcp_get_socket_stats(server.sock, &st, sizeof st));
    CHECK(st.handshake_failures > 0 && st.accepted == 0);
    CHECK(server.queued == 0);

    /* Nobody listens on the server's old port once it is gone. */
    EXPECT_RC(kcp_socket_destroy(server.sock), KCP_OK);
    server.sock = NULL;
    OK(kcp_connect(client.sock, addr, &id));
    closed = wait_for(&client, KCP_EVENT_CLOSED, id, all, 2);
    CHECK(closed.reason == KCP_CLOSE_NO_ANSWER);
    EXPECT_RC(kcp_socket_destroy(client.sock), KCP_OK);
}

int main(void) {
    config_cases();
    address_cases();
    null_socket_cases();
    text_cases();
    session_cases();
    destroy_with_sessions();
    handshake_failures();
    printf("misuse: ok\n");
    return 0;
}
