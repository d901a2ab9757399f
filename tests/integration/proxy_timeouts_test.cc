// Timeouts: a request head that does not complete in time (408), an
// upstream that does not answer in time (504), and an upstream that stalls
// after the response head was sent (the client connection is cut).
#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "support/expectations.h"
#include "support/proxy_harness.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

// Sends `text` one byte every `interval` on its own thread until it is
// done, a send fails, or stop() is called: a client that is slow on purpose.
class Trickle {
public:
    Trickle(RawClient& client, std::string text, Clock::duration interval)
        : thread_([this, &client, text = std::move(text), interval] {
              for (char c : text) {
                  if (!client.send(std::string_view(&c, 1), 1s)) return;
                  std::unique_lock lock(mutex_);
                  if (stopped_.wait_for(lock, interval, [this] { return stop_; })) return;
              }
          }) {}
    ~Trickle() { stop(); }
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        stopped_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    std::mutex mutex_;
    std::condition_variable stopped_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace

TEST_SUITE("proxy timeouts") {

TEST_CASE("a request head not complete within timeouts.request_header gets 408") {
    ProxyConfig config;
    config.timeout("request_header", "300ms");
    ProxyHarness h(config);

    SUBCASE("the client stops in the middle of the head") {
        RawClient client = h.connect();
        const auto start = Clock::now();
        REQUIRE(client.send("GET /partial HTTP/1.1\r\nHost: test.local\r\nX-Half: "));
        const HttpResponse response = client.read_response(3s);
        const auto elapsed = Clock::now() - start;
        check_afterhook_error(response, 408);
        CHECK(elapsed >= 250ms);
        CHECK(elapsed < 2500ms);
        check_closed_after(client);
        check_record(nth_record(h, 0), "rejected", 408);
    }
    SUBCASE("the client keeps sending, but too slowly (slowloris)") {
        RawClient client = h.connect();
        const auto start = Clock::now();
        REQUIRE(client.send("GET /slow HTTP/1.1\r\nHost: test.local\r\n"));
        // 40 bytes at one per 50 ms would take 2 s; the head deadline is 300 ms.
        Trickle trickle(client, "X-Trickle: " + std::string(29, 't'), 50ms);
        const HttpResponse response = client.read_response(3s);
        const auto elapsed = Clock::now() - start;
        trickle.stop();
        check_afterhook_error(response, 408);
        CHECK(elapsed >= 250ms);
        CHECK(elapsed < 1800ms);
        check_record(nth_record(h, 0), "rejected", 408);
    }
    CHECK(h.upstream().request_count() == 0);
}

TEST_CASE("an idle keep-alive connection between requests is not sent a 408") {
    ProxyConfig config;
    config.timeout("request_header", "300ms");
    ProxyHarness h(config);
    RawClient client = h.connect();
    REQUIRE(client.send(get_request("/one")));
    REQUIRE(client.read_response().status == 200);
    // Twice the head deadline with no request in progress: nothing may arrive.
    CHECK(client.read_some(700ms) == ReadStatus::timeout);
    CHECK(client.buffer().empty());
    REQUIRE(client.send(get_request("/two")));
    const HttpResponse response = client.read_response();
    INFO(response.describe());
    CHECK(response.status == 200);
}

TEST_CASE("no upstream response head within timeouts.upstream_response gets 504") {
    ProxyConfig config;
    config.timeout("upstream_response", "300ms");
    ProxyHarness h(config, [](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.target == "/slow") {
            conn.sleep_for(10s);  // cut short when the test ends
            return;
        }
        conn.respond(200, request.target);
    });
    RawClient client = h.connect();
    const auto start = Clock::now();
    REQUIRE(client.send(get_request("/slow")));
    const HttpResponse response = client.read_response(3s);
    const auto elapsed = Clock::now() - start;
    check_afterhook_error(response, 504);
    CHECK(elapsed >= 250ms);
    CHECK(elapsed < 2500ms);
    check_closed_after(client);
    check_record(record_for(h, response), "upstream_timeout", 504);

    // The upstream connection stuck in /slow is not reused for the next exchange.
    const HttpResponse next = h.exchange(get_request("/fast"));
    INFO(next.describe());
    CHECK(next.status == 200);
    CHECK(next.body == "/fast");
}

TEST_CASE("an upstream answering within timeouts.upstream_response is not cut off") {
    ProxyConfig config;
    config.timeout("upstream_response", "1s");
    ProxyHarness h(config, [](UpstreamConn& conn, const UpstreamRequest&) {
        conn.sleep_for(200ms);
        conn.respond(200, "in time");
    });
    const HttpResponse response = h.exchange(get_request("/"));
    INFO(response.describe());
    CHECK(response.status == 200);
    CHECK(response.body == "in time");
}

TEST_CASE("an upstream that stalls mid-body past timeouts.upstream_response: the client connection is cut") {
    ProxyConfig config;
    config.timeout("upstream_response", "300ms");
    ProxyHarness h(config, [](UpstreamConn& conn, const UpstreamRequest&) {
        conn.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(100, 'x'));
        conn.sleep_for(10s);
    });
    RawClient client = h.connect();
    REQUIRE(client.send(get_request("/stall")));
    const auto start = Clock::now();
    const HttpResponse response = client.read_response(4s);
    INFO(response.describe());
    CHECK(response.status == 200);
    CHECK_FALSE(response.ok());  // truncated, not timed out by the client
    CHECK(response.error.find("timeout") == std::string::npos);
    CHECK(response.body_size == 100);
    CHECK(Clock::now() - start < 3s);
    const nlohmann::json record = nth_record(h, 0);
    INFO("record: ", record.dump());
    CHECK(record.value("afterhook.outcome", "") == "upstream_timeout");
}

}  // TEST_SUITE
