/*
 * An example game server over libkcp's socket API: 30 ticks a second it applies the players'
 * inputs and sends every player the state of the world, with its own last input echoed so the
 * client can measure the round trip.
 *
 *   game_server [--bind 0.0.0.0:4000] [--legacy] [--passphrase TEXT] [--serve N]
 *
 * --serve N exits after N player sessions have ended (for tests); the passphrase can also come
 * from KCP_PASSPHRASE. It prints "listening on ADDR" first, then a line every 5 seconds.
 *
 * The loop sleeps inside kcp_poll() until the next tick or the next event, whichever comes
 * first, so inputs are taken as they arrive while the simulation keeps its fixed rate.
 */
#include "game_common.h"

typedef struct {
    uint64_t session; /* 0: free slot */
    uint32_t id;
    int32_t x, y;
    uint32_t last_seq, last_time;
} player;

static player players[MAX_PLAYERS];
static uint32_t next_player_id = 1;

static player *find(uint64_t session) {
    for (int i = 0; i < MAX_PLAYERS; i++)
        if (players[i].session == session) return &players[i];
    return NULL;
}

static int count_players(void) {
    int n = 0;
    for (int i = 0; i < MAX_PLAYERS; i++) n += players[i].session != 0;
    return n;
}

/* Takes every input waiting on a session. */
static void read_inputs(kcp_socket *server, player *p) {
    unsigned char msg[256];
    int n;
    while ((n = kcp_recv(server, p->session, msg, sizeof msg)) >= 0) {
        if (n != INPUT_LEN || msg[0] != MSG_INPUT) continue; /* not ours: ignore */
        uint32_t seq = get_u32(msg + 4);
        if (seq <= p->last_seq) continue;
        p->x += (int8_t)msg[1];
        p->y += (int8_t)msg[2];
        p->last_seq = seq;
        p->last_time = get_u32(msg + 8);
    }
    if (n == KCP_EMSGSIZE) {
        /* Oversized message from a misbehaving client: drop the player. */
        kcp_close(server, p->session, 1);
        p->session = 0;
    } else if (n != KCP_EAGAIN && n != KCP_ENOSESSION) {
        die("kcp_recv", n);
    }
}

/* Sends every player the world, with its own last input echoed. */
static void broadcast(kcp_socket *server, uint32_t tick) {
    unsigned char msg[STATE_LEN(MAX_PLAYERS)];
    int n = 0;
    msg[0] = MSG_STATE;
    msg[2] = msg[3] = 0;
    put_u32(msg + 4, tick);
    for (int i = 0; i < MAX_PLAYERS; i++) {
        if (players[i].session == 0) continue;
        unsigned char *entry = msg + STATE_LEN(n);
        put_u32(entry, players[i].id);
        put_u32(entry + 4, (uint32_t)players[i].x);
        put_u32(entry + 8, (uint32_t)players[i].y);
        n++;
    }
    msg[1] = (unsigned char)n;
    for (int i = 0; i < MAX_PLAYERS; i++) {
        player *p = &players[i];
        if (p->session == 0) continue;
        put_u32(msg + 8, p->last_seq);
        put_u32(msg + 12, p->last_time);
        put_u32(msg + 16, p->id);
        int rc = kcp_send(server, p->session, msg, STATE_LEN(n));
        /* A full queue (a player who stopped reading) skips this update: the next supersedes
         * it. A session that just closed is reported by kcp_poll(). */
        if (rc < 0 && rc != KCP_EAGAIN && rc != KCP_ENOSESSION) die("kcp_send", rc);
    }
}

int main(int argc, char **argv) {
    const char *bind = "0.0.0.0:4000";
    const char *passphrase = getenv("KCP_PASSPHRASE");
    int legacy = 0;
    long serve = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bind") == 0 && i + 1 < argc) {
            bind = argv[++i];
        } else if (strcmp(argv[i], "--passphrase") == 0 && i + 1 < argc) {
            passphrase = argv[++i];
        } else if (strcmp(argv[i], "--serve") == 0 && i + 1 < argc) {
            serve = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--legacy") == 0) {
            legacy = 1;
        } else {
            fprintf(stderr,
                    "usage: %s [--bind ADDR] [--legacy] [--passphrase TEXT] [--serve N]\n",
                    argv[0]);
            return 2;
        }
    }

    kcp_config cfg;
    game_config(&cfg, legacy, passphrase ? passphrase : DEFAULT_PASSPHRASE);
    kcp_socket *server = NULL;
    int rc = kcp_server_new(&cfg, bind, &server);
    if (rc != KCP_OK) die("kcp_server_new", rc);
    char addr[KCP_ADDRSTRLEN];
    kcp_local_addr(server, addr, sizeof addr);
    printf("listening on %s (%s mode, %d Hz)\n", addr, legacy ? "legacy" : "sealed", TICK_HZ);
    fflush(stdout);

    uint32_t tick = 0;
    long ended = 0;
    uint64_t next_tick = now_ms() + TICK_MS, next_report = now_ms() + 5000;
    while (serve == 0 || ended < serve) {
        uint64_t now = now_ms();
        if (now >= next_tick) {
            broadcast(server, ++tick);
            kcp_flush(server); /* the states leave now, not at the next poll */
            next_tick += TICK_MS;
            if (next_tick <= now) next_tick = now + TICK_MS; /* fell behind: skip ticks */
            continue;
        }
        kcp_event events[64];
        int n = kcp_poll(server, events, 64, (uint32_t)(next_tick - now));
        if (n < 0) die("kcp_poll", n);
        for (int i = 0; i < n; i++) {
            kcp_event *ev = &events[i];
            player *p;
            switch (ev->type) {
            case KCP_EVENT_ACCEPTED:
                p = find(0);
                if (p == NULL) {
                    kcp_close(server, ev->session, 2); /* full */
                    break;
                }
                memset(p, 0, sizeof *p);
                p->session = ev->session;
                p->id = next_player_id++;
                kcp_session_remote(server, ev->session, addr, sizeof addr);
                printf("player %u joined from %s\n", (unsigned)p->id, addr);
                break;
            case KCP_EVENT_READABLE:
                if ((p = find(ev->session)) != NULL) read_inputs(server, p);
                break;
            case KCP_EVENT_CLOSED:
                if ((p = find(ev->session)) != NULL) {
                    printf("player %u left: %s\n", (unsigned)p->id,
                           kcp_close_reason_str(ev->reason));
                    p->session = 0;
                    ended++;
                }
                break;
            default:
                break;
            }
        }
        if (now_ms() >= next_report) {
            kcp_socket_stats st;
            kcp_get_socket_stats(server, &st, sizeof st);
            printf("tick %u: %d players, %llu datagrams in, %llu out, %llu dropped\n",
                   (unsigned)tick, count_players(), (unsigned long long)st.datagrams_received,
                   (unsigned long long)st.datagrams_sent, (unsigned long long)st.dropped);
            next_report += 5000;
        }
        fflush(stdout);
    }
    printf("served %ld sessions, bye\n", ended);
    kcp_socket_destroy(server);
    return 0;
}
