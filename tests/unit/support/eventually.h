// Waiting on a condition with a deadline, for the hooks unit tests that
// watch another thread's counters (never a fixed sleep).
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace afterhook::test {

// True as soon as `condition` holds, checked every millisecond; false once
// `timeout` has passed without it.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace afterhook::test
