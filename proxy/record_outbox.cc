#include "proxy/record_outbox.h"

#include <atomic>
#include <memory>

#include "hooks/hook_thread.h"

namespace afterhook::proxy {

RecordOutbox::RecordOutbox(uv_loop_t* loop, hooks::HookThread& hooks) : hooks_(hooks) {
    uv_prepare_init(loop, &prepare_);
    prepare_.data = this;
    batch_.reserve(max_batch);
}

// The ring's own reference is the only one left once the exchange, the hook
// thread and every sink have let go of a record; nobody else can copy it
// from then on. use_count() == 1 alone does not order their accesses before
// ours (the standard says as much); it does with libstdc++, which decrements
// with acq_rel and reads use_count() relaxed: the acquire fence after that
// read orders the reuse after everything the other holders did with it.
hooks::SubmittedRecord RecordOutbox::take() {
    hooks::SubmittedRecord& slot = ring_[next_];
    next_ = (next_ + 1) % reuse_ring_size;
    if (slot && slot.use_count() == 1) {
        std::atomic_thread_fence(std::memory_order_acquire);
        slot->reset();
        return slot;
    }
    slot = std::make_shared<hooks::Record>();
    return slot;
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
