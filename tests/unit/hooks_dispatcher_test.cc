// The dispatcher through the hook thread: filters, app triggers and their
// params, seen in the output of log hooks with `format` templates.
#include <doctest/doctest.h>

#include "support/temp_files.h"
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/template.h"
#include "hooks/hook_thread.h"
#include "hooks/record.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using afterhook::hooks::HookThread;
using afterhook::hooks::Record;
using Clock = std::chrono::steady_clock;

namespace {

using afterhook::test::TempDir;

using afterhook::test::read_lines;

afterhook::config::Hook log_hook(const std::string& name, const fs::path& file, const std::string& format) {
    afterhook::config::Hook hook;
    hook.name = name;
    afterhook::config::LogSink sink;
    sink.path = file.string();
    std::string error;
    REQUIRE_MESSAGE(afterhook::config::compile_template(format, {}, sink.format, error), error);
    hook.sink = sink;
    return hook;
}

Record exchange(std::string id, std::string method, int status, std::string trigger = "") {
    Record r;
    r.id = std::move(id);
    r.method = std::move(method);
    r.path = "/orders";
    r.status = status;
    r.trigger = std::move(trigger);
    return r;
}

}  // namespace

TEST_CASE("dispatcher: filters pick the records, triggers fire their hooks once per call with its params") {
    TempDir dir;
    afterhook::config::Config config;
    config.hooks.push_back(log_hook("every", dir.path / "every.log", "{{request.id}}"));
    auto errors = log_hook("errors", dir.path / "errors.log", "{{request.id}} {{response.status}}");
    errors.when.status = {{500, 599}};
    config.hooks.push_back(errors);
    auto purge = log_hook("purge-cache", dir.path / "purge.log", "{{request.id}} key={{trigger.key}}");
    purge.trigger_only = true;
    config.hooks.push_back(purge);
    auto notify = log_hook("notify", dir.path / "notify.log", "{{request.id}} user={{trigger.user}} {{hook}}");
    notify.trigger_only = true;
    notify.when.methods = {"POST"};
    config.hooks.push_back(notify);

    HookThread hooks(config);
    hooks.start();
    // "bogus" names no hook, "every" is a hook but not a trigger hook: both
    // unknown. notify is named but its filter (POST only) does not match.
    hooks.submit(
        exchange("r1", "GET", 200, "purge-cache;key=/p/1, bogus, purge-cache;key=\"/p/2\", notify;user=7, every"));
    hooks.submit(exchange("r2", "POST", 503, "notify;user=8, bad/name"));
    hooks.submit(exchange("r3", "POST", 200));
    hooks.submit(exchange("r4", "POST", 200, "notify;user=9, notify;user=10"));
    CHECK(hooks.stop(Clock::now() + 10s) == 0);

    CHECK(read_lines(dir.path / "every.log") == std::vector<std::string>{"r1", "r2", "r3", "r4"});
    CHECK(read_lines(dir.path / "errors.log") == std::vector<std::string>{"r2 503"});
    CHECK(read_lines(dir.path / "purge.log") == std::vector<std::string>{"r1 key=/p/1", "r1 key=/p/2"});
    CHECK(read_lines(dir.path / "notify.log") ==
          std::vector<std::string>{"r2 user=8 notify", "r4 user=9 notify", "r4 user=10 notify"});
    CHECK(hooks.unknown_triggers() == 2);
    CHECK(hooks.malformed_triggers() == 1);

    const auto counters = hooks.counters();
    REQUIRE(counters.size() == 4);
    CHECK(counters[0].delivered == 4);
    CHECK(counters[1].delivered == 1);
    CHECK(counters[2].delivered == 2);
    CHECK(counters[3].delivered == 3);
    for (const auto& c : counters) CHECK(c.dropped == 0);
}

TEST_CASE("dispatcher: without trigger hooks, every trigger call is unknown and no hook gets params") {
    TempDir dir;
    afterhook::config::Config config;
    config.hooks.push_back(log_hook("audit", dir.path / "audit.log", "{{request.id}} [{{trigger.key}}]"));
    HookThread hooks(config);
    hooks.start();
    hooks.submit(exchange("r1", "GET", 200, "audit;key=1, other"));
    CHECK(hooks.stop(Clock::now() + 10s) == 0);
    CHECK(read_lines(dir.path / "audit.log") == std::vector<std::string>{"r1 []"});
    CHECK(hooks.unknown_triggers() == 2);
    CHECK(hooks.malformed_triggers() == 0);
}
