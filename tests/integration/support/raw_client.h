// RawClient: an HTTP/1.1 client that sends exactly the bytes a test gives it
// and parses what comes back without forgiving anything, so that every byte
// afterhook writes is seen. One response is read at a time; bytes that
// arrive early (pipelining) stay buffered for the next read.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/http_wire.h"
#include "support/socket_stream.h"
#include "support/wait.h"

namespace afterhook::testing {

struct HttpResponse {
    enum class Framing { none, content_length, chunked, until_close };

    std::string status_line;  // "HTTP/1.1 200 OK" exactly as received
    std::string version;      // "HTTP/1.1"
    int status = 0;
    std::string reason;
    Headers headers;
    std::string body;  // empty when a body sink was used
    uint64_t body_size = 0;
    Headers trailers;
    std::vector<std::string> chunk_extensions;
    Framing framing = Framing::none;
    std::string error;  // empty when the whole response was read

    bool ok() const { return error.empty(); }
    std::optional<std::string> header(std::string_view name) const { return find_header(headers, name); }
    bool has_header(std::string_view name) const { return find_header(headers, name).has_value(); }
    bool connection_close() const { return has_token(headers, "connection", "close"); }
    // One line for failure messages: status line, headers and error.
    std::string describe() const;
};

struct ResponseOptions {
    Clock::duration timeout = std::chrono::seconds(2);  // for the whole response
    bool head_request = false;  // the request was HEAD, so no body follows any status
    BodySink body_sink;         // when set, body bytes go here instead of HttpResponse::body
    // Called once the head is parsed, before the body is read.
    std::function<void(const HttpResponse&)> on_head;
};

// What read_all_until_close() saw.
struct CloseResult {
    std::string data;   // every byte received (including what was buffered)
    bool closed = false;  // EOF or reset seen before the deadline
    bool reset = false;   // it was a reset
};

class RawClient {
public:
    // Connects to 127.0.0.1:`port`; throws std::runtime_error when it cannot.
    // `receive_buffer` (bytes, 0 = kernel default) pins SO_RCVBUF, which
    // keeps the kernel from buffering much on behalf of a client that stops
    // reading.
    static RawClient connect(uint16_t port, int receive_buffer = 0);
    // Like connect() but returns nothing instead of throwing.
    static std::optional<RawClient> try_connect(uint16_t port);

    RawClient(RawClient&&) noexcept = default;
    RawClient& operator=(RawClient&&) noexcept = default;

    bool send(std::string_view data, Clock::duration timeout = std::chrono::seconds(5));

    // Reads one response (a 1xx interim response counts as one).
    HttpResponse read_response(const ResponseOptions& options = {});
    HttpResponse read_response(Clock::duration timeout);
    // Reads responses until a final (non-1xx) one and returns it; the interim
    // ones are appended to `interim` when given. A 101 counts as final.
    HttpResponse read_final_response(const ResponseOptions& options = {},
                                     std::vector<HttpResponse>* interim = nullptr);

    // Reads (and keeps) everything until the peer closes or `timeout` passes.
    CloseResult read_all_until_close(Clock::duration timeout);
    // Appends what arrives within `timeout` to buffer().
    ReadStatus read_some(Clock::duration timeout);
    // Reads until buffer() holds at least `n` bytes; false on close or timeout.
    bool read_at_least(size_t n, Clock::duration timeout);

    std::string& buffer() { return stream_->buffer(); }
    SocketStream& stream() { return *stream_; }
    void shutdown_write() { stream_->shutdown_write(); }
    void close() { stream_->close(); }
    void reset() { stream_->reset(); }

private:
    explicit RawClient(int fd);
    std::string read_body(HttpResponse& response, const ResponseOptions& options, Deadline deadline);

    std::unique_ptr<SocketStream> stream_;
};

// "GET <target> HTTP/1.1\r\nHost: test.local\r\n<extra_lines>\r\n"; each
// extra line must end in CRLF.
std::string get_request(std::string_view target, std::string_view extra_lines = "");
// A request with a Content-Length body.
std::string post_request(std::string_view target, std::string_view body,
                         std::string_view extra_lines = "");

}  // namespace afterhook::testing
