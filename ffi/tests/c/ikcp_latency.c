/*
 * The reference latency experiment (skywind3000/kcp's test.cpp), written in C against
 * libkcp's ikcp.h, in virtual time: no sleeping, the clock advances 1 ms per step, so a run
 * is fast and the same seed always gives the same result.
 *
 * The link: each direction loses 5 % of datagrams (10 % per round trip) and delays each by
 * 30..62 ms (a round trip of 60..125 ms), and delivers in the order sent, once the datagram at
 * the head of the queue is due; at most 1000 datagrams wait per direction. Peer 1 sends an
 * 8-byte message (index, send time) every 20 ms; peer 2 echoes every message; peer 1 checks
 * that echoes come back in order and measures their round-trip time, until 1000 have
 * returned. Both peers call ikcp_update every millisecond.
 *
 * Modes, as in the reference: default ikcp_nodelay(0, 10, 0, 0); normal (0, 10, 0, 1); fast
 * (2, 10, 2, 1) plus, on peer 1, a minimum RTO of 10 ms and fast resend 1. "fast-eager" is
 * fast with this library's eager flushing on both peers.
 *
 * Usage: ikcp_latency [seeds]   (default 3). Output: one line per mode,
 *   RESULT <mode> avgrtt=<ms> maxrtt=<ms> tx=<datagrams peer 1 sent> seeds=<n>
 * where avgrtt is the mean over every echo of every seed, maxrtt the worst echo, tx the mean
 * per run. Exit status 1 if an echo is lost, duplicated or out of order.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ikcp.h"

#define MESSAGES 1000
#define SEND_PERIOD 20
#define LOSS_PERCENT 5
#define DELAY_MIN 30
#define DELAY_MAX 62
#define QUEUE_CAP 1000
#define MAX_DATAGRAM 1400

/* splitmix64: small, good enough, and the same everywhere. */
static uint64_t rng_state;

static uint32_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static uint32_t rng_below(uint32_t n)
{
    return rng_next() % n;
}

struct packet {
    IUINT32 due;
    int len;
    char data[MAX_DATAGRAM];
};

/* One direction of the link: a FIFO ring of datagrams in flight. */
struct link {
    struct packet *ring;
    int head, count;
};

struct sim {
    IUINT32 now;
    struct link to[2]; /* to[i]: datagrams travelling towards peer i */
    unsigned long tx1; /* datagrams peer 1 (index 0) sent */
};

static struct sim sim;

static void link_send(struct link *l, const char *buf, int len)
{
    struct packet *p;
    if (rng_below(100) < LOSS_PERCENT || l->count >= QUEUE_CAP || len > MAX_DATAGRAM) {
        return;
    }
    p = &l->ring[(l->head + l->count) % QUEUE_CAP];
    p->due = sim.now + DELAY_MIN + rng_below(DELAY_MAX - DELAY_MIN + 1);
    p->len = len;
    memcpy(p->data, buf, (size_t)len);
    l->count++;
}

/* The next datagram due on `l`, or NULL. */
static struct packet *link_receive(struct link *l)
{
    struct packet *p;
    if (l->count == 0) {
        return NULL;
    }
    p = &l->ring[l->head];
    if ((IINT32)(sim.now - p->due) < 0) {
        return NULL;
    }
    l->head = (l->head + 1) % QUEUE_CAP;
    l->count--;
    return p;
}

/* The output callback: `user` is the index of the sending peer. */
static int output(const char *buf, int len, ikcpcb *kcp, void *user)
{
    int from = (int)(intptr_t)user;
    (void)kcp;
    if (from == 0) {
        sim.tx1++;
    }
    link_send(&sim.to[1 - from], buf, len);
    return 0;
}

struct outcome {
    double sum_rtt;
    unsigned long count;
    IUINT32 max_rtt;
    unsigned long tx;
};

static void put32(char *p, IUINT32 v)
{
    p[0] = (char)(v & 0xff);
    p[1] = (char)((v >> 8) & 0xff);
    p[2] = (char)((v >> 16) & 0xff);
    p[3] = (char)((v >> 24) & 0xff);
}

static IUINT32 get32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (IUINT32)u[0] | ((IUINT32)u[1] << 8) | ((IUINT32)u[2] << 16) | ((IUINT32)u[3] << 24);
}

static int run(int mode, uint64_t seed, struct outcome *out)
{
    ikcpcb *kcp[2];
    IUINT32 next_send, next_echo = 0, index = 0, start;
    char buf[64];
    int i, hr;

    rng_state = seed;
    memset(&sim, 0, sizeof sim);
    for (i = 0; i < 2; i++) {
        sim.to[i].ring = malloc(sizeof(struct packet) * QUEUE_CAP);
        if (sim.to[i].ring == NULL) {
            return 1;
        }
    }
    /* Start close to the 32-bit wrap: the clock wraps during the run. */
    sim.now = 0xFFFFC000u + rng_below(1000);
    start = sim.now;
    next_send = sim.now;

    for (i = 0; i < 2; i++) {
        kcp[i] = ikcp_create(0x11223344, (void *)(intptr_t)i);
        if (kcp[i] == NULL) {
            return 1;
        }
        ikcp_setoutput(kcp[i], output);
        ikcp_wndsize(kcp[i], 128, 128);
        switch (mode) {
        case 0:
            ikcp_nodelay(kcp[i], 0, 10, 0, 0);
            break;
        case 1:
            ikcp_nodelay(kcp[i], 0, 10, 0, 1);
            break;
        default:
            ikcp_nodelay(kcp[i], 2, 10, 2, 1);
            if (mode == 3) {
                ikcp_seteager(kcp[i], 1);
            }
            break;
        }
    }
    if (mode >= 2) {
        /* The reference sets kcp1->rx_minrto = 10 and kcp1->fastresend = 1. */
        if (ikcp_setminrto(kcp[0], 10) != 0 || ikcp_setfastresend(kcp[0], 1) != 0) {
            fprintf(stderr, "setter refused\n");
            return 1;
        }
    }

    while (next_echo < MESSAGES) {
        struct packet *p;
        sim.now++;
        if (sim.now - start > 600000u) {
            fprintf(stderr, "mode %d: only %u echoes after 10 virtual minutes\n", mode,
                    (unsigned)next_echo);
            return 1;
        }
        ikcp_update(kcp[0], sim.now);
        ikcp_update(kcp[1], sim.now);

        while ((IINT32)(sim.now - next_send) >= 0 && index < MESSAGES) {
            put32(buf, index++);
            put32(buf + 4, sim.now);
            if (ikcp_send(kcp[0], buf, 8) != 8) {
                fprintf(stderr, "send refused\n");
                return 1;
            }
            next_send += SEND_PERIOD;
        }

        while ((p = link_receive(&sim.to[1])) != NULL) {
            ikcp_input(kcp[1], p->data, p->len);
        }
        while ((p = link_receive(&sim.to[0])) != NULL) {
            ikcp_input(kcp[0], p->data, p->len);
        }

        /* Peer 2 echoes. A 10-byte buffer, as in the reference. */
        while ((hr = ikcp_recv(kcp[1], buf, 10)) >= 0) {
            ikcp_send(kcp[1], buf, hr);
        }
        /* Peer 1 checks the echoes. */
        while ((hr = ikcp_recv(kcp[0], buf, 10)) >= 0) {
            IUINT32 sn = get32(buf), ts = get32(buf + 4), rtt = sim.now - ts;
            if (hr != 8 || sn != next_echo) {
                fprintf(stderr, "mode %d: echo %u (%d bytes) where %u was expected\n", mode,
                        (unsigned)sn, hr, (unsigned)next_echo);
                return 1;
            }
            next_echo++;
            out->sum_rtt += rtt;
            out->count++;
            if (rtt > out->max_rtt) {
                out->max_rtt = rtt;
            }
        }
    }
    out->tx += sim.tx1;
    ikcp_release(kcp[0]);
    ikcp_release(kcp[1]);
    free(sim.to[0].ring);
    free(sim.to[1].ring);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *names[] = {"default", "normal", "fast", "fast-eager"};
    int seeds = argc > 1 ? atoi(argv[1]) : 3;
    int mode, s;
    if (seeds < 1) {
        seeds = 1;
    }
    for (mode = 0; mode < 4; mode++) {
        struct outcome out;
        memset(&out, 0, sizeof out);
        for (s = 0; s < seeds; s++) {
            if (run(mode, 0x5EED0000u + (uint64_t)s * 7919u, &out) != 0) {
                return 1;
            }
        }
        printf("RESULT %s avgrtt=%d maxrtt=%u tx=%lu seeds=%d\n", names[mode],
               (int)(out.sum_rtt / (double)out.count + 0.5), (unsigned)out.max_rtt,
               out.tx / (unsigned long)seeds, seeds);
        fflush(stdout);
    }
    return 0;
}
