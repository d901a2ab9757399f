#include <doctest/doctest.h>

#include <uv.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "hooks/hook_thread.h"
#include "hooks/record.h"
#include "proxy/record_outbox.h"
#include "support/eventually.h"
#include "support/temp_files.h"

using namespace std::chrono_literals;
using afterhook::hooks::HookThread;
using afterhook::hooks::Record;
using afterhook::hooks::SubmittedRecord;
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

    // Records taken and still held, as by exchanges still running or by a
    // hook thread that has not reached them.
    std::vector<SubmittedRecord> hold(size_t count) {
        std::vector<SubmittedRecord> held;
        for (size_t i = 0; i < count; ++i) held.push_back(outbox->take());
        return held;
    }

    static bool all_distinct(const std::vector<SubmittedRecord>& records) {
        std::set<const Record*> distinct;
        for (const auto& record : records) distinct.insert(record.get());
        return distinct.size() == records.size();
    }

    // What an exchange does: take a record, fill it, hand it over.
    void add(int n) {
        const SubmittedRecord record = outbox->take();
        fill(*record, n);
        outbox->add(record);
    }

    // Long enough to live on the heap, so that reusing a record reuses buffers.
    static std::string id(int n) { return "request-id-that-is-long-enough-" + std::to_string(n); }
    static std::string path(int n) { return "/path/that/is/long/enough/for/the/heap/" + std::to_string(n); }
    static void fill(Record& r, int n) {
        r.id = id(n);
        r.method = "GET";
        r.path = path(n);
        r.status = 200;
    }
};

}  // namespace

TEST_CASE("record outbox: records wait for the end of the loop turn and then go over together") {
    OutboxFixture f;
    for (int i = 0; i < 3; ++i) f.add(i);
    CHECK(f.hooks.records_submitted() == 0);  // still in the outbox

    uv_run(&f.loop, UV_RUN_NOWAIT);  // the prepare handle runs before the loop would wait
    CHECK(f.hooks.records_submitted() == 3);
    REQUIRE(eventually([&] { return f.delivered() == 3; }));
    CHECK(f.hooks.records_dropped() == 0);
}

TEST_CASE("record outbox: a full batch goes over at once, without waiting for the loop") {
    OutboxFixture f;
    for (int i = 0; i < static_cast<int>(RecordOutbox::max_batch) - 1; ++i) f.add(i);
    CHECK(f.hooks.records_submitted() == 0);
    f.add(1000);
    CHECK(f.hooks.records_submitted() == RecordOutbox::max_batch);
}

TEST_CASE("record outbox: after close, each record goes over as it is added") {
    OutboxFixture f;
    f.add(1);
    f.outbox->close();  // hands over what waits
    CHECK(f.hooks.records_submitted() == 1);
    f.add(2);
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
        for (int i = 0; i < per_turn; ++i) f.add(next++);
        uv_run(&f.loop, UV_RUN_NOWAIT);
        // Written, so the hook thread has let go and the ring can reuse them.
        REQUIRE(eventually([&] { return f.delivered() == static_cast<uint64_t>(next); }));
    }
    static_assert(turns * per_turn > 2 * RecordOutbox::initial_ring_size, "the ring must come round twice");
    const auto paths = f.logged_paths();
    CHECK(paths.size() == static_cast<size_t>(turns * per_turn));
    for (int n = 0; n < turns * per_turn; ++n) {
        const auto found = paths.find(OutboxFixture::id(n));
        REQUIRE(found != paths.end());
        CHECK(found->second == OutboxFixture::path(n));
    }
}

// A reused record starts from nothing: what one exchange set never shows up
// in the line of the next one that used the same record.
TEST_CASE("record outbox: a reused record keeps none of its previous values") {
    OutboxFixture f;
    for (size_t i = 0; i < RecordOutbox::initial_ring_size; ++i) {
        const SubmittedRecord record = f.outbox->take();
        OutboxFixture::fill(*record, static_cast<int>(i));
        record->query = "previous=1";
        record->error = "previous error";
        record->outcome = afterhook::hooks::Outcome::upstream_error;
        record->request_headers.emplace_back("user-agent", "previous agent");
        record->bytes_out = 12345;
        f.outbox->add(record);
    }
    uv_run(&f.loop, UV_RUN_NOWAIT);
    REQUIRE(eventually([&] { return f.delivered() == RecordOutbox::initial_ring_size; }));
    for (size_t i = 0; i < RecordOutbox::initial_ring_size; ++i) f.add(static_cast<int>(1000 + i));
    uv_run(&f.loop, UV_RUN_NOWAIT);
    REQUIRE(eventually([&] { return f.delivered() == 2 * RecordOutbox::initial_ring_size; }));

    const auto lines = read_lines(f.log);
    REQUIRE(lines.size() == 2 * RecordOutbox::initial_ring_size);
    for (size_t i = RecordOutbox::initial_ring_size; i < lines.size(); ++i) {
        const auto json = nlohmann::json::parse(lines[i]);
        CHECK(json.at("afterhook.outcome") == "ok");
        CHECK_FALSE(json.contains("url.query"));
        CHECK_FALSE(json.contains("afterhook.error"));
        CHECK_FALSE(json.contains("user_agent.original"));
        CHECK(json.at("afterhook.bytes_out") == 0);
    }
}

// An exchange that runs while the ring comes round (a long download, a
// tunnel) keeps its record: take() never hands it to another exchange, and
// the record stays in the ring, to be used again once the exchange is over.
TEST_CASE("record outbox: a record still held is passed over and used again once it is free") {
    OutboxFixture f;
    SubmittedRecord held = f.outbox->take();
    const Record* const kept = held.get();
    OutboxFixture::fill(*held, 1);
    for (size_t round = 0; round < 3; ++round) {
        for (size_t i = 0; i < RecordOutbox::initial_ring_size; ++i) {
            const SubmittedRecord other = f.outbox->take();
            CHECK(other != held);
        }
    }
    CHECK(held->id == OutboxFixture::id(1));
    CHECK(f.outbox->ring_size() == RecordOutbox::initial_ring_size);

    held.reset();  // the exchange is over
    bool taken_again = false;
    for (size_t i = 0; i < RecordOutbox::initial_ring_size && !taken_again; ++i) {
        taken_again = f.outbox->take().get() == kept;
    }
    CHECK(taken_again);
}

// Long exchanges side by side hold a run of slots longer than take() looks
// ahead, lap after lap. That is not a backlog: the ring keeps its size.
TEST_CASE("record outbox: a run of long exchanges does not grow the ring") {
    OutboxFixture f;
    const std::vector<SubmittedRecord> long_exchanges = f.hold(2 * (RecordOutbox::look_ahead + 1));
    for (size_t i = 0; i < 20 * RecordOutbox::initial_ring_size; ++i) {
        const SubmittedRecord record = f.outbox->take();
        for (const auto& held : long_exchanges) REQUIRE(record != held);
    }
    CHECK(f.outbox->ring_size() == RecordOutbox::initial_ring_size);
}

// The hook thread far behind: every record is still held when its slot comes
// round. The ring grows instead of handing out new records that would be
// freed on the hook thread, and once the backlog is gone every exchange gets
// one of the records it kept, never a new one.
TEST_CASE("record outbox: a backlog grows the ring, whose records are reused once it clears") {
    OutboxFixture f;
    std::vector<SubmittedRecord> backlog = f.hold(4 * RecordOutbox::initial_ring_size);
    CHECK(OutboxFixture::all_distinct(backlog));
    const size_t grown = f.outbox->ring_size();
    CHECK(grown > RecordOutbox::initial_ring_size);

    backlog.clear();  // the hook thread caught up
    std::set<const Record*> kept;
    for (size_t i = 0; i < grown; ++i) kept.insert(f.outbox->take().get());
    for (size_t i = 0; i < 2 * grown; ++i) CHECK(kept.count(f.outbox->take().get()) == 1);
    CHECK(f.outbox->ring_size() == grown);
}

// A backlog longer than the ring may grow to: the ring stops at its bound
// and past it every exchange still gets a record nobody else holds.
TEST_CASE("record outbox: the ring never grows past its bound") {
    OutboxFixture f;
    const std::vector<SubmittedRecord> backlog = f.hold(8 * RecordOutbox::max_ring_size);
    CHECK(OutboxFixture::all_distinct(backlog));
    CHECK(f.outbox->ring_size() == RecordOutbox::max_ring_size);
}

TEST_CASE("Record::reset gives back a default record") {
    // A member added to Record changes its size: reset it in Record::reset()
    // and check it here, then update this size.
    static_assert(sizeof(Record) == 512, "Record changed: update Record::reset() and this test");
    Record r;
    r.id = "id";
    r.start_time = std::chrono::system_clock::now();
    r.method = "POST";
    r.target = std::string(1000, 't');  // beyond what a reset keeps
    r.path = "/p";
    r.query = "q=1";
    r.scheme = "https";
    r.host = "h";
    r.protocol_version = "1.0";
    r.client_ip = "10.0.0.1";
    r.client_port = 9;
    r.request_headers.emplace_back("a", "b");
    r.cookies.emplace_back("c", "d");
    r.status = 502;
    r.outcome = afterhook::hooks::Outcome::client_abort;
    r.error = "e";
    r.response_headers.emplace_back("e", "f");
    r.trigger = "t";
    r.request_body_bytes = 1;
    r.response_body_bytes = 2;
    r.bytes_in = 3;
    r.bytes_out = 4;
    r.duration_ms = 5;
    r.upstream_ms = 6;
    r.config = std::make_shared<const afterhook::config::Config>();
    const size_t method_capacity = r.method.capacity();

    r.reset();
    const Record fresh;
    CHECK(r.id == fresh.id);
    CHECK(r.start_time == fresh.start_time);
    CHECK(r.method == fresh.method);
    CHECK(r.method.capacity() == method_capacity);  // storage kept for the next exchange
    CHECK(r.target == fresh.target);
    CHECK(r.target.capacity() < 1000);  // but not a large one
    CHECK(r.path == fresh.path);
    CHECK(r.query == fresh.query);
    CHECK(r.scheme == fresh.scheme);
    CHECK(r.host == fresh.host);
    CHECK(r.protocol_version == fresh.protocol_version);
    CHECK(r.client_ip == fresh.client_ip);
    CHECK(r.client_port == fresh.client_port);
    CHECK(r.request_headers.empty());
    CHECK(r.cookies.empty());
    CHECK(r.status == fresh.status);
    CHECK(r.outcome == fresh.outcome);
    CHECK(r.error == fresh.error);
    CHECK(r.response_headers.empty());
    CHECK(r.trigger == fresh.trigger);
    CHECK(r.request_body_bytes == fresh.request_body_bytes);
    CHECK(r.response_body_bytes == fresh.response_body_bytes);
    CHECK(r.bytes_in == fresh.bytes_in);
    CHECK(r.bytes_out == fresh.bytes_out);
    CHECK(r.duration_ms == fresh.duration_ms);
    CHECK(r.upstream_ms == fresh.upstream_ms);
    CHECK(r.config == nullptr);
}
