// The YAML loader's internals, shared by the files that read each part of a
// config: config/loader.cc (the document, the proxy's settings and the
// entry points of config.h), config/hook_loader.cc (the hook list, filters,
// sinks and exec commands) and config/sink_loader.cc (the webhook settings,
// and the retry and queue settings of every queued sink). Only these files
// include yaml-cpp; everything they produce is plain values from config.h.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/template.h"

namespace afterhook::config::loading {

inline constexpr uint64_t kKiB = uint64_t{1} << 10;
inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;
// Config files are small; the cap keeps a wrong --config (a device, a log
// file) from being read into memory whole.
inline constexpr std::size_t kMaxFileBytes = 4 * kMiB;
inline constexpr Duration kMaxTimeout = std::chrono::hours{24};
inline constexpr std::size_t kMaxHookNameLength = 64;
inline constexpr std::string_view kFromEnvironment = "(value from environment)";
inline constexpr std::size_t kMaxJsonNodes = 10000;
inline constexpr std::size_t kMaxJsonDepth = 32;
inline constexpr uint64_t kMaxAttempts = 100;
inline constexpr uint64_t kMaxConcurrency = 1024;
inline constexpr uint64_t kMaxQueueSize = 10000000;

// A node together with where problems about it are reported.
struct Located {
    YAML::Node node;
    SourceMark mark;
    std::string path;
};

// A scalar value after environment substitution.
struct Text {
    std::string value;
    bool from_environment = false;  // the raw text used "${": never quote it
};

SourceMark to_source_mark(const YAML::Mark& mark);
// A list item or document, located at its own mark, or at `fallback` when
// yaml-cpp has none for it.
Located locate(const YAML::Node& node, const SourceMark& fallback, std::string path);
// The value of a mapping key. A key given no value has no useful mark of
// its own (yaml-cpp marks the next token), so it is located at the key.
Located member(const YAML::Node& value, const SourceMark& key_mark, std::string path);
std::string join(const std::string& parent, std::string_view key);
std::string indexed(const std::string& parent, std::size_t index);
std::string describe(const YAML::Node& node);
// The value for an error message. A value that came through the
// environment may be a secret, so it is never repeated.
std::string quote(const Text& text);
std::string format_size(uint64_t bytes);
// "30s", "1m", "250ms": the largest unit that divides the duration.
std::string format_duration(Duration duration);
// The hint for a value outside a fixed set: a close match if there is one,
// else the whole set.
std::string one_of(std::string_view value, const std::vector<std::string_view>& allowed);
bool parse_count(const std::string& text, uint64_t& out);
std::string to_lower(std::string text);
// Hook names become metric labels and file names, hence the narrow alphabet.
bool is_hook_name(std::string_view name);

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

}  // namespace afterhook::config::loading
