// http_wire: the small amount of HTTP/1.1 message syntax the test harness
// needs on both sides (raw client, fake upstream): header lists that keep
// order and case, head splitting, and reading bodies delimited by
// Content-Length, chunked coding or the end of the connection.
//
// This code is deliberately simple and literal; it is not a second proxy.
// Every read takes a deadline and every failure comes back as a message that
// says what was being read and how much had arrived.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/socket_stream.h"

namespace afterhook::testing {

// Header fields as they appeared on the wire: order and case preserved.
using Headers = std::vector<std::pair<std::string, std::string>>;

std::string to_lower(std::string_view text);
bool iequals(std::string_view a, std::string_view b);

// The first value of `name` (case-insensitive), if any.
std::optional<std::string> find_header(const Headers& headers, std::string_view name);
// Every value of `name`, in order.
std::vector<std::string> find_headers(const Headers& headers, std::string_view name);
// True when any `name` field lists `token` in its comma-separated value
// (case-insensitive), e.g. has_token(h, "connection", "close").
bool has_token(const Headers& headers, std::string_view name, std::string_view token);

// Receives body bytes in order, piece by piece.
using BodySink = std::function<void(std::string_view)>;

// Waits until the buffered input holds a complete head (terminated by an
// empty line), removes it from the stream's buffer and returns it without the
// final CRLFCRLF. On failure returns nothing and sets `error`; `status` tells
// why the read stopped (eof with nothing buffered means a clean close).
std::optional<std::string> read_head(SocketStream& stream, Deadline deadline, std::string& error,
                                     ReadStatus& status, size_t max_bytes = 1024 * 1024);

// Splits a head into its first line and header fields. Returns false with
// `error` set when a line is not "name: value" (obs-fold lines included).
bool parse_head(std::string_view head, std::string& start_line, Headers& headers,
                std::string& error);

// Body readers. Each returns an empty string on success, else what went wrong.
std::string read_fixed_body(SocketStream& stream, uint64_t length, Deadline deadline,
                            const BodySink& sink);
// `extensions`, when given, receives the raw extension text of every chunk
// (the part after the size, ";" included; empty when none).
std::string read_chunked_body(SocketStream& stream, Deadline deadline, const BodySink& sink,
                              Headers& trailers, std::vector<std::string>* extensions = nullptr);
// Reads until the peer closes (EOF). A reset is an error: the body was cut.
std::string read_body_until_close(SocketStream& stream, Deadline deadline, const BodySink& sink);

// Encodes `body` in chunks of `chunk_size` bytes, with the final 0-chunk and
// the given trailer fields.
std::string chunked(std::string_view body, size_t chunk_size, const Headers& trailers = {});

// Renders "Name: value\r\n" lines.
std::string render_headers(const Headers& headers);

}  // namespace afterhook::testing
