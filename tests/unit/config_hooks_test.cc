// Hook configs: filters, triggers, the log format, webhook and exec sinks,
// templates compiled at load with their errors at the template's position,
// and JSON bodies that keep each scalar's YAML type.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include "config/config.h"

using namespace afterhook::config;

namespace {

LoadResult load(const std::string& yaml) {
    return load_string(yaml, "test.yaml");
}

std::vector<std::string> rendered(const LoadResult& result) {
    std::vector<std::string> lines;
    for (const ConfigError& error : result.errors) {
        lines.push_back(error.to_string());
    }
    return lines;
}

std::string only_error(const std::string& yaml) {
    const LoadResult result = load(yaml);
    CAPTURE(yaml);
    CAPTURE(rendered(result));
    REQUIRE(result.errors.size() == 1);
    return result.errors[0].to_string();
}

// The one hook of a valid config.
Hook only_hook(const std::string& yaml) {
    const LoadResult result = load(yaml);
    CAPTURE(yaml);
    REQUIRE(rendered(result) == std::vector<std::string>{});
    REQUIRE(result.config.hooks.size() == 1);
    return result.config.hooks[0];
}

WebhookSink webhook(const std::string& settings, const std::string& extra = "") {
    const Hook hook = only_hook(extra + "hooks:\n  - name: w\n    webhook: " + settings + "\n");
    REQUIRE(std::holds_alternative<WebhookSink>(hook.sink));
    return std::get<WebhookSink>(hook.sink);
}

ExecSink exec(const std::string& settings) {
    const Hook hook = only_hook("hooks:\n  - name: e\n    exec: " + settings + "\n");
    REQUIRE(std::holds_alternative<ExecSink>(hook.sink));
    return std::get<ExecSink>(hook.sink);
}

// The one error of a webhook hook whose settings stand on line 3, column 14.
std::string webhook_error(const std::string& settings) {
    return only_error("hooks:\n  - name: w\n    webhook: " + settings + "\n");
}

std::string exec_error(const std::string& settings) {
    return only_error("hooks:\n  - name: e\n    exec: " + settings + "\n");
}

std::string when_error(const std::string& when) {
    return only_error("hooks:\n  - name: a\n    log: {}\n    when: " + when + "\n");
}

When when_of(const std::string& when) {
    return only_hook("hooks:\n  - name: a\n    log: {}\n    when: " + when + "\n").when;
}

// "L:a-b" style summary of template parts, to compare compiled templates.
std::string kinds(const Template& t) {
    std::string out;
    for (const TemplatePart& part : t.parts) {
        if (!out.empty()) out += "|";
        out += part.kind == TemplatePart::Kind::literal ? "'" + part.text + "'" : "{" + part.text + "}";
    }
    return out;
}

class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) { REQUIRE(::setenv(name, value, 1) == 0); }
    ~ScopedEnv() { ::unsetenv(name_); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
};

bool same(const StatusRange& range, int low, int high) {
    return range.low == low && range.high == high;
}

}  // namespace

TEST_CASE("a hook with only its sink takes every default from config.h") {
    const Hook log_hook = only_hook("hooks:\n  - name: a\n    log: {}\n");
    CHECK_FALSE(log_hook.trigger_only);
    CHECK(log_hook.when.methods.empty());
    CHECK(log_hook.when.paths.empty());
    CHECK(log_hook.when.status.empty());
    CHECK(log_hook.when.outcomes.empty());
    CHECK(log_hook.when.sample == 1.0);
    REQUIRE(std::holds_alternative<LogSink>(log_hook.sink));
    CHECK(std::get<LogSink>(log_hook.sink).path == "stdout");
    CHECK(std::get<LogSink>(log_hook.sink).format.empty());

    const WebhookSink w = webhook("{url: 'http://127.0.0.1:9/x'}");
    const WebhookSink defaults;
    CHECK(w.url.source == "http://127.0.0.1:9/x");
    CHECK(w.method == "POST");
    CHECK(w.headers.empty());
    CHECK(w.body.kind == Body::Kind::record);
    CHECK(w.format == WebhookSink::Format::plain);
    CHECK(w.timeout == Duration{5000});
    CHECK(w.retry.attempts == 3);
    CHECK(w.retry.backoff == Duration{200});
    CHECK(w.retry.max_backoff == Duration{30000});
    CHECK(w.concurrency == 8);
    CHECK(w.queue.size == 10000);
    CHECK(w.queue.when_full == Queue::WhenFull::drop_newest);
    CHECK(w.sign_secret.empty());
    CHECK(w.tls_verify);
    CHECK(w.timeout == defaults.timeout);
    CHECK(w.concurrency == defaults.concurrency);

    const ExecSink e = exec("{command: [/bin/true]}");
    CHECK(e.command.size() == 1);
    CHECK(e.timeout == Duration{10000});
    CHECK(e.kill_grace == Duration{2000});
    CHECK(e.retry.attempts == 1);
    CHECK(e.retry.backoff == Duration{200});
    CHECK(e.retry.max_backoff == Duration{30000});
    CHECK(e.concurrency == 4);
    CHECK(e.queue.size == 10000);
    CHECK(e.queue.when_full == Queue::WhenFull::drop_newest);
}

TEST_CASE("when: every filter key") {
    const When when = when_of(
        "{methods: [get, Post, PURGE], paths: ['/', '/api/**', '/users/*/avatar', '/**/x', '/img/*.png'], "
        "status: [404, '502', 5xx, 2XX, 100, 599], outcome: [ok, upstream_error, upstream_timeout, rejected, "
        "client_abort], sample: 0.25}");
    CHECK(when.methods == std::vector<std::string>{"GET", "POST", "PURGE"});
    CHECK(when.paths == std::vector<std::string>{"/", "/api/**", "/users/*/avatar", "/**/x", "/img/*.png"});
    REQUIRE(when.status.size() == 6);
    CHECK(same(when.status[0], 404, 404));
    CHECK(same(when.status[1], 502, 502));
    CHECK(same(when.status[2], 500, 599));
    CHECK(same(when.status[3], 200, 299));
    CHECK(same(when.status[4], 100, 100));
    CHECK(same(when.status[5], 599, 599));
    CHECK(when.outcomes ==
          std::vector<std::string>{"ok", "upstream_error", "upstream_timeout", "rejected", "client_abort"});
    CHECK(when.sample == 0.25);

    CHECK(when_of("{sample: 0}").sample == 0.0);
    CHECK(when_of("{sample: 1}").sample == 1.0);
    CHECK(when_of("{sample: 1.0}").sample == 1.0);
    CHECK(when_of("{sample: 0.01}").sample == 0.01);
    CHECK(when_of("{sample: 1e-3}").sample == 0.001);
    CHECK(when_of("{methods: [], paths: [], status: [], outcome: []}").methods.empty());
    CHECK(when_of("{}").sample == 1.0);
}

TEST_CASE("when: bad filters are reported at the item") {
    CHECK(when_error("{methods: [GET, 'BAD METHOD']}") ==
          "test.yaml:4:27: hooks[0].when.methods[1]: invalid method 'BAD METHOD' (expected an HTTP method such as GET "
          "or POST)");
    CHECK(when_error("{methods: [get, GET]}") ==
          "test.yaml:4:27: hooks[0].when.methods[1]: 'GET' is listed twice (first at line 4)");
    CHECK(when_error("{methods: GET}") ==
          "test.yaml:4:21: hooks[0].when.methods: expected a list of methods, found a single value");
    CHECK(when_error("{paths: [api/**]}") ==
          "test.yaml:4:20: hooks[0].when.paths[0]: invalid path pattern 'api/**': must start with '/'");
    CHECK(when_error("{paths: ['/a?b=1']}") ==
          "test.yaml:4:20: hooks[0].when.paths[0]: invalid path pattern '/a?b=1': matches the path only; leave out "
          "'?' and '#'");
    CHECK(when_error("{paths: ['/img/**.png']}") ==
          "test.yaml:4:20: hooks[0].when.paths[0]: invalid path pattern '/img/**.png': '**' (any number of segments) "
          "stands for a whole segment between '/'; '*' matches within one");
    CHECK(when_error("{paths: ['/a b']}") ==
          "test.yaml:4:20: hooks[0].when.paths[0]: invalid path pattern '/a b': must not contain spaces or control "
          "characters");
    for (const char* bad : {"99", "600", "6xx", "0xx", "50x", "5xxx", "-404", "404.0", "ok"}) {
        CAPTURE(bad);
        CHECK(when_error(std::string("{status: [") + bad + "]}") ==
              std::string("test.yaml:4:21: hooks[0].when.status[0]: invalid status '") + bad +
                  "' (expected a code from 100 to 599 or a class from 1xx to 5xx)");
    }
    CHECK(when_error("{status: [5xx, 5XX]}") ==
          "test.yaml:4:26: hooks[0].when.status[1]: '5xx' is listed twice (first at line 4)");
    CHECK(when_error("{outcome: [timeout]}") ==
          "test.yaml:4:22: hooks[0].when.outcome[0]: unknown outcome 'timeout' (expected one of: ok, upstream_error, "
          "upstream_timeout, rejected, client_abort)");
    CHECK(when_error("{outcome: [rejectd]}") ==
          "test.yaml:4:22: hooks[0].when.outcome[0]: unknown outcome 'rejectd' (did you mean 'rejected'?)");
    for (const char* bad : {"1.5", "-0.1", "nan", "inf", "'50%'", "half", ".5e1"}) {
        CAPTURE(bad);
        const std::string shown = bad[0] == '\'' ? std::string(bad).substr(1, std::string(bad).size() - 2) : bad;
        CHECK(when_error(std::string("{sample: ") + bad + "}") ==
              "test.yaml:4:20: hooks[0].when.sample: must be a number from 0 to 1, got '" + shown + "'");
    }
    CHECK(when_error("{stauts: [5xx]}") ==
          "test.yaml:4:12: hooks[0].when.stauts: unknown key 'stauts' (did you mean 'status'?)");
    CHECK(when_error("[5xx]") == "test.yaml:4:11: hooks[0].when: expected a mapping, found a list");
}

TEST_CASE("trigger: header, alone or with a when") {
    const Hook trigger = only_hook("hooks:\n  - name: purge\n    trigger: header\n    webhook: {url: 'http://c/p'}\n");
    CHECK(trigger.trigger_only);
    const Hook both = only_hook(
        "hooks:\n  - name: purge\n    trigger: header\n    when: {status: [2xx]}\n    log: {}\n");
    CHECK(both.trigger_only);
    REQUIRE(both.when.status.size() == 1);
    CHECK(same(both.when.status[0], 200, 299));

    CHECK(only_error("hooks:\n  - name: a\n    trigger: always\n    log: {}\n") ==
          "test.yaml:3:14: hooks[0].trigger: unknown trigger 'always' (the only trigger is 'header')");
    CHECK(only_error("hooks:\n  - name: a\n    trigger: [header]\n    log: {}\n") ==
          "test.yaml:3:14: hooks[0].trigger: expected a single value, found a list");
    CHECK(only_error("hooks:\n  - name: a\n    trigger:\n    log: {}\n") ==
          "test.yaml:3:5: hooks[0].trigger: missing value");
}

TEST_CASE("log.format is a template") {
    const Hook hook =
        only_hook("hooks:\n  - name: a\n    log: {path: stderr, format: '{{request.method}} {{ response.status }}'}\n");
    const LogSink& sink = std::get<LogSink>(hook.sink);
    CHECK(sink.path == "stderr");
    CHECK(sink.format.source == "{{request.method}} {{ response.status }}");
    CHECK(kinds(sink.format) == "{}|' '|{}");
    REQUIRE(sink.format.parts.size() == 3);
    CHECK(sink.format.parts[0].kind == TemplatePart::Kind::request_method);
    CHECK(sink.format.parts[2].kind == TemplatePart::Kind::response_status);
    CHECK(sink.format.mark.line == 3);
    CHECK(sink.format.mark.column == 33);

    CHECK(only_error("hooks:\n  - name: a\n    log:\n      format: ''\n") ==
          "test.yaml:4:15: hooks[0].log.format: must not be empty (leave format out for JSON lines)");
    CHECK(only_error("hooks:\n  - name: a\n    log:\n      format: '{{request.methd}}'\n")
              .starts_with("test.yaml:4:15: hooks[0].log.format: unknown placeholder '{{request.methd}}' (fields: "));
    CHECK(only_error("hooks:\n  - name: a\n    log:\n      format: 'x {{request.id'\n") ==
          "test.yaml:4:15: hooks[0].log.format: unclosed placeholder: '{{' without '}}'");
}

TEST_CASE("template errors carry the template scalar's line:col and key path") {
    const LoadResult result = load(R"(hooks:
  - name: fine
    log: {}
  - name: slack
    webhook:
      url: "http://127.0.0.1:9/x"
      body:
        text: "{{request.method}} {{request.nope}}"
        blocks:
          - {type: section, text: "{{request.header.x-secret-header}}"}
      headers:
        X-Agent: "{{request.header.user-agent}}"
        X-Cookie: "{{request.cookie.sid}}"
        X-Type: "{{response.header.etag}}"
  - name: run
    exec:
      command: [/bin/echo, "{{trigger.}}", "{{client.ip}}"]
)");
    const std::vector<std::string> lines = rendered(result);
    REQUIRE(lines.size() == 5);
    CHECK(lines[0].starts_with("test.yaml:8:15: hooks[1].webhook.body.text: unknown placeholder '{{request.nope}}'"));
    CHECK(lines[1] ==
          "test.yaml:10:35: hooks[1].webhook.body.blocks[0].text: placeholder '{{request.header.x-secret-header}}' "
          "uses 'x-secret-header', which is not in capture.headers (hooks see only captured values)");
    CHECK(lines[2] ==
          "test.yaml:13:19: hooks[1].webhook.headers.X-Cookie: placeholder '{{request.cookie.sid}}' uses 'sid', which "
          "is not in capture.cookies (hooks see only captured values)");
    CHECK(lines[3] ==
          "test.yaml:14:17: hooks[1].webhook.headers.X-Type: placeholder '{{response.header.etag}}' uses 'etag', which "
          "is not in capture.response_headers (hooks see only captured values)");
    CHECK(lines[4] ==
          "test.yaml:17:28: hooks[2].exec.command[1]: placeholder '{{trigger.}}' needs a name after 'trigger.'");
    REQUIRE(result.config.hooks.size() == 1);
    CHECK(result.config.hooks[0].name == "fine");
}

TEST_CASE("templates see the capture section wherever it stands in the file") {
    const LoadResult result = load(R"(hooks:
  - name: w
    webhook:
      url: "http://127.0.0.1:9/{{request.header.x-tenant}}"
      body: {sid: "{{request.cookie.Sid}}", etag: "{{response.header.ETag}}"}
capture:
  headers: [X-Tenant]
  response_headers: [etag]
  cookies: [Sid]
)");
    REQUIRE(rendered(result) == std::vector<std::string>{});
    const WebhookSink& w = std::get<WebhookSink>(result.config.hooks[0].sink);
    CHECK(kinds(w.url) == "'http://127.0.0.1:9/'|{x-tenant}");
    CHECK(w.url.parts[1].kind == TemplatePart::Kind::request_header);
    CHECK(kinds(w.body.json.members[0].second.text) == "{Sid}");
    CHECK(kinds(w.body.json.members[1].second.text) == "{etag}");
}

TEST_CASE("one bad capture name does not also fail the templates using its neighbours") {
    CHECK(rendered(load(R"(capture:
  headers: [x-tenant, 'bad name']
hooks:
  - name: a
    log: {format: "{{request.header.x-tenant}}"}
)")) == std::vector<std::string>{"test.yaml:2:23: capture.headers[1]: invalid name 'bad name' (expected an HTTP "
                                  "token such as x-request-id)"});
}

TEST_CASE("webhook: every key") {
    const ScopedEnv secret("AFTERHOOK_TEST_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    const WebhookSink w = webhook(R"(
      url: "https://hooks.example/{{request.id}}?s={{response.status}}"
      method: put
      headers:
        X-Event: "afterhook {{hook}}"
        Authorization: Bearer token
      body: "{{request.method}} {{request.target}}"
      format: cloudevents
      timeout: 1.5s
      retry: {attempts: 7, backoff: 50ms, max_backoff: 2s}
      concurrency: 1024
      queue: {size: 10000000, when_full: drop_oldest}
      sign: {secret: "${AFTERHOOK_TEST_WEBHOOK_SECRET}"}
      tls_verify: false)");
    CHECK(w.url.source == "https://hooks.example/{{request.id}}?s={{response.status}}");
    CHECK(kinds(w.url) == "'https://hooks.example/'|{}|'?s='|{}");
    CHECK(w.method == "PUT");
    REQUIRE(w.headers.size() == 2);
    CHECK(w.headers[0].first == "X-Event");
    CHECK(kinds(w.headers[0].second) == "'afterhook '|{}");
    CHECK(w.headers[0].second.parts[1].kind == TemplatePart::Kind::hook_name);
    CHECK(w.headers[1].first == "Authorization");
    CHECK(kinds(w.headers[1].second) == "'Bearer token'");
    CHECK(w.body.kind == Body::Kind::text);
    CHECK(kinds(w.body.text) == "{}|' '|{}");
    CHECK(w.format == WebhookSink::Format::cloudevents);
    CHECK(w.timeout == Duration{1500});
    CHECK(w.retry.attempts == 7);
    CHECK(w.retry.backoff == Duration{50});
    CHECK(w.retry.max_backoff == Duration{2000});
    CHECK(w.concurrency == 1024);
    CHECK(w.queue.size == 10000000);
    CHECK(w.queue.when_full == Queue::WhenFull::drop_oldest);
    CHECK(w.sign_secret == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    CHECK_FALSE(w.tls_verify);

    CHECK(webhook("{url: 'HTTP://a', tls_verify: True, retry: {attempts: 1}, concurrency: 1, queue: {size: 1}}")
              .tls_verify);
    CHECK(webhook("{url: 'http://a', sign: {secret: plain-shared-secret}}").sign_secret == "plain-shared-secret");
    CHECK(webhook("{url: 'http://a', body: ''}").body.kind == Body::Kind::text);
}

TEST_CASE("webhook: the URL's scheme is written out, never a placeholder") {
    CHECK(webhook("{url: 'http://{{request.host}}/x'}").url.parts.size() == 3);
    CHECK(webhook_error("{}") == "test.yaml:3:14: hooks[0].webhook: missing required key 'url'");
    CHECK(webhook_error("{url: '{{request.scheme}}://x/y'}") ==
          "test.yaml:3:20: hooks[0].webhook.url: invalid URL '{{request.scheme}}://x/y': must start with http:// or "
          "https:// written out (the scheme cannot come from a placeholder)");
    CHECK(webhook_error("{url: 'ftp://files/x'}") ==
          "test.yaml:3:20: hooks[0].webhook.url: invalid URL 'ftp://files/x': must start with http:// or https:// "
          "written out (the scheme cannot come from a placeholder)");
    CHECK(webhook_error("{url: 'http{{request.id}}://x'}").find("must start with http:// or https://") !=
          std::string::npos);
    CHECK(webhook_error("{url: 'cache.internal/purge'}").find("must start with http://") != std::string::npos);
    CHECK(webhook_error("{url: 'https://'}") ==
          "test.yaml:3:20: hooks[0].webhook.url: invalid URL 'https://': has no host after the scheme");
    CHECK(webhook_error("{url: 'http://a/b c'}") ==
          "test.yaml:3:20: hooks[0].webhook.url: invalid URL 'http://a/b c': must not contain spaces or control "
          "characters (percent-encode them)");
    CHECK(webhook_error("{url: \"http://a/\\n\"}").find("must not contain spaces or control characters") !=
          std::string::npos);
    CHECK(webhook_error("{url: [http://a]}") ==
          "test.yaml:3:20: hooks[0].webhook.url: expected a single value, found a list");
    CHECK(webhook_error("{url: 'http://a/{{request.nope}}'}")
              .starts_with("test.yaml:3:20: hooks[0].webhook.url: unknown placeholder '{{request.nope}}'"));
}

TEST_CASE("webhook: a URL from the environment is never repeated in a message") {
    const ScopedEnv url("AFTERHOOK_TEST_URL", "ftp://user:hunter2@files/x");
    const ScopedEnv braces("AFTERHOOK_TEST_BRACES", "http://user:hunter2@a/{{oops}}");
    CHECK(webhook_error("{url: '${AFTERHOOK_TEST_URL}'}") ==
          "test.yaml:3:20: hooks[0].webhook.url: invalid URL (value from environment): must start with http:// or "
          "https:// written out (the scheme cannot come from a placeholder)");
    CHECK(webhook_error("{url: '${AFTERHOOK_TEST_BRACES}'}") ==
          "test.yaml:3:20: hooks[0].webhook.url: the value from the environment holds '{{' that does not start a "
          "valid placeholder");
    // A placeholder written in the file itself is named.
    CHECK(webhook_error("{url: '${AFTERHOOK_TEST_UNSET_URL:-http://a}/{{request.nope}}'}")
              .starts_with("test.yaml:3:20: hooks[0].webhook.url: unknown placeholder '{{request.nope}}'"));
    const WebhookSink w = webhook("{url: '${AFTERHOOK_TEST_UNSET_URL:-http://127.0.0.1:9/slack}'}");
    CHECK(w.url.source == "http://127.0.0.1:9/slack");
}

TEST_CASE("webhook: method, headers, format and tls_verify") {
    CHECK(webhook("{url: 'http://a', method: Purge}").method == "PURGE");
    CHECK(webhook_error("{url: 'http://a', method: 'GET /'}") ==
          "test.yaml:3:40: hooks[0].webhook.method: invalid method 'GET /' (expected an HTTP method such as POST or "
          "PUT)");
    CHECK(webhook_error("{url: 'http://a', headers: {'X Bad': v}}") ==
          "test.yaml:3:42: hooks[0].webhook.headers.X Bad: invalid header name 'X Bad' (expected an HTTP token such "
          "as X-Event)");
    CHECK(webhook_error("{url: 'http://a', headers: {X-A: 1, x-a: 2}}") ==
          "test.yaml:3:50: hooks[0].webhook.headers.x-a: duplicate header 'x-a' (first at line 3)");
    CHECK(webhook_error("{url: 'http://a', headers: {Content-Length: '5'}}") ==
          "test.yaml:3:42: hooks[0].webhook.headers.Content-Length: 'Content-Length' is set by afterhook, which "
          "frames the request itself");
    CHECK(webhook_error("{url: 'http://a', headers: {X-A: \"a\\r\\nInjected: 1\"}}") ==
          "test.yaml:3:47: hooks[0].webhook.headers.X-A: a header value must not contain line breaks or control "
          "characters");
    CHECK(webhook_error("{url: 'http://a', headers: [X-A]}") ==
          "test.yaml:3:41: hooks[0].webhook.headers: expected a mapping of header names to values, found a list");
    CHECK(webhook_error("{url: 'http://a', headers: {X-A: }}") ==
          "test.yaml:3:42: hooks[0].webhook.headers.X-A: missing value");
    CHECK(webhook_error("{url: 'http://a', format: cloudevent}") ==
          "test.yaml:3:40: hooks[0].webhook.format: unknown format 'cloudevent' (the only format is 'cloudevents'; "
          "leave format out to send the body as it is)");
    CHECK(webhook_error("{url: 'http://a', tls_verify: no}") ==
          "test.yaml:3:44: hooks[0].webhook.tls_verify: must be true or false, got 'no'");
    CHECK(webhook_error("{url: 'http://a', tls_verfy: false}") ==
          "test.yaml:3:32: hooks[0].webhook.tls_verfy: unknown key 'tls_verfy' (did you mean 'tls_verify'?)");
}

TEST_CASE("webhook and exec: timeout, retry, concurrency and queue bounds") {
    CHECK(webhook("{url: 'http://a', retry: {attempts: 100}}").retry.attempts == 100);
    CHECK(webhook("{url: 'http://a', retry: {backoff: 1m, max_backoff: 1m}}").retry.backoff == Duration{60000});
    CHECK(webhook_error("{url: 'http://a', retry: {attempts: 0}}") ==
          "test.yaml:3:50: hooks[0].webhook.retry.attempts: must be a whole number from 1 to 100, got '0'");
    CHECK(webhook_error("{url: 'http://a', retry: {attempts: 101}}") ==
          "test.yaml:3:50: hooks[0].webhook.retry.attempts: must be a whole number from 1 to 100, got '101'");
    CHECK(webhook_error("{url: 'http://a', retry: {backoff: 10s, max_backoff: 1s}}") ==
          "test.yaml:3:67: hooks[0].webhook.retry.max_backoff: max_backoff (1s) must not be less than backoff (10s)");
    CHECK(webhook_error("{url: 'http://a', retry: {backoff: 1m}}") ==
          "test.yaml:3:49: hooks[0].webhook.retry.backoff: max_backoff (30s) must not be less than backoff (1m)");
    CHECK(webhook_error("{url: 'http://a', retry: {backof: 1s}}") ==
          "test.yaml:3:40: hooks[0].webhook.retry.backof: unknown key 'backof' (did you mean 'backoff'?)");
    CHECK(webhook_error("{url: 'http://a', timeout: 0s}") ==
          "test.yaml:3:41: hooks[0].webhook.timeout: must be more than 0 and at most 24h, got '0s'");
    CHECK(webhook_error("{url: 'http://a', concurrency: 0}") ==
          "test.yaml:3:45: hooks[0].webhook.concurrency: must be a whole number from 1 to 1024, got '0'");
    CHECK(webhook_error("{url: 'http://a', concurrency: 1025}") ==
          "test.yaml:3:45: hooks[0].webhook.concurrency: must be a whole number from 1 to 1024, got '1025'");
    CHECK(webhook_error("{url: 'http://a', queue: {size: 0}}") ==
          "test.yaml:3:46: hooks[0].webhook.queue.size: must be a whole number from 1 to 10000000, got '0'");
    CHECK(webhook_error("{url: 'http://a', queue: {size: 10000001}}") ==
          "test.yaml:3:46: hooks[0].webhook.queue.size: must be a whole number from 1 to 10000000, got '10000001'");
    CHECK(webhook_error("{url: 'http://a', queue: {when_full: drop_newst}}") ==
          "test.yaml:3:51: hooks[0].webhook.queue.when_full: unknown policy 'drop_newst' (did you mean "
          "'drop_newest'?)");
    CHECK(webhook_error("{url: 'http://a', queue: {when_full: block}}") ==
          "test.yaml:3:51: hooks[0].webhook.queue.when_full: unknown policy 'block' (expected one of: drop_newest, "
          "drop_oldest)");

    const ExecSink e = exec(
        "{command: [/bin/sh], timeout: 250ms, kill_grace: 1s, retry: {attempts: 4, backoff: 1s, max_backoff: 8s}, "
        "concurrency: 16, queue: {size: 5, when_full: drop_oldest}}");
    CHECK(e.timeout == Duration{250});
    CHECK(e.kill_grace == Duration{1000});
    CHECK(e.retry.attempts == 4);
    CHECK(e.retry.backoff == Duration{1000});
    CHECK(e.retry.max_backoff == Duration{8000});
    CHECK(e.concurrency == 16);
    CHECK(e.queue.size == 5);
    CHECK(e.queue.when_full == Queue::WhenFull::drop_oldest);
    CHECK(exec_error("{command: [/bin/true], kill_grace: soon}") ==
          "test.yaml:3:46: hooks[0].exec.kill_grace: invalid duration 'soon' (expected a number and a unit: 250ms, "
          "1.5s, 2s, 1m, 1h)");
    CHECK(exec_error("{command: [/bin/true], concurrency: 2000}") ==
          "test.yaml:3:47: hooks[0].exec.concurrency: must be a whole number from 1 to 1024, got '2000'");
    CHECK(exec_error("{command: [/bin/true], url: 'http://a'}") ==
          "test.yaml:3:34: hooks[0].exec.url: unknown key 'url'");
}

TEST_CASE("webhook: sign.secret is checked and never repeated in a message") {
    const char* leaked = "hunter2";
    const ScopedEnv bad("AFTERHOOK_TEST_BAD_SECRET", "whsec_hunter2!");
    const ScopedEnv good("AFTERHOOK_TEST_GOOD_SECRET", "hunter2");
    CHECK(webhook("{url: 'http://a', sign: {secret: '${AFTERHOOK_TEST_GOOD_SECRET}'}}").sign_secret == "hunter2");
    const std::vector<std::string> errors{
        webhook_error("{url: 'http://a', sign: {secret: '${AFTERHOOK_TEST_BAD_SECRET}'}}"),
        webhook_error("{url: 'http://a', sign: {secret: 'whsec_hunter2!'}}"),
        webhook_error("{url: 'http://a', sign: {secret: '${AFTERHOOK_TEST_BAD_SECRET:-x}'}}"),
    };
    for (const std::string& line : errors) {
        CAPTURE(line);
        CHECK(line ==
              "test.yaml:3:47: hooks[0].webhook.sign.secret: a secret starting with 'whsec_' must be base64 after the "
              "prefix");
        CHECK(line.find(leaked) == std::string::npos);
    }
    CHECK(webhook_error("{url: 'http://a', sign: {secret: ''}}") ==
          "test.yaml:3:47: hooks[0].webhook.sign.secret: must not be empty");
    CHECK(webhook_error("{url: 'http://a', sign: {}}") ==
          "test.yaml:3:38: hooks[0].webhook.sign: missing required key 'secret'");
    CHECK(webhook_error("{url: 'http://a', sign: {secret: hunter2, key: hunter2}}") ==
          "test.yaml:3:56: hooks[0].webhook.sign.key: unknown key 'key'");
    ::unsetenv("AFTERHOOK_TEST_UNSET_SECRET");
    CHECK(webhook_error("{url: 'http://a', sign: {secret: '${AFTERHOOK_TEST_UNSET_SECRET}'}}") ==
          "test.yaml:3:47: hooks[0].webhook.sign.secret: environment variable 'AFTERHOOK_TEST_UNSET_SECRET' is not "
          "set");
}

TEST_CASE("webhook body: a YAML mapping is a JSON template whose scalars keep their YAML type") {
    const ScopedEnv count("AFTERHOOK_TEST_COUNT", "17");
    const WebhookSink w = webhook(R"(
      url: 'http://a'
      body:
        number: 42
        negative: -1.5e3
        quoted_number: "42"
        single_quoted: '42'
        tagged_string: !!str 42
        tagged_int: !!int "7"
        yes_bool: true
        no_bool: False
        quoted_bool: "true"
        nothing: null
        tilde: ~
        empty:
        text: "{{request.method}} done"
        status: "{{response.status}}"
        leading_zero: 007
        hex: 0x1F
        plain_word: hello
        from_env: ${AFTERHOOK_TEST_COUNT}
        block: |
          line one
        nested:
          list: [1, "1", {deep: [true, null, "{{outcome}}"]}]
          empty_map: {}
          empty_list: []
)");
    REQUIRE(w.body.kind == Body::Kind::json);
    const JsonTemplate& root = w.body.json;
    REQUIRE(root.kind == JsonTemplate::Kind::object);
    using K = JsonTemplate::Kind;
    struct Expected {
        const char* key;
        K kind;
        const char* literal_or_source;
    };
    const std::vector<Expected> expected{
        {"number", K::number, "42"},
        {"negative", K::number, "-1.5e3"},
        {"quoted_number", K::string, "42"},
        {"single_quoted", K::string, "42"},
        {"tagged_string", K::string, "42"},
        {"tagged_int", K::number, "7"},
        {"yes_bool", K::boolean, "true"},
        {"no_bool", K::boolean, "false"},
        {"quoted_bool", K::string, "true"},
        {"nothing", K::null, ""},
        {"tilde", K::null, ""},
        {"empty", K::null, ""},
        {"text", K::string, "{{request.method}} done"},
        {"status", K::string, "{{response.status}}"},
        {"leading_zero", K::string, "007"},
        {"hex", K::string, "0x1F"},
        {"plain_word", K::string, "hello"},
        {"from_env", K::number, "17"},
        {"block", K::string, "line one\n"},
    };
    REQUIRE(root.members.size() == expected.size() + 1);
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& [key, value] = root.members[i];
        CAPTURE(key);
        CHECK(key == expected[i].key);
        CHECK(value.kind == expected[i].kind);
        if (value.kind == K::string) {
            CHECK(value.text.source == expected[i].literal_or_source);
        } else {
            CHECK(value.literal == expected[i].literal_or_source);
        }
    }
    CHECK(root.members[12].second.text.parts[0].kind == TemplatePart::Kind::request_method);
    CHECK(root.members[12].second.text.mark.line == 18);
    CHECK(root.members[12].second.text.mark.column == 15);

    const auto& [nested_key, nested] = root.members.back();
    CHECK(nested_key == "nested");
    REQUIRE(nested.kind == K::object);
    REQUIRE(nested.members.size() == 3);
    const JsonTemplate& list = nested.members[0].second;
    REQUIRE(list.kind == K::array);
    REQUIRE(list.items.size() == 3);
    CHECK(list.items[0].kind == K::number);
    CHECK(list.items[1].kind == K::string);
    REQUIRE(list.items[2].kind == K::object);
    const JsonTemplate& deep = list.items[2].members[0].second;
    REQUIRE(deep.kind == K::array);
    REQUIRE(deep.items.size() == 3);
    CHECK(deep.items[0].kind == K::boolean);
    CHECK(deep.items[1].kind == K::null);
    CHECK(deep.items[2].kind == K::string);
    CHECK(deep.items[2].text.parts[0].kind == TemplatePart::Kind::outcome);
    CHECK(nested.members[1].second.kind == K::object);
    CHECK(nested.members[1].second.members.empty());
    CHECK(nested.members[2].second.kind == K::array);
    CHECK(nested.members[2].second.items.empty());
}

TEST_CASE("webhook body: a list at the top, a text body, and the record when left out") {
    const WebhookSink list = webhook("{url: 'http://a', body: [1, '{{request.id}}']}");
    CHECK(list.body.kind == Body::Kind::json);
    REQUIRE(list.body.json.kind == JsonTemplate::Kind::array);
    CHECK(list.body.json.items.size() == 2);
    const WebhookSink text = webhook("{url: 'http://a', body: 'id={{request.id}}'}");
    CHECK(text.body.kind == Body::Kind::text);
    CHECK(kinds(text.body.text) == "'id='|{}");
    CHECK(webhook("{url: 'http://a'}").body.kind == Body::Kind::record);
}

TEST_CASE("webhook body: mistakes inside a JSON body are reported at the value") {
    // A null value is reported at its key, as every key given no value is.
    CHECK(webhook_error("{url: 'http://a', body: ~}") ==
          "test.yaml:3:32: hooks[0].webhook.body: expected a mapping or a list (a JSON body) or a text template, "
          "found nothing (leave body out to send the record)");
    CHECK(webhook_error("{url: 'http://a', body: {a: 1, a: 2}}") ==
          "test.yaml:3:45: hooks[0].webhook.body.a: duplicate key 'a' (first at line 3)");
    CHECK(webhook_error("{url: 'http://a', body: {'{{request.id}}': 1}}") ==
          "test.yaml:3:39: hooks[0].webhook.body.{{request.id}}: keys are written as they stand; placeholders belong "
          "in values");
    CHECK(webhook_error("{url: 'http://a', body: {[a]: 1}}") ==
          "test.yaml:3:39: hooks[0].webhook.body: a key must be a plain name, found a list");
    CHECK(webhook_error("{url: 'http://a', body: {n: !!int 'x'}}") ==
          "test.yaml:3:42: hooks[0].webhook.body.n: a number must be written as JSON writes it (such as 42, -1.5 or "
          "2e3), got 'x'");
    CHECK(webhook_error("{url: 'http://a', body: {n: !!bool 'yes'}}") ==
          "test.yaml:3:42: hooks[0].webhook.body.n: a boolean must be true or false, got 'yes'");
    CHECK(webhook_error("{url: 'http://a', body: {n: !secret x}}") ==
          "test.yaml:3:42: hooks[0].webhook.body.n: unsupported tag '!secret' (body values are mappings, lists, "
          "strings, numbers, booleans and null)");
    CHECK(webhook_error("{url: 'http://a', body: {list: [1, '{{nope}}']}}")
              .starts_with("test.yaml:3:49: hooks[0].webhook.body.list[1]: unknown placeholder '{{nope}}'"));
}

TEST_CASE("webhook body: aliases cannot make a body endless or huge") {
    CHECK(webhook_error("{url: 'http://a', body: &b {a: *b}}").find("the body is too large") != std::string::npos);
    std::string wide = "hooks:\n  - name: w\n    webhook:\n      url: 'http://a'\n      body:\n";
    wide += "        l0: &l0 [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n";
    for (int level = 1; level <= 5; ++level) {
        const std::string previous = "*l" + std::to_string(level - 1);
        wide += "        l" + std::to_string(level) + ": &l" + std::to_string(level) + " [" + previous;
        for (int i = 1; i < 10; ++i) wide += ", " + previous;
        wide += "]\n";
    }
    const std::string error = only_error(wide);
    CHECK(error.find("the body is too large: at most 10000 values, nested at most 32 deep") != std::string::npos);
}

TEST_CASE("exec: command is a non-empty list whose program is an absolute path written out") {
    const ExecSink e = exec("{command: [/usr/local/bin/cleanup, --id, '{{request.id}}', '', 'x={{client.port}}']}");
    REQUIRE(e.command.size() == 5);
    CHECK(kinds(e.command[0]) == "'/usr/local/bin/cleanup'");
    CHECK(kinds(e.command[2]) == "{}");
    CHECK(e.command[2].parts[0].kind == TemplatePart::Kind::request_id);
    CHECK(e.command[3].empty());
    CHECK(kinds(e.command[4]) == "'x='|{}");
    CHECK(e.command[2].mark.line == 3);
    CHECK(e.command[2].mark.column == 52);
    CHECK(exec("{command: ['${AFTERHOOK_TEST_UNSET_BIN:-/bin/true}']}").command[0].source == "/bin/true");

    CHECK(exec_error("{}") == "test.yaml:3:11: hooks[0].exec: missing required key 'command'");
    CHECK(exec_error("{command: []}") ==
          "test.yaml:3:21: hooks[0].exec.command: must name the program to run: [/absolute/path, arguments...]");
    CHECK(exec_error("{command: /bin/true}") ==
          "test.yaml:3:21: hooks[0].exec.command: expected a list: the program's absolute path, then its arguments, "
          "found a single value");
    CHECK(exec_error("{command: [cleanup, x]}") ==
          "test.yaml:3:22: hooks[0].exec.command[0]: the program must be an absolute path (there is no shell and no "
          "PATH search), got 'cleanup'");
    CHECK(exec_error("{command: ['']}") ==
          "test.yaml:3:22: hooks[0].exec.command[0]: the program must be an absolute path (there is no shell and no "
          "PATH search), got ''");
    CHECK(exec_error("{command: ['/usr/bin/{{request.path}}']}") ==
          "test.yaml:3:22: hooks[0].exec.command[0]: the program must be written out; placeholders belong in the "
          "arguments");
    CHECK(exec_error("{command: [/bin/echo, \"a\\0b\"]}") ==
          "test.yaml:3:33: hooks[0].exec.command[1]: must not contain a NUL character");
    CHECK(exec_error("{command: [/bin/echo, [a]]}") ==
          "test.yaml:3:33: hooks[0].exec.command[1]: expected a single value, found a list");
}

TEST_CASE("five mistakes in hooks give five errors with their exact positions, in file order") {
    const LoadResult result = load(R"(hooks:
  - name: slack
    when: {status: [5xx, 600]}
    webhook:
      url: "{{request.scheme}}://hooks.example/x"
      body: {text: "{{request.header.x-user}} failed"}
  - name: cleanup
    exec:
      command: [cleanup, "{{request.id}}"]
      retry: {attempts: 0}
)");
    CHECK(rendered(result) ==
          std::vector<std::string>{
              "test.yaml:3:26: hooks[0].when.status[1]: invalid status '600' (expected a code from 100 to 599 or a "
              "class from 1xx to 5xx)",
              "test.yaml:5:12: hooks[0].webhook.url: invalid URL '{{request.scheme}}://hooks.example/x': must start "
              "with http:// or https:// written out (the scheme cannot come from a placeholder)",
              "test.yaml:6:20: hooks[0].webhook.body.text: placeholder '{{request.header.x-user}}' uses 'x-user', "
              "which is not in capture.headers (hooks see only captured values)",
              "test.yaml:9:17: hooks[1].exec.command[0]: the program must be an absolute path (there is no shell and "
              "no PATH search), got 'cleanup'",
              "test.yaml:10:25: hooks[1].exec.retry.attempts: must be a whole number from 1 to 100, got '0'",
          });
    CHECK(result.config.hooks.empty());
}

TEST_CASE("a value from the environment never appears in a hook error") {
    const ScopedEnv secret("AFTERHOOK_TEST_HOOK_SECRET", "whsec_s3cr3t!{{s3cr3t}}");
    const LoadResult result = load(R"(hooks:
  - name: a
    when:
      methods: ["${AFTERHOOK_TEST_HOOK_SECRET}"]
      paths: ["${AFTERHOOK_TEST_HOOK_SECRET}"]
      status: ["${AFTERHOOK_TEST_HOOK_SECRET}"]
      outcome: ["${AFTERHOOK_TEST_HOOK_SECRET}"]
      sample: "${AFTERHOOK_TEST_HOOK_SECRET}"
    trigger: "${AFTERHOOK_TEST_HOOK_SECRET}"
    webhook:
      url: "${AFTERHOOK_TEST_HOOK_SECRET}"
      method: "${AFTERHOOK_TEST_HOOK_SECRET}"
      headers: {X-A: "${AFTERHOOK_TEST_HOOK_SECRET}"}
      body: {a: "${AFTERHOOK_TEST_HOOK_SECRET}", n: !!int "${AFTERHOOK_TEST_HOOK_SECRET}"}
      format: "${AFTERHOOK_TEST_HOOK_SECRET}"
      tls_verify: "${AFTERHOOK_TEST_HOOK_SECRET}"
      queue: {when_full: "${AFTERHOOK_TEST_HOOK_SECRET}"}
      sign: {secret: "${AFTERHOOK_TEST_HOOK_SECRET}"}
  - name: b
    log: {format: "${AFTERHOOK_TEST_HOOK_SECRET}"}
  - name: c
    exec: {command: ["${AFTERHOOK_TEST_HOOK_SECRET}", "${AFTERHOOK_TEST_HOOK_SECRET}"]}
)");
    const std::vector<std::string> lines = rendered(result);
    CHECK(lines.size() == 18);
    for (const std::string& line : lines) {
        CAPTURE(line);
        CHECK(line.find("s3cr3t") == std::string::npos);
    }
}
