#include "proxy/listener.h"

#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace afterhook::proxy {

bool resolve_address(const config::Address& address, sockaddr_storage& out, std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* result = nullptr;
    std::string port = std::to_string(address.port);
    int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &result);
    if (rc != 0 || !result) {
        error = "cannot resolve " + address.to_string() + ": " + gai_strerror(rc);
        return false;
    }
    std::memset(&out, 0, sizeof out);
    std::memcpy(&out, result->ai_addr, result->ai_addrlen);
    freeaddrinfo(result);
    return true;
}

int open_listen_socket(const sockaddr_storage& address, std::string& error) {
    int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return -1;
    }
    int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
        error = std::string("SO_REUSEPORT: ") + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    socklen_t len = address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), len) != 0 || ::listen(fd, 4096) != 0) {
        error = std::string("bind/listen: ") + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

int bound_port(int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
    if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

}  // namespace afterhook::proxy
