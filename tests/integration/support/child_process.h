// ChildProcess: one program started by a test, with its stdout and stderr
// captured line by line on a reader thread. Tests wait for lines with a
// deadline; stop() sends SIGTERM, escalates to SIGKILL after a deadline and
// always reaps the child, so no test leaves a process or a zombie behind.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

#include "support/wait.h"

namespace afterhook::testing {

class ChildProcess {
public:
    struct Line {
        bool from_stderr = false;
        std::string text;  // without the newline
    };

    // Starts `argv[0]` with the given arguments and the test's environment.
    // Throws std::runtime_error when the program cannot be started. The child
    // gets SIGKILL if the test process dies first.
    explicit ChildProcess(std::vector<std::string> argv);
    ~ChildProcess();  // stop() with the default deadline
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }

    // The first line (from index `from` on) matching `pattern` on stderr or
    // stdout, waiting until `timeout`; nothing on timeout or when the child
    // has exited and closed both streams without printing it.
    std::optional<std::string> wait_for_line(const std::regex& pattern, Clock::duration timeout,
                                             size_t from = 0);
    std::vector<Line> lines() const;
    size_t line_count() const;
    // The last `count` lines, one per line, for failure messages.
    std::string tail(size_t count = 40) const;

    // VmRSS from /proc/PID/status in bytes; 0 once the process is gone.
    uint64_t rss_bytes() const;
    bool send_signal(int signal_number) const;

    // True once the child has exited (reaps it when it has).
    bool exited();
    // Waits for the child to exit on its own until `timeout`.
    bool wait_exit(Clock::duration timeout);
    // SIGTERM, then SIGKILL when it has not exited within `grace`. Reaps the
    // child and joins the reader thread. Idempotent. Returns the exit status
    // as waitpid() reported it. The child runs in a process group of its own
    // and SIGKILL goes to the whole group, so helpers it started go too.
    int stop(Clock::duration grace = std::chrono::seconds(5));
    // Valid once exited(): exit code, or -signal when killed by a signal.
    int exit_code() const;
    bool killed_after_grace() const { return killed_; }

private:
    void read_output(int out_fd, int err_fd);
    void append(bool from_stderr, std::string& pending, const char* data, size_t size);

    pid_t pid_ = -1;
    std::atomic<bool> reaped_{false};
    int wait_status_ = 0;
    bool killed_ = false;
    std::thread reader_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Line> lines_;
    bool output_closed_ = false;
    std::atomic<bool> stop_reading_{false};
};

}  // namespace afterhook::testing
