/* Both public headers compile together, twice each (include guards), as strict C and as C++. */
#include "ikcp.h"
#include "kcp.h"
#include "ikcp.h"
#include "kcp.h"

/* The reference's output callback signature is accepted as it is. */
static int output(const char *buf, int len, ikcpcb *kcp, void *user)
{
    (void)buf;
    (void)kcp;
    (void)user;
    return len;
}

int main(void)
{
    ikcpcb *kcp = ikcp_create(1, NULL);
    IUINT32 now = 0;
    ikcp_setoutput(kcp, output);
    ikcp_update(kcp, now);
    ikcp_log(kcp, IKCP_LOG_OUTPUT, "%d", 1);
    ikcp_release(kcp);
    return 0;
}
