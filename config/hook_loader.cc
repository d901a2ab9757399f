// The hook list of a config: each hook's name, trigger, `when` filters and
// sink. Templates are compiled here against the capture lists, which
// config/loader.cc reads first.
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

}  // namespace afterhook::config::loading
