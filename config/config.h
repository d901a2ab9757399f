// The configuration as plain values. Nothing here knows about YAML: the
// loader (loader.cc) is the only file that includes yaml-cpp, and the rest of
// afterhook reads these structs only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace afterhook::config {

using Duration = std::chrono::milliseconds;

// Where a value came from, for error messages raised after loading.
struct SourceMark {
    int line = 0;    // 1-based; 0 when the value is a built-in default
    int column = 0;  // 1-based
};

// A TCP endpoint. `host` is a literal IPv4/IPv6 address or a host name that
// resolves at start-up; `port` may be 0 for "any free port" (tests).
struct Address {
    std::string host;
    uint16_t port = 0;

    std::string to_string() const;  // "127.0.0.1:8080", "[::1]:8080"
};

struct Timeouts {
    Duration connect{2000};            // upstream TCP connect
    Duration request_header{10000};    // first request byte to end of the request head
    Duration upstream_response{60000}; // request sent to response head; also upstream read inactivity
    Duration idle{60000};              // keep-alive connections with no exchange, both legs
    Duration drain{20000};             // SIGTERM to exit
};

struct Limits {
    uint64_t max_connections = 10000;     // client connections per process
    uint64_t max_header_bytes = 64 * 1024;  // request head, start line included
    uint32_t max_headers = 100;           // header fields in the request head
    uint64_t max_body_bytes = 0;          // request body; 0 = unlimited
    uint64_t max_uri_bytes = 8 * 1024;    // request target
    uint64_t max_chunk_extension_bytes = 1024;  // per chunk, in either direction
};

struct Capture {
    std::vector<std::string> headers{"user-agent", "referer", "content-type"};  // lower case
    std::vector<std::string> response_headers{"content-type"};
    std::vector<std::string> cookies{};
    std::vector<std::string> redact{"authorization", "proxy-authorization", "cookie", "set-cookie"};
};

// sink: log. `path` is "stdout", "stderr" or a file path (appended to).
struct LogSink {
    std::string path = "stdout";
};

using Sink = std::variant<LogSink>;

struct Hook {
    std::string name;
    Sink sink;
    SourceMark mark;
};

struct Config {
    std::string source;  // file the config was loaded from; "<defaults>" for built-ins
    Address listen{"0.0.0.0", 8000};
    Address upstream{"127.0.0.1", 8080};
    unsigned workers = 0;  // 0 = auto (one per CPU)
    Address admin_listen{"127.0.0.1", 9901};
    Timeouts timeouts;
    Limits limits;
    Capture capture;
    std::string trigger_header = "afterhook-trigger";
    std::vector<Hook> hooks;
};

// The built-in defaults that serve when afterhook runs without --config:
// every field as above plus one JSON access-log hook to stdout.
Config default_config();

// One problem found while loading. Rendered as "file:line:col: key.path: message".
struct ConfigError {
    std::string file;
    int line = 0;
    int column = 0;
    std::string key_path;  // "timeouts.connect", "hooks[1].log.path"
    std::string message;

    std::string to_string() const;
};

// Either a valid config or every error found in it (never just the first).
struct LoadResult {
    Config config;
    std::vector<ConfigError> errors;
    bool ok() const { return errors.empty(); }
};

// Load and validate a YAML file. Never throws: I/O and syntax errors are
// reported as ConfigError values.
LoadResult load_file(const std::string& path);
// Same for text already in memory; `name` stands for the file in errors.
LoadResult load_string(const std::string& yaml, const std::string& name);

// Value parsers shared by the loader and the tests. Each returns false on a
// malformed value and leaves `out` untouched.
bool parse_duration(const std::string& text, Duration& out);  // "250ms", "2s", "1m", "1h", "1.5s"
bool parse_size(const std::string& text, uint64_t& out);      // "512", "64KiB", "1MiB", "1GiB", "10KB"
bool parse_address(const std::string& text, Address& out);    // "host:port", "[v6]:port", "http://host:port"

}  // namespace afterhook::config
