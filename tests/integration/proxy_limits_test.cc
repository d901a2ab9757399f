// Configured limits: header bytes and count (431), target length (414),
// body size (413), client connections, and more than one worker.
#include <doctest/doctest.h>

#include "support/expectations.h"
#include "support/proxy_harness.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

const std::string kHost = "Host: test.local\r\n";

std::string numbered_fields(int count, size_t value_size = 8) {
    std::string out;
    for (int i = 0; i < count; ++i) {
        out += "X-Field-" + std::to_string(i) + ": " + std::string(value_size, 'v') + "\r\n";
    }
    return out;
}

void check_accepted(ProxyHarness& h, const std::string& request, const std::string& what) {
    INFO("control case: ", what);
    const HttpResponse response = h.exchange(request);
    INFO(response.describe());
    CHECK(response.status == 200);
}

}  // namespace

TEST_SUITE("proxy limits") {

TEST_CASE("a request head over limits.max_header_bytes gets 431") {
    ProxyConfig config;
    config.limit("max_header_bytes", "1KiB");
    {
        ProxyHarness h(config);
        check_accepted(h, get_request("/", "X-Pad: " + std::string(400, 'p') + "\r\n"), "a 500-byte head");
    }
    check_rejections({
        {"one large field", get_request("/", "X-Big: " + std::string(2000, 'b') + "\r\n")},
        {"many fields adding up", get_request("/", numbered_fields(30, 40))},
        {"far over the limit", get_request("/", "X-Huge: " + std::string(64 * 1024, 'h') + "\r\n")},
    }, 431, true, config);
}

TEST_CASE("more header fields than limits.max_headers gets 431") {
    ProxyConfig config;
    config.limit("max_headers", "10");
    {
        ProxyHarness h(config);
        check_accepted(h, get_request("/", numbered_fields(9)), "Host and 9 more: exactly 10 fields");
    }
    check_rejections({
        {"11 fields", get_request("/", numbered_fields(10))},
        {"60 fields", get_request("/", numbered_fields(59))},
    }, 431, true, config);
}

TEST_CASE("a target over limits.max_uri_bytes gets 414") {
    ProxyConfig config;
    config.limit("max_uri_bytes", "256");
    {
        ProxyHarness h(config);
        check_accepted(h, get_request("/" + std::string(200, 'u')), "a 201-byte target");
    }
    check_rejections({
        {"300-byte target", get_request("/" + std::string(299, 'u'))},
        {"300-byte query", get_request("/q?" + std::string(297, 'q'))},
        {"8 KiB target", get_request("/" + std::string(8 * 1024, 'u'))},
    }, 414, true, config);
}

TEST_CASE("a body over limits.max_body_bytes gets 413") {
    ProxyConfig config;
    config.limit("max_body_bytes", "1KiB");
    const std::string chunked_head = "POST /up HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n";
    SUBCASE("bodies up to the limit pass intact") {
        ProxyHarness h(config);
        check_accepted(h, post_request("/up", std::string(1024, 'x')), "Content-Length at the limit");
        check_accepted(h, chunked_head + chunked(std::string(1000, 'y'), 300), "chunked under the limit");
        REQUIRE(h.upstream().wait_for_requests(2, 2s));
        CHECK(h.upstream().request(0).body == std::string(1024, 'x'));
        CHECK(h.upstream().request(1).body == std::string(1000, 'y'));
    }
    SUBCASE("Content-Length over the limit is refused from the head alone") {
        // Only the head is sent: the answer must not wait for the body.
        check_rejections({
            {"Content-Length 1025", "POST /up HTTP/1.1\r\n" + kHost + "Content-Length: 1025\r\n\r\n"},
            {"Content-Length 10 GiB", "POST /up HTTP/1.1\r\n" + kHost + "Content-Length: 10737418240\r\n\r\n"},
        }, 413, true, config);
    }
    SUBCASE("a chunked body is refused once it passes the limit") {
        // No final chunk is sent: the refusal comes mid-stream.
        check_rejections({
            {"two chunks passing the limit",
             chunked_head + "400\r\n" + std::string(1024, 'a') + "\r\n200\r\n" + std::string(512, 'b') + "\r\n"},
            {"one chunk over the limit", chunked_head + "800\r\n" + std::string(2048, 'c') + "\r\n"},
        }, 413, false, config);
    }
}

TEST_CASE("limits.max_connections: the connection over the limit is closed at once and the others keep working") {
    ProxyConfig config;
    config.limit("max_connections", "3");
    ProxyHarness h(config);
    std::vector<RawClient> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(h.connect());
        REQUIRE(clients.back().send(get_request("/first/" + std::to_string(i))));
        REQUIRE(clients.back().read_response().status == 200);
    }
    RawClient extra = h.connect();  // the kernel completes the handshake; afterhook must close it
    extra.send(get_request("/over-the-limit"));
    const CloseResult refused = extra.read_all_until_close(2s);
    INFO("bytes from the refused connection: \"", refused.data, "\"");
    CHECK(refused.closed);
    CHECK(refused.data.empty());

    for (size_t i = 0; i < clients.size(); ++i) {
        REQUIRE(clients[i].send(get_request("/again/" + std::to_string(i))));
        const HttpResponse response = clients[i].read_response();
        INFO(response.describe());
        CHECK(response.status == 200);
    }
    for (const UpstreamRequest& request : h.upstream().requests()) CHECK(request.target != "/over-the-limit");

    // Once a connection goes, its slot is free again.
    clients.pop_back();
    CHECK(wait_until([&] {
        auto client = RawClient::try_connect(h.port());
        if (!client || !client->send(get_request("/freed"))) return false;
        return client->read_response(500ms).status == 200;
    }, 5s, 50ms));
}

TEST_CASE("workers: 2 serves requests on both workers") {
    ProxyConfig config;
    config.workers = 2;
    ProxyHarness h(config);
    // Every worker has its own upstream pool, and these exchanges never
    // overlap, so each worker needs exactly one upstream connection: two
    // upstream connections mean both workers served. Client connections are
    // spread over the workers by the kernel; 64 of them all landing on one
    // worker would happen once in 2^63 runs.
    for (int i = 0; i < 64; ++i) {
        const HttpResponse response = h.exchange(get_request("/w/" + std::to_string(i)));
        INFO(response.describe());
        REQUIRE(response.status == 200);
        CHECK(response.body == "GET /w/" + std::to_string(i));
    }
    CHECK(h.upstream().accepted_connections() == 2);
}

}  // TEST_SUITE
