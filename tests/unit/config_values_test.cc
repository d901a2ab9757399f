// Value parsers, rendering, defaults and the loader's helpers
// (environment substitution, key suggestions).
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>
#include <variant>

#include "config/config.h"
#include "config/env_substitution.h"
#include "config/key_suggestion.h"

using namespace afterhook::config;

namespace {

std::optional<Duration> duration(const std::string& text) {
    Duration out{-7};
    if (!parse_duration(text, out)) {
        CHECK(out == Duration{-7});  // untouched on failure
        return std::nullopt;
    }
    return out;
}

std::optional<uint64_t> size(const std::string& text) {
    uint64_t out = 777;
    if (!parse_size(text, out)) {
        CHECK(out == 777);
        return std::nullopt;
    }
    return out;
}

std::optional<std::string> address(const std::string& text) {
    Address out{"untouched", 1};
    if (!parse_address(text, out)) {
        CHECK(out.host == "untouched");
        CHECK(out.port == 1);
        return std::nullopt;
    }
    return out.host + " " + std::to_string(out.port);
}

EnvLookup fake_env(std::map<std::string, std::string> values) {
    return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
        const auto it = values.find(name);
        if (it == values.end()) {
            return std::nullopt;
        }
        return it->second;
    };
}

}  // namespace

TEST_CASE("parse_duration accepts a number with ms, s, m or h") {
    CHECK(duration("250ms") == Duration{250});
    CHECK(duration("2s") == Duration{2000});
    CHECK(duration("1m") == Duration{60000});
    CHECK(duration("1h") == Duration{3600000});
    CHECK(duration("1.5s") == Duration{1500});
    CHECK(duration("0.25s") == Duration{250});
    CHECK(duration("1.5m") == Duration{90000});
    CHECK(duration("0ms") == Duration{0});  // range checks are the loader's
    CHECK(duration("007s") == Duration{7000});
}

TEST_CASE("parse_duration rejects malformed values and leaves the output alone") {
    for (const char* bad : {"", "2", "s", "ms", "-1s", "+1s", " 2s", "2s ", "2 s", "2S", "2sec", "1.s", ".5s",
                            "1.5.5s", "0.5ms", "1.0001s", "1m30s", "1d", "2ss", "1e3ms",
                            "99999999999999999999ms", "9999999999999999h"}) {
        CAPTURE(bad);
        CHECK_FALSE(duration(bad).has_value());
    }
}

TEST_CASE("parse_size accepts bytes with binary and decimal units") {
    CHECK(size("0") == 0u);
    CHECK(size("512") == 512u);
    CHECK(size("64KiB") == 65536u);
    CHECK(size("1MiB") == 1048576u);
    CHECK(size("1GiB") == 1073741824u);
    CHECK(size("10KB") == 10000u);
    CHECK(size("10MB") == 10000000u);
    CHECK(size("2GB") == 2000000000u);
    CHECK(size("18446744073709551615") == 18446744073709551615u);
}

TEST_CASE("parse_size rejects malformed values and overflow") {
    for (const char* bad : {"", "KiB", "-1", "+1", "1.5MiB", "64kib", "64K", "64k", "64Ki", "1 MiB", "1MiB ", "1B",
                            "1TiB", "0x10", "18446744073709551616", "17179869184GiB"}) {
        CAPTURE(bad);
        CHECK_FALSE(size(bad).has_value());
    }
}

TEST_CASE("parse_address accepts host:port, bracketed v6 and http://host:port") {
    CHECK(address("127.0.0.1:8080") == "127.0.0.1 8080");
    CHECK(address("0.0.0.0:0") == "0.0.0.0 0");
    CHECK(address("localhost:3000") == "localhost 3000");
    CHECK(address("app.default.svc.cluster.local:80") == "app.default.svc.cluster.local 80");
    CHECK(address("my_app:65535") == "my_app 65535");
    CHECK(address("[::1]:8080") == "::1 8080");
    CHECK(address("[2001:db8::1]:443") == "2001:db8::1 443");
    CHECK(address("http://127.0.0.1:8080") == "127.0.0.1 8080");
    CHECK(address("HTTP://app:9000/") == "app 9000");
    CHECK(address("http://[::1]:81") == "::1 81");
    CHECK(address("http://app") == "app 80");
    CHECK(address("http://[::1]") == "::1 80");
}

TEST_CASE("parse_address rejects malformed addresses") {
    for (const char* bad : {"", ":8080", "127.0.0.1", "localhost", "127.0.0.1:", "127.0.0.1:65536",
                            "127.0.0.1:-1", "127.0.0.1:80a", "127.0.0.1:000080", "::1:8080", "[::1]",
                            "[::1]8080", "[::1:8080", "[not-v6]:80", "[127.0.0.1]:80", "300.1.1.1:80",
                            "1.2.3:80", "-app:80", "app-:80", "a..b:80", "app.:80", "host name:80",
                            "https://app:443", "http://", "http://:80", "http://app:80/path", "ftp://app:21",
                            "app:80/"}) {
        CAPTURE(bad);
        CHECK_FALSE(address(bad).has_value());
    }
}

TEST_CASE("Address renders IPv6 hosts in brackets") {
    CHECK(Address{"127.0.0.1", 8080}.to_string() == "127.0.0.1:8080");
    CHECK(Address{"::1", 8080}.to_string() == "[::1]:8080");
    CHECK(Address{"app", 0}.to_string() == "app:0");
}

TEST_CASE("ConfigError renders file:line:col: key.path: message") {
    CHECK(ConfigError{"a.yaml", 3, 12, "timeouts.connect", "bad"}.to_string() == "a.yaml:3:12: timeouts.connect: bad");
    CHECK(ConfigError{"a.yaml", 1, 2, "", "invalid YAML: x"}.to_string() == "a.yaml:1:2: invalid YAML: x");
    CHECK(ConfigError{"a.yaml", 0, 0, "", "cannot open config file: No such file or directory"}.to_string() ==
          "a.yaml: cannot open config file: No such file or directory");
}

TEST_CASE("default_config holds the documented defaults and one access-log hook") {
    const Config config = default_config();
    CHECK(config.source == "<defaults>");
    CHECK(config.listen.to_string() == "0.0.0.0:8000");
    CHECK(config.upstream.to_string() == "127.0.0.1:8080");
    CHECK(config.workers == 0);
    CHECK(config.admin_listen.to_string() == "127.0.0.1:9901");
    CHECK(config.timeouts.connect == Duration{2000});
    CHECK(config.timeouts.request_header == Duration{10000});
    CHECK(config.timeouts.upstream_response == Duration{60000});
    CHECK(config.timeouts.idle == Duration{60000});
    CHECK(config.timeouts.drain == Duration{20000});
    CHECK(config.limits.max_connections == 10000);
    CHECK(config.limits.max_header_bytes == 65536);
    CHECK(config.limits.max_headers == 100);
    CHECK(config.limits.max_body_bytes == 0);
    CHECK(config.limits.max_uri_bytes == 8192);
    CHECK(config.limits.max_chunk_extension_bytes == 1024);
    CHECK(config.capture.headers == std::vector<std::string>{"user-agent", "referer", "content-type"});
    CHECK(config.capture.response_headers == std::vector<std::string>{"content-type"});
    CHECK(config.capture.cookies.empty());
    CHECK(config.capture.redact ==
          std::vector<std::string>{"authorization", "proxy-authorization", "cookie", "set-cookie"});
    CHECK(config.trigger_header == "afterhook-trigger");
    REQUIRE(config.hooks.size() == 1);
    CHECK(config.hooks[0].name == "access-log");
    REQUIRE(std::holds_alternative<LogSink>(config.hooks[0].sink));
    CHECK(std::get<LogSink>(config.hooks[0].sink).path == "stdout");
    CHECK(config.hooks[0].mark.line == 0);
}

TEST_CASE("substitute_env replaces ${VAR} and ${VAR:-default}") {
    const EnvLookup env = fake_env({{"HOST", "app"}, {"PORT", "3000"}, {"EMPTY", ""}});
    CHECK(substitute_env("plain", env).text == "plain");
    CHECK(substitute_env("${HOST}:${PORT}", env).text == "app:3000");
    CHECK(substitute_env("http://${HOST}:${PORT}/", env).text == "http://app:3000/");
    CHECK(substitute_env("${MISSING:-fallback}", env).text == "fallback");
    CHECK(substitute_env("${HOST:-fallback}", env).text == "app");
    CHECK(substitute_env("${EMPTY:-fallback}", env).text == "fallback");  // empty counts as unset with :-
    CHECK(substitute_env("${MISSING:-}", env).text.empty());
    CHECK(substitute_env("[${EMPTY}]", env).text == "[]");
    CHECK(substitute_env("${MISSING:-a:-b}", env).text == "a:-b");
    CHECK(substitute_env("$${HOST}", env).text == "${HOST}");
    CHECK(substitute_env("$$${HOST}", env).text == "$${HOST}");
    CHECK(substitute_env("cost: $5 $HOST $", env).text == "cost: $5 $HOST $");
    CHECK(substitute_env("${HOST}", env).ok());
}

TEST_CASE("substitute_env reports unset and malformed references without values") {
    const EnvLookup env = fake_env({{"SECRET", "hunter2"}});
    const EnvSubstitution unset = substitute_env("${A}-${SECRET}-${B}", env);
    REQUIRE(unset.errors.size() == 2);
    CHECK(unset.errors[0] == "environment variable 'A' is not set");
    CHECK(unset.errors[1] == "environment variable 'B' is not set");
    for (const char* bad : {"${", "${SECRET", "${}", "${1A}", "${A B}", "${A-b}", "${:-x}", "${A:-${SECRET}}"}) {
        CAPTURE(bad);
        const EnvSubstitution result = substitute_env(bad, env);
        REQUIRE(result.errors.size() == 1);
        CHECK(result.errors[0].find("hunter2") == std::string::npos);
    }
    CHECK(substitute_env("${A:-${SECRET}}", env).errors[0] == "nested environment references are not supported");
    CHECK(substitute_env("${SECRET", env).errors[0] == "unterminated environment reference (missing '}')");
}

TEST_CASE("mentions_env spots anything substitution would touch") {
    CHECK(mentions_env("${A}"));
    CHECK(mentions_env("x$${y"));
    CHECK_FALSE(mentions_env("$A {B}"));
    CHECK_FALSE(mentions_env("plain"));
}

TEST_CASE("edit_distance counts edits and neighbour swaps") {
    CHECK(edit_distance("", "") == 0);
    CHECK(edit_distance("abc", "") == 3);
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("listen", "listen") == 0);
    CHECK(edit_distance("lisen", "listen") == 1);
    CHECK(edit_distance("lsiten", "listen") == 1);
    CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("suggest_key proposes only a clear, close match") {
    const std::vector<std::string_view> keys{"listen", "upstream", "workers", "timeouts", "limits"};
    CHECK(suggest_key("upsteam", keys) == "upstream");
    CHECK(suggest_key("timeout", keys) == "timeouts");
    CHECK(suggest_key("lsiten", keys) == "listen");
    CHECK(suggest_key("worker_count", keys).empty());
    CHECK(suggest_key("hooks", keys).empty());
    CHECK(suggest_key("log", {"log", "lag"}) == "log");
    CHECK(suggest_key("lug", {"log", "lag"}).empty());  // tie: no guess
    CHECK(suggest_key("ab", {"xy"}).empty());
}
