// The YAML loader: turns a document into a Config and reports every problem
// found in it at once. This is the only file in afterhook that includes
// yaml-cpp; everything it produces is plain values from config.h.
//
// Errors point at the value at fault (or at the key, for unknown and
// duplicate keys and for keys given no value) and carry a key path such as
// "timeouts.connect" or "hooks[0].log.path"; list indices are 0-based.
//
// Hook templates are compiled here, once, against the `capture` lists, so
// hooks are read after the rest of the document; a template's error is
// reported at its scalar. Values go through ${VAR} substitution first, and a
// value that came from the environment is never repeated in a message.
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
#include "config/hook_syntax.h"
#include "config/key_paths.h"
#include "config/key_suggestion.h"
#include "config/template.h"

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
constexpr std::size_t kMaxJsonNodes = 10000;
constexpr std::size_t kMaxJsonDepth = 32;
constexpr uint64_t kMaxAttempts = 100;
constexpr uint64_t kMaxConcurrency = 1024;
constexpr uint64_t kMaxQueueSize = 10000000;

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

// The value of a mapping key. A key given no value has no useful mark of
// its own (yaml-cpp marks the next token), so it is located at the key.
Located member(const YAML::Node& value, const SourceMark& key_mark, std::string path) {
    const SourceMark mark = value.IsNull() ? key_mark : locate(value, key_mark, "").mark;
    return Located{value, mark, std::move(path)};
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

// "30s", "1m", "250ms": the largest unit that divides the duration.
std::string format_duration(Duration duration) {
    const auto ms = duration.count();
    if (ms != 0 && ms % 3600000 == 0) {
        return std::to_string(ms / 3600000) + "h";
    }
    if (ms != 0 && ms % 60000 == 0) {
        return std::to_string(ms / 60000) + "m";
    }
    if (ms != 0 && ms % 1000 == 0) {
        return std::to_string(ms / 1000) + "s";
    }
    return std::to_string(ms) + "ms";
}

// The hint for a value outside a fixed set: a close match if there is one,
// else the whole set.
std::string one_of(std::string_view value, const std::vector<std::string_view>& allowed) {
    if (const std::string suggestion = suggest_key(value, allowed); !suggestion.empty()) {
        return "did you mean '" + suggestion + "'?";
    }
    std::string list;
    for (std::string_view name : allowed) {
        list += (list.empty() ? "" : ", ") + std::string(name);
    }
    return "expected one of: " + list;
}

bool parse_count(const std::string& text, uint64_t& out) {
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, out);
    return !text.empty() && error == std::errc{} && stop == end;
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

// What one JSON body may still hold. Aliases can make a small file describe
// a huge or cyclic tree; the budget keeps the walk small and finite.
struct JsonBudget {
    std::size_t nodes_left = kMaxJsonNodes;
    bool reported = false;
};

struct Range {
    uint64_t min;
    uint64_t max;
};

// Walks one document and fills `config_`, collecting errors as it goes.
class Loader {
public:
    explicit Loader(std::string file) : file_(std::move(file)) { config_.source = file_; }

    LoadResult load(const std::string& yaml);
    // The paths of every key the tables below accept (see key_paths.h).
    std::vector<std::string> key_paths();

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
    void read_names(const Located& at, std::vector<std::string>& out, std::vector<std::string>& known,
                    bool lower_case);
    void read_token(const Located& at, std::string& out);
    void read_hooks(const Located& at);
    std::optional<Hook> read_hook(const Located& at, FirstUses& names);
    void read_hook_name(const Located& at, std::string& out, FirstUses& names);
    void read_trigger(const Located& at, bool& trigger_only);
    void read_when(const Located& at, When& when);
    void read_methods(const Located& at, std::vector<std::string>& out);
    void read_paths(const Located& at, std::vector<std::string>& out);
    void read_status(const Located& at, std::vector<StatusRange>& out);
    void read_outcomes(const Located& at, std::vector<std::string>& out);
    void read_sample(const Located& at, double& out);
    std::optional<Sink> read_log_sink(const Located& at);
    std::optional<Sink> read_webhook_sink(const Located& at);
    std::optional<Sink> read_exec_sink(const Located& at);
    void read_url(const Located& at, Template& out);
    void read_method(const Located& at, std::string& out);
    void read_headers(const Located& at, std::vector<std::pair<std::string, Template>>& out);
    void read_header_value(const Located& at, Template& out);
    void read_body(const Located& at, Body& out);
    void read_json(const Located& at, JsonTemplate& out, JsonBudget& budget, std::size_t depth);
    void read_json_scalar(const Located& at, JsonTemplate& out);
    void read_format(const Located& at, WebhookSink::Format& out);
    void read_retry(const Located& at, Retry& out);
    void read_queue(const Located& at, Queue& out);
    void read_sign(const Located& at, std::string& out);
    void read_bool(const Located& at, bool& out);
    void read_command(const Located& at, std::vector<Template>& out);
    bool read_template(const Located& at, Template& out);
    bool compile(const Located& at, const Text& value, Template& out);
    void for_each_item(const Located& at, std::string_view what,
                       const std::function<void(const Located&, std::size_t)>& visit);
    bool listed_twice(FirstUses& seen, const Located& item, const Text& value);

    std::string file_;
    Config config_;
    // The capture names that templates may use: every valid name given,
    // even in a list that had errors, so that one bad name in `capture`
    // does not also fail each template that uses its neighbours.
    Capture known_names_;
    std::vector<ConfigError> errors_;
    // Set only by key_paths(): walk_map then records the path of each key in
    // its table and hands each handler an empty mapping, instead of reading
    // the document, so that nested tables are listed too.
    std::vector<std::string>* listed_paths_ = nullptr;
};

// The sinks this build implements, by key. Adding a sink kind is one row
// here and one read_*_sink member; any other key in a hook is refused.
const std::vector<Loader::SinkParser>& Loader::sink_parsers() {
    static const std::vector<SinkParser> parsers{
        {"log", &Loader::read_log_sink},
        {"webhook", &Loader::read_webhook_sink},
        {"exec", &Loader::read_exec_sink},
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
    if (listed_paths_ != nullptr) {
        for (const Field& field : fields) {
            const std::string path = join(map.path, field.key);
            listed_paths_->push_back(path);
            field.handle(Located{YAML::Node(YAML::NodeType::Map), map.mark, path});
        }
        return summary;
    }
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
        field->handle(member(it->second, key_mark, path));
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

// The errors that listing provokes (every value is an empty mapping) are
// dropped with the loader.
std::vector<std::string> Loader::key_paths() {
    std::vector<std::string> paths;
    listed_paths_ = &paths;
    read_root(Located{YAML::Node(YAML::NodeType::Map), SourceMark{1, 1}, ""});
    listed_paths_ = nullptr;
    return paths;
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

// Hooks are read after everything else, because their templates may only
// use headers and cookies that `capture` lists, wherever it stands in the file.
void Loader::read_root(const Located& at) {
    std::optional<Located> hooks;
    walk_map(at, {
        {"listen", [&](const Located& v) { read_address(v, config_.listen, AddressRole::listener); }},
        {"upstream", [&](const Located& v) { read_address(v, config_.upstream, AddressRole::upstream); }},
        {"workers", [&](const Located& v) { read_workers(v); }},
        {"admin", [&](const Located& v) { read_admin(v); }},
        {"timeouts", [&](const Located& v) { read_timeouts(v); }},
        {"limits", [&](const Located& v) { read_limits(v); }},
        {"capture", [&](const Located& v) { read_capture(v); }},
        {"trigger_header", [&](const Located& v) { read_token(v, config_.trigger_header); }},
        {"hooks", [&](const Located& v) { hooks = v; }},
    });
    if (hooks) {
        read_hooks(*hooks);
    } else {
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
        {"headers", [&](const Located& v) { read_names(v, capture.headers, known_names_.headers, true); }},
        {"response_headers",
         [&](const Located& v) { read_names(v, capture.response_headers, known_names_.response_headers, true); }},
        // Cookie names are case-sensitive (RFC 6265), header names are not.
        {"cookies", [&](const Located& v) { read_names(v, capture.cookies, known_names_.cookies, false); }},
        {"redact", [&](const Located& v) { read_names(v, capture.redact, known_names_.redact, true); }},
    });
}

// A list of header or cookie names. `out` is replaced only when every item
// is valid, so a partly bad list never mixes with the defaults; `known`
// takes the valid items regardless.
void Loader::read_names(const Located& at, std::vector<std::string>& out, std::vector<std::string>& known,
                        bool lower_case) {
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
        if (!is_http_token(value->value)) {
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
    known = names;
    if (errors_.size() == errors_before) {
        out = std::move(names);
    }
}

void Loader::read_token(const Located& at, std::string& out) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    if (!is_http_token(value->value)) {
        error(at, "invalid header name " + quote(*value) + " (expected an HTTP token such as afterhook-trigger)");
        return;
    }
    out = to_lower(value->value);
}

// `hooks:` replaces the default access-log hook; `hooks: []` means none.
void Loader::read_hooks(const Located& at) {
    if (listed_paths_ != nullptr) {  // one hook, "hooks[]", stands for every item
        FirstUses names;
        read_hook(Located{YAML::Node(YAML::NodeType::Map), at.mark, at.path + "[]"}, names);
        return;
    }
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

// A hook is a mapping with a name, optional `when` and `trigger`, and
// exactly one sink key. The "no sink" error is left out when an unknown key
// was reported, since that key was most likely meant as the sink.
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
        {"when", [&](const Located& v) { read_when(v, hook.when); }},
        {"trigger", [&](const Located& v) { read_trigger(v, hook.trigger_only); }},
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
    const MapSummary summary = walk_map(at, fields, "a hook takes name, when, trigger and one sink: " + sink_keys);
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

// trigger: header. The hook then fires only when the upstream names it in
// the trigger header, and only if its `when` (if any) also holds.
void Loader::read_trigger(const Located& at, bool& trigger_only) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    if (value->value != "header") {
        error(at, "unknown trigger " + quote(*value) + " (the only trigger is 'header')");
        return;
    }
    trigger_only = true;
}

void Loader::read_when(const Located& at, When& when) {
    walk_map(at, {
        {"methods", [&](const Located& v) { read_methods(v, when.methods); }},
        {"paths", [&](const Located& v) { read_paths(v, when.paths); }},
        {"status", [&](const Located& v) { read_status(v, when.status); }},
        {"outcome", [&](const Located& v) { read_outcomes(v, when.outcomes); }},
        {"sample", [&](const Located& v) { read_sample(v, when.sample); }},
    });
}

void Loader::read_methods(const Located& at, std::vector<std::string>& out) {
    FirstUses seen;
    for_each_item(at, "a list of methods", [&](const Located& item, std::size_t) {
        const std::optional<Text> value = text(item);
        if (!value) {
            return;
        }
        if (!is_http_token(value->value)) {
            error(item, "invalid method " + quote(*value) + " (expected an HTTP method such as GET or POST)");
            return;
        }
        std::string method = to_upper(value->value);
        if (listed_twice(seen, item, Text{method, value->from_environment})) {
            return;
        }
        out.push_back(std::move(method));
    });
}

void Loader::read_paths(const Located& at, std::vector<std::string>& out) {
    FirstUses seen;
    for_each_item(at, "a list of path patterns", [&](const Located& item, std::size_t) {
        const std::optional<Text> value = text(item);
        if (!value) {
            return;
        }
        if (const std::string problem = path_pattern_problem(value->value); !problem.empty()) {
            error(item, "invalid path pattern " + quote(*value) + ": " + problem);
            return;
        }
        if (listed_twice(seen, item, *value)) {
            return;
        }
        out.push_back(value->value);
    });
}

// Codes may be written as YAML numbers or strings; classes as "5xx".
void Loader::read_status(const Located& at, std::vector<StatusRange>& out) {
    FirstUses seen;
    for_each_item(at, "a list of status codes and classes", [&](const Located& item, std::size_t) {
        const std::optional<Text> value = text(item);
        if (!value) {
            return;
        }
        const std::optional<StatusRange> range = parse_status_filter(value->value);
        if (!range) {
            error(item, "invalid status " + quote(*value) +
                            " (expected a code from 100 to 599 or a class from 1xx to 5xx)");
            return;
        }
        if (listed_twice(seen, item, Text{to_lower(value->value), value->from_environment})) {
            return;
        }
        out.push_back(*range);
    });
}

void Loader::read_outcomes(const Located& at, std::vector<std::string>& out) {
    const std::vector<std::string_view> names(kOutcomeNames.begin(), kOutcomeNames.end());
    FirstUses seen;
    for_each_item(at, "a list of outcomes", [&](const Located& item, std::size_t) {
        const std::optional<Text> value = text(item);
        if (!value) {
            return;
        }
        if (std::find(names.begin(), names.end(), value->value) == names.end()) {
            error(item, "unknown outcome " + quote(*value) + " (" + one_of(value->value, names) + ")");
            return;
        }
        if (listed_twice(seen, item, *value)) {
            return;
        }
        out.push_back(value->value);
    });
}

void Loader::read_sample(const Located& at, double& out) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    if (!parse_sample(value->value, out)) {
        error(at, "must be a number from 0 to 1, got " + quote(*value));
    }
}

// log: { path: stdout | stderr | FILE, format: TEMPLATE }. A file is opened
// for appending by the sink at start-up, relative to the working directory.
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
        {"format",
         [&](const Located& v) {
             if (read_template(v, sink.format) && sink.format.empty()) {
                 error(v, "must not be empty (leave format out for JSON lines)");
             }
         }},
    });
    if (errors_.size() != errors_before) {
        return std::nullopt;
    }
    return Sink{std::move(sink)};
}

std::optional<Sink> Loader::read_webhook_sink(const Located& at) {
    const std::size_t errors_before = errors_.size();
    WebhookSink sink;
    bool has_url = false;
    walk_map(at, {
        {"url",
         [&](const Located& v) {
             has_url = true;
             read_url(v, sink.url);
         }},
        {"method", [&](const Located& v) { read_method(v, sink.method); }},
        {"headers", [&](const Located& v) { read_headers(v, sink.headers); }},
        {"body", [&](const Located& v) { read_body(v, sink.body); }},
        {"format", [&](const Located& v) { read_format(v, sink.format); }},
        {"timeout", [&](const Located& v) { read_duration(v, sink.timeout); }},
        {"retry", [&](const Located& v) { read_retry(v, sink.retry); }},
        {"concurrency", [&](const Located& v) { read_count(v, sink.concurrency, {1, kMaxConcurrency}); }},
        {"queue", [&](const Located& v) { read_queue(v, sink.queue); }},
        {"sign", [&](const Located& v) { read_sign(v, sink.sign_secret); }},
        {"tls_verify", [&](const Located& v) { read_bool(v, sink.tls_verify); }},
    });
    if (!has_url && at.node.IsMap()) {
        error(at, "missing required key 'url'");
    }
    if (errors_.size() != errors_before) {
        return std::nullopt;
    }
    return Sink{std::move(sink)};
}

std::optional<Sink> Loader::read_exec_sink(const Located& at) {
    const std::size_t errors_before = errors_.size();
    ExecSink sink;
    bool has_command = false;
    walk_map(at, {
        {"command",
         [&](const Located& v) {
             has_command = true;
             read_command(v, sink.command);
         }},
        {"timeout", [&](const Located& v) { read_duration(v, sink.timeout); }},
        {"kill_grace", [&](const Located& v) { read_duration(v, sink.kill_grace); }},
        {"retry", [&](const Located& v) { read_retry(v, sink.retry); }},
        {"concurrency", [&](const Located& v) { read_count(v, sink.concurrency, {1, kMaxConcurrency}); }},
        {"queue", [&](const Located& v) { read_queue(v, sink.queue); }},
    });
    if (!has_command && at.node.IsMap()) {
        error(at, "missing required key 'command'");
    }
    if (errors_.size() != errors_before) {
        return std::nullopt;
    }
    return Sink{std::move(sink)};
}

// The scheme must be literal so that no request value can turn a webhook
// into a request of another kind (file://, gopher://, ...).
void Loader::read_url(const Located& at, Template& out) {
    if (!read_template(at, out)) {
        return;
    }
    if (const std::string problem = url_problem(out); !problem.empty()) {
        error(at, "invalid URL " + quote(Text{out.source, mentions_env(at.node.Scalar())}) + ": " + problem);
    }
}

void Loader::read_method(const Located& at, std::string& out) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    if (!is_http_token(value->value)) {
        error(at, "invalid method " + quote(*value) + " (expected an HTTP method such as POST or PUT)");
        return;
    }
    out = to_upper(value->value);
}

// headers: { Name: TEMPLATE, ... }. Names are HTTP tokens, unique without
// regard to case and kept as written; framing headers are afterhook's own.
void Loader::read_headers(const Located& at, std::vector<std::pair<std::string, Template>>& out) {
    if (!expect(at, YAML::NodeType::Map, "a mapping of header names to values")) {
        return;
    }
    static constexpr std::array<std::string_view, 3> kFraming{"content-length", "transfer-encoding", "connection"};
    FirstUses seen;
    for (YAML::const_iterator it = at.node.begin(); it != at.node.end(); ++it) {
        const YAML::Node key = it->first;
        const SourceMark key_mark = locate(key, at.mark, "").mark;
        if (!key.IsScalar()) {
            error(key_mark, at.path, "a header name must be a single value, found " + describe(key));
            continue;
        }
        const std::string& name = key.Scalar();
        const std::string path = join(at.path, name);
        const std::string lower = to_lower(name);
        if (!is_http_token(name)) {
            error(key_mark, path, "invalid header name '" + name + "' (expected an HTTP token such as X-Event)");
            continue;
        }
        if (std::find(kFraming.begin(), kFraming.end(), lower) != kFraming.end()) {
            error(key_mark, path, "'" + name + "' is set by afterhook, which frames the request itself");
            continue;
        }
        if (const std::optional<int> first_line = seen.check_and_add(lower, key_mark.line)) {
            error(key_mark, path,
                  "duplicate header '" + name + "' (first at line " + std::to_string(*first_line) + ")");
            continue;
        }
        Template value;
        read_header_value(member(it->second, key_mark, path), value);
        out.emplace_back(name, std::move(value));
    }
}

// A header value's literal text may not break the request's framing; what
// placeholders render is the webhook sink's to check per event.
void Loader::read_header_value(const Located& at, Template& out) {
    if (!read_template(at, out)) {
        return;
    }
    for (const TemplatePart& part : out.parts) {
        const bool bad = part.kind == TemplatePart::Kind::literal &&
                         std::any_of(part.text.begin(), part.text.end(), [](char c) {
                             const auto byte = static_cast<unsigned char>(c);
                             return (byte < 0x20 && c != '\t') || byte == 0x7f;
                         });
        if (bad) {
            error(at, "a header value must not contain line breaks or control characters");
            return;
        }
    }
}

// body: a mapping or a list is a JSON body; a single value is a text
// template; leaving it out sends the record as a JSON object.
void Loader::read_body(const Located& at, Body& out) {
    switch (at.node.Type()) {
        case YAML::NodeType::Map:
        case YAML::NodeType::Sequence: {
            JsonBudget budget;
            read_json(at, out.json, budget, 0);
            out.kind = Body::Kind::json;
            return;
        }
        case YAML::NodeType::Scalar:
            if (read_template(at, out.text)) {
                out.kind = Body::Kind::text;
            }
            return;
        default:
            error(at, "expected a mapping or a list (a JSON body) or a text template, found " + describe(at.node) +
                          " (leave body out to send the record)");
    }
}

// One value of a JSON body. Keys are written as they stand; only values
// hold templates.
void Loader::read_json(const Located& at, JsonTemplate& out, JsonBudget& budget, std::size_t depth) {
    if (budget.reported) {
        return;
    }
    if (budget.nodes_left == 0 || depth > kMaxJsonDepth) {
        error(at, "the body is too large: at most " + std::to_string(kMaxJsonNodes) + " values, nested at most " +
                      std::to_string(kMaxJsonDepth) + " deep");
        budget.reported = true;
        return;
    }
    --budget.nodes_left;
    switch (at.node.Type()) {
        case YAML::NodeType::Scalar:
            read_json_scalar(at, out);
            return;
        case YAML::NodeType::Sequence: {
            out.kind = JsonTemplate::Kind::array;
            std::size_t index = 0;
            for (YAML::const_iterator it = at.node.begin(); it != at.node.end() && !budget.reported; ++it, ++index) {
                JsonTemplate item;
                read_json(locate(*it, at.mark, indexed(at.path, index)), item, budget, depth + 1);
                out.items.push_back(std::move(item));
            }
            return;
        }
        case YAML::NodeType::Map: {
            out.kind = JsonTemplate::Kind::object;
            FirstUses seen;
            for (YAML::const_iterator it = at.node.begin(); it != at.node.end() && !budget.reported; ++it) {
                const YAML::Node key = it->first;
                const SourceMark key_mark = locate(key, at.mark, "").mark;
                if (!key.IsScalar()) {
                    error(key_mark, at.path, "a key must be a plain name, found " + describe(key));
                    continue;
                }
                const std::string& name = key.Scalar();
                const std::string path = join(at.path, name);
                if (const std::optional<int> first_line = seen.check_and_add(name, key_mark.line)) {
                    error(key_mark, path,
                          "duplicate key '" + name + "' (first at line " + std::to_string(*first_line) + ")");
                    continue;
                }
                if (name.find("{{") != std::string::npos) {
                    error(key_mark, path, "keys are written as they stand; placeholders belong in values");
                    continue;
                }
                JsonTemplate value;
                read_json(member(it->second, key_mark, path), value, budget, depth + 1);
                out.members.emplace_back(name, std::move(value));
            }
            return;
        }
        default:
            out.kind = JsonTemplate::Kind::null;
            return;
    }
}

// A scalar keeps the type YAML gives it. A plain scalar (no quotes, no tag)
// is a number when it is written as a JSON number and a boolean when it is
// true or false, after ${VAR} substitution; anything else, and every quoted
// or block scalar, is a string template. Explicit core tags (!!str, !!int,
// !!float, !!bool, !!null) are honoured.
void Loader::read_json_scalar(const Located& at, JsonTemplate& out) {
    enum class Type { plain, string, number, boolean, null };
    static constexpr std::string_view kCoreTag = "tag:yaml.org,2002:";
    const std::string& tag = at.node.Tag();
    Type type = Type::plain;
    if (tag == "!" || tag == std::string(kCoreTag) + "str") {
        type = Type::string;
    } else if (tag == std::string(kCoreTag) + "int" || tag == std::string(kCoreTag) + "float") {
        type = Type::number;
    } else if (tag == std::string(kCoreTag) + "bool") {
        type = Type::boolean;
    } else if (tag == std::string(kCoreTag) + "null") {
        type = Type::null;
    } else if (tag != "?") {
        error(at, "unsupported tag '" + tag +
                      "' (body values are mappings, lists, strings, numbers, booleans and null)");
        return;
    }
    if (type == Type::null) {
        out.kind = JsonTemplate::Kind::null;
        return;
    }
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    if ((type == Type::plain || type == Type::number) && is_json_number(value->value)) {
        out.kind = JsonTemplate::Kind::number;
        out.literal = value->value;
        return;
    }
    if (type == Type::number) {
        error(at, "a number must be written as JSON writes it (such as 42, -1.5 or 2e3), got " + quote(*value));
        return;
    }
    const std::optional<bool> flag = type == Type::string ? std::nullopt : parse_bool(value->value);
    if (flag) {
        out.kind = JsonTemplate::Kind::boolean;
        out.literal = *flag ? "true" : "false";
        return;
    }
    if (type == Type::boolean) {
        error(at, "a boolean must be true or false, got " + quote(*value));
        return;
    }
    if (compile(at, *value, out.text)) {
        out.kind = JsonTemplate::Kind::string;
    }
}

void Loader::read_format(const Located& at, WebhookSink::Format& out) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    if (value->value != "cloudevents") {
        error(at, "unknown format " + quote(*value) +
                      " (the only format is 'cloudevents'; leave format out to send the body as it is)");
        return;
    }
    out = WebhookSink::Format::cloudevents;
}

void Loader::read_retry(const Located& at, Retry& out) {
    const std::size_t errors_before = errors_.size();
    std::optional<Located> backoff;
    std::optional<Located> max_backoff;
    walk_map(at, {
        {"attempts", [&](const Located& v) { read_count(v, out.attempts, {1, kMaxAttempts}); }},
        {"backoff",
         [&](const Located& v) {
             backoff = v;
             read_duration(v, out.backoff);
         }},
        {"max_backoff",
         [&](const Located& v) {
             max_backoff = v;
             read_duration(v, out.max_backoff);
         }},
    });
    // The defaults are in order, so one of the two was given when they are not.
    if (errors_.size() == errors_before && out.max_backoff < out.backoff) {
        error(max_backoff ? *max_backoff : *backoff, "max_backoff (" + format_duration(out.max_backoff) +
                                                         ") must not be less than backoff (" +
                                                         format_duration(out.backoff) + ")");
    }
}

void Loader::read_queue(const Located& at, Queue& out) {
    walk_map(at, {
        {"size", [&](const Located& v) { read_count(v, out.size, {1, kMaxQueueSize}); }},
        {"when_full",
         [&](const Located& v) {
             const std::optional<Text> value = text(v);
             if (!value) {
                 return;
             }
             if (value->value == "drop_newest") {
                 out.when_full = Queue::WhenFull::drop_newest;
             } else if (value->value == "drop_oldest") {
                 out.when_full = Queue::WhenFull::drop_oldest;
             } else {
                 error(v, "unknown policy " + quote(*value) + " (" +
                              one_of(value->value, {"drop_newest", "drop_oldest"}) + ")");
             }
         }},
    });
}

// sign: { secret: ... }. The secret usually comes from the environment and
// is never repeated in a message, wherever it came from.
void Loader::read_sign(const Located& at, std::string& out) {
    bool has_secret = false;
    walk_map(at, {
        {"secret",
         [&](const Located& v) {
             has_secret = true;
             const std::optional<Text> value = text(v);
             if (!value) {
                 return;
             }
             if (const std::string problem = signing_secret_problem(value->value); !problem.empty()) {
                 error(v, problem);
                 return;
             }
             out = value->value;
         }},
    });
    if (!has_secret && at.node.IsMap()) {
        error(at, "missing required key 'secret'");
    }
}

void Loader::read_bool(const Located& at, bool& out) {
    const std::optional<Text> value = text(at);
    if (!value) {
        return;
    }
    const std::optional<bool> flag = parse_bool(value->value);
    if (!flag) {
        error(at, "must be true or false, got " + quote(*value));
        return;
    }
    out = *flag;
}

// command: [/absolute/program, ARG...]. The program is written out in full:
// it is run directly (no shell, no PATH search) and no request value may
// choose it; the arguments are templates.
void Loader::read_command(const Located& at, std::vector<Template>& out) {
    if (at.node.IsSequence() && at.node.size() == 0) {
        error(at, "must name the program to run: [/absolute/path, arguments...]");
        return;
    }
    constexpr std::string_view kWhat = "a list: the program's absolute path, then its arguments";
    for_each_item(at, kWhat, [&](const Located& item, std::size_t index) {
        Template argument;
        if (!read_template(item, argument)) {
            return;
        }
        if (argument.source.find('\0') != std::string::npos) {
            error(item, "must not contain a NUL character");
            return;
        }
        if (index == 0) {
            const bool literal = argument.parts.size() == 1 && argument.parts[0].kind == TemplatePart::Kind::literal;
            if (!argument.parts.empty() && !literal) {
                error(item, "the program must be written out; placeholders belong in the arguments");
                return;
            }
            const std::string program = literal ? argument.parts[0].text : std::string();
            if (program.empty() || program.front() != '/') {
                error(item, "the program must be an absolute path (there is no shell and no PATH search), got " +
                                quote(Text{program, mentions_env(item.node.Scalar())}));
                return;
            }
        }
        out.push_back(std::move(argument));
    });
}

// A scalar compiled as a template against the capture lists.
bool Loader::read_template(const Located& at, Template& out) {
    const std::optional<Text> value = text(at);
    return value && compile(at, *value, out);
}

// Compiles `value` (the scalar at `at` after ${VAR} substitution). The
// compiler's message quotes the placeholder at fault; for a value that came
// through the environment it is repeated only when the file itself holds
// that placeholder, so that nothing from the environment reaches a message.
bool Loader::compile(const Located& at, const Text& value, Template& out) {
    Template compiled;
    compiled.mark = at.mark;
    std::string problem;
    if (compile_template(value.value, known_names_, compiled, problem)) {
        out = std::move(compiled);
        return true;
    }
    if (value.from_environment) {
        Template raw;
        std::string raw_problem;
        if (compile_template(at.node.Scalar(), known_names_, raw, raw_problem) || raw_problem != problem) {
            problem = "the value from the environment holds '{{' that does not start a valid placeholder";
        }
    }
    error(at, std::move(problem));
    return false;
}

// Calls `visit` with each item of a list, located at its own mark.
void Loader::for_each_item(const Located& at, std::string_view what,
                           const std::function<void(const Located&, std::size_t)>& visit) {
    if (!expect(at, YAML::NodeType::Sequence, what)) {
        return;
    }
    std::size_t index = 0;
    for (YAML::const_iterator it = at.node.begin(); it != at.node.end(); ++it, ++index) {
        visit(locate(*it, at.mark, indexed(at.path, index)), index);
    }
}

// Reports `value` when `seen` already holds it; records it otherwise.
bool Loader::listed_twice(FirstUses& seen, const Located& item, const Text& value) {
    if (const std::optional<int> first_line = seen.check_and_add(value.value, item.mark.line)) {
        error(item, quote(value) + " is listed twice (first at line " + std::to_string(*first_line) + ")");
        return true;
    }
    return false;
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

std::vector<std::string> known_key_paths() {
    return Loader("<key paths>").key_paths();
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
