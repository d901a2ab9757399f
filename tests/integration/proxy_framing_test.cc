// Message framing and header rewriting on both legs: hop-by-hop fields,
// X-Forwarded-*, X-Request-Id, traceparent, the trigger header, chunked
// bodies and trailers, re-framing of close-delimited responses,
// Expect: 100-continue, and bodiless responses.
#include <doctest/doctest.h>

#include <regex>
#include <set>

#include "support/expectations.h"
#include "support/pattern.h"
#include "support/proxy_harness.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

bool is_generated_id(const std::string& id) {
    static const std::regex hex32("^[0-9a-fA-F]{32}$");
    return std::regex_match(id, hex32);
}

// Sends one request on a fresh connection and returns the response and
// what the upstream received.
struct Forwarded {
    HttpResponse response;
    UpstreamRequest upstream;
};

Forwarded forward(ProxyHarness& h, const std::string& request) {
    const size_t before = h.upstream().request_count();
    Forwarded out;
    out.response = h.exchange(request);
    INFO(out.response.describe());
    REQUIRE(out.response.ok());
    REQUIRE(h.upstream().wait_for_requests(before + 1, 2s));
    out.upstream = h.upstream().request(before);
    return out;
}

}  // namespace

TEST_SUITE("proxy framing") {

TEST_CASE("hop-by-hop request fields are removed and end-to-end fields pass") {
    ProxyHarness h;
    const Forwarded f = forward(h,
        "GET /hop HTTP/1.1\r\nHost: test.local\r\n"
        "Connection: keep-alive, X-Hop-Custom\r\nX-Hop-Custom: secret-to-this-hop\r\n"
        "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: h2c\r\n"
        "X-End-To-End: kept\r\nAccept: */*\r\n\r\n");
    INFO("upstream got: ", f.upstream.raw);
    CHECK(f.response.status == 200);
    for (const std::string name : {"connection", "x-hop-custom", "keep-alive", "proxy-connection", "te", "upgrade"}) {
        INFO("field ", name);
        CHECK_FALSE(f.upstream.has_header(name));
    }
    CHECK(f.upstream.header("x-end-to-end") == "kept");
    CHECK(f.upstream.header("accept") == "*/*");
    CHECK(f.upstream.method == "GET");
    CHECK(f.upstream.target == "/hop");
    CHECK(f.upstream.version == "HTTP/1.1");
}

TEST_CASE("hop-by-hop response fields are removed before the client sees them") {
    ProxyHarness h({}, [](UpstreamConn& conn, const UpstreamRequest&) {
        conn.write("HTTP/1.1 200 OK\r\nConnection: X-Resp-Hop\r\nX-Resp-Hop: only-for-the-proxy\r\n"
                   "Proxy-Connection: keep-alive\r\nX-App: yes\r\nContent-Length: 2\r\n\r\nok");
    });
    const HttpResponse response = h.exchange(get_request("/"));
    INFO(response.describe());
    REQUIRE(response.ok());
    CHECK(response.body == "ok");
    CHECK_FALSE(response.has_header("x-resp-hop"));
    CHECK_FALSE(response.has_header("proxy-connection"));
    CHECK_FALSE(has_token(response.headers, "connection", "x-resp-hop"));
    CHECK(response.header("x-app") == "yes");
}

TEST_CASE("X-Forwarded-For is appended to and X-Forwarded-Proto and X-Forwarded-Host are set") {
    ProxyHarness h;
    SUBCASE("no earlier proxy") {
        const Forwarded f = forward(h, "GET / HTTP/1.1\r\nHost: app.example:8443\r\n\r\n");
        CHECK(f.upstream.header_values("x-forwarded-for") == std::vector<std::string>{"127.0.0.1"});
        CHECK(f.upstream.header_values("x-forwarded-proto") == std::vector<std::string>{"http"});
        CHECK(f.upstream.header_values("x-forwarded-host") == std::vector<std::string>{"app.example:8443"});
    }
    SUBCASE("an earlier proxy already set X-Forwarded-For and claimed https") {
        const Forwarded f = forward(h,
            "GET / HTTP/1.1\r\nHost: app.example\r\nX-Forwarded-For: 203.0.113.7\r\n"
            "X-Forwarded-Proto: https\r\n\r\n");
        CHECK(f.upstream.header_values("x-forwarded-for") ==
              std::vector<std::string>{"203.0.113.7, 127.0.0.1"});
        INFO("upstream got: ", f.upstream.raw);
        // Whether a client's own X-Forwarded-Proto is kept (a TLS-terminating
        // ingress in front) or replaced is a policy question; it must not be
        // doubled either way.
        CHECK(f.upstream.header_values("x-forwarded-proto").size() == 1);
        CHECK(f.upstream.header_values("x-forwarded-host") == std::vector<std::string>{"app.example"});
    }
}

TEST_CASE("a sane X-Request-Id is kept and echoed to the client") {
    ProxyHarness h;
    const std::vector<std::string> ids = {
        "a", "abc-123", "Req.42_x:y/z+w=v-0", std::string(200, 'k'),
        "0123456789abcdefABCDEF", "trace:span/1"};
    for (const std::string& id : ids) {
        INFO("id ", id);
        const Forwarded f = forward(h, get_request("/", "X-Request-Id: " + id + "\r\n"));
        CHECK(f.upstream.header_values("x-request-id") == std::vector<std::string>{id});
        const auto echoed = find_headers(f.response.headers, "x-request-id");
        REQUIRE_FALSE(echoed.empty());
        for (const std::string& value : echoed) CHECK(value == id);
    }
}

TEST_CASE("an X-Request-Id that is missing or empty or too long or has other characters is replaced") {
    ProxyHarness h;
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"missing", ""},
        {"empty", "X-Request-Id: \r\n"},
        {"201 characters", "X-Request-Id: " + std::string(201, 'k') + "\r\n"},
        {"space inside", "X-Request-Id: has space\r\n"},
        {"semicolon", "X-Request-Id: a;b\r\n"},
        {"quote", "X-Request-Id: a\"b\r\n"},
        {"comma", "X-Request-Id: a,b\r\n"},
        {"non-ASCII", "X-Request-Id: caf\xc3\xa9\r\n"},
    };
    std::set<std::string> seen;
    for (const auto& [name, line] : cases) {
        INFO("case ", name);
        const Forwarded f = forward(h, get_request("/", line));
        const auto upstream_ids = f.upstream.header_values("x-request-id");
        REQUIRE(upstream_ids.size() == 1);
        CHECK(is_generated_id(upstream_ids[0]));
        const auto echoed = find_headers(f.response.headers, "x-request-id");
        REQUIRE_FALSE(echoed.empty());
        for (const std::string& value : echoed) CHECK(value == upstream_ids[0]);
        CHECK(seen.insert(upstream_ids[0]).second);  // fresh each time
    }
}

TEST_CASE("traceparent and tracestate pass unchanged") {
    ProxyHarness h;
    const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const Forwarded f = forward(h, get_request("/", "traceparent: " + traceparent +
                                                    "\r\ntracestate: vendor=opaque,other=1\r\n"));
    CHECK(f.upstream.header_values("traceparent") == std::vector<std::string>{traceparent});
    CHECK(f.upstream.header("tracestate") == "vendor=opaque,other=1");
}

TEST_CASE("the trigger header is stripped from responses") {
    SUBCASE("default name") {
        ProxyHarness h({}, [](UpstreamConn& conn, const UpstreamRequest&) {
            conn.respond(200, "ok", {{"afterhook-trigger", "purge-cache;key=/p/42"},
                                     {"Afterhook-Trigger", "notify;user=7"}, {"X-App", "1"}});
        });
        const HttpResponse response = h.exchange(get_request("/"));
        INFO(response.describe());
        REQUIRE(response.ok());
        CHECK_FALSE(response.has_header("afterhook-trigger"));
        CHECK(response.header("x-app") == "1");
        CHECK(response.body == "ok");
    }
    SUBCASE("configured name") {
        ProxyConfig config;
        config.trigger_header = "x-after";
        ProxyHarness h(config, [](UpstreamConn& conn, const UpstreamRequest&) {
            conn.respond(200, "ok", {{"X-After", "purge-cache"}});
        });
        const HttpResponse response = h.exchange(get_request("/"));
        INFO(response.describe());
        REQUIRE(response.ok());
        CHECK_FALSE(response.has_header("x-after"));
    }
}

TEST_CASE("a chunked request body reaches the upstream intact and framed once") {
    ProxyHarness h;
    const std::string body = Pattern::bytes(0, 100 * 1024 + 17);
    std::string request = "POST /upload HTTP/1.1\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n";
    // Chunks of uneven sizes, one with an extension, then a trailer field.
    size_t offset = 0;
    for (size_t size : {1u, 7000u, 65536u, 12345u}) {
        char line[64];
        std::snprintf(line, sizeof line, "%zx%s\r\n", size, size == 7000 ? ";ext=1" : "");
        request += line + body.substr(offset, size) + "\r\n";
        offset += size;
    }
    request += chunked(body.substr(offset), 4096, {{"X-Trailer", "t"}});
    const Forwarded f = forward(h, request);
    CHECK(f.response.status == 200);
    CHECK(f.upstream.body_size == body.size());
    CHECK(f.upstream.body == body);
    CHECK(f.upstream.body_matches_pattern);
    if (!f.upstream.chunked) {
        CHECK(f.upstream.header("content-length") == std::to_string(body.size()));
    }
    check_upstream_clean(h.upstream());
}

TEST_CASE("a chunked response reaches an HTTP/1.1 client chunked with its trailers") {
    const std::string body = Pattern::bytes(0, 50000);
    ProxyHarness h({}, [&](UpstreamConn& conn, const UpstreamRequest&) {
        conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n" +
                   chunked(body, 3000, {{"X-Checksum", "abc123"}}));
    });
    RawClient client = h.connect();
    for (int i = 0; i < 2; ++i) {  // twice, so the framing is known to end where it should
        REQUIRE(client.send(get_request("/chunked")));
        const HttpResponse response = client.read_response();
        INFO(response.describe());
        REQUIRE(response.ok());
        check_http11(response);
        CHECK(response.framing == HttpResponse::Framing::chunked);
        CHECK(response.body == body);
        CHECK(find_header(response.trailers, "x-checksum") == "abc123");
    }
}

TEST_CASE("a chunked response reaches an HTTP/1.0 client without chunked coding") {
    const std::string body = Pattern::bytes(0, 20000);
    ProxyHarness h({}, [&](UpstreamConn& conn, const UpstreamRequest&) {
        conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body, 3000));
    });
    RawClient client = h.connect();
    REQUIRE(client.send("GET /chunked HTTP/1.0\r\nHost: test.local\r\n\r\n"));
    const HttpResponse response = client.read_response();
    INFO(response.describe());
    REQUIRE(response.ok());
    check_http11(response);
    CHECK(response.framing != HttpResponse::Framing::chunked);
    CHECK(response.body == body);
}

TEST_CASE("a response without length is re-framed: chunked for HTTP/1.1 and close-delimited for HTTP/1.0") {
    const std::string body = Pattern::bytes(0, 70000);
    ProxyHarness h({}, [&](UpstreamConn& conn, const UpstreamRequest&) {
        conn.write("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n");
        conn.write(body.substr(0, 1000));
        conn.write(body.substr(1000));
        conn.close();
    });
    SUBCASE("HTTP/1.1 client: chunked") {
        RawClient client = h.connect();
        REQUIRE(client.send(get_request("/stream")));
        const HttpResponse response = client.read_response();
        INFO(response.describe());
        REQUIRE(response.ok());
        check_http11(response);
        CHECK(response.framing == HttpResponse::Framing::chunked);
        CHECK(response.body == body);
        // Afterhook may keep the connection or announce its end; either way
        // it must do what it announced.
        if (response.connection_close()) {
            check_closed_after(client);
        } else {
            REQUIRE(client.send(get_request("/stream")));
            const HttpResponse again = client.read_response();
            INFO("again: ", again.describe());
            CHECK(again.body == body);
        }
    }
    SUBCASE("HTTP/1.0 client: read until close") {
        RawClient client = h.connect();
        REQUIRE(client.send("GET /stream HTTP/1.0\r\nHost: test.local\r\n\r\n"));
        const HttpResponse response = client.read_response();
        INFO(response.describe());
        REQUIRE(response.ok());
        check_http11(response);
        CHECK(response.framing == HttpResponse::Framing::until_close);
        CHECK_FALSE(response.has_header("content-length"));
        CHECK(response.body == body);
    }
}

TEST_CASE("an HTTP/1.0 upstream response reaches the client as HTTP/1.1") {
    ProxyHarness h({}, [](UpstreamConn& conn, const UpstreamRequest&) {
        conn.write("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold");
        conn.close();
    });
    const HttpResponse response = h.exchange(get_request("/"));
    INFO(response.describe());
    REQUIRE(response.ok());
    check_http11(response);
    CHECK(response.body == "old");
}

TEST_CASE("Expect: 100-continue: the client gets 100 Continue and then the final response and the body arrives intact") {
    ProxyHarness h;
    RawClient client = h.connect();
    const std::string body = "the body after the go-ahead";
    REQUIRE(client.send("POST /expect HTTP/1.1\r\nHost: test.local\r\nExpect: 100-continue\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n"));
    // The client sends nothing more until it is told to continue.
    const HttpResponse interim = client.read_response(3s);
    INFO(interim.describe());
    REQUIRE(interim.ok());
    check_http11(interim);
    REQUIRE(interim.status == 100);
    REQUIRE(client.send(body));
    std::vector<HttpResponse> more_interim;
    const HttpResponse response = client.read_final_response({}, &more_interim);
    INFO(response.describe());
    REQUIRE(response.ok());
    check_http11(response);
    CHECK(response.status == 200);
    CHECK(response.body == "POST /expect");
    for (const HttpResponse& extra : more_interim) CHECK(extra.status == 100);
    REQUIRE(h.upstream().wait_for_requests(1, 2s));
    CHECK(h.upstream().request(0).body == body);
    // The connection goes on as usual.
    REQUIRE(client.send(get_request("/after")));
    CHECK(client.read_response().body == "GET /after");
}

TEST_CASE("HEAD and 204 and 304 responses carry no body even with a Content-Length from the upstream") {
    ProxyHarness h({}, [](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.method == "HEAD") {
            conn.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n");
        } else if (request.target == "/204") {
            conn.write("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
        } else if (request.target == "/304") {
            conn.write("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nETag: \"v1\"\r\n\r\n");
        } else if (request.target == "/204-stray") {
            // A broken app that sends a body anyway: it must not reach the client.
            conn.write("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello");
        } else {
            conn.respond(200, "next " + request.target);
        }
    });
    RawClient client = h.connect();
    struct Step {
        std::string request;
        int status;
        bool head;
    };
    const std::vector<Step> steps = {
        {"HEAD /h HTTP/1.1\r\nHost: test.local\r\n\r\n", 200, true},
        {get_request("/204"), 204, false},
        {get_request("/304", "If-None-Match: \"v1\"\r\n"), 304, false},
        {get_request("/204-stray"), 204, false},
    };
    for (const Step& step : steps) {
        INFO("request ", step.request);
        REQUIRE(client.send(step.request));
        ResponseOptions options;
        options.head_request = step.head;
        const HttpResponse response = client.read_response(options);
        INFO(response.describe());
        REQUIRE(response.ok());
        check_http11(response);
        CHECK(response.status == step.status);
        CHECK_FALSE(has_token(response.headers, "transfer-encoding", "chunked"));
        // The next request on the same connection parses cleanly: no body
        // bytes were left behind.
        REQUIRE(client.send(get_request("/next")));
        const HttpResponse next = client.read_response();
        INFO("next: ", next.describe());
        REQUIRE(next.ok());
        CHECK(next.status == 200);
        CHECK(next.body == "next /next");
    }
}

}  // TEST_SUITE
