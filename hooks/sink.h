// Sink: the kind of action a hook runs (log, webhook, exec ...). Every sink
// lives on the hook thread's loop and is driven only from that thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "config/config.h"
#include "hooks/delivery.h"
#include "hooks/hook_stats.h"
#include "hooks/record.h"

namespace afterhook::hooks {

class Sink {
public:
    Sink() = default;
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;

    // Takes one event for delivery: `record` (shared by every hook the record
    // reaches) with the params of the app trigger that named this hook (empty
    // when no trigger did). Never blocks and never throws: an event the sink
    // cannot take (its bound is reached) is counted as dropped.
    virtual void deliver(const RecordPtr& record, const TriggerParams& trigger) = 0;

    // Starts handing over everything buffered now instead of on the sink's
    // own schedule (used while draining).
    virtual void flush() = 0;

    // True when nothing is buffered and nothing is in flight.
    virtual bool idle() const = 0;

    // True when the sink holds so much that a drain should wait for it to
    // write before handing it more. Outside a drain records are handed over
    // regardless and the sink's own bound decides (each hook is paced by its
    // own buffer, never by another hook's).
    virtual bool backlogged() const = 0;

    // Gives up on every delivery not yet handed to the operating system or
    // the network: those are counted as dropped and nothing new starts.
    // Returns the deliveries left unconfirmed: the ones dropped now plus the
    // ones still in flight (which are counted when they finish).
    virtual uint64_t abandon() = 0;

    // Reopens whatever the sink writes to (log rotation); a no-op for sinks
    // without files.
    virtual void reopen() = 0;

    // Closes the sink's handles. Whatever is still buffered is dropped and
    // counted. The sink frees itself once its handles are closed and its
    // requests in flight have finished, so the caller must not touch it
    // again. Use SinkPtr rather than calling this directly.
    virtual void close() = 0;

    // `callback` runs on the hook thread each time a delivery in flight
    // finishes (a write completed), so that a drain can go on or end without
    // polling. It runs last in the sink's own callback.
    void set_progress_callback(std::function<void()> callback) { progress_callback_ = std::move(callback); }

protected:
    // Only the sink itself deletes itself, from a close callback.
    virtual ~Sink() = default;
    void notify_progress() const {
        if (progress_callback_) progress_callback_();
    }

private:
    std::function<void()> progress_callback_;
};

struct SinkCloser {
    void operator()(Sink* sink) const { sink->close(); }
};

// Owning pointer to a sink: releasing it closes the sink, which frees itself
// once its handles are closed.
using SinkPtr = std::unique_ptr<Sink, SinkCloser>;

class CurlMulti;

// What the sinks of one hook loop share, made by make_sink on first use: the
// one CurlMulti of every webhook hook. Each webhook sink holds a reference
// until its action is gone; when the last reference goes, the multi is closed
// and frees itself once its handles are closed, so it outlives every transfer.
struct SinkShared {
    std::shared_ptr<CurlMulti> curl;
};

// Opens the sink that `hook` configures on `loop`, counting into `stats`:
// a LogSink, or a DeliveryQueue around the webhook or exec action.
// Start-up only: throws std::runtime_error naming the hook when the sink
// cannot be opened (a log file that cannot be created, an invalid signing
// secret, ...).
SinkPtr make_sink(uv_loop_t* loop, const config::Hook& hook, HookStats& stats, SinkShared& shared);

}  // namespace afterhook::hooks
