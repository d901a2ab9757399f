#include "support/fake_upstream.h"

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

#include "support/pattern.h"

namespace afterhook::testing {
namespace {

// Reads on an idle upstream connection have no natural deadline: the peer
// decides when the next request comes. stop() interrupts them.
constexpr auto kIdleRead = std::chrono::hours(1);
constexpr auto kWriteDeadline = std::chrono::seconds(60);

const char* reason_phrase(int status) {
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 200: return "OK";
        case 201: return "Created";
        case 204: return "No Content";
        case 206: return "Partial Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 304: return "Not Modified";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Status";
    }
}

bool split_request_line(UpstreamRequest& request) {
    const std::string& line = request.request_line;
    const size_t first = line.find(' ');
    const size_t second = first == std::string::npos ? first : line.find(' ', first + 1);
    if (second == std::string::npos || line.find(' ', second + 1) != std::string::npos) return false;
    request.method = line.substr(0, first);
    request.target = line.substr(first + 1, second - first - 1);
    request.version = line.substr(second + 1);
    return !request.method.empty() && !request.target.empty() && request.version.rfind("HTTP/", 0) == 0;
}

}  // namespace

// ---------------------------------------------------------------- UpstreamConn

UpstreamConn::UpstreamConn(FakeUpstream& server, size_t index, int fd)
    : server_(server), index_(index), stream_(fd) {}

bool UpstreamConn::write(std::string_view bytes) {
    if (server_.stopping()) return false;
    return stream_.send_all(bytes, deadline_in(kWriteDeadline));
}

bool UpstreamConn::respond(int status, std::string_view body, const Headers& headers) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
    out += render_headers(headers);
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    out.append(body);
    return write(out);
}

bool UpstreamConn::write_holding_last_byte(std::string_view response, Clock::duration hold) {
    if (response.empty()) return true;
    if (!write(response.substr(0, response.size() - 1))) return false;
    sleep_for(hold);
    server_.add_event(UpstreamEvent::Kind::before_last_byte, index_, current_request_,
                      stream_.has_pending_input());
    return write(response.substr(response.size() - 1));
}

bool UpstreamConn::stream_pattern(uint64_t size, uint64_t offset, size_t piece) {
    std::string buffer(piece, '\0');
    while (size > 0) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(size, piece));
        Pattern::fill(offset, buffer.data(), n);
        if (!write(std::string_view(buffer.data(), n))) return false;
        offset += n;
        size -= n;
    }
    return true;
}

bool UpstreamConn::sleep_for(Clock::duration duration) {
    const Deadline until = Clock::now() + duration;
    std::unique_lock lock(server_.mutex_);
    server_.changed_.wait_until(lock, until, [&] { return server_.stopping(); });
    return !server_.stopping();
}

bool UpstreamConn::wait(const std::function<bool()>& predicate, Clock::duration timeout) {
    const Deadline deadline = deadline_in(timeout);
    for (;;) {
        if (server_.stopping()) return false;
        if (predicate()) return true;
        if (Clock::now() >= deadline) return false;
        std::unique_lock lock(server_.mutex_);
        server_.changed_.wait_for(lock, Millis(5));
    }
}

ReadStatus UpstreamConn::read_some(Clock::duration timeout) {
    return stream_.fill(deadline_in(timeout));
}

bool UpstreamConn::wait_peer_close(Clock::duration timeout) {
    const Deadline deadline = deadline_in(timeout);
    for (;;) {
        const ReadStatus status = stream_.fill(deadline);
        if (status == ReadStatus::eof || status == ReadStatus::reset) return true;
        if (status != ReadStatus::data) return false;
    }
}

// ---------------------------------------------------------------- FakeUpstream

FakeUpstream::FakeUpstream(Handler handler, Options options)
    : handler_(std::move(handler)), options_(options) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("fake upstream: socket() failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 512) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ::close(listen_fd_);
        throw std::runtime_error(std::string("fake upstream: cannot listen: ") + std::strerror(errno));
    }
    port_ = ntohs(address.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
}

FakeUpstream::~FakeUpstream() { stop(); }

void FakeUpstream::stop() {
    if (stopping_.exchange(true)) return;
    // shutdown() wakes the thread blocked in accept(); close() after the join.
    ::shutdown(listen_fd_, SHUT_RDWR);
    accept_thread_.join();
    ::close(listen_fd_);
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mutex_);
        for (const auto& conn : connections_) conn->stream().interrupt();
        threads.swap(connection_threads_);
    }
    changed_.notify_all();
    for (std::thread& thread : threads) thread.join();
}

void FakeUpstream::accept_loop() {
    for (;;) {
        sockaddr_in peer{};
        socklen_t length = sizeof peer;
        const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
        if (stopping_.load()) {
            if (fd >= 0) ::close(fd);
            return;
        }
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            add_error(std::string("accept: ") + std::strerror(errno));
            return;
        }
        if (peer.sin_family != AF_INET || peer.sin_addr.s_addr != htonl(INADDR_LOOPBACK)) {
            add_error("refused a connection that did not come from 127.0.0.1");
            ::close(fd);
            continue;
        }
        if (options_.send_buffer > 0) {
            ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &options_.send_buffer, sizeof options_.send_buffer);
        }
        std::lock_guard lock(mutex_);
        auto conn = std::make_shared<UpstreamConn>(*this, connections_.size(), fd);
        connections_.push_back(conn);
        timeline_.push_back({UpstreamEvent::Kind::accepted, conn->index(), SIZE_MAX, false, Clock::now()});
        connection_threads_.emplace_back([this, conn] { serve(conn); });
        changed_.notify_all();
    }
}

void FakeUpstream::serve(const std::shared_ptr<UpstreamConn>& conn) {
    for (size_t n = 0; !stopping_.load() && conn->is_open(); ++n) {
        if (!serve_one(*conn, n)) break;
    }
    conn->close();
    std::lock_guard lock(mutex_);
    timeline_.push_back({UpstreamEvent::Kind::closed, conn->index(), SIZE_MAX, false, Clock::now()});
    ++closed_connections_;
    changed_.notify_all();
}

// Reads one request and runs the handler on it. Returns false when the
// connection is over (closed by either side, or a protocol error).
bool FakeUpstream::serve_one(UpstreamConn& conn, size_t index_on_connection) {
    SocketStream& stream = conn.stream();
    UpstreamRequest request;
    request.connection = conn.index();
    request.index_on_connection = index_on_connection;
    stream.start_tap(&request.raw, options_.max_stored_raw);

    std::string error;
    ReadStatus status = ReadStatus::data;
    const auto head = read_head(stream, deadline_in(kIdleRead), error, status);
    if (!head) {
        stream.stop_tap();
        if (stream.buffer().empty() && request.raw.empty()) return false;  // clean close between requests
        if (!stopping_.load()) {
            std::lock_guard lock(mutex_);
            incomplete_.push_back(std::move(request));
            changed_.notify_all();
        }
        return false;
    }
    request.head_time = Clock::now();
    if (!parse_head(*head, request.request_line, request.headers, error) || !split_request_line(request)) {
        stream.stop_tap();
        add_error("connection " + std::to_string(conn.index()) + ": malformed request head: " +
                  (error.empty() ? request.request_line : error));
        return false;
    }
    {
        std::lock_guard lock(mutex_);
        request.index = next_request_index_++;
        timeline_.push_back({UpstreamEvent::Kind::request_head, conn.index(), request.index, false, request.head_time});
    }
    if (!read_request_body(conn, request)) {
        stream.stop_tap();
        return false;
    }
    stream.stop_tap();
    // The tap also holds whatever arrived after this request; drop that part.
    if (request.raw.size() < options_.max_stored_raw) {
        request.raw.resize(request.raw.size() - std::min(request.raw.size(), stream.buffer().size()));
    }
    request.complete_time = Clock::now();
    {
        std::lock_guard lock(mutex_);
        timeline_.push_back({UpstreamEvent::Kind::request_complete, conn.index(), request.index, false, request.complete_time});
        requests_.push_back(request);
        changed_.notify_all();
    }
    conn.current_request_ = request.index;
    handler_(conn, request);
    add_event(UpstreamEvent::Kind::response_done, conn.index(), request.index);
    return conn.is_open();
}

// Reads the body the head announces. On failure records the request as
// incomplete (or the protocol error) and returns false.
bool FakeUpstream::read_request_body(UpstreamConn& conn, UpstreamRequest& request) {
    SocketStream& stream = conn.stream();
    PatternChecker checker;
    const BodySink sink = [&](std::string_view piece) {
        checker.feed(piece);
        request.body_size += piece.size();
        if (request.body.size() < options_.max_stored_body) {
            request.body.append(piece.substr(0, options_.max_stored_body - request.body.size()));
        }
    };
    const auto transfer_codings = request.header_values("transfer-encoding");
    const auto lengths = request.header_values("content-length");
    std::string error;
    if (!transfer_codings.empty() && !lengths.empty()) {
        add_error("request " + request.request_line + " has both Content-Length and Transfer-Encoding");
        return false;
    }
    const bool expects_continue = request.has_header("expect") &&
                                  iequals(*request.header("expect"), "100-continue");
    if (expects_continue && options_.auto_continue) {
        request.sent_continue = true;
        if (!conn.write("HTTP/1.1 100 Continue\r\n\r\n")) return false;
    }
    const Deadline deadline = deadline_in(kIdleRead);
    if (!transfer_codings.empty()) {
        if (!has_token(request.headers, "transfer-encoding", "chunked")) {
            add_error("request " + request.request_line + " has a Transfer-Encoding other than chunked");
            return false;
        }
        request.chunked = true;
        error = read_chunked_body(stream, deadline, sink, request.trailers, &request.chunk_extensions);
    } else if (!lengths.empty()) {
        uint64_t length = 0;
        const std::string& text = lengths.front();
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
        if (lengths.size() > 1 || ec != std::errc() || end != text.data() + text.size()) {
            add_error("request " + request.request_line + " has an unusable Content-Length");
            return false;
        }
        error = read_fixed_body(stream, length, deadline, sink);
    }
    request.body_matches_pattern = request.body_size > 0 && checker.ok();
    if (!error.empty()) {
        if (!stopping_.load()) {
            std::lock_guard lock(mutex_);
            incomplete_.push_back(request);
            changed_.notify_all();
        }
        return false;
    }
    return true;
}

void FakeUpstream::add_event(UpstreamEvent::Kind kind, size_t connection, size_t request, bool pending) {
    std::lock_guard lock(mutex_);
    timeline_.push_back({kind, connection, request, pending, Clock::now()});
    changed_.notify_all();
}

void FakeUpstream::add_error(std::string error) {
    std::lock_guard lock(mutex_);
    errors_.push_back(std::move(error));
    changed_.notify_all();
}

size_t FakeUpstream::accepted_connections() const {
    std::lock_guard lock(mutex_);
    return connections_.size();
}

size_t FakeUpstream::request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
}

size_t FakeUpstream::incomplete_requests() const {
    std::lock_guard lock(mutex_);
    return incomplete_.size();
}

std::vector<UpstreamRequest> FakeUpstream::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

UpstreamRequest FakeUpstream::request(size_t i) const {
    std::lock_guard lock(mutex_);
    if (i >= requests_.size()) {
        throw std::runtime_error("fake upstream: request " + std::to_string(i) + " requested but only " +
                                 std::to_string(requests_.size()) + " arrived");
    }
    return requests_[i];
}

std::vector<UpstreamRequest> FakeUpstream::incomplete() const {
    std::lock_guard lock(mutex_);
    return incomplete_;
}

std::vector<UpstreamEvent> FakeUpstream::timeline() const {
    std::lock_guard lock(mutex_);
    return timeline_;
}

std::vector<std::string> FakeUpstream::errors() const {
    std::lock_guard lock(mutex_);
    return errors_;
}

uint64_t FakeUpstream::bytes_written() const {
    std::lock_guard lock(mutex_);
    uint64_t total = 0;
    for (const auto& conn : connections_) total += conn->bytes_written();
    return total;
}

size_t FakeUpstream::connections_closed() const {
    std::lock_guard lock(mutex_);
    return closed_connections_;
}

bool FakeUpstream::wait_for(const std::function<bool()>& predicate, Clock::duration timeout) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, predicate);
}

bool FakeUpstream::wait_for_requests(size_t count, Clock::duration timeout) const {
    return wait_for([&] { return requests_.size() >= count; }, timeout);
}

bool FakeUpstream::wait_for_connections(size_t count, Clock::duration timeout) const {
    return wait_for([&] { return connections_.size() >= count; }, timeout);
}

bool FakeUpstream::wait_for_closed_connections(size_t count, Clock::duration timeout) const {
    return wait_for([&] { return closed_connections_ >= count; }, timeout);
}

void FakeUpstream::notify() { changed_.notify_all(); }

FakeUpstream::Handler FakeUpstream::echo_handler() {
    return [](UpstreamConn& conn, const UpstreamRequest& request) {
        conn.respond(200, request.method + " " + request.target, {{"Content-Type", "text/plain"}});
    };
}

FakeUpstream::Handler FakeUpstream::respond_with(int status, std::string body, Headers headers) {
    return [status, body = std::move(body), headers = std::move(headers)](UpstreamConn& conn,
                                                                          const UpstreamRequest&) {
        conn.respond(status, body, headers);
    };
}

}  // namespace afterhook::testing
