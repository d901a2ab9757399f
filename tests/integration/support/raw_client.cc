#include "support/raw_client.h"

#include <charconv>
#include <stdexcept>

namespace afterhook::testing {
namespace {

bool parse_status_line(HttpResponse& response) {
    const std::string& line = response.status_line;
    const size_t first_space = line.find(' ');
    if (first_space == std::string::npos || line.size() < first_space + 4) return false;
    response.version = line.substr(0, first_space);
    const char* digits = line.data() + first_space + 1;
    int status = 0;
    const auto [end, ec] = std::from_chars(digits, digits + 3, status);
    if (ec != std::errc() || end != digits + 3 || status < 100 || status > 999) return false;
    if (line.size() > first_space + 4 && line[first_space + 4] != ' ') return false;
    response.status = status;
    response.reason = line.size() > first_space + 5 ? line.substr(first_space + 5) : "";
    return true;
}

bool parse_content_length(const std::string& text, uint64_t& out) {
    if (text.empty()) return false;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string HttpResponse::describe() const {
    std::string out = "\"" + status_line + "\"";
    for (const auto& [name, value] : headers) out += " | " + name + ": " + value;
    out += " | body " + std::to_string(body_size) + " bytes";
    if (!body.empty() && body.size() <= 200) out += " \"" + body + "\"";
    if (!error.empty()) out += " | error: " + error;
    return out;
}

RawClient::RawClient(int fd) : stream_(std::make_unique<SocketStream>(fd)) {}

RawClient RawClient::connect(uint16_t port, int receive_buffer) {
    const int fd = connect_loopback(port, receive_buffer);
    if (fd < 0) throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
    return RawClient(fd);
}

std::optional<RawClient> RawClient::try_connect(uint16_t port) {
    const int fd = connect_loopback(port);
    if (fd < 0) return std::nullopt;
    return RawClient(fd);
}

bool RawClient::send(std::string_view data, Clock::duration timeout) {
    return stream_->send_all(data, deadline_in(timeout));
}

HttpResponse RawClient::read_response(Clock::duration timeout) {
    ResponseOptions options;
    options.timeout = timeout;
    return read_response(options);
}

HttpResponse RawClient::read_response(const ResponseOptions& options) {
    const Deadline deadline = deadline_in(options.timeout);
    HttpResponse response;
    ReadStatus status = ReadStatus::data;
    const auto head = read_head(*stream_, deadline, response.error, status);
    if (!head) return response;
    std::string parse_error;
    if (!parse_head(*head, response.status_line, response.headers, parse_error)) {
        response.error = "response head: " + parse_error;
        return response;
    }
    if (!parse_status_line(response)) {
        response.error = "malformed status line \"" + response.status_line + "\"";
        return response;
    }
    if (options.on_head) options.on_head(response);
    response.error = read_body(response, options, deadline);
    return response;
}

std::string RawClient::read_body(HttpResponse& response, const ResponseOptions& options,
                                 Deadline deadline) {
    const BodySink sink = [&](std::string_view piece) {
        response.body_size += piece.size();
        if (options.body_sink) {
            options.body_sink(piece);
        } else {
            response.body.append(piece);
        }
    };
    const bool bodiless = options.head_request || response.status < 200 ||
                          response.status == 204 || response.status == 304;
    if (bodiless) {
        response.framing = HttpResponse::Framing::none;
        return {};
    }
    const auto transfer_coding = response.header("transfer-encoding");
    if (transfer_coding) {
        if (!has_token(response.headers, "transfer-encoding", "chunked")) {
            response.framing = HttpResponse::Framing::until_close;
            return read_body_until_close(*stream_, deadline, sink);
        }
        response.framing = HttpResponse::Framing::chunked;
        return read_chunked_body(*stream_, deadline, sink, response.trailers,
                                 &response.chunk_extensions);
    }
    const auto lengths = find_headers(response.headers, "content-length");
    if (!lengths.empty()) {
        uint64_t length = 0;
        if (lengths.size() > 1 || !parse_content_length(lengths.front(), length)) {
            return "unusable Content-Length in the response";
        }
        response.framing = HttpResponse::Framing::content_length;
        return read_fixed_body(*stream_, length, deadline, sink);
    }
    response.framing = HttpResponse::Framing::until_close;
    return read_body_until_close(*stream_, deadline, sink);
}

HttpResponse RawClient::read_final_response(const ResponseOptions& options,
                                            std::vector<HttpResponse>* interim) {
    const Deadline deadline = deadline_in(options.timeout);
    for (;;) {
        ResponseOptions remaining = options;
        remaining.timeout = deadline - Clock::now();
        HttpResponse response = read_response(remaining);
        if (!response.ok() || response.status >= 200 || response.status == 101) return response;
        if (interim != nullptr) interim->push_back(std::move(response));
    }
}

CloseResult RawClient::read_all_until_close(Clock::duration timeout) {
    const Deadline deadline = deadline_in(timeout);
    CloseResult result;
    for (;;) {
        const ReadStatus status = stream_->fill(deadline);
        if (status == ReadStatus::data) continue;
        result.closed = status == ReadStatus::eof || status == ReadStatus::reset;
        result.reset = status == ReadStatus::reset;
        break;
    }
    result.data = stream_->take(stream_->buffer().size());
    return result;
}

ReadStatus RawClient::read_some(Clock::duration timeout) {
    return stream_->fill(deadline_in(timeout));
}

bool RawClient::read_at_least(size_t n, Clock::duration timeout) {
    const Deadline deadline = deadline_in(timeout);
    while (stream_->buffer().size() < n) {
        if (stream_->fill(deadline) != ReadStatus::data) return false;
    }
    return true;
}

std::string get_request(std::string_view target, std::string_view extra_lines) {
    std::string out = "GET ";
    out.append(target);
    out += " HTTP/1.1\r\nHost: test.local\r\n";
    out.append(extra_lines);
    out += "\r\n";
    return out;
}

std::string post_request(std::string_view target, std::string_view body,
                         std::string_view extra_lines) {
    std::string out = "POST ";
    out.append(target);
    out += " HTTP/1.1\r\nHost: test.local\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    out.append(extra_lines);
    out += "\r\n";
    out.append(body);
    return out;
}

}  // namespace afterhook::testing
