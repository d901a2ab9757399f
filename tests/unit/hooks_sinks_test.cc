// Webhook and exec hooks through the hook thread: make_sink's wiring of the
// DeliveryQueue around the real actions, one CurlMulti shared by every
// webhook hook, and a clean shutdown with deliveries in flight.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "config/template.h"
#include "hooks/hook_thread.h"
#include "hooks/record.h"
#include "tests/unit/support/eventually.h"
#include "tests/unit/support/http_receiver.h"

using namespace std::chrono_literals;
using afterhook::config::Hook;
using afterhook::hooks::HookThread;
using afterhook::hooks::Record;
using afterhook::test::HttpReceiver;
using afterhook::test::ReceivedRequest;
using afterhook::test::Reply;
using Clock = std::chrono::steady_clock;

namespace {

afterhook::config::Template compile(const std::string& source) {
    afterhook::config::Template out;
    std::string error;
    REQUIRE_MESSAGE(afterhook::config::compile_template(source, {}, out, error), error);
    return out;
}

Hook webhook(const std::string& name, const std::string& url, const std::string& body = "{{request.id}}") {
    afterhook::config::WebhookSink sink;
    sink.url = compile(url);
    sink.body.kind = afterhook::config::Body::Kind::text;
    sink.body.text = compile(body);
    sink.retry = {3, 10ms, 20ms};
    sink.timeout = 2s;
    Hook hook;
    hook.name = name;
    hook.sink = sink;
    return hook;
}

Hook exec(const std::string& name, std::vector<std::string> command) {
    afterhook::config::ExecSink sink;
    for (const auto& argument : command) sink.command.push_back(compile(argument));
    sink.timeout = 5s;
    Hook hook;
    hook.name = name;
    hook.sink = sink;
    return hook;
}

Record exchange(int n, std::string trigger = "") {
    Record r;
    r.id = "req-" + std::to_string(n);
    r.method = "POST";
    r.path = "/orders";
    r.status = 201;
    r.trigger = std::move(trigger);
    return r;
}

afterhook::config::Config with_hooks(std::vector<Hook> hooks) {
    afterhook::config::Config config;
    config.hooks = std::move(hooks);
    return config;
}

using afterhook::test::eventually;

std::set<std::string> bodies(const std::vector<ReceivedRequest>& requests) {
    std::set<std::string> out;
    for (const auto& request : requests) out.insert(request.body);
    return out;
}

}  // namespace

TEST_CASE("sinks: two webhook hooks deliver every event, one retrying, through one shared multi") {
    // The second hook's receiver answers 503 to the first attempt of each event.
    std::set<std::string> seen;
    HttpReceiver flaky([&seen](const ReceivedRequest& request) {
        Reply reply;
        if (seen.insert(request.body).second) reply.status = 503;
        return reply;
    });
    HttpReceiver steady;
    constexpr int n = 30;
    HookThread hooks(with_hooks({webhook("steady", steady.url("/a")), webhook("flaky", flaky.url("/b"))}));
    hooks.start();
    for (int i = 0; i < n; ++i) hooks.submit(exchange(i));
    CHECK(hooks.stop(Clock::now() + 20s) == 0);

    const auto counters = hooks.counters();
    REQUIRE(counters.size() == 2);
    CHECK(counters[0].delivered == n);
    CHECK(counters[0].retried == 0);
    CHECK(counters[1].delivered == n);
    CHECK(counters[1].retried == n);
    for (const auto& c : counters) {
        CHECK(c.failed == 0);
        CHECK(c.dropped == 0);
        CHECK(c.queue_depth == 0);
    }
    CHECK(bodies(steady.requests()).size() == n);
    CHECK(flaky.requests().size() == 2 * n);
}

TEST_CASE("sinks: a trigger webhook gets its params, the hook fires once per call") {
    HttpReceiver receiver;
    Hook purge = webhook("purge-cache", receiver.url("/purge?key={{trigger.key}}"), "{{request.id}} {{trigger.key}}");
    purge.trigger_only = true;
    HookThread hooks(with_hooks({purge}));
    hooks.start();
    hooks.submit(exchange(1, "purge-cache;key=p1, purge-cache;key=p2, unknown-hook"));
    hooks.submit(exchange(2));
    CHECK(hooks.stop(Clock::now() + 10s) == 0);

    std::set<std::string> targets;
    for (const auto& request : receiver.requests()) targets.insert(request.target);
    CHECK(targets == std::set<std::string>{"/purge?key=p1", "/purge?key=p2"});
    CHECK(bodies(receiver.requests()) == std::set<std::string>{"req-1 p1", "req-1 p2"});
    CHECK(hooks.unknown_triggers() == 1);
    CHECK(hooks.counters()[0].delivered == 2);
}

TEST_CASE("sinks: a receiver that is down fails each event after its attempts, counted") {
    const uint16_t port = afterhook::test::closed_port();
    HookThread hooks(with_hooks({webhook("down", "http://127.0.0.1:" + std::to_string(port) + "/x")}));
    hooks.start();
    for (int i = 0; i < 5; ++i) hooks.submit(exchange(i));
    CHECK(hooks.stop(Clock::now() + 10s) == 0);
    const auto c = hooks.counters()[0];
    CHECK(c.failed == 5);
    CHECK(c.retried == 10);  // attempts: 3
    CHECK(c.delivered == 0);
}

TEST_CASE("sinks: exec hooks count exit 0 as delivered, a non-zero exit and a missing binary as failed") {
    HookThread hooks(with_hooks({exec("ok", {"/bin/true"}), exec("exit-1", {"/bin/false"}),
                                 exec("missing", {"/nonexistent-afterhook-dir/cleanup", "{{request.id}}"})}));
    hooks.start();
    for (int i = 0; i < 3; ++i) hooks.submit(exchange(i));
    CHECK(hooks.stop(Clock::now() + 20s) == 0);
    const auto counters = hooks.counters();
    CHECK(counters[0].delivered == 3);
    CHECK(counters[1].failed == 3);
    CHECK(counters[2].failed == 3);
    for (const auto& c : counters) CHECK(c.dropped == 0);
}

TEST_CASE("sinks: stopping with webhook deliveries in flight ends them and closes every handle") {
    HttpReceiver hanging([](const ReceivedRequest&) {
        Reply reply;
        reply.mode = Reply::Mode::hang;
        return reply;
    });
    Hook hook = webhook("hanging", hanging.url("/slow"));
    auto& sink = std::get<afterhook::config::WebhookSink>(hook.sink);
    sink.timeout = 60s;
    sink.concurrency = 2;
    constexpr int n = 6;
    HookThread hooks(with_hooks({hook}));
    hooks.start();
    for (int i = 0; i < n; ++i) hooks.submit(exchange(i));
    REQUIRE(eventually([&] { return hanging.requests().size() == 2; }));
    const auto asked = Clock::now();
    const uint64_t undelivered = hooks.stop(asked + 200ms);
    CHECK(Clock::now() - asked < 5s);
    CHECK(undelivered == n);
    const auto c = hooks.counters()[0];
    CHECK(c.delivered == 0);
    CHECK(c.failed == 2);   // in flight: ended by the shutdown
    CHECK(c.dropped == 4);  // waiting: never attempted
    CHECK(c.queue_depth == 0);
}
