/* Helpers shared by the socket API's C tests (ffi/tests/socket_c.rs builds and runs them). */
#ifndef SOCKET_COMMON_H
#define SOCKET_COMMON_H

#define _POSIX_C_SOURCE 200809L

#include "kcp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Every wait gives up after this long: a guard against hangs, never a timing assertion. */
#define WAIT_LIMIT_MS 20000

static inline void fail_at(const char *file, int line, const char *what, long got) {
    fprintf(stderr, "%s:%d: FAILED: %s (got %ld: %s; last error: \"%s\")\n", file, line, what,
            got, got < 0 ? kcp_strerror((int)got) : "-", kcp_last_error());
    exit(1);
}

/* Asserts a condition. */
#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) fail_at(__FILE__, __LINE__, #cond, 0);                              \
    } while (0)

/* Asserts that a call returns exactly `want`. */
#define EXPECT_RC(call, want)                                                            \
    do {                                                                                 \
        long rc_ = (long)(call);                                                         \
        if (rc_ != (long)(want)) fail_at(__FILE__, __LINE__, #call " == " #want, rc_);   \
    } while (0)

/* Asserts that a call succeeds (returns 0 or more) and yields its result. */
static inline long ok_at(long rc, const char *file, int line, const char *what) {
    if (rc < 0) fail_at(file, line, what, rc);
    return rc;
}
#define OK(call) ok_at((long)(call), __FILE__, __LINE__, #call)

static inline uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A socket and the events polled from it that the test has not looked at yet. */
typedef struct {
    const char *name;
    kcp_socket *sock;
    kcp_event queue[512];
    int queued;
} peer;

/* Polls every peer once (waiting up to 1 ms each), queueing their events. */
static inline void step(peer **peers, int count) {
    for (int i = 0; i < count; i++) {
        peer *p = peers[i];
        if (p->sock == NULL) continue;
        int room = (int)(sizeof p->queue / sizeof p->queue[0]) - p->queued;
        CHECK(room > 0);
        int n = (int)OK(kcp_poll(p->sock, p->queue + p->queued, (size_t)room, 1));
        p->queued += n;
    }
}

/* Takes the first queued event of `type` (and, if `session` is not 0, of that session). */
static inline int take(peer *p, uint32_t type, uint64_t session, kcp_event *out) {
    for (int i = 0; i < p->queued; i++) {
        if (p->queue[i].type == type && (session == 0 || p->queue[i].session == session)) {
            *out = p->queue[i];
            memmove(p->queue + i, p->queue + i + 1, (size_t)(p->queued - i - 1) * sizeof *out);
            p->queued--;
            return 1;
        }
    }
    return 0;
}

/* Whether any queued event is about `session`. */
static inline int mentions(const peer *p, uint64_t session) {
    for (int i = 0; i < p->queued; i++)
        if (p->queue[i].session == session) return 1;
    return 0;
}

/* Polls all peers until `p` has an event of `type` (for `session`, if not 0). */
static inline kcp_event wait_for(peer *p, uint32_t type, uint64_t session, peer **all, int count) {
    uint64_t deadline = now_ms() + WAIT_LIMIT_MS;
    kcp_event ev;
    while (!take(p, type, session, &ev)) {
        if (now_ms() > deadline) {
            fprintf(stderr, "%s: no event of type %u for session %llx within %d ms; queued:",
                    p->name, (unsigned)type, (unsigned long long)session, WAIT_LIMIT_MS);
            for (int i = 0; i < p->queued; i++)
                fprintf(stderr, " (%u %llx %u)", (unsigned)p->queue[i].type,
                        (unsigned long long)p->queue[i].session, (unsigned)p->queue[i].reason);
            fprintf(stderr, "\n");
            exit(1);
        }
        step(all, count);
    }
    return ev;
}

#endif
