// HookLoop: the hook thread's libuv loop and everything it touches: the
// record queue, the wake-ups, the dispatcher and the per-hook counters.
// HookThread runs it on its own std::thread and shares ownership with that
// thread, so that a thread left behind by stop() (a write that never returns)
// keeps what it uses alive.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "config/config.h"
#include "hooks/hook_dispatcher.h"
#include "hooks/hook_stats.h"
#include "hooks/record.h"
#include "hooks/record_queue.h"
#include "hooks/send_gate.h"

namespace afterhook::hooks {

class HookLoop {
public:
    // Creates the loop and its wake-ups; submit() works from here on and
    // records wait in the queue until run(). Throws std::runtime_error if
    // libuv cannot create the loop.
    HookLoop(std::vector<config::Hook> hooks, size_t queue_capacity);
    // Runs the loop to completion first if run() was never called, so that
    // no handle outlives it.
    ~HookLoop();
    HookLoop(const HookLoop&) = delete;
    HookLoop& operator=(const HookLoop&) = delete;

    // Before run(), on the thread that owns the loop: opens every hook's
    // sink. Throws std::runtime_error naming the hook that cannot be opened.
    void open_sinks();

    // Runs the loop until a stop or an abandon has finished, then closes it.
    // Called exactly once, by the hook thread (or by the owner when the
    // thread never started).
    void run();

    // Any thread, never blocking.
    bool submit(Record&& record);
    void reopen_logs();
    // Stop taking records, deliver what is queued, flush, close.
    void request_stop();
    // Stop at once: what is not delivered yet is dropped and counted.
    void request_abandon();

    // Any thread: waits until run() has returned or `deadline` has passed.
    bool wait_done_until(std::chrono::steady_clock::time_point deadline);

    // Records that did not reach every hook: exact once a stop or abandon
    // has finished, an estimate from the live counters before.
    uint64_t undelivered() const;
    uint64_t records_submitted() const { return submitted_.load(std::memory_order_relaxed); }
    uint64_t records_dropped() const { return dropped_.load(std::memory_order_relaxed); }
    uint64_t unknown_triggers() const { return trigger_stats_.unknown.load(std::memory_order_relaxed); }
    uint64_t malformed_triggers() const { return trigger_stats_.malformed.load(std::memory_order_relaxed); }
    std::vector<HookCounters> counters() const;

private:
    static void on_wake_async(uv_async_t* async);
    static void on_control_async(uv_async_t* async);
    static void on_handle_closed(uv_handle_t* handle);

    void on_wake();
    void on_control();
    void on_sink_progress();
    size_t dispatch_queued(size_t limit);
    uint64_t discard_queued();
    void begin_drain();
    void maybe_finish_drain();
    void abandon();
    void finish(uint64_t undelivered);
    void count_dropped_everywhere(uint64_t records);
    void report_open_handles();

    uv_loop_t loop_{};
    uv_async_t wake_{};     // records queued; sent by submit()
    uv_async_t control_{};  // stop, abandon or reopen requested
    SendGate submit_gate_;  // closed when a stop or abandon begins
    SendGate control_gate_; // closed when the loop finishes

    RecordQueue queue_;
    const std::vector<config::Hook> hooks_;
    std::vector<std::unique_ptr<HookStats>> stats_;  // one per hook, fixed at construction
    TriggerStats trigger_stats_;
    std::optional<HookDispatcher> dispatcher_;
    Record scratch_;  // the record being dispatched (moved into the hooks' shared copy)

    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> abandon_requested_{false};
    std::atomic<bool> reopen_requested_{false};
    std::atomic<uint64_t> submitted_{0};
    std::atomic<uint64_t> dropped_{0};
    std::atomic<bool> settled_{false};
    std::atomic<uint64_t> undelivered_{0};

    // Loop thread only.
    bool ran_ = false;
    bool draining_ = false;
    bool finished_ = false;

    std::mutex done_mutex_;
    std::condition_variable done_changed_;
    bool done_ = false;
};

}  // namespace afterhook::hooks
