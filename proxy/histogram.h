// Histogram: fixed buckets, lock-free observation from any thread, read as
// Prometheus cumulative buckets. Durations are observed in seconds.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace afterhook::proxy {

class Histogram {
public:
    // Upper bounds in seconds (Prometheus' defaults, plus 30 s and 60 s for
    // webhooks that time out).
    static constexpr std::array<double, 13> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                       1,     2.5,  5,     10,   30,  60};

    void observe(double seconds) {
        size_t i = 0;
        while (i < kBounds.size() && seconds > kBounds[i]) ++i;
        counts_[i].fetch_add(1, std::memory_order_relaxed);
        uint64_t micros = seconds > 0 ? static_cast<uint64_t>(seconds * 1e6) : 0;
        sum_micros_.fetch_add(micros, std::memory_order_relaxed);
    }

    // Observations at or below kBounds[i]; i == kBounds.size() is +Inf.
    uint64_t cumulative(size_t i) const {
        uint64_t total = 0;
        for (size_t j = 0; j <= i && j < counts_.size(); ++j) total += counts_[j].load(std::memory_order_relaxed);
        return total;
    }
    uint64_t count() const { return cumulative(kBounds.size()); }
    double sum() const { return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6; }

private:
    std::array<std::atomic<uint64_t>, kBounds.size() + 1> counts_{};
    std::atomic<uint64_t> sum_micros_{0};
};

}  // namespace afterhook::proxy
