// DeadlineTimer on a real libuv loop: the owner's callback runs once, not
// before the last deadline set, whether that deadline moved later (no heap
// change, an early wake-up that starts again) or earlier (a restart), and
// never after a disarm.
#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <cstdint>

#include "proxy/deadline_timer.h"

using afterhook::proxy::DeadlineTimer;

namespace {

struct Owner {
    uv_loop_t loop{};
    DeadlineTimer timer;
    int expired = 0;
    uint64_t expired_at = 0;  // loop time of the last expiry
    uv_timer_t helper{};      // runs `step` once, `step_after` ms in
    void (*step)(Owner&) = nullptr;

    Owner() {
        uv_loop_init(&loop);
        timer.init(&loop, this, [](uv_timer_t* handle) {
            auto* owner = static_cast<Owner*>(handle->data);
            ++owner->expired;
            owner->expired_at = uv_now(&owner->loop);
        });
        uv_timer_init(&loop, &helper);
        helper.data = this;
    }

    void schedule(uint64_t step_after, void (*action)(Owner&)) {
        step = action;
        uv_timer_start(&helper, [](uv_timer_t* handle) {
            auto* owner = static_cast<Owner*>(handle->data);
            owner->step(*owner);
        }, step_after, 0);
    }

    // Runs until nothing is pending (the loop ends on its own once neither
    // timer is active), then closes both handles.
    void run() {
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_close(timer.handle(), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&helper), nullptr);
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);
    }
};

}  // namespace

TEST_SUITE("deadline timer") {

TEST_CASE("a deadline fires once, not before it is due") {
    Owner owner;
    uv_update_time(&owner.loop);
    const uint64_t start = uv_now(&owner.loop);
    owner.timer.arm(20);
    owner.run();
    CHECK(owner.expired == 1);
    CHECK(owner.expired_at >= start + 20);
}

TEST_CASE("a deadline moved later fires at the later time, once") {
    Owner owner;
    uv_update_time(&owner.loop);
    const uint64_t start = uv_now(&owner.loop);
    owner.timer.arm(20);
    // 10 ms in, the deadline moves to 60 ms from then: the libuv timer still
    // fires at 20 ms and must not call the owner.
    owner.schedule(10, [](Owner& o) { o.timer.arm(60); });
    owner.run();
    CHECK(owner.expired == 1);
    CHECK(owner.expired_at >= start + 70);
}

TEST_CASE("a deadline moved earlier fires at the earlier time") {
    Owner owner;
    uv_update_time(&owner.loop);
    const uint64_t start = uv_now(&owner.loop);
    owner.timer.arm(10'000);
    owner.schedule(5, [](Owner& o) { o.timer.arm(10); });
    owner.run();  // would take 10 s if the earlier deadline were missed
    CHECK(owner.expired == 1);
    CHECK(owner.expired_at >= start + 15);
    CHECK(owner.expired_at < start + 5'000);
}

TEST_CASE("a disarmed deadline never fires, and arming again works") {
    SUBCASE("disarmed") {
        Owner owner;
        owner.timer.arm(20);
        owner.schedule(5, [](Owner& o) { o.timer.disarm(); });
        owner.run();
        CHECK(owner.expired == 0);
    }
    SUBCASE("disarmed, then armed again") {
        Owner owner;
        uv_update_time(&owner.loop);
        const uint64_t start = uv_now(&owner.loop);
        owner.timer.arm(20);
        owner.schedule(5, [](Owner& o) {
            o.timer.disarm();
            o.timer.arm(40);
        });
        owner.run();
        CHECK(owner.expired == 1);
        CHECK(owner.expired_at >= start + 45);
    }
}

TEST_CASE("arm(0) fires on the next loop iteration") {
    Owner owner;
    owner.timer.arm(60'000);
    owner.schedule(1, [](Owner& o) { o.timer.arm(0); });
    uv_update_time(&owner.loop);
    const uint64_t start = uv_now(&owner.loop);
    owner.run();
    CHECK(owner.expired == 1);
    CHECK(owner.expired_at < start + 30'000);
}

}  // TEST_SUITE
