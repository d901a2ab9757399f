#include "hooks/sink.h"

#include <type_traits>
#include <variant>

#include "hooks/curl_multi.h"
#include "hooks/delivery_queue.h"
#include "hooks/exec_action.h"
#include "hooks/log_sink.h"
#include "hooks/webhook_action.h"

namespace afterhook::hooks {

namespace {

// Makes a sink kind added to config::Sink without a case here a compile error.
template <typename>
constexpr bool unhandled_sink_kind = false;

// A CurlMulti owned by the webhook sinks that use it: the last one to let go
// closes it, and its close callback frees it.
std::shared_ptr<CurlMulti> make_shared_curl(uv_loop_t* loop) {
    return std::shared_ptr<CurlMulti>(new CurlMulti(loop), [](CurlMulti* multi) {
        multi->close([multi] { delete multi; });
    });
}

}  // namespace

SinkPtr make_sink(uv_loop_t* loop, const config::Hook& hook, HookStats& stats, SinkShared& shared) {
    return std::visit(
        [&](const auto& settings) -> SinkPtr {
            using Settings = std::decay_t<decltype(settings)>;
            if constexpr (std::is_same_v<Settings, config::LogSink>) {
                return SinkPtr(new LogSink(loop, stats, settings.path, settings.format));
            } else if constexpr (std::is_same_v<Settings, config::WebhookSink>) {
                if (!shared.curl) shared.curl = make_shared_curl(loop);
                auto action = make_webhook_action(loop, *shared.curl, settings, hook.name);
                return SinkPtr(new DeliveryQueue(loop, stats, std::move(action), DeliveryQueueOptions::from(settings),
                                                 shared.curl));
            } else if constexpr (std::is_same_v<Settings, config::ExecSink>) {
                auto action = make_exec_action(loop, settings, hook.name);
                return SinkPtr(new DeliveryQueue(loop, stats, std::move(action), DeliveryQueueOptions::from(settings)));
            } else {
                static_assert(unhandled_sink_kind<Settings>, "make_sink has no case for this sink kind");
            }
        },
        hook.sink);
}

}  // namespace afterhook::hooks
