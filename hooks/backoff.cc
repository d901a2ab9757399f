#include "hooks/backoff.h"

#include <algorithm>

namespace afterhook::hooks {

Backoff::Backoff(const config::Retry& retry, uint64_t seed)
    : backoff_(std::max(retry.backoff, std::chrono::milliseconds(0))),
      max_backoff_(std::max(retry.max_backoff, std::chrono::milliseconds(0))),
      random_(seed) {}

// Doubles until the cap is reached, so neither the shift nor the product can
// overflow whatever the attempt number.
std::chrono::milliseconds Backoff::cap(unsigned attempt) const {
    std::chrono::milliseconds cap = std::min(backoff_, max_backoff_);
    for (unsigned n = 1; n < attempt && cap < max_backoff_; ++n) cap = std::min(cap * 2, max_backoff_);
    return cap;
}

std::chrono::milliseconds Backoff::delay(unsigned attempt, std::optional<std::chrono::milliseconds> retry_after) {
    const auto upper = static_cast<uint64_t>(cap(attempt).count());
    std::uniform_int_distribution<uint64_t> jitter(0, upper);
    std::chrono::milliseconds delay(static_cast<std::chrono::milliseconds::rep>(jitter(random_)));
    if (retry_after) delay = std::max(delay, std::clamp(*retry_after, std::chrono::milliseconds(0), max_retry_after));
    return delay;
}

}  // namespace afterhook::hooks
