// Graceful drain on SIGTERM: afterhook stops accepting, /readyz turns 503,
// idle keep-alive connections are closed, a busy one gets `Connection:
// close` on the response in flight, that exchange finishes, the hook events
// still queued are delivered, and the process exits 0. A second signal
// ends it at once.
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "support/admin_client.h"
#include "support/afterhook_process.h"
#include "support/expectations.h"
#include "support/fake_upstream.h"
#include "support/proxy_harness.h"
#include "support/raw_client.h"
#include "support/temp_dir.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

// A new connection to `port` is refused: connect fails, or the connection is
// closed without a byte of response.
bool refuses_new_connections(uint16_t port) {
    auto client = RawClient::try_connect(port);
    if (!client) return true;
    client->send(get_request("/new"));
    const CloseResult result = client->read_all_until_close(1s);
    return result.closed && result.data.empty();
}

}  // namespace

TEST_SUITE("ops drain") {

TEST_CASE("SIGTERM with a 3 s request in flight and 500 queued webhook events: the request completes and every event is delivered") {
    constexpr int kEvents = 500;
    // The receiver holds every event until released, then answers each after 20 ms.
    std::atomic<bool> released{false};
    FakeUpstream receiver([&](UpstreamConn& conn, const UpstreamRequest&) {
        conn.wait([&] { return released.load(); }, 20s);
        conn.sleep_for(20ms);
        conn.respond(200, "ok");
    });
    FakeUpstream upstream([](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.target == "/slow") conn.sleep_for(3s);
        conn.respond(200, request.target);
    });
    TempDir dir;
    AfterhookProcess proxy(dir, "listen: 127.0.0.1:0\n"
                                "upstream: " + upstream.address() + "\n"
                                "workers: 2\n"
                                "admin: {listen: 127.0.0.1:0}\n"
                                "timeouts: {drain: 15s}\n"
                                "hooks:\n"
                                "  - name: notify\n"
                                "    webhook:\n"
                                "      url: \"http://" + receiver.address() + "/events\"\n"
                                "      body: {path: \"{{request.path}}\"}\n"
                                "      timeout: 12s\n"
                                "      retry: {attempts: 1}\n"
                                "      concurrency: 4\n"
                                "      queue: {size: 1000}\n");
    const AdminClient admin(proxy.admin_port());
    INFO("afterhook output:\n", proxy.diagnostics());

    // 500 fast exchanges while the receiver is paused: 500 events queued.
    {
        RawClient client = RawClient::connect(proxy.port());
        for (int i = 0; i < kEvents; ++i) {
            REQUIRE(client.send(get_request("/e/" + std::to_string(i))));
            const HttpResponse response = client.read_response(3s);
            REQUIRE(response.status == 200);
        }
    }
    REQUIRE(admin.wait_for_metric("afterhook_hook_queue_depth", {{"hook", "notify"}},
                                  [](double v) { return v == kEvents; }, 5s));

    RawClient slow = RawClient::connect(proxy.port());
    REQUIRE(slow.send(get_request("/slow")));
    REQUIRE(upstream.wait_for_requests(kEvents + 1, 3s));

    const auto signalled = Clock::now();
    REQUIRE(proxy.signal(SIGTERM));
    CHECK(wait_until([&] { return admin.get("/readyz").status == 503; }, 1s, Millis(10)));
    CHECK(wait_until([&] { return refuses_new_connections(proxy.port()); }, 2s, Millis(20)));
    released = true;
    receiver.notify();

    const HttpResponse response = slow.read_response(6s);
    INFO(response.describe());
    CHECK(response.status == 200);
    CHECK(response.body == "/slow");
    CHECK(response.connection_close());

    REQUIRE(proxy.process().wait_exit(15s));
    const auto took = Clock::now() - signalled;
    CHECK(proxy.process().exit_code() == 0);
    CHECK(took < 15s);

    std::multiset<std::string> paths;
    for (const UpstreamRequest& request : receiver.requests()) {
        const auto body = nlohmann::json::parse(request.body, nullptr, false);
        paths.insert(body.is_object() ? body.value("path", "<no path>") : "<not JSON: " + request.body + ">");
    }
    std::multiset<std::string> expected{"/slow"};
    for (int i = 0; i < kEvents; ++i) expected.insert("/e/" + std::to_string(i));
    CHECK(paths.size() == expected.size());
    CHECK(paths == expected);
    CHECK_FALSE(proxy.process().wait_for_line(std::regex("undelivered"), 0s).has_value());
}

TEST_CASE("drain closes an idle keep-alive connection at once and ends a busy one after its response") {
    ProxyConfig config;
    config.timeout("drain", "5s");
    ProxyHarness h(config, [](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.target == "/slow") conn.sleep_for(1500ms);
        conn.respond(200, request.target);
    });
    INFO("afterhook output:\n", h.proxy().diagnostics());
    RawClient idle = h.connect();
    REQUIRE(idle.send(get_request("/idle")));
    const HttpResponse first = idle.read_response();
    REQUIRE(first.status == 200);
    CHECK_FALSE(first.connection_close());

    RawClient busy = h.connect();
    REQUIRE(busy.send(get_request("/slow")));
    REQUIRE(h.upstream().wait_for_requests(2, 3s));

    const auto signalled = Clock::now();
    REQUIRE(h.proxy().signal(SIGTERM));
    const CloseResult closed = idle.read_all_until_close(1s);
    CHECK(closed.closed);
    CHECK(closed.data.empty());
    CHECK(Clock::now() - signalled < 1s);  // well before the busy response is due

    const HttpResponse response = busy.read_response(3s);
    INFO(response.describe());
    CHECK(response.status == 200);
    CHECK(response.connection_close());
    check_closed_after(busy);

    REQUIRE(h.proxy().process().wait_exit(5s));
    CHECK(h.proxy().process().exit_code() == 0);
    CHECK(h.log().count() == 2);
}

TEST_CASE("a second SIGTERM ends a long drain at once") {
    ProxyConfig config;
    config.timeout("drain", "30s");
    ProxyHarness h(config, [](UpstreamConn& conn, const UpstreamRequest&) {
        conn.wait([] { return false; }, 30s);  // hangs until the fake upstream stops
    });
    INFO("afterhook output:\n", h.proxy().diagnostics());
    RawClient client = h.connect();
    REQUIRE(client.send(get_request("/hang")));
    REQUIRE(h.upstream().wait_for_requests(1, 3s));

    REQUIRE(h.proxy().signal(SIGTERM));
    REQUIRE(h.proxy().process().wait_for_line(std::regex("draining"), 2s).has_value());
    // The first signal only drains: the hung exchange keeps afterhook alive.
    CHECK_FALSE(h.proxy().process().wait_exit(300ms));

    const auto second = Clock::now();
    REQUIRE(h.proxy().signal(SIGTERM));
    CHECK(h.proxy().process().wait_exit(2s));
    CHECK(Clock::now() - second < 2s);
    const int code = h.proxy().process().exit_code();
    CHECK((code == 0 || code == -SIGTERM));
    CHECK(client.read_all_until_close(2s).closed);
}

}  // TEST_SUITE
