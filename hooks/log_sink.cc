#include "hooks/log_sink.h"

#include <fcntl.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#include "hooks/record_json.h"
#include "hooks/template_render.h"
#include "proxy/log.h"

namespace afterhook::hooks {

namespace {

constexpr int open_flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
constexpr int open_mode = 0644;

// A buffer that grew past this during a burst is released once written, so
// one burst does not pin megabytes for the life of the process.
constexpr size_t retained_buffer_bytes = 1024 * 1024;

uv_file standard_fd(const std::string& path) {
    if (path == "stdout") return 1;
    if (path == "stderr") return 2;
    return -1;
}

// Opens `path` synchronously: start-up only, where blocking is acceptable and
// a clear error must reach the operator before anything is served.
uv_file open_at_start(uv_loop_t* loop, const std::string& hook, const std::string& path) {
    uv_fs_t request;
    const int fd = uv_fs_open(loop, &request, path.c_str(), open_flags, open_mode, nullptr);
    uv_fs_req_cleanup(&request);
    if (fd < 0) {
        throw std::runtime_error("hook " + hook + ": cannot open log file " + path + ": " + uv_strerror(fd) +
                                 " (" + uv_err_name(fd) + ")");
    }
    return fd;
}

uint64_t count_lines(const std::string& buffer, size_t from, size_t length) {
    const auto begin = buffer.begin() + static_cast<std::ptrdiff_t>(from);
    return static_cast<uint64_t>(std::count(begin, begin + static_cast<std::ptrdiff_t>(length), '\n'));
}

std::string error_name(ssize_t error) { return uv_err_name(static_cast<int>(error)); }

}  // namespace

LogSink::LogSink(uv_loop_t* loop, HookStats& stats, std::string path, config::Template format, Options options)
    : loop_(loop),
      stats_(stats),
      path_(std::move(path)),
      format_(std::move(format)),
      options_(options),
      owns_fd_(standard_fd(path_) < 0),
      fd_(owns_fd_ ? open_at_start(loop, stats.hook, path_) : standard_fd(path_)) {
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
}

void LogSink::deliver(const RecordPtr& record, const TriggerParams& trigger) {
    if (abandoned_ || closing_ || pending_.size() + unwritten() >= options_.max_buffer_bytes) {
        stats_.add_dropped(1);
        return;
    }
    append_line(*record, trigger);
    ++pending_lines_;
    publish_depth();
    flush_when_due();
}

void LogSink::flush() {
    if (write_in_flight_ || abandoned_ || closing_) return;
    if (unwritten() > 0) {  // the rest of a buffer whose write was cut short
        start_write();
        return;
    }
    // While a reopen is in flight, new lines wait for the new file.
    if (pending_.empty() || reopen_in_flight_) return;
    uv_timer_stop(&timer_);
    writing_.swap(pending_);
    pending_.clear();
    written_ = 0;
    writing_lines_ = pending_lines_;
    pending_lines_ = 0;
    start_write();
}

bool LogSink::idle() const { return !write_in_flight_ && unwritten() == 0 && pending_.empty(); }

bool LogSink::backlogged() const { return pending_.size() + unwritten() >= options_.max_buffer_bytes / 2; }

uint64_t LogSink::abandon() {
    if (abandoned_) return 0;
    abandoned_ = true;
    uv_timer_stop(&timer_);
    const uint64_t unconfirmed = pending_lines_ + writing_lines_;
    stats_.add_dropped(pending_lines_);
    pending_.clear();
    pending_lines_ = 0;
    if (write_in_flight_) {
        // Succeeds only if the write has not started on the thread pool yet;
        // either way complete_write() accounts for its lines.
        uv_cancel(reinterpret_cast<uv_req_t*>(&write_request_));
    } else {
        drop_unwritten();
    }
    publish_depth();
    return unconfirmed;
}

void LogSink::reopen() {
    if (!owns_fd_ || abandoned_ || closing_) return;
    if (reopen_in_flight_) {
        reopen_again_ = true;  // a rename may have happened after that open began
        return;
    }
    reopen_request_.data = this;
    const int result = uv_fs_open(loop_, &reopen_request_, path_.c_str(), open_flags, open_mode, on_reopen_done);
    if (result < 0) {
        log::error("hook log reopen failed, writing to the old file hook=" + stats_.hook + " path=" + path_ +
                   " error=" + error_name(result));
        return;
    }
    reopen_in_flight_ = true;
}

void LogSink::close() {
    if (closing_) return;
    abandon();  // nothing is left to drop after a drain
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_timer_closed);
    advance_close();
}

void LogSink::on_write_done(uv_fs_t* request) {
    auto* sink = static_cast<LogSink*>(request->data);
    const ssize_t result = request->result;
    uv_fs_req_cleanup(request);
    sink->complete_write(result);
}

void LogSink::on_reopen_done(uv_fs_t* request) {
    auto* sink = static_cast<LogSink*>(request->data);
    const ssize_t result = request->result;
    uv_fs_req_cleanup(request);
    sink->complete_reopen(result);
}

void LogSink::on_fd_closed(uv_fs_t* request) {
    auto* sink = static_cast<LogSink*>(request->data);
    uv_fs_req_cleanup(request);
    delete request;
    --sink->fd_closes_in_flight_;
    if (sink->closing_) sink->advance_close();
}

void LogSink::on_timer(uv_timer_t* timer) { static_cast<LogSink*>(timer->data)->flush(); }

void LogSink::on_timer_closed(uv_handle_t* handle) {
    auto* sink = static_cast<LogSink*>(handle->data);
    sink->timer_closed_ = true;
    sink->advance_close();
}

void LogSink::start_write() {
    if (written_ == 0) write_started_ = std::chrono::steady_clock::now();
    uv_buf_t buffer = uv_buf_init(writing_.data() + written_, static_cast<unsigned>(unwritten()));
    write_request_.data = this;
    // Offset -1 writes at the current position; with O_APPEND that is the end.
    const int result = uv_fs_write(loop_, &write_request_, fd_, &buffer, 1, -1, on_write_done);
    if (result < 0) {
        complete_write(result);
        return;
    }
    write_in_flight_ = true;
}

// Accounts for one finished write and decides what happens next: continue a
// partial write, retry later, move on to the next buffer, or finish closing.
void LogSink::complete_write(ssize_t result) {
    write_in_flight_ = false;
    if (result > 0) {
        const auto length = static_cast<size_t>(result);
        // A write that took everything left took every line left; only a
        // partial write needs counting (the buffer ends with a newline).
        const uint64_t lines =
            written_ + length == writing_.size() ? writing_lines_ : count_lines(writing_, written_, length);
        written_ += length;
        writing_lines_ -= lines;
        stats_.add_delivered(lines);
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - write_started_;
        stats_.observe_delivery(took.count(), lines);
        report_recovery();
    } else if (abandoned_) {
        // Cancelled or not: what is left is dropped just below.
    } else if (result == 0 || result == UV_EAGAIN) {
        arm_timer();  // a non-blocking stdout pipe is full: try again shortly
        publish_depth();
        return;
    } else {
        fail_unwritten(result);
    }
    if (abandoned_) drop_unwritten();
    if (unwritten() > 0) {
        start_write();
        return;
    }
    release_written_buffer();
    if (closing_) {
        advance_close();  // may free this sink: nothing may follow
        return;
    }
    switch_to_next_fd();
    flush_when_due();  // a drain flushes whatever is there itself
    publish_depth();
    notify_progress();
}

void LogSink::complete_reopen(ssize_t result) {
    reopen_in_flight_ = false;
    if (result >= 0) {
        close_fd(next_fd_);  // a reopen that was never switched to
        next_fd_ = static_cast<uv_file>(result);
    } else if (!closing_) {
        log::error("hook log reopen failed, writing to the old file hook=" + stats_.hook + " path=" + path_ +
                   " error=" + error_name(result));
    }
    if (closing_) {
        advance_close();  // may free this sink: nothing may follow
        return;
    }
    if (!write_in_flight_ && unwritten() == 0) switch_to_next_fd();
    if (reopen_again_) {
        reopen_again_ = false;
        reopen();
    }
    flush();
    arm_timer_for_pending();
}

void LogSink::fail_unwritten(ssize_t error) {
    stats_.add_failed(writing_lines_);
    report_failure(error, writing_lines_);
    writing_lines_ = 0;
    written_ = writing_.size();
}

void LogSink::drop_unwritten() {
    stats_.add_dropped(writing_lines_);
    writing_lines_ = 0;
    written_ = writing_.size();
}

void LogSink::release_written_buffer() {
    if (writing_.capacity() > retained_buffer_bytes) {
        std::string().swap(writing_);
    } else {
        writing_.clear();
    }
    written_ = 0;
}

void LogSink::switch_to_next_fd() {
    if (next_fd_ < 0) return;
    close_fd(fd_);
    fd_ = next_fd_;
    next_fd_ = -1;
}

// Closes a file descriptor this sink opened, on the thread pool: closing a
// file can block (network file systems flush on close).
void LogSink::close_fd(uv_file fd) {
    if (fd < 0 || !owns_fd_) return;
    auto* request = new uv_fs_t;
    request->data = this;
    if (uv_fs_close(loop_, request, fd, on_fd_closed) < 0) {
        delete request;
        return;
    }
    ++fd_closes_in_flight_;
}

// A full write's worth of lines goes out now; less waits for the flush
// timer, not for the next event: back-to-back small writes cost a thread
// pool round trip each.
void LogSink::flush_when_due() {
    if (pending_.size() >= options_.flush_bytes) flush();
    arm_timer_for_pending();
}

// Lines wait and nothing will write them by itself (a write or reopen in
// flight flushes again when it completes): the flush timer will.
void LogSink::arm_timer_for_pending() {
    if (!pending_.empty() && !write_in_flight_ && !reopen_in_flight_) arm_timer();
}

void LogSink::arm_timer() {
    if (closing_ || uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_))) return;
    uv_timer_start(&timer_, on_timer, options_.flush_interval_ms, 0);
}

// Frees the sink once nothing refers to it any more: the timer is closed, no
// write or open is on the thread pool and its files are closed. Called from
// libuv callbacks only, so that `delete this` is the last thing to happen.
void LogSink::advance_close() {
    if (write_in_flight_ || reopen_in_flight_) return;
    close_fd(fd_);
    fd_ = -1;
    close_fd(next_fd_);
    next_fd_ = -1;
    if (timer_closed_ && fd_closes_in_flight_ == 0) delete this;
}

void LogSink::report_failure(ssize_t error, uint64_t lines) {
    failed_since_report_ += lines;
    const uint64_t now = uv_now(loop_);
    if (failing_ && now - last_report_ms_ < options_.report_interval_ms) return;
    log::error("hook log write failed hook=" + stats_.hook + " path=" + path_ + " error=" + error_name(error) +
               " failed_lines=" + std::to_string(failed_since_report_));
    failing_ = true;
    last_report_ms_ = now;
    failed_since_report_ = 0;
}

void LogSink::report_recovery() {
    if (!failing_) return;
    log::info("hook log write recovered hook=" + stats_.hook + " path=" + path_ +
              " failed_lines_unreported=" + std::to_string(failed_since_report_));
    failing_ = false;
    failed_since_report_ = 0;
}

// One event, one line: a newline in the rendered text (written into the
// format itself; no record value holds one) would split the event over two
// lines and throw off the delivered count, which follows the newlines, so it
// becomes a space.
void LogSink::append_line(const Record& record, const TriggerParams& trigger) {
    if (format_.empty()) {
        append_json_line(pending_, record);
        return;
    }
    const size_t begin = pending_.size();
    render_text(format_, RenderContext{record, trigger, stats_.hook}, pending_);
    std::replace(pending_.begin() + static_cast<std::ptrdiff_t>(begin), pending_.end(), '\n', ' ');
    pending_.push_back('\n');
}

void LogSink::publish_depth() { depth_.publish(pending_lines_ + writing_lines_); }

}  // namespace afterhook::hooks
