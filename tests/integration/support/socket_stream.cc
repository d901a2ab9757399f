#include "support/socket_stream.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace afterhook::testing {

const char* to_string(ReadStatus status) {
    switch (status) {
        case ReadStatus::data: return "data";
        case ReadStatus::eof: return "eof";
        case ReadStatus::reset: return "reset";
        case ReadStatus::timeout: return "timeout";
        case ReadStatus::error: return "error";
    }
    return "?";
}

SocketStream::SocketStream(int fd) : fd_(fd) {}

SocketStream::~SocketStream() { close(); }

ReadStatus SocketStream::fill(Deadline deadline, size_t max_bytes) {
    if (peer_closed_) return closed_status_;
    if (fd_ < 0) {
        last_error_ = "socket already closed locally";
        return ReadStatus::error;
    }
    if (scratch_.size() < max_bytes) scratch_.resize(max_bytes);
    deadline = stall_deadline(deadline);
    for (;;) {
        pollfd pfd{fd_, POLLIN, 0};
        const int ready = ::poll(&pfd, 1, millis_until(deadline));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) {
            last_error_ = std::string("poll: ") + std::strerror(errno);
            return ReadStatus::error;
        }
        if (ready == 0) return ReadStatus::timeout;
        const ssize_t n = ::recv(fd_, scratch_.data(), max_bytes, MSG_DONTWAIT);
        if (n > 0) {
            buffer_.append(scratch_.data(), static_cast<size_t>(n));
            if (tap_ != nullptr && tap_->size() < tap_limit_) {
                tap_->append(scratch_.data(),
                             std::min(static_cast<size_t>(n), tap_limit_ - tap_->size()));
            }
            bytes_received_ += static_cast<uint64_t>(n);
            return ReadStatus::data;
        }
        if (n == 0) {
            peer_closed_ = true;
            closed_status_ = ReadStatus::eof;
            return closed_status_;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            if (Clock::now() >= deadline) return ReadStatus::timeout;
            continue;
        }
        if (errno == ECONNRESET || errno == EPIPE) {
            peer_closed_ = true;
            closed_status_ = ReadStatus::reset;
            return closed_status_;
        }
        last_error_ = std::string("recv: ") + std::strerror(errno);
        return ReadStatus::error;
    }
}

std::string SocketStream::take(size_t n) {
    if (n > buffer_.size()) n = buffer_.size();
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return out;
}

bool SocketStream::send_all(std::string_view data, Deadline deadline) {
    if (fd_ < 0) {
        last_error_ = "socket already closed locally";
        return false;
    }
    while (!data.empty()) {
        pollfd pfd{fd_, POLLOUT, 0};
        const int ready = ::poll(&pfd, 1, millis_until(stall_deadline(deadline)));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            last_error_ = ready == 0 ? "send timed out" : std::string("poll: ") + std::strerror(errno);
            return false;
        }
        const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
            last_error_ = std::string("send: ") + std::strerror(errno);
            return false;
        }
        bytes_sent_ += static_cast<uint64_t>(n);
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

Deadline SocketStream::stall_deadline(Deadline deadline) const {
    const Clock::time_point now = Clock::now();
    if (stall_ >= deadline - now) return deadline;
    return now + stall_;
}

void SocketStream::start_tap(std::string* tap, size_t limit) {
    tap_ = tap;
    tap_limit_ = limit;
    tap_->assign(buffer_.substr(0, limit));
}

bool SocketStream::has_pending_input() {
    if (!buffer_.empty()) return true;
    if (fd_ < 0) return false;
    int available = 0;
    if (::ioctl(fd_, FIONREAD, &available) != 0) return false;
    return available > 0;
}

void SocketStream::shutdown_write() {
    std::lock_guard lock(fd_mutex_);
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void SocketStream::close() { close_fd(false); }

void SocketStream::reset() { close_fd(true); }

void SocketStream::close_fd(bool abortive) {
    std::lock_guard lock(fd_mutex_);
    if (fd_ < 0) return;
    if (abortive) {
        linger option{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &option, sizeof option);
    }
    ::close(fd_);
    fd_ = -1;
}

void SocketStream::interrupt() {
    std::lock_guard lock(fd_mutex_);
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

bool SocketStream::is_open() const {
    std::lock_guard lock(fd_mutex_);
    return fd_ >= 0;
}

int connect_loopback(uint16_t port, int receive_buffer) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (receive_buffer > 0) {
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace afterhook::testing
