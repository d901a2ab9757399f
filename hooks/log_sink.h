// LogSink: the `log` hook. Formats each record as one JSON line, or as its
// `format` template followed by '\n', into a buffer on the hook thread and
// writes the buffer with uv_fs_write, which runs on libuv's thread pool: a
// slow or stuck disk (or a stdout pipe nobody reads) never blocks the hook
// thread's loop.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.h"
#include "hooks/sink.h"

namespace afterhook::hooks {

// A write costs more than its bytes: a thread-pool round trip, and the file
// system's per-call work (the inode's times, a journal handle). At about
// 45,000 lines a second, writes of 256 KiB instead of 64 KiB took the thread
// pool's CPU per line from a median of 0.42 to 0.33 microseconds; a line
// waits no longer for it, the flush interval bounds that either way.
struct LogSinkOptions {
    size_t flush_bytes = 256 * 1024;            // a write starts once this much is buffered
    size_t max_buffer_bytes = 8 * 1024 * 1024;  // buffered + unwritten; beyond it lines are dropped
    uint64_t flush_interval_ms = 50;            // a smaller buffer waits at most this long
    uint64_t report_interval_ms = 10000;        // at most one failure report per interval
};

class LogSink final : public Sink {
public:
    using Options = LogSinkOptions;

    // `path` is "stdout", "stderr" or a file, opened here for appending
    // (created with mode 0644). An empty `format` writes JSON lines.
    // Start-up only: throws std::runtime_error naming the hook and the path
    // when the file cannot be opened.
    LogSink(uv_loop_t* loop, HookStats& stats, std::string path, config::Template format = {},
            Options options = {});

    void deliver(const RecordPtr& record, const TriggerParams& trigger) override;
    void flush() override;
    bool idle() const override;
    // Half the buffer bound: a drain never brings the sink near dropping.
    bool backlogged() const override;
    uint64_t abandon() override;
    // Opens the path again (on the thread pool) and switches to the new file
    // once the write in flight, if any, is complete. Lines delivered after
    // this call land in the new file. A failure keeps the old file.
    void reopen() override;
    void close() override;

private:
    ~LogSink() override = default;

    static void on_write_done(uv_fs_t* request);
    static void on_reopen_done(uv_fs_t* request);
    static void on_fd_closed(uv_fs_t* request);
    static void on_timer(uv_timer_t* timer);
    static void on_timer_closed(uv_handle_t* handle);

    void start_write();
    void complete_write(ssize_t result);
    void complete_reopen(ssize_t result);
    void fail_unwritten(ssize_t error);
    void drop_unwritten();
    void release_written_buffer();
    void switch_to_next_fd();
    void close_fd(uv_file fd);
    void flush_when_due();
    void arm_timer_for_pending();
    void arm_timer();
    void advance_close();
    void report_failure(ssize_t error, uint64_t lines);
    void report_recovery();
    void publish_depth();
    void append_line(const Record& record, const TriggerParams& trigger);
    size_t unwritten() const { return writing_.size() - written_; }

    uv_loop_t* loop_;
    HookStats& stats_;
    QueueDepthShare depth_{stats_};  // this sink's part of stats_.queue_depth
    const std::string path_;
    const config::Template format_;
    const Options options_;
    const bool owns_fd_;       // false for stdout and stderr, which are never closed
    uv_file fd_ = -1;
    uv_file next_fd_ = -1;     // opened by reopen(), waiting for the write in flight

    uv_timer_t timer_{};       // flush interval, and the retry after EAGAIN
    uv_fs_t write_request_{};
    uv_fs_t reopen_request_{};

    // Lines are appended to pending_; a flush swaps it with writing_, whose
    // bytes from written_ on are not yet written. Line counts follow the
    // bytes: a line is delivered when its '\n' has been written.
    std::string pending_;
    std::string writing_;
    size_t written_ = 0;
    // When the write of writing_ began: each line written is observed in
    // HookStats::delivery_duration with the time since.
    std::chrono::steady_clock::time_point write_started_;
    uint64_t pending_lines_ = 0;
    uint64_t writing_lines_ = 0;

    bool write_in_flight_ = false;
    bool reopen_in_flight_ = false;
    bool reopen_again_ = false;
    bool abandoned_ = false;
    bool closing_ = false;
    bool timer_closed_ = false;
    unsigned fd_closes_in_flight_ = 0;

    // Failure reports are rate-limited: one when a burst of failures starts,
    // then at most one per report interval, then one when writes recover.
    bool failing_ = false;
    uint64_t last_report_ms_ = 0;
    uint64_t failed_since_report_ = 0;
};

}  // namespace afterhook::hooks
