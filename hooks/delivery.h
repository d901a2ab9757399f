// Deliveries of one event to one queued hook (webhook, exec), and the Action
// interface through which a sink kind runs one attempt. The DeliveryQueue
// (hooks/delivery_queue.h) owns queueing, concurrency, deadlines and retries;
// an Action only knows how to make one attempt.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hooks/record.h"

namespace afterhook::hooks {

using TriggerParams = std::vector<std::pair<std::string, std::string>>;

struct Delivery {
    RecordPtr record;
    TriggerParams trigger;  // params of the app trigger that named this hook (empty otherwise)
    std::string id;         // stable across retries (webhook-id): "<request id>-<hook name>"
    unsigned attempt = 0;   // 1 for the first attempt
    // The backoff drawn after the previous attempt failed (0 before the
    // first): how long the queue meant this attempt to wait.
    std::chrono::milliseconds backoff{0};
};

struct AttemptResult {
    enum class Status { delivered, retry, failed };
    Status status = Status::failed;
    std::string reason;  // for diagnostics when not delivered ("HTTP 503", "exit 2", "timeout")
    std::optional<std::chrono::milliseconds> retry_after;  // from a Retry-After header
};

class Action {
public:
    using Done = std::function<void(AttemptResult)>;
    virtual ~Action() = default;
    // Starts one attempt; `done` runs exactly once on the hook thread, never
    // inside start() itself. The attempt must end (with a failure) by
    // `timeout`: the action enforces its own deadline.
    virtual void start(const Delivery& delivery, std::chrono::milliseconds timeout, Done done) = 0;
    // Number of attempts started and not yet done.
    virtual size_t in_flight() const = 0;
    // Closes the action's handles; attempts in flight end with `failed`
    // ("shutdown") before `closed` runs. The caller then deletes the action.
    virtual void close(std::function<void()> closed) = 0;
};

}  // namespace afterhook::hooks
