#include "support/wait.h"

#include <algorithm>
#include <cstdint>
#include <thread>

namespace afterhook::testing {

int millis_until(Deadline deadline) {
    auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<int64_t>(left, 0, INT32_MAX));
}

bool wait_until(const std::function<bool()>& predicate, Clock::duration timeout,
                Clock::duration interval) {
    const Deadline deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (predicate()) return true;
        std::this_thread::sleep_for(std::min<Clock::duration>(interval, deadline - Clock::now()));
    }
    return predicate();
}

std::optional<uint64_t> wait_until_stable(const std::function<uint64_t()>& value,
                                          Clock::duration stable_for, Clock::duration timeout,
                                          Clock::duration interval) {
    const Deadline deadline = Clock::now() + timeout;
    uint64_t last = value();
    Clock::time_point last_change = Clock::now();
    while (Clock::now() < deadline) {
        std::this_thread::sleep_for(interval);
        const uint64_t now_value = value();
        if (now_value != last) {
            last = now_value;
            last_change = Clock::now();
        } else if (Clock::now() - last_change >= stable_for) {
            return last;
        }
    }
    return std::nullopt;
}

}  // namespace afterhook::testing
