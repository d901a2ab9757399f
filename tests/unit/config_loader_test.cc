// The YAML loader: defaults, a full config, every kind of error with its
// exact position and key path, environment substitution and the examples.
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

// The only error of a config that must have exactly one.
std::string only_error(const std::string& yaml) {
    const LoadResult result = load(yaml);
    CAPTURE(yaml);
    REQUIRE(result.errors.size() == 1);
    return result.errors[0].to_string();
}

std::string log_path(const Hook& hook) {
    REQUIRE(std::holds_alternative<LogSink>(hook.sink));
    return std::get<LogSink>(hook.sink).path;
}

void check_same(const Config& a, const Config& b) {
    CHECK(a.listen.to_string() == b.listen.to_string());
    CHECK(a.upstream.to_string() == b.upstream.to_string());
    CHECK(a.workers == b.workers);
    CHECK(a.admin_listen.to_string() == b.admin_listen.to_string());
    CHECK(a.timeouts.connect == b.timeouts.connect);
    CHECK(a.timeouts.request_header == b.timeouts.request_header);
    CHECK(a.timeouts.upstream_response == b.timeouts.upstream_response);
    CHECK(a.timeouts.idle == b.timeouts.idle);
    CHECK(a.timeouts.drain == b.timeouts.drain);
    CHECK(a.limits.max_connections == b.limits.max_connections);
    CHECK(a.limits.max_header_bytes == b.limits.max_header_bytes);
    CHECK(a.limits.max_headers == b.limits.max_headers);
    CHECK(a.limits.max_body_bytes == b.limits.max_body_bytes);
    CHECK(a.limits.max_uri_bytes == b.limits.max_uri_bytes);
    CHECK(a.limits.max_chunk_extension_bytes == b.limits.max_chunk_extension_bytes);
    CHECK(a.capture.headers == b.capture.headers);
    CHECK(a.capture.response_headers == b.capture.response_headers);
    CHECK(a.capture.cookies == b.capture.cookies);
    CHECK(a.capture.redact == b.capture.redact);
    CHECK(a.trigger_header == b.trigger_header);
    REQUIRE(a.hooks.size() == b.hooks.size());
    for (std::size_t i = 0; i < a.hooks.size(); ++i) {
        CHECK(a.hooks[i].name == b.hooks[i].name);
        CHECK(log_path(a.hooks[i]) == log_path(b.hooks[i]));
    }
}

// Sets a variable for the lifetime of the guard.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) { REQUIRE(::setenv(name, value, 1) == 0); }
    ~ScopedEnv() { ::unsetenv(name_); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
};

}  // namespace

TEST_CASE("an empty document, {} or only comments give the built-in defaults") {
    for (const char* yaml : {"", "{}", "# nothing here\n", "---\n"}) {
        CAPTURE(yaml);
        const LoadResult result = load(yaml);
        CHECK(result.ok());
        CHECK(result.config.source == "test.yaml");
        check_same(result.config, default_config());
    }
}

TEST_CASE("missing keys keep their defaults and a missing hooks key keeps the access-log hook") {
    const LoadResult result = load("upstream: 127.0.0.1:3000\ntimeouts: {idle: 5s}\n");
    REQUIRE(result.ok());
    CHECK(result.config.upstream.to_string() == "127.0.0.1:3000");
    CHECK(result.config.timeouts.idle == Duration{5000});
    CHECK(result.config.timeouts.connect == Duration{2000});
    CHECK(result.config.listen.to_string() == "0.0.0.0:8000");
    REQUIRE(result.config.hooks.size() == 1);
    CHECK(result.config.hooks[0].name == "access-log");
    CHECK(log_path(result.config.hooks[0]) == "stdout");
}

TEST_CASE("hooks: an empty list means no hooks") {
    const LoadResult result = load("hooks: []\n");
    REQUIRE(result.ok());
    CHECK(result.config.hooks.empty());
}

TEST_CASE("a full valid config sets every field") {
    const LoadResult result = load(R"(listen: "[::1]:0"
upstream: http://app.internal:3000/
workers: 4
admin: {listen: 127.0.0.1:0}
timeouts:
  connect: 250ms
  request_header: 1.5s
  upstream_response: 2m
  idle: 1h
  drain: 3s
limits:
  max_connections: 500
  max_header_bytes: 1MiB
  max_headers: 1000
  max_body_bytes: 10MB
  max_uri_bytes: 256
  max_chunk_extension_bytes: 64KiB
capture:
  headers: [User-Agent, X-Tenant]
  response_headers: []
  cookies: [Session-ID]
  redact: [Authorization]
trigger_header: X-After
hooks:
  - name: access-log
    log: {path: stderr}
  - name: audit_2
    log:
      path: /var/log/afterhook/audit.jsonl
  - name: plain
    log: {}
)");
    CHECK(rendered(result) == std::vector<std::string>{});
    const Config& c = result.config;
    CHECK(c.listen.host == "::1");
    CHECK(c.listen.port == 0);
    CHECK(c.upstream.host == "app.internal");
    CHECK(c.upstream.port == 3000);
    CHECK(c.workers == 4);
    CHECK(c.admin_listen.to_string() == "127.0.0.1:0");
    CHECK(c.timeouts.connect == Duration{250});
    CHECK(c.timeouts.request_header == Duration{1500});
    CHECK(c.timeouts.upstream_response == Duration{120000});
    CHECK(c.timeouts.idle == Duration{3600000});
    CHECK(c.timeouts.drain == Duration{3000});
    CHECK(c.limits.max_connections == 500);
    CHECK(c.limits.max_header_bytes == 1048576);
    CHECK(c.limits.max_headers == 1000);
    CHECK(c.limits.max_body_bytes == 10000000);
    CHECK(c.limits.max_uri_bytes == 256);
    CHECK(c.limits.max_chunk_extension_bytes == 65536);
    CHECK(c.capture.headers == std::vector<std::string>{"user-agent", "x-tenant"});
    CHECK(c.capture.response_headers.empty());
    CHECK(c.capture.cookies == std::vector<std::string>{"Session-ID"});
    CHECK(c.capture.redact == std::vector<std::string>{"authorization"});
    CHECK(c.trigger_header == "x-after");
    REQUIRE(c.hooks.size() == 3);
    CHECK(c.hooks[0].name == "access-log");
    CHECK(log_path(c.hooks[0]) == "stderr");
    CHECK(c.hooks[0].mark.line == 25);
    CHECK(c.hooks[0].mark.column == 5);
    CHECK(c.hooks[1].name == "audit_2");
    CHECK(log_path(c.hooks[1]) == "/var/log/afterhook/audit.jsonl");
    CHECK(c.hooks[1].mark.line == 27);
    CHECK(c.hooks[2].name == "plain");
    CHECK(log_path(c.hooks[2]) == "stdout");
}

TEST_CASE("five mistakes give five errors with their exact positions, in file order") {
    const LoadResult result = load(R"(listen: 0.0.0.0:8000
upstream: https://app:443
workers: 0
timeouts:
  connect: 2 seconds
  idel: 30s
limits:
  max_header_bytes: 512
)");
    CHECK(rendered(result) ==
          std::vector<std::string>{
              "test.yaml:2:11: upstream: TLS to the upstream is not supported; use host:port or http://host:port",
              "test.yaml:3:10: workers: must be 'auto' or a whole number from 1 to 256, got '0'",
              "test.yaml:5:12: timeouts.connect: invalid duration '2 seconds' (expected a number and a unit: "
              "250ms, 1.5s, 2s, 1m, 1h)",
              "test.yaml:6:3: timeouts.idel: unknown key 'idel' (did you mean 'idle'?)",
              "test.yaml:8:21: limits.max_header_bytes: must be between 1KiB and 1MiB, got '512'",
          });
}

TEST_CASE("duplicate keys are reported at the second occurrence with the line of the first") {
    const LoadResult result = load(R"(listen: 0.0.0.0:1
timeouts:
  idle: 1s
  idle: 2s
listen: 0.0.0.0:2
hooks:
  - {name: a, log: {path: x, path: y}}
)");
    CHECK(rendered(result) == std::vector<std::string>{
                                  "test.yaml:4:3: timeouts.idle: duplicate key 'idle' (first at line 3)",
                                  "test.yaml:5:1: listen: duplicate key 'listen' (first at line 1)",
                                  "test.yaml:7:30: hooks[0].log.path: duplicate key 'path' (first at line 7)",
                              });
}

TEST_CASE("unknown keys suggest a close known key") {
    CHECK(only_error("upstrem: 127.0.0.1:1\n") == "test.yaml:1:1: upstrem: unknown key 'upstrem' (did you mean 'upstream'?)");
    CHECK(only_error("limits: {max_header_byte: 1KiB}\n") ==
          "test.yaml:1:10: limits.max_header_byte: unknown key 'max_header_byte' (did you mean 'max_header_bytes'?)");
    CHECK(only_error("capture:\n  cokies: []\n") ==
          "test.yaml:2:3: capture.cokies: unknown key 'cokies' (did you mean 'cookies'?)");
    CHECK(only_error("frobnicate: 1\n") == "test.yaml:1:1: frobnicate: unknown key 'frobnicate'");
    CHECK(only_error("admin: {listen: 127.0.0.1:1, port: 2}\n") == "test.yaml:1:30: admin.port: unknown key 'port'");
}

TEST_CASE("wrong types name what was expected and what was found") {
    CHECK(only_error("timeouts: 5s\n") == "test.yaml:1:11: timeouts: expected a mapping, found a single value");
    CHECK(only_error("listen: {host: x}\n") == "test.yaml:1:9: listen: expected a single value, found a mapping");
    CHECK(only_error("workers: [1]\n") == "test.yaml:1:10: workers: expected a single value, found a list");
    CHECK(only_error("capture: {headers: user-agent}\n") ==
          "test.yaml:1:20: capture.headers: expected a list of names, found a single value");
    CHECK(only_error("capture: {headers: [[a]]}\n") ==
          "test.yaml:1:21: capture.headers[0]: expected a single value, found a list");
    CHECK(only_error("hooks: {name: a}\n") == "test.yaml:1:8: hooks: expected a list of hooks, found a mapping");
    CHECK(only_error("hooks: [access-log]\n") ==
          "test.yaml:1:9: hooks[0]: expected a mapping with 'name' and a sink, found a single value");
    CHECK(only_error("hooks: [{name: a, log: stdout}]\n") ==
          "test.yaml:1:24: hooks[0].log: expected a mapping, found a single value");
    CHECK(only_error("[1, 2]\n") == "test.yaml:1:1: expected a mapping, found a list");
    CHECK(only_error("? [a, b]\n: 1\n") == "test.yaml:1:3: a key must be a plain name, found a list");
}

TEST_CASE("a key with no value is reported at the key") {
    CHECK(only_error("listen:\nupstream: 127.0.0.1:1\n") == "test.yaml:1:1: listen: missing value");
    CHECK(only_error("upstream: 127.0.0.1:1\ntimeouts:\n") ==
          "test.yaml:2:1: timeouts: expected a mapping, found nothing");
    CHECK(only_error("hooks: ~\n") == "test.yaml:1:1: hooks: expected a list of hooks, found nothing");
}

TEST_CASE("addresses: listeners take port 0, the upstream does not, and TLS is refused") {
    const LoadResult result = load("listen: 127.0.0.1:0\nadmin: {listen: '[::]:0'}\nupstream: 'http://[::1]:8080'\n");
    REQUIRE(result.ok());
    CHECK(result.config.listen.port == 0);
    CHECK(result.config.admin_listen.host == "::");
    CHECK(result.config.upstream.to_string() == "[::1]:8080");
    CHECK(only_error("upstream: 127.0.0.1:0\n") == "test.yaml:1:11: upstream: the upstream port must not be 0");
    CHECK(only_error("upstream: HTTPS://app\n") ==
          "test.yaml:1:11: upstream: TLS to the upstream is not supported; use host:port or http://host:port");
    CHECK(only_error("listen: https://0.0.0.0:443\n") ==
          "test.yaml:1:9: listen: afterhook does not terminate TLS; use host:port");
    CHECK(only_error("admin:\n  listen: ::1:9901\n") ==
          "test.yaml:2:11: admin.listen: invalid address '::1:9901' (expected host:port, [v6]:port or "
          "http://host:port)");
}

TEST_CASE("workers is auto or 1 to 256") {
    CHECK(load("workers: auto\n").config.workers == 0);
    CHECK(load("workers: 1\n").config.workers == 1);
    CHECK(load("workers: '256'\n").config.workers == 256);
    for (const char* bad : {"257", "-1", "4.0", "two", "AUTO", "0x4"}) {
        CAPTURE(bad);
        CHECK(only_error(std::string("workers: ") + bad + "\n") ==
              std::string("test.yaml:1:10: workers: must be 'auto' or a whole number from 1 to 256, got '") + bad + "'");
    }
}

TEST_CASE("timeouts must be more than 0 and at most a day") {
    CHECK(load("timeouts: {drain: 24h}\n").config.timeouts.drain == Duration{86400000});
    CHECK(only_error("timeouts: {drain: 0s}\n") ==
          "test.yaml:1:19: timeouts.drain: must be more than 0 and at most 24h, got '0s'");
    CHECK(only_error("timeouts: {idle: 25h}\n") ==
          "test.yaml:1:18: timeouts.idle: must be more than 0 and at most 24h, got '25h'");
    CHECK(only_error("timeouts: {connect: 5}\n") ==
          "test.yaml:1:21: timeouts.connect: invalid duration '5' (expected a number and a unit: 250ms, 1.5s, 2s, "
          "1m, 1h)");
}

TEST_CASE("limits take sizes or counts within their ranges") {
    const LoadResult edges = load(
        "limits: {max_header_bytes: 1KiB, max_headers: 1, max_uri_bytes: 1MiB, max_body_bytes: 1GiB, "
        "max_connections: 1000000, max_chunk_extension_bytes: 1}\n");
    REQUIRE(edges.ok());
    CHECK(edges.config.limits.max_header_bytes == 1024);
    CHECK(edges.config.limits.max_headers == 1);
    CHECK(edges.config.limits.max_uri_bytes == 1048576);
    CHECK(edges.config.limits.max_body_bytes == 1073741824);
    CHECK(edges.config.limits.max_connections == 1000000);
    CHECK(edges.config.limits.max_chunk_extension_bytes == 1);

    CHECK(only_error("limits: {max_headers: 0}\n") ==
          "test.yaml:1:23: limits.max_headers: must be a whole number from 1 to 1000, got '0'");
    CHECK(only_error("limits: {max_headers: 1001}\n") ==
          "test.yaml:1:23: limits.max_headers: must be a whole number from 1 to 1000, got '1001'");
    CHECK(only_error("limits: {max_connections: 10k}\n") ==
          "test.yaml:1:27: limits.max_connections: must be a whole number from 1 to 1000000, got '10k'");
    CHECK(only_error("limits: {max_uri_bytes: 255}\n") ==
          "test.yaml:1:25: limits.max_uri_bytes: must be between 256 and 1MiB, got '255'");
    CHECK(only_error("limits: {max_header_bytes: 2MiB}\n") ==
          "test.yaml:1:28: limits.max_header_bytes: must be between 1KiB and 1MiB, got '2MiB'");
    CHECK(only_error("limits: {max_chunk_extension_bytes: 0}\n") ==
          "test.yaml:1:37: limits.max_chunk_extension_bytes: must be between 1 and 64KiB, got '0'");
    CHECK(only_error("limits: {max_body_bytes: 1.5GB}\n") ==
          "test.yaml:1:26: limits.max_body_bytes: invalid size '1.5GB' (expected bytes, optionally with a unit: "
          "512, 64KiB, 1MiB, 1GiB, 10KB)");
}

TEST_CASE("capture names are HTTP tokens - header names are lower-cased, cookie names are not") {
    CHECK(only_error("capture: {headers: [x-a, 'bad name']}\n") ==
          "test.yaml:1:26: capture.headers[1]: invalid name 'bad name' (expected an HTTP token such as x-request-id)");
    CHECK(only_error("capture:\n  redact: [Cookie, cookie]\n") ==
          "test.yaml:2:20: capture.redact[1]: 'cookie' is listed twice (first at line 2)");
    CHECK(load("capture: {cookies: [sid, SID]}\n").ok());
    CHECK(only_error("trigger_header: 'x:y'\n") ==
          "test.yaml:1:17: trigger_header: invalid header name 'x:y' (expected an HTTP token such as "
          "afterhook-trigger)");
}

TEST_CASE("hooks need a valid, unique name and exactly one known sink") {
    CHECK(only_error("hooks:\n  - log: {}\n") == "test.yaml:2:5: hooks[0]: missing required key 'name'");
    CHECK(only_error("hooks:\n  - name: a\n") ==
          "test.yaml:2:5: hooks[0]: no sink: a hook needs exactly one of: log, webhook, exec");
    CHECK(only_error("hooks:\n  - name: Access Log\n    log: {}\n") ==
          "test.yaml:2:11: hooks[0].name: invalid hook name 'Access Log' (expected a-z, 0-9, '_' and '-', starting "
          "with a letter or digit, at most 64 characters)");
    CHECK(only_error("hooks: [{name: -a, log: {}}]\n") ==
          "test.yaml:1:16: hooks[0].name: invalid hook name '-a' (expected a-z, 0-9, '_' and '-', starting with a "
          "letter or digit, at most 64 characters)");
    CHECK(only_error("hooks: [{name: " + std::string(65, 'a') + ", log: {}}]\n").find("invalid hook name") !=
          std::string::npos);
    CHECK(load("hooks: [{name: " + std::string(64, 'a') + ", log: {}}]\n").ok());
    CHECK(only_error("hooks:\n  - {name: a, log: {}}\n  - {name: b, log: {}}\n  - {name: a, log: {}}\n") ==
          "test.yaml:4:12: hooks[2].name: duplicate hook name 'a' (first at line 2)");
    CHECK(only_error("hooks:\n  - name: a\n    log: {}\n    log: {}\n") ==
          "test.yaml:4:5: hooks[0].log: duplicate key 'log' (first at line 3)");
    CHECK(only_error("hooks:\n  - name: a\n    log: {paht: x.log}\n") ==
          "test.yaml:3:11: hooks[0].log.paht: unknown key 'paht' (did you mean 'path'?)");
    CHECK(only_error("hooks:\n  - name: a\n    log: {path: ''}\n") ==
          "test.yaml:3:17: hooks[0].log.path: expected stdout, stderr or a file path, got ''");
}

TEST_CASE("unknown hook keys get a close match or the list of what a hook takes") {
    const std::string hint = " (a hook takes name, when, trigger and one sink: log, webhook, exec)";
    CHECK(only_error("hooks:\n  - name: a\n    kafka: {topic: x}\n") ==
          "test.yaml:3:5: hooks[0].kafka: unknown key 'kafka'" + hint);
    CHECK(only_error("hooks:\n  - name: a\n    log: {}\n    filter: {status: [5xx]}\n") ==
          "test.yaml:4:5: hooks[0].filter: unknown key 'filter'" + hint);
    CHECK(only_error("hooks:\n  - name: a\n    lgo: {}\n") ==
          "test.yaml:3:5: hooks[0].lgo: unknown key 'lgo' (did you mean 'log'?)");
    CHECK(only_error("hooks:\n  - name: a\n    webhok: {url: 'http://x'}\n") ==
          "test.yaml:3:5: hooks[0].webhok: unknown key 'webhok' (did you mean 'webhook'?)");
    CHECK(only_error("hooks:\n  - name: a\n    exce: {command: [/bin/true]}\n") ==
          "test.yaml:3:5: hooks[0].exce: unknown key 'exce' (did you mean 'exec'?)");
    CHECK(only_error("hooks:\n  - name: a\n    log: {}\n    wen: {status: [5xx]}\n") ==
          "test.yaml:4:5: hooks[0].wen: unknown key 'wen' (did you mean 'when'?)");
}

TEST_CASE("a hook has exactly one sink") {
    CHECK(only_error("hooks:\n  - name: a\n    log: {}\n    webhook: {url: 'http://x'}\n") ==
          "test.yaml:4:14: hooks[0].webhook: a hook has exactly one sink; 'log' is already given");
    CHECK(only_error("hooks:\n  - name: a\n    exec: {command: [/bin/true]}\n    log: {}\n") ==
          "test.yaml:4:10: hooks[0].log: a hook has exactly one sink; 'exec' is already given");
}

TEST_CASE("every error in one file is reported, not just the first") {
    const LoadResult result = load(R"(hooks:
  - name: a
  - name: a
    log: {path: 1, extra: 2}
  - log: {}
listen: nowhere
)");
    CHECK(rendered(result) ==
          std::vector<std::string>{
              "test.yaml:2:5: hooks[0]: no sink: a hook needs exactly one of: log, webhook, exec",
              "test.yaml:3:11: hooks[1].name: duplicate hook name 'a' (first at line 2)",
              "test.yaml:4:20: hooks[1].log.extra: unknown key 'extra'",
              "test.yaml:5:5: hooks[2]: missing required key 'name'",
              "test.yaml:6:9: listen: invalid address 'nowhere' (expected host:port, [v6]:port or http://host:port)",
          });
}

TEST_CASE("${VAR} and ${VAR:-default} take values from the environment") {
    const ScopedEnv upstream("AFTERHOOK_TEST_UPSTREAM", "10.0.0.7:9000");
    const ScopedEnv empty("AFTERHOOK_TEST_EMPTY", "");
    ::unsetenv("AFTERHOOK_TEST_UNSET");
    const LoadResult result = load(R"(upstream: ${AFTERHOOK_TEST_UPSTREAM}
listen: ${AFTERHOOK_TEST_UNSET:-127.0.0.1:7000}
admin: {listen: "${AFTERHOOK_TEST_EMPTY:-127.0.0.1}:${AFTERHOOK_TEST_UNSET:-7001}"}
hooks:
  - name: literal
    log: {path: "/tmp/$${HOME}.log"}
)");
    REQUIRE(rendered(result) == std::vector<std::string>{});
    CHECK(result.config.upstream.to_string() == "10.0.0.7:9000");
    CHECK(result.config.listen.to_string() == "127.0.0.1:7000");
    CHECK(result.config.admin_listen.to_string() == "127.0.0.1:7001");
    CHECK(log_path(result.config.hooks[0]) == "/tmp/${HOME}.log");
}

TEST_CASE("an unset variable without a default is an error naming the variable") {
    ::unsetenv("AFTERHOOK_TEST_UNSET");
    CHECK(rendered(load("upstream: 127.0.0.1:1\nhooks:\n  - name: a\n    log: {path: '${AFTERHOOK_TEST_UNSET}'}\n")) ==
          std::vector<std::string>{
              "test.yaml:4:17: hooks[0].log.path: environment variable 'AFTERHOOK_TEST_UNSET' is not set"});
    CHECK(only_error("upstream: ${AFTERHOOK_TEST_UNSET\n") ==
          "test.yaml:1:11: upstream: unterminated environment reference (missing '}')");
}

TEST_CASE("a value from the environment never appears in an error message") {
    const char* secret = "s3cr3t value!";
    const ScopedEnv env("AFTERHOOK_TEST_SECRET", secret);
    const ScopedEnv twin("AFTERHOOK_TEST_TWIN", "X-Dup");
    const LoadResult result = load(R"(upstream: ${AFTERHOOK_TEST_SECRET}
listen: "http://${AFTERHOOK_TEST_SECRET}:80"
workers: ${AFTERHOOK_TEST_SECRET}
timeouts: {connect: "${AFTERHOOK_TEST_SECRET}"}
limits: {max_headers: "${AFTERHOOK_TEST_SECRET}", max_body_bytes: "${AFTERHOOK_TEST_SECRET}"}
capture: {headers: [x-dup, "${AFTERHOOK_TEST_TWIN}", "${AFTERHOOK_TEST_SECRET}"]}
trigger_header: ${AFTERHOOK_TEST_SECRET}
hooks:
  - name: ${AFTERHOOK_TEST_SECRET}
    log: {}
)");
    const std::vector<std::string> lines = rendered(result);
    REQUIRE(lines.size() == 10);
    for (const std::string& line : lines) {
        CAPTURE(line);
        CHECK(line.find("s3cr3t") == std::string::npos);
        CHECK(line.find("X-Dup") == std::string::npos);
        CHECK(line.find("x-dup") == std::string::npos);
        CHECK(line.find("(value from environment)") != std::string::npos);
    }
    CHECK(lines[0] == "test.yaml:1:11: upstream: invalid address (value from environment) (expected host:port, "
                      "[v6]:port or http://host:port)");
}

TEST_CASE("a YAML syntax error is one error at its mark") {
    CHECK(only_error("listen: [1, 2\nupstream: x\n") == "test.yaml:2:9: invalid YAML: end of sequence flow not found");
    CHECK(only_error("listen: \"unterminated") == "test.yaml:1:22: invalid YAML: illegal EOF in scalar");
    CHECK(only_error("listen: 0.0.0.0:1\n---\nlisten: 0.0.0.0:2\n") ==
          "test.yaml:3:1: a config file holds one YAML document; found another one here");
}

TEST_CASE("hostile documents produce errors, never exceptions or endless walks") {
    // Self-referencing aliases are legal YAML and make cyclic node graphs;
    // the loader only descends as deep as the schema goes.
    CHECK_FALSE(load("capture: &c {headers: *c}\n").ok());
    CHECK_FALSE(load("hooks: &h [*h]\n").ok());
    CHECK_FALSE(load("a: &x {b: *x}\n").ok());
    CHECK_FALSE(load(std::string(5000, '[')).ok());
    CHECK_FALSE(load("!!binary AAAA\n").ok());
}

TEST_CASE("a missing or unreadable file is one error with line 0") {
    const LoadResult missing = load_file("/nonexistent/afterhook.yaml");
    REQUIRE(missing.errors.size() == 1);
    CHECK(missing.errors[0].line == 0);
    CHECK(missing.errors[0].to_string() ==
          "/nonexistent/afterhook.yaml: cannot open config file: No such file or directory");
    const LoadResult directory = load_file(AFTERHOOK_SOURCE_DIR "/config");
    REQUIRE(directory.errors.size() == 1);
    CHECK(directory.errors[0].line == 0);
    CHECK(directory.errors[0].message == "cannot read config file: Is a directory");
}

TEST_CASE("errors from a file name the file") {
    const LoadResult result = load_string("workers: none\n", "/etc/afterhook/config.yaml");
    REQUIRE(result.errors.size() == 1);
    CHECK(result.errors[0].to_string() ==
          "/etc/afterhook/config.yaml:1:10: workers: must be 'auto' or a whole number from 1 to 256, got 'none'");
}

TEST_CASE("config/examples/default.yaml is exactly the built-in defaults") {
    const LoadResult result = load_file(AFTERHOOK_SOURCE_DIR "/config/examples/default.yaml");
    REQUIRE(rendered(result) == std::vector<std::string>{});
    CHECK(result.config.source == AFTERHOOK_SOURCE_DIR "/config/examples/default.yaml");
    check_same(result.config, default_config());
}

TEST_CASE("config/examples/proxy.yaml loads without errors") {
    const LoadResult result = load_file(AFTERHOOK_SOURCE_DIR "/config/examples/proxy.yaml");
    REQUIRE(rendered(result) == std::vector<std::string>{});
    CHECK(result.config.workers == 2);
    CHECK(result.config.limits.max_body_bytes == 10000000);
    REQUIRE(result.config.hooks.size() == 2);
    CHECK(result.config.hooks[0].name == "access-log");
    CHECK(result.config.hooks[1].name == "audit-file");
    CHECK(std::holds_alternative<LogSink>(result.config.hooks[1].sink));
}
