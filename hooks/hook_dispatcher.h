// HookDispatcher: fans each record out to the hooks it concerns. Lives on the
// hook thread. For every record it reads the app's trigger (Record::trigger,
// the upstream response header: a client can never set it), evaluates each
// hook's filter, and hands the record to the sinks of the hooks that fire,
// all of them sharing one immutable copy.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "config/config.h"
#include "hooks/filter.h"
#include "hooks/hook_stats.h"
#include "hooks/record.h"
#include "hooks/report_throttle.h"
#include "hooks/sink.h"
#include "hooks/trigger.h"

namespace afterhook::hooks {

class HookDispatcher {
public:
    // Opens one sink per hook on `loop`; `stats[i]` counts for `hooks[i]` and
    // must outlive the sinks (several dispatchers may share one, by hook name), `trigger_stats` counts unknown and malformed
    // trigger calls. `on_sink_progress` runs whenever a sink has finished a
    // delivery in flight (see Sink::set_progress_callback).
    // Start-up and reload only: throws std::runtime_error naming the hook whose sink
    // cannot be opened, after closing the sinks opened before it.
    HookDispatcher(uv_loop_t* loop, const std::vector<config::Hook>& hooks,
                   const std::vector<HookStats*>& stats, TriggerStats& trigger_stats,
                   const std::function<void()>& on_sink_progress);

    // Hands `record` to every hook that fires for it:
    // - a hook without `trigger: header` fires when its filter matches, with
    //   no trigger params;
    // - a `trigger: header` hook fires once per trigger call that names it
    //   (twice if named twice), with that call's params, and only when its
    //   filter matches too.
    // A call naming no `trigger: header` hook is counted as unknown (and
    // reported, at most once per interval); a malformed one is counted too.
    void dispatch(RecordPtr record);

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
    struct Route {
        std::string name;
        Filter filter;
        bool trigger_only = false;
        SinkPtr sink;
    };

    void count_trigger_problems(const ParsedTrigger& trigger);

    uv_loop_t* loop_;
    SinkShared shared_;  // released by close(): the sinks hold what they still use
    std::vector<Route> routes_;
    std::unordered_set<std::string> trigger_names_;  // of the `trigger: header` hooks
    TriggerStats& trigger_stats_;
    ReportThrottle unknown_reports_;
};

}  // namespace afterhook::hooks
