// Records: one JSON line per finished exchange in the `log` hook's file,
// with the right outcome, status, request fields, captured headers and
// cookies (redacted ones as "[redacted]", their values nowhere in the file)
// and the request id the client saw.
#include <doctest/doctest.h>

#include <set>

#include "support/expectations.h"
#include "support/pattern.h"
#include "support/proxy_harness.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

TEST_SUITE("proxy records") {

TEST_CASE("an ok exchange is recorded with its request fields and status and id and sizes") {
    ProxyHarness h;
    RawClient client = h.connect();
    REQUIRE(client.send("POST /items/42?color=red&size=m HTTP/1.1\r\nHost: shop.example\r\n"
                        "User-Agent: it-test/1.0\r\nContent-Length: 11\r\n\r\nhello world"));
    const HttpResponse response = client.read_response();
    INFO(response.describe());
    REQUIRE(response.ok());
    const nlohmann::json record = record_for(h, response);
    INFO("record: ", record.dump());
    check_record(record, "ok", 200);
    CHECK(record.value("http.request.method", "") == "POST");
    CHECK(record.value("url.path", "") == "/items/42");
    CHECK(record.value("url.query", "") == "color=red&size=m");
    CHECK(record.value("url.scheme", "") == "http");
    CHECK(record.value("server.address", "") == "shop.example");
    CHECK(record.value("network.protocol.version", "") == "1.1");
    CHECK(record.value("client.address", "") == "127.0.0.1");
    CHECK(record.value("client.port", 0) > 0);
    CHECK(record.value("user_agent.original", "") == "it-test/1.0");
    CHECK(record.value("http.request.body.size", -1) == 11);
    CHECK(record.value("http.response.body.size", -1) == static_cast<int>(response.body.size()));
    CHECK(record.value("afterhook.duration_ms", -1.0) >= 0.0);
    CHECK_FALSE(record.contains("afterhook.error"));
    CHECK(record.value("time", "").size() == 24);  // 2026-11-22T12:40:00.123Z

    REQUIRE(client.send("GET /plain HTTP/1.0\r\nHost: shop.example\r\n\r\n"));
    const HttpResponse plain = client.read_response();
    const nlohmann::json second = record_for(h, plain);
    INFO("record: ", second.dump());
    CHECK(second.value("url.path", "") == "/plain");
    CHECK_FALSE(second.contains("url.query"));
    CHECK(second.value("network.protocol.version", "") == "1.0");
}

TEST_CASE("one record per exchange with the request id its client saw") {
    ProxyHarness h;
    RawClient client = h.connect();
    std::set<std::string> seen;
    for (int i = 0; i < 5; ++i) {
        REQUIRE(client.send(get_request("/n/" + std::to_string(i))));
        const HttpResponse response = client.read_response();
        REQUIRE(response.header("x-request-id").has_value());
        seen.insert(*response.header("x-request-id"));
    }
    REQUIRE(client.send(get_request("/mine", "X-Request-Id: client-chosen-id-7\r\n")));
    const HttpResponse mine = client.read_response();
    CHECK(mine.header("x-request-id") == "client-chosen-id-7");
    seen.insert("client-chosen-id-7");
    REQUIRE(seen.size() == 6);

    REQUIRE(h.log().wait_for_count(6, 3s));
    std::set<std::string> recorded;
    for (const nlohmann::json& record : h.log().records()) {
        INFO("record: ", record.dump());
        recorded.insert(record.value("afterhook.request.id", ""));
    }
    CHECK(recorded == seen);
    CHECK(h.log().records().size() == 6);
}

TEST_CASE("captured headers and cookies are recorded and redacted header values never reach the file") {
    ProxyConfig config;
    config.capture_headers = {"user-agent", "x-tenant", "authorization", "cookie"};
    config.capture_cookies = {"theme", "session-id"};
    config.capture_response_headers = {"content-type", "set-cookie", "x-app-secret"};
    config.redact = {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-app-secret"};
    ProxyHarness h(config, [](UpstreamConn& conn, const UpstreamRequest&) {
        conn.respond(200, "{}", {{"Content-Type", "application/json"},
                                 {"Set-Cookie", "sid=SECRET-SET-COOKIE-3; HttpOnly"},
                                 {"X-App-Secret", "SECRET-APP-4"}});
    });
    const std::string cookie = "theme=dark; session-id=s-77; other=SECRET-OTHER-COOKIE-5";
    const HttpResponse response = h.exchange(
        "GET /account HTTP/1.1\r\nHost: test.local\r\nUser-Agent: it-test/2.0\r\nX-Tenant: acme\r\n"
        "Authorization: Bearer SECRET-TOKEN-1\r\nCookie: " + cookie + "\r\n\r\n");
    INFO(response.describe());
    REQUIRE(response.ok());
    // Redaction is for records only: both legs carry the real values.
    CHECK(response.header("set-cookie") == "sid=SECRET-SET-COOKIE-3; HttpOnly");
    CHECK(response.header("x-app-secret") == "SECRET-APP-4");
    const UpstreamRequest got = h.upstream().request(0);
    CHECK(got.header("authorization") == "Bearer SECRET-TOKEN-1");
    CHECK(got.header("cookie") == cookie);

    const nlohmann::json record = record_for(h, response);
    INFO("record: ", record.dump());
    CHECK(record.value("user_agent.original", "") == "it-test/2.0");
    CHECK(record.value("http.request.header.x-tenant", "") == "acme");
    CHECK(record.value("http.request.header.authorization", "") == "[redacted]");
    CHECK(record.value("http.request.header.cookie", "") == "[redacted]");
    CHECK(record.value("afterhook.request.cookie.theme", "") == "dark");
    CHECK(record.value("afterhook.request.cookie.session-id", "") == "s-77");
    CHECK_FALSE(record.contains("afterhook.request.cookie.other"));
    CHECK(record.value("http.response.header.content-type", "") == "application/json");
    CHECK(record.value("http.response.header.set-cookie", "") == "[redacted]");
    CHECK(record.value("http.response.header.x-app-secret", "") == "[redacted]");
    const std::string file = h.log().contents();
    CHECK(file.find("SECRET-") == std::string::npos);
}

TEST_CASE("a captured cookie whose name is in capture.redact is recorded redacted and its value never reaches the file") {
    ProxyConfig config;
    config.capture_cookies = {"theme", "session-id"};
    config.redact = {"authorization", "proxy-authorization", "cookie", "set-cookie", "session-id"};
    ProxyHarness h(config);
    const HttpResponse response = h.exchange(
        get_request("/account", "Cookie: theme=dark; session-id=SECRET-SESSION-2\r\n"));
    INFO(response.describe());
    REQUIRE(response.ok());
    const nlohmann::json record = record_for(h, response);
    INFO("record: ", record.dump());
    CHECK(record.value("afterhook.request.cookie.theme", "") == "dark");
    CHECK(record.value("afterhook.request.cookie.session-id", "") == "[redacted]");
    CHECK(h.log().contents().find("SECRET-") == std::string::npos);
}

TEST_CASE("a client that disconnects mid-response is recorded as client_abort with status 499") {
    ProxyHarness h({}, [](UpstreamConn& conn, const UpstreamRequest&) {
        constexpr uint64_t kSize = 256ull << 20;
        conn.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kSize) + "\r\n\r\n");
        conn.stream_pattern(kSize);
    });
    RawClient client = h.connect();
    REQUIRE(client.send(get_request("/big")));
    REQUIRE(client.read_at_least(64 * 1024, 3s));
    client.reset();
    const nlohmann::json record = nth_record(h, 0, 5s);
    check_record(record, "client_abort", 499);
    CHECK(record.value("http.response.body.size", uint64_t{0}) < (256ull << 20));
}

TEST_CASE("a client that disconnects before the response head is recorded as client_abort with status 499") {
    ProxyHarness h({}, [](UpstreamConn& conn, const UpstreamRequest& request) {
        conn.sleep_for(500ms);
        conn.respond(200, request.target);
    });
    RawClient client = h.connect();
    REQUIRE(client.send(get_request("/gone")));
    REQUIRE(h.upstream().wait_for_requests(1, 3s));  // afterhook has read and forwarded it
    client.reset();
    const nlohmann::json record = nth_record(h, 0, 5s);
    check_record(record, "client_abort", 499);
    CHECK(record.value("url.path", "") == "/gone");
}

}  // TEST_SUITE
