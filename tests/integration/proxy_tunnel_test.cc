// Upgrade: a 101 from the upstream turns the exchange into a two-way byte
// tunnel until either side closes; its record is written when it closes.
#include <doctest/doctest.h>

#include "support/expectations.h"
#include "support/pattern.h"
#include "support/proxy_harness.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

const std::string kUpgradeRequest =
    "GET /ws HTTP/1.1\r\nHost: test.local\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

const std::string kSwitching =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

// Reads exactly `size` tunnelled bytes.
std::string receive(RawClient& client, size_t size) {
    REQUIRE(client.read_at_least(size, 3s));
    return client.stream().take(size);
}

}  // namespace

TEST_SUITE("proxy tunnel") {

TEST_CASE("Upgrade: websocket with a 101 from the upstream becomes a two-way tunnel until the client closes") {
    ProxyHarness h({}, [](UpstreamConn& conn, const UpstreamRequest& request) {
        if (!request.has_header("upgrade")) {
            conn.respond(400, "the upstream expected an upgrade");
            return;
        }
        conn.write(kSwitching + "server-first|");
        // Echo until the client's side of the tunnel closes.
        while (conn.read_some(10s) == ReadStatus::data) {
            if (!conn.write(conn.stream().take(conn.input().size()))) break;
        }
        conn.close();
    });
    RawClient client = h.connect();
    REQUIRE(client.send(kUpgradeRequest));
    const HttpResponse response = client.read_response(3s);
    INFO(response.describe());
    REQUIRE(response.ok());
    check_http11(response);
    REQUIRE(response.status == 101);
    CHECK(response.header("upgrade") == "websocket");
    CHECK(has_token(response.headers, "connection", "upgrade"));

    const UpstreamRequest got = h.upstream().request(0);
    INFO("upstream got: ", got.raw);
    CHECK(got.header("upgrade") == "websocket");
    CHECK(has_token(got.headers, "connection", "upgrade"));
    CHECK(got.header("sec-websocket-key") == "dGhlIHNhbXBsZSBub25jZQ==");

    CHECK(receive(client, 13) == "server-first|");
    const std::vector<std::string> messages = {
        "hello", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", std::string("\0\x01\xff\r\n", 5),
        Pattern::bytes(0, 256 * 1024)};
    for (const std::string& message : messages) {
        REQUIRE(client.send(message));
        CHECK(receive(client, message.size()) == message);
    }
    // The exchange is not over while the tunnel is open.
    CHECK_FALSE(h.log().wait_for_count(1, 300ms));

    client.shutdown_write();
    const CloseResult closed = client.read_all_until_close(3s);
    CHECK(closed.closed);
    CHECK(closed.data.empty());
    const nlohmann::json record = nth_record(h, 0);
    check_record(record, "ok", 101);
    CHECK(record.value("url.path", "") == "/ws");
}

TEST_CASE("a tunnel closed by the upstream closes the client connection and is recorded") {
    ProxyHarness h({}, [](UpstreamConn& conn, const UpstreamRequest&) {
        conn.write(kSwitching + "goodbye");
        conn.close();
    });
    RawClient client = h.connect();
    REQUIRE(client.send(kUpgradeRequest));
    const HttpResponse response = client.read_response(3s);
    INFO(response.describe());
    REQUIRE(response.status == 101);
    const CloseResult closed = client.read_all_until_close(3s);
    CHECK(closed.closed);
    CHECK(closed.data == "goodbye");
    check_record(nth_record(h, 0), "ok", 101);
}

TEST_CASE("an upgrade the upstream declines is an ordinary exchange and not a tunnel") {
    ProxyHarness h;
    RawClient client = h.connect();
    REQUIRE(client.send(kUpgradeRequest));
    const HttpResponse response = client.read_response(3s);
    INFO(response.describe());
    REQUIRE(response.ok());
    CHECK(response.status == 200);
    CHECK(response.body == "GET /ws");
    check_record(nth_record(h, 0), "ok", 200);
    // Afterhook may keep the connection (then it speaks HTTP, not bytes) or
    // announce its end; either way it must do what it announced.
    if (response.connection_close()) {
        check_closed_after(client);
    } else {
        REQUIRE(client.send(get_request("/plain")));
        const HttpResponse next = client.read_response(3s);
        INFO(next.describe());
        CHECK(next.status == 200);
        CHECK(next.body == "GET /plain");
    }
}

}  // TEST_SUITE
