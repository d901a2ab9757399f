// ExecAction: the `exec` hook's Action. Each attempt runs the configured
// command as a child process on the hook thread's loop:
// - argv is rendered from the command's templates and passed as it is, with
//   no shell in between (a value can never become shell syntax);
// - the record is written to the child's stdin as one JSON line, then stdin
//   is closed (a child that never reads it is fine);
// - the environment is afterhook's own plus AFTERHOOK_REQUEST_ID, _METHOD,
//   _PATH, _QUERY, _STATUS, _OUTCOME, _DURATION_MS, _CLIENT_IP, _HOOK and one
//   AFTERHOOK_TRIGGER_<PARAM> per trigger param (upper case, every character
//   other than A-Z and 0-9 turned into '_');
// - stdout and stderr are read to the end; the first few KiB of each are
//   kept for the diagnostics line written when the attempt fails.
// The child is the leader of a new process group, so the deadline reaches
// whatever it started: SIGTERM to the group at the attempt's timeout, SIGKILL
// `kill_grace` later. Every child is reaped through its exit callback.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "hooks/delivery.h"

namespace afterhook::hooks {

struct ExecActionOptions {
    size_t capture_bytes = 4096;          // kept per output stream; the rest is read and discarded
    uint64_t report_interval_ms = 1000;   // at most one failure line per interval, per action
};

class ExecAction final : public Action {
public:
    using Options = ExecActionOptions;

    // Takes its own copy of the command templates: the config may be replaced
    // (reload) while attempts are still running.
    ExecAction(uv_loop_t* loop, const config::ExecSink& sink, std::string hook_name, Options options = {});
    // Only once nothing is in flight: after `closed` ran, or when in_flight() is 0.
    ~ExecAction() override;

    ExecAction(const ExecAction&) = delete;
    ExecAction& operator=(const ExecAction&) = delete;

    // Spawns the child at once. `done` runs once the child has exited and
    // its output pipes are at end of file (or closed past the deadline) and
    // every handle of the attempt is closed; never inside start(), also when
    // the spawn fails. Results: exit 0 → delivered; a missing or unusable
    // binary (ENOENT, EACCES, ...) → failed; a non-zero exit, a signal, a
    // timeout or any other spawn error → retry (the DeliveryQueue decides
    // whether attempts are left). A timed-out attempt ends at most
    // `timeout + 2 * kill_grace` after it started, unless the kernel cannot
    // kill the child (uninterruptible sleep): it is never left unreaped.
    void start(const Delivery& delivery, std::chrono::milliseconds timeout, Done done) override;
    size_t in_flight() const override;
    // Sends SIGKILL to every running child and waits for their exit
    // callbacks; attempts still running end as failed ("shutdown"). `closed`
    // runs after the last `done`, or at once when nothing is in flight.
    // start() after close() fails the attempt with "shutdown".
    void close(std::function<void()> closed) override;

private:
    class Attempt;

    std::vector<std::string> render_argv(const Delivery& delivery) const;
    std::vector<std::string> build_environment(const Delivery& delivery) const;
    void complete(Attempt* attempt);
    void report_failure(const Attempt& attempt, const AttemptResult& result);
    void finish_close();

    uv_loop_t* loop_;
    const std::vector<config::Template> command_;
    const std::chrono::milliseconds kill_grace_;
    const std::string hook_;
    const Options options_;
    // afterhook's environment when the action was made, minus the variables
    // an attempt sets itself (a stale AFTERHOOK_TRIGGER_X must not leak in).
    std::vector<std::string> base_environment_;

    std::vector<Attempt*> attempts_;  // started, `done` not yet called
    bool closing_ = false;
    bool close_finished_ = false;  // `closed` ran: once only
    std::function<void()> closed_;

    // Failure lines are rate-limited: one per interval, counting the rest.
    bool reported_ = false;
    uint64_t last_report_ms_ = 0;
    uint64_t suppressed_ = 0;
};

std::unique_ptr<Action> make_exec_action(uv_loop_t* loop, const config::ExecSink& sink, std::string hook_name);

}  // namespace afterhook::hooks
