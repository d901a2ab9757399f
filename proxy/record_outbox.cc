#include "proxy/record_outbox.h"

#include <algorithm>
#include <atomic>
#include <memory>

#include "hooks/hook_thread.h"

namespace afterhook::proxy {

RecordOutbox::RecordOutbox(uv_loop_t* loop, hooks::HookThread& hooks) : hooks_(hooks), ring_(initial_ring_size) {
    uv_prepare_init(loop, &prepare_);
    prepare_.data = this;
    batch_.reserve(max_batch);
}

// The ring's own reference is the only one left once the exchange, the hook
// thread and every sink have let go of a record; nobody else can copy it
// from then on. An empty slot has never held one.
bool RecordOutbox::free_for_reuse(const hooks::SubmittedRecord& slot) { return !slot || slot.use_count() == 1; }

// use_count() == 1 alone does not order the other holders' accesses before
// ours (the standard says as much); it does with libstdc++, which decrements
// with acq_rel and reads use_count() relaxed: the acquire fence after that
// read orders the reuse after everything the other holders did with it.
//
// Held slots stay where they are: the cursor passes them and they are looked
// at again one lap later.
hooks::SubmittedRecord RecordOutbox::take() {
    size_t index = next_;
    size_t held = 0;
    while (!free_for_reuse(ring_[index]) && held <= look_ahead) {
        ++held;
        index = (index + 1) % ring_.size();
    }
    if (held > look_ahead) {  // no free record near the cursor
        index = next_;
        held = 0;
        if (behind() && ring_.size() < max_ring_size) {
            grow();  // ring_[next_] is now the first of the new, empty slots
        } else {
            held = 1;  // ring_[next_] gets a new record; its holders keep the old one
        }
    }
    pass(index, held);
    hooks::SubmittedRecord& slot = ring_[index];
    if (slot && slot.use_count() == 1) {
        std::atomic_thread_fence(std::memory_order_acquire);
        slot->reset();
        return slot;
    }
    slot = std::make_shared<hooks::Record>();  // an empty slot, or a held one replaced
    return slot;
}

// Most of what the cursor passed in this lap or the last was still held: the
// hook thread is behind by about the whole ring, not held up by a few long
// exchanges (each of which holds its record for as long as it runs).
bool RecordOutbox::behind() const { return 2 * std::max(held_this_lap_, held_last_lap_) > ring_.size(); }

// Moves the cursor past ring_[index], counting the `held` slots it passed on
// the way there (or replaced there); a lap ends when the cursor wraps.
void RecordOutbox::pass(size_t index, size_t held) {
    held_this_lap_ += held;
    const size_t from = next_;
    next_ = (index + 1) % ring_.size();
    if (next_ <= from) {
        held_last_lap_ = held_this_lap_;
        held_this_lap_ = 0;
    }
}

// Doubles the ring by inserting empty slots at next_: the held records from
// next_ on come round again only after the new slots have all been used.
void RecordOutbox::grow() {
    const size_t added = std::min(ring_.size(), max_ring_size - ring_.size());
    ring_.insert(ring_.begin() + static_cast<std::ptrdiff_t>(next_), added, hooks::SubmittedRecord{});
}

void RecordOutbox::add(const hooks::SubmittedRecord& record) {
    batch_.push_back(record);
    if (closed_ || batch_.size() >= max_batch) {
        flush();
        return;
    }
    if (!armed_) {
        uv_prepare_start(&prepare_, on_prepare);
        armed_ = true;
    }
}

void RecordOutbox::flush() {
    if (armed_) {
        uv_prepare_stop(&prepare_);
        armed_ = false;
    }
    if (batch_.empty()) return;
    hooks_.submit(batch_.data(), batch_.size());
    batch_.clear();
}

void RecordOutbox::close() {
    if (closed_) return;
    flush();
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
}

void RecordOutbox::on_prepare(uv_prepare_t* handle) { static_cast<RecordOutbox*>(handle->data)->flush(); }

}  // namespace afterhook::proxy
