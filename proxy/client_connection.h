// ClientConnection: one accepted client socket. It parses requests with a
// strict HttpParser, runs one Exchange at a time (pipelined requests wait,
// already read, until the current exchange finishes), and applies the
// request-header, idle and lingering-close timeouts.
//
// Lifetime: created on accept, freed only in the close callback of its last
// handle. close() is idempotent.
#pragma once

#include <uv.h>

#include <chrono>
#include <memory>
#include <string>

#include "proxy/deadline_timer.h"
#include "proxy/exchange.h"
#include "proxy/http_parser.h"
#include "proxy/stream_writer.h"

namespace afterhook::proxy {

class Worker;

class ClientConnection final : private HttpParser::Handler {
public:
    // Accepts one pending connection from `server`; closes it at once when
    // limits.max_connections is reached.
    static void accept(Worker& worker, uv_stream_t* server);

    // For the Exchange: append to output(), then flush() at the end of the event.
    StreamWriter& output() { return writer_; }
    void flush();
    size_t write_backlog() const { return writer_.backlog(); }
    size_t writes_in_flight() const { return writer_.in_flight(); }
    void pause_reading();
    void resume_reading();
    void start_tunnel();
    // How the connection goes on after an exchange.
    enum class After {
        keep_alive,         // read the next request
        close_after_flush,  // close once every queued byte is written
        linger,             // an error response: flush, shut down writing, discard input briefly
        close_now,          // abort: queued bytes are dropped, the client sees a cut
    };
    void exchange_finished(After after);
    const std::string& peer_ip() const { return peer_ip_; }
    uint16_t peer_port() const { return peer_port_; }
    uint64_t exchange_bytes_in() const { return exchange_bytes_in_; }
    std::chrono::steady_clock::time_point request_started() const { return request_started_; }
    std::chrono::system_clock::time_point request_started_wall() const { return request_started_wall_; }

    // Draining: close now if no exchange is running, else after it.
    void drain();
    void close();

    ClientConnection* next = nullptr;  // Worker's intrusive list
    ClientConnection* prev = nullptr;

private:
    explicit ClientConnection(Worker& worker);
    ~ClientConnection();

    static void on_alloc_cb(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write_cb(uv_write_t* req, int status);
    static void on_timer_cb(uv_timer_t* timer);
    static void on_shutdown_cb(uv_shutdown_t* req, int status);
    static void on_close_cb(uv_handle_t* handle);

    void on_read(ssize_t nread, const uv_buf_t* buf);
    void on_write(int status);
    void on_timer();
    void on_close();
    void process(const char* data, size_t length);
    void process_pending();
    void continue_after_exchange();
    void begin_linger();
    void arm_timer(std::chrono::milliseconds timeout);
    Exchange& current_exchange();

    // HttpParser::Handler
    bool on_head(MessageHead& head, bool& skip_body) override;
    void on_body(const char* data, size_t length) override;
    bool on_message_complete(std::vector<HeaderField>&& trailers) override;

    Worker& worker_;
    uv_tcp_t tcp_{};
    DeadlineTimer timer_;
    uv_shutdown_t shutdown_req_{};
    HttpParser parser_;
    std::unique_ptr<Exchange> exchange_;
    std::string pending_;  // read but not yet parsed: pipelined requests or tunnel bytes
    std::string peer_ip_;
    uint16_t peer_port_ = 0;
    std::chrono::steady_clock::time_point request_started_{};
    std::chrono::system_clock::time_point request_started_wall_{};
    uint64_t exchange_bytes_in_ = 0;
    StreamWriter writer_;
    int open_handles_ = 0;
    bool reading_ = false;
    bool read_paused_ = false;     // by backpressure or a waiting pipelined request
    bool parser_paused_ = false;   // a request completed; the parser waits for the exchange
    bool upgrade_pending_ = false; // the parser stopped at an upgrade
    bool tunnel_ = false;
    bool lingering_ = false;
    bool close_after_flush_ = false;
    bool in_parser_ = false;        // inside parser_.feed(): exchange endings wait until it returns
    bool exchange_ended_ = false;   // exchange_finished() ran; continue_after_exchange() pending
    After after_ = After::close_now;
    bool parse_failed_ = false;
    bool write_failed_ = false;
    uint64_t lingered_bytes_ = 0;
    bool closing_ = false;
    bool draining_ = false;
};

}  // namespace afterhook::proxy
