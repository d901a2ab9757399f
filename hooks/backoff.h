// Backoff: how long a queued hook waits before retrying a delivery.
//
// Exponential with full jitter (the AWS Architecture Blog's "Exponential
// Backoff and Jitter"): after failed attempt n (1-based) the delay is drawn
// uniformly from [0, cap] with cap = min(backoff * 2^(n-1), max_backoff), so
// that many events failing together do not retry together. A Retry-After the
// receiver sent is a floor: the delay is never shorter than it, whatever
// max_backoff says, but a Retry-After longer than an hour counts as an hour so
// that a bogus value cannot park an event for days.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

#include "config/config.h"

namespace afterhook::hooks {

class Backoff {
public:
    static constexpr std::chrono::milliseconds max_retry_after{std::chrono::hours(1)};

    Backoff(const config::Retry& retry, uint64_t seed);

    // The upper bound of the jittered delay after failed attempt `attempt`.
    std::chrono::milliseconds cap(unsigned attempt) const;

    // The delay before the attempt that follows failed attempt `attempt`.
    std::chrono::milliseconds delay(unsigned attempt, std::optional<std::chrono::milliseconds> retry_after);

private:
    std::chrono::milliseconds backoff_;
    std::chrono::milliseconds max_backoff_;
    std::mt19937_64 random_;
};

}  // namespace afterhook::hooks
