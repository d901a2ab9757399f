// Keep-alive on both legs, pipelining, and when a connection must close.
#include <doctest/doctest.h>

#include "support/expectations.h"
#include "support/proxy_harness.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

TEST_SUITE("proxy keep-alive") {

TEST_CASE("100 sequential requests on one client connection use exactly one upstream connection") {
    ProxyHarness h;
    RawClient client = h.connect();
    for (int i = 0; i < 100; ++i) {
        const std::string target = "/seq/" + std::to_string(i);
        INFO("request ", i);
        REQUIRE(client.send(get_request(target)));
        const HttpResponse response = client.read_response();
        INFO(response.describe());
        REQUIRE(response.ok());
        check_http11(response);
        CHECK(response.status == 200);
        CHECK(response.body == "GET " + target);
        REQUIRE_FALSE(response.connection_close());
    }
    CHECK(h.upstream().request_count() == 100);
    CHECK(h.upstream().accepted_connections() == 1);
    check_upstream_clean(h.upstream());
}

TEST_CASE("pipelined requests are answered in order with one upstream exchange at a time") {
    // Holding back each response's last byte for a moment gives a proxy that
    // forwards request N+1 early the time to do so, where the upstream sees it.
    ProxyHarness h({}, [](UpstreamConn& conn, const UpstreamRequest& request) {
        const std::string body = request.method + " " + request.target + " " + request.body;
        conn.write_holding_last_byte("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                                         "\r\n\r\n" + body,
                                     30ms);
    });
    RawClient client = h.connect();
    const std::string batch = get_request("/p/0") + get_request("/p/1") +
                              post_request("/p/2", "body-two") + get_request("/p/3") +
                              post_request("/p/4", "body-four");
    REQUIRE(client.send(batch));
    const std::vector<std::string> expected = {"GET /p/0 ", "GET /p/1 ", "POST /p/2 body-two",
                                               "GET /p/3 ", "POST /p/4 body-four"};
    for (const std::string& body : expected) {
        const HttpResponse response = client.read_response();
        INFO(response.describe());
        REQUIRE(response.ok());
        check_http11(response);
        CHECK(response.body == body);
    }
    REQUIRE(h.upstream().wait_for_requests(5, 2s));
    REQUIRE(wait_until([&] {
        size_t done = 0;
        for (const auto& event : h.upstream().timeline()) done += event.kind == UpstreamEvent::Kind::response_done;
        return done == 5;
    }, 2s));
    check_one_exchange_at_a_time(h.upstream());
    CHECK(h.upstream().accepted_connections() == 1);
    check_upstream_clean(h.upstream());
}

TEST_CASE("a request after Connection: close is not read and the connection closes after the response") {
    ProxyHarness h;
    RawClient client = h.connect();
    REQUIRE(client.send(get_request("/first", "Connection: close\r\n") + get_request("/second")));
    const HttpResponse response = client.read_response();
    INFO(response.describe());
    REQUIRE(response.ok());
    check_http11(response);
    CHECK(response.body == "GET /first");
    check_closed_after(client);

    // Whatever reaches the upstream next must be this later exchange, not /second.
    const HttpResponse later = h.exchange(get_request("/later"));
    CHECK(later.status == 200);
    REQUIRE(h.upstream().wait_for_requests(2, 2s));
    const auto requests = h.upstream().requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[0].target == "/first");
    CHECK(requests[1].target == "/later");
}

TEST_CASE("HTTP/1.0 clients get close unless they send Connection: keep-alive") {
    ProxyHarness h;
    SUBCASE("without keep-alive the connection closes after the response") {
        RawClient client = h.connect();
        REQUIRE(client.send("GET /old HTTP/1.0\r\nHost: test.local\r\n\r\n"));
        const HttpResponse response = client.read_response();
        INFO(response.describe());
        REQUIRE(response.ok());
        check_http11(response);
        CHECK(response.status == 200);
        CHECK(response.body == "GET /old");
        if (response.framing != HttpResponse::Framing::until_close) check_closed_after(client);
    }
    SUBCASE("with Connection: keep-alive the connection serves another request") {
        RawClient client = h.connect();
        for (const std::string target : {"/ka/1", "/ka/2", "/ka/3"}) {
            REQUIRE(client.send(std::string("GET ") + target +
                                " HTTP/1.0\r\nHost: test.local\r\nConnection: keep-alive\r\n\r\n"));
            const HttpResponse response = client.read_response();
            INFO(response.describe());
            REQUIRE(response.ok());
            check_http11(response);
            CHECK(response.body == std::string("GET ") + target);
            REQUIRE(response.framing == HttpResponse::Framing::content_length);
            CHECK_FALSE(response.connection_close());
        }
    }
}

TEST_CASE("an upstream connection that answered Connection: close is not reused") {
    ProxyHarness h({}, [](UpstreamConn& conn, const UpstreamRequest& request) {
        conn.respond(200, request.target, {{"Connection", "close"}});
        conn.close();
    });
    // Afterhook may keep the client connection or close it too; it must do
    // what it announces, and every request must get its own answer.
    std::optional<RawClient> client;
    for (const std::string target : {"/a", "/b", "/c"}) {
        INFO("target ", target);
        if (!client) client = h.connect();
        REQUIRE(client->send(get_request(target)));
        const HttpResponse response = client->read_response();
        INFO(response.describe());
        REQUIRE(response.ok());
        CHECK(response.status == 200);
        CHECK(response.body == target);
        if (response.connection_close()) {
            check_closed_after(*client);
            client.reset();
        }
    }
    CHECK(h.upstream().accepted_connections() == 3);
}

TEST_CASE("an upstream connection closed while idle in the pool is not used for the next request") {
    ProxyHarness h({}, [](UpstreamConn& conn, const UpstreamRequest& request) {
        conn.respond(200, request.target);
        if (request.target == "/then-close") conn.close();
    });
    RawClient client = h.connect();
    REQUIRE(client.send(get_request("/then-close")));
    CHECK(client.read_response().status == 200);
    REQUIRE(h.upstream().wait_for_closed_connections(1, 2s));
    REQUIRE(client.send(get_request("/next")));
    const HttpResponse response = client.read_response();
    INFO(response.describe());
    CHECK(response.status == 200);
    CHECK(response.body == "/next");
}

}  // TEST_SUITE
