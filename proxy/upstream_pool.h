// UpstreamPool: the idle keep-alive connections of one worker to the
// upstream, most recently used first, bounded in number.
#pragma once

#include <cstddef>

namespace afterhook::proxy {

class UpstreamConnection;
class Worker;

class UpstreamPool {
public:
    static constexpr size_t kMaxIdle = 1024;

    explicit UpstreamPool(Worker& worker) : worker_(worker) {}
    UpstreamPool(const UpstreamPool&) = delete;
    UpstreamPool& operator=(const UpstreamPool&) = delete;

    // An idle connection (taken out of the pool), or a new one that is
    // connecting; nullptr with `error` set if the connect could not start.
    UpstreamConnection* acquire(int& error);
    // Takes a connection back after an exchange; closes it when it cannot be
    // reused or the pool is full.
    void release(UpstreamConnection* connection);
    // An idle connection is closing: forget it.
    void forget(UpstreamConnection* connection);
    void close_all();
    size_t idle() const { return idle_count_; }

private:
    Worker& worker_;
    UpstreamConnection* head_ = nullptr;
    size_t idle_count_ = 0;
};

}  // namespace afterhook::proxy
