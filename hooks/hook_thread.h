// HookThread: the one thread on which every hook runs. Worker threads hand it
// finished records through submit(), which never blocks and never allocates
// beyond the record itself; the hook thread's own libuv loop formats and
// writes them. See DESIGN.md, "Threads and data flow".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "hooks/record.h"

namespace afterhook::proxy {
class Histogram;
}  // namespace afterhook::proxy

namespace afterhook::hooks {

struct HookCounters {
    std::string hook;
    uint64_t delivered = 0;
    uint64_t failed = 0;
    uint64_t dropped = 0;
    uint64_t retried = 0;
    uint64_t queue_depth = 0;
};

class HookThread {
public:
    // `queue_capacity` bounds the records waiting between the workers and the
    // hook thread; a record that does not fit is dropped and counted.
    // `config` is the first current generation (see reload()); records whose
    // Record::config is null or unknown are delivered by the current one.
    explicit HookThread(std::shared_ptr<const config::Config> config, size_t queue_capacity = 65536);
    // Copies `config` into a shared_ptr of its own.
    explicit HookThread(const config::Config& config, size_t queue_capacity = 65536);
    ~HookThread();  // stops the thread if still running (no drain)
    HookThread(const HookThread&) = delete;
    HookThread& operator=(const HookThread&) = delete;

    // Opens the sinks (files are opened here so that a bad path fails start-up
    // with a clear error) and starts the thread. Throws std::runtime_error.
    void start();

    // Any thread. Never blocks. Returns false when the queue is full: the
    // record is dropped and counted in records_dropped().
    bool submit(Record&& record);
    // The same for a batch of records already shared (a worker's outbox):
    // queues records[0..n) for the largest n that fits and returns n; the
    // rest are dropped and counted, and their pointers reset. Every pointer
    // must be non-null. The hook thread releases each record's config and
    // then only reads the record.
    size_t submit(SubmittedRecord* records, size_t count);

    // Delivers everything queued, waiting at most until `deadline`, flushes the
    // sinks and joins the thread. Returns the number of records left undelivered.
    uint64_t stop(std::chrono::steady_clock::time_point deadline);

    // Any thread; blocks until the hook thread has applied it or failed (at
    // most about 2 s). Opens the sinks of `config`'s hooks as a new
    // generation. On success it becomes current: records with a null or
    // unknown Record::config go to it from now on. The previous generation
    // retires: it keeps delivering the records of its own config (exchanges
    // that started under it, events queued in its sinks) and is closed once
    // nothing but the hook thread refers to its config and its sinks are idle.
    // On failure (a sink that cannot be opened, a stopped or draining hook
    // thread) returns false with `error` naming the hook, and nothing changes.
    // Before start() the new config simply replaces the one to open.
    bool reload(std::shared_ptr<const config::Config> config, std::string& error);

    // SIGUSR1: reopen log files (rotation), in every generation. Any thread.
    void reopen_logs();

    uint64_t records_submitted() const;
    uint64_t records_dropped() const;       // queue between workers and hook thread was full
    uint64_t unknown_triggers() const;      // app trigger calls that named no `trigger: header` hook
    uint64_t malformed_triggers() const;    // app trigger calls that could not be parsed
    // One entry per hook name ever configured: the current config's hooks
    // first, in config order, then hooks removed by a reload (their counters
    // stay visible).
    std::vector<HookCounters> counters() const;
    // Calls `visit` with each hook name and its delivery-duration histogram
    // (see HookStats::delivery_duration), in the order of counters().
    void visit_histograms(const std::function<void(const std::string&, const proxy::Histogram&)>& visit) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace afterhook::hooks
