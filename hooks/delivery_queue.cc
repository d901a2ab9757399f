#include "hooks/delivery_queue.h"

#include <algorithm>
#include <random>

#include "hooks/record_json.h"
#include "proxy/log.h"

namespace afterhook::hooks {

namespace {

uint64_t seed_or_random(uint64_t seed) {
    if (seed != 0) return seed;
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
}

std::string quoted(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

}  // namespace

namespace {
// Webhook and exec sinks share their queueing settings by name.
template <typename QueuedSink>
DeliveryQueueOptions options_of(const QueuedSink& sink) {
    DeliveryQueueOptions options;
    options.concurrency = sink.concurrency;
    options.queue = sink.queue;
    options.retry = sink.retry;
    options.timeout = sink.timeout;
    return options;
}
}  // namespace

DeliveryQueueOptions DeliveryQueueOptions::from(const config::WebhookSink& sink) { return options_of(sink); }
DeliveryQueueOptions DeliveryQueueOptions::from(const config::ExecSink& sink) { return options_of(sink); }

DeliveryQueue::DeliveryQueue(uv_loop_t* loop, HookStats& stats, std::unique_ptr<Action> action, Options options,
                             std::shared_ptr<void> keeps)
    : loop_(loop),
      stats_(stats),
      keeps_(std::move(keeps)),
      action_(std::move(action)),
      options_(std::move(options)),
      backoff_(options_.retry, seed_or_random(options_.seed)),
      failures_(options_.report_interval_ms),
      drops_(options_.report_interval_ms) {
    uv_timer_init(loop_, &retry_timer_);
    retry_timer_.data = this;
}

void DeliveryQueue::deliver(const RecordPtr& record, const TriggerParams& trigger) {
    if (abandoned_ || closing_) {
        count_dropped(1);
        return;
    }
    Entry entry{Delivery{record, trigger, delivery_id(record), 0}, next_seq_++, 0, {}};
    if (waiting_.empty() && slot_free()) {
        start(std::move(entry));
        publish_depth();
        return;
    }
    if (held() >= options_.queue.size) {
        if (options_.queue.when_full == config::Queue::WhenFull::drop_newest || held() == 0) {
            count_dropped(1);
            return;
        }
        drop_oldest_held();
    }
    waiting_.emplace(entry.seq, std::move(entry));
    publish_depth();
}

bool DeliveryQueue::idle() const { return waiting_.empty() && retrying_.empty() && in_flight_.empty(); }

uint64_t DeliveryQueue::abandon() {
    if (abandoned_) return in_flight_.size();
    abandoned_ = true;
    uv_timer_stop(&retry_timer_);
    const uint64_t dropped = held();
    waiting_.clear();
    retrying_.clear();
    retry_due_.clear();
    count_dropped(dropped);
    publish_depth();
    return dropped + in_flight_.size();
}

void DeliveryQueue::close() {
    if (closing_) return;
    abandon();
    closing_ = true;
    action_->close([this] { on_action_closed(); });
}

void DeliveryQueue::on_retry_timer(uv_timer_t* timer) { static_cast<DeliveryQueue*>(timer->data)->on_retry_due(); }

// The last callback of the queue: the action has closed (and ended its
// attempts), so both can go.
void DeliveryQueue::on_timer_closed(uv_handle_t* handle) {
    auto* queue = static_cast<DeliveryQueue*>(handle->data);
    delete queue;  // the action first, then what it needed
}

// Retries whose backoff is over join the waiting events; being older than
// any event that arrived since, they start first.
void DeliveryQueue::on_retry_due() {
    const uint64_t now = uv_now(loop_);
    while (!retry_due_.empty() && retry_due_.begin()->first <= now) {
        const uint64_t seq = retry_due_.begin()->second;
        retry_due_.erase(retry_due_.begin());
        auto node = retrying_.extract(seq);
        waiting_.insert(std::move(node));
    }
    start_ready();
    arm_retry_timer();
    publish_depth();
}

// Runs from inside the action's own callback. Starting the next waiting
// events here is allowed (done never runs inside start()); anything that
// could close this sink is not, which is why the hook loop reacts to the
// progress notice only on its next iteration.
void DeliveryQueue::on_attempt_done(uint64_t seq, AttemptResult result) {
    auto node = in_flight_.extract(seq);
    if (node.empty()) return;  // an action calling done twice: the first call counted
    Entry entry = std::move(node.mapped());
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - entry.attempt_started;
    stats_.observe_delivery(took.count());
    switch (result.status) {
    case AttemptResult::Status::delivered:
        stats_.add_delivered(1);
        break;
    case AttemptResult::Status::retry:
        if (!abandoned_ && entry.delivery.attempt < options_.retry.attempts) {
            schedule_retry(std::move(entry), result);
        } else {
            count_failed(entry, result);
        }
        break;
    case AttemptResult::Status::failed:
        count_failed(entry, result);
        break;
    }
    start_ready();
    publish_depth();
    if (!closing_) notify_progress();
}

void DeliveryQueue::on_action_closed() {
    uv_close(reinterpret_cast<uv_handle_t*>(&retry_timer_), on_timer_closed);
}

bool DeliveryQueue::slot_free() const { return in_flight_.size() < std::max(options_.concurrency, 1u); }

std::string DeliveryQueue::delivery_id(const RecordPtr& record) {
    if (record == last_record_) {
        ++last_record_count_;
    } else {
        last_record_ = record;
        last_record_count_ = 1;
    }
    std::string id = record->id + "-" + stats_.hook;
    if (last_record_count_ > 1) id += "-" + std::to_string(last_record_count_);
    return id;
}

void DeliveryQueue::start(Entry entry) {
    ++entry.delivery.attempt;
    if (entry.delivery.attempt > 1) stats_.add_retried(1);
    entry.attempt_started = std::chrono::steady_clock::now();
    const uint64_t seq = entry.seq;
    const Delivery& delivery = in_flight_.emplace(seq, std::move(entry)).first->second.delivery;
    action_->start(delivery, options_.timeout, [this, seq](AttemptResult result) {
        on_attempt_done(seq, std::move(result));
    });
}

void DeliveryQueue::start_ready() {
    while (!abandoned_ && !waiting_.empty() && slot_free()) {
        auto node = waiting_.extract(waiting_.begin());
        start(std::move(node.mapped()));
    }
}

void DeliveryQueue::schedule_retry(Entry entry, const AttemptResult& result) {
    // An event waiting for its retry holds a place in the queue like one
    // waiting for its first attempt, so the queue's bound covers both: memory
    // stays within queue.size + concurrency whatever the arrival rate.
    if (held() >= options_.queue.size) {
        if (options_.queue.when_full == config::Queue::WhenFull::drop_newest || held() == 0) {
            count_dropped(1);
            return;
        }
        drop_oldest_held();
    }
    const auto delay = backoff_.delay(entry.delivery.attempt, result.retry_after);
    entry.delivery.backoff = delay;
    entry.retry_due = uv_now(loop_) + static_cast<uint64_t>(delay.count());
    retry_due_.emplace(entry.retry_due, entry.seq);
    retrying_.emplace(entry.seq, std::move(entry));
    arm_retry_timer();
}

void DeliveryQueue::arm_retry_timer() {
    if (retry_due_.empty()) {
        uv_timer_stop(&retry_timer_);
        return;
    }
    const uint64_t due = retry_due_.begin()->first;
    const uint64_t now = uv_now(loop_);
    uv_timer_start(&retry_timer_, on_retry_timer, due > now ? due - now : 0, 0);
}

// drop_oldest: the event that arrived first among those not in flight,
// whether it waits for its first attempt or for a retry.
void DeliveryQueue::drop_oldest_held() {
    const bool from_waiting =
        !waiting_.empty() && (retrying_.empty() || waiting_.begin()->first < retrying_.begin()->first);
    if (from_waiting) {
        waiting_.erase(waiting_.begin());
    } else {
        const auto oldest = retrying_.begin();
        retry_due_.erase({oldest->second.retry_due, oldest->first});
        retrying_.erase(oldest);
        arm_retry_timer();
    }
    count_dropped(1);
}

void DeliveryQueue::count_dropped(uint64_t count) {
    if (count == 0) return;
    stats_.add_dropped(count);
    if (closing_ || !drops_.note(uv_now(loop_), count)) return;
    log::warn("hook events dropped hook=" + stats_.hook + " dropped=" + std::to_string(drops_.take()) +
              " reason=" + (abandoned_ ? "shutdown" : "queue_full") +
              " queue_size=" + std::to_string(options_.queue.size));
}

void DeliveryQueue::count_failed(const Entry& entry, const AttemptResult& result) {
    stats_.add_failed(1);
    if (!failures_.note(uv_now(loop_))) return;
    log::warn("hook delivery failed hook=" + stats_.hook + " id=" + quoted(entry.delivery.id) +
              " attempts=" + std::to_string(entry.delivery.attempt) + " reason=" + quoted(result.reason) +
              " failed=" + std::to_string(failures_.take()));
}

void DeliveryQueue::publish_depth() { depth_.publish(held() + in_flight_.size()); }

}  // namespace afterhook::hooks
