#include "proxy/client_connection.h"

#include <algorithm>

#include "proxy/log.h"
#include "proxy/worker.h"

namespace afterhook::proxy {

namespace {
constexpr size_t kHighWater = 256 * 1024;
constexpr std::chrono::milliseconds kLinger{2000};
constexpr uint64_t kMaxLingerBytes = 1024 * 1024;

ClientConnection& self(uv_handle_t* h) { return *static_cast<ClientConnection*>(h->data); }

void describe_peer(uv_tcp_t* tcp, std::string& ip, uint16_t& port) {
    sockaddr_storage addr{};
    int len = sizeof addr;
    if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    char text[64] = {};
    if (addr.ss_family == AF_INET) {
        auto* in = reinterpret_cast<sockaddr_in*>(&addr);
        uv_ip4_name(in, text, sizeof text);
        port = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
        uv_ip6_name(in6, text, sizeof text);
        port = ntohs(in6->sin6_port);
    }
    ip = text;
}
}  // namespace

ClientConnection::ClientConnection(Worker& worker)
    : worker_(worker), parser_(HttpParser::Type::request, worker.request_limits(), *this) {}

ClientConnection::~ClientConnection() = default;

void ClientConnection::accept(Worker& worker, uv_stream_t* server) {
    auto* c = new ClientConnection(worker);
    uv_tcp_init(worker.loop(), &c->tcp_);
    c->timer_.init(worker.loop(), c, on_timer_cb);
    c->tcp_.data = c;
    c->writer_.init(reinterpret_cast<uv_stream_t*>(&c->tcp_), c, on_write_cb);
    c->open_handles_ = 2;
    Metrics& metrics = worker.metrics();
    metrics.connections_active.fetch_add(1, std::memory_order_relaxed);
    worker.add_connection(c);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp_)) != 0) {
        c->close();
        return;
    }
    metrics.connections_total.fetch_add(1, std::memory_order_relaxed);
    if (metrics.connections_active.load(std::memory_order_relaxed) > worker.config().limits.max_connections || worker.draining()) {
        metrics.connections_rejected.fetch_add(1, std::memory_order_relaxed);
        c->close();
        return;
    }
    uv_tcp_nodelay(&c->tcp_, 1);
    describe_peer(&c->tcp_, c->peer_ip_, c->peer_port_);
    c->arm_timer(worker.config().timeouts.request_header);
    c->resume_reading();
}

// ---- reading ------------------------------------------------------------

void ClientConnection::on_alloc_cb(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    *buf = self(handle).worker_.read_buffer();
}

void ClientConnection::on_read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    self(reinterpret_cast<uv_handle_t*>(stream)).on_read(nread, buf);
}

void ClientConnection::on_read(ssize_t nread, const uv_buf_t* buf) {
    if (closing_ || nread == 0) return;
    if (nread < 0) {
        const char* reason = nread == UV_EOF ? "client closed the connection" : uv_strerror(static_cast<int>(nread));
        if (lingering_ || (!exchange_ && !parser_.in_message())) {
            close();
            return;
        }
        if (!exchange_) {
            // The client went away in the middle of a request head.
            exchange_ = std::make_unique<Exchange>(*this, worker_);
            exchange_->capture_partial(parser_.partial_head());
        }
        exchange_->on_client_closed(reason);
        return;
    }
    size_t length = static_cast<size_t>(nread);
    if (lingering_) {
        lingered_bytes_ += length;
        if (lingered_bytes_ > kMaxLingerBytes) close();
        return;
    }
    if (exchange_) arm_timer(worker_.config().timeouts.idle);
    if (tunnel_) {
        exchange_bytes_in_ += length;
        if (exchange_) exchange_->on_client_tunnel_data(buf->base, length);
        if (exchange_ && exchange_->upstream_backlog() > kHighWater) pause_reading();
        return;
    }
    if (parser_paused_ || upgrade_pending_ || parse_failed_ || exchange_ended_) {
        // A pipelined request (or tunnel bytes) waits for the current exchange.
        pending_.append(buf->base, length);
        if (pending_.size() > worker_.config().limits.max_header_bytes + kHighWater) pause_reading();
        return;
    }
    process(buf->base, length);
}

void ClientConnection::process(const char* data, size_t length) {
    if (!exchange_ && !parser_.in_message()) {
        // The first byte of a new request: its head must be complete in time.
        request_started_ = std::chrono::steady_clock::now();
        request_started_wall_ = std::chrono::system_clock::now();
        exchange_bytes_in_ = 0;
        arm_timer(worker_.config().timeouts.request_header);
    }
    in_parser_ = true;
    HttpParser::Result result = parser_.feed(data, length);
    in_parser_ = false;
    exchange_bytes_in_ += result.consumed;
    switch (result.status) {
    case HttpParser::Status::need_more:
        break;
    case HttpParser::Status::paused:
        parser_paused_ = true;
        pending_.assign(data + result.consumed, length - result.consumed);
        break;
    case HttpParser::Status::upgrade:
        upgrade_pending_ = true;
        pending_.assign(data + result.consumed, length - result.consumed);
        break;
    case HttpParser::Status::error:
        parse_failed_ = true;
        pending_.clear();
        if (!exchange_ && !exchange_ended_) exchange_ = std::make_unique<Exchange>(*this, worker_);
        if (exchange_) exchange_->reject(parser_.error_status(), parser_.error_reason(), parser_.partial_head());
        break;
    }
    if (exchange_) exchange_->on_client_input_done();
    if (exchange_ended_) {
        continue_after_exchange();
        return;
    }
    if (exchange_ && exchange_->upstream_backlog() > kHighWater) pause_reading();
}

void ClientConnection::process_pending() {
    if (pending_.empty()) return;
    std::string input = std::move(pending_);
    pending_.clear();
    process(input.data(), input.size());
}

void ClientConnection::pause_reading() {
    read_paused_ = true;
    if (!reading_) return;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
}

void ClientConnection::resume_reading() {
    read_paused_ = false;
    if (closing_ || reading_) return;
    if (pending_.size() > worker_.config().limits.max_header_bytes + kHighWater) return;
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc_cb, on_read_cb) == 0) reading_ = true;
}

// ---- parser events ------------------------------------------------------

bool ClientConnection::on_head(MessageHead& head, bool&) {
    exchange_ = std::make_unique<Exchange>(*this, worker_);
    arm_timer(worker_.config().timeouts.idle);
    exchange_->on_request_head(head);
    return true;
}

void ClientConnection::on_body(const char* data, size_t length) {
    if (exchange_) exchange_->on_request_body(data, length);
}

bool ClientConnection::on_message_complete(std::vector<HeaderField>&& trailers) {
    if (exchange_) exchange_->on_request_complete(std::move(trailers));
    return true;  // one exchange at a time: the next request waits
}

// ---- writing ------------------------------------------------------------

void ClientConnection::flush() {
    if (closing_ || !writer_.has_pending()) return;
    if (int rc = writer_.flush(); rc < 0) {
        // Reported from the timer so the exchange never ends inside its own call.
        write_failed_ = true;
        timer_.arm(0);
        return;
    }
    // Progress towards the client: its inactivity timeout starts again.
    if (exchange_ && !lingering_) arm_timer(worker_.config().timeouts.idle);
}

void ClientConnection::on_write_cb(uv_write_t* req, int status) {
    auto* c = static_cast<ClientConnection*>(req->data);
    c->writer_.complete(req);
    c->on_write(status);
}

void ClientConnection::on_write(int status) {
    if (closing_) return;
    if (status < 0) {
        if (exchange_) exchange_->on_client_closed(uv_strerror(status));
        else close();
        return;
    }
    if (close_after_flush_) {
        if (writer_.in_flight() == 0) close();
        return;
    }
    if (lingering_) return;
    if (exchange_) {
        arm_timer(worker_.config().timeouts.idle);
        exchange_->on_client_write_done();
    }
}

// ---- between exchanges --------------------------------------------------

void ClientConnection::exchange_finished(After after) {
    worker_.defer_delete(std::move(exchange_));
    exchange_ended_ = true;
    after_ = after;
    if (!in_parser_) continue_after_exchange();
}

void ClientConnection::continue_after_exchange() {
    exchange_ended_ = false;
    exchange_bytes_in_ = 0;
    switch (after_) {
    case After::keep_alive:
        if (draining_) {
            close();
            return;
        }
        parser_paused_ = false;
        parser_.resume();
        arm_timer(worker_.config().timeouts.idle);
        resume_reading();
        process_pending();  // may start the next exchange, and pause reading again
        return;
    case After::close_after_flush:
        pause_reading();
        if (writer_.in_flight() == 0) close();
        else close_after_flush_ = true;
        return;
    case After::linger:
        begin_linger();
        return;
    case After::close_now:
        close();
        return;
    }
}

void ClientConnection::begin_linger() {
    // Closing with unread input would make the kernel send a reset that can
    // destroy the error response before the client reads it. Instead: send
    // it, shut down writing, and discard input for a short while.
    lingering_ = true;
    pending_.clear();
    arm_timer(std::min(kLinger, worker_.config().timeouts.idle));
    shutdown_req_.data = this;
    if (uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_), on_shutdown_cb) != 0) {
        close();
        return;
    }
    resume_reading();
}

void ClientConnection::on_shutdown_cb(uv_shutdown_t*, int) {}

void ClientConnection::start_tunnel() {
    tunnel_ = true;
    upgrade_pending_ = false;
    arm_timer(worker_.config().timeouts.idle);
    if (!pending_.empty() && exchange_) {
        std::string early = std::move(pending_);
        pending_.clear();
        exchange_bytes_in_ += early.size();
        exchange_->on_client_tunnel_data(early.data(), early.size());
    }
    resume_reading();
}

// ---- timers and closing -------------------------------------------------

void ClientConnection::arm_timer(std::chrono::milliseconds timeout) {
    timer_.arm(static_cast<uint64_t>(timeout.count()));
}

void ClientConnection::on_timer_cb(uv_timer_t* timer) { self(reinterpret_cast<uv_handle_t*>(timer)).on_timer(); }

void ClientConnection::on_timer() {
    if (closing_) return;
    if (write_failed_) {
        write_failed_ = false;
        if (exchange_) exchange_->on_client_closed("write to client failed");
        else close();
        return;
    }
    if (lingering_) {
        close();
        return;
    }
    if (exchange_) {
        exchange_->on_client_timeout();
        if (exchange_ && !closing_) arm_timer(worker_.config().timeouts.idle);
        return;
    }
    if (parser_.in_message() && !parse_failed_) {
        // Part of a request head arrived, the rest did not in time.
        parse_failed_ = true;
        exchange_ = std::make_unique<Exchange>(*this, worker_);
        exchange_->reject(408, "request head not complete in time", parser_.partial_head());
        return;
    }
    close();  // idle keep-alive connection
}

void ClientConnection::drain() {
    draining_ = true;
    if (!exchange_ && !parser_.in_message() && !lingering_) close();
}

void ClientConnection::close() {
    if (closing_) return;
    closing_ = true;
    if (exchange_ && !exchange_->finished()) exchange_->on_client_closed("connection closed by afterhook");
    worker_.remove_connection(this);
    worker_.metrics().connections_active.fetch_sub(1, std::memory_order_relaxed);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close_cb);
    uv_close(timer_.handle(), on_close_cb);
}

void ClientConnection::on_close_cb(uv_handle_t* handle) { self(handle).on_close(); }

void ClientConnection::on_close() {
    if (--open_handles_ == 0) delete this;
}

}  // namespace afterhook::proxy
