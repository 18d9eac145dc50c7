/*
 * Misuse of the ikcp.h API: NULL handles and buffers for every function, bad lengths,
 * garbage datagrams, out-of-range settings, and sequences the reference leaves defined
 * (release(NULL), flush before update, clock jumps, repeated calls). Every call must return
 * its documented code and nothing may crash; run under AddressSanitizer as well.
 * Exit status: the number of failed checks (0: all passed).
 */
#include <limits.h>

#include "ikcp_test.h"

static int dummy_output(const char *buf, int len, ikcpcb *kcp, void *user)
{
    (void)buf;
    (void)kcp;
    (void)user;
    return len;
}

static void dummy_log(const char *line, ikcpcb *kcp, void *user)
{
    (void)line;
    (void)kcp;
    (void)user;
}

static void null_handle_everywhere(void)
{
    char buf[32] = {0};
    ikcp_release(NULL);
    ikcp_setoutput(NULL, dummy_output);
    ikcp_update(NULL, 100);
    ikcp_flush(NULL);
    ikcp_log(NULL, IKCP_LOG_OUTPUT, "x");
    CHECK_EQ(ikcp_recv(NULL, buf, sizeof buf), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_recv(NULL, buf, -1), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_send(NULL, buf, 4), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_check(NULL, 1234), 1234);
    CHECK_EQ(ikcp_input(NULL, buf, sizeof buf), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_peeksize(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_setmtu(NULL, 1000), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_wndsize(NULL, 64, 64), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_waitsnd(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_nodelay(NULL, 1, 10, 2, 1), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_interval(NULL, 10), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_getconv(NULL), 0);
    CHECK_EQ(ikcp_setstream(NULL, 1), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_setminrto(NULL, 10), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_setfastresend(NULL, 1), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_setfastlimit(NULL, 1), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_setdeadlink(NULL, 1), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_setlog(NULL, IKCP_LOG_INPUT, dummy_log), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_setuser(NULL, buf), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_setsendqueue(NULL, 10), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_seteager(NULL, 1), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_conv(NULL), 0);
    CHECK(ikcp_getuser(NULL) == NULL);
    CHECK_EQ(ikcp_getstate(NULL), 0xFFFFFFFFu);
    CHECK_EQ(ikcp_getsrtt(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_getrttval(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_getrto(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_getminrto(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_getmtu(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_getmss(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_getinterval(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_getsndwnd(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_getrcvwnd(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_getrmtwnd(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_getcwnd(NULL), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_getnsndbuf(NULL), IKCP_ERR_NULL);
}

static void bad_send_and_recv(void)
{
    static char big[1376 * 128];
    char buf[16];
    ikcpcb *kcp = ikcp_create(1, NULL);
    CHECK_EQ(ikcp_send(kcp, "x", -1), -1);
    CHECK_EQ(ikcp_send(kcp, "x", INT_MIN), -1);
    CHECK_EQ(ikcp_send(kcp, NULL, 5), IKCP_ERR_NULL);
    CHECK_EQ(ikcp_send(kcp, NULL, 0), 0); /* an empty message */
    CHECK_EQ(ikcp_waitsnd(kcp), 1);
    /* 127 fragments is the most; one byte more is refused with -2. */
    CHECK_EQ(ikcp_send(kcp, big, 1376 * 127), 1376 * 127);
    CHECK_EQ(ikcp_send(kcp, big, 1376 * 127 + 1), -2);
    CHECK_EQ(ikcp_send(kcp, big, (int)sizeof big), -2);
    CHECK_EQ(ikcp_waitsnd(kcp), 128);
    /* Nothing received yet. */
    CHECK_EQ(ikcp_recv(kcp, buf, sizeof buf), -1);
    CHECK_EQ(ikcp_recv(kcp, buf, -(int)sizeof buf), -1);
    CHECK_EQ(ikcp_recv(kcp, buf, 0), -1);
    CHECK_EQ(ikcp_recv(kcp, NULL, 0), -1);
    CHECK_EQ(ikcp_recv(kcp, NULL, INT_MIN), -1);
    CHECK_EQ(ikcp_peeksize(kcp), -1);
    ikcp_release(kcp); /* with 128 segments queued: freed (AddressSanitizer checks) */
}

static void queue_limit(void)
{
    ikcpcb *kcp = ikcp_create(1, NULL);
    int i;
    CHECK_EQ(ikcp_setsendqueue(kcp, 0), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_setsendqueue(kcp, -5), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_setsendqueue(kcp, 4), 0);
    for (i = 0; i < 4; i++) {
        CHECK_EQ(ikcp_send(kcp, "abc", 3), 3);
    }
    CHECK_EQ(ikcp_send(kcp, "abc", 3), IKCP_ERR_QUEUE_FULL);
    CHECK_EQ(ikcp_waitsnd(kcp), 4);
    ikcp_release(kcp);
}

static void bad_settings(void)
{
    ikcpcb *kcp = ikcp_create(1, NULL);
    CHECK_EQ(ikcp_setmtu(kcp, 49), -1);
    CHECK_EQ(ikcp_setmtu(kcp, 0), -1);
    CHECK_EQ(ikcp_setmtu(kcp, -1400), -1);
    CHECK_EQ(ikcp_setmtu(kcp, 65508), -1);
    CHECK_EQ(ikcp_setmtu(kcp, INT_MAX), -1);
    CHECK_EQ(ikcp_getmtu(kcp), 1400);
    CHECK_EQ(ikcp_setmtu(kcp, 50), 0);
    CHECK_EQ(ikcp_getmss(kcp), 26);
    CHECK_EQ(ikcp_setmtu(kcp, 65507), 0);
    CHECK_EQ(ikcp_setmtu(kcp, 1400), 0);
    CHECK_EQ(ikcp_setminrto(kcp, 0), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_setminrto(kcp, -1), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_setminrto(kcp, 60001), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_setminrto(kcp, 60000), 0);
    CHECK_EQ(ikcp_setfastresend(kcp, -1), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_setdeadlink(kcp, 0), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_setdeadlink(kcp, -3), IKCP_ERR_INVALID);
    CHECK_EQ(ikcp_setfastlimit(kcp, INT_MIN), 0);
    CHECK_EQ(ikcp_nodelay(kcp, INT_MIN, INT_MIN, INT_MIN, INT_MIN), 0);
    CHECK_EQ(ikcp_nodelay(kcp, INT_MAX, INT_MAX, INT_MAX, INT_MAX), 0);
    CHECK_EQ(ikcp_getinterval(kcp), 5000);
    CHECK_EQ(ikcp_interval(kcp, INT_MIN), 0);
    CHECK_EQ(ikcp_getinterval(kcp), 10);
    CHECK_EQ(ikcp_wndsize(kcp, INT_MIN, INT_MIN), 0);
    CHECK_EQ(ikcp_wndsize(kcp, INT_MAX, INT_MAX), 0);
    CHECK_EQ(ikcp_getsndwnd(kcp), 65535);
    CHECK_EQ(ikcp_setlog(kcp, -1, NULL), 0);
    ikcp_log(kcp, -1, NULL);
    ikcp_log(kcp, -1, "no callback");
    ikcp_release(kcp);
}

/* A valid segment header into `p` (24 bytes). */
static void header(char *p, IUINT32 conv, int cmd, IUINT32 sn, IUINT32 len)
{
    IUINT32 words[6];
    int i;
    words[0] = conv;
    words[1] = (IUINT32)cmd | (128u << 16); /* cmd, frg 0, wnd 128 */
    words[2] = 0;                           /* ts */
    words[3] = sn;
    words[4] = 0; /* una */
    words[5] = len;
    for (i = 0; i < 24; i++) {
        p[i] = (char)((words[i / 4] >> (8 * (i % 4))) & 0xff);
    }
}

static void garbage_input(void)
{
    char d[2048];
    char buf[64];
    int i, j, r;
    unsigned long x = 12345;
    ikcpcb *kcp = ikcp_create(0x01020304, NULL);
    ikcp_setoutput(kcp, dummy_output);

    CHECK_EQ(ikcp_input(kcp, NULL, 100), -1);
    CHECK_EQ(ikcp_input(kcp, d, 0), -1);
    CHECK_EQ(ikcp_input(kcp, d, 23), -1);
    CHECK_EQ(ikcp_input(kcp, d, -24), -1);
    CHECK_EQ(ikcp_input(kcp, d, LONG_MIN), -1);

    /* Wrong conversation. */
    header(d, 0x01020305, 81, 0, 0);
    CHECK_EQ(ikcp_input(kcp, d, 24), -1);
    /* The conversation id is read little-endian. */
    header(d, 0x01020304, 81, 0, 0);
    CHECK_EQ(ikcp_getconv(d), 0x01020304);
    CHECK_EQ((unsigned char)d[0], 0x04);
    /* Payload length past the end. */
    header(d, 0x01020304, 81, 0, 10);
    CHECK_EQ(ikcp_input(kcp, d, 24 + 9), -2);
    header(d, 0x01020304, 81, 0, 0xFFFFFFFFu);
    CHECK_EQ(ikcp_input(kcp, d, 24), -2);
    /* Unknown command. */
    header(d, 0x01020304, 80, 0, 0);
    CHECK_EQ(ikcp_input(kcp, d, 24), -3);
    header(d, 0x01020304, 0, 0, 0);
    CHECK_EQ(ikcp_input(kcp, d, 24), -3);
    /* A bad second segment rejects the whole datagram, the first one included. */
    header(d, 0x01020304, 81, 0, 3);
    memcpy(d + 24, "abc", 3);
    header(d + 27, 0x01020304, 99, 1, 0);
    CHECK_EQ(ikcp_input(kcp, d, 51), -3);
    CHECK_EQ(ikcp_peeksize(kcp), -1);
    /* Valid, with trailing bytes shorter than a header: accepted. */
    CHECK_EQ(ikcp_input(kcp, d, 24 + 3 + 10), 0);
    CHECK_EQ(ikcp_recv(kcp, buf, sizeof buf), 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    /* A message fragment number no window can hold, a push far outside the window, an ack
     * of data never sent, a window probe: all accepted as datagrams, harmless. */
    header(d, 0x01020304, 81, 5, 0);
    d[5] = (char)200;
    CHECK_EQ(ikcp_input(kcp, d, 24), 0);
    header(d, 0x01020304, 81, 0x7FFFFFFF, 0);
    CHECK_EQ(ikcp_input(kcp, d, 24), 0);
    header(d, 0x01020304, 82, 1000, 0);
    CHECK_EQ(ikcp_input(kcp, d, 24), 0);
    header(d, 0x01020304, 83, 0, 0);
    CHECK_EQ(ikcp_input(kcp, d, 24), 0);
    CHECK_EQ(ikcp_peeksize(kcp), -1);

    /* Random datagrams with the right conversation id: only the documented codes, ever. */
    for (i = 0; i < 20000; i++) {
        int len = 24 + (int)(x % 200);
        for (j = 0; j < len; j++) {
            x = x * 6364136223846793005ul + 1442695040888963407ul;
            d[j] = (char)(x >> 56);
        }
        if (i % 2 == 0) {
            header(d, 0x01020304, 81 + (int)(x % 4), (IUINT32)(x >> 40) % 300,
                   (IUINT32)(x >> 20) % 64);
        } else {
            d[0] = 0x04;
            d[1] = 0x03;
            d[2] = 0x02;
            d[3] = 0x01;
        }
        r = ikcp_input(kcp, d, len);
        CHECK(r == 0 || r == -1 || r == -2 || r == -3);
        if (i % 100 == 0) {
            ikcp_update(kcp, (IUINT32)i);
            while (ikcp_recv(kcp, buf, sizeof buf) >= 0 || ikcp_recv(kcp, NULL, 1 << 20) >= 0) {
            }
        }
    }
    ikcp_release(kcp);
}

static void defined_sequences(void)
{
    char buf[16];
    IUINT32 now;
    ikcpcb *kcp = ikcp_create(5, NULL);
    /* Flush before the first update does nothing (no callback needed). */
    ikcp_flush(kcp);
    /* No output callback: datagrams are dropped. */
    CHECK_EQ(ikcp_send(kcp, "a", 1), 1);
    ikcp_update(kcp, 0);
    ikcp_flush(kcp);
    /* Setting the callback twice, and the same update time twice. */
    ikcp_setoutput(kcp, dummy_output);
    ikcp_setoutput(kcp, dummy_output);
    ikcp_update(kcp, 100);
    ikcp_update(kcp, 100);
    /* Clocks that jump backwards, far forwards, and wrap. */
    ikcp_update(kcp, 50);
    ikcp_update(kcp, 0x7FFFFFFF);
    ikcp_update(kcp, 0xFFFFFFFF);
    ikcp_update(kcp, 3);
    for (now = 0xFFFFF000u; now != 0x00001000u; now += 8) {
        ikcp_update(kcp, now);
        (void)ikcp_check(kcp, now);
    }
    CHECK_EQ(ikcp_recv(kcp, buf, sizeof buf), -1);
    CHECK(ikcp_waitsnd(kcp) >= 0);
    ikcp_release(kcp);
    ikcp_release(NULL);
    /* Create and release many, some with data queued. */
    for (now = 0; now < 1000; now++) {
        kcp = ikcp_create(now, NULL);
        if (now % 2) {
            ikcp_send(kcp, buf, sizeof buf);
        }
        ikcp_release(kcp);
    }
}

int main(void)
{
    null_handle_everywhere();
    bad_send_and_recv();
    queue_limit();
    bad_settings();
    garbage_input();
    defined_sequences();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
    } else {
        printf("ikcp_misuse: all checks passed\n");
    }
    return failures ? 1 : 0;
}
