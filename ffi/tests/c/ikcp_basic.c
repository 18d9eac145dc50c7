/*
 * The ikcp.h API used as the reference documents it: messages of every size, peeking,
 * stream mode, configuration (before and after start, and retuning a running conversation),
 * ikcp_check, logging, callbacks that call back into the library (including a handle released
 * from its own output callback), and a dead link.
 * Exit status: the number of failed checks (0: all passed).
 */
#include "ikcp_test.h"

static void messages_of_every_size(void)
{
    static char out[200000], in[200000];
    static const int sizes[] = {0, 1, 8, 1375, 1376, 1377, 4000, 1376 * 127};
    IUINT32 now = 1000;
    size_t i;
    int n;
    pair_create(7);
    for (i = 0; i < sizeof out; i++) {
        out[i] = (char)(i * 7 + 3);
    }
    CHECK_EQ(ikcp_getmss(peer[0]), 1376);
    CHECK_EQ(ikcp_wndsize(peer[0], 256, 256), 0);
    CHECK_EQ(ikcp_wndsize(peer[1], 256, 256), 0);
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        CHECK_EQ(ikcp_send(peer[0], out, sizes[i]), sizes[i]);
    }
    CHECK(ikcp_waitsnd(peer[0]) > 0);
    CHECK_EQ(ikcp_peeksize(peer[1]), -1);
    pump(&now, 10000);
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        CHECK_EQ(ikcp_peeksize(peer[1]), sizes[i]);
        n = ikcp_recv(peer[1], in, (int)sizeof in);
        CHECK_EQ(n, sizes[i]);
        CHECK(n < 0 || memcmp(in, out, (size_t)n) == 0);
    }
    CHECK_EQ(ikcp_recv(peer[1], in, (int)sizeof in), -1);
    CHECK_EQ(ikcp_waitsnd(peer[0]), 0);
    CHECK_EQ(ikcp_getnsndbuf(peer[0]), 0);
    CHECK(ikcp_getsrtt(peer[0]) >= 0);
    CHECK(ikcp_getrto(peer[0]) >= 30);
    CHECK_EQ(ikcp_getstate(peer[0]), 0);
    CHECK(ikcp_getrmtwnd(peer[0]) > 0);
    pair_release();
}

static void small_buffers_and_peeking(void)
{
    char buf[64];
    IUINT32 now = 0;
    pair_create(8);
    CHECK_EQ(ikcp_send(peer[0], "hello world", 11), 11);
    CHECK_EQ(ikcp_send(peer[0], "second", 6), 6);
    pump(&now, 1000);
    CHECK_EQ(ikcp_peeksize(peer[1]), 11);
    /* Too small: -3, and the message stays. */
    CHECK_EQ(ikcp_recv(peer[1], buf, 10), -3);
    CHECK_EQ(ikcp_recv(peer[1], buf, -10), -3);
    CHECK_EQ(ikcp_recv(peer[1], buf, 0), -3);
    CHECK_EQ(ikcp_peeksize(peer[1]), 11);
    /* Peek: copied, still queued, again and again. */
    memset(buf, 0, sizeof buf);
    CHECK_EQ(ikcp_recv(peer[1], buf, -(int)sizeof buf), 11);
    CHECK(memcmp(buf, "hello world", 11) == 0);
    CHECK_EQ(ikcp_recv(peer[1], NULL, -11), 11);
    CHECK_EQ(ikcp_peeksize(peer[1]), 11);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(ikcp_recv(peer[1], buf, -11), 11);
    CHECK(memcmp(buf, "hello world", 11) == 0);
    /* Now read it. */
    memset(buf, 0, sizeof buf);
    CHECK_EQ(ikcp_recv(peer[1], buf, 11), 11);
    CHECK(memcmp(buf, "hello world", 11) == 0);
    /* A NULL buffer drops the next message (the reference's behaviour). */
    CHECK_EQ(ikcp_peeksize(peer[1]), 6);
    CHECK_EQ(ikcp_recv(peer[1], NULL, 5), -3);
    CHECK_EQ(ikcp_recv(peer[1], NULL, 6), 6);
    CHECK_EQ(ikcp_recv(peer[1], buf, sizeof buf), -1);
    CHECK_EQ(ikcp_peeksize(peer[1]), -1);
    CHECK_EQ(ikcp_recv(peer[1], buf, -1), -1);
    pair_release();
}

static void stream_mode(void)
{
    char buf[10000], all[10000];
    int total = 0, n, i;
    IUINT32 now = 0;
    pair_create(9);
    CHECK_EQ(ikcp_setstream(peer[0], 1), 0);
    CHECK_EQ(ikcp_setstream(peer[1], 1), 0);
    for (i = 0; i < 100; i++) {
        char chunk[37];
        memset(chunk, 'a' + i % 26, sizeof chunk);
        CHECK_EQ(ikcp_send(peer[0], chunk, (int)sizeof chunk), (int)sizeof chunk);
    }
    /* 3700 bytes coalesce into 3 segments of at most 1376 bytes. */
    CHECK_EQ(ikcp_waitsnd(peer[0]), 3);
    pump(&now, 1000);
    CHECK_EQ(ikcp_peeksize(peer[1]), 3700);
    /* Peek a little, then read in odd sizes. */
    CHECK_EQ(ikcp_recv(peer[1], buf, -5), 5);
    CHECK(memcmp(buf, "aaaaa", 5) == 0);
    CHECK_EQ(ikcp_peeksize(peer[1]), 3700);
    while ((n = ikcp_recv(peer[1], buf, 333)) > 0) {
        memcpy(all + total, buf, (size_t)n);
        total += n;
    }
    CHECK_EQ(n, -1);
    CHECK_EQ(total, 3700);
    for (i = 0; i < 3700; i++) {
        if (all[i] != 'a' + (i / 37) % 26) {
            CHECK(!"stream bytes in order");
            break;
        }
    }
    pair_release();
}

static void configuration(void)
{
    ikcpcb *kcp = ikcp_create(0xdeadbeef, (void *)&failures);
    IUINT32 now = 0;
    CHECK(kcp != NULL);
    CHECK_EQ(ikcp_conv(kcp), 0xdeadbeef);
    CHECK(ikcp_getuser(kcp) == (void *)&failures);
    CHECK_EQ(ikcp_setuser(kcp, NULL), 0);
    CHECK(ikcp_getuser(kcp) == NULL);
    /* The reference's defaults. */
    CHECK_EQ(ikcp_getmtu(kcp), 1400);
    CHECK_EQ(ikcp_getmss(kcp), 1376);
    CHECK_EQ(ikcp_getsndwnd(kcp), 32);
    CHECK_EQ(ikcp_getrcvwnd(kcp), 128);
    CHECK_EQ(ikcp_getinterval(kcp), 100);
    CHECK_EQ(ikcp_getminrto(kcp), 100);
    CHECK_EQ(ikcp_getrto(kcp), 200);
    CHECK_EQ(ikcp_getsrtt(kcp), 0);
    /* ikcp_nodelay: minimum RTO follows nodelay, interval is clamped, -1 keeps. */
    CHECK_EQ(ikcp_nodelay(kcp, 1, 1, 2, 1), 0);
    CHECK_EQ(ikcp_getminrto(kcp), 30);
    CHECK_EQ(ikcp_getinterval(kcp), 10);
    CHECK_EQ(ikcp_nodelay(kcp, -1, 99999, -1, -1), 0);
    CHECK_EQ(ikcp_getinterval(kcp), 5000);
    CHECK_EQ(ikcp_getminrto(kcp), 30);
    CHECK_EQ(ikcp_interval(kcp, 20), 0);
    CHECK_EQ(ikcp_getinterval(kcp), 20);
    CHECK_EQ(ikcp_setminrto(kcp, 15), 0);
    CHECK_EQ(ikcp_getminrto(kcp), 15);
    CHECK_EQ(ikcp_nodelay(kcp, 0, -1, -1, -1), 0);
    CHECK_EQ(ikcp_getminrto(kcp), 100);
    /* Windows: 0 or less keeps; the receive window is at least 128. */
    CHECK_EQ(ikcp_wndsize(kcp, 64, 16), 0);
    CHECK_EQ(ikcp_getsndwnd(kcp), 64);
    CHECK_EQ(ikcp_getrcvwnd(kcp), 128);
    CHECK_EQ(ikcp_wndsize(kcp, 0, 512), 0);
    CHECK_EQ(ikcp_getsndwnd(kcp), 64);
    CHECK_EQ(ikcp_getrcvwnd(kcp), 512);
    CHECK_EQ(ikcp_wndsize(kcp, -1, -1), 0);
    CHECK_EQ(ikcp_getrcvwnd(kcp), 512);
    CHECK_EQ(ikcp_wndsize(kcp, 1000000, 1000000), 0);
    CHECK_EQ(ikcp_getsndwnd(kcp), 65535);
    CHECK_EQ(ikcp_getrcvwnd(kcp), 65535);
    CHECK_EQ(ikcp_setmtu(kcp, 576), 0);
    CHECK_EQ(ikcp_getmtu(kcp), 576);
    CHECK_EQ(ikcp_getmss(kcp), 552);
    CHECK_EQ(ikcp_setfastresend(kcp, 3), 0);
    CHECK_EQ(ikcp_setfastlimit(kcp, -1), 0);
    CHECK_EQ(ikcp_setdeadlink(kcp, 10), 0);
    CHECK_EQ(ikcp_setsendqueue(kcp, 100), 0);
    CHECK_EQ(ikcp_setstream(kcp, 1), 0);
    CHECK_EQ(ikcp_setstream(kcp, 0), 0);
    CHECK_EQ(ikcp_seteager(kcp, 1), 0);
    CHECK_EQ(ikcp_seteager(kcp, 0), 0);
    /* Tuning works after the first update too, as in the reference. */
    ikcp_update(kcp, now);
    CHECK_EQ(ikcp_nodelay(kcp, 1, 10, 2, 1), 0);
    CHECK_EQ(ikcp_getminrto(kcp), 30);
    CHECK_EQ(ikcp_getinterval(kcp), 10);
    CHECK_EQ(ikcp_setstream(kcp, 1), 0);
    CHECK_EQ(ikcp_setstream(kcp, 0), 0);
    CHECK_EQ(ikcp_setminrto(kcp, 50), 0);
    CHECK_EQ(ikcp_getminrto(kcp), 50);
    CHECK_EQ(ikcp_interval(kcp, 1), 0);
    CHECK_EQ(ikcp_getinterval(kcp), 10);
    CHECK_EQ(ikcp_interval(kcp, -5), 0);
    CHECK_EQ(ikcp_getinterval(kcp), 10);
    CHECK_EQ(ikcp_interval(kcp, 99999), 0);
    CHECK_EQ(ikcp_getinterval(kcp), 5000);
    CHECK_EQ(ikcp_seteager(kcp, 1), 0);
    CHECK_EQ(ikcp_seteager(kcp, 0), 0);
    CHECK_EQ(ikcp_setfastresend(kcp, 1), 0);
    CHECK_EQ(ikcp_setfastlimit(kcp, 3), 0);
    CHECK_EQ(ikcp_setdeadlink(kcp, 5), 0);
    CHECK_EQ(ikcp_setsendqueue(kcp, 50), 0);
    /* Out-of-range values are still refused, and change nothing. */
    CHECK_EQ(ikcp_setminrto(kcp, 0), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_setminrto(kcp, -1), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_setminrto(kcp, 60001), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_getminrto(kcp), 50);
    CHECK_EQ(ikcp_setfastresend(kcp, -1), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_setdeadlink(kcp, 0), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_setsendqueue(kcp, 0), IKCP_ERR_INVALID);
    /* MTU and windows too. */
    CHECK_EQ(ikcp_setmtu(kcp, 1200), 0);
    CHECK_EQ(ikcp_getmss(kcp), 1176);
    CHECK_EQ(ikcp_wndsize(kcp, 32, 128), 0);
    CHECK_EQ(ikcp_getsndwnd(kcp), 32);
    ikcp_release(kcp);
}

/* Retuning both peers of a running conversation, with a message in flight: everything still
 * arrives, and the new settings take effect. */
static void retuning_while_running(void)
{
    static char out[20000], in[20000];
    IUINT32 now = 0;
    int i, n, total = 0;
    pair_create(16);
    for (i = 0; i < (int)sizeof out; i++) {
        out[i] = (char)(i * 13 + 5);
    }
    CHECK_EQ(ikcp_send(peer[0], "before", 6), 6);
    pump(&now, 1000);
    CHECK_EQ(ikcp_recv(peer[1], in, (int)sizeof in), 6);
    CHECK(memcmp(in, "before", 6) == 0);
    /* A 15-segment message, partly sent (the congestion window starts at one segment). */
    CHECK_EQ(ikcp_send(peer[0], out, (int)sizeof out), (int)sizeof out);
    pump(&now, 150);
    CHECK(ikcp_waitsnd(peer[0]) > 0);
    for (i = 0; i < 2; i++) {
        CHECK_EQ(ikcp_nodelay(peer[i], 1, 10, 2, 1), 0);
        CHECK_EQ(ikcp_setminrto(peer[i], 50), 0);
        CHECK_EQ(ikcp_setfastresend(peer[i], 3), 0);
        CHECK_EQ(ikcp_setdeadlink(peer[i], 30), 0);
        CHECK_EQ(ikcp_getinterval(peer[i]), 10);
        CHECK_EQ(ikcp_getminrto(peer[i]), 50);
    }
    pump(&now, 2000);
    CHECK_EQ(ikcp_waitsnd(peer[0]), 0);
    CHECK_EQ(ikcp_recv(peer[1], in, (int)sizeof in), (int)sizeof out);
    CHECK(memcmp(in, out, sizeof out) == 0);
    /* The 10 ms interval is in force: a message leaves within one tick. */
    CHECK_EQ(ikcp_send(peer[0], "tick", 4), 4);
    pump(&now, 11);
    CHECK_EQ(ikcp_recv(peer[1], in, (int)sizeof in), 4);
    CHECK(memcmp(in, "tick", 4) == 0);
    /* Eager: a message leaves at the next update. */
    CHECK_EQ(ikcp_seteager(peer[0], 1), 0);
    CHECK_EQ(ikcp_send(peer[0], "now", 3), 3);
    pump(&now, 1);
    CHECK_EQ(ikcp_recv(peer[1], in, (int)sizeof in), 3);
    CHECK(memcmp(in, "now", 3) == 0);
    /* Stream mode on both sides, between messages. */
    CHECK_EQ(ikcp_setstream(peer[0], 1), 0);
    CHECK_EQ(ikcp_setstream(peer[1], 1), 0);
    for (i = 0; i < 10; i++) {
        CHECK_EQ(ikcp_send(peer[0], out + i * 100, 100), 100);
    }
    pump(&now, 500);
    while ((n = ikcp_recv(peer[1], in + total, 333)) > 0) {
        total += n;
    }
    CHECK_EQ(total, 1000);
    CHECK(memcmp(in, out, 1000) == 0);
    pair_release();
}

static void check_and_update(void)
{
    ikcpcb *kcp = ikcp_create(1, NULL);
    IUINT32 now = 0xFFFFFF00u, next;
    int i;
    CHECK_EQ(ikcp_check(kcp, 12345), 12345);
    CHECK_EQ(ikcp_nodelay(kcp, 0, 40, 0, 0), 0);
    ikcp_setoutput(kcp, wire_output);
    ikcp_update(kcp, now);
    next = ikcp_check(kcp, now);
    CHECK_EQ(next - now, 40);
    /* Across the 32-bit wrap, check never names the past nor more than an interval ahead. */
    for (i = 0; i < 1000; i++) {
        IINT32 wait;
        now += 7;
        next = ikcp_check(kcp, now);
        wait = (IINT32)(next - now);
        CHECK(wait >= 0 && wait <= 40);
        if (wait == 0) {
            ikcp_update(kcp, now);
            wait = (IINT32)(ikcp_check(kcp, now) - now);
            CHECK(wait > 0 && wait <= 40);
        }
    }
    /* A clock jump of more than 10 s either way resynchronises. */
    CHECK_EQ(ikcp_check(kcp, now + 60000), now + 60000);
    CHECK_EQ(ikcp_check(kcp, now - 60000), now - 60000);
    ikcp_release(kcp);
}

static int log_lines;
static int log_ro, log_ri, log_verbatim;

static void writelog(const char *line, ikcpcb *kcp, void *user)
{
    (void)kcp;
    (void)user;
    log_lines++;
    if (strncmp(line, "[RO] ", 5) == 0 && strstr(line, " bytes") != NULL) {
        log_ro++;
    } else if (strncmp(line, "[RI] ", 5) == 0 && strstr(line, " bytes") != NULL) {
        log_ri++;
    } else if (strcmp(line, "custom %d") == 0) {
        log_verbatim++;
    }
}

static void logging(void)
{
    IUINT32 now = 0;
    char buf[16];
    pair_create(10);
    CHECK_EQ(ikcp_setlog(peer[0], IKCP_LOG_OUTPUT | IKCP_LOG_INPUT, writelog), 0);
    CHECK_EQ(ikcp_send(peer[0], "x", 1), 1);
    pump(&now, 300);
    CHECK_EQ(ikcp_recv(peer[1], buf, sizeof buf), 1);
    CHECK(log_ro >= 1);
    CHECK(log_ri >= 1);
    CHECK_EQ(log_ro, (int)outputs[0]);
    ikcp_log(peer[0], IKCP_LOG_OUTPUT, "custom %d", 42);
    CHECK_EQ(log_verbatim, 1);
    ikcp_log(peer[0], IKCP_LOG_RECV, "custom %d", 42);
    ikcp_log(peer[1], IKCP_LOG_OUTPUT, "custom %d", 42);
    CHECK_EQ(log_verbatim, 1);
    CHECK_EQ(ikcp_setlog(peer[0], 0, NULL), 0);
    log_lines = 0;
    CHECK_EQ(ikcp_send(peer[0], "y", 1), 1);
    pump(&now, 300);
    CHECK_EQ(log_lines, 0);
    pair_release();
}

/* Output callbacks that call back into the library. */
static int reentrant_calls;

static int reentrant_output(const char *buf, int len, ikcpcb *kcp, void *user)
{
    char tmp[8];
    reentrant_calls++;
    /* Read-only calls, a send and a flush on the flushing handle, input into the peer. */
    CHECK(ikcp_waitsnd(kcp) >= 0);
    CHECK_EQ(ikcp_getconv(buf), ikcp_conv(kcp));
    (void)ikcp_recv(kcp, tmp, sizeof tmp);
    if (reentrant_calls == 1) {
        CHECK_EQ(ikcp_send(kcp, "again", 5), 5);
        ikcp_flush(kcp);
        ikcp_update(kcp, pump_now);
    }
    return wire_output(buf, len, kcp, user);
}

static int released_calls;

static int releasing_output(const char *buf, int len, ikcpcb *kcp, void *user)
{
    (void)buf;
    (void)len;
    (void)user;
    released_calls++;
    ikcp_release(kcp);
    /* Deferred: the handle still answers, with IKCP_ERR_RELEASED. */
    CHECK_EQ(ikcp_send(kcp, "x", 1), IKCP_ERR_RELEASED);
    CHECK_EQ(ikcp_waitsnd(kcp), IKCP_ERR_RELEASED);
    ikcp_update(kcp, 1);
    ikcp_flush(kcp);
    ikcp_release(kcp);
    return 0;
}

static void reentrancy(void)
{
    char buf[16];
    IUINT32 now = 0;
    int i;
    ikcpcb *kcp;
    pair_create(11);
    ikcp_setoutput(peer[0], reentrant_output);
    CHECK_EQ(ikcp_send(peer[0], "first", 5), 5);
    pump(&now, 500);
    CHECK(reentrant_calls >= 2);
    CHECK_EQ(ikcp_recv(peer[1], buf, sizeof buf), 5);
    CHECK_EQ(ikcp_recv(peer[1], buf, sizeof buf), 5);
    CHECK(memcmp(buf, "again", 5) == 0);
    pair_release();

    /* Released from its own output callback, with several datagrams pending: freed once,
     * when ikcp_flush returns (AddressSanitizer checks the rest). */
    kcp = ikcp_create(12, NULL);
    ikcp_setoutput(kcp, releasing_output);
    ikcp_setmtu(kcp, 100);
    CHECK_EQ(ikcp_nodelay(kcp, 1, 10, 0, 1), 0);
    for (i = 0; i < 10; i++) {
        CHECK_EQ(ikcp_send(kcp, "0123456789012345678901234567890123456789", 40), 40);
    }
    ikcp_update(kcp, 0);
    CHECK_EQ(released_calls, 1);
}

static void dead_link(void)
{
    IUINT32 now = 0;
    pair_create(13);
    CHECK_EQ(ikcp_setdeadlink(peer[0], 3), 0);
    CHECK_EQ(ikcp_nodelay(peer[0], 1, 10, 0, 1), 0);
    drop_from = 0;
    CHECK_EQ(ikcp_send(peer[0], "lost", 4), 4);
    CHECK_EQ(ikcp_getstate(peer[0]), 0);
    pump(&now, 5000);
    CHECK_EQ(ikcp_getstate(peer[0]), 0xFFFFFFFFu);
    CHECK_EQ(ikcp_waitsnd(peer[0]), 1);
    pair_release();
}

static void no_output_callback(void)
{
    char buf[8];
    IUINT32 now = 0;
    pair_create(14);
    ikcp_setoutput(peer[0], NULL);
    CHECK_EQ(ikcp_send(peer[0], "late", 4), 4);
    pump(&now, 100);
    CHECK_EQ(ikcp_recv(peer[1], buf, sizeof buf), -1);
    /* With a callback again, the segment goes out as a retransmission. */
    ikcp_setoutput(peer[0], wire_output);
    pump(&now, 2000);
    CHECK_EQ(ikcp_recv(peer[1], buf, sizeof buf), 4);
    pair_release();
}

static void eager_mode(void)
{
    char buf[8];
    IUINT32 now = 0;
    pair_create(15);
    CHECK_EQ(ikcp_seteager(peer[0], 1), 0);
    CHECK_EQ(ikcp_seteager(peer[1], 1), 0);
    ikcp_update(peer[0], now);
    ikcp_update(peer[1], now);
    /* Eager: the message leaves at the next update, without waiting for the 100 ms tick. */
    CHECK_EQ(ikcp_send(peer[0], "now", 3), 3);
    CHECK_EQ(ikcp_check(peer[0], now), now);
    ikcp_update(peer[0], ++now);
    CHECK_EQ(deliver(), 1);
    CHECK_EQ(ikcp_recv(peer[1], buf, sizeof buf), 3);
    pair_release();
}

static void allocator(void)
{
    /* Accepted and ignored. */
    ikcp_allocator(malloc, free);
    ikcp_allocator(NULL, NULL);
}

int main(void)
{
    messages_of_every_size();
    small_buffers_and_peeking();
    stream_mode();
    configuration();
    retuning_while_running();
    check_and_update();
    logging();
    reentrancy();
    dead_link();
    no_output_callback();
    eager_mode();
    allocator();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
    } else {
        printf("ikcp_basic: all checks passed\n");
    }
    return failures ? 1 : 0;
}
