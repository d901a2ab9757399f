#include "hooks/hook_dispatcher.h"

#include <algorithm>

#include "proxy/log.h"

namespace afterhook::hooks {

namespace {

constexpr uint64_t report_interval_ms = 10000;

const TriggerParams no_params;

}  // namespace

HookDispatcher::HookDispatcher(uv_loop_t* loop, const std::vector<config::Hook>& hooks,
                               const std::vector<HookStats*>& stats, TriggerStats& trigger_stats,
                               const std::function<void()>& on_sink_progress)
    : loop_(loop), trigger_stats_(trigger_stats), unknown_reports_(report_interval_ms) {
    routes_.reserve(hooks.size());
    for (size_t i = 0; i < hooks.size(); ++i) {
        const config::Hook& hook = hooks[i];
        SinkPtr sink = make_sink(loop, hook, *stats.at(i), shared_);
        routes_.push_back(Route{hook.name, Filter(hook.when), hook.trigger_only, std::move(sink)});
        routes_.back().sink->set_progress_callback(on_sink_progress);
        if (hook.trigger_only) trigger_names_.insert(hook.name);
    }
}

// Every hook that fires shares the one record; its worker takes it back for
// reuse once the last of them is done with it (at once when none fires).
void HookDispatcher::dispatch(RecordPtr record) {
    ParsedTrigger trigger;
    if (!record->trigger.empty()) {
        trigger = parse_trigger(record->trigger);
        count_trigger_problems(trigger);
    }
    for (Route& route : routes_) {
        if (!route.trigger_only) {
            if (route.filter.matches(*record)) route.sink->deliver(record, no_params);
            continue;
        }
        bool filtered = false;
        bool matches = false;
        for (const TriggerCall& call : trigger.calls) {
            if (call.name != route.name) continue;
            if (!filtered) {
                matches = route.filter.matches(*record);
                filtered = true;
            }
            if (matches) route.sink->deliver(record, call.params);
        }
    }
}

void HookDispatcher::flush() {
    for (auto& route : routes_) route.sink->flush();
}

bool HookDispatcher::idle() const {
    return std::all_of(routes_.begin(), routes_.end(), [](const Route& route) { return route.sink->idle(); });
}

bool HookDispatcher::backlogged() const {
    return std::any_of(routes_.begin(), routes_.end(), [](const Route& route) { return route.sink->backlogged(); });
}

uint64_t HookDispatcher::abandon() {
    uint64_t unconfirmed = 0;
    for (auto& route : routes_) unconfirmed = std::max(unconfirmed, route.sink->abandon());
    return unconfirmed;
}

void HookDispatcher::reopen() {
    for (auto& route : routes_) route.sink->reopen();
}

void HookDispatcher::close() {
    // Moved out first, so that the dispatcher holds no sink that is already
    // closing while the others close.
    std::vector<Route> closing = std::move(routes_);
    routes_.clear();
    trigger_names_.clear();
    closing.clear();
    shared_ = SinkShared{};
}

void HookDispatcher::count_trigger_problems(const ParsedTrigger& trigger) {
    const std::string* unknown_name = nullptr;
    uint64_t unknown = 0;
    for (const TriggerCall& call : trigger.calls) {
        if (trigger_names_.count(call.name) != 0) continue;
        ++unknown;
        unknown_name = &call.name;
    }
    if (trigger.malformed > 0) trigger_stats_.malformed.fetch_add(trigger.malformed, std::memory_order_relaxed);
    if (unknown == 0 && trigger.malformed == 0) return;
    trigger_stats_.unknown.fetch_add(unknown, std::memory_order_relaxed);
    if (!unknown_reports_.note(uv_now(loop_), unknown + trigger.malformed)) return;
    std::string line = "app trigger calls ignored";
    if (unknown_name) line += " unknown_name=" + *unknown_name;  // a token: nothing to quote
    line += " calls=" + std::to_string(unknown_reports_.take()) +
            " unknown_total=" + std::to_string(trigger_stats_.unknown.load(std::memory_order_relaxed)) +
            " malformed_total=" + std::to_string(trigger_stats_.malformed.load(std::memory_order_relaxed));
    log::warn(line);
}

}  // namespace afterhook::hooks
