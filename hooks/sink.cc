#include "hooks/sink.h"

#include <stdexcept>
#include <type_traits>
#include <variant>

#include "hooks/log_sink.h"

namespace afterhook::hooks {

namespace {
// Makes a sink kind added to config::Sink without a case here a compile error.
template <typename>
constexpr bool unhandled_sink_kind = false;
}  // namespace

SinkPtr make_sink(uv_loop_t* loop, const config::Hook& hook, HookStats& stats) {
    return std::visit(
        [&](const auto& settings) -> SinkPtr {
            using Settings = std::decay_t<decltype(settings)>;
            if constexpr (std::is_same_v<Settings, config::LogSink>) {
                return SinkPtr(new LogSink(loop, stats, settings.path));
            } else if constexpr (std::is_same_v<Settings, config::WebhookSink> ||
                                 std::is_same_v<Settings, config::ExecSink>) {
                // Transitional while the delivery engine lands: the loader
                // does not accept these sinks yet, so this is unreachable.
                throw std::runtime_error("hook '" + hook.name + "': this sink kind is not available in this build");
            } else {
                static_assert(unhandled_sink_kind<Settings>, "make_sink has no case for this sink kind");
            }
        },
        hook.sink);
}

}  // namespace afterhook::hooks
