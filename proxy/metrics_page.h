// The /metrics page: every afterhook_* metric in Prometheus text format.
#pragma once

#include <string>

#include "hooks/hook_thread.h"
#include "proxy/metrics.h"

namespace afterhook::proxy {

std::string render_metrics_page(const Metrics& metrics, const hooks::HookThread& hooks);

}  // namespace afterhook::proxy
