// Process-wide counters, written by worker threads with relaxed atomics and
// read by the admin endpoint. Only counts and sums live here: nothing that
// grows with traffic.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "proxy/histogram.h"

namespace afterhook::proxy {

struct Metrics {
    // Responses sent to clients, by status code 100..599 (index = code).
    std::array<std::atomic<uint64_t>, 600> responses_by_code{};
    std::atomic<uint64_t> connections_active{0};
    std::atomic<uint64_t> connections_total{0};
    std::atomic<uint64_t> connections_rejected{0};  // over limits.max_connections
    std::atomic<uint64_t> upstream_connect_errors{0};
    std::atomic<uint64_t> upstream_timeouts{0};
    std::atomic<uint64_t> upstream_resets{0};
    std::atomic<uint64_t> upstream_bad_responses{0};
    std::atomic<uint64_t> upstream_connections_opened{0};
    std::atomic<uint64_t> upstream_connections_reused{0};
    Histogram request_duration;  // first request byte to last response byte
    std::atomic<uint64_t> config_reloads_ok{0};
    std::atomic<uint64_t> config_reloads_failed{0};
    std::atomic<bool> config_last_reload_successful{true};

    void count_response(int status) {
        if (status >= 100 && status < 600)
            responses_by_code[static_cast<size_t>(status)].fetch_add(1, std::memory_order_relaxed);
    }
};

}  // namespace afterhook::proxy
