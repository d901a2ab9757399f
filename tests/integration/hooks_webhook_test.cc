// Webhook delivery against real receivers over loopback: a slow receiver
// never slows clients down, a receiver that is down costs nothing but
// counted failures and a bounded queue, retries follow the receiver's
// status (429 with Retry-After, 4xx, 3xx), and every delivery carries a
// Standard Webhooks signature that verifies with the shared secret.
#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "support/admin_client.h"
#include "support/afterhook_process.h"
#include "support/fake_upstream.h"
#include "support/raw_client.h"
#include "support/temp_dir.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

std::string base_config(const FakeUpstream& upstream) {
    return "listen: 127.0.0.1:0\n"
           "upstream: " + upstream.address() + "\n"
           "workers: 1\n"
           "admin: {listen: 127.0.0.1:0}\n"
           "timeouts: {drain: 1s}\n";
}

// One hook's count for `result` in afterhook_hook_events_total, -1 when absent.
double events(const AdminClient& admin, const std::string& hook, const std::string& result) {
    return admin.metric("afterhook_hook_events_total", {{"hook", hook}, {"result", result}}).value_or(-1);
}

bool wait_events(const AdminClient& admin, const std::string& hook, const std::string& result,
                 double expected, Clock::duration timeout) {
    return admin.wait_for_metric("afterhook_hook_events_total", {{"hook", hook}, {"result", result}},
                                 [&](double v) { return v == expected; }, timeout);
}

// Client latencies of `count` sequential GETs of `<prefix><i>` on one
// keep-alive connection.
std::vector<Clock::duration> sequential_latencies(uint16_t port, const std::string& prefix,
                                                  int count) {
    std::vector<Clock::duration> latencies;
    RawClient client = RawClient::connect(port);
    for (int i = 0; i < count; ++i) {
        const auto start = Clock::now();
        REQUIRE(client.send(get_request(prefix + std::to_string(i))));
        const HttpResponse response = client.read_response(3s);
        latencies.push_back(Clock::now() - start);
        INFO(response.describe());
        REQUIRE(response.status == 200);
    }
    return latencies;
}

Clock::duration p99(std::vector<Clock::duration> values) {
    std::sort(values.begin(), values.end());
    const size_t rank = (values.size() * 99 + 99) / 100;  // nearest rank, 1-based
    return values[rank - 1];
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Standard Webhooks signature computed here with OpenSSL, independently of
// afterhook's own signing code.
std::string expected_signature(const std::string& key, const std::string& message) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_size = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &mac_size);
    std::string encoded(4 * ((mac_size + 2) / 3) + 1, '\0');
    const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), mac,
                                       static_cast<int>(mac_size));
    encoded.resize(static_cast<size_t>(length));
    return "v1," + encoded;
}

}  // namespace

TEST_SUITE("hooks webhook") {

TEST_CASE("a receiver that answers after 2 s does not move client p99, and gets all 200 rendered deliveries") {
    constexpr int kRequests = 200;
    // A p99 of 200 samples is the second-slowest request, so one scheduling
    // hiccup of a shared machine can decide it. Each attempt measures the
    // same 200 requests without and then with hooks, back to back; a later
    // attempt runs only when the previous one missed. Hooks that made
    // clients wait would miss in every attempt (each delivery takes 2 s).
    constexpr int kAttempts = 3;
    FakeUpstream upstream;
    FakeUpstream receiver([](UpstreamConn& conn, const UpstreamRequest&) {
        conn.sleep_for(2s);
        conn.respond(200, "ok");
    });
    TempDir dir_off;
    TempDir dir_on;
    AfterhookProcess proxy_off(dir_off, base_config(upstream));
    AfterhookProcess proxy(dir_on, base_config(upstream) +
                                       "hooks:\n"
                                       "  - name: slow\n"
                                       "    webhook:\n"
                                       "      url: \"http://" + receiver.address() + "/events\"\n"
                                       "      body: {path: \"{{request.path}}\", status: \"{{response.status}}\", hook: \"{{hook}}\"}\n"
                                       "      timeout: 5s\n"
                                       // The receiver runs a thread per connection on the same
                                       // two cores as the client: 50 keeps its burst small.
                                       "      concurrency: 50\n");
    INFO("afterhook output:\n", proxy.diagnostics());

    std::multiset<std::string> expected;
    Clock::duration p99_off{};
    Clock::duration p99_on{};
    for (int attempt = 1; attempt <= kAttempts; ++attempt) {
        const std::string prefix = "/a" + std::to_string(attempt) + "/r/";
        p99_off = p99(sequential_latencies(proxy_off.port(), prefix, kRequests));
        const auto started = Clock::now();
        p99_on = p99(sequential_latencies(proxy.port(), prefix, kRequests));
        const auto clients_done = Clock::now() - started;
        // The clients never waited for a 2 s delivery.
        CHECK(clients_done < 2s);
        for (int i = 0; i < kRequests; ++i) expected.insert(prefix + std::to_string(i));
        MESSAGE("attempt ", attempt, ": p99 without hooks ", ms(p99_off),
                " ms, with the slow webhook ", ms(p99_on), " ms");
        if (p99_on <= p99_off + 5ms) break;
    }
    CHECK(p99_on <= p99_off + 5ms);

    // 4 rounds of 50 at 2 s each per attempt.
    REQUIRE(receiver.wait_for_requests(expected.size(), 15s * (expected.size() / kRequests)));
    std::multiset<std::string> paths;
    for (const UpstreamRequest& request : receiver.requests()) {
        CHECK(request.method == "POST");
        CHECK(request.target == "/events");
        const auto body = nlohmann::json::parse(request.body, nullptr, false);
        INFO("body: ", request.body);
        REQUIRE(body.is_object());
        CHECK(body["status"] == 200);
        CHECK(body["hook"] == "slow");
        paths.insert(body.value("path", "<none>"));
    }
    CHECK(paths == expected);
    const AdminClient admin(proxy.admin_port());
    CHECK(wait_events(admin, "slow", "delivered", static_cast<double>(expected.size()), 3s));
}

TEST_CASE("a receiver that is down: clients unaffected, failures counted after the retries, the queue bounded, and delivery resumes when it is back") {
    // Down: every attempt is reset after its request arrived; up: 200.
    std::atomic<bool> up{false};
    FakeUpstream receiver([&](UpstreamConn& conn, const UpstreamRequest&) {
        if (!up.load()) {
            conn.reset();
            return;
        }
        conn.respond(200, "ok");
    });
    FakeUpstream upstream;
    TempDir dir;
    AfterhookProcess proxy(dir, base_config(upstream) +
                                    "hooks:\n"
                                    "  - name: down\n"
                                    "    webhook:\n"
                                    "      url: \"http://" + receiver.address() + "/events\"\n"
                                    "      body: {path: \"{{request.path}}\"}\n"
                                    "      timeout: 2s\n"
                                    "      retry: {attempts: 3, backoff: 50ms, max_backoff: 200ms}\n"
                                    "      queue: {size: 50}\n");
    const AdminClient admin(proxy.admin_port());
    INFO("afterhook output:\n", proxy.diagnostics());

    // A few events, one at a time: each fails after exactly 3 attempts.
    constexpr int kFew = 10;
    {
        RawClient client = RawClient::connect(proxy.port());
        for (int i = 0; i < kFew; ++i) {
            REQUIRE(client.send(get_request("/few/" + std::to_string(i))));
            const HttpResponse response = client.read_response(3s);
            REQUIRE(response.status == 200);
        }
    }
    CHECK(wait_events(admin, "down", "failed", kFew, 5s));
    CHECK(events(admin, "down", "retried") == 2 * kFew);
    CHECK(events(admin, "down", "delivered") == 0);
    CHECK(receiver.wait_for_requests(3 * kFew, 2s));

    // A burst far larger than the queue on four connections: every client is
    // served, the queue never holds more than its size, the rest is dropped.
    constexpr int kBurst = 2000;
    constexpr int kConnections = 4;
    std::atomic<int> ok{0};
    std::atomic<bool> burst_done{false};
    double max_depth = 0;
    std::vector<std::thread> clients;
    for (int c = 0; c < kConnections; ++c) {
        clients.emplace_back([&, c] {
            RawClient client = RawClient::connect(proxy.port());
            for (int i = 0; i < kBurst / kConnections; ++i) {
                if (!client.send(get_request("/burst/" + std::to_string(c) + "/" + std::to_string(i)))) return;
                if (client.read_response(3s).status == 200) ++ok;
            }
        });
    }
    std::thread sampler([&] {
        while (!burst_done.load()) {
            max_depth = std::max(max_depth, admin.metric("afterhook_hook_queue_depth", {{"hook", "down"}}).value_or(0));
            std::this_thread::sleep_for(5ms);  // sampling interval, not a wait for an effect
        }
    });
    for (std::thread& t : clients) t.join();
    burst_done = true;
    sampler.join();
    CHECK(ok.load() == kBurst);
    // The gauge counts events waiting (queue.size, 50) plus attempts in
    // flight (concurrency, 8 by default): it must never pass 58.
    INFO("largest queue depth seen: ", max_depth);
    CHECK(max_depth <= 50 + 8);
    // Every event ends as failed or dropped; some were dropped.
    CHECK(wait_until([&] {
        return events(admin, "down", "failed") + events(admin, "down", "dropped") == kFew + kBurst;
    }, 8s, 20ms));
    CHECK(events(admin, "down", "dropped") > 0);
    CHECK(events(admin, "down", "delivered") == 0);
    CHECK(admin.wait_for_metric("afterhook_hook_queue_depth", {{"hook", "down"}}, [](double v) { return v == 0; }, 3s));

    // Back up: new events are delivered.
    up = true;
    const size_t before = receiver.request_count();
    {
        RawClient client = RawClient::connect(proxy.port());
        for (int i = 0; i < 5; ++i) {
            REQUIRE(client.send(get_request("/back/" + std::to_string(i))));
            REQUIRE(client.read_response(3s).status == 200);
        }
    }
    CHECK(wait_events(admin, "down", "delivered", 5, 5s));
    REQUIRE(receiver.wait_for_requests(before + 5, 2s));
    std::set<std::string> back;
    for (const UpstreamRequest& request : receiver.requests()) {
        const auto body = nlohmann::json::parse(request.body, nullptr, false);
        if (body.is_object() && body.value("path", "").rfind("/back/", 0) == 0) back.insert(body["path"]);
    }
    CHECK(back.size() == 5);
}

TEST_CASE("429 with Retry-After: 1 is retried after at least 1 s - 400 is not retried - 302 is not followed") {
    FakeUpstream redirect_target;
    std::atomic<int> seen_429{0};
    FakeUpstream receiver([&](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.target == "/busy") {
            if (seen_429++ == 0) {
                conn.respond(429, "slow down", {{"Retry-After", "1"}});
            } else {
                conn.respond(200, "ok");
            }
        } else if (request.target == "/bad") {
            conn.respond(400, "no");
        } else if (request.target == "/moved") {
            conn.respond(302, "", {{"Location", "http://" + redirect_target.address() + "/elsewhere"}});
        } else {
            conn.respond(404, "unknown");
        }
    });
    FakeUpstream upstream;
    TempDir dir;
    const std::string url = "http://" + receiver.address();
    AfterhookProcess proxy(dir, base_config(upstream) +
                                    "hooks:\n"
                                    "  - name: busy\n"
                                    "    webhook: {url: \"" + url + "/busy\", retry: {attempts: 3, backoff: 50ms, max_backoff: 100ms}}\n"
                                    "  - name: bad\n"
                                    "    webhook: {url: \"" + url + "/bad\", retry: {attempts: 3, backoff: 50ms, max_backoff: 100ms}}\n"
                                    "  - name: moved\n"
                                    "    webhook: {url: \"" + url + "/moved\", retry: {attempts: 3, backoff: 50ms, max_backoff: 100ms}}\n");
    const AdminClient admin(proxy.admin_port());
    INFO("afterhook output:\n", proxy.diagnostics());
    RawClient client = RawClient::connect(proxy.port());
    REQUIRE(client.send(get_request("/once")));
    REQUIRE(client.read_response(3s).status == 200);

    CHECK(wait_events(admin, "busy", "delivered", 1, 5s));
    CHECK(events(admin, "busy", "retried") == 1);
    CHECK(wait_events(admin, "bad", "failed", 1, 3s));
    CHECK(events(admin, "bad", "retried") == 0);
    CHECK(wait_events(admin, "moved", "failed", 1, 3s));
    CHECK(events(admin, "moved", "retried") == 0);

    std::vector<UpstreamRequest> busy;
    size_t bad = 0;
    size_t moved = 0;
    for (const UpstreamRequest& request : receiver.requests()) {
        if (request.target == "/busy") busy.push_back(request);
        if (request.target == "/bad") ++bad;
        if (request.target == "/moved") ++moved;
    }
    REQUIRE(busy.size() == 2);
    INFO("retry came ", ms(busy[1].head_time - busy[0].complete_time), " ms after the 429");
    CHECK(busy[1].head_time - busy[0].complete_time >= 1s);
    CHECK(bad == 1);
    CHECK(moved == 1);
    CHECK(redirect_target.request_count() == 0);
    CHECK(redirect_target.accepted_connections() == 0);
}

TEST_CASE("every delivery verifies as a Standard Webhooks signature, and webhook-id is the same across retries") {
    // The secret in whsec_ form: the key is the decoded bytes.
    const std::string key = "afterhook-test-signing-key-0123456789";
    unsigned char encoded[128];
    const int encoded_size = EVP_EncodeBlock(encoded, reinterpret_cast<const unsigned char*>(key.data()),
                                             static_cast<int>(key.size()));
    const std::string secret = "whsec_" + std::string(reinterpret_cast<char*>(encoded), static_cast<size_t>(encoded_size));

    // The first attempt of each event gets 503, the second 200.
    std::mutex mutex;
    std::set<std::string> failed_once;
    FakeUpstream receiver([&](UpstreamConn& conn, const UpstreamRequest& request) {
        const std::string id = request.header("webhook-id").value_or("");
        bool first = false;
        {
            std::lock_guard<std::mutex> lock(mutex);
            first = failed_once.insert(id).second;
        }
        conn.respond(first ? 503 : 200, first ? "try again" : "ok");
    });
    FakeUpstream upstream;
    TempDir dir;
    AfterhookProcess proxy(dir, base_config(upstream) +
                                    "hooks:\n"
                                    "  - name: signed\n"
                                    "    webhook:\n"
                                    "      url: \"http://" + receiver.address() + "/events\"\n"
                                    "      retry: {attempts: 3, backoff: 50ms, max_backoff: 100ms}\n"
                                    "      sign: {secret: \"" + secret + "\"}\n");
    const AdminClient admin(proxy.admin_port());
    INFO("afterhook output:\n", proxy.diagnostics());

    constexpr int kEvents = 20;
    std::set<std::string> request_ids;
    {
        RawClient client = RawClient::connect(proxy.port());
        for (int i = 0; i < kEvents; ++i) {
            REQUIRE(client.send(get_request("/s/" + std::to_string(i))));
            const HttpResponse response = client.read_response(3s);
            REQUIRE(response.status == 200);
            request_ids.insert(response.header("x-request-id").value_or("<none>"));
        }
    }
    CHECK(wait_events(admin, "signed", "delivered", kEvents, 8s));
    CHECK(events(admin, "signed", "retried") == kEvents);

    std::map<std::string, std::vector<std::string>> bodies_by_id;
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    for (const UpstreamRequest& request : receiver.requests()) {
        const std::string id = request.header("webhook-id").value_or("");
        const std::string timestamp = request.header("webhook-timestamp").value_or("");
        const std::string signature = request.header("webhook-signature").value_or("");
        INFO("webhook-id ", id, " timestamp ", timestamp, " signature ", signature);
        REQUIRE_FALSE(id.empty());
        REQUIRE_FALSE(timestamp.empty());
        CHECK(std::llabs(std::stoll(timestamp) - now) < 300);
        CHECK(signature == expected_signature(key, id + "." + timestamp + "." + request.body));
        bodies_by_id[id].push_back(request.body);
    }
    CHECK(bodies_by_id.size() == kEvents);
    for (const auto& [id, bodies] : bodies_by_id) {
        INFO("webhook-id ", id);
        CHECK(bodies.size() == 2);  // the 503 and the retry carry the same id
        CHECK(bodies.front() == bodies.back());
        // `<request id>-<hook name>`
        CHECK(id.size() > 7);
        CHECK(id.substr(id.size() - 7) == "-signed");
        CHECK(request_ids.count(id.substr(0, id.size() - 7)) == 1);
    }
}

}  // TEST_SUITE
