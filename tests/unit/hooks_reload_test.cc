// Hook reload through the hook thread: a reload opens a new generation of
// sinks for new records, records that carry an older config still go to that
// config's sinks, a retiring generation delivers what it holds before it is
// closed, a sink that cannot open leaves everything as it was, and counters
// (with their delivery-duration histograms) are kept by hook name.
#include <doctest/doctest.h>

#include "support/eventually.h"
#include "support/temp_files.h"
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "config/template.h"
#include "hooks/hook_thread.h"
#include "hooks/record.h"
#include "proxy/histogram.h"
#include "tests/unit/support/http_receiver.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using afterhook::config::Config;
using afterhook::config::Hook;
using afterhook::hooks::HookThread;
using afterhook::hooks::Record;
using afterhook::test::HttpReceiver;
using afterhook::test::ReceivedRequest;
using afterhook::test::Reply;
using Clock = std::chrono::steady_clock;

namespace {

using afterhook::test::TempDir;

using afterhook::test::read_lines;

using afterhook::test::eventually;

afterhook::config::Template compile(const std::string& source) {
    afterhook::config::Template out;
    std::string error;
    REQUIRE_MESSAGE(afterhook::config::compile_template(source, {}, out, error), error);
    return out;
}

Hook log_hook(const std::string& name, const fs::path& path) {
    Hook hook;
    hook.name = name;
    hook.sink = afterhook::config::LogSink{path.string(), {}};
    return hook;
}

Hook webhook(const std::string& name, const std::string& url, const std::string& body) {
    afterhook::config::WebhookSink sink;
    sink.url = compile(url);
    sink.body.kind = afterhook::config::Body::Kind::text;
    sink.body.text = compile(body);
    sink.retry = {1, 10ms, 20ms};
    sink.timeout = 10s;
    sink.concurrency = 1;
    Hook hook;
    hook.name = name;
    hook.sink = sink;
    return hook;
}

std::shared_ptr<const Config> with_hooks(std::vector<Hook> hooks) {
    auto config = std::make_shared<Config>();
    config->hooks = std::move(hooks);
    return config;
}

Record numbered(int n, std::shared_ptr<const Config> config = nullptr) {
    Record r;
    r.id = "req-" + std::to_string(n);
    r.method = "GET";
    r.path = "/n/" + std::to_string(n);
    r.client_ip = "127.0.0.1";
    r.status = 200;
    r.config = std::move(config);
    return r;
}

std::vector<std::string> hook_names(const HookThread& hooks) {
    std::vector<std::string> names;
    for (const auto& c : hooks.counters()) names.push_back(c.hook);
    return names;
}

uint64_t histogram_count(const HookThread& hooks, const std::string& name) {
    uint64_t count = 0;
    hooks.visit_histograms([&](const std::string& hook, const afterhook::proxy::Histogram& histogram) {
        if (hook == name) count = histogram.count();
    });
    return count;
}

}  // namespace

TEST_CASE("hook reload: new records go to the new generation's hooks, counters keep every name") {
    TempDir dir;
    const fs::path a = dir.path / "a.log";
    const fs::path b = dir.path / "b.log";
    HookThread hooks(with_hooks({log_hook("a", a)}));
    hooks.start();
    REQUIRE(hooks.submit(numbered(1)));
    REQUIRE(eventually([&] { return read_lines(a).size() == 1; }));

    std::string error;
    REQUIRE_MESSAGE(hooks.reload(with_hooks({log_hook("b", b)}), error), error);
    REQUIRE(hooks.submit(numbered(2)));
    REQUIRE(hooks.submit(numbered(3)));
    CHECK(hooks.stop(Clock::now() + 5s) == 0);

    CHECK(read_lines(a).size() == 1);
    CHECK(read_lines(b).size() == 2);
    CHECK(hook_names(hooks) == std::vector<std::string>{"b", "a"});  // current first, removed still shown
    const auto counters = hooks.counters();
    CHECK(counters[0].delivered == 2);
    CHECK(counters[1].delivered == 1);
    CHECK(histogram_count(hooks, "a") == 1);
    CHECK(histogram_count(hooks, "b") == 2);
}

TEST_CASE("hook reload: a record carrying the old config goes to the old generation's sink") {
    TempDir dir;
    const fs::path a = dir.path / "a.log";
    const fs::path b = dir.path / "b.log";
    const auto old_config = with_hooks({log_hook("same", a)});
    HookThread hooks(old_config);
    hooks.start();

    std::string error;
    REQUIRE_MESSAGE(hooks.reload(with_hooks({log_hook("same", b)}), error), error);
    REQUIRE(hooks.submit(numbered(1, old_config)));  // an exchange that started before the reload
    REQUIRE(hooks.submit(numbered(2)));              // no config: the current one
    REQUIRE(hooks.submit(numbered(3, with_hooks({log_hook("unknown", dir.path / "never.log")}))));
    CHECK(hooks.stop(Clock::now() + 5s) == 0);

    const auto old_lines = read_lines(a);
    REQUIRE(old_lines.size() == 1);
    CHECK(old_lines[0].find("req-1") != std::string::npos);
    const auto new_lines = read_lines(b);
    REQUIRE(new_lines.size() == 2);
    CHECK(new_lines[0].find("req-2") != std::string::npos);
    CHECK(new_lines[1].find("req-3") != std::string::npos);
    CHECK_FALSE(fs::exists(dir.path / "never.log"));
    // One name, one set of counters across both generations.
    REQUIRE(hooks.counters().size() == 1);
    CHECK(hooks.counters()[0].delivered == 3);
}

TEST_CASE("hook reload: a retiring generation delivers its queued events before it is closed") {
    std::atomic<bool> release{false};
    HttpReceiver receiver([&](const ReceivedRequest&) {
        eventually([&] { return release.load(); });
        return Reply{};
    });
    HookThread hooks(with_hooks({webhook("notify", receiver.url("/e"), "one {{request.id}}")}));
    hooks.start();
    for (int i = 0; i < 3; ++i) REQUIRE(hooks.submit(numbered(i)));
    // All three are in the first generation's sink: one in flight (held by
    // the receiver), two waiting behind the concurrency cap of 1.
    REQUIRE(eventually([&] { return hooks.counters()[0].queue_depth == 3; }));

    std::string error;
    REQUIRE_MESSAGE(hooks.reload(with_hooks({webhook("notify", receiver.url("/e"), "two {{request.id}}")}), error),
                    error);
    REQUIRE(hooks.submit(numbered(3)));
    // Both generations count into the one "notify" gauge: three events in
    // the retiring one, one in the current one.
    CHECK(eventually([&] { return hooks.counters()[0].queue_depth == 4; }));
    release = true;
    REQUIRE(eventually([&] { return receiver.requests().size() == 4; }));

    std::map<std::string, std::string> generation_by_id;
    for (const ReceivedRequest& request : receiver.requests()) {
        const auto space = request.body.find(' ');
        REQUIRE(space != std::string::npos);
        generation_by_id[request.body.substr(space + 1)] = request.body.substr(0, space);
    }
    CHECK(generation_by_id == std::map<std::string, std::string>{
                                  {"req-0", "one"}, {"req-1", "one"}, {"req-2", "one"}, {"req-3", "two"}});
    CHECK(hooks.stop(Clock::now() + 5s) == 0);
    REQUIRE(hooks.counters().size() == 1);
    CHECK(hooks.counters()[0].delivered == 4);
    CHECK(hooks.counters()[0].dropped == 0);
    CHECK(hooks.counters()[0].queue_depth == 0);
    CHECK(histogram_count(hooks, "notify") == 4);
}

TEST_CASE("hook reload: a sink that cannot open fails the reload and keeps the old generation") {
    TempDir dir;
    const fs::path a = dir.path / "a.log";
    HookThread hooks(with_hooks({log_hook("a", a)}));
    hooks.start();

    std::string error;
    const auto broken = with_hooks({log_hook("fine", dir.path / "fine.log"),
                                    log_hook("unwritable", dir.path / "no-such-dir" / "x.log")});
    CHECK_FALSE(hooks.reload(broken, error));
    CHECK(error.find("unwritable") != std::string::npos);

    REQUIRE(hooks.submit(numbered(1)));
    CHECK(hooks.stop(Clock::now() + 5s) == 0);
    CHECK(read_lines(a).size() == 1);
    CHECK(hook_names(hooks) == std::vector<std::string>{"a"});

    std::string after_stop;
    CHECK_FALSE(hooks.reload(with_hooks({log_hook("a", a)}), after_stop));
    CHECK_FALSE(after_stop.empty());
}
