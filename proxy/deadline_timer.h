// DeadlineTimer: a libuv timer for a deadline that moves on almost every
// event. A connection pushes its idle deadline back on each read and write;
// done with uv_timer_start() that is a removal from the loop's timer heap
// and an insertion, several times per request. Here a later deadline only
// updates a number: the libuv timer keeps its earlier due time, and when it
// fires before the deadline it starts again for what remains. Only a deadline
// earlier than the due time touches the heap.
//
// The owner's callback runs only once the deadline has really passed, so it
// sees exactly what a plain timer restarted at every arm() would show.
// The handle is the owner's, as with a plain uv_timer_t: it sets data, and
// closes handle() with uv_close() (freeing nothing before the close callback).
#pragma once

#include <uv.h>

#include <cstdint>
#include <type_traits>

namespace afterhook::proxy {

class DeadlineTimer {
public:
    using Callback = void (*)(uv_timer_t*);

    // uv_timer_init() and the owner's callback; `data` goes to the handle.
    void init(uv_loop_t* loop, void* data, Callback on_expired) {
        uv_timer_init(loop, &timer_);
        timer_.data = data;
        on_expired_ = on_expired;
    }

    // The deadline becomes `ms` from the loop's current time, replacing any
    // other (earlier or later).
    void arm(uint64_t ms) {
        const uint64_t deadline = uv_now(timer_.loop) + ms;
        deadline_ = deadline;
        armed_ = true;
        if (uv_is_active(handle()) != 0 && due_ <= deadline) return;
        start(ms);
    }

    // No deadline. A pending libuv timer stays; it fires once, finds no
    // deadline and stops.
    void disarm() { armed_ = false; }

    uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&timer_); }

private:
    static void on_fire(uv_timer_t* timer) {
        // timer_ is the first member of a standard-layout class.
        auto* self = reinterpret_cast<DeadlineTimer*>(timer);
        if (!self->armed_) return;
        const uint64_t now = uv_now(timer->loop);
        if (now < self->deadline_) {
            self->start(self->deadline_ - now);
            return;
        }
        self->armed_ = false;
        self->on_expired_(timer);
    }

    void start(uint64_t ms) {
        due_ = uv_now(timer_.loop) + ms;
        uv_timer_start(&timer_, on_fire, ms, 0);
    }

    uv_timer_t timer_{};
    Callback on_expired_ = nullptr;
    uint64_t deadline_ = 0;  // loop time (ms) the owner's callback is due, while armed_
    uint64_t due_ = 0;       // loop time (ms) the libuv timer fires, while it is active
    bool armed_ = false;
};

static_assert(std::is_standard_layout_v<DeadlineTimer>);

}  // namespace afterhook::proxy
