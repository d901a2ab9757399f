#include "hooks/hook_thread.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "hooks/hook_loop.h"
#include "proxy/log.h"

namespace afterhook::hooks {

namespace {

// After the deadline, how long stop() waits for the loop to abandon its work
// and for a write already on the thread pool to return. Past it, the thread is
// left to finish on its own (a write to a pipe nobody reads can block forever).
constexpr std::chrono::milliseconds abandon_grace{250};

// How long reload() waits for the hook loop to take its request.
constexpr std::chrono::seconds reload_wait{2};

void prepare_hook_thread() {
    // Signals belong to the main thread's loop, never to the hook thread.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    pthread_setname_np(pthread_self(), "afterhook-hooks");
}

}  // namespace

// The loop is shared with the thread running it: if stop() has to leave that
// thread behind, the thread keeps the loop alive until it finishes.
struct HookThread::Impl {
    std::shared_ptr<HookLoop> loop;
    std::thread thread;
    bool started = false;
    bool stopped = false;
    uint64_t undelivered = 0;
};

HookThread::HookThread(std::shared_ptr<const config::Config> config, size_t queue_capacity)
    : impl_(std::make_unique<Impl>()) {
    impl_->loop = std::make_shared<HookLoop>(std::move(config), queue_capacity);
}

HookThread::HookThread(const config::Config& config, size_t queue_capacity)
    : HookThread(std::make_shared<const config::Config>(config), queue_capacity) {}

HookThread::~HookThread() {
    if (!impl_->stopped) stop(std::chrono::steady_clock::now());
}

void HookThread::start() {
    if (impl_->started || impl_->stopped) throw std::runtime_error("hook thread: start() called twice or after stop()");
    impl_->loop->open_sinks();
    impl_->thread = std::thread([loop = impl_->loop] {
        prepare_hook_thread();
        loop->run();
    });
    impl_->started = true;
}

bool HookThread::submit(Record&& record) { return impl_->loop->submit(std::move(record)); }

size_t HookThread::submit(SubmittedRecord* records, size_t count) { return impl_->loop->submit(records, count); }

// A stop() without start() has no thread: the loop runs here, just long enough
// to count what was queued as undelivered and close its handles.
uint64_t HookThread::stop(std::chrono::steady_clock::time_point deadline) {
    if (impl_->stopped) return impl_->undelivered;
    impl_->stopped = true;
    HookLoop& loop = *impl_->loop;
    if (!impl_->started) {
        loop.request_abandon();
        loop.run();
        impl_->undelivered = loop.undelivered();
        return impl_->undelivered;
    }
    loop.request_stop();
    bool done = loop.wait_done_until(deadline);
    if (!done) {
        loop.request_abandon();
        done = loop.wait_done_until(std::chrono::steady_clock::now() + abandon_grace);
    }
    if (done) {
        impl_->thread.join();
    } else {
        impl_->thread.detach();
        log::warn("hook thread left running after the drain deadline: a write has not returned");
    }
    impl_->undelivered = loop.undelivered();
    return impl_->undelivered;
}

bool HookThread::reload(std::shared_ptr<const config::Config> config, std::string& error) {
    if (!config) {
        error = "hooks: no config to reload";
        return false;
    }
    if (impl_->stopped) {
        error = "hooks: the hook thread has stopped";
        return false;
    }
    if (!impl_->started) {
        impl_->loop->replace_unopened(std::move(config));
        return true;
    }
    return impl_->loop->reload(std::move(config), error, std::chrono::steady_clock::now() + reload_wait);
}

void HookThread::reopen_logs() { impl_->loop->reopen_logs(); }

uint64_t HookThread::records_submitted() const { return impl_->loop->records_submitted(); }

uint64_t HookThread::records_dropped() const { return impl_->loop->records_dropped(); }

uint64_t HookThread::unknown_triggers() const { return impl_->loop->unknown_triggers(); }

uint64_t HookThread::malformed_triggers() const { return impl_->loop->malformed_triggers(); }

std::vector<HookCounters> HookThread::counters() const { return impl_->loop->counters(); }

void HookThread::visit_histograms(
    const std::function<void(const std::string&, const proxy::Histogram&)>& visit) const {
    impl_->loop->visit_histograms(visit);
}

}  // namespace afterhook::hooks
