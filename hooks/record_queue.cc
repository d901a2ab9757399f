#include "hooks/record_queue.h"

#include <algorithm>
#include <utility>

namespace afterhook::hooks {

namespace {

// Signed distance between a slot's sequence and the one an operation expects.
int64_t distance(uint64_t sequence, uint64_t expected) {
    return static_cast<int64_t>(sequence - expected);
}

}  // namespace

RecordQueue::RecordQueue(size_t capacity)
    : capacity_(std::max<size_t>(capacity, 1)),
      sequences_(new std::atomic<uint64_t>[capacity_]),
      // Default-initialised: the bytes stay untouched until a record arrives.
      slots_(new Slot[capacity_]) {
    for (size_t i = 0; i < capacity_; ++i) sequences_[i].store(free_for(i), std::memory_order_relaxed);
}

RecordQueue::~RecordQueue() {
    SubmittedRecord discarded;
    while (try_pop(discarded)) discarded.reset();
}

bool RecordQueue::try_push(SubmittedRecord&& record) noexcept { return try_push_batch(&record, 1) == 1; }

// Claims the run of free slots starting at the push position, at most
// `count` long, in one compare-exchange. The consumer frees slots in
// position order, so the run found free stays free until it is filled.
size_t RecordQueue::try_push_batch(SubmittedRecord* records, size_t count) noexcept {
    uint64_t position = push_position_.load(std::memory_order_relaxed);
    size_t claimed = 0;
    for (;;) {
        claimed = 0;
        bool taken = false;
        while (claimed < count) {
            const uint64_t sequence = sequences_[(position + claimed) % capacity_].load(std::memory_order_acquire);
            const int64_t gap = distance(sequence, free_for(position + claimed));
            if (gap < 0) break;  // the slot still holds the record from one lap ago
            if (gap > 0) {
                taken = true;  // another producer claimed this position
                break;
            }
            ++claimed;
        }
        if (taken) {
            position = push_position_.load(std::memory_order_relaxed);
            continue;
        }
        if (claimed == 0) return 0;
        if (push_position_.compare_exchange_weak(position, position + claimed, std::memory_order_relaxed)) break;
    }
    for (size_t i = 0; i < claimed; ++i) {
        const size_t index = (position + i) % capacity_;
        new (slots_[index].bytes) SubmittedRecord(std::move(records[i]));
        sequences_[index].store(full_for(position + i), std::memory_order_release);
    }
    return claimed;
}

bool RecordQueue::try_pop(SubmittedRecord& out) noexcept {
    uint64_t position = pop_position_.load(std::memory_order_relaxed);
    size_t index = 0;
    for (;;) {
        index = position % capacity_;
        const uint64_t sequence = sequences_[index].load(std::memory_order_acquire);
        const int64_t gap = distance(sequence, full_for(position));
        if (gap == 0) {
            if (pop_position_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) break;
        } else if (gap < 0) {
            return false;  // not filled yet
        } else {
            position = pop_position_.load(std::memory_order_relaxed);
        }
    }
    SubmittedRecord* record = slots_[index].record();
    out = std::move(*record);
    record->~SubmittedRecord();
    sequences_[index].store(free_for(position + capacity_), std::memory_order_release);
    return true;
}

size_t RecordQueue::size_approx() const noexcept {
    const uint64_t popped = pop_position_.load(std::memory_order_acquire);
    const uint64_t pushed = push_position_.load(std::memory_order_acquire);
    return pushed > popped ? static_cast<size_t>(pushed - popped) : 0;
}

}  // namespace afterhook::hooks
