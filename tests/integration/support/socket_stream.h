// SocketStream: one connected TCP socket with a receive buffer, read and
// written with deadlines. Used by the raw client and by every connection of
// the fake upstream. The socket stays in blocking mode; every call waits in
// poll() first, so no call ever blocks past its deadline.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "support/wait.h"

namespace afterhook::testing {

enum class ReadStatus {
    data,     // at least one byte was appended to the buffer
    eof,      // the peer closed its sending side (FIN)
    reset,    // the peer reset the connection (RST)
    timeout,  // the deadline passed with nothing to read
    error,    // any other socket error (see last_error())
};

const char* to_string(ReadStatus status);

class SocketStream {
public:
    // Takes ownership of `fd`, a connected TCP socket.
    explicit SocketStream(int fd);
    ~SocketStream();
    SocketStream(const SocketStream&) = delete;
    SocketStream& operator=(const SocketStream&) = delete;

    // Appends what is readable (at most `max_bytes`) to buffer(), waiting until
    // `deadline` for something to arrive. Once EOF or a reset was seen, every
    // later call reports it again at once.
    ReadStatus fill(Deadline deadline, size_t max_bytes = 256 * 1024);

    // Bytes received and not yet consumed by the caller.
    std::string& buffer() { return buffer_; }
    // Removes and returns the first `n` buffered bytes.
    std::string take(size_t n);

    // Sends every byte of `data` or returns false (peer gone, error, or
    // `deadline` passed while the peer was not reading).
    bool send_all(std::string_view data, Deadline deadline);

    uint64_t bytes_sent() const { return bytes_sent_.load(); }
    uint64_t bytes_received() const { return bytes_received_.load(); }
    // True when the kernel holds bytes not yet read, or buffer() is not empty.
    bool has_pending_input();
    bool peer_closed() const { return peer_closed_; }
    const std::string& last_error() const { return last_error_; }

    void shutdown_write();
    // Graceful close (FIN). Idempotent.
    void close();
    // Abortive close: SO_LINGER 0 makes the kernel send RST. Idempotent.
    void reset();
    // Any thread: shuts both directions down so that a call blocked in this
    // stream returns. The socket stays open until close()/reset().
    void interrupt();
    bool is_open() const;
    int fd() const { return fd_; }

    // Makes fill() and send_all() give up when nothing moves for `stall`,
    // even if their deadline is later: long transfers get a generous overall
    // deadline but still fail fast when the peer stops altogether.
    void set_stall_timeout(Clock::duration stall) { stall_ = stall; }

    // Starts copying every byte received from now on (plus what is already
    // buffered) into `tap`, up to `limit` bytes; stop_tap() ends it. The
    // fake upstream uses this to keep each request's exact wire bytes.
    void start_tap(std::string* tap, size_t limit);
    void stop_tap() { tap_ = nullptr; }

private:
    void close_fd(bool abortive);
    Deadline stall_deadline(Deadline deadline) const;

    int fd_;
    mutable std::mutex fd_mutex_;  // guards fd_ against interrupt() racing close()
    std::string buffer_;
    std::vector<char> scratch_;
    std::atomic<uint64_t> bytes_sent_{0};
    std::atomic<uint64_t> bytes_received_{0};
    bool peer_closed_ = false;
    ReadStatus closed_status_ = ReadStatus::eof;
    std::string last_error_;
    Clock::duration stall_ = Clock::duration::max();
    std::string* tap_ = nullptr;
    size_t tap_limit_ = 0;
};

// Connects to 127.0.0.1:`port`. Returns a socket fd (SOCK_CLOEXEC) or -1.
// `receive_buffer`, when non-zero, is set with SO_RCVBUF before connecting,
// which also fixes the window (no kernel auto-tuning).
int connect_loopback(uint16_t port, int receive_buffer = 0);

}  // namespace afterhook::testing
