// RssSampler: samples a child's resident set size on its own thread every
// `interval` while a transfer runs, and keeps the largest value seen.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "support/child_process.h"
#include "support/wait.h"

namespace afterhook::testing {

class RssSampler {
public:
    explicit RssSampler(const ChildProcess& process, Clock::duration interval = Millis(50));
    ~RssSampler();
    RssSampler(const RssSampler&) = delete;
    RssSampler& operator=(const RssSampler&) = delete;

    // Stops sampling (idempotent) and returns the largest RSS seen, in bytes.
    uint64_t stop();
    uint64_t max_bytes() const { return max_.load(); }
    uint64_t samples() const { return samples_.load(); }

private:
    void run(Clock::duration interval);

    const ChildProcess& process_;
    std::atomic<uint64_t> max_{0};
    std::atomic<uint64_t> samples_{0};
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace afterhook::testing
