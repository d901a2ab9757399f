// RefusedPort: a loopback port that refuses connections. The socket is
// bound but never listens, so a SYN to it is answered with RST at once, and
// no other program can take the port while the test holds it.
#pragma once

#include <cstdint>
#include <string>

namespace afterhook::testing {

class RefusedPort {
public:
    RefusedPort();  // throws std::runtime_error when no port can be bound
    ~RefusedPort();
    RefusedPort(const RefusedPort&) = delete;
    RefusedPort& operator=(const RefusedPort&) = delete;

    uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    int fd_ = -1;
    uint16_t port_ = 0;
};

}  // namespace afterhook::testing
