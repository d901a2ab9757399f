// Upstream failures: refused, reset or closed before a response head (502),
// a malformed response (502, and that upstream connection is dropped), and
// failures after the response head was sent (the client connection is cut,
// never ended as if the body were complete).
#include <doctest/doctest.h>

#include "support/expectations.h"
#include "support/proxy_harness.h"
#include "support/refused_port.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

TEST_SUITE("proxy upstream errors") {

TEST_CASE("upstream connection refused gets 502") {
    RefusedPort refused;
    ProxyConfig config;
    config.upstream = refused.address();
    ProxyHarness h(config);
    RawClient client = h.connect();
    REQUIRE(client.send(get_request("/refused")));
    const HttpResponse response = client.read_response(3s);
    check_afterhook_error(response, 502);
    check_closed_after(client);
    const nlohmann::json record = record_for(h, response);
    check_record(record, "upstream_error", 502);
    CHECK(record.value("url.path", "") == "/refused");
}

TEST_CASE("an upstream that resets or closes before the response head gets 502") {
    ProxyHarness h({}, [](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.target == "/reset") conn.reset();
        if (request.target == "/close") conn.close();
        if (request.target == "/partial-head") {
            conn.write("HTTP/1.1 200 OK\r\nContent-Le");
            conn.reset();
        }
    });
    for (const std::string target : {"/reset", "/close", "/partial-head"}) {
        INFO("target ", target);
        RawClient client = h.connect();
        REQUIRE(client.send(get_request(target)));
        const HttpResponse response = client.read_response(3s);
        check_afterhook_error(response, 502);
        check_closed_after(client);
        check_record(record_for(h, response), "upstream_error", 502);
    }
}

TEST_CASE("a malformed upstream response gets 502 and that upstream connection is closed") {
    // Only responses that RFC 9112 gives a proxy no way to repair or forward.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n"},
        {"status not a number", "HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n"},
        {"two-digit status", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n"},
        {"two differing Content-Length fields",
         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"},
        {"Content-Length not a number", "HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n"},
        {"header line without a colon", "HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n"},
    };
    ProxyHarness h({}, [&](UpstreamConn& conn, const UpstreamRequest& request) {
        const size_t i = std::stoul(request.target.substr(1));
        conn.write(cases.at(i).second);
    });
    for (size_t i = 0; i < cases.size(); ++i) {
        INFO("case: ", cases[i].first);
        RawClient client = h.connect();
        REQUIRE(client.send(get_request("/" + std::to_string(i))));
        const HttpResponse response = client.read_response(3s);
        check_afterhook_error(response, 502);
        check_closed_after(client);
        check_record(record_for(h, response), "upstream_error", 502);
        // Afterhook drops the upstream connection that misbehaved.
        CHECK(h.upstream().wait_for_closed_connections(i + 1, 3s));
    }
}

TEST_CASE("upstream failure after the response head: the client connection is closed mid-response") {
    const std::string part(5000, 'p');
    ProxyHarness h({}, [&](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.target == "/length-reset") {
            conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + part);
            conn.reset();
        } else if (request.target == "/length-close") {
            conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + part);
            conn.close();
        } else if (request.target == "/chunked-close") {
            conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n" + part + "\r\n");
            conn.close();
        } else if (request.target == "/chunked-garbage") {
            conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n" + part + "\r\nzz\r\n");
        } else if (request.target == "/until-close-reset") {
            // A close-delimited body ended by a reset is cut, not complete.
            conn.write("HTTP/1.1 200 OK\r\n\r\n" + part);
            conn.reset();
        }
    });
    for (const std::string target : {"/length-reset", "/length-close", "/chunked-close", "/chunked-garbage",
                               "/until-close-reset"}) {
        INFO("target ", target);
        RawClient client = h.connect();
        REQUIRE(client.send(get_request(target)));
        const HttpResponse response = client.read_response(3s);
        INFO(response.describe());
        check_http11(response);
        CHECK(response.status == 200);
        CHECK_FALSE(response.ok());  // the client sees a truncated body ...
        CHECK(response.error.find("timeout") == std::string::npos);  // ... because the connection closed
        CHECK(response.body_size <= part.size());
        const nlohmann::json record = record_for(h, response);
        INFO("record: ", record.dump());
        CHECK(record.value("afterhook.outcome", "") == "upstream_error");
    }
}

}  // TEST_SUITE
