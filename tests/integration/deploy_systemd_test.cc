// deploy/systemd/afterhook.service: that it validates the config before
// starting and before signalling a reload (and that those command lines are
// what the real binary accepts), stops by draining within its stop timeout,
// restarts on failure and is sandboxed; and that systemd-analyze verify,
// where systemd is installed, accepts it.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "deploy_command.h"
#include "support/temp_dir.h"

using afterhook::testing::CommandResult;
using afterhook::testing::have_program;
using afterhook::testing::read_text_file;
using afterhook::testing::run_command;
using afterhook::testing::shell_quote;
using afterhook::testing::source_path;
using afterhook::testing::TempDir;

namespace {

const std::string kInstalledBinary = "/usr/local/bin/afterhook";
const std::string kInstalledConfig = "/etc/afterhook/afterhook.yaml";

// A unit file as "Section.Key" -> every value given, in order (systemd
// keeps repeated Exec* lines as a list).
using Unit = std::map<std::string, std::vector<std::string>>;

Unit parse_unit(const std::string& text) {
    Unit unit;
    std::istringstream in(text);
    std::string section;
    for (std::string line; std::getline(in, line);) {
        const size_t first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#' || line[first] == ';') continue;
        if (line[first] == '[') {
            section = line.substr(first + 1, line.find(']') - first - 1);
            continue;
        }
        const size_t equals = line.find('=');
        REQUIRE(equals != std::string::npos);
        const std::string key = line.substr(first, line.find_last_not_of(" \t", equals - 1) + 1 - first);
        const size_t value_start = line.find_first_not_of(" \t", equals + 1);
        unit[section + "." + key].push_back(value_start == std::string::npos ? "" : line.substr(value_start));
    }
    return unit;
}

Unit repository_unit() {
    const std::string text = read_text_file(source_path("deploy/systemd/afterhook.service"));
    REQUIRE_FALSE(text.empty());
    return parse_unit(text);
}

// The only value of a key that must be given once.
std::string single(const Unit& unit, const std::string& key) {
    const auto found = unit.find(key);
    INFO(key << " must be set exactly once");
    REQUIRE(found != unit.end());
    REQUIRE(found->second.size() == 1);
    return found->second.front();
}

// A systemd time span in seconds: "45", "45s", "1min", "1min 30s".
double timespan_seconds(const std::string& text) {
    const std::regex part(R"(([0-9]+(?:\.[0-9]+)?)\s*(ms|s|sec|min|m|h)?)");
    double seconds = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), part); it != std::sregex_iterator(); ++it) {
        const std::string unit = (*it)[2];
        const double value = std::stod((*it)[1]);
        seconds += unit == "ms" ? value / 1000 : unit == "min" || unit == "m" ? value * 60 : unit == "h" ? value * 3600 : value;
    }
    return seconds;
}

// Runs an Exec line of the unit with the installed paths replaced by the
// built binary and `config`.
CommandResult run_exec_line(std::string line, const std::string& config) {
    const std::string binary_path = AFTERHOOK_BINARY;
    line.replace(line.find(kInstalledBinary), kInstalledBinary.size(), shell_quote(binary_path));
    line.replace(line.find(kInstalledConfig), kInstalledConfig.size(), shell_quote(config));
    return run_command(line);
}

}  // namespace

TEST_CASE("deploy: the systemd unit checks the config before starting and before signalling a reload") {
    const Unit unit = repository_unit();
    const std::string check = kInstalledBinary + " --check-config " + kInstalledConfig;
    CHECK(single(unit, "Service.ExecStartPre") == check);
    CHECK(single(unit, "Service.ExecStart") == kInstalledBinary + " --config " + kInstalledConfig);
    // systemd runs the ExecReload lines in order and stops at the first that
    // fails, so an invalid config never reaches the running service.
    const auto reload = unit.find("Service.ExecReload");
    REQUIRE(reload != unit.end());
    CHECK(reload->second == std::vector<std::string>{check, "/bin/kill -HUP $MAINPID"});

    // The check line is what the binary accepts: valid config -> 0, invalid -> 1.
    TempDir dir;
    const std::string valid = dir.write("valid.yaml", "listen: 127.0.0.1:0\nupstream: 127.0.0.1:9\n");
    const std::string invalid = dir.write("invalid.yaml", "listen: 127.0.0.1:0\nworkerz: 2\n");
    const CommandResult accepted = run_exec_line(check, valid);
    INFO(accepted.output);
    CHECK(accepted.exit_code == 0);
    const CommandResult refused = run_exec_line(check, invalid);
    INFO(refused.output);
    CHECK(refused.exit_code == 1);
    CHECK(refused.output.find("workerz") != std::string::npos);
}

TEST_CASE("deploy: the systemd unit drains on stop and restarts on failure and is sandboxed") {
    const Unit unit = repository_unit();
    CHECK(single(unit, "Service.KillSignal") == "SIGTERM");
    CHECK(single(unit, "Service.KillMode") == "mixed");
    const double drain_seconds =
        std::chrono::duration<double>(afterhook::config::Timeouts{}.drain).count();
    const double stop_seconds = timespan_seconds(single(unit, "Service.TimeoutStopSec"));
    INFO("TimeoutStopSec " << stop_seconds << "s must exceed the default drain timeout " << drain_seconds << "s");
    CHECK(stop_seconds > drain_seconds);
    CHECK(single(unit, "Service.Restart") == "on-failure");

    CHECK(single(unit, "Service.DynamicUser") == "yes");
    CHECK(single(unit, "Service.NoNewPrivileges") == "yes");
    CHECK(single(unit, "Service.ProtectSystem") == "strict");
    CHECK(single(unit, "Service.ProtectHome") == "yes");
    CHECK(single(unit, "Service.PrivateTmp") == "yes");
    CHECK(single(unit, "Service.LogsDirectory") == "afterhook");
    std::istringstream families(single(unit, "Service.RestrictAddressFamilies"));
    std::set<std::string> allowed;
    for (std::string family; families >> family;) allowed.insert(family);
    CHECK(allowed == std::set<std::string>{"AF_INET", "AF_INET6", "AF_UNIX"});
    CHECK(single(unit, "Service.CapabilityBoundingSet").empty());
    CHECK(single(unit, "Install.WantedBy") == "multi-user.target");
}

TEST_CASE("deploy: systemd-analyze verify accepts the systemd unit") {
    if (!have_program("systemd-analyze")) {
        MESSAGE("systemd-analyze is not installed (package systemd): the unit was checked by the parser tests only");
        return;
    }
    // verify insists that the programs exist, so the copy runs the built
    // binary; every other line is the file as shipped.
    TempDir dir;
    std::string text = read_text_file(source_path("deploy/systemd/afterhook.service"));
    for (size_t at = text.find(kInstalledBinary); at != std::string::npos; at = text.find(kInstalledBinary, at)) {
        text.replace(at, kInstalledBinary.size(), AFTERHOOK_BINARY);
        at += std::string(AFTERHOOK_BINARY).size();
    }
    const std::string file = dir.write("afterhook.service", text);
    const CommandResult verify = run_command("systemd-analyze verify " + shell_quote(file));
    INFO(verify.output);
    CHECK(verify.exit_code == 0);
    // Unknown keys and bad values are only warnings: any line about the unit fails.
    CHECK(verify.output.find("afterhook.service") == std::string::npos);
}
