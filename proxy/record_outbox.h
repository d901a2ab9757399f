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
// memory is allocated and freed on this worker only.
//
// A record still held when the cursor reaches it (a long exchange, a webhook
// retrying it) stays in its slot and the cursor passes it; one of the next
// few slots is taken instead. When all of them are held and most of the
// slots passed in this lap or the last one were held too, the hook thread is
// behind by more than the ring holds, and the ring doubles, up to
// max_ring_size, so that a backlog does not turn every exchange into an
// allocation on this worker and a free on the hook thread, which would make
// both slower just when the hook thread needs to catch up. Otherwise (a few
// long exchanges side by side, or a ring at its bound) the held record at the
// cursor is left to its holders and its slot gets a new one. The ring does
// not shrink: after a backlog it keeps what it grew to, within its bound.
#pragma once

#include <uv.h>

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
    // Records kept for reuse at first: far more than a worker has in flight
    // at once while the hook thread keeps up (its running exchanges, a batch,
    // and the few the hook thread is formatting).
    static constexpr size_t initial_ring_size = 256;
    // The most the ring grows to: at 20,000 requests a second on one worker,
    // 100 ms of hook thread lag. A record is about 600 bytes plus the strings
    // it keeps (reset() bounds them), so about 2 MiB for ordinary requests.
    static constexpr size_t max_ring_size = 2048;
    // Held slots passed, after the one at the cursor, before take() decides
    // between growing the ring and replacing the record at the cursor.
    static constexpr size_t look_ahead = 8;

    RecordOutbox(uv_loop_t* loop, hooks::HookThread& hooks);
    RecordOutbox(const RecordOutbox&) = delete;
    RecordOutbox& operator=(const RecordOutbox&) = delete;

    // Loop thread. A reset record for a new exchange to fill.
    hooks::SubmittedRecord take();
    // Records the ring holds now (for tests).
    size_t ring_size() const { return ring_.size(); }
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
    static bool free_for_reuse(const hooks::SubmittedRecord& slot);
    bool behind() const;
    void pass(size_t index, size_t held);
    void grow();

    hooks::HookThread& hooks_;
    uv_prepare_t prepare_{};
    bool armed_ = false;
    bool closed_ = false;
    std::vector<hooks::SubmittedRecord> batch_;
    std::vector<hooks::SubmittedRecord> ring_;
    size_t next_ = 0;           // the cursor: the slot looked at first
    size_t held_this_lap_ = 0;  // held slots the cursor passed in this lap
    size_t held_last_lap_ = 0;  // and in the one before
};

}  // namespace afterhook::proxy
