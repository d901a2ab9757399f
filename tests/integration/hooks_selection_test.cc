// Which events hooks see: app triggers (stripped from every response,
// params passed, unknown names reported, never from a client), sampling by
// request id (the same requests for every hook at one rate), and redacted
// headers that never reach any sink.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

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

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
}

size_t line_count(const std::string& path) {
    const std::string text = read_file(path);
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_SUITE("hooks selection") {

TEST_CASE("triggers: the header is stripped, the named hook fires with its params, an unknown name is reported, a client cannot trigger") {
    FakeUpstream receiver(FakeUpstream::respond_with(200, "ok"));
    FakeUpstream upstream([](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.target == "/purge") {
            conn.respond(200, "purged", {{"afterhook-trigger", "purge;key=/p/42"}});
        } else if (request.target == "/unknown") {
            conn.respond(200, "unknown", {{"afterhook-trigger", "no-such-hook;x=1"}});
        } else {
            conn.respond(200, "plain");
        }
    });
    TempDir dir;
    AfterhookProcess proxy(dir, base_config(upstream) +
                                    "hooks:\n"
                                    "  - name: purge\n"
                                    "    trigger: header\n"
                                    "    webhook:\n"
                                    "      url: \"http://" + receiver.address() + "/purge?key={{trigger.key}}\"\n"
                                    "      body: {key: \"{{trigger.key}}\", path: \"{{request.path}}\"}\n"
                                    "      retry: {attempts: 1}\n");
    const AdminClient admin(proxy.admin_port());
    INFO("afterhook output:\n", proxy.diagnostics());

    RawClient client = RawClient::connect(proxy.port());
    // A client's trigger header first: if it counted, its delivery would come
    // before the upstream-triggered one below.
    for (const std::string& target : {std::string("/client"), std::string("/unknown"), std::string("/purge")}) {
        const std::string extra = target == "/client" ? "afterhook-trigger: purge;key=/evil\r\n" : "";
        REQUIRE(client.send(get_request(target, extra)));
        const HttpResponse response = client.read_response(3s);
        INFO(response.describe());
        CHECK(response.status == 200);
        CHECK_FALSE(response.has_header("afterhook-trigger"));
    }
    // Only the upstream-triggered /purge may have been delivered.
    REQUIRE(admin.wait_for_metric("afterhook_hook_events_total", {{"hook", "purge"}, {"result", "delivered"}},
                                  [](double v) { return v >= 1; }, 5s));
    REQUIRE(receiver.wait_for_requests(1, 2s));
    const std::vector<UpstreamRequest> deliveries = receiver.requests();
    REQUIRE(deliveries.size() == 1);
    const auto body = nlohmann::json::parse(deliveries[0].body, nullptr, false);
    INFO("delivery: ", deliveries[0].target, " ", deliveries[0].body);
    REQUIRE(body.is_object());
    CHECK(body.value("key", "") == "/p/42");
    CHECK(body.value("path", "") == "/purge");
    CHECK(deliveries[0].target.rfind("/purge?key=", 0) == 0);
    CHECK(admin.metric("afterhook_hook_events_total", {{"hook", "purge"}, {"result", "delivered"}}) == 1);

    CHECK(proxy.process().wait_for_line(std::regex(R"(warn app trigger calls ignored unknown_name=no-such-hook .*unknown_total=1\b)"),
                                        3s).has_value());
}

TEST_CASE("sampling at 0.5 over 1,000 requests fires 400-600 times, and two hooks at 0.5 pick the same requests") {
    constexpr size_t kRequests = 1000;
    FakeUpstream receiver(FakeUpstream::respond_with(200, "ok"));
    FakeUpstream upstream;
    TempDir dir;
    const std::string log_path = dir.file("all.log");
    const std::string url = "http://" + receiver.address();
    AfterhookProcess proxy(dir, base_config(upstream) +
                                    "hooks:\n"
                                    "  - name: all\n"
                                    "    log: {path: \"" + log_path + "\", format: \"{{request.id}}\"}\n"
                                    "  - name: half-a\n"
                                    "    when: {sample: 0.5}\n"
                                    "    webhook: {url: \"" + url + "/a\", body: {id: \"{{request.id}}\"}, concurrency: 64}\n"
                                    "  - name: half-b\n"
                                    "    when: {sample: 0.5}\n"
                                    "    webhook: {url: \"" + url + "/b\", body: {id: \"{{request.id}}\"}, concurrency: 64}\n");
    const AdminClient admin(proxy.admin_port());
    INFO("afterhook output:\n", proxy.diagnostics());
    {
        RawClient client = RawClient::connect(proxy.port());
        for (size_t i = 0; i < kRequests; ++i) {
            REQUIRE(client.send(get_request("/s/" + std::to_string(i))));
            REQUIRE(client.read_response(3s).status == 200);
        }
    }
    // Every record reached the hook thread, then both queues emptied.
    REQUIRE(wait_until([&] { return line_count(log_path) == kRequests; }, 5s, 10ms));
    for (const std::string hook : {"half-a", "half-b"}) {
        CHECK(admin.wait_for_metric("afterhook_hook_queue_depth", {{"hook", hook}}, [](double v) { return v == 0; }, 5s));
    }
    std::set<std::string> a;
    std::set<std::string> b;
    for (const UpstreamRequest& request : receiver.requests()) {
        const auto body = nlohmann::json::parse(request.body, nullptr, false);
        REQUIRE(body.is_object());
        (request.target == "/a" ? a : b).insert(body.value("id", ""));
    }
    INFO("hook a fired ", a.size(), " times, hook b ", b.size());
    CHECK(a.size() >= 400);
    CHECK(a.size() <= 600);
    CHECK(a == b);
    CHECK(admin.metric("afterhook_hook_events_total", {{"hook", "half-a"}, {"result", "delivered"}}) ==
          static_cast<double>(a.size()));
}

TEST_CASE("redacted headers never appear in a log file, a webhook record body, a webhook template or an exec's stdin") {
    FakeUpstream receiver(FakeUpstream::respond_with(200, "ok"));
    FakeUpstream upstream;
    TempDir dir;
    const std::string log_path = dir.file("access.log");
    const std::string exec_path = dir.file("exec.txt");
    const std::string url = "http://" + receiver.address();
    AfterhookProcess proxy(dir, base_config(upstream) +
                                    "capture:\n"
                                    "  headers: [authorization, cookie, x-visible]\n"
                                    "hooks:\n"
                                    "  - name: log\n"
                                    "    log: {path: \"" + log_path + "\"}\n"
                                    "  - name: record\n"
                                    "    webhook: {url: \"" + url + "/record\"}\n"
                                    "  - name: template\n"
                                    "    webhook:\n"
                                    "      url: \"" + url + "/template\"\n"
                                    "      headers: {x-auth: \"{{request.header.authorization}}\"}\n"
                                    "      body: {auth: \"{{request.header.authorization}}\", cookie: \"{{request.header.cookie}}\", visible: \"{{request.header.x-visible}}\"}\n"
                                    "  - name: exec\n"
                                    "    exec: {command: [/bin/sh, -c, 'cat >> " + exec_path + "']}\n");
    const AdminClient admin(proxy.admin_port());
    INFO("afterhook output:\n", proxy.diagnostics());
    RawClient client = RawClient::connect(proxy.port());
    REQUIRE(client.send(get_request("/secret", "Authorization: Bearer SECRET-TOKEN\r\n"
                                               "Cookie: sid=SECRET-COOKIE\r\n"
                                               "X-Visible: shown\r\n")));
    REQUIRE(client.read_response(3s).status == 200);

    REQUIRE(receiver.wait_for_requests(2, 5s));
    REQUIRE(wait_until([&] { return line_count(log_path) == 1 && line_count(exec_path) == 1; }, 5s, 10ms));
    // The upstream itself gets the real headers: redaction is about sinks only.
    CHECK(upstream.request(0).header("authorization") == "Bearer SECRET-TOKEN");

    std::vector<std::pair<std::string, std::string>> outputs = {{"log file", read_file(log_path)},
                                                                {"exec stdin", read_file(exec_path)}};
    for (const UpstreamRequest& request : receiver.requests()) outputs.emplace_back("webhook " + request.target, request.raw);
    for (const auto& [sink, text] : outputs) {
        INFO(sink, ": ", text);
        CHECK(text.find("SECRET-TOKEN") == std::string::npos);
        CHECK(text.find("SECRET-COOKIE") == std::string::npos);
    }
    // The template shows the redaction marker and the captured header that is not redacted.
    for (const UpstreamRequest& request : receiver.requests()) {
        if (request.target != "/template") continue;
        const auto body = nlohmann::json::parse(request.body, nullptr, false);
        INFO("template body: ", request.body);
        REQUIRE(body.is_object());
        CHECK(body.value("auth", "") == "[redacted]");
        CHECK(body.value("cookie", "") == "[redacted]");
        CHECK(body.value("visible", "") == "shown");
        CHECK(request.header("x-auth") == "[redacted]");
    }
}

}  // TEST_SUITE
