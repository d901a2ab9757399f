// HookDispatcher: fans each record out to the sink of every configured hook.
// Lives on the hook thread; the place where per-hook filters and per-hook
// queues belong.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "config/config.h"
#include "hooks/hook_stats.h"
#include "hooks/record.h"
#include "hooks/sink.h"

namespace afterhook::hooks {

class HookDispatcher {
public:
    // Opens one sink per hook on `loop`; `stats[i]` counts for `hooks[i]` and
    // must outlive the sinks. `on_sink_progress` runs whenever a sink has
    // finished a delivery in flight (see Sink::set_progress_callback).
    // Start-up only: throws std::runtime_error naming the hook whose sink
    // cannot be opened, after closing the sinks opened before it.
    HookDispatcher(uv_loop_t* loop, const std::vector<config::Hook>& hooks,
                   const std::vector<std::unique_ptr<HookStats>>& stats, const std::function<void()>& on_sink_progress);

    // Hands `record` to every hook's sink.
    void dispatch(const Record& record);

    void flush();
    bool idle() const;        // every sink is idle
    bool backlogged() const;  // some sink is backlogged
    // Gives up on everything buffered; returns the largest number of
    // deliveries any one hook left unconfirmed (see Sink::abandon).
    uint64_t abandon();
    void reopen();
    // Closes every sink; dispatch() does nothing afterwards.
    void close();

private:
    std::vector<SinkPtr> sinks_;
};

}  // namespace afterhook::hooks
