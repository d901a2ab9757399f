// exec hooks against real programs: arguments are rendered templates, the
// record arrives on stdin, a command that hangs is killed at its timeout, a
// program that does not exist fails, and every child is reaped.
#include <doctest/doctest.h>

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/types.h>

#include "support/admin_client.h"
#include "support/afterhook_process.h"
#include "support/fake_upstream.h"
#include "support/raw_client.h"
#include "support/temp_dir.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
}

struct ChildState {
    pid_t pid;
    char state;
    std::string name;
};

// The processes whose parent is `parent`, from /proc/PID/stat.
std::vector<ChildState> children_of(pid_t parent) {
    std::vector<ChildState> children;
    DIR* proc = opendir("/proc");
    if (!proc) return children;
    while (dirent* entry = readdir(proc)) {
        const std::string name = entry->d_name;
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string stat = read_file("/proc/" + name + "/stat");
        const size_t close_paren = stat.rfind(')');
        const size_t open_paren = stat.find('(');
        if (close_paren == std::string::npos || open_paren == std::string::npos) continue;
        std::istringstream rest(stat.substr(close_paren + 2));
        char state = '?';
        long ppid = 0;
        rest >> state >> ppid;
        if (ppid == parent) {
            children.push_back({static_cast<pid_t>(std::stol(name)), state,
                                stat.substr(open_paren + 1, close_paren - open_paren - 1)});
        }
    }
    closedir(proc);
    return children;
}

double events(const AdminClient& admin, const std::string& hook, const std::string& result) {
    return admin.metric("afterhook_hook_events_total", {{"hook", hook}, {"result", result}}).value_or(-1);
}

}  // namespace

TEST_SUITE("hooks exec") {

TEST_CASE("exec: rendered arguments, the record on stdin, a hanging command killed at its timeout, a missing program failed, no zombies") {
    FakeUpstream upstream;
    TempDir dir;
    const std::string args_file = dir.file("args.txt");
    const std::string stdin_file = dir.file("stdin.txt");
    AfterhookProcess proxy(dir, "listen: 127.0.0.1:0\n"
                                "upstream: " + upstream.address() + "\n"
                                "workers: 1\n"
                                "admin: {listen: 127.0.0.1:0}\n"
                                "timeouts: {drain: 1s}\n"
                                "hooks:\n"
                                "  - name: args\n"
                                "    when: {paths: [\"/args/**\"]}\n"
                                "    exec: {command: [/bin/sh, -c, 'printf \"%s\\n\" \"$1\" >> " + args_file + "', sh, \"{{request.path}}\"]}\n"
                                "  - name: stdin\n"
                                "    when: {paths: [\"/stdin/**\"]}\n"
                                "    exec: {command: [/bin/sh, -c, 'cat >> " + stdin_file + "']}\n"
                                "  - name: hang\n"
                                "    when: {paths: [\"/hang\"]}\n"
                                "    exec: {command: [/bin/sleep, \"30\"], timeout: 300ms}\n"
                                "  - name: missing\n"
                                "    when: {paths: [\"/missing\"]}\n"
                                "    exec: {command: [/nonexistent/afterhook-test-program]}\n");
    const AdminClient admin(proxy.admin_port());
    INFO("afterhook output:\n", proxy.diagnostics());

    RawClient client = RawClient::connect(proxy.port());
    for (const std::string& target : {std::string("/args/a%20b"), std::string("/args/x;$(id)"), std::string("/stdin/1"),
                                      std::string("/stdin/2"), std::string("/hang"), std::string("/missing")}) {
        REQUIRE(client.send(get_request(target)));
        REQUIRE(client.read_response(3s).status == 200);
    }
    const auto sent = Clock::now();

    CHECK(admin.wait_for_metric("afterhook_hook_events_total", {{"hook", "args"}, {"result", "delivered"}},
                                [](double v) { return v == 2; }, 5s));
    CHECK(admin.wait_for_metric("afterhook_hook_events_total", {{"hook", "stdin"}, {"result", "delivered"}},
                                [](double v) { return v == 2; }, 5s));
    CHECK(admin.wait_for_metric("afterhook_hook_events_total", {{"hook", "missing"}, {"result", "failed"}},
                                [](double v) { return v == 1; }, 5s));
    CHECK(admin.wait_for_metric("afterhook_hook_events_total", {{"hook", "hang"}, {"result", "failed"}},
                                [](double v) { return v == 1; }, 5s));
    // Killed at its 300 ms timeout, far from the 30 s it would sleep.
    CHECK(Clock::now() - sent < 5s);
    CHECK(events(admin, "hang", "delivered") == 0);
    CHECK(events(admin, "missing", "delivered") == 0);

    // The path is one argument, inserted as it is (never through a shell).
    const std::string args = read_file(args_file);
    INFO("args file: ", args);
    CHECK(args.find("/args/a%20b\n") != std::string::npos);
    CHECK(args.find("/args/x;$(id)\n") != std::string::npos);

    // One JSON line per event on stdin.
    const std::string lines = read_file(stdin_file);
    INFO("stdin file: ", lines);
    std::istringstream in(lines);
    std::string line;
    std::vector<std::string> paths;
    while (std::getline(in, line)) {
        const auto record = nlohmann::json::parse(line, nullptr, false);
        REQUIRE(record.is_object());
        paths.push_back(record.value("url.path", "<none>"));
    }
    // The two commands run concurrently: either may append first.
    std::sort(paths.begin(), paths.end());
    CHECK(paths == std::vector<std::string>{"/stdin/1", "/stdin/2"});

    // Every child reaped, the sleeper gone.
    std::vector<ChildState> children;
    const bool settled = wait_until([&] {
        children = children_of(proxy.process().pid());
        return children.empty();
    }, 5s, 20ms);
    std::string left;
    for (const ChildState& c : children) left += std::to_string(c.pid) + " " + c.name + " state " + c.state + "\n";
    INFO("children of afterhook left:\n", left);
    CHECK(settled);
}

}  // TEST_SUITE
