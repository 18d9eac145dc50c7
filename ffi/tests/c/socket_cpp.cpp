/* The socket API from C++: kcp.h's extern "C" block lets a C++ program link the C symbols. */
#include "kcp.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace {

/* A RAII owner, as a C++ program would wrap the handle. */
class Socket {
  public:
    explicit Socket(kcp_socket *s) : s_(s) {}
    ~Socket() { kcp_socket_destroy(s_); }
    Socket(const Socket &) = delete;
    Socket &operator=(const Socket &) = delete;
    kcp_socket *get() const { return s_; }

  private:
    kcp_socket *s_;
};

int fail(const char *what, int rc) {
    std::fprintf(stderr, "%s: %s (%s)\n", what, kcp_strerror(rc), kcp_last_error());
    return 1;
}

}  // namespace

int main() {
    kcp_config cfg;
    int rc = kcp_config_init(&cfg, sizeof cfg);
    if (rc != KCP_OK) return fail("kcp_config_init", rc);
    cfg.passphrase = "c++ test";
    kcp_socket *raw = nullptr;
    rc = kcp_server_new(&cfg, "127.0.0.1:0", &raw);
    if (rc != KCP_OK) return fail("kcp_server_new", rc);
    Socket server(raw);
    char addr[KCP_ADDRSTRLEN];
    rc = kcp_local_addr(server.get(), addr, sizeof addr);
    if (rc < 0) return fail("kcp_local_addr", rc);
    if (std::string(addr).rfind("127.0.0.1:", 0) != 0) return fail("local address", KCP_EINVAL);
    kcp_event events[8];
    rc = kcp_poll(server.get(), events, 8, 0);
    if (rc != 0) return fail("kcp_poll", rc);
    if (kcp_poll(nullptr, events, 8, 0) != KCP_EINVAL) return fail("kcp_poll(NULL)", KCP_EINVAL);
    std::printf("c++: ok (libkcp %s on %s)\n", kcp_version(), addr);
    return 0;
}
