// Every test name must survive ctest discovery. doctest_discover_tests()
// turns each name into a ctest test that runs `--test-case=<name>`: a ';'
// or a bracket breaks CMake's list handling, and '*' or '?' are wildcards to
// doctest's filter, so such a test would run nothing (doctest exits 0 when
// a filter matches no test) or run others. Names must also be unique, or
// two ctest tests would run the same thing.
#include <doctest/doctest.h>

#include <unistd.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "deploy_command.h"

using namespace afterhook::testing;

namespace {

// The test case names a doctest binary lists, one per line between the
// `===` rulers of `--list-test-cases`.
std::vector<std::string> listed_names(const std::string& binary) {
    const CommandResult listing = run_command(shell_quote(binary) + " --list-test-cases --no-version");
    INFO(binary << " --list-test-cases:\n" << listing.output);
    REQUIRE(listing.exit_code == 0);
    std::vector<std::string> names;
    std::istringstream in(listing.output);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line.rfind("[doctest]", 0) == 0 || line.rfind("=====", 0) == 0) continue;
        names.push_back(line);
    }
    return names;
}

std::string own_binary() {
    char path[4096];
    const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
    REQUIRE(length > 0);
    return std::string(path, static_cast<size_t>(length));
}

}  // namespace

TEST_SUITE("harness") {

TEST_CASE("every unit and integration test name is safe for ctest discovery and unique") {
    for (const std::string& binary : {std::string(UNIT_TESTS_BINARY), own_binary()}) {
        const std::vector<std::string> names = listed_names(binary);
        INFO(binary);
        CHECK(names.size() > 50);
        std::set<std::string> seen;
        for (const std::string& name : names) {
            INFO("test name: " << name);
            CHECK(name.find_first_of(";[]*?\\") == std::string::npos);
            CHECK(name.front() != ' ');
            CHECK(name.back() != ' ');
            CHECK(seen.insert(name).second);
        }
    }
}

}  // TEST_SUITE
