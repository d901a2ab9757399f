#include "proxy/upstream_connection.h"

#include <sys/socket.h>

#include "proxy/worker.h"

namespace afterhook::proxy {

namespace {
constexpr size_t kLowWater = 64 * 1024;

UpstreamConnection& self(uv_handle_t* h) { return *static_cast<UpstreamConnection*>(h->data); }
}  // namespace

UpstreamConnection::UpstreamConnection(Worker& worker)
    : worker_(worker), parser_(HttpParser::Type::response, worker.response_limits(), *this) {}

int UpstreamConnection::connect() {
    uv_tcp_init(worker_.loop(), &tcp_);
    timer_.init(worker_.loop(), this, on_timer_cb);
    tcp_.data = this;
    writer_.init(reinterpret_cast<uv_stream_t*>(&tcp_), this, on_write_cb);
    open_handles_ = 2;
    connect_req_.data = this;
    int rc = uv_tcp_connect(&connect_req_, &tcp_,
                            reinterpret_cast<const sockaddr*>(&worker_.upstream_address()), on_connect_cb);
    if (rc < 0) {
        state_ = State::closing;
        uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close_cb);
        uv_close(timer_.handle(), on_close_cb);
        return rc;
    }
    worker_.metrics().upstream_connections_opened.fetch_add(1, std::memory_order_relaxed);
    arm_timer(static_cast<uint64_t>(worker_.config().timeouts.connect.count()));
    return 0;
}

void UpstreamConnection::on_connect_cb(uv_connect_t* req, int status) {
    static_cast<UpstreamConnection*>(req->data)->on_connect(status);
}

void UpstreamConnection::on_connect(int status) {
    if (state_ == State::closing) return;
    if (status < 0) {
        fail(UpstreamFailure::connect, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&tcp_, 1);
    state_ = State::active;
    timer_.disarm();
    if (waiting_head_) arm_timer(static_cast<uint64_t>(worker_.config().timeouts.upstream_response.count()));
    resume_reading();
    if (listener_) listener_->on_upstream_connected();
}

void UpstreamConnection::attach(Listener* listener) {
    listener_ = listener;
    if (state_ == State::idle) {
        state_ = State::active;
        reused_ = true;
        timer_.disarm();
    }
}

void UpstreamConnection::release(bool reusable) {
    listener_ = nullptr;
    flush();
    if (!reusable) clean_ = false;
    worker_.upstream_pool().release(this);
}

bool UpstreamConnection::can_reuse() const {
    return state_ == State::active && clean_ && response_done_ && response_keep_alive_ && !tunnel_ &&
           writer_.backlog() == 0 && !worker_.draining();
}

void UpstreamConnection::park() {
    state_ = State::idle;
    response_done_ = false;
    in_response_ = false;
    waiting_head_ = false;
    parser_.resume();
    if (paused_) {
        paused_ = false;
    }
    if (!reading_) resume_reading();
    arm_timer(static_cast<uint64_t>(worker_.config().timeouts.idle.count()));
}

void UpstreamConnection::close() {
    if (state_ == State::closing) return;
    if (state_ == State::idle) worker_.upstream_pool().forget(this);
    state_ = State::closing;
    listener_ = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close_cb);
    uv_close(timer_.handle(), on_close_cb);
}

void UpstreamConnection::on_close_cb(uv_handle_t* handle) { self(handle).on_close(); }

void UpstreamConnection::on_close() {
    if (--open_handles_ == 0) delete this;
}

void UpstreamConnection::flush() {
    if (state_ == State::closing || !writer_.has_pending()) return;
    if (int rc = writer_.flush(); rc < 0) {
        fail(UpstreamFailure::reset, uv_strerror(rc));
        return;
    }
    if (tunnel_) arm_timer(static_cast<uint64_t>(worker_.config().timeouts.idle.count()));
}

void UpstreamConnection::on_write_cb(uv_write_t* req, int status) {
    auto* conn = static_cast<UpstreamConnection*>(req->data);
    conn->writer_.complete(req);
    conn->on_write(status);
}

void UpstreamConnection::on_write(int status) {
    if (state_ == State::closing) return;
    if (status < 0) {
        fail(UpstreamFailure::reset, uv_strerror(status));
        return;
    }
    if (writer_.backlog() < kLowWater && listener_) listener_->on_upstream_writable();
}

void UpstreamConnection::pause_reading() {
    paused_ = true;
    if (reading_) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
        reading_ = false;
    }
    // While the client is the slow side, the upstream is not timed.
    if (in_response_) timer_.disarm();
}

void UpstreamConnection::resume_reading() {
    paused_ = false;
    if (state_ == State::closing || state_ == State::connecting || reading_) return;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc_cb, on_read_cb);
    reading_ = true;
    if (in_response_) arm_timer(static_cast<uint64_t>(worker_.config().timeouts.upstream_response.count()));
}

void UpstreamConnection::expect_response() {
    waiting_head_ = true;
    if (state_ == State::active)
        arm_timer(static_cast<uint64_t>(worker_.config().timeouts.upstream_response.count()));
}

void UpstreamConnection::begin_tunnel() {
    tunnel_ = true;
    clean_ = false;
    in_response_ = false;
    arm_timer(static_cast<uint64_t>(worker_.config().timeouts.idle.count()));
}

void UpstreamConnection::arm_timer(uint64_t ms) { timer_.arm(ms); }

void UpstreamConnection::on_timer_cb(uv_timer_t* timer) { self(reinterpret_cast<uv_handle_t*>(timer)).on_timer(); }

void UpstreamConnection::on_timer() {
    switch (state_) {
    case State::connecting:
        fail(UpstreamFailure::connect_timeout, "connect timed out");
        return;
    case State::idle:
        close();
        return;
    case State::active:
        if (tunnel_) {
            if (listener_) listener_->on_upstream_closed();
            close();
        } else if (waiting_head_ || (in_response_ && !paused_)) {
            fail(UpstreamFailure::timeout, waiting_head_ ? "no response head in time" : "response stalled");
        }
        return;
    case State::closing:
        return;
    }
}

void UpstreamConnection::on_alloc_cb(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    *buf = self(handle).worker_.read_buffer();
}

void UpstreamConnection::on_read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    self(reinterpret_cast<uv_handle_t*>(stream)).on_read(nread, buf);
}

void UpstreamConnection::on_read(ssize_t nread, const uv_buf_t* buf) {
    if (state_ == State::closing || nread == 0) return;
    if (nread == UV_EOF) {
        on_eof();
        return;
    }
    if (nread < 0) {
        if (state_ == State::idle) close();
        else if (tunnel_) {
            Listener* l = listener_;
            close();
            if (l) l->on_upstream_closed();
        } else fail(UpstreamFailure::reset, uv_strerror(static_cast<int>(nread)));
        return;
    }
    size_t length = static_cast<size_t>(nread);
    if (state_ == State::idle) {
        // An idle connection has nothing to say; bytes here mean it cannot be trusted.
        close();
        return;
    }
    if (tunnel_) {
        arm_timer(static_cast<uint64_t>(worker_.config().timeouts.idle.count()));
        if (listener_) listener_->on_upstream_tunnel_data(buf->base, length);
        if (listener_ && state_ != State::closing) listener_->on_upstream_read_done();
        return;
    }
    if (in_response_ && !paused_)
        arm_timer(static_cast<uint64_t>(worker_.config().timeouts.upstream_response.count()));
    feed(buf->base, length);
    if (listener_ && state_ != State::closing) listener_->on_upstream_read_done();
}

void UpstreamConnection::feed(const char* data, size_t length) {
    if (response_done_) {
        // Bytes after a complete response and before the next request.
        clean_ = false;
        return;
    }
    HttpParser::Result result = parser_.feed(data, length);
    if (state_ == State::closing) return;
    switch (result.status) {
    case HttpParser::Status::need_more:
        return;
    case HttpParser::Status::paused:
        if (result.consumed < length) clean_ = false;
        in_response_ = false;
        timer_.disarm();
        if (listener_) listener_->on_upstream_complete(std::move(trailers_));
        return;
    case HttpParser::Status::upgrade: {
        in_response_ = false;
        timer_.disarm();
        Listener* l = listener_;
        if (l) l->on_upstream_complete(std::move(trailers_));
        // The listener called begin_tunnel() or closed us.
        if (tunnel_ && state_ != State::closing && listener_ && result.consumed < length)
            listener_->on_upstream_tunnel_data(data + result.consumed, length - result.consumed);
        return;
    }
    case HttpParser::Status::error:
        worker_.metrics().upstream_bad_responses.fetch_add(1, std::memory_order_relaxed);
        fail(UpstreamFailure::bad_response, parser_.error_reason());
        return;
    }
}

void UpstreamConnection::on_eof() {
    if (state_ == State::idle || !listener_) {
        close();
        return;
    }
    if (tunnel_) {
        Listener* l = listener_;
        close();
        l->on_upstream_closed();
        return;
    }
    clean_ = false;
    if (in_response_ && pending_socket_error() == 0) {
        // A response without a length ends here; anything else was cut short.
        HttpParser::Result result = parser_.finish();
        if (result.status == HttpParser::Status::paused || response_done_) {
            in_response_ = false;
            timer_.disarm();
            Listener* l = listener_;
            l->on_upstream_complete(std::move(trailers_));
            return;
        }
    }
    fail(UpstreamFailure::reset, "upstream closed the connection");
}

// libuv reports EOF, without another read, when the socket hangs up after a
// partial read, and that includes a reset. A body that ends with the
// connection is complete only if the close was clean, so ask the socket.
int UpstreamConnection::pending_socket_error() {
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) != 0) return 0;
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return 0;
    return error;
}

void UpstreamConnection::fail(UpstreamFailure failure, const std::string& reason) {
    if (state_ == State::closing) return;
    clean_ = false;
    Listener* l = listener_;
    close();
    if (l) l->on_upstream_failed(failure, reason);
}

bool UpstreamConnection::on_head(MessageHead& head, bool& skip_body) {
    waiting_head_ = false;
    interim_ = head.status >= 100 && head.status < 200 && head.status != 101;
    if (!interim_) {
        in_response_ = true;
        response_keep_alive_ = head.keep_alive;
    }
    arm_timer(static_cast<uint64_t>(worker_.config().timeouts.upstream_response.count()));
    if (!listener_) return false;
    return listener_->on_upstream_head(head, skip_body);
}

void UpstreamConnection::on_body(const char* data, size_t length) {
    if (listener_) listener_->on_upstream_body(data, length);
}

bool UpstreamConnection::on_message_complete(std::vector<HeaderField>&& trailers) {
    if (interim_) {
        interim_ = false;
        waiting_head_ = true;
        if (listener_) listener_->on_upstream_interim_complete();
        return false;
    }
    response_done_ = true;
    trailers_ = std::move(trailers);
    return true;
}

}  // namespace afterhook::proxy
