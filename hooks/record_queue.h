// RecordQueue: the bounded queue between the worker threads (producers) and
// the hook thread (the one consumer). It is Dmitry Vyukov's bounded MPMC ring:
// every slot carries a sequence number that says whether it is free for the
// producer of a given position or full for its consumer, so producers and the
// consumer never take a lock and never wait for each other.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#include "hooks/record.h"

namespace afterhook::hooks {

class RecordQueue {
public:
    // Holds at most `capacity` records (at least one). The slots are
    // allocated here, once, and hold pointers, so try_push() never allocates
    // and a push or a pop moves 16 bytes, not a whole record.
    explicit RecordQueue(size_t capacity);
    ~RecordQueue();  // destroys the records still queued; no producer may be running
    RecordQueue(const RecordQueue&) = delete;
    RecordQueue& operator=(const RecordQueue&) = delete;

    // Any thread. Never blocks. Returns false, leaving `record` untouched,
    // when the queue is full.
    bool try_push(SubmittedRecord&& record) noexcept;

    // Any thread. Never blocks. Pushes records[0..n) for the largest n <=
    // count that fits, as one claim on consecutive positions (one atomic
    // update for the whole batch), and returns n. records[n..count) are left
    // untouched.
    size_t try_push_batch(SubmittedRecord* records, size_t count) noexcept;

    // The consumer. Moves the oldest record into `out` and returns true, or
    // returns false when the queue is empty. A record whose producer is still
    // between claiming and filling its slot counts as not yet there; that
    // producer's own wake-up follows, so nothing is left behind.
    bool try_pop(SubmittedRecord& out) noexcept;

    size_t capacity() const { return capacity_; }

    // Records queued at the moment of the call; exact only when no thread
    // pushes or pops concurrently.
    size_t size_approx() const noexcept;

private:
    // Raw storage: a pointer lives here only between a push and its pop, so
    // untouched slots cost no resident memory.
    struct Slot {
        alignas(SubmittedRecord) std::byte bytes[sizeof(SubmittedRecord)];
        SubmittedRecord* record() noexcept { return std::launder(reinterpret_cast<SubmittedRecord*>(bytes)); }
    };

    // Sequence numbers are doubled positions: slot i is free for the producer
    // of position p when its sequence is 2p, and full for the consumer of p
    // when it is 2p + 1. Doubling (instead of Vyukov's p and p + 1) keeps the
    // two states apart even for a capacity of one.
    static constexpr uint64_t free_for(uint64_t position) { return 2 * position; }
    static constexpr uint64_t full_for(uint64_t position) { return 2 * position + 1; }

    const size_t capacity_;
    std::unique_ptr<std::atomic<uint64_t>[]> sequences_;
    std::unique_ptr<Slot[]> slots_;
    alignas(64) std::atomic<uint64_t> push_position_{0};
    alignas(64) std::atomic<uint64_t> pop_position_{0};
};

}  // namespace afterhook::hooks
