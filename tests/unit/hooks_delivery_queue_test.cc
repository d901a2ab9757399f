#include <doctest/doctest.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hooks/delivery.h"
#include "hooks/delivery_queue.h"
#include "hooks/hook_stats.h"
#include "hooks/record.h"
#include "tests/unit/hooks_test_loop.h"

using namespace std::chrono_literals;
using afterhook::hooks::Action;
using afterhook::hooks::AttemptResult;
using afterhook::hooks::Delivery;
using afterhook::hooks::DeliveryQueue;
using afterhook::hooks::DeliveryQueueOptions;
using afterhook::hooks::HookStats;
using afterhook::hooks::Record;
using afterhook::hooks::RecordPtr;
using afterhook::hooks::SinkPtr;
using afterhook::hooks::TriggerParams;
using afterhook::test::TestLoop;
using Status = AttemptResult::Status;
using WhenFull = afterhook::config::Queue::WhenFull;

namespace {

// What a FakeAction saw; outlives the action, which the queue owns.
struct ActionLog {
    struct Start {
        std::string id;
        unsigned attempt = 0;
        uint64_t at_ms = 0;  // loop time
        std::string trigger_key;
        uint64_t backoff_ms = 0;  // the wait the queue drew before this attempt
    };
    std::vector<Start> starts;
    std::map<std::string, std::vector<Status>> results;  // by delivery id, per attempt
    size_t in_flight = 0;
    size_t max_in_flight = 0;
    bool closed = false;
    bool destroyed = false;
};

// How one attempt ends, and after how long.
struct Plan {
    AttemptResult result;
    uint64_t after_ms = 0;
};

// An Action whose attempts end on timers, as a script decides: one uv timer
// per attempt, freed in its close callback. close() ends the attempts in
// flight as failed ("shutdown") from their close callbacks, then runs
// `closed`; with nothing in flight it runs `closed` at once.
class FakeAction final : public Action {
public:
    using Script = std::function<Plan(const Delivery&)>;

    FakeAction(uv_loop_t* loop, ActionLog& log, Script script) : loop_(loop), log_(log), script_(std::move(script)) {}
    ~FakeAction() override {
        CHECK(attempts_.empty());
        log_.destroyed = true;
    }

    void start(const Delivery& delivery, std::chrono::milliseconds, Done done) override {
        REQUIRE_FALSE(log_.closed);
        std::string key;
        for (const auto& [name, value] : delivery.trigger)
            if (name == "key") key = value;
        log_.starts.push_back({delivery.id, delivery.attempt, uv_now(loop_), key,
                               static_cast<uint64_t>(delivery.backoff.count())});
        log_.max_in_flight = std::max(log_.max_in_flight, ++log_.in_flight);
        const Plan plan = script_(delivery);
        auto* attempt = new Attempt{this, delivery.id, plan.result, std::move(done), {}};
        attempts_.insert(attempt);
        uv_timer_init(loop_, &attempt->timer);
        attempt->timer.data = attempt;
        uv_timer_start(&attempt->timer, on_timer, plan.after_ms, 0);
    }

    size_t in_flight() const override { return attempts_.size(); }

    void close(std::function<void()> closed) override {
        log_.closed = true;
        closed_ = std::move(closed);
        if (attempts_.empty()) {
            closed_();
            return;
        }
        for (Attempt* attempt : attempts_) {
            attempt->result = AttemptResult{Status::failed, "shutdown", std::nullopt};
            uv_timer_stop(&attempt->timer);
            uv_close(reinterpret_cast<uv_handle_t*>(&attempt->timer), on_shutdown_closed);
        }
    }

private:
    struct Attempt {
        FakeAction* action;
        std::string id;
        AttemptResult result;
        Done done;
        uv_timer_t timer;
    };

    static void on_timer(uv_timer_t* timer) {
        auto* attempt = static_cast<Attempt*>(timer->data);
        attempt->action->finish(attempt);
        uv_close(reinterpret_cast<uv_handle_t*>(timer), [](uv_handle_t* handle) {
            delete static_cast<Attempt*>(handle->data);
        });
    }

    static void on_shutdown_closed(uv_handle_t* handle) {
        auto* attempt = static_cast<Attempt*>(handle->data);
        FakeAction* action = attempt->action;
        action->finish(attempt);
        delete attempt;
        if (action->attempts_.empty()) action->closed_();  // may destroy the action: nothing after it
    }

    void finish(Attempt* attempt) {
        attempts_.erase(attempt);
        --log_.in_flight;
        log_.results[attempt->id].push_back(attempt->result.status);
        Done done = std::move(attempt->done);
        done(attempt->result);
    }

    uv_loop_t* loop_;
    ActionLog& log_;
    Script script_;
    std::set<Attempt*> attempts_;
    std::function<void()> closed_;
};

RecordPtr record(int n) {
    auto r = std::make_shared<Record>();
    r->id = "req-" + std::to_string(n);
    r->method = "POST";
    r->path = "/orders";
    r->status = 201;
    return r;
}

Plan deliver_after(uint64_t ms) { return Plan{AttemptResult{Status::delivered, "", std::nullopt}, ms}; }
Plan retry_after(uint64_t ms, std::optional<std::chrono::milliseconds> wait = std::nullopt) {
    return Plan{AttemptResult{Status::retry, "HTTP 503", wait}, ms};
}

DeliveryQueueOptions options(unsigned concurrency, uint64_t queue_size, WhenFull when_full = WhenFull::drop_newest) {
    DeliveryQueueOptions o;
    o.concurrency = concurrency;
    o.queue.size = queue_size;
    o.queue.when_full = when_full;
    o.retry = {1, 1ms, 1ms};
    o.timeout = 1s;
    o.seed = 42;
    return o;
}

struct Fixture {
    TestLoop loop;
    HookStats stats{"orders"};
    ActionLog log;

    SinkPtr make(DeliveryQueueOptions o, FakeAction::Script script) {
        auto action = std::make_unique<FakeAction>(&loop.loop, log, std::move(script));
        return SinkPtr(new DeliveryQueue(&loop.loop, stats, std::move(action), o));
    }

    uint64_t outcomes() const { return stats.delivered + stats.failed + stats.dropped; }
};

std::vector<uint64_t> gaps_between_attempts(const ActionLog& log, const std::string& id) {
    std::vector<uint64_t> starts;
    for (const auto& start : log.starts)
        if (start.id == id) starts.push_back(start.at_ms);
    std::vector<uint64_t> gaps;
    for (size_t i = 1; i < starts.size(); ++i) gaps.push_back(starts[i] - starts[i - 1]);
    return gaps;
}

}  // namespace

TEST_CASE("delivery queue: never more attempts in flight than the concurrency cap") {
    Fixture f;
    {
        SinkPtr sink = f.make(options(3, 100), [](const Delivery&) { return deliver_after(10); });
        for (int i = 0; i < 20; ++i) sink->deliver(record(i), {});
        CHECK(f.log.in_flight == 3);
        CHECK(f.stats.queue_depth == 20);
        CHECK_FALSE(sink->idle());
        REQUIRE(f.loop.run_until([&] { return sink->idle(); }));
        CHECK(f.stats.queue_depth == 0);
    }
    CHECK(f.log.max_in_flight == 3);
    CHECK(f.log.starts.size() == 20);
    CHECK(f.stats.delivered == 20);
    CHECK(f.stats.failed == 0);
    CHECK(f.stats.dropped == 0);
    CHECK(f.stats.retried == 0);
}

TEST_CASE("delivery queue: waiting events start oldest first") {
    Fixture f;
    {
        SinkPtr sink = f.make(options(1, 100), [](const Delivery&) { return deliver_after(1); });
        for (int i = 0; i < 5; ++i) sink->deliver(record(i), {});
        REQUIRE(f.loop.run_until([&] { return sink->idle(); }));
    }
    REQUIRE(f.log.starts.size() == 5);
    for (size_t i = 0; i < 5; ++i) CHECK(f.log.starts[i].id == "req-" + std::to_string(i) + "-orders");
}

TEST_CASE("delivery queue: a full queue drops the newest event under drop_newest") {
    Fixture f;
    {
        SinkPtr sink = f.make(options(1, 3, WhenFull::drop_newest), [](const Delivery&) { return deliver_after(20); });
        for (int i = 0; i < 10; ++i) sink->deliver(record(i), {});
        CHECK(f.stats.dropped == 6);           // 1 in flight, 3 waiting
        CHECK(f.stats.queue_depth == 4);
        REQUIRE(f.loop.run_until([&] { return sink->idle(); }));
    }
    CHECK(f.stats.delivered == 4);
    CHECK(f.stats.dropped == 6);
    std::vector<std::string> ids;
    for (const auto& start : f.log.starts) ids.push_back(start.id);
    CHECK(ids == std::vector<std::string>{"req-0-orders", "req-1-orders", "req-2-orders", "req-3-orders"});
}

TEST_CASE("delivery queue: a full queue drops the oldest waiting event under drop_oldest") {
    Fixture f;
    {
        SinkPtr sink = f.make(options(1, 3, WhenFull::drop_oldest), [](const Delivery&) { return deliver_after(20); });
        for (int i = 0; i < 10; ++i) sink->deliver(record(i), {});
        CHECK(f.stats.dropped == 6);
        CHECK(f.stats.queue_depth == 4);
        REQUIRE(f.loop.run_until([&] { return sink->idle(); }));
    }
    CHECK(f.stats.delivered == 4);
    CHECK(f.stats.dropped == 6);
    std::vector<std::string> ids;
    for (const auto& start : f.log.starts) ids.push_back(start.id);
    // req-0 was in flight already: only waiting events are dropped.
    CHECK(ids == std::vector<std::string>{"req-0-orders", "req-7-orders", "req-8-orders", "req-9-orders"});
}

TEST_CASE("delivery queue: drop_oldest also drops an event waiting for its retry, oldest first") {
    Fixture f;
    auto o = options(1, 2, WhenFull::drop_oldest);
    o.retry = {3, 500ms, 500ms};
    {
        // req-0 fails once and waits for its retry; req-1 is then in flight.
        SinkPtr sink = f.make(o, [](const Delivery& d) {
            return d.id == "req-0-orders" && d.attempt == 1 ? retry_after(1) : deliver_after(200);
        });
        sink->deliver(record(0), {});
        REQUIRE(f.loop.run_until([&] { return f.log.results.count("req-0-orders") == 1; }));
        sink->deliver(record(1), {});  // starts at once
        sink->deliver(record(2), {});  // waits; held: req-0 (retry), req-2
        CHECK(f.stats.dropped == 0);
        sink->deliver(record(3), {});  // full: req-0 is the oldest held
        CHECK(f.stats.dropped == 1);
        REQUIRE(f.loop.run_until([&] { return sink->idle(); }));
    }
    CHECK(f.stats.delivered == 3);
    CHECK(f.stats.dropped == 1);
    CHECK(f.stats.retried == 0);
    CHECK(f.log.results.at("req-0-orders").size() == 1);
}

TEST_CASE("delivery queue: retries wait an exponential backoff with full jitter") {
    Fixture f;
    auto o = options(64, 100);
    o.retry = {4, 40ms, 120ms};  // caps after attempts 1, 2, 3: 40, 80, 120 ms
    o.seed = 7;
    constexpr int events = 40;
    {
        SinkPtr sink = f.make(o, [](const Delivery&) { return retry_after(1); });
        for (int i = 0; i < events; ++i) sink->deliver(record(i), {});
        REQUIRE(f.loop.run_until([&] { return sink->idle(); }));
    }
    CHECK(f.stats.failed == events);
    CHECK(f.stats.retried == 3 * events);
    CHECK(f.log.starts.size() == 4 * events);
    // Each retry waits a delay drawn from [0, cap] for the attempt that
    // failed: checked on the delays the queue drew, which no stall of the
    // machine can change. The measured gap between two attempts is at least
    // the attempt (1 ms) plus that delay.
    const uint64_t caps[] = {40, 80, 120};
    std::vector<uint64_t> after_third;
    for (int i = 0; i < events; ++i) {
        const std::string id = "req-" + std::to_string(i) + "-orders";
        std::vector<ActionLog::Start> starts;
        for (const auto& start : f.log.starts)
            if (start.id == id) starts.push_back(start);
        REQUIRE(starts.size() == 4);
        CHECK(starts[0].backoff_ms == 0);
        for (size_t n = 1; n < 4; ++n) {
            CHECK(starts[n].attempt == n + 1);
            CHECK(starts[n].backoff_ms <= caps[n - 1]);
            CHECK(starts[n].at_ms - starts[n - 1].at_ms >= 1 + starts[n].backoff_ms);
        }
        after_third.push_back(starts[3].backoff_ms);
    }
    // Full jitter spreads the retries over the whole range rather than
    // bunching them at the cap: with 40 draws from [0, 120] ms, some fall in
    // each half (a miss has a probability of about 2^-40). A queue that drew
    // every delay with the first attempt's cap (40 ms) has none above 60.
    CHECK(*std::min_element(after_third.begin(), after_third.end()) < 60);
    CHECK(*std::max_element(after_third.begin(), after_third.end()) > 60);
}

TEST_CASE("delivery queue: a Retry-After longer than the backoff is honoured") {
    Fixture f;
    auto o = options(4, 100);
    o.retry = {3, 1ms, 5ms};
    {
        SinkPtr sink = f.make(o, [](const Delivery& d) {
            return d.attempt == 1 ? retry_after(1, 300ms) : deliver_after(1);
        });
        sink->deliver(record(1), {});
        REQUIRE(f.loop.run_until([&] { return sink->idle(); }));
    }
    CHECK(f.stats.delivered == 1);
    CHECK(f.stats.retried == 1);
    const auto gaps = gaps_between_attempts(f.log, "req-1-orders");
    REQUIRE(gaps.size() == 1);
    CHECK(gaps[0] >= 300);
    CHECK(gaps[0] < 2000);
}

TEST_CASE("delivery queue: the delivery id is the request id and the hook name, the same on every retry") {
    Fixture f;
    auto o = options(4, 100);
    o.retry = {3, 1ms, 1ms};
    {
        SinkPtr sink = f.make(o, [](const Delivery& d) { return d.attempt < 3 ? retry_after(1) : deliver_after(1); });
        const RecordPtr shared = record(9);
        sink->deliver(shared, {{"key", "/a"}});
        sink->deliver(shared, {{"key", "/b"}});  // the same record reaches the hook twice (named twice)
        sink->deliver(record(10), {});
        REQUIRE(f.loop.run_until([&] { return sink->idle(); }));
    }
    CHECK(f.stats.delivered == 3);
    std::map<std::string, std::set<std::string>> keys_by_id;
    for (const auto& start : f.log.starts) keys_by_id[start.id].insert(start.trigger_key);
    REQUIRE(keys_by_id.size() == 3);
    CHECK(keys_by_id.at("req-9-orders") == std::set<std::string>{"/a"});
    CHECK(keys_by_id.at("req-9-orders-2") == std::set<std::string>{"/b"});
    CHECK(keys_by_id.count("req-10-orders") == 1);
    for (const auto& [id, results] : f.log.results) CHECK(results.size() == 3);
}

TEST_CASE("delivery queue: a failed attempt is not retried, a retry with no attempts left fails") {
    Fixture f;
    auto o = options(4, 100);
    o.retry = {2, 1ms, 1ms};
    {
        SinkPtr sink = f.make(o, [](const Delivery& d) {
            if (d.id == "req-1-orders") return Plan{AttemptResult{Status::failed, "HTTP 400", std::nullopt}, 1};
            return retry_after(1);
        });
        sink->deliver(record(1), {});
        sink->deliver(record(2), {});
        REQUIRE(f.loop.run_until([&] { return sink->idle(); }));
    }
    CHECK(f.log.results.at("req-1-orders").size() == 1);
    CHECK(f.log.results.at("req-2-orders").size() == 2);
    CHECK(f.stats.failed == 2);
    CHECK(f.stats.retried == 1);
    CHECK(f.stats.delivered == 0);
}

TEST_CASE("delivery queue: under a random mix every event ends as exactly one outcome") {
    Fixture f;
    auto o = options(4, 30, WhenFull::drop_oldest);
    o.retry = {3, 2ms, 8ms};
    constexpr int events = 600;
    std::mt19937 random(12345);
    int fed = 0;
    {
        SinkPtr sink = f.make(o, [&random](const Delivery&) {
            const auto after = std::uniform_int_distribution<uint64_t>(0, 4)(random);
            switch (std::uniform_int_distribution<int>(0, 2)(random)) {
            case 0: return deliver_after(after);
            case 1: return retry_after(after);
            default: return Plan{AttemptResult{Status::failed, "exit 2", std::nullopt}, after};
            }
        });
        // Bursts of up to 40 events, each loop iteration, so that the queue
        // overflows now and then and drains in between.
        REQUIRE(f.loop.run_until([&] {
            const int burst = std::uniform_int_distribution<int>(0, 40)(random);
            for (int i = 0; i < burst && fed < events; ++i) sink->deliver(record(fed++), {});
            return fed == events && sink->idle();
        }));
        CHECK(f.stats.queue_depth == 0);
    }
    CHECK(f.stats.dropped > 0);
    CHECK(f.stats.retried > 0);
    CHECK(f.outcomes() == events);
    CHECK(f.log.max_in_flight <= 4);
    uint64_t delivered = 0;
    uint64_t failed = 0;
    uint64_t extra_attempts = 0;
    for (const auto& [id, results] : f.log.results) {
        // Every attempt but the last asked for a retry; the last decided.
        for (size_t i = 0; i + 1 < results.size(); ++i) CHECK(results[i] == Status::retry);
        CHECK(results.size() <= 3);
        delivered += results.back() == Status::delivered;
        failed += results.back() != Status::delivered;
        extra_attempts += results.size() - 1;
    }
    CHECK(f.stats.delivered == delivered);
    // An event dropped while waiting for its retry was attempted but counts
    // as dropped, not failed.
    CHECK(f.stats.failed <= failed);
    CHECK(f.stats.retried == extra_attempts);
    CHECK(f.stats.dropped == events - delivered - f.stats.failed);
}

TEST_CASE("delivery queue: abandon() drops what waits, counts what is in flight when it ends") {
    Fixture f;
    auto o = options(2, 100);
    o.retry = {3, 5s, 5s};
    {
        SinkPtr sink = f.make(o, [](const Delivery& d) {
            return d.id == "req-0-orders" ? retry_after(1) : deliver_after(100);
        });
        sink->deliver(record(0), {});
        REQUIRE(f.loop.run_until([&] { return f.log.results.count("req-0-orders") == 1; }));  // now waits 5 s
        for (int i = 1; i < 10; ++i) sink->deliver(record(i), {});
        CHECK(f.stats.queue_depth == 10);  // 1 retrying, 2 in flight, 7 waiting

        CHECK(sink->abandon() == 10);
        CHECK(f.stats.dropped == 8);
        CHECK(f.stats.queue_depth == 2);
        CHECK(sink->abandon() == 2);  // again: only the ones in flight are left
        sink->deliver(record(11), {});  // nothing new is taken
        CHECK(f.stats.dropped == 9);

        REQUIRE(f.loop.run_until([&] { return sink->idle(); }));
        CHECK(f.stats.delivered == 2);
        CHECK(f.log.starts.size() == 3);  // nothing started after abandon()
    }
    CHECK(f.outcomes() == 11);
    CHECK(f.stats.retried == 0);
}

TEST_CASE("delivery queue: a retry asked for after abandon() counts as failed") {
    Fixture f;
    auto o = options(2, 100);
    o.retry = {3, 1ms, 1ms};
    {
        SinkPtr sink = f.make(o, [](const Delivery&) { return retry_after(50); });
        sink->deliver(record(0), {});
        CHECK(sink->abandon() == 1);
        REQUIRE(f.loop.run_until([&] { return sink->idle(); }));
    }
    CHECK(f.stats.failed == 1);
    CHECK(f.stats.dropped == 0);
    CHECK(f.log.starts.size() == 1);
}

TEST_CASE("delivery queue: close() ends the attempts in flight as failed and frees the queue and the action") {
    Fixture f;
    {
        SinkPtr sink = f.make(options(2, 100), [](const Delivery&) { return deliver_after(60000); });
        for (int i = 0; i < 5; ++i) sink->deliver(record(i), {});
    }  // closed here
    CHECK(f.log.closed);
    CHECK(f.stats.dropped == 3);
    uv_run(&f.loop.loop, UV_RUN_DEFAULT);  // the close callbacks; returns once no handle is left
    CHECK(f.log.destroyed);
    CHECK(f.stats.failed == 2);
    CHECK(f.outcomes() == 5);
}

TEST_CASE("delivery queue: close() with nothing in flight frees everything") {
    Fixture f;
    { SinkPtr sink = f.make(options(2, 100), [](const Delivery&) { return deliver_after(1); }); }
    uv_run(&f.loop.loop, UV_RUN_DEFAULT);
    CHECK(f.log.closed);
    CHECK(f.log.destroyed);
}

TEST_CASE("delivery queue: progress is reported each time an attempt ends") {
    Fixture f;
    int progress = 0;
    {
        SinkPtr sink = f.make(options(2, 100), [](const Delivery&) { return deliver_after(1); });
        sink->set_progress_callback([&progress] { ++progress; });
        for (int i = 0; i < 4; ++i) sink->deliver(record(i), {});
        REQUIRE(f.loop.run_until([&] { return sink->idle(); }));
    }
    CHECK(progress == 4);
}
