// Waiting on a condition with a deadline: the only way the integration tests
// synchronise with the proxy, the fake upstream or the operating system.
// Nothing here sleeps for a fixed time in order to "let something happen";
// a predicate is polled at a short interval until it holds or time runs out.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

namespace afterhook::testing {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
using Millis = std::chrono::milliseconds;

inline Deadline deadline_in(Clock::duration timeout) { return Clock::now() + timeout; }

// Milliseconds left until `deadline`, never negative; suitable for poll().
int millis_until(Deadline deadline);

// Polls `predicate` every `interval` until it returns true (-> true) or
// `timeout` has passed (-> false). The predicate is evaluated one last time at
// the deadline, so a condition that became true just in time is not missed.
bool wait_until(const std::function<bool()>& predicate, Clock::duration timeout,
                Clock::duration interval = Millis(5));

// Samples `value` every `interval` until it has not changed for `stable_for`,
// and returns that value; returns nothing when it was still changing at
// `timeout`. Used to see a byte counter "plateau" under backpressure.
std::optional<uint64_t> wait_until_stable(const std::function<uint64_t()>& value,
                                          Clock::duration stable_for, Clock::duration timeout,
                                          Clock::duration interval = Millis(10));

}  // namespace afterhook::testing
