/*
 * An example game client over libkcp's socket API, written the way an engine's update loop
 * runs: every tick (30 Hz) it calls kcp_poll() without waiting, handles what arrived, sends
 * this tick's input, flushes, and sleeps until the next tick. It prints the round-trip time
 * the server's echo of its inputs shows.
 *
 *   game_client [--server 127.0.0.1:4000] [--legacy] [--passphrase TEXT] [--rounds N]
 *
 * --rounds N exits (status 0) after N inputs came back echoed; without it, it runs until
 * interrupted. The passphrase can also come from KCP_PASSPHRASE.
 */
#include "game_common.h"

int main(int argc, char **argv) {
    const char *server_addr = "127.0.0.1:4000";
    const char *passphrase = getenv("KCP_PASSPHRASE");
    int legacy = 0;
    long rounds = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
            server_addr = argv[++i];
        } else if (strcmp(argv[i], "--passphrase") == 0 && i + 1 < argc) {
            passphrase = argv[++i];
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--legacy") == 0) {
            legacy = 1;
        } else {
            fprintf(stderr,
                    "usage: %s [--server ADDR] [--legacy] [--passphrase TEXT] [--rounds N]\n",
                    argv[0]);
            return 2;
        }
    }

    kcp_config cfg;
    game_config(&cfg, legacy, passphrase ? passphrase : DEFAULT_PASSPHRASE);
    kcp_socket *client = NULL;
    uint64_t session = 0;
    int rc = kcp_client_new(&cfg, server_addr, &client, &session);
    if (rc != KCP_OK) die("kcp_client_new", rc);

    uint64_t start = now_ms(), next_tick = start;
    uint32_t seq = 0, echoed = 0, me = 0;
    long round_trips = 0;
    uint64_t rtt_sum = 0;
    int connected = 0;
    unsigned char msg[STATE_LEN(MAX_PLAYERS) + 64];
    while (rounds == 0 || round_trips < rounds) {
        /* 1. The network: everything that happened since the last tick, without waiting. */
        kcp_event events[16];
        int n = kcp_poll(client, events, 16, 0);
        if (n < 0) die("kcp_poll", n);
        for (int i = 0; i < n; i++) {
            if (events[i].type == KCP_EVENT_CONNECTED) {
                connected = 1;
                printf("connected to %s after %llu ms\n", server_addr,
                       (unsigned long long)(now_ms() - start));
            } else if (events[i].type == KCP_EVENT_CLOSED) {
                fprintf(stderr, "session closed: %s (code %u)\n",
                        kcp_close_reason_str(events[i].reason), (unsigned)events[i].code);
                kcp_socket_destroy(client);
                return 1;
            } else if (events[i].type == KCP_EVENT_READABLE) {
                int len;
                while ((len = kcp_recv(client, session, msg, sizeof msg)) >= 0) {
                    if (len < STATE_LEN(0) || msg[0] != MSG_STATE) continue;
                    uint32_t seen = get_u32(msg + 8);
                    me = get_u32(msg + 16);
                    if (seen > echoed) {
                        /* The server has applied a newer input of ours: one round trip. */
                        uint32_t rtt = (uint32_t)now_ms() - get_u32(msg + 12);
                        echoed = seen;
                        round_trips++;
                        rtt_sum += rtt;
                        if (round_trips % TICK_HZ == 1 || round_trips == rounds)
                            printf("player %u: input %u echoed, rtt %u ms, %u players\n",
                                   (unsigned)me, (unsigned)seen, (unsigned)rtt,
                                   (unsigned)msg[1]);
                    }
                }
                if (len != KCP_EAGAIN) die("kcp_recv", len);
            }
        }
        if (!connected && now_ms() - start > 15000) {
            fprintf(stderr, "no connection after 15 s\n");
            kcp_socket_destroy(client);
            return 1;
        }

        /* 2. The game: this tick's input (walk in a square). */
        if (connected) {
            unsigned char input[INPUT_LEN];
            seq++;
            input[0] = MSG_INPUT;
            input[1] = (unsigned char)(int8_t)((seq / 30) % 4 == 0 ? 1 : (seq / 30) % 4 == 2 ? -1 : 0);
            input[2] = (unsigned char)(int8_t)((seq / 30) % 4 == 1 ? 1 : (seq / 30) % 4 == 3 ? -1 : 0);
            input[3] = 0;
            put_u32(input + 4, seq);
            put_u32(input + 8, (uint32_t)now_ms());
            rc = kcp_send(client, session, input, sizeof input);
            if (rc < 0 && rc != KCP_EAGAIN) die("kcp_send", rc);
            kcp_flush(client); /* the input leaves now */
        }

        /* 3. Sleep to the next tick. */
        next_tick += TICK_MS;
        uint64_t now = now_ms();
        if (next_tick > now) sleep_ms(next_tick - now);
        else next_tick = now;
    }

    kcp_session_stats st;
    if (kcp_get_session_stats(client, session, &st, sizeof st) == KCP_OK) {
        printf("done: %ld round trips, mean rtt %.1f ms; session: srtt %u ms, rto %u ms, "
               "%llu datagrams out, %llu in, %llu retransmissions\n",
               round_trips, round_trips ? (double)rtt_sum / (double)round_trips : 0.0,
               (unsigned)st.rtt_ms, (unsigned)st.rto_ms,
               (unsigned long long)st.datagrams_sent, (unsigned long long)st.datagrams_received,
               (unsigned long long)st.retransmissions);
    }
    /* Say goodbye (sealed mode; legacy peers notice by their idle timeout). The close leaves
     * with the next poll; polling a little longer lets the closed session answer the server's
     * next datagrams with the close again, in case the first one was lost. */
    kcp_close(client, session, 0);
    for (uint64_t until = now_ms() + 100, now; (now = now_ms()) < until;) {
        kcp_event ignored[16];
        if (kcp_poll(client, ignored, 16, (uint32_t)(until - now)) < 0) break;
    }
    kcp_socket_destroy(client);
    return 0;
}
