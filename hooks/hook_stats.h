// HookStats: the live counters of one hook. The hook thread writes them with
// relaxed atomics; any thread may read them (the admin endpoint, stop()).
// They are keyed by hook name: across a reload, a hook that keeps its name
// keeps counting into the same HookStats, whichever config generation
// delivers the event.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "hooks/hook_thread.h"
#include "proxy/histogram.h"

namespace afterhook::hooks {

struct HookStats {
    explicit HookStats(std::string hook_name) : hook(std::move(hook_name)) {}
    HookStats(const HookStats&) = delete;
    HookStats& operator=(const HookStats&) = delete;

    void add_delivered(uint64_t n) { delivered.fetch_add(n, std::memory_order_relaxed); }
    void add_failed(uint64_t n) { failed.fetch_add(n, std::memory_order_relaxed); }
    void add_dropped(uint64_t n) { dropped.fetch_add(n, std::memory_order_relaxed); }
    void add_retried(uint64_t n) { retried.fetch_add(n, std::memory_order_relaxed); }
    // One finished attempt: see `delivery_duration`.
    void observe_delivery(double seconds, uint64_t deliveries = 1) {
        for (uint64_t i = 0; i < deliveries; ++i) delivery_duration.observe(seconds);
    }

    HookCounters snapshot() const;

    const std::string hook;
    std::atomic<uint64_t> delivered{0};    // deliveries that completed
    std::atomic<uint64_t> failed{0};       // deliveries attempted and failed for good
    std::atomic<uint64_t> dropped{0};      // deliveries given up before they ended (a bound was hit, or shutdown)
    std::atomic<uint64_t> retried{0};      // extra attempts
    std::atomic<uint64_t> queue_depth{0};  // deliveries waiting in the sinks or in flight (QueueDepthShare)
    // Per attempt, not per event: each attempt that ended (delivered, failed,
    // or to be retried) is observed once, from its start to its result: a
    // webhook request or an exec run by a DeliveryQueue, the write of a batch
    // of lines by a LogSink (once per line written). Events dropped before
    // any attempt are not observed.
    proxy::Histogram delivery_duration;
};

// One sink's part of its hook's queue_depth. After a reload, a retiring
// generation and the current one deliver for the same hook name into the
// same HookStats: each sink adds the change in its own depth, so the gauge
// is their sum rather than whichever sink published last. A sink gives its
// part back when it is destroyed.
class QueueDepthShare {
public:
    explicit QueueDepthShare(HookStats& stats) : stats_(stats) {}
    ~QueueDepthShare() { publish(0); }
    QueueDepthShare(const QueueDepthShare&) = delete;
    QueueDepthShare& operator=(const QueueDepthShare&) = delete;

    void publish(uint64_t depth) {
        // Unsigned arithmetic wraps: adding depth - published_ modulo 2^64
        // moves the sum by the signed difference.
        stats_.queue_depth.fetch_add(depth - published_, std::memory_order_relaxed);
        published_ = depth;
    }

private:
    HookStats& stats_;
    uint64_t published_ = 0;
};

// The app triggers the hook thread saw (Record::trigger), across all hooks.
struct TriggerStats {
    std::atomic<uint64_t> unknown{0};    // calls naming no `trigger: header` hook
    std::atomic<uint64_t> malformed{0};  // calls that could not be parsed (hooks/trigger.h)
};

inline HookCounters HookStats::snapshot() const {
    HookCounters counters;
    counters.hook = hook;
    counters.delivered = delivered.load(std::memory_order_relaxed);
    counters.failed = failed.load(std::memory_order_relaxed);
    counters.dropped = dropped.load(std::memory_order_relaxed);
    counters.retried = retried.load(std::memory_order_relaxed);
    counters.queue_depth = queue_depth.load(std::memory_order_relaxed);
    return counters;
}

}  // namespace afterhook::hooks
