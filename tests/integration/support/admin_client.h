// AdminClient: requests to afterhook's admin listener (/metrics, /livez,
// /readyz), one fresh connection each, and /metrics read through the strict
// Prometheus reader. Tests use it to watch counters move with a deadline
// instead of guessing when afterhook has caught up.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "support/prometheus_parser.h"
#include "support/raw_client.h"
#include "support/wait.h"

namespace afterhook::testing {

class AdminClient {
public:
    explicit AdminClient(uint16_t port) : port_(port) {}

    uint16_t port() const { return port_; }

    // `METHOD path HTTP/1.1` with `Connection: close`; a response with
    // `error` set when the connection cannot be made or the answer is cut.
    HttpResponse request(std::string_view method, std::string_view path,
                         Clock::duration timeout = std::chrono::seconds(2)) const;
    HttpResponse get(std::string_view path) const { return request("GET", path); }

    // GET /metrics, parsed strictly. A failed request or a status other than
    // 200 comes back as an exposition whose errors say so.
    PrometheusExposition metrics() const;
    // One sample of a fresh scrape; nothing when absent or the scrape failed.
    std::optional<double> metric(std::string_view name, const PrometheusLabels& labels = {}) const;
    // Scrapes until the sample exists and `holds` accepts it, or `timeout`.
    bool wait_for_metric(std::string_view name, const PrometheusLabels& labels,
                         const std::function<bool(double)>& holds, Clock::duration timeout) const;

private:
    uint16_t port_;
};

}  // namespace afterhook::testing
