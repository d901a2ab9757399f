#include "support/rss_sampler.h"

namespace afterhook::testing {

RssSampler::RssSampler(const ChildProcess& process, Clock::duration interval) : process_(process) {
    thread_ = std::thread([this, interval] { run(interval); });
}

RssSampler::~RssSampler() { stop(); }

uint64_t RssSampler::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    return max_.load();
}

void RssSampler::run(Clock::duration interval) {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        const uint64_t rss = process_.rss_bytes();
        if (rss > max_.load()) max_.store(rss);
        ++samples_;
        wake_.wait_for(lock, interval, [this] { return stopping_; });
    }
}

}  // namespace afterhook::testing
