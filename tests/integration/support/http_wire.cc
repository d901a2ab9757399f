#include "support/http_wire.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace afterhook::testing {
namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

std::string describe(ReadStatus status, const SocketStream& stream) {
    std::string out = to_string(status);
    if (status == ReadStatus::error) out += " (" + stream.last_error() + ")";
    return out;
}

// Waits until the buffer holds a CRLF-terminated line and returns it without
// the CRLF, consuming it.
std::optional<std::string> read_line(SocketStream& stream, Deadline deadline, std::string& error,
                                     const char* what) {
    size_t searched = 0;
    for (;;) {
        const size_t end = stream.buffer().find("\r\n", searched > 0 ? searched - 1 : 0);
        if (end != std::string::npos) {
            std::string line = stream.take(end + 2);
            line.resize(end);
            return line;
        }
        searched = stream.buffer().size();
        if (searched > 64 * 1024) {
            error = std::string(what) + ": line longer than 64 KiB";
            return std::nullopt;
        }
        const ReadStatus status = stream.fill(deadline);
        if (status != ReadStatus::data) {
            error = std::string(what) + ": " + describe(status, stream) + " with " +
                    std::to_string(stream.buffer().size()) + " bytes of the line buffered";
            return std::nullopt;
        }
    }
}

}  // namespace

std::string to_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::optional<std::string> find_header(const Headers& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return value;
    }
    return std::nullopt;
}

std::vector<std::string> find_headers(const Headers& headers, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) out.push_back(value);
    }
    return out;
}

bool has_token(const Headers& headers, std::string_view name, std::string_view token) {
    for (const std::string& value : find_headers(headers, name)) {
        std::string_view rest = value;
        while (!rest.empty()) {
            const size_t comma = rest.find(',');
            if (iequals(trim(rest.substr(0, comma)), token)) return true;
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    return false;
}

std::optional<std::string> read_head(SocketStream& stream, Deadline deadline, std::string& error,
                                     ReadStatus& status, size_t max_bytes) {
    for (;;) {
        const size_t end = stream.buffer().find("\r\n\r\n");
        if (end != std::string::npos) {
            std::string head = stream.take(end + 4);
            head.resize(end);
            status = ReadStatus::data;
            return head;
        }
        if (stream.buffer().size() > max_bytes) {
            error = "head longer than " + std::to_string(max_bytes) + " bytes";
            status = ReadStatus::error;
            return std::nullopt;
        }
        status = stream.fill(deadline);
        if (status != ReadStatus::data) {
            error = "reading the head: " + describe(status, stream) + " with " +
                    std::to_string(stream.buffer().size()) + " bytes buffered";
            if (!stream.buffer().empty()) {
                error += ": \"" + stream.buffer().substr(0, 200) + "\"";
            }
            return std::nullopt;
        }
    }
}

bool parse_head(std::string_view head, std::string& start_line, Headers& headers,
                std::string& error) {
    headers.clear();
    size_t line_end = head.find("\r\n");
    start_line = std::string(head.substr(0, line_end));
    while (line_end != std::string_view::npos) {
        head.remove_prefix(line_end + 2);
        line_end = head.find("\r\n");
        const std::string_view line = head.substr(0, line_end);
        const size_t colon = line.find(':');
        if (line.empty() || colon == std::string_view::npos || colon == 0 || line[0] == ' ' ||
            line[0] == '\t' || line[colon - 1] == ' ' || line[colon - 1] == '\t') {
            error = "malformed header line \"" + std::string(line) + "\"";
            return false;
        }
        headers.emplace_back(std::string(line.substr(0, colon)),
                             std::string(trim(line.substr(colon + 1))));
    }
    return true;
}

std::string read_fixed_body(SocketStream& stream, uint64_t length, Deadline deadline,
                            const BodySink& sink) {
    uint64_t left = length;
    for (;;) {
        if (!stream.buffer().empty()) {
            const size_t n = static_cast<size_t>(std::min<uint64_t>(left, stream.buffer().size()));
            sink(std::string_view(stream.buffer()).substr(0, n));
            stream.buffer().erase(0, n);
            left -= n;
        }
        if (left == 0) return {};
        const ReadStatus status = stream.fill(deadline);
        if (status != ReadStatus::data) {
            return "body: " + describe(status, stream) + " after " +
                   std::to_string(length - left) + " of " + std::to_string(length) + " bytes";
        }
    }
}

std::string read_chunked_body(SocketStream& stream, Deadline deadline, const BodySink& sink,
                              Headers& trailers, std::vector<std::string>* extensions) {
    std::string error;
    uint64_t total = 0;
    for (;;) {
        const auto size_line = read_line(stream, deadline, error, "chunk size");
        if (!size_line) return error + " (after " + std::to_string(total) + " body bytes)";
        const size_t digits_end = size_line->find_first_not_of("0123456789abcdefABCDEF");
        const std::string digits = size_line->substr(0, digits_end);
        if (digits.empty() || digits.size() > 15) return "bad chunk size line \"" + *size_line + "\"";
        const uint64_t size = std::stoull(digits, nullptr, 16);
        std::string extension = digits_end == std::string::npos ? "" : size_line->substr(digits_end);
        if (!extension.empty() && extension[0] != ';') {
            return "bad chunk size line \"" + *size_line + "\"";
        }
        if (extensions != nullptr) extensions->push_back(std::move(extension));
        if (size == 0) break;
        error = read_fixed_body(stream, size, deadline, sink);
        if (!error.empty()) return "chunk data: " + error;
        total += size;
        const auto crlf = read_line(stream, deadline, error, "chunk end");
        if (!crlf) return error;
        if (!crlf->empty()) return "chunk data longer than its size " + std::to_string(size);
    }
    trailers.clear();
    for (;;) {
        const auto line = read_line(stream, deadline, error, "trailer");
        if (!line) return error;
        if (line->empty()) return {};
        const size_t colon = line->find(':');
        if (colon == std::string::npos || colon == 0) return "malformed trailer \"" + *line + "\"";
        trailers.emplace_back(line->substr(0, colon), std::string(trim(std::string_view(*line).substr(colon + 1))));
    }
}

std::string read_body_until_close(SocketStream& stream, Deadline deadline, const BodySink& sink) {
    uint64_t total = 0;
    for (;;) {
        if (!stream.buffer().empty()) {
            total += stream.buffer().size();
            sink(stream.buffer());
            stream.buffer().clear();
        }
        const ReadStatus status = stream.fill(deadline);
        if (status == ReadStatus::eof) return {};
        if (status != ReadStatus::data) {
            return "close-delimited body: " + describe(status, stream) + " after " +
                   std::to_string(total) + " bytes";
        }
    }
}

std::string chunked(std::string_view body, size_t chunk_size, const Headers& trailers) {
    std::string out;
    while (!body.empty()) {
        const size_t n = std::min(chunk_size, body.size());
        char size_line[32];
        std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
        out += size_line;
        out.append(body.substr(0, n));
        out += "\r\n";
        body.remove_prefix(n);
    }
    out += "0\r\n";
    out += render_headers(trailers);
    out += "\r\n";
    return out;
}

std::string render_headers(const Headers& headers) {
    std::string out;
    for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
    return out;
}

}  // namespace afterhook::testing
