/*
 * The socket API over loopback: a server and clients in one program, in one mode given as the
 * argument: "sealed" (native, message mode), "stream" (native, stream mode) or "legacy"
 * (kcptun-compatible, aes + FEC 10/3). Connect, exchange messages both ways and check every
 * byte, check the statistics, see close events both ways and on destroy, destroy cleanly.
 * Exits 0 on success; prints what went wrong and exits 1 otherwise.
 */
#include "socket_common.h"

#define MESSAGES 64
#define BIG 100000

static int legacy_mode;
static int stream_mode;

/* Deterministic contents: message `i` of `len` bytes in direction `dir`. */
static void fill(unsigned char *buf, size_t len, int i, int dir) {
    for (size_t k = 0; k < len; k++) buf[k] = (unsigned char)(k * 31u + (unsigned)i * 7u + (unsigned)dir);
}

/* Message sizes: mostly small, one empty (message mode), one multi-segment one. */
static size_t size_of_message(int i) {
    if (i == 5 && !stream_mode) return 0;
    if (i == 17) return BIG;
    return (size_t)(1 + (i * 37) % 1200);
}

static void configure(kcp_config *cfg) {
    OK(kcp_config_init(cfg, sizeof *cfg));
    if (legacy_mode) {
        cfg->mode = KCP_MODE_LEGACY;
        cfg->crypt = KCP_CRYPT_AES;
        cfg->passphrase = "it's a secrect";
        cfg->profile = KCP_PROFILE_FAST3;
        /* The legacy protocol has no close message: peers notice by this timeout. */
        cfg->idle_timeout_ms = 1500;
    } else {
        cfg->passphrase = "correct horse battery staple";
        cfg->stream = (uint32_t)stream_mode;
    }
}

static unsigned char out_buf[BIG], in_buf[2 * BIG], expect_buf[BIG];

/* Receives everything waiting on a session; checks it against the messages expected in
 * direction `dir`, counting them in *received (stream mode: bytes in *offset). */
static void drain(kcp_socket *sock, uint64_t session, int dir, int *received, size_t *offset,
                  kcp_socket *reply_sock) {
    for (;;) {
        int n = kcp_recv(sock, session, in_buf, sizeof in_buf);
        if (n == KCP_EAGAIN) return;
        OK(n);
        if (stream_mode) {
            /* The byte stream is every message of `dir` back to back. */
            size_t done = 0;
            while (done < (size_t)n) {
                size_t len = size_of_message(*received);
                size_t take = len - *offset;
                if (take > (size_t)n - done) take = (size_t)n - done;
                fill(expect_buf, len, *received, dir);
                CHECK(memcmp(in_buf + done, expect_buf + *offset, take) == 0);
                done += take;
                *offset += take;
                if (*offset == len) {
                    *offset = 0;
                    (*received)++;
                }
            }
        } else {
            size_t len = size_of_message(*received);
            CHECK((size_t)n == len);
            fill(expect_buf, len, *received, dir);
            CHECK(memcmp(in_buf, expect_buf, len) == 0);
            (*received)++;
            if (reply_sock != NULL) {
                /* The server answers each message with the same-numbered one the other way. */
                int i = *received - 1;
                size_t rlen = size_of_message(i);
                fill(out_buf, rlen, i, 1);
                EXPECT_RC(kcp_send(reply_sock, session, out_buf, rlen), (long)rlen);
            }
        }
    }
}

/* Sends every message in direction `dir`, all of each (stream mode: maybe in pieces). */
static void send_all(peer *p, uint64_t session, int dir, peer **all, int count) {
    for (int i = 0; i < MESSAGES; i++) {
        size_t len = size_of_message(i), sent = 0;
        fill(out_buf, len, i, dir);
        do {
            int n = kcp_send(p->sock, session, out_buf + sent, len - sent);
            if (n == KCP_EAGAIN) {
                /* Queue full: let the data drain (WRITABLE follows), then go on. */
                (void)wait_for(p, KCP_EVENT_WRITABLE, session, all, count);
                continue;
            }
            sent += (size_t)OK(n);
        } while (sent < len);
    }
}

/* The port of an address string ("127.0.0.1:4000" -> "4000"). */
static const char *port_of(const char *addr) {
    const char *colon = strrchr(addr, ':');
    CHECK(colon != NULL);
    return colon + 1;
}

/* Waits for the server to accept a session from the socket `from`, and returns its id. In
 * legacy mode a session the server closed can come back as a new one while its peer still
 * sends (kcp-go's listener does the same): such sessions from other sockets are skipped. */
static uint64_t accept_from(peer *server, kcp_socket *from, peer **all, int count) {
    char local[KCP_ADDRSTRLEN], remote[KCP_ADDRSTRLEN];
    OK(kcp_local_addr(from, local, sizeof local));
    for (;;) {
        uint64_t id = wait_for(server, KCP_EVENT_ACCEPTED, 0, all, count).session;
        CHECK(id != 0);
        if (kcp_session_remote(server->sock, id, remote, sizeof remote) >= 0 &&
            strcmp(port_of(remote), port_of(local)) == 0)
            return id;
        CHECK(legacy_mode);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s sealed|stream|legacy\n", argv[0]);
        return 2;
    }
    legacy_mode = strcmp(argv[1], "legacy") == 0;
    stream_mode = strcmp(argv[1], "stream") == 0;
    CHECK(legacy_mode || stream_mode || strcmp(argv[1], "sealed") == 0);

    kcp_config cfg;
    configure(&cfg);
    peer server = {"server", NULL, {{0}}, 0}, client = {"client", NULL, {{0}}, 0};
    peer *all[] = {&server, &client};
    OK(kcp_server_new(&cfg, "127.0.0.1:0", &server.sock));
    char addr[KCP_ADDRSTRLEN];
    int addr_len = (int)OK(kcp_local_addr(server.sock, addr, sizeof addr));
    CHECK(addr_len == (int)strlen(addr) && strncmp(addr, "127.0.0.1:", 10) == 0);

    uint64_t c_id = 0;
    OK(kcp_client_new(&cfg, addr, &client.sock, &c_id));
    CHECK(c_id != 0);
    if (!legacy_mode && !stream_mode) {
        /* No poll has run: the handshake cannot be done yet. */
        EXPECT_RC(kcp_send(client.sock, c_id, "x", 1), KCP_EAGAIN);
        kcp_session_stats early;
        EXPECT_RC(kcp_get_session_stats(client.sock, c_id, &early, sizeof early), KCP_EAGAIN);
    }
    CHECK(wait_for(&client, KCP_EVENT_CONNECTED, c_id, all, 2).session == c_id);
    if (!stream_mode) CHECK(OK(kcp_max_message_size(client.sock)) >= BIG);

    /* Client to server, and the server's answers (message mode) or echo (stream mode). */
    send_all(&client, c_id, 0, all, 2);
    uint64_t s_id = accept_from(&server, client.sock, all, 2);
    char remote[KCP_ADDRSTRLEN];
    OK(kcp_session_remote(server.sock, s_id, remote, sizeof remote));
    CHECK(strncmp(remote, "127.0.0.1:", 10) == 0);

    int at_server = 0, at_client = 0;
    size_t server_offset = 0, client_offset = 0;
    while (at_server < MESSAGES) {
        (void)wait_for(&server, KCP_EVENT_READABLE, s_id, all, 2);
        drain(server.sock, s_id, 0, &at_server, &server_offset, stream_mode ? NULL : server.sock);
    }
    if (stream_mode) send_all(&server, s_id, 1, all, 2);
    while (at_client < MESSAGES) {
        (void)wait_for(&client, KCP_EVENT_READABLE, c_id, all, 2);
        drain(client.sock, c_id, 1, &at_client, &client_offset, NULL);
    }
    CHECK(server_offset == 0 && client_offset == 0);

    /* Statistics: both sides moved data. (RTT may be 0 ms on loopback: not checked.) */
    kcp_session_stats cs, ss;
    OK(kcp_get_session_stats(client.sock, c_id, &cs, sizeof cs));
    OK(kcp_get_session_stats(server.sock, s_id, &ss, sizeof ss));
    size_t total = 0;
    for (int i = 0; i < MESSAGES; i++) total += size_of_message(i);
    CHECK(cs.bytes_sent == total && cs.bytes_received == total);
    CHECK(ss.bytes_sent == total && ss.bytes_received == total);
    CHECK(cs.datagrams_sent > 0 && cs.datagrams_received > 0 && cs.segments_sent > 0);
    CHECK(cs.wire_bytes_sent > total && ss.wire_bytes_sent > total);
    CHECK(cs.send_window > 0 && cs.recv_window > 0 && cs.rto_ms > 0);
    kcp_socket_stats sst;
    OK(kcp_get_socket_stats(server.sock, &sst, sizeof sst));
    CHECK(sst.accepted == 1 && sst.sessions >= 1);
    CHECK(sst.datagrams_received > 0 && sst.bytes_received > total && sst.datagrams_sent > 0);
    CHECK(sst.recv_calls > 0 && sst.send_calls > 0);
    kcp_socket_stats cst;
    OK(kcp_get_socket_stats(client.sock, &cst, sizeof cst));
    CHECK(cst.connected == 1 && cst.bytes_sent > total);

    /* The client closes: the server hears it (sealed: the code; legacy: the idle timeout). */
    OK(kcp_close(client.sock, c_id, 42));
    EXPECT_RC(kcp_close(client.sock, c_id, 42), KCP_ENOSESSION);
    EXPECT_RC(kcp_send(client.sock, c_id, "x", 1), KCP_ENOSESSION);
    kcp_event closed = wait_for(&server, KCP_EVENT_CLOSED, s_id, all, 2);
    if (legacy_mode) {
        CHECK(closed.reason == KCP_CLOSE_IDLE_TIMEOUT);
    } else {
        CHECK(closed.reason == KCP_CLOSE_PEER && closed.code == 42);
    }
    EXPECT_RC(kcp_recv(server.sock, s_id, in_buf, sizeof in_buf), KCP_ENOSESSION);
    CHECK(!mentions(&client, c_id));

    /* A second session on the same client socket; this time the server closes it. */
    uint64_t c2 = 0;
    OK(kcp_connect(client.sock, addr, &c2));
    CHECK(c2 != 0 && c2 != c_id);
    (void)wait_for(&client, KCP_EVENT_CONNECTED, c2, all, 2);
    EXPECT_RC(kcp_send(client.sock, c2, "hello", 5), 5);
    uint64_t s2 = accept_from(&server, client.sock, all, 2);
    (void)wait_for(&server, KCP_EVENT_READABLE, s2, all, 2);
    EXPECT_RC(kcp_recv(server.sock, s2, in_buf, sizeof in_buf), 5);
    CHECK(memcmp(in_buf, "hello", 5) == 0);
    OK(kcp_close(server.sock, s2, 7));
    closed = wait_for(&client, KCP_EVENT_CLOSED, c2, all, 2);
    if (legacy_mode) {
        CHECK(closed.reason == KCP_CLOSE_IDLE_TIMEOUT);
    } else {
        CHECK(closed.reason == KCP_CLOSE_PEER && closed.code == 7);
    }

    /* A third session, left open when its socket is destroyed. */
    peer third = {"third", NULL, {{0}}, 0};
    peer *three[] = {&server, &client, &third};
    uint64_t c3 = 0;
    OK(kcp_client_new(&cfg, addr, &third.sock, &c3));
    (void)wait_for(&third, KCP_EVENT_CONNECTED, c3, three, 3);
    EXPECT_RC(kcp_send(third.sock, c3, "bye", 3), 3);
    uint64_t s3 = accept_from(&server, third.sock, three, 3);
    (void)wait_for(&server, KCP_EVENT_READABLE, s3, three, 3);
    EXPECT_RC(kcp_recv(server.sock, s3, in_buf, sizeof in_buf), 3);
    EXPECT_RC(kcp_socket_destroy(third.sock), KCP_OK);
    third.sock = NULL;
    closed = wait_for(&server, KCP_EVENT_CLOSED, s3, three, 3);
    if (legacy_mode) {
        CHECK(closed.reason == KCP_CLOSE_IDLE_TIMEOUT);
    } else {
        CHECK(closed.reason == KCP_CLOSE_PEER && closed.code == 0);
    }

    OK(kcp_get_socket_stats(server.sock, &sst, sizeof sst));
    CHECK(legacy_mode ? sst.accepted >= 3 : sst.accepted == 3);
    EXPECT_RC(kcp_socket_destroy(client.sock), KCP_OK);
    EXPECT_RC(kcp_socket_destroy(server.sock), KCP_OK);
    printf("%s: ok (%d messages each way, %zu bytes; client rtt %u ms, %llu datagrams, %llu "
           "retransmissions)\n",
           argv[1], MESSAGES, total, cs.rtt_ms, (unsigned long long)cs.datagrams_sent,
           (unsigned long long)cs.retransmissions);
    return 0;
}
