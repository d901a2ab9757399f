// The configuration as plain values. Nothing here knows about YAML: the
// loader (config/loader.h and the files it names) is all that includes
// yaml-cpp, and the rest of afterhook reads these structs only.
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

// A compiled template: literal text and {{placeholders}}, parsed once at
// load. See config/template.h for the fields and the compiler.
struct TemplatePart {
    enum class Kind {
        literal,
        request_id, request_method, request_path, request_query, request_target, request_scheme, request_host,
        request_header,   // name = lower-case header name (must be captured)
        request_cookie,   // name = cookie name (must be captured)
        client_ip, client_port,
        response_status, response_bytes,
        response_header,  // name = lower-case header name (must be captured)
        outcome, duration_ms, upstream_ms, time,
        trigger_param,    // name = parameter name
        hook_name,
    };
    Kind kind = Kind::literal;
    std::string text;  // the literal, or the header/cookie/param name
};

struct Template {
    std::string source;
    SourceMark mark;
    std::vector<TemplatePart> parts;
    bool empty() const { return parts.empty(); }
};

// A JSON body written as YAML: maps, lists and scalars. String scalars are
// templates rendered with JSON escaping; a string that is exactly one numeric
// placeholder ("{{response.status}}") renders as a JSON number; plain YAML
// numbers, booleans and null stay what they are.
struct JsonTemplate {
    enum class Kind { object, array, string, number, boolean, null };
    Kind kind = Kind::null;
    std::string literal;  // number or boolean text as written
    Template text;        // Kind::string
    std::vector<std::pair<std::string, JsonTemplate>> members;  // Kind::object, in order
    std::vector<JsonTemplate> items;                            // Kind::array
};

struct Body {
    enum class Kind { record, text, json };  // record = the record as a JSON object
    Kind kind = Kind::record;
    Template text;
    JsonTemplate json;
};

struct Retry {
    unsigned attempts = 3;          // attempts in all, the first included; 1 = never retry
    Duration backoff{200};          // base of the exponential backoff (full jitter)
    Duration max_backoff{30000};
};

struct Queue {
    enum class WhenFull { drop_newest, drop_oldest };
    uint64_t size = 10000;
    WhenFull when_full = WhenFull::drop_newest;
};

// sink: log. `path` is "stdout", "stderr" or a file path (appended to).
// Without `format`, each record is one JSON line; with it, the rendered
// template plus a newline.
struct LogSink {
    std::string path = "stdout";
    Template format;
};

// sink: webhook. An HTTP request per event, through libcurl.
struct WebhookSink {
    Template url;
    std::string method = "POST";
    std::vector<std::pair<std::string, Template>> headers;
    Body body;
    enum class Format { plain, cloudevents } format = Format::plain;
    Duration timeout{5000};
    Retry retry;
    unsigned concurrency = 8;
    Queue queue;
    std::string sign_secret;  // non-empty: Standard Webhooks signature headers
    bool tls_verify = true;
};

// sink: exec. A process per event: argv from templates, no shell.
struct ExecSink {
    std::vector<Template> command;
    Duration timeout{10000};
    Duration kill_grace{2000};  // SIGTERM at the timeout, SIGKILL this much later
    Retry retry{1, Duration{200}, Duration{30000}};
    unsigned concurrency = 4;
    Queue queue;
};

using Sink = std::variant<LogSink, WebhookSink, ExecSink>;

// Which exchanges a hook fires for. Empty lists match everything.
struct StatusRange {
    int low = 0;   // inclusive
    int high = 0;  // inclusive: 500..599 for "5xx", 404..404 for 404
};

struct When {
    std::vector<std::string> methods;    // upper case
    std::vector<std::string> paths;      // globs: '*' one segment, '**' any number
    std::vector<StatusRange> status;
    std::vector<std::string> outcomes;   // ok, upstream_error, upstream_timeout, rejected, client_abort
    double sample = 1.0;                 // 0..1, decided from the request id
};

struct Hook {
    std::string name;
    When when;
    bool trigger_only = false;  // `trigger: header`: fires only when the upstream names it
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
