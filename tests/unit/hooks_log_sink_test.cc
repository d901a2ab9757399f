#include <doctest/doctest.h>

#include "support/temp_files.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/template.h"
#include "hooks/hook_stats.h"
#include "hooks/log_sink.h"
#include "hooks/record.h"

namespace fs = std::filesystem;
using afterhook::hooks::HookStats;
using afterhook::hooks::LogSink;
using afterhook::hooks::LogSinkOptions;
using afterhook::hooks::Record;
using afterhook::hooks::RecordPtr;
using afterhook::hooks::SinkPtr;

namespace {

using afterhook::test::TempDir;

using afterhook::test::read_lines;

RecordPtr numbered(int n) {
    auto r = std::make_shared<Record>();
    r->id = "req-" + std::to_string(n);
    r->method = "GET";
    r->path = "/items/" + std::to_string(n);
    r->status = 200;
    return r;
}

// One loop per test, checked for leaked handles at the end.
struct TestLoop {
    uv_loop_t loop{};
    TestLoop() { REQUIRE(uv_loop_init(&loop) == 0); }
    ~TestLoop() {
        uv_run(&loop, UV_RUN_DEFAULT);  // close callbacks and last file requests
        CHECK(uv_loop_close(&loop) == 0);
    }

    // Runs the loop until `done()` holds or the deadline passes. A repeating
    // timer keeps each iteration short whatever else is (not) active.
    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        uv_timer_t tick;
        uv_timer_init(&loop, &tick);
        uv_timer_start(&tick, [](uv_timer_t*) {}, 5, 5);
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        bool met = done();
        while (!met && std::chrono::steady_clock::now() < deadline) {
            uv_run(&loop, UV_RUN_ONCE);
            met = done();
        }
        uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
        uv_run(&loop, UV_RUN_NOWAIT);  // the tick's close callback, before `tick` goes away
        return met;
    }
};

// Redirects fd 2 into a file for the lifetime of the object.
struct StderrCapture {
    fs::path file;
    int saved = -1;
    explicit StderrCapture(fs::path into) : file(std::move(into)) {
        const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        REQUIRE(fd >= 0);
        saved = ::dup(2);
        ::dup2(fd, 2);
        ::close(fd);
    }
    ~StderrCapture() { release(); }
    void release() {
        if (saved < 0) return;
        ::dup2(saved, 2);
        ::close(saved);
        saved = -1;
    }
};

size_t count_containing(const std::vector<std::string>& lines, const std::string& needle) {
    size_t n = 0;
    for (const auto& line : lines) n += line.find(needle) != std::string::npos;
    return n;
}

}  // namespace

TEST_CASE("log sink: writes every record as one JSON line, in order") {
    TempDir dir;
    const auto file = dir.path / "access.log";
    HookStats stats("access");
    {
        TestLoop loop;
        SinkPtr sink(new LogSink(&loop.loop, stats, file.string()));
        constexpr int n = 5000;  // several writes of flush_bytes (256 KiB)
        for (int i = 0; i < n; ++i) sink->deliver(numbered(i), {});
        sink->flush();
        CHECK(loop.run_until([&] { return sink->idle(); }));
        CHECK(stats.delivered == n);
        CHECK(stats.failed == 0);
        CHECK(stats.dropped == 0);
        CHECK(stats.queue_depth == 0);
        sink.reset();
    }
    const auto lines = read_lines(file);
    REQUIRE(lines.size() == 5000);
    for (size_t i = 0; i < lines.size(); ++i) {
        const auto json = nlohmann::json::parse(lines[i]);
        REQUIRE(json["afterhook.request.id"] == "req-" + std::to_string(i));
    }
    const mode_t mask = ::umask(0);
    ::umask(mask);
    CHECK(static_cast<mode_t>(fs::status(file).permissions() & fs::perms::all) == (0644 & ~mask));
}

TEST_CASE("log sink: with a format, each record is the rendered template and a newline") {
    TempDir dir;
    const auto file = dir.path / "access.log";
    HookStats stats("access");
    afterhook::config::Template format;
    std::string error;
    const std::string source = "{{request.method}} {{request.path}}\n{{response.status}} {{trigger.k}}";
    REQUIRE(afterhook::config::compile_template(source, {}, format, error));
    {
        TestLoop loop;
        SinkPtr sink(new LogSink(&loop.loop, stats, file.string(), format));
        sink->deliver(numbered(1), {{"k", "v"}});
        sink->deliver(numbered(2), {});
        sink->flush();
        CHECK(loop.run_until([&] { return sink->idle(); }));
        CHECK(stats.delivered == 2);
    }
    // A newline written into the format would split the event: it becomes a space.
    CHECK(read_lines(file) == std::vector<std::string>{"GET /items/1 200 v", "GET /items/2 200 "});
}

TEST_CASE("log sink: appends to an existing file") {
    TempDir dir;
    const auto file = dir.path / "access.log";
    std::ofstream(file) << "earlier line\n";
    HookStats stats("access");
    {
        TestLoop loop;
        SinkPtr sink(new LogSink(&loop.loop, stats, file.string()));
        sink->deliver(numbered(1), {});
        sink->flush();
        CHECK(loop.run_until([&] { return sink->idle(); }));
    }
    const auto lines = read_lines(file);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "earlier line");
}

TEST_CASE("log sink: a small buffer is written by the flush timer without an explicit flush") {
    TempDir dir;
    const auto file = dir.path / "access.log";
    HookStats stats("access");
    TestLoop loop;
    SinkPtr sink(new LogSink(&loop.loop, stats, file.string()));
    sink->deliver(numbered(7), {});
    CHECK(stats.queue_depth == 1);
    CHECK(loop.run_until([&] { return stats.delivered == 1; }));
    CHECK(read_lines(file).size() == 1);
}

TEST_CASE("log sink: lines beyond the buffer bound are dropped and counted") {
    TempDir dir;
    const auto file = dir.path / "access.log";
    HookStats stats("access");
    LogSinkOptions options;
    options.max_buffer_bytes = 4096;
    {
        TestLoop loop;
        SinkPtr sink(new LogSink(&loop.loop, stats, file.string(), {}, options));
        for (int i = 0; i < 100; ++i) sink->deliver(numbered(i), {});
        CHECK(stats.dropped > 0);
        CHECK(stats.queue_depth == 100 - stats.dropped);
        sink->flush();
        CHECK(loop.run_until([&] { return sink->idle(); }));
        CHECK(stats.delivered + stats.dropped == 100);
    }
    CHECK(read_lines(file).size() == stats.delivered);
    CHECK(fs::file_size(file) <= 4096 + 1024);
}

TEST_CASE("log sink: write errors are counted as failed and reported once per burst") {
    TempDir dir;
    HookStats stats("full-disk");
    StderrCapture capture(dir.path / "stderr");
    {
        TestLoop loop;
        SinkPtr sink(new LogSink(&loop.loop, stats, "/dev/full"));  // every write fails with ENOSPC
        for (int round = 0; round < 3; ++round) {
            for (int i = 0; i < 10; ++i) sink->deliver(numbered(i), {});
            sink->flush();
            CHECK(loop.run_until([&] { return sink->idle(); }));
        }
    }
    capture.release();
    CHECK(stats.failed == 30);
    CHECK(stats.delivered == 0);
    CHECK(stats.queue_depth == 0);
    const auto reports = read_lines(capture.file);
    CHECK(count_containing(reports, "hook log write failed hook=full-disk path=/dev/full error=ENOSPC") == 1);
}

TEST_CASE("log sink: a write cut short counts whole lines written as delivered, the rest as failed") {
    TempDir dir;
    const auto file = dir.path / "access.log";
    HookStats stats("access");
    // A file size limit makes write(2) write up to the limit, then fail with EFBIG.
    constexpr rlim_t limit = 1000;
    rlimit saved_limit{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &saved_limit) == 0);
    auto saved_signal = signal(SIGXFSZ, SIG_IGN);
    rlimit small = saved_limit;
    small.rlim_cur = limit;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    StderrCapture capture(dir.path / "stderr");
    {
        TestLoop loop;
        SinkPtr sink(new LogSink(&loop.loop, stats, file.string()));
        for (int i = 0; i < 20; ++i) sink->deliver(numbered(i), {});
        sink->flush();
        CHECK(loop.run_until([&] { return sink->idle(); }));
    }
    capture.release();
    setrlimit(RLIMIT_FSIZE, &saved_limit);
    signal(SIGXFSZ, saved_signal);

    CHECK(fs::file_size(file) == limit);
    std::ifstream in(file);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto complete_lines = static_cast<uint64_t>(std::count(content.begin(), content.end(), '\n'));
    CHECK(complete_lines > 0);
    CHECK(stats.delivered == complete_lines);
    CHECK(stats.failed == 20 - complete_lines);
    CHECK(count_containing(read_lines(capture.file), "error=EFBIG") == 1);
}

TEST_CASE("log sink: a path that cannot be opened fails with the hook and the path") {
    HookStats stats("audit");
    TestLoop loop;
    try {
        SinkPtr sink(new LogSink(&loop.loop, stats, "/nonexistent-afterhook-dir/audit.log"));
        FAIL("the sink opened a file in a directory that does not exist");
    } catch (const std::runtime_error& error) {
        const std::string message = error.what();
        CHECK(message.find("audit") != std::string::npos);
        CHECK(message.find("/nonexistent-afterhook-dir/audit.log") != std::string::npos);
        CHECK(message.find("ENOENT") != std::string::npos);
    }
}

TEST_CASE("log sink: reopen after a rename writes later lines to the new file") {
    TempDir dir;
    const auto file = dir.path / "access.log";
    const auto rotated = dir.path / "access.log.1";
    HookStats stats("access");
    {
        TestLoop loop;
        SinkPtr sink(new LogSink(&loop.loop, stats, file.string()));
        for (int i = 0; i < 3; ++i) sink->deliver(numbered(i), {});
        sink->flush();
        CHECK(loop.run_until([&] { return stats.delivered == 3; }));

        fs::rename(file, rotated);
        sink->reopen();
        sink->reopen();  // a second request while the first is in flight is harmless
        for (int i = 3; i < 5; ++i) sink->deliver(numbered(i), {});
        sink->flush();
        CHECK(loop.run_until([&] { return stats.delivered == 5 && sink->idle(); }));
    }
    const auto old_lines = read_lines(rotated);
    const auto new_lines = read_lines(file);
    REQUIRE(old_lines.size() == 3);
    REQUIRE(new_lines.size() == 2);
    CHECK(nlohmann::json::parse(new_lines[0])["afterhook.request.id"] == "req-3");
}

TEST_CASE("log sink: abandon drops what is buffered and counts it") {
    TempDir dir;
    const auto file = dir.path / "access.log";
    HookStats stats("access");
    {
        TestLoop loop;
        SinkPtr sink(new LogSink(&loop.loop, stats, file.string()));
        for (int i = 0; i < 10; ++i) sink->deliver(numbered(i), {});
        CHECK(sink->abandon() == 10);
        CHECK(stats.dropped == 10);
        CHECK(stats.queue_depth == 0);
        sink->deliver(numbered(11), {});  // after abandon nothing new is taken
        CHECK(stats.dropped == 11);
        CHECK(sink->idle());
    }
    CHECK(fs::file_size(file) == 0);
}

TEST_CASE("log sink: closing with lines buffered drops and counts them") {
    TempDir dir;
    HookStats stats("access");
    {
        TestLoop loop;
        SinkPtr sink(new LogSink(&loop.loop, stats, (dir.path / "access.log").string()));
        for (int i = 0; i < 4; ++i) sink->deliver(numbered(i), {});
    }
    CHECK(stats.dropped == 4);
    CHECK(stats.delivered == 0);
}

TEST_CASE("log sink: stderr is written to fd 2 and left open") {
    TempDir dir;
    HookStats stats("console");
    StderrCapture capture(dir.path / "stderr");
    {
        TestLoop loop;
        SinkPtr sink(new LogSink(&loop.loop, stats, "stderr"));
        sink->deliver(numbered(1), {});
        sink->deliver(numbered(2), {});
        sink->flush();
        CHECK(loop.run_until([&] { return sink->idle(); }));
    }
    CHECK(fcntl(2, F_GETFD) != -1);
    capture.release();
    const auto lines = read_lines(capture.file);
    REQUIRE(lines.size() == 2);
    CHECK(nlohmann::json::parse(lines[1])["afterhook.request.id"] == "req-2");
    CHECK(stats.delivered == 2);
}
