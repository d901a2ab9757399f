// Every example in config/examples loads without errors, and each one shows
// the feature it is named after.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "config/config.h"

using namespace afterhook::config;

namespace {

const std::string kExamples = AFTERHOOK_SOURCE_DIR "/config/examples";

Config load_example(const std::string& name) {
    const LoadResult result = load_file(kExamples + "/" + name);
    std::vector<std::string> errors;
    for (const ConfigError& error : result.errors) {
        errors.push_back(error.to_string());
    }
    CAPTURE(name);
    REQUIRE(errors == std::vector<std::string>{});
    return result.config;
}

template <typename SinkKind>
const SinkKind& only_sink(const Config& config) {
    REQUIRE(config.hooks.size() == 1);
    REQUIRE(std::holds_alternative<SinkKind>(config.hooks[0].sink));
    return std::get<SinkKind>(config.hooks[0].sink);
}

bool has_part(const Template& t, TemplatePart::Kind kind, const std::string& name = "") {
    return std::any_of(t.parts.begin(), t.parts.end(), [&](const TemplatePart& part) {
        return part.kind == kind && (name.empty() || part.text == name);
    });
}

}  // namespace

TEST_CASE("every YAML file in config/examples loads without errors") {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(kExamples)) {
        if (entry.path().extension() == ".yaml") {
            names.push_back(entry.path().filename().string());
        }
    }
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"access-log.yaml", "analytics.yaml", "audit-log.yaml", "cache-purge.yaml",
                                            "default.yaml", "exec-cleanup.yaml", "proxy.yaml", "slack-on-5xx.yaml"});
    for (const std::string& name : names) {
        const Config config = load_example(name);
        CHECK_FALSE(config.hooks.empty());
    }
}

TEST_CASE("access-log.yaml: a text format on stdout") {
    const Config config = load_example("access-log.yaml");
    const LogSink& log = only_sink<LogSink>(config);
    CHECK(log.path == "stdout");
    CHECK(has_part(log.format, TemplatePart::Kind::request_header, "user-agent"));
    CHECK(has_part(log.format, TemplatePart::Kind::response_status));
}

TEST_CASE("audit-log.yaml: JSON lines to a file for changing methods") {
    const Config config = load_example("audit-log.yaml");
    const LogSink& log = only_sink<LogSink>(config);
    CHECK(log.path != "stdout");
    CHECK(log.format.empty());
    CHECK(config.hooks[0].when.methods == std::vector<std::string>{"POST", "PUT", "PATCH", "DELETE"});
}

TEST_CASE("slack-on-5xx.yaml: a JSON text body on server errors") {
    ::unsetenv("SLACK_WEBHOOK_URL");
    const Config config = load_example("slack-on-5xx.yaml");
    const WebhookSink& slack = only_sink<WebhookSink>(config);
    CHECK(slack.url.source == "http://127.0.0.1:9/slack");
    REQUIRE(slack.body.kind == Body::Kind::json);
    REQUIRE(slack.body.json.members.size() == 1);
    CHECK(slack.body.json.members[0].first == "text");
    REQUIRE(config.hooks[0].when.status.size() == 1);
    CHECK(config.hooks[0].when.status[0].low == 500);
    CHECK(config.hooks[0].when.status[0].high == 599);
}

TEST_CASE("cache-purge.yaml: a trigger hook with a trigger param in the URL") {
    const Config config = load_example("cache-purge.yaml");
    const WebhookSink& purge = only_sink<WebhookSink>(config);
    CHECK(config.hooks[0].trigger_only);
    CHECK(has_part(purge.url, TemplatePart::Kind::trigger_param, "key"));
    CHECK(purge.method == "PURGE");
}

TEST_CASE("analytics.yaml: sampled, signed CloudEvents with a typed JSON body") {
    ::unsetenv("WEBHOOK_SECRET");
    const Config config = load_example("analytics.yaml");
    const WebhookSink& analytics = only_sink<WebhookSink>(config);
    CHECK(config.hooks[0].when.sample == 0.1);
    CHECK(analytics.format == WebhookSink::Format::cloudevents);
    CHECK(analytics.sign_secret.starts_with("whsec_"));
    REQUIRE(analytics.body.kind == Body::Kind::json);
    CHECK(analytics.body.json.members[0].second.kind == JsonTemplate::Kind::number);
}

TEST_CASE("exec-cleanup.yaml: an absolute program with the request id as an argument") {
    const Config config = load_example("exec-cleanup.yaml");
    const ExecSink& cleanup = only_sink<ExecSink>(config);
    REQUIRE(cleanup.command.size() >= 2);
    CHECK(cleanup.command[0].source.starts_with("/"));
    const bool has_id = std::any_of(cleanup.command.begin() + 1, cleanup.command.end(),
                                    [](const Template& t) { return has_part(t, TemplatePart::Kind::request_id); });
    CHECK(has_id);
}
