#include "support/child_process.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace afterhook::testing {

ChildProcess::ChildProcess(std::vector<std::string> argv) {
    if (argv.empty()) throw std::runtime_error("ChildProcess: empty argv");
    if (::access(argv[0].c_str(), X_OK) != 0) {
        throw std::runtime_error("ChildProcess: " + argv[0] + " is not an executable file (" +
                                 std::strerror(errno) + ")");
    }
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("ChildProcess: pipe2 failed");
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        throw std::runtime_error("ChildProcess: pipe2 failed");
    }
    std::vector<char*> args;
    for (std::string& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    const pid_t parent = ::getpid();

    pid_ = ::fork();
    if (pid_ == 0) {
        // Child: only async-signal-safe calls until exec.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::setpgid(0, 0);
        ::dup2(out_pipe[1], STDOUT_FILENO);
        ::dup2(err_pipe[1], STDERR_FILENO);
        ::execve(args[0], args.data(), environ);
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (pid_ < 0) {
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        throw std::runtime_error("ChildProcess: fork failed");
    }
    reader_ = std::thread([this, out = out_pipe[0], err = err_pipe[0]] { read_output(out, err); });
}

ChildProcess::~ChildProcess() { stop(); }

void ChildProcess::read_output(int out_fd, int err_fd) {
    std::string pending_out;
    std::string pending_err;
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    std::string* pending[2] = {&pending_out, &pending_err};
    int open_count = 2;
    char buffer[8192];
    while (open_count > 0) {
        // A helper the child started may hold the pipes open after the child
        // is gone; once stop() has reaped the child, stop at the first quiet
        // moment instead of waiting for that helper.
        const int ready = ::poll(fds, 2, 50);
        if (ready < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (ready == 0) {
            if (stop_reading_.load()) break;
            continue;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n > 0) {
                append(i == 1, *pending[i], buffer, static_cast<size_t>(n));
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_count;
            }
        }
    }
    for (int i = 0; i < 2; ++i) {
        if (fds[i].fd >= 0) ::close(fds[i].fd);
    }
    std::lock_guard lock(mutex_);
    if (!pending_out.empty()) lines_.push_back({false, pending_out});
    if (!pending_err.empty()) lines_.push_back({true, pending_err});
    output_closed_ = true;
    changed_.notify_all();
}

void ChildProcess::append(bool from_stderr, std::string& pending, const char* data, size_t size) {
    pending.append(data, size);
    std::lock_guard lock(mutex_);
    size_t start = 0;
    for (size_t newline = pending.find('\n'); newline != std::string::npos;
         newline = pending.find('\n', start)) {
        lines_.push_back({from_stderr, pending.substr(start, newline - start)});
        start = newline + 1;
    }
    pending.erase(0, start);
    changed_.notify_all();
}

std::optional<std::string> ChildProcess::wait_for_line(const std::regex& pattern,
                                                       Clock::duration timeout, size_t from) {
    const Deadline deadline = deadline_in(timeout);
    std::unique_lock lock(mutex_);
    size_t next = from;
    for (;;) {
        for (; next < lines_.size(); ++next) {
            if (std::regex_search(lines_[next].text, pattern)) return lines_[next].text;
        }
        if (output_closed_) return std::nullopt;
        if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
            for (; next < lines_.size(); ++next) {
                if (std::regex_search(lines_[next].text, pattern)) return lines_[next].text;
            }
            return std::nullopt;
        }
    }
}

std::vector<ChildProcess::Line> ChildProcess::lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
}

size_t ChildProcess::line_count() const {
    std::lock_guard lock(mutex_);
    return lines_.size();
}

std::string ChildProcess::tail(size_t count) const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (size_t i = lines_.size() > count ? lines_.size() - count : 0; i < lines_.size(); ++i) {
        out += (lines_[i].from_stderr ? "[stderr] " : "[stdout] ") + lines_[i].text + "\n";
    }
    return out;
}

uint64_t ChildProcess::rss_bytes() const {
    if (reaped_.load()) return 0;
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
    }
    return 0;
}

bool ChildProcess::send_signal(int signal_number) const {
    if (reaped_ || pid_ <= 0) return false;
    return ::kill(pid_, signal_number) == 0;
}

bool ChildProcess::exited() {
    if (reaped_) return true;
    if (pid_ <= 0) return true;
    const pid_t result = ::waitpid(pid_, &wait_status_, WNOHANG);
    if (result == pid_ || (result < 0 && errno == ECHILD)) reaped_ = true;
    return reaped_;
}

bool ChildProcess::wait_exit(Clock::duration timeout) {
    return wait_until([this] { return exited(); }, timeout, Millis(2));
}

int ChildProcess::stop(Clock::duration grace) {
    if (pid_ > 0 && !exited()) {
        ::kill(pid_, SIGTERM);
        if (!wait_exit(grace)) {
            killed_ = true;
            ::kill(-pid_, SIGKILL);
            ::waitpid(pid_, &wait_status_, 0);
            reaped_ = true;
        }
    }
    stop_reading_.store(true);
    if (reader_.joinable()) reader_.join();
    return wait_status_;
}

int ChildProcess::exit_code() const {
    if (WIFEXITED(wait_status_)) return WEXITSTATUS(wait_status_);
    if (WIFSIGNALED(wait_status_)) return -WTERMSIG(wait_status_);
    return 0;
}

}  // namespace afterhook::testing
