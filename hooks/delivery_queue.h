// DeliveryQueue: the sink of a queued hook (webhook, exec). It owns the
// hook's bounded queue, its concurrency cap, the deadline of each attempt and
// the retries; an Action (hooks/delivery.h) makes the attempts.
//
// Every event handed to deliver() ends as exactly one of:
// - delivered: an attempt succeeded;
// - failed: the last attempt failed, or an attempt failed for good, or an
//   attempt ended after abandon() or close() without succeeding;
// - dropped: it was never attempted, or waited for a retry when the hook gave
//   up: the queue was full (`queue.when_full`), or abandon() or close().
// Each extra attempt counts once as `retried`; each attempt that ends is
// observed once in `delivery_duration` (start to result). `queue_depth` is the events
// waiting, in flight and waiting for a retry.
//
// Diagnostics: the first failed (or dropped) event of a hook is reported at
// once, then at most one line per interval with the number since the line
// before: never a line per event.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "config/config.h"
#include "hooks/backoff.h"
#include "hooks/delivery.h"
#include "hooks/report_throttle.h"
#include "hooks/sink.h"

namespace afterhook::hooks {

struct DeliveryQueueOptions {
    unsigned concurrency = 8;                // attempts in flight at most (0 counts as 1)
    config::Queue queue;                     // events waiting, for a first attempt or a retry
    config::Retry retry;
    std::chrono::milliseconds timeout{5000};  // each attempt's deadline, enforced by the action
    uint64_t report_interval_ms = 10000;     // at most one failure (or drop) report per interval
    uint64_t seed = 0;                       // of the backoff jitter; 0 = from std::random_device

    static DeliveryQueueOptions from(const config::WebhookSink& sink);
    static DeliveryQueueOptions from(const config::ExecSink& sink);
};

class DeliveryQueue final : public Sink {
public:
    using Options = DeliveryQueueOptions;

    // `keeps` is whatever the action needs to outlive it (the hook loop's
    // shared CurlMulti): released right after the action is destroyed.
    DeliveryQueue(uv_loop_t* loop, HookStats& stats, std::unique_ptr<Action> action, Options options,
                  std::shared_ptr<void> keeps = nullptr);

    // Starts the event at once when a slot is free; otherwise it waits, and
    // when `queue.size` events already wait, `queue.when_full` decides which
    // one is dropped. The delivery id is "<request id>-<hook name>"; a hook
    // that one record reaches twice (named twice in one trigger) gets
    // "-<n>" appended from the second time on, so that every event has its
    // own id and every retry of an event keeps it.
    void deliver(const RecordPtr& record, const TriggerParams& trigger) override;
    // Nothing to hand over early: waiting events start as soon as a slot is
    // free, and a retry keeps its backoff even during a drain (a receiver that
    // asked for Retry-After is not hammered). A drain waits for them until its
    // deadline, then abandons.
    void flush() override {}
    bool idle() const override;
    // Never: pausing a drain for a slow or failing receiver would hold back
    // every other hook's events. During a drain the queue's own bound and
    // `when_full` apply, as at any other time.
    bool backlogged() const override { return false; }
    // Drops every waiting event and every event waiting for a retry; attempts
    // in flight finish and are counted then. Nothing starts afterwards.
    uint64_t abandon() override;
    void reopen() override {}
    // Abandons, then closes the action (its attempts in flight end as failed)
    // and the retry timer; frees itself in the timer's close callback.
    void close() override;

private:
    struct Entry {
        Delivery delivery;
        uint64_t seq = 0;        // arrival order: smaller is older
        uint64_t retry_due = 0;  // loop time (ms) of the next attempt, while in retrying_
        std::chrono::steady_clock::time_point attempt_started;  // of the attempt in flight
    };

    ~DeliveryQueue() override = default;

    static void on_retry_timer(uv_timer_t* timer);
    static void on_timer_closed(uv_handle_t* handle);

    void on_retry_due();
    void on_attempt_done(uint64_t seq, AttemptResult result);
    void on_action_closed();

    uint64_t held() const { return waiting_.size() + retrying_.size(); }
    bool slot_free() const;
    std::string delivery_id(const RecordPtr& record);
    void start(Entry entry);
    void start_ready();
    void schedule_retry(Entry entry, const AttemptResult& result);
    void arm_retry_timer();
    void drop_oldest_held();
    void count_dropped(uint64_t count);
    void count_failed(const Entry& entry, const AttemptResult& result);
    void publish_depth();

    uv_loop_t* loop_;
    HookStats& stats_;
    QueueDepthShare depth_{stats_};  // this sink's part of stats_.queue_depth
    std::shared_ptr<void> keeps_;  // declared before action_, so destroyed after it
    std::unique_ptr<Action> action_;
    const Options options_;
    Backoff backoff_;
    uv_timer_t retry_timer_{};

    std::map<uint64_t, Entry> waiting_;     // by seq: the oldest starts first
    std::map<uint64_t, Entry> retrying_;    // by seq: waiting for their backoff
    std::set<std::pair<uint64_t, uint64_t>> retry_due_;  // (due loop time in ms, seq) of retrying_
    std::map<uint64_t, Entry> in_flight_;   // by seq
    uint64_t next_seq_ = 0;

    // The record of the last deliver() and how often it came: see deliver().
    RecordPtr last_record_;
    unsigned last_record_count_ = 0;

    bool abandoned_ = false;
    bool closing_ = false;

    ReportThrottle failures_;
    ReportThrottle drops_;
};

}  // namespace afterhook::hooks
