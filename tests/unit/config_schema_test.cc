// config/afterhook.schema.json against the loader: the schema declares
// exactly the keys the loader's tables accept (config::known_key_paths()),
// describes every key and refuses unknown ones, and its defaults are the
// loader's defaults. Whether files validate with both is the integration
// test tests/integration/config_schema_test.cc (it runs python3).
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "config/config.h"
#include "config/key_paths.h"

using namespace afterhook::config;
using nlohmann::json;

namespace {

const std::string kSchemaPath = AFTERHOOK_SOURCE_DIR "/config/afterhook.schema.json";

json load_schema() {
    std::ifstream in(kSchemaPath);
    REQUIRE_MESSAGE(in.good(), "cannot open " << kSchemaPath);
    const json schema = json::parse(in, nullptr, false);
    REQUIRE_MESSAGE(!schema.is_discarded(), kSchemaPath << " is not valid JSON");
    return schema;
}

// The schema a {"$ref": "#/$defs/NAME"} points at. Only local $defs
// references are used in the schema; anything else fails the test.
const json& referenced(const json& root, const json& node) {
    const std::string ref = node.at("$ref").get<std::string>();
    const std::string prefix = "#/$defs/";
    REQUIRE_MESSAGE(ref.rfind(prefix, 0) == 0, "unexpected $ref " << ref);
    const std::string name = ref.substr(prefix.size());
    REQUIRE_MESSAGE(root.at("$defs").contains(name), "$ref to a missing definition " << ref);
    return root.at("$defs").at(name);
}

// The node that holds a key's sub-keys: the node itself, or what its $ref
// points at (a property with a $ref carries its description beside it).
const json& target(const json& root, const json& node) {
    return node.contains("$ref") && !node.contains("properties") ? target(root, referenced(root, node)) : node;
}

std::string join(const std::string& parent, const std::string& key) {
    return parent.empty() ? key : parent + "." + key;
}

// Every key path the schema declares, spelled as known_key_paths() spells
// them ("hooks[].webhook.retry.attempts"). Follows $ref, the *Of keywords
// and list items; a map with free keys (additionalProperties as a schema)
// declares no key paths below itself.
void collect_paths(const json& root, const json& node, const std::string& prefix, std::set<std::string>& out) {
    if (!node.is_object()) {
        return;
    }
    if (node.contains("$ref")) {
        collect_paths(root, referenced(root, node), prefix, out);
    }
    if (node.contains("properties")) {
        for (const auto& [key, property] : node.at("properties").items()) {
            const std::string path = join(prefix, key);
            out.insert(path);
            collect_paths(root, property, path, out);
        }
    }
    for (const char* keyword : {"anyOf", "oneOf", "allOf"}) {
        if (node.contains(keyword)) {
            for (const json& branch : node.at(keyword)) {
                collect_paths(root, branch, prefix, out);
            }
        }
    }
    if (node.contains("items")) {
        collect_paths(root, node.at("items"), prefix + "[]", out);
    }
    if (node.contains("prefixItems")) {
        for (const json& item : node.at("prefixItems")) {
            collect_paths(root, item, prefix + "[]", out);
        }
    }
}

std::string listed(const std::vector<std::string>& paths) {
    std::string text;
    for (const std::string& path : paths) {
        text += (text.empty() ? "" : ", ") + path;
    }
    return text;
}

// Checks every schema node below `node` (named `where` in messages):
// objects with declared keys refuse others, and each declared key has a
// description of its own for editors to show.
void check_described(const json& node, const std::string& where, std::vector<std::string>& problems) {
    if (node.is_array()) {
        for (std::size_t i = 0; i < node.size(); ++i) {
            check_described(node[i], where + "/" + std::to_string(i), problems);
        }
        return;
    }
    if (!node.is_object()) {
        return;
    }
    if (node.contains("properties")) {
        if (node.value("additionalProperties", json(true)) != json(false)) {
            problems.push_back(where + ": additionalProperties is not false");
        }
        for (const auto& [key, property] : node.at("properties").items()) {
            const bool described = property.contains("description") && property.at("description").is_string() &&
                                   !property.at("description").get<std::string>().empty();
            if (!described) {
                problems.push_back(where + "/properties/" + key + ": no description");
            }
        }
    }
    for (const auto& [keyword, value] : node.items()) {
        if (keyword != "default" && keyword != "const" && keyword != "enum") {
            check_described(value, where + "/" + keyword, problems);
        }
    }
}

// A config made of the defaults the schema declares below `node`: each key
// with a `default` takes it, and a key whose value is a mapping of its own
// keys takes the defaults found inside.
json defaults_of(const json& root, const json& node) {
    json out = json::object();
    const json& object = target(root, node);
    if (!object.contains("properties")) {
        return out;
    }
    for (const auto& [key, property] : object.at("properties").items()) {
        if (property.contains("default")) {
            out[key] = property.at("default");
        } else if (const json inner = defaults_of(root, property); !inner.empty()) {
            out[key] = inner;
        }
    }
    return out;
}

// Leaf keys (no keys of their own) without a `default`, below `node`.
void undefaulted_leaves(const json& root, const json& node, const std::string& prefix, std::vector<std::string>& out) {
    const json& object = target(root, node);
    if (!object.contains("properties")) {
        return;
    }
    for (const auto& [key, property] : object.at("properties").items()) {
        const std::string path = join(prefix, key);
        if (target(root, property).contains("properties")) {
            undefaulted_leaves(root, property, path, out);
        } else if (!property.contains("default")) {
            out.push_back(path);
        }
    }
}

Config load_json(const json& document) {
    const LoadResult result = load_string(document.dump(), "schema-defaults.yaml");
    std::vector<std::string> errors;
    for (const ConfigError& error : result.errors) {
        errors.push_back(error.to_string());
    }
    CAPTURE(document.dump());
    REQUIRE(listed(errors) == "");
    return result.config;
}

const json& hook_schema(const json& root) {
    return target(root, root.at("properties").at("hooks").at("items"));
}

// The one hook of a config with the given sink settings (and the schema's
// `when` defaults).
Hook load_hook(const json& root, const std::string& sink, json settings) {
    const json& hook = hook_schema(root);
    json config{{"hooks", json::array({json{{"name", "h"},
                                              {"when", defaults_of(root, hook.at("properties").at("when"))},
                                              {sink, std::move(settings)}}})}};
    const Config loaded = load_json(config);
    REQUIRE(loaded.hooks.size() == 1);
    return loaded.hooks[0];
}

void check_same_retry(const Retry& actual, const Retry& expected) {
    CHECK(actual.attempts == expected.attempts);
    CHECK(actual.backoff == expected.backoff);
    CHECK(actual.max_backoff == expected.max_backoff);
}

void check_same_queue(const Queue& actual, const Queue& expected) {
    CHECK(actual.size == expected.size);
    CHECK(actual.when_full == expected.when_full);
}

}  // namespace

TEST_CASE("the loader lists its key paths from its own tables") {
    const std::vector<std::string> paths = known_key_paths();
    const std::set<std::string> unique(paths.begin(), paths.end());
    CHECK(unique.size() == paths.size());
    for (const char* path : {"listen", "timeouts.connect", "limits.max_chunk_extension_bytes", "capture.redact",
                             "hooks[].name", "hooks[].when.sample", "hooks[].log.format", "hooks[].webhook.sign.secret",
                             "hooks[].webhook.retry.max_backoff", "hooks[].exec.queue.when_full"}) {
        CAPTURE(path);
        CHECK(unique.count(path) == 1);
    }
    // Free maps are one path: their keys are the user's.
    CHECK(unique.count("hooks[].webhook.headers") == 1);
    CHECK(std::none_of(paths.begin(), paths.end(), [](const std::string& path) {
        return path.rfind("hooks[].webhook.headers.", 0) == 0 || path.rfind("hooks[].webhook.body.", 0) == 0;
    }));
}

TEST_CASE("the schema declares exactly the key paths the loader accepts") {
    const json schema = load_schema();
    std::set<std::string> declared;
    collect_paths(schema, schema, "", declared);
    const std::vector<std::string> loader_paths = known_key_paths();
    const std::set<std::string> accepted(loader_paths.begin(), loader_paths.end());

    std::vector<std::string> missing_from_schema;
    std::set_difference(accepted.begin(), accepted.end(), declared.begin(), declared.end(),
                        std::back_inserter(missing_from_schema));
    std::vector<std::string> unknown_to_loader;
    std::set_difference(declared.begin(), declared.end(), accepted.begin(), accepted.end(),
                        std::back_inserter(unknown_to_loader));
    CHECK_MESSAGE(missing_from_schema.empty(), "accepted by the loader but not declared in config/afterhook.schema.json: "
                                                   << listed(missing_from_schema));
    CHECK_MESSAGE(unknown_to_loader.empty(),
                  "declared in config/afterhook.schema.json but refused by the loader: " << listed(unknown_to_loader));
    CHECK(declared.size() > 50);
}

TEST_CASE("the schema describes every key and refuses unknown keys everywhere") {
    const json schema = load_schema();
    CHECK(schema.at("$schema") == "https://json-schema.org/draft/2020-12/schema");
    std::vector<std::string> problems;
    check_described(schema, "#", problems);
    INFO(listed(problems));
    CHECK(problems.empty());
}

TEST_CASE("a hook needs a name and exactly one of the loader's sinks") {
    const json schema = load_schema();
    const json& hook = hook_schema(schema);
    CHECK(hook.at("required") == json::array({"name"}));
    std::set<std::string> one_of;
    for (const json& branch : hook.at("oneOf")) {
        REQUIRE(branch.size() == 1);
        REQUIRE(branch.at("required").size() == 1);
        one_of.insert(branch.at("required")[0].get<std::string>());
    }
    std::set<std::string> sinks;
    for (const std::string& path : known_key_paths()) {
        const std::string prefix = "hooks[].";
        const std::string rest = path.rfind(prefix, 0) == 0 ? path.substr(prefix.size()) : "";
        if (!rest.empty() && rest.find('.') == std::string::npos && rest != "name" && rest != "when" &&
            rest != "trigger") {
            sinks.insert(rest);
        }
    }
    CHECK(sinks == std::set<std::string>{"exec", "log", "webhook"});
    CHECK(one_of == sinks);
}

TEST_CASE("every leaf key has a default unless it is required or means something when left out") {
    const json schema = load_schema();
    std::vector<std::string> leaves;
    undefaulted_leaves(schema, schema, "", leaves);
    const json& hook = hook_schema(schema);
    undefaulted_leaves(schema, hook, "hooks[]", leaves);
    std::sort(leaves.begin(), leaves.end());
    CHECK(listed(leaves) == listed({"hooks[].exec.command", "hooks[].log.format", "hooks[].name", "hooks[].trigger",
                                    "hooks[].webhook.body", "hooks[].webhook.format", "hooks[].webhook.sign.secret",
                                    "hooks[].webhook.url"}));
}

TEST_CASE("the schema's defaults load as the built-in defaults") {
    const json schema = load_schema();
    const Config loaded = load_json(defaults_of(schema, schema));
    const Config expected = default_config();
    CHECK(loaded.listen.to_string() == expected.listen.to_string());
    CHECK(loaded.upstream.to_string() == expected.upstream.to_string());
    CHECK(loaded.workers == expected.workers);
    CHECK(loaded.admin_listen.to_string() == expected.admin_listen.to_string());
    CHECK(loaded.timeouts.connect == expected.timeouts.connect);
    CHECK(loaded.timeouts.request_header == expected.timeouts.request_header);
    CHECK(loaded.timeouts.upstream_response == expected.timeouts.upstream_response);
    CHECK(loaded.timeouts.idle == expected.timeouts.idle);
    CHECK(loaded.timeouts.drain == expected.timeouts.drain);
    CHECK(loaded.limits.max_connections == expected.limits.max_connections);
    CHECK(loaded.limits.max_header_bytes == expected.limits.max_header_bytes);
    CHECK(loaded.limits.max_headers == expected.limits.max_headers);
    CHECK(loaded.limits.max_body_bytes == expected.limits.max_body_bytes);
    CHECK(loaded.limits.max_uri_bytes == expected.limits.max_uri_bytes);
    CHECK(loaded.limits.max_chunk_extension_bytes == expected.limits.max_chunk_extension_bytes);
    CHECK(loaded.capture.headers == expected.capture.headers);
    CHECK(loaded.capture.response_headers == expected.capture.response_headers);
    CHECK(loaded.capture.cookies == expected.capture.cookies);
    CHECK(loaded.capture.redact == expected.capture.redact);
    CHECK(loaded.trigger_header == expected.trigger_header);
    REQUIRE(loaded.hooks.size() == expected.hooks.size());
    REQUIRE(loaded.hooks.size() == 1);
    CHECK(loaded.hooks[0].name == expected.hooks[0].name);
    CHECK(loaded.hooks[0].trigger_only == expected.hooks[0].trigger_only);
    REQUIRE(std::holds_alternative<LogSink>(loaded.hooks[0].sink));
    CHECK(std::get<LogSink>(loaded.hooks[0].sink).path == std::get<LogSink>(expected.hooks[0].sink).path);
    CHECK(std::get<LogSink>(loaded.hooks[0].sink).format.empty());
}

TEST_CASE("the schema's hook defaults load as the loader's hook defaults") {
    const json schema = load_schema();
    const json& sinks = hook_schema(schema).at("properties");

    SUBCASE("when and log") {
        const Hook hook = load_hook(schema, "log", defaults_of(schema, sinks.at("log")));
        const When expected_when;
        CHECK(hook.when.methods == expected_when.methods);
        CHECK(hook.when.paths == expected_when.paths);
        CHECK(hook.when.status.size() == expected_when.status.size());
        CHECK(hook.when.outcomes == expected_when.outcomes);
        CHECK(hook.when.sample == expected_when.sample);
        REQUIRE(std::holds_alternative<LogSink>(hook.sink));
        CHECK(std::get<LogSink>(hook.sink).path == LogSink{}.path);
    }
    SUBCASE("webhook") {
        json settings = defaults_of(schema, sinks.at("webhook"));
        settings["url"] = "http://127.0.0.1:9/";
        const Hook hook = load_hook(schema, "webhook", settings);
        REQUIRE(std::holds_alternative<WebhookSink>(hook.sink));
        const WebhookSink& loaded = std::get<WebhookSink>(hook.sink);
        const WebhookSink expected;
        CHECK(loaded.method == expected.method);
        CHECK(loaded.headers.size() == expected.headers.size());
        CHECK(loaded.body.kind == expected.body.kind);
        CHECK(loaded.format == expected.format);
        CHECK(loaded.timeout == expected.timeout);
        check_same_retry(loaded.retry, expected.retry);
        CHECK(loaded.concurrency == expected.concurrency);
        check_same_queue(loaded.queue, expected.queue);
        CHECK(loaded.sign_secret == expected.sign_secret);
        CHECK(loaded.tls_verify == expected.tls_verify);
    }
    SUBCASE("exec") {
        json settings = defaults_of(schema, sinks.at("exec"));
        settings["command"] = json::array({"/bin/true"});
        const Hook hook = load_hook(schema, "exec", settings);
        REQUIRE(std::holds_alternative<ExecSink>(hook.sink));
        const ExecSink& loaded = std::get<ExecSink>(hook.sink);
        const ExecSink expected;
        CHECK(loaded.timeout == expected.timeout);
        CHECK(loaded.kill_grace == expected.kill_grace);
        check_same_retry(loaded.retry, expected.retry);
        CHECK(loaded.concurrency == expected.concurrency);
        check_same_queue(loaded.queue, expected.queue);
    }
}
