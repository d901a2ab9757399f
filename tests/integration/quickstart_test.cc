// The quick start, end to end: deploy/quickstart.sh as the README gives it
// (with the test's binary instead of a fresh build, and free ports), then a
// user's first three curls, and Ctrl-C-style shutdown.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>

#include "support/child_process.h"
#include "support/raw_client.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

// A port nothing listens on right now, for a child that needs a fixed one.
uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

HttpResponse request(uint16_t port, const std::string& method, const std::string& target) {
    RawClient client = RawClient::connect(port);
    std::string head = method + " " + target + " HTTP/1.1\r\nHost: demo\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    REQUIRE(client.send(head));
    return client.read_response(5s);
}

}  // namespace

TEST_CASE("quick start: the demo app behind afterhook, with an access log and webhooks to the demo receiver") {
    const uint16_t listen = free_port(), app = free_port(), receiver = free_port(), admin = free_port();
    ChildProcess script({"/usr/bin/env", "LISTEN_PORT=" + std::to_string(listen), "APP_PORT=" + std::to_string(app),
                         "RECEIVER_PORT=" + std::to_string(receiver), "ADMIN_PORT=" + std::to_string(admin),
                         std::string("AFTERHOOK_BIN=") + AFTERHOOK_BINARY, "bash",
                         std::string(AFTERHOOK_SOURCE_DIR) + "/deploy/quickstart.sh"});
    INFO("script output:\n" << script.tail());
    REQUIRE(script.wait_for_line(std::regex("info listening address=0\\.0\\.0\\.0:" + std::to_string(listen)), 60s));
    REQUIRE(script.wait_for_line(std::regex("curl -i http://127\\.0\\.0\\.1:" + std::to_string(listen) + "/"), 1s));

    HttpResponse hello = request(listen, "GET", "/");
    INFO(hello.describe());
    CHECK(hello.status == 200);
    REQUIRE(hello.header("x-request-id"));
    const std::string id = *hello.header("x-request-id");
    CHECK(hello.body.find(id) != std::string::npos);  // the app saw the same request id
    CHECK(script.wait_for_line(std::regex("\"afterhook\\.request\\.id\":\"" + id + "\".*\"http\\.response\\.status_code\":200"), 5s));

    HttpResponse failing = request(listen, "GET", "/status/503");
    CHECK(failing.status == 503);
    CHECK(script.wait_for_line(std::regex("\\[receiver\\] POST /alerts .*GET /status/503 -> 503"), 10s));

    HttpResponse order = request(listen, "POST", "/orders");
    CHECK(order.status == 201);
    CHECK_FALSE(order.has_header("afterhook-trigger"));  // stripped before the client
    CHECK(script.wait_for_line(std::regex("\\[receiver\\] POST /orders/42 .*\"event\":\"order\\.created\""), 10s));

    // The receiver prints before it answers: the delivery counts once its answer is in.
    const std::string delivered = "afterhook_hook_events_total{hook=\"order-created\",result=\"delivered\"} 1";
    CHECK(wait_until([&] { return request(admin, "GET", "/metrics").body.find(delivered) != std::string::npos; }, 5s));

    const int status = script.stop(10s);
    CHECK_FALSE(script.killed_after_grace());
    CHECK(WIFEXITED(status));
    // The app, the receiver and afterhook went with the script: the ports are free again.
    CHECK_FALSE(RawClient::try_connect(app));
    CHECK_FALSE(RawClient::try_connect(listen));
}
