/* A minimal check macro and a loopback pair of control blocks for the ikcp C tests. */
#ifndef IKCP_TEST_H
#define IKCP_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ikcp.h"

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

#define CHECK_EQ(actual, expected)                                                   \
    do {                                                                             \
        long long a_ = (long long)(actual), e_ = (long long)(expected);              \
        if (a_ != e_) {                                                              \
            fprintf(stderr, "%s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__, \
                    #actual, a_, e_);                                                \
            failures++;                                                              \
        }                                                                            \
    } while (0)

/* Datagrams in flight from one peer to the other, delivered by pump(). */
#define WIRE_CAP 1024
#define WIRE_MTU 1500

struct wire {
    int count;
    int len[WIRE_CAP];
    char data[WIRE_CAP][WIRE_MTU];
};

/* The pair: peer a (user 0) and peer b (user 1); wires[i] carries datagrams towards peer i. */
static struct wire wires[2];
static ikcpcb *peer[2];
/* Set to drop everything a peer sends (index of the sender), or -1. */
static int drop_from = -1;
static unsigned long outputs[2];
/* The time of pump()'s last update. */
static IUINT32 pump_now;

static inline int wire_output(const char *buf, int len, ikcpcb *kcp, void *user)
{
    int from = (int)(intptr_t)user;
    struct wire *w = &wires[1 - from];
    (void)kcp;
    outputs[from]++;
    if (from == drop_from || w->count >= WIRE_CAP || len > WIRE_MTU) {
        return 0;
    }
    memcpy(w->data[w->count], buf, (size_t)len);
    w->len[w->count++] = len;
    return 0;
}

static inline void pair_create(IUINT32 conv)
{
    int i;
    memset(wires, 0, sizeof wires);
    drop_from = -1;
    for (i = 0; i < 2; i++) {
        peer[i] = ikcp_create(conv, (void *)(intptr_t)i);
        ikcp_setoutput(peer[i], wire_output);
        outputs[i] = 0;
    }
}

static inline void pair_release(void)
{
    ikcp_release(peer[0]);
    ikcp_release(peer[1]);
    peer[0] = peer[1] = NULL;
}

/* Delivers every datagram in flight; returns how many. */
static inline int deliver(void)
{
    int i, j, n = 0;
    for (i = 0; i < 2; i++) {
        struct wire *w = &wires[i];
        int count = w->count;
        w->count = 0;
        for (j = 0; j < count; j++) {
            CHECK_EQ(ikcp_input(peer[i], w->data[j], w->len[j]), 0);
            n++;
        }
    }
    return n;
}

/* Advances both peers `ms` milliseconds in 1 ms steps from `*now`, delivering as it goes. */
static inline void pump(IUINT32 *now, int ms)
{
    int t;
    for (t = 0; t < ms; t++) {
        pump_now = ++*now;
        ikcp_update(peer[0], *now);
        ikcp_update(peer[1], *now);
        deliver();
    }
}

#endif
