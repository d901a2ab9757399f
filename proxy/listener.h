// Listening sockets and address resolution, done once at start-up so that a
// bad address fails before any thread starts.
#pragma once

#include <sys/socket.h>

#include <string>

#include "config/config.h"

namespace afterhook::proxy {

// Resolves a configured address (literal or host name) to a socket address.
bool resolve_address(const config::Address& address, sockaddr_storage& out, std::string& error);

// A non-blocking listening socket with SO_REUSEADDR and SO_REUSEPORT set
// before bind, so that each worker can have its own socket on one port and
// the kernel spreads connections across them. Returns -1 and sets `error`.
int open_listen_socket(const sockaddr_storage& address, std::string& error);

// The port a bound socket actually got (for port 0).
int bound_port(int fd);

}  // namespace afterhook::proxy
