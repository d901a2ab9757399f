// The YAML loader: turns a document into a Config and reports every problem
// found in it at once. This file reads the document and the proxy's
// settings and holds the entry points of config.h; the hooks are read in
// config/hook_loader.cc and config/sink_loader.cc (see config/loader.h).
//
// Errors point at the value at fault (or at the key, for unknown and
// duplicate keys and for keys given no value) and carry a key path such as
// "timeouts.connect" or "hooks[0].log.path"; list indices are 0-based.
//
// Hook templates are compiled once, against the `capture` lists, so hooks
// are read after the rest of the document; a template's error is
// reported at its scalar. Values go through ${VAR} substitution first, and a
// value that came from the environment is never repeated in a message.
#include <fcntl.h>
#include <unistd.h>

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
#include "config/loader.h"
#include "config/template.h"

namespace afterhook::config {

namespace loading {

SourceMark to_source_mark(const YAML::Mark& mark) {
    if (mark.line < 0 || mark.column < 0) {
        return {};
    }
    return {mark.line + 1, mark.column + 1};
}

Located locate(const YAML::Node& node, const SourceMark& fallback, std::string path) {
    SourceMark mark = to_source_mark(node.Mark());
    if (mark.line == 0) {
        mark = fallback;
    }
    return Located{node, mark, std::move(path)};
}

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

}  // namespace loading

namespace {

using loading::format_size;
using loading::kMaxFileBytes;

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

using loading::Loader;

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
