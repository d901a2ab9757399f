#include "proxy/metrics_page.h"

#include "proxy/prometheus.h"

namespace afterhook::proxy {

namespace {
uint64_t load(const std::atomic<uint64_t>& value) { return value.load(std::memory_order_relaxed); }
}  // namespace

std::string render_metrics_page(const Metrics& m, const hooks::HookThread& hooks) {
    PrometheusText p;
    p.family("afterhook_build_info", "gauge", "Always 1; the version is a label.");
    p.sample("afterhook_build_info", {{"version", AFTERHOOK_VERSION}}, uint64_t{1});

    p.family("afterhook_requests_total", "counter", "Responses sent to clients, by status code.");
    for (size_t code = 100; code < m.responses_by_code.size(); ++code) {
        uint64_t n = load(m.responses_by_code[code]);
        if (n == 0) continue;
        std::string label = std::to_string(code);
        p.sample("afterhook_requests_total", {{"code", label}}, n);
    }
    p.family("afterhook_request_duration_seconds", "histogram",
             "First request byte to last response byte handed to the client socket.");
    p.histogram("afterhook_request_duration_seconds", {}, m.request_duration);

    p.family("afterhook_upstream_errors_total", "counter", "Failed upstream exchanges, by reason.");
    p.sample("afterhook_upstream_errors_total", {{"reason", "connect"}}, load(m.upstream_connect_errors));
    p.sample("afterhook_upstream_errors_total", {{"reason", "timeout"}}, load(m.upstream_timeouts));
    p.sample("afterhook_upstream_errors_total", {{"reason", "reset"}}, load(m.upstream_resets));
    p.sample("afterhook_upstream_errors_total", {{"reason", "bad_response"}}, load(m.upstream_bad_responses));

    p.family("afterhook_connections_active", "gauge", "Open client connections.");
    p.sample("afterhook_connections_active", {}, load(m.connections_active));
    p.family("afterhook_connections_total", "counter", "Client connections accepted.");
    p.sample("afterhook_connections_total", {}, load(m.connections_total));
    p.family("afterhook_connections_rejected_total", "counter",
             "Client connections closed at once because limits.max_connections was reached.");
    p.sample("afterhook_connections_rejected_total", {}, load(m.connections_rejected));
    p.family("afterhook_upstream_connections_opened_total", "counter", "Connections opened to the upstream.");
    p.sample("afterhook_upstream_connections_opened_total", {}, load(m.upstream_connections_opened));
    p.family("afterhook_upstream_connections_reused_total", "counter", "Exchanges served on a pooled upstream connection.");
    p.sample("afterhook_upstream_connections_reused_total", {}, load(m.upstream_connections_reused));

    p.family("afterhook_records_dropped_total", "counter",
             "Records dropped before any hook saw them: the queue to the hook thread was full.");
    p.sample("afterhook_records_dropped_total", {}, hooks.records_dropped());

    std::vector<hooks::HookCounters> counters = hooks.counters();
    p.family("afterhook_hook_events_total", "counter",
             "Hook events by result: delivered, failed (after retries), dropped (never attempted), retried (extra attempts).");
    for (const auto& c : counters) {
        p.sample("afterhook_hook_events_total", {{"hook", c.hook}, {"result", "delivered"}}, c.delivered);
        p.sample("afterhook_hook_events_total", {{"hook", c.hook}, {"result", "failed"}}, c.failed);
        p.sample("afterhook_hook_events_total", {{"hook", c.hook}, {"result", "dropped"}}, c.dropped);
        p.sample("afterhook_hook_events_total", {{"hook", c.hook}, {"result", "retried"}}, c.retried);
    }
    p.family("afterhook_hook_queue_depth", "gauge", "Hook events waiting, in flight or waiting for a retry.");
    for (const auto& c : counters) p.sample("afterhook_hook_queue_depth", {{"hook", c.hook}}, c.queue_depth);
    p.family("afterhook_hook_delivery_duration_seconds", "histogram",
             "Duration of each delivery attempt, start to result (a webhook request, an exec run, a log write).");
    hooks.visit_histograms([&p](const std::string& hook, const Histogram& histogram) {
        p.histogram("afterhook_hook_delivery_duration_seconds", {{"hook", hook}}, histogram);
    });
    p.family("afterhook_trigger_unknown_total", "counter",
             "App trigger calls that named no `trigger: header` hook.");
    p.sample("afterhook_trigger_unknown_total", {}, hooks.unknown_triggers());
    p.family("afterhook_trigger_malformed_total", "counter", "App trigger calls that could not be parsed.");
    p.sample("afterhook_trigger_malformed_total", {}, hooks.malformed_triggers());

    p.family("afterhook_config_reloads_total", "counter", "Config reloads by result.");
    p.sample("afterhook_config_reloads_total", {{"result", "success"}}, load(m.config_reloads_ok));
    p.sample("afterhook_config_reloads_total", {{"result", "failure"}}, load(m.config_reloads_failed));
    p.family("afterhook_config_last_reload_successful", "gauge", "1 if the last reload (or the start) loaded a valid config.");
    p.sample("afterhook_config_last_reload_successful", {},
             uint64_t{m.config_last_reload_successful.load(std::memory_order_relaxed) ? 1u : 0u});
    return p.text();
}

}  // namespace afterhook::proxy
