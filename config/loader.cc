// The YAML loader: turns a document into a Config and reports every problem
// found in it at once. This is the only file in afterhook that includes
// yaml-cpp; everything it produces is plain values from config.h.
//
// Errors point at the value at fault (or at the key, for unknown and
// duplicate keys and for keys given no value) and carry a key path such as
// "timeouts.connect" or "hooks[0].log.path"; list indices are 0-based.
#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <functional>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "config/config.h"
#include "config/env_substitution.h"
#include "config/key_suggestion.h"

namespace afterhook::config {

namespace {

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
// Config files are small; the cap keeps a wrong --config (a device, a log
// file) from being read into memory whole.
constexpr std::size_t kMaxFileBytes = 4 * kMiB;
constexpr Duration kMaxTimeout = std::chrono::hours{24};
constexpr std::size_t kMaxHookNameLength = 64;
constexpr std::string_view kFromEnvironment = "(value from environment)";

SourceMark to_source_mark(const YAML::Mark& mark) {
    if (mark.line < 0 || mark.column < 0) {
        return {};
    }
    return {mark.line + 1, mark.column + 1};
}

// A node together with where problems about it are reported.
struct Located {
    YAML::Node node;
    SourceMark mark;
    std::string path;
};

// A list item or document, located at its own mark, or at `fallback` when
// yaml-cpp has none for it.
Located locate(const YAML::Node& node, const SourceMark& fallback, std::string path) {
    SourceMark mark = to_source_mark(node.Mark());
    if (mark.line == 0) {
        mark = fallback;
    }
    return Located{node, mark, std::move(path)};
}

std::string join(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string indexed(const std::string& parent, std::size_t index) {
    return parent + "[" + std::to_string(index) + "]";
}

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Scalar:
            return "a single value";
        default:
            return "nothing";
    }
}

// A scalar value after environment substitution.
struct Text {
    std::string value;
    bool from_environment = false;  // the raw text used "${": never quote it
};

// The value for an error message. A value that came through the
// environment may be a secret, so it is never repeated.
std::string quote(const Text& text) {
    return text.from_environment ? std::string(kFromEnvironment) : "'" + text.value + "'";
}

std::string format_size(uint64_t bytes) {
    if (bytes != 0 && bytes % kGiB == 0) {
        return std::to_string(bytes / kGiB) + "GiB";
    }
    if (bytes != 0 && bytes % kMiB == 0) {
        return std::to_string(bytes / kMiB) + "MiB";
    }
    if (bytes != 0 && bytes % kKiB == 0) {
        return std::to_string(bytes / kKiB) + "KiB";
    }
    return std::to_string(bytes);
}

bool parse_count(const std::string& text, uint64_t& out) {
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, out);
    return !text.empty() && error == std::errc{} && stop == end;
}

// RFC 9110 token: what a header field name (and a cookie name) may contain.
bool is_token(std::string_view text) {
    static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
    if (text.empty()) {
        return false;
    }
    return std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               kSymbols.find(c) != std::string_view::npos;
    });
}

std::string to_lower(std::string text) {
    for (char& c : text) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return text;
}

// Hook names become metric labels and file names, hence the narrow alphabet.
bool is_hook_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxHookNameLength) {
        return false;
    }
    auto allowed = [](char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && (c == '_' || c == '-'));
    };
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (!allowed(name[i], i == 0)) {
            return false;
        }
    }
    return true;
}

// Names already used in one scope, with the line of their first use.
class FirstUses {
public:
    // The line of the earlier use of `name`, or nullopt after recording it.
    std::optional<int> check_and_add(const std::string& name, int line) {
        for (const auto& [seen, seen_line] : uses_) {
            if (seen == name) {
                return seen_line;
            }
        }
        uses_.emplace_back(name, line);
        return std::nullopt;
    }

private:
    std::vector<std::pair<std::string, int>> uses_;
};

enum class AddressRole { listener, upstream };

struct Range {
    uint64_t min;
    uint64_t max;
};

// Walks one document and fills `config_`, collecting errors as it goes.
class Loader {
public:
    explicit Loader(std::string file) : file_(std::move(file)) { config_.source = file_; }

    LoadResult load(const std::string& yaml);

private:
    using Handler = std::function<void(const Located&)>;
    struct Field {
        std::string_view key;
        Handler handle;
    };
    struct MapSummary {
        bool had_unknown_key = false;
    };
    // One sink kind: its key in a hook and the member that reads its
    // settings (nullopt after reporting errors).
    struct SinkParser {
        std::string_view key;
        std::optional<Sink> (Loader::*parse)(const Located&);
    };
    static const std::vector<SinkParser>& sink_parsers();

    void error(const SourceMark& mark, const std::string& path, std::string message);
    void error(const Located& at, std::string message) { error(at.mark, at.path, std::move(message)); }
    bool expect(const Located& at, YAML::NodeType::value type, std::string_view what);
    MapSummary walk_map(const Located& map, const std::vector<Field>& fields, std::string_view unknown_hint = {});
    std::optional<Text> text(const Located& at);

    void read_document(const std::vector<YAML::Node>& documents);
    void read_root(const Located& at);
    void read_address(const Located& at, Address& out, AddressRole role);
    void read_workers(const Located& at);
    void read_admin(const Located& at);
    void read_timeouts(const Located& at);
    void read_duration(const Located& at, Duration& out);
    void read_limits(const Located& at);
    void read_size(const Located& at, uint64_t& out, Range range);
    template <typename Count>
    void read_count(const Located& at, Count& out, Range range);
    void read_capture(const Located& at);
    void read_names(const Located& at, std::vector<std::string>& out, bool lower_case);
    void read_token(const Located& at, std::string& out);
    void read_hooks(const Located& at);
    std::optional<Hook> read_hook(const Located& at, FirstUses& names);
    void read_hook_name(const Located& at, std::string& out, FirstUses& names);
    std::optional<Sink> read_log_sink(const Located& at);

    std::string file_;
    Config config_;
    std::vector<ConfigError> errors_;
};

// The sinks this build implements, by key. Adding a sink kind is one row
// here and one read_*_sink member; any other key in a hook is refused.
const std::vector<Loader::SinkParser>& Loader::sink_parsers() {
    static const std::vector<SinkParser> parsers{
        {"log", &Loader::read_log_sink},
    };
    return parsers;
}

void Loader::error(const SourceMark& mark, const std::string& path, std::string message) {
    errors_.push_back(ConfigError{file_, mark.line, mark.column, path, std::move(message)});
}

bool Loader::expect(const Located& at, YAML::NodeType::value type, std::string_view what) {
    if (at.node.Type() == type) {
        return true;
    }
    error(at, "expected " + std::string(what) + ", found " + describe(at.node));
    return false;
}

// Checks every key of a mapping: keys must be scalars, appear once and be
// known; each known key's value goes to its handler. The second occurrence
// of a key is reported and skipped (yaml-cpp keeps both silently).
Loader::MapSummary Loader::walk_map(const Located& map, const std::vector<Field>& fields,
                                    std::string_view unknown_hint) {
    MapSummary summary;
    if (!expect(map, YAML::NodeType::Map, "a mapping")) {
        return summary;
    }
    std::vector<std::string_view> known;
    for (const Field& field : fields) {
        known.push_back(field.key);
    }
    FirstUses seen;
    for (YAML::const_iterator it = map.node.begin(); it != map.node.end(); ++it) {
        const YAML::Node key = it->first;  // a copy: `it->` yields a temporary
        const SourceMark key_mark = locate(key, map.mark, "").mark;
        if (!key.IsScalar()) {
            error(key_mark, map.path, "a key must be a plain name, found " + describe(key));
            summary.had_unknown_key = true;
            continue;
        }
        const std::string& name = key.Scalar();
        const std::string path = join(map.path, name);
        if (const std::optional<int> first_line = seen.check_and_add(name, key_mark.line)) {
            error(key_mark, path,
                  "duplicate key '" + name + "' (first at line " + std::to_string(*first_line) + ")");
            continue;
        }
        const auto field = std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.key == name; });
        if (field == fields.end()) {
            std::string message = "unknown key '" + name + "'";
            if (const std::string suggestion = suggest_key(name, known); !suggestion.empty()) {
                message += " (did you mean '" + suggestion + "'?)";
            } else if (!unknown_hint.empty()) {
                message += " (" + std::string(unknown_hint) + ")";
            }
            error(key_mark, path, std::move(message));
            summary.had_unknown_key = true;
            continue;
        }
        const YAML::Node value = it->second;
        // A key given no value has no useful mark of its own (yaml-cpp marks
        // the next token), so problems with it are reported at the key.
        const SourceMark value_mark = value.IsNull() ? key_mark : locate(value, key_mark, "").mark;
        field->handle(Located{value, value_mark, path});
    }
    return summary;
}

std::optional<Text> Loader::text(const Located& at) {
    if (at.node.IsNull()) {
        error(at, "missing value");
        return std::nullopt;
    }
    if (!expect(at, YAML::NodeType::Scalar, "a single value")) {
        return std::nullopt;
    }
    const std::string& raw = at.node.Scalar();
    EnvSubstitution substitution = substitute_env(raw);
    for (std::string& message : substitution.errors) {
        error(at, std::move(message));
    }
    if (!substitution.ok()) {
        return std::nullopt;
    }
    return Text{std::move(substitution.text), mentions_env(raw)};
}

LoadResult Loader::load(const std::string& yaml) {
    try {
        read_document(YAML::LoadAll(yaml));
    } catch (const YAML::Exception& e) {
        const SourceMark mark = to_source_mark(e.mark);
        errors_.push_back(ConfigError{file_, mark.line, mark.column, "", "invalid YAML: " + e.msg});
    } catch (const std::exception& e) {
        errors_.push_back(ConfigError{file_, 0, 0, "", std::string("cannot load: ") + e.what()});
    }
    std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
        return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    return LoadResult{std::move(config_), std::move(errors_)};
}

// An empty file (or one holding only comments) is the built-in defaults.
void Loader::read_document(const std::vector<YAML::Node>& documents) {
    if (documents.size() > 1) {
        const Located second = locate(documents[1], SourceMark{}, "");
        error(second, "a config file holds one YAML document; found another one here");
    }
    if (documents.empty() || documents.front().IsNull()) {
        config_.hooks = default_config().hooks;
        return;
    }
    read_root(locate(documents.front(), SourceMark{1, 1}, ""));
}

void Loader::read_root(const Located& at) {
    bool hooks_given = false;
    walk_map(at, {
        {"listen", [&](const Located& v) { read_address(v, config_.listen, AddressRole::listener); }},
        {"upstream", [&](const Located& v) { read_address(v, config_.upstream, AddressRole::upstream); }},
        {"workers", [&](const Located& v) { read_workers(v); }},
        {"admin", [&](const Located& v) { read_admin(v); }},
        {"timeouts", [&](const Located& v) { read_timeouts(v); }},
        {"limits", [&](const Located& v) { read_limits(v); }},
        {"capture", [&](const Located& v) { read_capture(v); }},
        {"trigger_header", [&](const Located& v) { read_token(v, config_.trigger_header); }},
        {"hooks", [&](const Located& v) { hooks_given = true; read_hooks(v); }},
    });
    if (!hooks_given) {
        config_.hooks = default_config().hooks;
    }
}

void Loader::read_address(const Located& at, Address& out, AddressRole role) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    if (to_lower(value->value.substr(0, 8)) == "https://") {
        error(at, role == AddressRole::upstream
                      ? "TLS to the upstream is not supported; use host:port or http://host:port"
                      : "afterhook does not terminate TLS; use host:port");
        return;
    }
    Address parsed;
    if (!parse_address(value->value, parsed)) {
        error(at, "invalid address " + quote(*value) + " (expected host:port, [v6]:port or http://host:port)");
        return;
    }
    if (role == AddressRole::upstream && parsed.port == 0) {
        error(at, "the upstream port must not be 0");
        return;
    }
    out = std::move(parsed);
}

void Loader::read_workers(const Located& at) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    uint64_t count = 0;
    if (value->value == "auto") {
        config_.workers = 0;
    } else if (parse_count(value->value, count) && count >= 1 && count <= 256) {
        config_.workers = static_cast<unsigned>(count);
    } else {
        error(at, "must be 'auto' or a whole number from 1 to 256, got " + quote(*value));
    }
}

void Loader::read_admin(const Located& at) {
    walk_map(at, {
        {"listen", [&](const Located& v) { read_address(v, config_.admin_listen, AddressRole::listener); }},
    });
}

void Loader::read_timeouts(const Located& at) {
    Timeouts& timeouts = config_.timeouts;
    walk_map(at, {
        {"connect", [&](const Located& v) { read_duration(v, timeouts.connect); }},
        {"request_header", [&](const Located& v) { read_duration(v, timeouts.request_header); }},
        {"upstream_response", [&](const Located& v) { read_duration(v, timeouts.upstream_response); }},
        {"idle", [&](const Located& v) { read_duration(v, timeouts.idle); }},
        {"drain", [&](const Located& v) { read_duration(v, timeouts.drain); }},
    });
}

// Timeouts are capped at a day so that no later arithmetic on them (to
// nanoseconds, added to a clock) can overflow.
void Loader::read_duration(const Located& at, Duration& out) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    Duration parsed{};
    if (!parse_duration(value->value, parsed)) {
        error(at, "invalid duration " + quote(*value) + " (expected a number and a unit: 250ms, 1.5s, 2s, 1m, 1h)");
        return;
    }
    if (parsed <= Duration::zero() || parsed > kMaxTimeout) {
        error(at, "must be more than 0 and at most 24h, got " + quote(*value));
        return;
    }
    out = parsed;
}

void Loader::read_limits(const Located& at) {
    Limits& limits = config_.limits;
    walk_map(at, {
        {"max_connections", [&](const Located& v) { read_count(v, limits.max_connections, {1, 1000000}); }},
        {"max_header_bytes", [&](const Located& v) { read_size(v, limits.max_header_bytes, {kKiB, kMiB}); }},
        {"max_headers", [&](const Located& v) { read_count(v, limits.max_headers, {1, 1000}); }},
        {"max_body_bytes",
         [&](const Located& v) { read_size(v, limits.max_body_bytes, {0, std::numeric_limits<uint64_t>::max()}); }},
        {"max_uri_bytes", [&](const Located& v) { read_size(v, limits.max_uri_bytes, {256, kMiB}); }},
        {"max_chunk_extension_bytes",
         [&](const Located& v) { read_size(v, limits.max_chunk_extension_bytes, {1, 64 * kKiB}); }},
    });
}

void Loader::read_size(const Located& at, uint64_t& out, Range range) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    uint64_t parsed = 0;
    if (!parse_size(value->value, parsed)) {
        error(at, "invalid size " + quote(*value) + " (expected bytes, optionally with a unit: 512, 64KiB, 1MiB, 1GiB, 10KB)");
        return;
    }
    if (parsed < range.min || parsed > range.max) {
        error(at, "must be between " + format_size(range.min) + " and " + format_size(range.max) + ", got " +
                      quote(*value));
        return;
    }
    out = parsed;
}

template <typename Count>
void Loader::read_count(const Located& at, Count& out, Range range) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    uint64_t parsed = 0;
    if (!parse_count(value->value, parsed) || parsed < range.min || parsed > range.max) {
        error(at, "must be a whole number from " + std::to_string(range.min) + " to " + std::to_string(range.max) +
                      ", got " + quote(*value));
        return;
    }
    out = static_cast<Count>(parsed);
}

void Loader::read_capture(const Located& at) {
    Capture& capture = config_.capture;
    walk_map(at, {
        {"headers", [&](const Located& v) { read_names(v, capture.headers, true); }},
        {"response_headers", [&](const Located& v) { read_names(v, capture.response_headers, true); }},
        // Cookie names are case-sensitive (RFC 6265), header names are not.
        {"cookies", [&](const Located& v) { read_names(v, capture.cookies, false); }},
        {"redact", [&](const Located& v) { read_names(v, capture.redact, true); }},
    });
}

// A list of header or cookie names. `out` is replaced only when every item
// is valid, so a partly bad list never mixes with the defaults.
void Loader::read_names(const Located& at, std::vector<std::string>& out, bool lower_case) {
    if (!expect(at, YAML::NodeType::Sequence, "a list of names")) {
        return;
    }
    const std::size_t errors_before = errors_.size();
    std::vector<std::string> names;
    FirstUses seen;
    std::size_t index = 0;
    for (YAML::const_iterator it = at.node.begin(); it != at.node.end(); ++it, ++index) {
        const Located item = locate(*it, at.mark, indexed(at.path, index));
        const std::optional<Text> value = text(item);
        if (!value) {
            continue;
        }
        if (!is_token(value->value)) {
            error(item, "invalid name " + quote(*value) + " (expected an HTTP token such as x-request-id)");
            continue;
        }
        std::string name = lower_case ? to_lower(value->value) : value->value;
        if (const std::optional<int> first_line = seen.check_and_add(name, item.mark.line)) {
            error(item, quote(Text{name, value->from_environment}) + " is listed twice (first at line " +
                            std::to_string(*first_line) + ")");
            continue;
        }
        names.push_back(std::move(name));
    }
    if (errors_.size() == errors_before) {
        out = std::move(names);
    }
}

void Loader::read_token(const Located& at, std::string& out) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    if (!is_token(value->value)) {
        error(at, "invalid header name " + quote(*value) + " (expected an HTTP token such as afterhook-trigger)");
        return;
    }
    out = to_lower(value->value);
}

// `hooks:` replaces the default access-log hook; `hooks: []` means none.
void Loader::read_hooks(const Located& at) {
    if (!expect(at, YAML::NodeType::Sequence, "a list of hooks")) {
        return;
    }
    std::vector<Hook> hooks;
    FirstUses names;
    std::size_t index = 0;
    for (YAML::const_iterator it = at.node.begin(); it != at.node.end(); ++it, ++index) {
        if (std::optional<Hook> hook = read_hook(locate(*it, at.mark, indexed(at.path, index)), names)) {
            hooks.push_back(std::move(*hook));
        }
    }
    config_.hooks = std::move(hooks);
}

// A hook is a mapping with a name and exactly one sink key. The "no sink"
// error is left out when an unknown key was reported, since that key was
// most likely meant as the sink.
std::optional<Hook> Loader::read_hook(const Located& at, FirstUses& names) {
    if (!expect(at, YAML::NodeType::Map, "a mapping with 'name' and a sink")) {
        return std::nullopt;
    }
    const std::size_t errors_before = errors_.size();
    Hook hook;
    hook.mark = at.mark;
    bool has_name = false;
    std::vector<std::string_view> sinks_given;
    std::string sink_keys;
    std::vector<Field> fields{
        {"name",
         [&](const Located& v) {
             has_name = true;
             read_hook_name(v, hook.name, names);
         }},
    };
    for (const SinkParser& parser : sink_parsers()) {
        sink_keys += (sink_keys.empty() ? "" : ", ") + std::string(parser.key);
        fields.push_back({parser.key, [&, &parser = parser](const Located& v) {
                              if (!sinks_given.empty()) {
                                  error(v, "a hook has exactly one sink; '" + std::string(sinks_given.front()) +
                                               "' is already given");
                              }
                              sinks_given.push_back(parser.key);
                              if (std::optional<Sink> sink = (this->*parser.parse)(v)) {
                                  hook.sink = std::move(*sink);
                              }
                          }});
    }
    const MapSummary summary =
        walk_map(at, fields, "a hook takes 'name' and one sink; sinks in this build: " + sink_keys);
    if (!has_name) {
        error(at, "missing required key 'name'");
    }
    if (sinks_given.empty() && !summary.had_unknown_key) {
        error(at, "no sink: a hook needs exactly one of: " + sink_keys);
    }
    if (errors_.size() != errors_before) {
        return std::nullopt;
    }
    return hook;
}

void Loader::read_hook_name(const Located& at, std::string& out, FirstUses& names) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    if (!is_hook_name(value->value)) {
        error(at, "invalid hook name " + quote(*value) +
                      " (expected a-z, 0-9, '_' and '-', starting with a letter or digit, at most 64 characters)");
        return;
    }
    if (const std::optional<int> first_line = names.check_and_add(value->value, at.mark.line)) {
        error(at, "duplicate hook name " + quote(*value) + " (first at line " + std::to_string(*first_line) + ")");
        return;
    }
    out = value->value;
}

// log: { path: stdout | stderr | FILE }. A file is opened for appending by
// the sink at start-up, relative to the working directory.
std::optional<Sink> Loader::read_log_sink(const Located& at) {
    const std::size_t errors_before = errors_.size();
    LogSink sink;
    walk_map(at, {
        {"path",
         [&](const Located& v) {
             const std::optional<Text> value = text(v);
             if (!value) {
                 return;
             }
             if (value->value.empty() || value->value.find('\0') != std::string::npos) {
                 error(v, "expected stdout, stderr or a file path, got " + quote(*value));
                 return;
             }
             sink.path = value->value;
         }},
    });
    if (errors_.size() != errors_before) {
        return std::nullopt;
    }
    return Sink{std::move(sink)};
}

// Reads a whole file, or says why it cannot.
bool read_file(const std::string& path, std::string& out, std::string& problem) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        problem = "cannot open config file: " + std::generic_category().message(errno);
        return false;
    }
    std::string contents;
    char buffer[16 * 1024];
    bool ok = true;
    while (true) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            problem = "cannot read config file: " + std::generic_category().message(errno);
            ok = false;
            break;
        }
        if (n == 0) {
            break;
        }
        contents.append(buffer, static_cast<std::size_t>(n));
        if (contents.size() > kMaxFileBytes) {
            problem = "config file is larger than " + format_size(kMaxFileBytes);
            ok = false;
            break;
        }
    }
    ::close(fd);
    if (ok) {
        out = std::move(contents);
    }
    return ok;
}

}  // namespace

LoadResult load_string(const std::string& yaml, const std::string& name) {
    try {
        return Loader(name).load(yaml);
    } catch (const std::exception& e) {
        // Only allocation failure can get here; the loader catches the rest.
        LoadResult result;
        result.errors.push_back(ConfigError{name, 0, 0, "", std::string("cannot load: ") + e.what()});
        return result;
    }
}

LoadResult load_file(const std::string& path) {
    std::string contents;
    std::string problem;
    bool readable = false;
    try {
        readable = read_file(path, contents, problem);
    } catch (const std::exception& e) {
        problem = std::string("cannot read config file: ") + e.what();
    }
    if (!readable) {
        LoadResult result;
        result.config.source = path;
        result.errors.push_back(ConfigError{path, 0, 0, "", problem});
        return result;
    }
    return load_string(contents, path);
}

}  // namespace afterhook::config
