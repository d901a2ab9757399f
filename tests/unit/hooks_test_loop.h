// A libuv loop for one hook unit test, checked for leaked handles at the end.
#pragma once

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <functional>

namespace afterhook::test {

// Runs `loop` until `done()` holds or `timeout` passes. A repeating timer
// keeps each iteration short whatever else is (not) active, so a condition
// another thread makes true is seen within milliseconds. The timer lives on
// this stack frame: it is closed before returning, and also on the way out
// when `done()` throws (a failed REQUIRE inside it), so the loop never keeps
// a dangling handle. Only that second close runs in a destructor, where an
// exception from a callback would end the test run.
inline bool run_loop_until(uv_loop_t* loop, const std::function<bool()>& done,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    struct Tick {
        uv_loop_t* loop;
        uv_timer_t timer{};
        bool closed = false;
        explicit Tick(uv_loop_t* on) : loop(on) {
            uv_timer_init(loop, &timer);
            uv_timer_start(&timer, [](uv_timer_t*) {}, 2, 2);
        }
        void close() {
            closed = true;
            uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
            uv_run(loop, UV_RUN_NOWAIT);  // the close callback, before `timer` goes away
        }
        ~Tick() {
            if (!closed) close();
        }
        Tick(const Tick&) = delete;
        Tick& operator=(const Tick&) = delete;
    } tick(loop);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool met = done();
    while (!met && std::chrono::steady_clock::now() < deadline) {
        uv_run(loop, UV_RUN_ONCE);
        met = done();
    }
    tick.close();
    return met;
}

struct TestLoop {
    uv_loop_t loop{};
    TestLoop() { REQUIRE(uv_loop_init(&loop) == 0); }
    ~TestLoop() {
        uv_run(&loop, UV_RUN_DEFAULT);  // close callbacks of whatever the test closed last
        CHECK(uv_loop_close(&loop) == 0);
    }
    TestLoop(const TestLoop&) = delete;
    TestLoop& operator=(const TestLoop&) = delete;

    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        return run_loop_until(&loop, done, timeout);
    }

    // Runs the loop for `duration` of loop time, whatever happens.
    void run_for(std::chrono::milliseconds duration) {
        const auto until = std::chrono::steady_clock::now() + duration;
        run_until([until] { return std::chrono::steady_clock::now() >= until; }, duration * 2);
    }
};

}  // namespace afterhook::test
