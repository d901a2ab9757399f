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

// While records keep arriving, the hook thread looks at the queue this often
// instead of being woken for each record: one wake-up per record costs a
// worker an eventfd write and the hook thread a read and a context switch,
// which under load adds up to a measurable share of the proxy's CPU. A
// record waits at most this long before its dispatch.
constexpr uint64_t poll_interval_ms = 1;

// How often retiring generations are checked besides each wake-up: an
// exchange in flight ending on a worker does not wake the hook thread.
constexpr uint64_t retire_check_ms = 200;

}  // namespace

HookLoop::HookLoop(std::shared_ptr<const config::Config> config, size_t queue_capacity)
    : queue_(queue_capacity), unopened_(std::move(config)) {
    for (const auto& hook : unopened_->hooks) stats_.emplace(hook.name, std::make_unique<HookStats>(hook.name));
    list_stats(*unopened_);
    if (const int result = uv_loop_init(&loop_); result < 0) {
        throw std::runtime_error(std::string("hook thread: cannot create its event loop: ") + uv_strerror(result));
    }
    // uv_async_init and uv_timer_init cannot fail on Linux once the loop exists.
    uv_async_init(&loop_, &wake_, on_wake_async);
    wake_.data = this;
    uv_async_init(&loop_, &control_, on_control_async);
    control_.data = this;
    uv_timer_init(&loop_, &retire_timer_);
    retire_timer_.data = this;
    uv_timer_init(&loop_, &poll_timer_);
    poll_timer_.data = this;
}

HookLoop::~HookLoop() {
    if (!ran_) {
        request_abandon();
        run();
    }
}

void HookLoop::open_sinks() {
    current_ = open_generation(unopened_);
    unopened_.reset();
}

void HookLoop::replace_unopened(std::shared_ptr<const config::Config> config) {
    for (const auto& hook : config->hooks) {
        if (stats_.count(hook.name) != 0) continue;
        std::lock_guard lock(stats_mutex_);
        stats_.emplace(hook.name, std::make_unique<HookStats>(hook.name));
    }
    unopened_ = std::move(config);
    list_stats(*unopened_);
}

bool HookLoop::reload(std::shared_ptr<const config::Config> config, std::string& error,
                      std::chrono::steady_clock::time_point deadline) {
    auto request = std::make_shared<ReloadRequest>();
    request->config = std::move(config);
    {
        std::lock_guard lock(reload_mutex_);
        if (reload_request_) {
            error = "hooks: another reload is waiting for the hook thread";
            return false;
        }
        reload_request_ = request;
    }
    if (!control_gate_.enter()) {
        std::lock_guard lock(reload_mutex_);
        if (reload_request_ == request) reload_request_.reset();
        error = "hooks: the hook thread has stopped";
        return false;
    }
    uv_async_send(&control_);
    control_gate_.leave();
    std::unique_lock lock(reload_mutex_);
    if (!reload_changed_.wait_until(lock, deadline, [&] { return request->done; })) {
        if (!request->taken) {
            if (reload_request_ == request) reload_request_.reset();
            error = "hooks: the hook thread did not take the reload in time";
            return false;
        }
        // Opening sinks is quick and bounded: wait for the result rather
        // than leave a generation half-known to the caller.
        reload_changed_.wait(lock, [&] { return request->done; });
    }
    error = request->error;
    return request->ok;
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
    SubmittedRecord shared = std::make_shared<Record>(std::move(record));
    return submit(&shared, 1) == 1;
}

// One pass through the gate, one claim on the queue and one wake-up check
// for the whole batch: the per-record cost for a worker is the move alone.
size_t HookLoop::submit(SubmittedRecord* records, size_t count) {
    if (count == 0) return 0;
    size_t queued = 0;
    if (submit_gate_.enter()) {
        queued = queue_.try_push_batch(records, count);
        if (queued > 0) {
            // Pairs with the fence in pace_wakeups(): either this thread sees
            // the hook thread asleep, or the hook thread sees these records.
            std::atomic_thread_fence(std::memory_order_seq_cst);
            if (!awake_.load(std::memory_order_relaxed) && !awake_.exchange(true)) uv_async_send(&wake_);
        }
        submit_gate_.leave();
    }
    // Not shared with the hook thread: the caller's thread may still write them.
    for (size_t i = queued; i < count; ++i) {
        if (records[i]) records[i]->config.reset();
        records[i].reset();
    }
    submitted_.fetch_add(count, std::memory_order_relaxed);
    if (queued < count) dropped_.fetch_add(count - queued, std::memory_order_relaxed);
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
    {
        std::lock_guard lock(stats_mutex_);
        for (const auto& [name, stats] : stats_) deepest_sink = std::max(deepest_sink, stats->queue_depth.load());
    }
    return queue_.size_approx() + deepest_sink;
}

std::vector<HookCounters> HookLoop::counters() const {
    std::lock_guard lock(stats_mutex_);
    std::vector<HookCounters> result;
    result.reserve(listed_.size());
    for (const HookStats* stats : listed_) result.push_back(stats->snapshot());
    return result;
}

void HookLoop::visit_histograms(
    const std::function<void(const std::string&, const proxy::Histogram&)>& visit) const {
    std::lock_guard lock(stats_mutex_);
    for (const HookStats* stats : listed_) visit(stats->hook, stats->delivery_duration);
}

void HookLoop::on_wake_async(uv_async_t* async) { static_cast<HookLoop*>(async->data)->on_wake(); }

void HookLoop::on_control_async(uv_async_t* async) { static_cast<HookLoop*>(async->data)->on_control(); }

void HookLoop::on_retire_timer_tick(uv_timer_t* timer) { static_cast<HookLoop*>(timer->data)->retire_finished(); }

void HookLoop::on_poll_timer_tick(uv_timer_t* timer) { static_cast<HookLoop*>(timer->data)->on_wake(); }

// The handles are members of the loop object, which outlives the loop run:
// nothing to free here.
void HookLoop::on_handle_closed(uv_handle_t*) {}

// Dispatches one batch; the next one follows on the next loop iteration, so
// that write completions and timers run in between. While draining, a
// backlogged sink pauses the dispatch until its writes progress, and the
// drain ends here once everything is delivered.
void HookLoop::on_wake() {
    // Before open_sinks() there is nowhere to deliver to: records wait.
    if (!current_ || finished_) return;
    const size_t dispatched = dispatch_queued(dispatch_batch);
    if (dispatched == dispatch_batch) uv_async_send(&wake_);  // more may be queued
    retire_finished();
    if (!draining_) {
        pace_wakeups(dispatched > 0);
        return;
    }
    // No record arrives any more (the submit gate is closed): the drain goes
    // on through wake-ups from the sinks' progress.
    uv_timer_stop(&poll_timer_);
    each_dispatcher([](HookDispatcher& dispatcher) { dispatcher.flush(); });  // a drain does not wait for flush timers
    maybe_finish_drain();
}

// After a dispatch that found records, the thread stays awake: the poll
// timer brings it back in poll_interval_ms and submit() sends no wake-up.
// After one that found none, it goes to sleep: awake_ turns false, and the
// queue is looked at once more after a fence, since a record pushed by a
// submit() that still saw awake_ true would otherwise wait for the next one.
// Whichever side turns awake_ back to true owns the next look at the queue.
void HookLoop::pace_wakeups(bool busy) {
    auto keep_polling = [this] {
        if (uv_is_active(reinterpret_cast<uv_handle_t*>(&poll_timer_)) == 0) {
            uv_timer_start(&poll_timer_, on_poll_timer_tick, poll_interval_ms, poll_interval_ms);
        }
    };
    if (busy) {
        keep_polling();
        return;
    }
    uv_timer_stop(&poll_timer_);
    awake_.store(false, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (queue_.size_approx() > 0 && !awake_.exchange(true)) keep_polling();
}

void HookLoop::on_control() {
    if (finished_) return;
    if (reopen_requested_.exchange(false)) each_dispatcher([](HookDispatcher& dispatcher) { dispatcher.reopen(); });
    take_reload_request();
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
    if (queue_.size_approx() > 0 && any_backlogged()) return;  // the next progress notice resumes
    uv_async_send(&wake_);
}

// Takes the waiting reload() request, if any, applies it and hands the
// result back to the waiting caller.
void HookLoop::take_reload_request() {
    std::shared_ptr<ReloadRequest> request;
    {
        std::lock_guard lock(reload_mutex_);
        request = std::move(reload_request_);
        reload_request_.reset();
        if (!request) return;
        request->taken = true;
    }
    std::string error;
    const bool ok = apply_reload(request->config, error);
    {
        std::lock_guard lock(reload_mutex_);
        request->done = true;
        request->ok = ok;
        request->error = std::move(error);
    }
    reload_changed_.notify_all();
}

bool HookLoop::apply_reload(const std::shared_ptr<const config::Config>& config, std::string& error) {
    if (draining_ || stop_requested_.load() || abandon_requested_.load()) {
        error = "hooks: the hook thread is stopping";
        return false;
    }
    if (!current_) {
        error = "hooks: the sinks are not open yet";
        return false;
    }
    if (config.get() == current_->config.get()) return true;  // already current
    std::unique_ptr<Generation> next;
    try {
        next = open_generation(config);
    } catch (const std::exception& e) {
        error = e.what();
        return false;
    }
    retiring_.push_back(std::move(current_));
    current_ = std::move(next);
    list_stats(*current_->config);
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(&retire_timer_)) == 0) {
        uv_timer_start(&retire_timer_, on_retire_timer_tick, retire_check_ms, retire_check_ms);
    }
    return true;
}

void HookLoop::fail_pending_reload(const std::string& why) {
    {
        std::lock_guard lock(reload_mutex_);
        if (!reload_request_) return;
        reload_request_->taken = true;
        reload_request_->done = true;
        reload_request_->error = why;
        reload_request_.reset();
    }
    reload_changed_.notify_all();
}

// Opens a dispatcher for `config`'s hooks, counting into the HookStats of
// each hook's name (made for names never seen before). On failure the new
// names' counters are kept unlisted, since a sink opened and closed on the
// way may still count into them; the exception goes to the caller.
std::unique_ptr<HookLoop::Generation> HookLoop::open_generation(const std::shared_ptr<const config::Config>& config) {
    std::vector<std::unique_ptr<HookStats>> staged;
    std::vector<HookStats*> stats;
    for (const auto& hook : config->hooks) {
        HookStats* found = nullptr;
        if (const auto it = stats_.find(hook.name); it != stats_.end()) found = it->second.get();
        for (const auto& made : staged) {
            if (made->hook == hook.name) found = made.get();
        }
        if (!found) {
            staged.push_back(std::make_unique<HookStats>(hook.name));
            found = staged.back().get();
        }
        stats.push_back(found);
    }
    auto generation = std::make_unique<Generation>();
    generation->config = config;
    try {
        generation->dispatcher.emplace(&loop_, config->hooks, stats, trigger_stats_, [this] { on_sink_progress(); });
    } catch (...) {
        for (auto& made : staged) unlisted_stats_.push_back(std::move(made));
        throw;
    }
    std::lock_guard lock(stats_mutex_);
    for (auto& made : staged) {
        const std::string name = made->hook;
        stats_.emplace(name, std::move(made));
    }
    return generation;
}

// The listing of counters(): `current`'s hooks in config order, then every
// other name in the order it was listed before (removed hooks stay).
void HookLoop::list_stats(const config::Config& current) {
    std::lock_guard lock(stats_mutex_);
    std::vector<HookStats*> listed;
    auto add = [&](HookStats* stats) {
        if (std::find(listed.begin(), listed.end(), stats) == listed.end()) listed.push_back(stats);
    };
    for (const auto& hook : current.hooks) {
        if (const auto it = stats_.find(hook.name); it != stats_.end()) add(it->second.get());
    }
    for (HookStats* stats : listed_) add(stats);
    for (const auto& [name, stats] : stats_) add(stats.get());
    listed_ = std::move(listed);
}

// A record goes to the generation it started under; one without a config,
// or with a config no generation runs any more, to the current one.
HookDispatcher& HookLoop::dispatcher_for(const config::Config* config) {
    if (config && config != current_->config.get()) {
        for (const auto& generation : retiring_) {
            if (generation->config.get() == config) return *generation->dispatcher;
        }
    }
    return *current_->dispatcher;
}

// Closes each retiring generation that nothing refers to any more: only the
// generation itself holds its config (no record queued, no exchange in
// flight on a worker) and its sinks are idle (no record waiting in one). Once a config's
// count has dropped to one it cannot rise again: nobody else has a copy.
void HookLoop::retire_finished() {
    for (auto it = retiring_.begin(); it != retiring_.end();) {
        Generation& generation = **it;
        if (generation.config.use_count() == 1 && generation.dispatcher->idle()) {
            generation.dispatcher->close();
            it = retiring_.erase(it);
        } else {
            ++it;
        }
    }
    if (retiring_.empty()) uv_timer_stop(&retire_timer_);
}

template <typename Action>
void HookLoop::each_dispatcher(Action action) {
    if (current_) action(*current_->dispatcher);
    for (const auto& generation : retiring_) action(*generation->dispatcher);
}

bool HookLoop::all_idle() {
    bool idle = true;
    each_dispatcher([&](HookDispatcher& dispatcher) { idle = idle && dispatcher.idle(); });
    return idle;
}

bool HookLoop::any_backlogged() {
    bool backlogged = false;
    each_dispatcher([&](HookDispatcher& dispatcher) { backlogged = backlogged || dispatcher.backlogged(); });
    return backlogged;
}

// The record's config is taken out of it and released right after its
// dispatch: a record kept by a sink, or waiting in a worker's outbox to be
// used again, does not hold its generation open.
size_t HookLoop::dispatch_queued(size_t limit) {
    size_t dispatched = 0;
    while (dispatched < limit && !(draining_ && any_backlogged()) && queue_.try_pop(scratch_)) {
        const std::shared_ptr<const config::Config> config = std::move(scratch_->config);
        dispatcher_for(config.get()).dispatch(std::move(scratch_));  // leaves scratch_ empty
        ++dispatched;
    }
    return dispatched;
}

uint64_t HookLoop::discard_queued() {
    uint64_t discarded = 0;
    while (queue_.try_pop(scratch_)) ++discarded;
    scratch_.reset();
    return discarded;
}

// Stop: refuse new records, then deliver everything queued, batch by batch
// (on_wake), and close once the queue is empty and every sink is idle.
void HookLoop::begin_drain() {
    if (!current_) {
        abandon();  // never opened: there is nowhere to deliver to
        return;
    }
    draining_ = true;
    submit_gate_.close();  // from here on the queue only shrinks
    on_wake();
}

void HookLoop::maybe_finish_drain() {
    if (draining_ && !finished_ && queue_.size_approx() == 0 && all_idle()) finish(0);
}

void HookLoop::abandon() {
    submit_gate_.close();
    const uint64_t never_dispatched = discard_queued();
    count_dropped_everywhere(never_dispatched);
    // Generations deliver different records: their unconfirmed counts add up.
    uint64_t unconfirmed = 0;
    each_dispatcher([&](HookDispatcher& dispatcher) { unconfirmed += dispatcher.abandon(); });
    finish(never_dispatched + unconfirmed);
}

// Closes every handle; uv_run() returns once the close callbacks (and the
// sinks' last file requests) have run.
void HookLoop::finish(uint64_t undelivered) {
    finished_ = true;
    undelivered_.store(undelivered);
    settled_.store(true);
    control_gate_.close();
    fail_pending_reload("hooks: the hook thread has stopped");
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_), on_handle_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&control_), on_handle_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&retire_timer_), on_handle_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_timer_), on_handle_closed);
    each_dispatcher([](HookDispatcher& dispatcher) { dispatcher.close(); });
}

// Records never dispatched count as dropped for every hook of the current
// config (the one they would most likely have reached).
void HookLoop::count_dropped_everywhere(uint64_t records) {
    const config::Config* config = current_ ? current_->config.get() : unopened_.get();
    if (!config) return;
    std::lock_guard lock(stats_mutex_);
    for (const auto& hook : config->hooks) {
        if (const auto it = stats_.find(hook.name); it != stats_.end()) it->second->add_dropped(records);
    }
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
