// The settings of a webhook sink (URL, method, headers, body as text or a
// JSON template, format, signing) and the retry and queue settings that
// webhook and exec sinks share.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "config/config.h"
#include "config/env_substitution.h"
#include "config/hook_syntax.h"
#include "config/loader.h"
#include "config/template.h"

namespace afterhook::config::loading {

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

}  // namespace afterhook::config::loading
