#include <doctest/doctest.h>

#include "support/temp_files.h"
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/template.h"
#include "hooks/delivery.h"
#include "hooks/exec_action.h"
#include "hooks/record.h"
#include "tests/unit/hooks_test_loop.h"

namespace fs = std::filesystem;
using afterhook::hooks::Action;
using afterhook::hooks::AttemptResult;
using afterhook::hooks::Delivery;
using afterhook::hooks::ExecAction;
using afterhook::hooks::Record;
using afterhook::hooks::RecordPtr;
using afterhook::hooks::TriggerParams;
using Status = AttemptResult::Status;
using namespace std::chrono_literals;

namespace {

using afterhook::test::run_loop_until;
using afterhook::test::TempDir;

std::string read_file(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The fields of /proc/PID/stat that the tests look at.
struct ProcStat {
    int pid = 0;
    char state = '?';
    int ppid = 0;
};

std::vector<ProcStat> all_processes() {
    std::vector<ProcStat> processes;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string stat = read_file(entry.path() / "stat");
        const auto paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        ProcStat p;
        p.pid = std::stoi(name);
        std::istringstream fields(stat.substr(paren + 1));
        fields >> p.state >> p.ppid;  // the fields after the command name
        if (fields) processes.push_back(p);
    }
    return processes;
}

// Children of this test process in any state: zombies and survivors alike.
size_t own_children() {
    size_t n = 0;
    for (const auto& p : all_processes()) n += p.ppid == ::getpid();
    return n;
}

// True while process `pid` exists and is not a zombie.
bool alive(int pid) {
    for (const auto& p : all_processes())
        if (p.pid == pid) return p.state != 'Z';
    return false;
}

// One loop per test, checked for leaked handles and children at the end.
struct TestLoop {
    uv_loop_t loop{};
    TestLoop() {
        // The proxy ignores SIGPIPE process-wide; a child that does not read
        // its stdin must not kill the test either.
        ::signal(SIGPIPE, SIG_IGN);
        REQUIRE(uv_loop_init(&loop) == 0);
    }
    ~TestLoop() {
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);
        CHECK(own_children() == 0);
    }

    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
        return run_loop_until(&loop, done, timeout);
    }
};

// Redirects fd 2 (where diagnostics go) into a file for the object's lifetime.
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
    std::vector<std::string> lines() {
        std::vector<std::string> out;
        std::istringstream in(read_file(file));
        for (std::string line; std::getline(in, line);) out.push_back(line);
        return out;
    }
};

afterhook::config::ExecSink exec_sink(const std::vector<std::string>& command, std::chrono::milliseconds grace = 2s) {
    afterhook::config::ExecSink sink;
    afterhook::config::Capture capture;
    for (const auto& source : command) {
        afterhook::config::Template tmpl;
        std::string error;
        REQUIRE_MESSAGE(afterhook::config::compile_template(source, capture, tmpl, error), error);
        sink.command.push_back(std::move(tmpl));
    }
    sink.kill_grace = grace;
    return sink;
}

Record sample_record() {
    Record r;
    r.id = "req-42";
    r.method = "POST";
    r.target = "/orders/7?x=1";
    r.path = "/orders/7";
    r.query = "x=1";
    r.host = "shop.example";
    r.client_ip = "127.0.0.1";
    r.client_port = 50000;
    r.status = 201;
    r.outcome = afterhook::hooks::Outcome::ok;
    r.duration_ms = 12.5;
    return r;
}

// One attempt's outcome, filled by its `done` callback.
struct Attempt {
    int calls = 0;
    AttemptResult result;
    bool done() const { return calls > 0; }
};

// Starts one attempt and checks that `done` did not run inside start().
void start(Action& action, Attempt& attempt, const Record& record, std::chrono::milliseconds timeout = 10s,
           TriggerParams trigger = {}) {
    Delivery delivery{std::make_shared<const Record>(record), std::move(trigger), record.id + "-exec", 1};
    action.start(delivery, timeout, [&attempt](AttemptResult result) {
        ++attempt.calls;
        attempt.result = std::move(result);
    });
    CHECK(attempt.calls == 0);
}

// Runs one attempt to its end and returns its result.
AttemptResult run_once(TestLoop& loop, Action& action, const Record& record, std::chrono::milliseconds timeout = 10s,
                       TriggerParams trigger = {}) {
    Attempt attempt;
    start(action, attempt, record, timeout, std::move(trigger));
    REQUIRE(loop.run_until([&] { return attempt.done(); }, 20s));
    CHECK(attempt.calls == 1);
    CHECK(action.in_flight() == 0);
    return attempt.result;
}

void close_action(TestLoop& loop, std::unique_ptr<Action>& action) {
    bool closed = false;
    action->close([&] { closed = true; });
    REQUIRE(loop.run_until([&] { return closed; }));
    action.reset();
}

std::map<std::string, std::string> parse_env(const std::string& text) {
    std::map<std::string, std::string> env;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return env;
}

}  // namespace

TEST_CASE("exec action: arguments are rendered from templates and passed without a shell") {
    TempDir dir;
    const auto out = dir.path / "arg";
    const auto marker = dir.path / "marker";
    Record record = sample_record();
    record.id = "a b \"c\" 'd' $(touch " + marker.string() + ") `touch " + marker.string() + "`; $HOME * \\n";
    {
        TestLoop loop;
        auto action = afterhook::hooks::make_exec_action(
            &loop.loop,
            exec_sink({"/bin/sh", "-c", "printf '%s|%s' \"$1\" \"$2\" > \"$3\"", "sh", "{{request.id}}",
                       "{{request.method}} {{request.path}} {{hook}}", out.string()}),
            "notify");
        const AttemptResult result = run_once(loop, *action, record);
        CHECK(result.status == Status::delivered);
        CHECK(result.reason.empty());
        close_action(loop, action);
    }
    CHECK(read_file(out) == record.id + "|POST /orders/7 notify");
    CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("exec action: an argument with a NUL byte ends at it") {
    TempDir dir;
    const auto out = dir.path / "arg";
    Record record = sample_record();
    record.id = std::string("before\0after", 12);
    {
        TestLoop loop;
        auto action = afterhook::hooks::make_exec_action(
            &loop.loop, exec_sink({"/bin/sh", "-c", "printf '%s' \"$1\" > \"$2\"", "sh", "{{request.id}}", out.string()}),
            "nul");
        CHECK(run_once(loop, *action, record).status == Status::delivered);
        close_action(loop, action);
    }
    CHECK(read_file(out) == "before");
}

TEST_CASE("exec action: the record arrives on stdin as one JSON line") {
    TempDir dir;
    const auto out = dir.path / "stdin";
    Record record = sample_record();
    record.request_headers = {{"user-agent", "curl/8 \"quoted\"\n"}};
    {
        TestLoop loop;
        auto action = afterhook::hooks::make_exec_action(
            &loop.loop, exec_sink({"/bin/sh", "-c", "cat > \"$1\"", "sh", out.string()}), "stdin");
        CHECK(run_once(loop, *action, record).status == Status::delivered);
        close_action(loop, action);
    }
    const std::string text = read_file(out);
    REQUIRE(!text.empty());
    CHECK(text.back() == '\n');
    CHECK(text.find('\n') == text.size() - 1);
    const auto json = nlohmann::json::parse(text);
    CHECK(json["afterhook.request.id"] == "req-42");
    CHECK(json.dump().find("curl/8 \\\"quoted\\\"\\n") != std::string::npos);
}

TEST_CASE("exec action: a child that never reads a large stdin still succeeds") {
    Record record = sample_record();
    record.request_headers = {{"user-agent", std::string(512 * 1024, 'u')}};  // far beyond a pipe buffer
    TestLoop loop;
    auto action = afterhook::hooks::make_exec_action(&loop.loop, exec_sink({"/bin/true"}), "no-stdin");
    for (int i = 0; i < 3; ++i) CHECK(run_once(loop, *action, record).status == Status::delivered);
    close_action(loop, action);
}

TEST_CASE("exec action: environment carries the record, the hook and trigger params") {
    TempDir dir;
    const auto out = dir.path / "env";
    REQUIRE(::setenv("EXEC_ACTION_TEST_INHERITED", "from-parent", 1) == 0);
    REQUIRE(::setenv("AFTERHOOK_TRIGGER_STALE", "must-not-leak", 1) == 0);
    REQUIRE(::setenv("AFTERHOOK_STATUS", "999", 1) == 0);
    Record record = sample_record();
    record.query = std::string("q=1\0rest", 8);
    {
        TestLoop loop;
        auto action = afterhook::hooks::make_exec_action(
            &loop.loop, exec_sink({"/bin/sh", "-c", "env > \"$1\"", "sh", out.string()}), "purge-cache");
        const TriggerParams trigger = {{"key", "/p/42"}, {"user-id", "7"}, {"user_id", "8"}, {"Mixed.Case9", "m"}};
        CHECK(run_once(loop, *action, record, 10s, trigger).status == Status::delivered);
        close_action(loop, action);
    }
    ::unsetenv("EXEC_ACTION_TEST_INHERITED");
    ::unsetenv("AFTERHOOK_TRIGGER_STALE");
    ::unsetenv("AFTERHOOK_STATUS");
    const auto env = parse_env(read_file(out));
    CHECK(env.at("EXEC_ACTION_TEST_INHERITED") == "from-parent");
    CHECK(env.count("AFTERHOOK_TRIGGER_STALE") == 0);
    CHECK(env.at("AFTERHOOK_REQUEST_ID") == "req-42");
    CHECK(env.at("AFTERHOOK_METHOD") == "POST");
    CHECK(env.at("AFTERHOOK_PATH") == "/orders/7");
    CHECK(env.at("AFTERHOOK_QUERY") == "q=1");
    CHECK(env.at("AFTERHOOK_STATUS") == "201");
    CHECK(env.at("AFTERHOOK_OUTCOME") == "ok");
    CHECK(env.at("AFTERHOOK_DURATION_MS") == "12.500");
    CHECK(env.at("AFTERHOOK_CLIENT_IP") == "127.0.0.1");
    CHECK(env.at("AFTERHOOK_HOOK") == "purge-cache");
    CHECK(env.at("AFTERHOOK_TRIGGER_KEY") == "/p/42");
    CHECK(env.at("AFTERHOOK_TRIGGER_USER_ID") == "7");  // the first param that maps to the name
    CHECK(env.at("AFTERHOOK_TRIGGER_MIXED_CASE9") == "m");
}

TEST_CASE("exec action: exit status decides the result") {
    TestLoop loop;
    SUBCASE("exit 0 is delivered") {
        auto action = afterhook::hooks::make_exec_action(&loop.loop, exec_sink({"/bin/true"}), "true");
        const auto result = run_once(loop, *action, sample_record());
        CHECK(result.status == Status::delivered);
        CHECK_FALSE(result.retry_after.has_value());
        close_action(loop, action);
    }
    SUBCASE("exit 1 asks for a retry") {
        auto action = afterhook::hooks::make_exec_action(&loop.loop, exec_sink({"/bin/false"}), "false");
        const auto result = run_once(loop, *action, sample_record());
        CHECK(result.status == Status::retry);
        CHECK(result.reason == "exit 1");
        close_action(loop, action);
    }
    SUBCASE("exit 3 is reported as such") {
        auto action = afterhook::hooks::make_exec_action(&loop.loop, exec_sink({"/bin/sh", "-c", "exit 3"}), "three");
        const auto result = run_once(loop, *action, sample_record());
        CHECK(result.status == Status::retry);
        CHECK(result.reason == "exit 3");
        close_action(loop, action);
    }
    SUBCASE("a child killed by a signal it was not sent by the action") {
        auto action =
            afterhook::hooks::make_exec_action(&loop.loop, exec_sink({"/bin/sh", "-c", "kill -USR1 $$"}), "signal");
        const auto result = run_once(loop, *action, sample_record());
        CHECK(result.status == Status::retry);
        CHECK(result.reason == "killed by signal " + std::to_string(SIGUSR1));
        close_action(loop, action);
    }
}

TEST_CASE("exec action: a binary that is missing or not executable fails without retry") {
    TempDir dir;
    const auto script = dir.path / "not-executable";
    std::ofstream(script) << "#!/bin/sh\nexit 0\n";
    ::chmod(script.c_str(), 0644);
    TestLoop loop;
    StderrCapture diagnostics(dir.path / "stderr");
    {
        auto action = afterhook::hooks::make_exec_action(
            &loop.loop, exec_sink({(dir.path / "missing").string(), "{{request.id}}"}), "missing");
        const auto result = run_once(loop, *action, sample_record());
        CHECK(result.status == Status::failed);
        CHECK(result.reason == "spawn failed: no such file or directory");
        close_action(loop, action);
    }
    // A non-root user gets EACCES; root may execute a file without the x bit
    // only if some x bit is set, so EACCES holds for root too.
    {
        auto action = afterhook::hooks::make_exec_action(&loop.loop, exec_sink({script.string()}), "noexec");
        const auto result = run_once(loop, *action, sample_record());
        CHECK(result.status == Status::failed);
        CHECK(result.reason == "spawn failed: permission denied");
        close_action(loop, action);
    }
    diagnostics.release();
    const auto lines = diagnostics.lines();
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].find(" warn exec hook attempt failed hook=missing reason=\"spawn failed: no such file or directory\"") !=
          std::string::npos);
    CHECK(lines[0].find("request_id=req-42") != std::string::npos);
    CHECK(lines[1].find("hook=noexec reason=\"spawn failed: permission denied\"") != std::string::npos);
}

TEST_CASE("exec action: a hanging child gets SIGTERM at the timeout") {
    TestLoop loop;
    auto action = afterhook::hooks::make_exec_action(&loop.loop, exec_sink({"/bin/sleep", "30"}), "hang");
    const auto started = std::chrono::steady_clock::now();
    const auto result = run_once(loop, *action, sample_record(), 200ms);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(result.status == Status::retry);
    CHECK(result.reason == "killed by signal 15 after timeout 200ms");
    CHECK(elapsed >= 200ms);
    CHECK(elapsed < 5s);
    close_action(loop, action);
}

TEST_CASE("exec action: a child that ignores SIGTERM gets SIGKILL after the grace, with its whole group") {
    TempDir dir;
    const auto pid_file = dir.path / "pid";
    TestLoop loop;
    // The shell ignores SIGTERM and so does the sleep it starts (an ignored
    // signal stays ignored across exec); the sleep holds the output pipes.
    auto action = afterhook::hooks::make_exec_action(
        &loop.loop,
        exec_sink({"/bin/sh", "-c", "trap '' TERM; /bin/sleep 30 & echo $! > \"$1\"; wait; exit 0", "sh",
                   pid_file.string()},
                  300ms),
        "stubborn");
    const auto started = std::chrono::steady_clock::now();
    const auto result = run_once(loop, *action, sample_record(), 1s);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(result.status == Status::retry);
    CHECK(result.reason == "killed by signal 9 after timeout 1s");
    CHECK(elapsed >= 1300ms);
    CHECK(elapsed < 10s);
    // The grandchild died with the group (whoever reaps orphans may not have
    // reaped it yet).
    const int sleep_pid = std::stoi(read_file(pid_file));
    CHECK(loop.run_until([&] { return !alive(sleep_pid); }, 5s));
    close_action(loop, action);
}

TEST_CASE("exec action: large output never blocks the child and the capture is bounded") {
    TempDir dir;
    TestLoop loop;
    StderrCapture diagnostics(dir.path / "stderr");
    auto action = afterhook::hooks::make_exec_action(
        &loop.loop,
        exec_sink({"/bin/sh", "-c",
                   "head -c 1048576 /dev/zero | tr '\\000' o; head -c 1048576 /dev/zero | tr '\\000' e >&2; exit 2"}),
        "chatty");
    const auto result = run_once(loop, *action, sample_record(), 10s);
    CHECK(result.status == Status::retry);
    CHECK(result.reason == "exit 2");
    close_action(loop, action);
    diagnostics.release();
    const auto lines = diagnostics.lines();
    REQUIRE(lines.size() == 1);
    const std::string& line = lines[0];
    CHECK(line.find("hook=chatty reason=\"exit 2\"") != std::string::npos);
    CHECK(line.find(" stdout=\"" + std::string(4096, 'o') + "\" stdout_discarded_bytes=" +
                    std::to_string(1048576 - 4096)) != std::string::npos);
    CHECK(line.find(" stderr=\"" + std::string(4096, 'e') + "\" stderr_discarded_bytes=" +
                    std::to_string(1048576 - 4096)) != std::string::npos);
    CHECK(line.size() < 9000);
}

TEST_CASE("exec action: captured output is escaped into one diagnostics line") {
    TempDir dir;
    TestLoop loop;
    StderrCapture diagnostics(dir.path / "stderr");
    auto action = afterhook::hooks::make_exec_action(
        &loop.loop, exec_sink({"/bin/sh", "-c", "printf 'line one\\nsaid \"no\"\\033\\n' >&2; exit 5"}), "escaped");
    CHECK(run_once(loop, *action, sample_record()).reason == "exit 5");
    close_action(loop, action);
    diagnostics.release();
    const auto lines = diagnostics.lines();
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find(R"( stderr="line one\nsaid \"no\"\u001b")") != std::string::npos);
    CHECK(lines[0].find(" stdout=") == std::string::npos);
}

TEST_CASE("exec action: failure lines are rate-limited and the rest are counted") {
    TempDir dir;
    TestLoop loop;
    StderrCapture diagnostics(dir.path / "stderr");
    afterhook::hooks::ExecActionOptions options;
    options.report_interval_ms = 60 * 60 * 1000;
    std::unique_ptr<Action> action =
        std::make_unique<ExecAction>(&loop.loop, exec_sink({"/bin/false"}), "flaky", options);
    Attempt attempts[4];
    for (auto& attempt : attempts) start(*action, attempt, sample_record());
    CHECK(action->in_flight() == 4);
    CHECK(loop.run_until([&] {
        for (const auto& attempt : attempts)
            if (!attempt.done()) return false;
        return true;
    }));
    for (const auto& attempt : attempts) CHECK(attempt.result.reason == "exit 1");
    close_action(loop, action);
    diagnostics.release();
    const auto lines = diagnostics.lines();
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].find("exec hook attempt failed hook=flaky reason=\"exit 1\"") != std::string::npos);
    CHECK(lines[1].find("exec hook failures not reported hook=flaky count=3") != std::string::npos);
}

TEST_CASE("exec action: close() kills running children and ends their attempts before closed") {
    TempDir dir;
    TestLoop loop;
    StderrCapture diagnostics(dir.path / "stderr");
    auto action = afterhook::hooks::make_exec_action(&loop.loop, exec_sink({"/bin/sleep", "30"}), "slow");
    Attempt attempts[3];
    for (auto& attempt : attempts) start(*action, attempt, sample_record(), 30s);
    CHECK(action->in_flight() == 3);
    CHECK(own_children() == 3);
    bool closed = false;
    bool all_done_before_closed = false;
    const auto started = std::chrono::steady_clock::now();
    action->close([&] {
        closed = true;
        all_done_before_closed = attempts[0].done() && attempts[1].done() && attempts[2].done();
    });
    CHECK_FALSE(closed);
    REQUIRE(loop.run_until([&] { return closed; }));
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    CHECK(all_done_before_closed);
    for (const auto& attempt : attempts) {
        CHECK(attempt.calls == 1);
        CHECK(attempt.result.status == Status::failed);
        CHECK(attempt.result.reason == "shutdown");
    }
    CHECK(action->in_flight() == 0);
    // An attempt started after close() ends as shutdown, also asynchronously.
    Attempt late;
    start(*action, late, sample_record());
    CHECK(loop.run_until([&] { return late.done(); }));
    CHECK(late.result.status == Status::failed);
    CHECK(late.result.reason == "shutdown");
    action.reset();
    diagnostics.release();
    CHECK(diagnostics.lines().empty());  // a shutdown is not a hook failure
}

TEST_CASE("exec action: close() with nothing in flight runs closed at once") {
    TestLoop loop;
    auto action = afterhook::hooks::make_exec_action(&loop.loop, exec_sink({"/bin/true"}), "idle");
    bool closed = false;
    action->close([&] { closed = true; });
    CHECK(closed);
    action.reset();
}

TEST_CASE("exec action: many concurrent attempts leave no zombies") {
    TestLoop loop;
    auto action = afterhook::hooks::make_exec_action(&loop.loop, exec_sink({"/bin/sh", "-c", "cat >/dev/null; exit $1",
                                                                            "sh", "{{response.status}}"}),
                                                     "many");
    Record ok = sample_record();
    ok.status = 0;  // exit 0
    Record bad = sample_record();
    bad.status = 7;  // exit 7
    std::vector<Attempt> attempts(16);
    for (size_t i = 0; i < attempts.size(); ++i) start(*action, attempts[i], i % 2 ? bad : ok);
    CHECK(loop.run_until([&] {
        for (const auto& attempt : attempts)
            if (!attempt.done()) return false;
        return true;
    }));
    for (size_t i = 0; i < attempts.size(); ++i) {
        CHECK(attempts[i].calls == 1);
        CHECK(attempts[i].result.status == (i % 2 ? Status::retry : Status::delivered));
    }
    CHECK(own_children() == 0);
    close_action(loop, action);
}
