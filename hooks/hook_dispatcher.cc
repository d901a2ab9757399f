#include "hooks/hook_dispatcher.h"

#include <algorithm>

namespace afterhook::hooks {

HookDispatcher::HookDispatcher(uv_loop_t* loop, const std::vector<config::Hook>& hooks,
                               const std::vector<std::unique_ptr<HookStats>>& stats,
                               const std::function<void()>& on_sink_progress) {
    sinks_.reserve(hooks.size());
    for (size_t i = 0; i < hooks.size(); ++i) {
        sinks_.push_back(make_sink(loop, hooks[i], *stats.at(i)));
        sinks_.back()->set_progress_callback(on_sink_progress);
    }
}

void HookDispatcher::dispatch(const Record& record) {
    for (auto& sink : sinks_) sink->deliver(record);
}

void HookDispatcher::flush() {
    for (auto& sink : sinks_) sink->flush();
}

bool HookDispatcher::idle() const {
    return std::all_of(sinks_.begin(), sinks_.end(), [](const SinkPtr& sink) { return sink->idle(); });
}

bool HookDispatcher::backlogged() const {
    return std::any_of(sinks_.begin(), sinks_.end(), [](const SinkPtr& sink) { return sink->backlogged(); });
}

uint64_t HookDispatcher::abandon() {
    uint64_t unconfirmed = 0;
    for (auto& sink : sinks_) unconfirmed = std::max(unconfirmed, sink->abandon());
    return unconfirmed;
}

void HookDispatcher::reopen() {
    for (auto& sink : sinks_) sink->reopen();
}

void HookDispatcher::close() {
    // Moved out first, so that the dispatcher holds no sink that is already
    // closing while the others close.
    std::vector<SinkPtr> closing = std::move(sinks_);
    sinks_.clear();
    closing.clear();
}

}  // namespace afterhook::hooks
