// RecordOutbox: a worker's finished records on their way to the hook thread.
//
// Batches: exchanges add records as they finish; the outbox hands them over
// in one batch per loop turn (a uv_prepare handle, which runs before the
// loop next waits for I/O), so the atomic operations of a hand-over are paid
// once per batch instead of once per exchange. A record waits at most until
// the end of the loop turn it finished in.
//
// Reuse: an exchange takes its record from here when it starts, fills it in
// place and adds it back when it ends. The records live in a ring and are
// taken again once nobody else holds them, reset but with their strings'
// storage kept, so in the steady state a record costs no allocation and its
// memory is allocated and freed on this worker only. A record still held
// when its slot comes round again (a webhook retrying it, a backlog, a long
// exchange) is left to its holders and replaced by a new one.
#pragma once

#include <uv.h>

#include <array>
#include <cstddef>
#include <vector>

#include "hooks/record.h"

namespace afterhook::hooks {
class HookThread;
}  // namespace afterhook::hooks

namespace afterhook::proxy {

class RecordOutbox {
public:
    // A full batch goes at once, without waiting for the end of the turn.
    static constexpr size_t max_batch = 64;
    // Records kept for reuse. Far more than a worker has in flight at once
    // (its running exchanges, a batch, and the few the hook thread is
    // formatting).
    static constexpr size_t reuse_ring_size = 256;

    RecordOutbox(uv_loop_t* loop, hooks::HookThread& hooks);
    RecordOutbox(const RecordOutbox&) = delete;
    RecordOutbox& operator=(const RecordOutbox&) = delete;

    // Loop thread. A reset record for a new exchange to fill.
    hooks::SubmittedRecord take();
    // Loop thread. Hands a record from take() to the hook thread, after which
    // the exchange must not change it. Never blocks; a record the hook
    // thread's queue cannot take is dropped and counted there.
    void add(const hooks::SubmittedRecord& record);
    // Hands over what is waiting now.
    void flush();
    // Hands over what is waiting and closes the handle (the worker is
    // stopping); records added after this go over one at a time.
    void close();

private:
    static void on_prepare(uv_prepare_t* handle);

    hooks::HookThread& hooks_;
    uv_prepare_t prepare_{};
    bool armed_ = false;
    bool closed_ = false;
    std::vector<hooks::SubmittedRecord> batch_;
    std::array<hooks::SubmittedRecord, reuse_ring_size> ring_;
    size_t next_ = 0;
};

}  // namespace afterhook::proxy
