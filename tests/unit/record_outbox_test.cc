#include <doctest/doctest.h>

#include <uv.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "config/config.h"
#include "hooks/hook_thread.h"
#include "hooks/record.h"
#include "proxy/record_outbox.h"
#include "support/eventually.h"
#include "support/temp_files.h"

using namespace std::chrono_literals;
using afterhook::hooks::HookThread;
using afterhook::hooks::Record;
using afterhook::proxy::RecordOutbox;
using afterhook::test::eventually;
using afterhook::test::read_lines;
using afterhook::test::TempDir;
using Clock = std::chrono::steady_clock;

namespace {

// A worker's side of the hand-over: a loop of its own with an outbox, and a
// started hook thread writing every record to a log file.
struct OutboxFixture {
    TempDir dir;
    std::filesystem::path log = dir.path / "access.log";
    HookThread hooks{access_log_config(log.string())};
    uv_loop_t loop{};
    std::optional<RecordOutbox> outbox;

    OutboxFixture() {
        hooks.start();
        REQUIRE(uv_loop_init(&loop) == 0);
        outbox.emplace(&loop, hooks);
    }

    ~OutboxFixture() {
        outbox->close();
        uv_run(&loop, UV_RUN_DEFAULT);  // runs the close callback
        CHECK(uv_loop_close(&loop) == 0);
        outbox.reset();
        CHECK(hooks.stop(Clock::now() + 10s) == 0);
    }

    static afterhook::config::Config access_log_config(const std::string& path) {
        afterhook::config::Config config;
        afterhook::config::Hook hook;
        hook.name = "access";
        hook.sink = afterhook::config::LogSink{path, {}};
        config.hooks.push_back(hook);
        return config;
    }

    // The path of every line in the log, by request id.
    std::map<std::string, std::string> logged_paths() const {
        std::map<std::string, std::string> paths;
        for (const auto& line : read_lines(log)) {
            const auto json = nlohmann::json::parse(line);
            paths[json.at("afterhook.request.id").get<std::string>()] = json.at("url.path").get<std::string>();
        }
        return paths;
    }

    uint64_t delivered() const { return hooks.counters().at(0).delivered; }
};

// Long enough to live on the heap, so that reusing a record reuses buffers.
Record numbered(int n) {
    Record r;
    r.id = "request-id-that-is-long-enough-" + std::to_string(n);
    r.method = "GET";
    r.path = "/path/that/is/long/enough/for/the/heap/" + std::to_string(n);
    r.status = 200;
    return r;
}

}  // namespace

TEST_CASE("record outbox: records wait for the end of the loop turn and then go over together") {
    OutboxFixture f;
    for (int i = 0; i < 3; ++i) f.outbox->add(numbered(i));
    CHECK(f.hooks.records_submitted() == 0);  // still in the outbox

    uv_run(&f.loop, UV_RUN_NOWAIT);  // the prepare handle runs before the loop would wait
    CHECK(f.hooks.records_submitted() == 3);
    REQUIRE(eventually([&] { return f.delivered() == 3; }));
    CHECK(f.hooks.records_dropped() == 0);
}

TEST_CASE("record outbox: a full batch goes over at once, without waiting for the loop") {
    OutboxFixture f;
    for (int i = 0; i < static_cast<int>(RecordOutbox::max_batch) - 1; ++i) f.outbox->add(numbered(i));
    CHECK(f.hooks.records_submitted() == 0);
    f.outbox->add(numbered(1000));
    CHECK(f.hooks.records_submitted() == RecordOutbox::max_batch);
}

TEST_CASE("record outbox: after close, each record goes over as it is added") {
    OutboxFixture f;
    f.outbox->add(numbered(1));
    f.outbox->close();  // hands over what waits
    CHECK(f.hooks.records_submitted() == 1);
    f.outbox->add(numbered(2));
    CHECK(f.hooks.records_submitted() == 2);
    REQUIRE(eventually([&] { return f.delivered() == 2; }));
}

// More records than the reuse ring holds, turn after turn: every record the
// hook thread writes carries its own values, never those of the record its
// shared copy held before.
TEST_CASE("record outbox: reused records carry each exchange's own values") {
    OutboxFixture f;
    constexpr int turns = 12;
    constexpr int per_turn = 50;
    int next = 0;
    for (int turn = 0; turn < turns; ++turn) {
        for (int i = 0; i < per_turn; ++i) f.outbox->add(numbered(next++));
        uv_run(&f.loop, UV_RUN_NOWAIT);
        // Written, so the hook thread has let go and the ring can reuse them.
        REQUIRE(eventually([&] { return f.delivered() == static_cast<uint64_t>(next); }));
    }
    static_assert(turns * per_turn > 2 * RecordOutbox::reuse_ring_size, "the ring must come round twice");
    const auto paths = f.logged_paths();
    CHECK(paths.size() == static_cast<size_t>(turns * per_turn));
    for (int n = 0; n < turns * per_turn; ++n) {
        const auto found = paths.find(numbered(n).id);
        REQUIRE(found != paths.end());
        CHECK(found->second == numbered(n).path);
    }
}
