// HttpReceiver: a tiny HTTP/1.1 server for the webhook tests, on its own
// thread, listening on 127.0.0.1 with a port the kernel picks. Each request
// (Content-Length bodies only, as libcurl sends them) is recorded with the
// number of the connection it came on, and answered as the test's script
// says: a status with headers and a body (plain or chunked), no answer at
// all, or a closed connection. Header-only: tests/CMakeLists.txt compiles
// only tests/unit/*.cc.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace afterhook::test {

struct ReceivedRequest {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;  // names in lower case, in order
    std::string body;
    int connection = 0;  // 1 for the first accepted connection, 2 for the next ...

    // The first value of `name` (lower case), or "" when absent.
    std::string header(std::string_view name) const {
        for (const auto& [key, value] : headers)
            if (key == name) return value;
        return {};
    }
    size_t count(std::string_view name) const {
        return static_cast<size_t>(std::count_if(headers.begin(), headers.end(),
                                                 [&](const auto& field) { return field.first == name; }));
    }
};

struct Reply {
    enum class Mode { respond, hang, close };
    Mode mode = Mode::respond;
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool chunked = false;
    bool close_after = false;  // respond, then close the connection without saying so beforehand
};

class HttpReceiver {
public:
    using Script = std::function<Reply(const ReceivedRequest&)>;

    // `script` runs on the receiver's thread; without one every request gets
    // an empty 200.
    explicit HttpReceiver(Script script = {}) : script_(std::move(script)) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(listen_fd_ >= 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(::listen(listen_fd_, 64) == 0);
        socklen_t length = sizeof address;
        REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
        port_ = ntohs(address.sin_port);
        REQUIRE(::pipe2(wake_, O_CLOEXEC) == 0);
        thread_ = std::thread([this] { run(); });
    }

    ~HttpReceiver() {
        const char stop = 's';
        (void)!::write(wake_[1], &stop, 1);
        thread_.join();
        for (auto& [fd, connection] : connections_) ::close(fd);
        ::close(listen_fd_);
        ::close(wake_[0]);
        ::close(wake_[1]);
    }

    HttpReceiver(const HttpReceiver&) = delete;
    HttpReceiver& operator=(const HttpReceiver&) = delete;

    uint16_t port() const { return port_; }
    std::string url(std::string_view path = "/") const {
        return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
    }

    std::vector<ReceivedRequest> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    int accepts() const {
        std::lock_guard lock(mutex_);
        return accepts_;
    }
    // Connections the client has closed (or reset) so far.
    int client_closes() const {
        std::lock_guard lock(mutex_);
        return client_closes_;
    }

    // Waits until `done()` holds (checked under the receiver's lock) or the
    // deadline passes.
    bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, done);
    }
    bool wait_for_client_closes(int count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        return wait_until([&] { return client_closes_ >= count; }, timeout);
    }

private:
    struct Connection {
        int number = 0;
        std::string input;
        bool hung = false;  // answered nothing; waits for the client to go away
    };

    void run() {
        for (;;) {
            std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
            for (const auto& [fd, connection] : connections_) fds.push_back({fd, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), -1) < 0) continue;
            if (fds[0].revents) return;
            if (fds[1].revents & POLLIN) accept_one();
            for (size_t i = 2; i < fds.size(); ++i)
                if (fds[i].revents) read_from(fds[i].fd);
        }
    }

    void accept_one() {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        timeval send_timeout{10, 0};  // a client that stops reading cannot wedge the thread
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
        std::lock_guard lock(mutex_);
        connections_[fd].number = ++accepts_;
        changed_.notify_all();
    }

    void read_from(int fd) {
        Connection& connection = connections_[fd];
        char buffer[16384];
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) return drop(fd, true);
        if (connection.hung) return;
        connection.input.append(buffer, static_cast<size_t>(n));
        ReceivedRequest request;
        while (!connection.hung && take_request(connection, request)) {
            const Reply reply = script_ ? script_(request) : Reply{};
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(request);
                changed_.notify_all();
            }
            if (reply.mode == Reply::Mode::close) return drop(fd, false);
            if (reply.mode == Reply::Mode::hang) {
                connection.hung = true;
                return;
            }
            if (!send_reply(fd, reply)) return drop(fd, true);
            if (reply.close_after) return drop(fd, false);
        }
    }

    void drop(int fd, bool by_client) {
        ::close(fd);
        connections_.erase(fd);
        if (!by_client) return;
        std::lock_guard lock(mutex_);
        ++client_closes_;
        changed_.notify_all();
    }

    // Takes one complete request off the front of the connection's input.
    static bool take_request(Connection& connection, ReceivedRequest& request) {
        const size_t head_end = connection.input.find("\r\n\r\n");
        if (head_end == std::string::npos) return false;
        ReceivedRequest parsed;
        parsed.connection = connection.number;
        const std::string head = connection.input.substr(0, head_end);
        size_t line_end = head.find("\r\n");
        const std::string start_line = head.substr(0, line_end);
        const size_t space1 = start_line.find(' ');
        const size_t space2 = start_line.find(' ', space1 + 1);
        parsed.method = start_line.substr(0, space1);
        parsed.target = start_line.substr(space1 + 1, space2 - space1 - 1);
        size_t content_length = 0;
        while (line_end != std::string::npos && line_end < head.size()) {
            const size_t next = head.find("\r\n", line_end + 2);
            const std::string line = head.substr(line_end + 2, next == std::string::npos ? std::string::npos
                                                                                          : next - line_end - 2);
            const size_t colon = line.find(':');
            std::string name = line.substr(0, colon);
            std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
            std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            if (name == "content-length") content_length = std::stoul(value);
            parsed.headers.emplace_back(std::move(name), std::move(value));
            line_end = next;
        }
        if (connection.input.size() < head_end + 4 + content_length) return false;
        parsed.body = connection.input.substr(head_end + 4, content_length);
        connection.input.erase(0, head_end + 4 + content_length);
        request = std::move(parsed);
        return true;
    }

    static bool send_all(int fd, std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            data.remove_prefix(static_cast<size_t>(n));
        }
        return true;
    }

    static bool send_reply(int fd, const Reply& reply) {
        std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " Scripted\r\n";
        for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
        if (reply.chunked) {
            head += "Transfer-Encoding: chunked\r\n\r\n";
            if (!send_all(fd, head)) return false;
            for (size_t offset = 0; offset < reply.body.size(); offset += 16384) {
                const std::string_view piece = std::string_view(reply.body).substr(offset, 16384);
                char size_line[32];
                std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
                if (!send_all(fd, size_line) || !send_all(fd, piece) || !send_all(fd, "\r\n")) return false;
            }
            return send_all(fd, "0\r\n\r\n");
        }
        head += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n";
        return send_all(fd, head) && send_all(fd, reply.body);
    }

    Script script_;
    int listen_fd_ = -1;
    int wake_[2] = {-1, -1};
    uint16_t port_ = 0;
    std::thread thread_;
    std::map<int, Connection> connections_;  // receiver thread only

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<ReceivedRequest> requests_;
    int accepts_ = 0;
    int client_closes_ = 0;
};

// A port on 127.0.0.1 where nothing listens: bound, then closed again.
inline uint16_t closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    ::close(fd);
    return ntohs(address.sin_port);
}

}  // namespace afterhook::test
