// Config validation as an operator meets it: `afterhook --check-config`
// reports every mistake of a file at once as `file:line:col: key.path:
// message` and exits 1, or prints one summary line and exits 0; and the
// proxy refuses to start on a file that fails the check.
#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <tuple>

#include "support/afterhook_process.h"
#include "support/child_process.h"
#include "support/temp_dir.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

// Five different mistakes, one per kind, each at a known line and column.
const char* const kFiveMistakes =
    "listen: 127.0.0.1:0\n"                        // 1
    "upstream: 127.0.0.1:9\n"                      // 2
    "workers: 1\n"                                 // 3
    "admin: {listen: 127.0.0.1:0}\n"               // 4
    "timeouts:\n"                                  // 5
    "  conect: 2s\n"                               // 6  unknown key (typo), col 3
    "  drain: 5x\n"                                // 7  bad duration, col 10
    "capture:\n"                                   // 8
    "  headers: user-agent\n"                      // 9  wrong type (not a list), col 12
    "hooks:\n"                                     // 10
    "  - name: access\n"                           // 11
    "    log: {path: stdout}\n"                    // 12
    "    log: {path: stderr}\n"                    // 13 duplicate key, col 5
    "  - name: notify\n"                           // 14
    "    webhook:\n"                               // 15
    "      url: \"http://127.0.0.1:1/x\"\n"        // 16
    "      body: {text: \"{{request.nope}}\"}\n";  // 17 unknown template field, col 20

struct Expected {
    int line;
    int column;
    std::string key_path;
    std::string says;  // a piece of the message
};

const std::vector<Expected> kExpected = {
    {6, 3, "timeouts.conect", "did you mean 'connect'"},
    {7, 10, "timeouts.drain", "5x"},
    {9, 12, "capture.headers", "list"},
    {13, 5, "hooks[0].log", "duplicate"},
    {17, 20, "hooks[1].webhook.body.text", "request.nope"},
};

struct Run {
    int exit_code = -1;
    std::vector<std::string> lines;  // stdout and stderr, in arrival order
    std::string output;              // the same, for failure messages
};

Run run_afterhook(std::vector<std::string> args) {
    args.insert(args.begin(), AfterhookProcess::binary_path());
    ChildProcess child(args);
    Run run;
    if (!child.wait_exit(10s)) {
        child.stop();
        run.output = child.tail();
        return run;
    }
    child.stop();  // joins the reader once the output is closed
    run.exit_code = child.exit_code();
    for (const ChildProcess::Line& line : child.lines()) {
        run.lines.push_back(line.text);
        run.output += (line.from_stderr ? "[stderr] " : "[stdout] ") + line.text + "\n";
    }
    return run;
}

// The lines of `run` that are errors about `file`, as (line, column, rest).
std::vector<std::tuple<int, int, std::string>> errors_about(const Run& run, const std::string& file) {
    static const std::regex position(R"(^([0-9]+):([0-9]+): (.*)$)");
    std::vector<std::tuple<int, int, std::string>> out;
    for (const std::string& line : run.lines) {
        // Errors may also come as the proxy's diagnostics, after a time and a level.
        const size_t at = line.find(file + ":");
        if (at == std::string::npos) continue;
        const std::string tail = line.substr(at + file.size() + 1);
        std::smatch match;
        if (std::regex_match(tail, match, position)) {
            out.emplace_back(std::stoi(match[1]), std::stoi(match[2]), match[3].str());
        }
    }
    return out;
}

void check_the_five_errors(const Run& run, const std::string& file) {
    INFO("output:\n", run.output);
    const auto errors = errors_about(run, file);
    CHECK(errors.size() == kExpected.size());
    for (const Expected& expected : kExpected) {
        INFO("expected at ", expected.line, ":", expected.column, " ", expected.key_path);
        bool found = false;
        for (const auto& [line, column, rest] : errors) {
            if (line != expected.line || column != expected.column) continue;
            found = true;
            CHECK(rest.rfind(expected.key_path + ": ", 0) == 0);
            CHECK(rest.find(expected.says) != std::string::npos);
        }
        CHECK(found);
    }
}

}  // namespace

TEST_SUITE("ops config") {

TEST_CASE("check-config reports five different mistakes at once with their lines and columns and exits 1") {
    TempDir dir;
    const std::string file = dir.write("five.yaml", kFiveMistakes);
    const Run run = run_afterhook({"--check-config", file});
    INFO("output:\n", run.output);
    CHECK(run.exit_code == 1);
    check_the_five_errors(run, file);
    // Nothing but the five errors and at most one summary line.
    CHECK(run.lines.size() <= kExpected.size() + 1);
}

TEST_CASE("check-config on a valid file prints one summary line and exits 0") {
    TempDir dir;
    const std::string file = dir.write("good.yaml",
                                       "listen: 127.0.0.1:0\n"
                                       "upstream: 127.0.0.1:9\n"
                                       "workers: 2\n"
                                       "admin: {listen: 127.0.0.1:0}\n"
                                       "timeouts: {connect: 2s, drain: 5s}\n"
                                       "capture:\n"
                                       "  headers: [user-agent, x-tenant]\n"
                                       "hooks:\n"
                                       "  - name: access\n"
                                       "    log: {path: stdout}\n"
                                       "  - name: notify\n"
                                       "    when: {status: [5xx]}\n"
                                       "    webhook:\n"
                                       "      url: \"http://127.0.0.1:1/x\"\n"
                                       "      body: {text: \"{{request.method}} {{request.header.x-tenant}}\"}\n"
                                       "      retry: {attempts: 2, backoff: 100ms, max_backoff: 1s}\n");
    const Run run = run_afterhook({"--check-config", file});
    INFO("output:\n", run.output);
    CHECK(run.exit_code == 0);
    REQUIRE(run.lines.size() == 1);
    CHECK_FALSE(run.lines[0].empty());
    CHECK(errors_about(run, file).empty());
}

TEST_CASE("the proxy refuses to start on a config with mistakes and names every one") {
    TempDir dir;
    const std::string file = dir.write("five.yaml", kFiveMistakes);
    const Run run = run_afterhook({"--config", file});
    INFO("output:\n", run.output);
    CHECK(run.exit_code == 1);
    check_the_five_errors(run, file);
    for (const std::string& line : run.lines) CHECK(line.find("listening") == std::string::npos);
}

}  // TEST_SUITE
