// HookLoop: the hook thread's libuv loop and everything it touches: the
// record queue, the wake-ups, the dispatchers and the per-hook counters.
//
// Each config the loop has run is a generation: the config and a dispatcher
// opened for its hooks. One generation is current; a reload makes a new one
// current and the previous one retires: it still delivers the records that
// carry its config (Record::config) and is closed once nothing but the loop
// holds that config (no record queued or in a sink, no exchange in flight)
// and its sinks are idle.
// HookThread runs it on its own std::thread and shares ownership with that
// thread, so that a thread left behind by stop() (a write that never returns)
// keeps what it uses alive.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
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
    // `config` is the first current generation, opened by open_sinks().
    HookLoop(std::shared_ptr<const config::Config> config, size_t queue_capacity);
    // Runs the loop to completion first if run() was never called, so that
    // no handle outlives it.
    ~HookLoop();
    HookLoop(const HookLoop&) = delete;
    HookLoop& operator=(const HookLoop&) = delete;

    // Before run(), on the thread that owns the loop: opens every hook's
    // sink. Throws std::runtime_error naming the hook that cannot be opened.
    void open_sinks();

    // Before open_sinks(), on the owner's thread: the config to open instead.
    void replace_unopened(std::shared_ptr<const config::Config> config);

    // Any thread, while run() runs: asks the loop to open `config` as the new
    // current generation and waits for the result until `deadline` (a
    // request the loop has already taken is waited for to the end). See
    // HookThread::reload().
    bool reload(std::shared_ptr<const config::Config> config, std::string& error,
                std::chrono::steady_clock::time_point deadline);

    // Runs the loop until a stop or an abandon has finished, then closes it.
    // Called exactly once, by the hook thread (or by the owner when the
    // thread never started).
    void run();

    // Any thread, never blocking.
    bool submit(Record&& record);
    // A batch: queues a prefix of records[0..count) and returns its length;
    // the rest is dropped (counted, and the pointers reset).
    size_t submit(SubmittedRecord* records, size_t count);
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
    void visit_histograms(const std::function<void(const std::string&, const proxy::Histogram&)>& visit) const;

private:
    struct Generation {
        std::shared_ptr<const config::Config> config;
        std::optional<HookDispatcher> dispatcher;
    };

    // One reload() call, shared by the caller and the loop; guarded by
    // reload_mutex_.
    struct ReloadRequest {
        std::shared_ptr<const config::Config> config;
        bool taken = false;  // the loop is applying it: the caller waits for it
        bool done = false;
        bool ok = false;
        std::string error;
    };

    static void on_retire_timer_tick(uv_timer_t* timer);
    static void on_poll_timer_tick(uv_timer_t* timer);

    static void on_wake_async(uv_async_t* async);
    static void on_control_async(uv_async_t* async);
    static void on_handle_closed(uv_handle_t* handle);

    void on_wake();
    void pace_wakeups(bool busy);
    void on_control();
    void on_sink_progress();
    void take_reload_request();
    bool apply_reload(const std::shared_ptr<const config::Config>& config, std::string& error);
    void fail_pending_reload(const std::string& why);
    std::unique_ptr<Generation> open_generation(const std::shared_ptr<const config::Config>& config);
    void list_stats(const config::Config& current);
    HookDispatcher& dispatcher_for(const config::Config* config);
    void retire_finished();
    template <typename Action>
    void each_dispatcher(Action action);
    bool all_idle();
    bool any_backlogged();
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
    uv_async_t control_{};  // stop, abandon, reopen or reload requested
    uv_timer_t retire_timer_{};  // runs while some generation is retiring
    uv_timer_t poll_timer_{};    // runs while records flow: see pace_wakeups()
    SendGate submit_gate_;  // closed when a stop or abandon begins
    SendGate control_gate_; // closed when the loop finishes

    RecordQueue queue_;
    TriggerStats trigger_stats_;

    // True while the hook thread will look at the queue again without being
    // woken (records are flowing and the poll timer runs): submit() then
    // skips uv_async_send(). False while it sleeps; the submit() that turns
    // it true sends the one wake-up. See pace_wakeups().
    alignas(64) std::atomic<bool> awake_{false};

    // Counters by hook name, for every name ever configured; entries are
    // added by the loop thread and never removed. stats_mutex_ guards the
    // map and the listing against readers on other threads (the counters
    // themselves are atomics).
    mutable std::mutex stats_mutex_;
    std::map<std::string, std::unique_ptr<HookStats>> stats_;
    std::vector<HookStats*> listed_;  // the current config's hooks first, then the removed ones
    // Counters of hooks whose generation failed to open: never listed, kept
    // because a sink that was opened and closed may still count into them.
    std::vector<std::unique_ptr<HookStats>> unlisted_stats_;

    // Loop thread only (and the owner before run()).
    std::shared_ptr<const config::Config> unopened_;  // the first config, until open_sinks()
    std::unique_ptr<Generation> current_;             // null until open_sinks()
    std::vector<std::unique_ptr<Generation>> retiring_;
    SubmittedRecord scratch_;  // the record being dispatched

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

    std::mutex reload_mutex_;
    std::condition_variable reload_changed_;
    std::shared_ptr<ReloadRequest> reload_request_;  // waiting for the loop to take it

    std::mutex done_mutex_;
    std::condition_variable done_changed_;
    bool done_ = false;
};

}  // namespace afterhook::hooks
