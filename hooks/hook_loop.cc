#include "hooks/hook_loop.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "proxy/log.h"

namespace afterhook::hooks {

namespace {

// Records dispatched per wake-up before the loop lets other callbacks (write
// completions, timers) run; the rest follows on the next iteration.
constexpr size_t dispatch_batch = 1024;

}  // namespace

HookLoop::HookLoop(std::vector<config::Hook> hooks, size_t queue_capacity)
    : queue_(queue_capacity), hooks_(std::move(hooks)) {
    for (const auto& hook : hooks_) stats_.push_back(std::make_unique<HookStats>(hook.name));
    if (const int result = uv_loop_init(&loop_); result < 0) {
        throw std::runtime_error(std::string("hook thread: cannot create its event loop: ") + uv_strerror(result));
    }
    // uv_async_init cannot fail on Linux once the loop exists.
    uv_async_init(&loop_, &wake_, on_wake_async);
    wake_.data = this;
    uv_async_init(&loop_, &control_, on_control_async);
    control_.data = this;
}

HookLoop::~HookLoop() {
    if (!ran_) {
        request_abandon();
        run();
    }
}

void HookLoop::open_sinks() {
    dispatcher_.emplace(&loop_, hooks_, stats_, trigger_stats_, [this] { on_sink_progress(); });
}

void HookLoop::run() {
    ran_ = true;
    uv_run(&loop_, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop_) != 0) report_open_handles();
    {
        std::lock_guard lock(done_mutex_);
        done_ = true;
    }
    done_changed_.notify_all();
}

bool HookLoop::submit(Record&& record) {
    bool queued = false;
    if (submit_gate_.enter()) {
        queued = queue_.try_push(std::move(record));
        if (queued) uv_async_send(&wake_);
        submit_gate_.leave();
    }
    submitted_.fetch_add(1, std::memory_order_relaxed);
    if (!queued) dropped_.fetch_add(1, std::memory_order_relaxed);
    return queued;
}

void HookLoop::reopen_logs() {
    if (!control_gate_.enter()) return;
    reopen_requested_.store(true);
    uv_async_send(&control_);
    control_gate_.leave();
}

void HookLoop::request_stop() {
    if (!control_gate_.enter()) return;
    stop_requested_.store(true);
    uv_async_send(&control_);
    control_gate_.leave();
}

void HookLoop::request_abandon() {
    if (!control_gate_.enter()) return;
    abandon_requested_.store(true);
    uv_async_send(&control_);
    control_gate_.leave();
}

bool HookLoop::wait_done_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(done_mutex_);
    return done_changed_.wait_until(lock, deadline, [this] { return done_; });
}

uint64_t HookLoop::undelivered() const {
    if (settled_.load()) return undelivered_.load();
    uint64_t deepest_sink = 0;
    for (const auto& stats : stats_) deepest_sink = std::max(deepest_sink, stats->queue_depth.load());
    return queue_.size_approx() + deepest_sink;
}

std::vector<HookCounters> HookLoop::counters() const {
    std::vector<HookCounters> result;
    result.reserve(stats_.size());
    for (const auto& stats : stats_) result.push_back(stats->snapshot());
    return result;
}

void HookLoop::on_wake_async(uv_async_t* async) { static_cast<HookLoop*>(async->data)->on_wake(); }

void HookLoop::on_control_async(uv_async_t* async) { static_cast<HookLoop*>(async->data)->on_control(); }

// The handles are members of the loop object, which outlives the loop run:
// nothing to free here.
void HookLoop::on_handle_closed(uv_handle_t*) {}

// Dispatches one batch; the next one follows on the next loop iteration, so
// that write completions and timers run in between. While draining, a
// backlogged sink pauses the dispatch until its writes progress, and the
// drain ends here once everything is delivered.
void HookLoop::on_wake() {
    // Before open_sinks() there is nowhere to deliver to: records wait.
    if (!dispatcher_ || finished_) return;
    if (dispatch_queued(dispatch_batch) == dispatch_batch) uv_async_send(&wake_);  // more may be queued
    if (!draining_) return;
    dispatcher_->flush();  // a drain does not wait for flush timers
    maybe_finish_drain();
}

void HookLoop::on_control() {
    if (finished_) return;
    if (reopen_requested_.exchange(false) && dispatcher_) dispatcher_->reopen();
    if (abandon_requested_.load()) {
        abandon();
    } else if (stop_requested_.load() && !draining_) {
        begin_drain();
    }
}

// A sink finished a delivery: a drain paused on it may go on, or be complete.
// Both happen on the next iteration, through the wake-up, never from inside
// the sink's callback: the sink (or the action under it) may still be in the
// middle of its own bookkeeping, and finishing the drain closes it.
void HookLoop::on_sink_progress() {
    if (!draining_ || finished_) return;
    if (queue_.size_approx() > 0 && dispatcher_->backlogged()) return;  // the next progress notice resumes
    uv_async_send(&wake_);
}

size_t HookLoop::dispatch_queued(size_t limit) {
    size_t dispatched = 0;
    while (dispatched < limit && !(draining_ && dispatcher_->backlogged()) && queue_.try_pop(scratch_)) {
        dispatcher_->dispatch(std::move(scratch_));
        ++dispatched;
    }
    return dispatched;
}

uint64_t HookLoop::discard_queued() {
    uint64_t discarded = 0;
    while (queue_.try_pop(scratch_)) ++discarded;
    return discarded;
}

// Stop: refuse new records, then deliver everything queued, batch by batch
// (on_wake), and close once the queue is empty and every sink is idle.
void HookLoop::begin_drain() {
    if (!dispatcher_) {
        abandon();  // never opened: there is nowhere to deliver to
        return;
    }
    draining_ = true;
    submit_gate_.close();  // from here on the queue only shrinks
    on_wake();
}

void HookLoop::maybe_finish_drain() {
    if (draining_ && !finished_ && queue_.size_approx() == 0 && dispatcher_->idle()) finish(0);
}

void HookLoop::abandon() {
    submit_gate_.close();
    const uint64_t never_dispatched = discard_queued();
    count_dropped_everywhere(never_dispatched);
    uint64_t unconfirmed = 0;
    if (dispatcher_) unconfirmed = dispatcher_->abandon();
    finish(never_dispatched + unconfirmed);
}

// Closes every handle; uv_run() returns once the close callbacks (and the
// sinks' last file requests) have run.
void HookLoop::finish(uint64_t undelivered) {
    finished_ = true;
    undelivered_.store(undelivered);
    settled_.store(true);
    control_gate_.close();
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_), on_handle_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&control_), on_handle_closed);
    if (dispatcher_) dispatcher_->close();
}

void HookLoop::count_dropped_everywhere(uint64_t records) {
    for (auto& stats : stats_) stats->add_dropped(records);
}

void HookLoop::report_open_handles() {
    log::error("hook loop closed with open handles");
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void*) {
            log::error(std::string("hook loop open handle type=") + uv_handle_type_name(uv_handle_get_type(handle)));
        },
        nullptr);
}

}  // namespace afterhook::hooks
