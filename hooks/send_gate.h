// SendGate: lets any thread call uv_async_send() on a handle that the loop
// thread closes later. uv_async_send() on a closing or closed handle is
// undefined, so senders pass through the gate and the loop thread closes the
// gate, waiting out the senders already inside, before it closes the handle.
#pragma once

#include <atomic>
#include <thread>

namespace afterhook::hooks {

class SendGate {
public:
    // Returns false once the gate is closed; otherwise the caller may send
    // and must call leave() afterwards. Never blocks.
    bool enter() noexcept {
        // Sequentially consistent on purpose (here and in close()): either
        // close() sees this sender or this sender sees the gate closed.
        senders_.fetch_add(1);
        if (closed_.load()) {
            senders_.fetch_sub(1);
            return false;
        }
        return true;
    }

    void leave() noexcept { senders_.fetch_sub(1); }

    // Closes the gate and returns once no sender is inside. Senders stay
    // inside only for a push and a uv_async_send(), neither of which blocks,
    // so the wait is a few instructions long unless a sender was preempted.
    void close() noexcept {
        closed_.store(true);
        while (senders_.load() != 0) std::this_thread::yield();
    }

    bool is_closed() const noexcept { return closed_.load(); }

private:
    std::atomic<bool> closed_{false};
    std::atomic<int> senders_{0};
};

}  // namespace afterhook::hooks
