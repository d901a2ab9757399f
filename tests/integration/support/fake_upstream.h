// FakeUpstream: the app behind afterhook, scripted per test. It listens on
// 127.0.0.1 port 0, accepts on its own thread and serves every connection on
// a thread of its own with plain blocking sockets. For each request it reads
// the head and the whole body (Content-Length or chunked), records it, and
// calls the test's handler, which answers with whatever bytes, delays,
// closes or resets the test needs. A global timeline of events lets tests
// check ordering across connections (pipelining, reuse).
//
// Only loopback peers are served; anything else is closed and reported.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/http_wire.h"
#include "support/socket_stream.h"
#include "support/wait.h"

namespace afterhook::testing {

struct UpstreamRequest {
    size_t index = 0;                // order of arrival of the head, over all connections
    size_t connection = 0;           // index of the accepted connection (0-based)
    size_t index_on_connection = 0;  // 0 for the first request on its connection
    std::string request_line;
    std::string method;
    std::string target;
    std::string version;  // "HTTP/1.1"
    Headers headers;      // in order, names in their original case
    bool chunked = false;
    std::vector<std::string> chunk_extensions;
    Headers trailers;
    std::string body;            // decoded body, up to Options::max_stored_body bytes
    uint64_t body_size = 0;      // decoded body length, whatever was stored
    bool body_matches_pattern = false;  // body_size > 0 and it equals Pattern from offset 0
    bool sent_continue = false;  // the fake answered "Expect: 100-continue" with a 100
    std::string raw;             // the exact bytes of head and body, up to a bound
    Clock::time_point head_time;      // when the head was complete
    Clock::time_point complete_time;  // when the body was complete

    std::optional<std::string> header(std::string_view name) const { return find_header(headers, name); }
    std::vector<std::string> header_values(std::string_view name) const { return find_headers(headers, name); }
    bool has_header(std::string_view name) const { return header(name).has_value(); }
};

// One entry of the fake upstream's global timeline.
struct UpstreamEvent {
    enum class Kind {
        accepted,          // a connection was accepted
        request_head,      // a request head was complete
        request_complete,  // its body was complete; the handler runs next
        before_last_byte,  // write_holding_last_byte(): all but the last response byte written
        response_done,     // the handler returned (the response was written)
        closed,            // the connection ended (either side)
    };
    Kind kind = Kind::accepted;
    size_t connection = 0;
    size_t request = SIZE_MAX;  // UpstreamRequest::index, SIZE_MAX for connection events
    // before_last_byte only: bytes of another request were already waiting
    // on this connection although the peer could not have the whole response
    // yet, i.e. the peer sent the next request early (pipelined it).
    bool input_pending = false;
    Clock::time_point time;
};

class FakeUpstream;

struct FakeUpstreamOptions {
    bool auto_continue = true;  // answer Expect: 100-continue before reading the body
    size_t max_stored_body = 4 * 1024 * 1024;
    size_t max_stored_raw = 1024 * 1024;
    int send_buffer = 0;  // SO_SNDBUF for accepted sockets (0 = kernel default, auto-tuned)
};

// The server side of one accepted connection, handed to the handler.
class UpstreamConn {
public:
    UpstreamConn(FakeUpstream& server, size_t index, int fd);
    UpstreamConn(const UpstreamConn&) = delete;
    UpstreamConn& operator=(const UpstreamConn&) = delete;

    size_t index() const { return index_; }
    FakeUpstream& server() { return server_; }

    // Blocking writes (deadline 60 s, or until the server stops). False when
    // the peer is gone or the deadline passed.
    bool write(std::string_view bytes);
    // "HTTP/1.1 <status> <reason>", the given fields, Content-Length, body.
    bool respond(int status, std::string_view body, const Headers& headers = {});
    // Writes `response` except its last byte, waits `hold` (time for a peer
    // that pipelines to send its next request), records a before_last_byte
    // event saying whether request bytes are already waiting, then writes
    // the last byte. Unlike any check made after the whole response was
    // written, this cannot be fooled by a fast peer that legitimately sent
    // its next request the moment the response was complete.
    bool write_holding_last_byte(std::string_view response, Clock::duration hold);
    // Writes `size` bytes of the Pattern stream starting at `offset`, in
    // pieces of `piece` bytes; bytes_written() advances after every piece.
    bool stream_pattern(uint64_t size, uint64_t offset = 0, size_t piece = 64 * 1024);

    void shutdown_write() { stream_.shutdown_write(); }
    void close() { stream_.close(); }  // FIN
    void reset() { stream_.reset(); }  // RST
    bool is_open() const { return stream_.is_open(); }

    // Scripted delays. Both return false early when the server is stopping;
    // wait() also returns false when `timeout` passes with `predicate` false.
    bool sleep_for(Clock::duration duration);
    bool wait(const std::function<bool()>& predicate, Clock::duration timeout);

    // Raw reads, for tunnels: appends to input(); EOF/reset are reported.
    ReadStatus read_some(Clock::duration timeout);
    std::string& input() { return stream_.buffer(); }
    // True when the peer closed (EOF or reset) within `timeout`; any bytes
    // that arrive meanwhile are kept in input().
    bool wait_peer_close(Clock::duration timeout);

    uint64_t bytes_written() const { return stream_.bytes_sent(); }
    SocketStream& stream() { return stream_; }

private:
    friend class FakeUpstream;

    FakeUpstream& server_;
    size_t index_;
    SocketStream stream_;
    size_t current_request_ = SIZE_MAX;  // UpstreamRequest::index of the request being answered
};

class FakeUpstream {
public:
    using Handler = std::function<void(UpstreamConn&, const UpstreamRequest&)>;

    using Options = FakeUpstreamOptions;

    // Starts listening and accepting at once; throws std::runtime_error if
    // the socket cannot be set up.
    explicit FakeUpstream(Handler handler = echo_handler(), Options options = {});
    FakeUpstream(const FakeUpstream&) = delete;
    FakeUpstream& operator=(const FakeUpstream&) = delete;
    ~FakeUpstream();

    uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

    // Stops accepting, interrupts every connection (a handler blocked in a
    // write or a wait returns) and joins every thread. Idempotent.
    void stop();
    bool stopping() const { return stopping_.load(); }

    size_t accepted_connections() const;
    size_t request_count() const;       // complete requests (head and body)
    size_t incomplete_requests() const; // a head or body cut short by the peer
    std::vector<UpstreamRequest> requests() const;  // complete ones, in completion order
    UpstreamRequest request(size_t i) const;        // requests()[i]; throws when absent
    std::vector<UpstreamRequest> incomplete() const;  // what arrived of the cut-short ones
    std::vector<UpstreamEvent> timeline() const;
    std::vector<std::string> errors() const;  // protocol errors seen by the fake
    uint64_t bytes_written() const;           // over all connections
    size_t connections_closed() const;        // connections whose thread has ended

    bool wait_for_requests(size_t count, Clock::duration timeout) const;
    bool wait_for_connections(size_t count, Clock::duration timeout) const;
    bool wait_for_closed_connections(size_t count, Clock::duration timeout) const;

    // Wakes handlers blocked in UpstreamConn::wait() so they re-check their
    // predicate at once (they also poll, so this only saves time).
    void notify();

    // Handlers for the common cases.
    // 200, text/plain, body "<METHOD> <target>": shows which request an answer belongs to.
    static Handler echo_handler();
    static Handler respond_with(int status, std::string body, Headers headers = {});

private:
    friend class UpstreamConn;
    void accept_loop();
    void serve(const std::shared_ptr<UpstreamConn>& conn);
    bool serve_one(UpstreamConn& conn, size_t index_on_connection);
    bool read_request_body(UpstreamConn& conn, UpstreamRequest& request);
    void add_event(UpstreamEvent::Kind kind, size_t connection, size_t request, bool pending = false);
    void add_error(std::string error);
    bool wait_for(const std::function<bool()>& predicate, Clock::duration timeout) const;

    Handler handler_;
    Options options_;
    int listen_fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::thread accept_thread_;

    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::vector<std::shared_ptr<UpstreamConn>> connections_;
    std::vector<std::thread> connection_threads_;
    std::vector<UpstreamRequest> requests_;
    std::vector<UpstreamRequest> incomplete_;
    std::vector<UpstreamEvent> timeline_;
    std::vector<std::string> errors_;
    size_t next_request_index_ = 0;
    size_t closed_connections_ = 0;
};

}  // namespace afterhook::testing
