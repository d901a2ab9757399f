// UpstreamConnection: one TCP connection to the upstream app. It is either
// connecting, serving one exchange (its Listener), idle in the worker's
// pool, or closing. It parses responses with a strict HttpParser and can
// turn into a raw tunnel after a 101 response.
//
// Lifetime: created by UpstreamPool, freed only in the close callback of its
// last handle. close() is idempotent; after it the listener hears nothing.
#pragma once

#include <uv.h>

#include <string>
#include <vector>

#include "proxy/deadline_timer.h"
#include "proxy/http_parser.h"
#include "proxy/stream_writer.h"

namespace afterhook::proxy {

class Worker;

enum class UpstreamFailure {
    connect,       // refused, unreachable, or reset before a connection existed
    connect_timeout,
    reset,         // reset or closed before the response was complete
    timeout,       // no response (or no progress) within timeouts.upstream_response
    bad_response,  // the response broke HTTP framing rules
};

class UpstreamConnection final : private HttpParser::Handler {
public:
    class Listener {
    public:
        virtual void on_upstream_connected() = 0;
        // A response head (interim 1xx included). Return false to refuse it.
        virtual bool on_upstream_head(MessageHead& head, bool& skip_body) = 0;
        virtual void on_upstream_body(const char* data, size_t length) = 0;
        // A final (non-1xx) response is complete.
        virtual void on_upstream_complete(std::vector<HeaderField>&& trailers) = 0;
        // A 1xx interim response is complete; parsing continues.
        virtual void on_upstream_interim_complete() = 0;
        virtual void on_upstream_tunnel_data(const char* data, size_t length) = 0;
        virtual void on_upstream_failed(UpstreamFailure failure, const std::string& reason) = 0;
        // The upstream closed a tunnel, or the response ended with the connection.
        virtual void on_upstream_closed() = 0;
        // Fewer bytes wait to be written than the low-water mark.
        virtual void on_upstream_writable() = 0;
        // One read from the upstream has been fully handled.
        virtual void on_upstream_read_done() = 0;

    protected:
        virtual ~Listener() = default;
    };

    explicit UpstreamConnection(Worker& worker);
    UpstreamConnection(const UpstreamConnection&) = delete;
    UpstreamConnection& operator=(const UpstreamConnection&) = delete;

    // Starts connecting to the worker's upstream address. Returns a libuv error.
    int connect();
    bool connected() const { return state_ == State::active || state_ == State::idle; }
    bool reused() const { return reused_; }

    void attach(Listener* listener);  // begin serving one exchange
    // End of the exchange. `reusable` says whether the exchange kept the
    // framing intact on both sides; the pool decides the rest.
    void release(bool reusable);
    void close();

    // Append to output(), then flush() at the end of the event.
    StreamWriter& output() { return writer_; }
    void flush();
    size_t write_backlog() const { return writer_.backlog(); }
    void pause_reading();
    void resume_reading();

    // The request is completely written: wait at most upstream_response for the head.
    void expect_response();
    // After a 101: raw bytes both ways from now on.
    void begin_tunnel();

    // Idle in the pool: any data or EOF closes it; the idle timer closes it too.
    void park();
    bool can_reuse() const;

    UpstreamConnection* pool_next = nullptr;  // UpstreamPool's intrusive list
    UpstreamConnection* pool_prev = nullptr;

private:
    enum class State { connecting, active, idle, closing };

    static void on_connect_cb(uv_connect_t* req, int status);
    static void on_alloc_cb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write_cb(uv_write_t* req, int status);
    static void on_timer_cb(uv_timer_t* timer);
    static void on_close_cb(uv_handle_t* handle);

    void on_connect(int status);
    void on_read(ssize_t nread, const uv_buf_t* buf);
    void on_write(int status);
    void on_timer();
    void on_close();
    void feed(const char* data, size_t length);
    void on_eof();
    int pending_socket_error();
    void fail(UpstreamFailure failure, const std::string& reason);
    void arm_timer(uint64_t ms);

    // HttpParser::Handler
    bool on_head(MessageHead& head, bool& skip_body) override;
    void on_body(const char* data, size_t length) override;
    bool on_message_complete(std::vector<HeaderField>&& trailers) override;

    Worker& worker_;
    uv_tcp_t tcp_{};
    DeadlineTimer timer_;
    uv_connect_t connect_req_{};
    HttpParser parser_;
    Listener* listener_ = nullptr;
    State state_ = State::connecting;
    int open_handles_ = 0;
    StreamWriter writer_;
    bool reading_ = false;
    bool paused_ = false;        // by the listener (client backpressure)
    bool waiting_head_ = false;  // request sent, response head not seen yet
    bool in_response_ = false;   // head seen, final response not complete
    bool interim_ = false;       // the current head is 1xx
    bool tunnel_ = false;
    bool clean_ = true;          // no framing oddity seen: may be reused
    bool reused_ = false;
    bool response_done_ = false;
    bool response_keep_alive_ = false;
    std::vector<HeaderField> trailers_;
};

}  // namespace afterhook::proxy
