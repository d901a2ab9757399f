// deploy/Dockerfile, checked without a container engine: its stages and
// runtime settings, that every file it copies exists, that the config its
// CMD names is valid, and that its runtime stage installs every shared
// library the built binary (AFTERHOOK_BINARY) loads. Libraries are mapped to
// Debian packages with `dpkg -S`, and a package's own dependencies with
// dpkg's Depends fields, as apt would install them.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "deploy_command.h"

using afterhook::testing::CommandResult;
using afterhook::testing::read_text_file;
using afterhook::testing::run_command;
using afterhook::testing::shell_quote;
using afterhook::testing::source_path;

namespace {

// Packages every debian:12-slim image has and the runtime stage need not
// name: the C library, the C++ library and libgcc.
const std::set<std::string> kBaseImagePackages{"libc6", "libstdc++6", "libgcc-s1"};

#ifdef AFTERHOOK_SANITIZED
// A sanitizer build loads the sanitizer runtimes, which the Release image
// (built with neither sanitizer) never does.
const std::set<std::string> kSanitizerPackages{"libasan8", "libubsan1", "liblsan0", "libtsan2"};
#else
const std::set<std::string> kSanitizerPackages{};
#endif

struct Instruction {
    std::string keyword;    // upper case: FROM, RUN, COPY, ...
    std::string arguments;  // continuation lines joined with single spaces
};

struct Stage {
    std::string from;  // the FROM arguments: "debian:12 AS build"
    std::vector<Instruction> instructions;
};

// Splits a Dockerfile into stages of instructions: comment lines dropped,
// backslash continuations joined.
std::vector<Stage> parse_dockerfile(const std::string& text) {
    std::vector<Stage> stages;
    std::istringstream in(text);
    std::string line;
    std::string pending;
    auto finish = [&](const std::string& instruction) {
        const size_t start = instruction.find_first_not_of(" \t");
        if (start == std::string::npos) return;
        const size_t space = instruction.find_first_of(" \t", start);
        Instruction parsed;
        parsed.keyword = instruction.substr(start, space - start);
        std::transform(parsed.keyword.begin(), parsed.keyword.end(), parsed.keyword.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        parsed.arguments = space == std::string::npos ? "" : instruction.substr(instruction.find_first_not_of(" \t", space));
        if (parsed.keyword == "FROM") {
            stages.push_back(Stage{parsed.arguments, {}});
        } else if (!stages.empty()) {
            stages.back().instructions.push_back(parsed);
        }
    };
    while (std::getline(in, line)) {
        const size_t first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        const size_t last = line.find_last_not_of(" \t\r");
        if (line[last] == '\\') {
            pending += line.substr(0, last) + " ";
            continue;
        }
        finish(pending + line.substr(0, last + 1));
        pending.clear();
    }
    finish(pending);
    return stages;
}

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string word; in >> word;) out.push_back(word);
    return out;
}

// The packages named by `apt-get install` in a stage's RUN instructions.
std::set<std::string> installed_packages(const Stage& stage) {
    std::set<std::string> packages;
    for (const Instruction& instruction : stage.instructions) {
        if (instruction.keyword != "RUN") continue;
        const std::vector<std::string> tokens = words(instruction.arguments);
        bool apt_get = false;  // inside an apt-get command of the shell line
        bool installing = false;
        for (const std::string& token : tokens) {
            if (token == "&&" || token == ";" || token == "||") {
                apt_get = installing = false;
            } else if (token == "apt-get") {
                apt_get = true;
            } else if (apt_get && !installing && token == "install") {
                installing = true;
            } else if (installing && token[0] != '-') {
                packages.insert(token);
            }
        }
    }
    return packages;
}

std::vector<const Instruction*> find_all(const Stage& stage, const std::string& keyword) {
    std::vector<const Instruction*> found;
    for (const Instruction& instruction : stage.instructions) {
        if (instruction.keyword == keyword) found.push_back(&instruction);
    }
    return found;
}

std::vector<Stage> repository_dockerfile() {
    const std::string text = read_text_file(source_path("deploy/Dockerfile"));
    REQUIRE_FALSE(text.empty());
    std::vector<Stage> stages = parse_dockerfile(text);
    REQUIRE(stages.size() == 2);
    return stages;
}

// The Debian package that owns a library file. ldd reports paths as the
// dynamic loader found them (/lib/... on a merged-/usr system), while dpkg
// knows each file under the path its package ships, so the path, its real
// path, and both with and without the /usr prefix are tried.
std::optional<std::string> package_of(const std::string& library) {
    std::vector<std::string> candidates{library};
    std::error_code error;
    const std::filesystem::path real = std::filesystem::canonical(library, error);
    if (!error) candidates.push_back(real.string());
    for (size_t i = 0, n = candidates.size(); i < n; ++i) {
        const std::string& path = candidates[i];
        candidates.push_back(path.rfind("/usr/", 0) == 0 ? path.substr(4) : "/usr" + path);
    }
    for (const std::string& path : candidates) {
        const CommandResult owner = run_command("dpkg -S " + shell_quote(path));
        if (owner.exit_code != 0) continue;
        // "libuv1:amd64: /usr/lib/x86_64-linux-gnu/libuv.so.1.0.0"
        const std::string package = owner.output.substr(0, owner.output.find(": "));
        return package.substr(0, package.find(':'));
    }
    return std::nullopt;
}

// Library file paths from `ldd`, by soname, for everything the binary (or
// shared library) loads, directly or through another library.
std::map<std::string, std::string> loaded_libraries(const std::string& binary) {
    const CommandResult ldd = run_command("ldd " + shell_quote(binary));
    INFO("ldd: " << ldd.output);
    REQUIRE(ldd.exit_code == 0);
    REQUIRE(ldd.output.find("not found") == std::string::npos);
    std::map<std::string, std::string> libraries;
    const std::regex mapped(R"(^\s*(\S+) => (/\S+) \(0x)");
    const std::regex loader(R"(^\s*(/\S+) \(0x)");
    std::istringstream in(ldd.output);
    for (std::string line; std::getline(in, line);) {
        std::smatch match;
        if (std::regex_search(line, match, mapped)) {
            libraries[match[1]] = match[2];
        } else if (std::regex_search(line, match, loader)) {
            libraries[std::filesystem::path(match[1].str()).filename().string()] = match[1];
        }
    }
    return libraries;
}

// The sonames afterhook opens with dlopen() when a config needs them, as
// the second line of `afterhook --version` lists them. `ldd` cannot see them.
std::set<std::string> on_demand_sonames(const std::string& binary) {
    const CommandResult version = run_command(shell_quote(binary) + " --version");
    INFO("--version: " << version.output);
    REQUIRE(version.exit_code == 0);
    const size_t line = version.output.find("loaded on demand:");
    REQUIRE(line != std::string::npos);
    const std::string listed = version.output.substr(line, version.output.find('\n', line) - line);
    std::set<std::string> sonames;
    const std::regex soname(R"((lib[A-Za-z0-9_+-]+\.so\.[0-9]+))");
    for (auto it = std::sregex_iterator(listed.begin(), listed.end(), soname); it != std::sregex_iterator(); ++it) {
        sonames.insert((*it)[1]);
    }
    return sonames;
}

// Where the dynamic loader finds `soname` (its cache, as dlopen() uses it).
std::optional<std::string> library_path(const std::string& soname) {
    const CommandResult cache = run_command("ldconfig -p");
    REQUIRE(cache.exit_code == 0);
    // "\tlibcurl.so.4 (libc6,x86-64) => /lib/x86_64-linux-gnu/libcurl.so.4"
    const std::regex entry("^\\s*" + std::regex_replace(soname, std::regex(R"([.+])"), R"(\$&)") +
                           R"( \(libc6,x86-64[^)]*\) => (/\S+))");
    std::istringstream in(cache.output);
    for (std::string line; std::getline(in, line);) {
        std::smatch match;
        if (std::regex_search(line, match, entry)) return match[1].str();
    }
    return std::nullopt;
}

// The sonames the binary itself names (DT_NEEDED).
std::set<std::string> needed_sonames(const std::string& binary) {
    const CommandResult readelf = run_command("readelf -d " + shell_quote(binary));
    INFO("readelf: " << readelf.output);
    REQUIRE(readelf.exit_code == 0);
    std::set<std::string> sonames;
    const std::regex needed(R"(\(NEEDED\)\s+Shared library: \[([^\]]+)\])");
    for (auto it = std::sregex_iterator(readelf.output.begin(), readelf.output.end(), needed);
         it != std::sregex_iterator(); ++it) {
        sonames.insert((*it)[1]);
    }
    return sonames;
}

// Installed packages and the packages each depends on (Depends and
// Pre-Depends; every alternative, without versions or architectures).
std::map<std::string, std::set<std::string>> dependency_graph() {
    const CommandResult query =
        run_command("dpkg-query -W -f='${Package}\\t${Status}\\t${Depends}, ${Pre-Depends}\\n'");
    REQUIRE(query.exit_code == 0);
    std::map<std::string, std::set<std::string>> graph;
    std::istringstream in(query.output);
    const std::regex name(R"(^\s*([a-z0-9][a-z0-9+.-]*))");
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::string package, status, depends;
        std::getline(fields, package, '\t');
        std::getline(fields, status, '\t');
        std::getline(fields, depends);
        if (status.find("ok installed") == std::string::npos) continue;
        std::set<std::string>& edges = graph[package];
        std::istringstream items(depends);
        for (std::string item; std::getline(items, item, ',');) {
            std::istringstream choices(item);
            for (std::string choice; std::getline(choices, choice, '|');) {
                std::smatch match;
                if (std::regex_search(choice, match, name)) edges.insert(match[1]);
            }
        }
    }
    return graph;
}

std::set<std::string> closure(const std::set<std::string>& roots,
                              const std::map<std::string, std::set<std::string>>& graph) {
    std::set<std::string> seen;
    std::vector<std::string> pending(roots.begin(), roots.end());
    while (!pending.empty()) {
        const std::string package = pending.back();
        pending.pop_back();
        if (!seen.insert(package).second) continue;
        const auto edges = graph.find(package);
        if (edges == graph.end()) continue;
        pending.insert(pending.end(), edges->second.begin(), edges->second.end());
    }
    return seen;
}

std::string joined(const std::set<std::string>& items) {
    std::string text;
    for (const std::string& item : items) text += (text.empty() ? "" : " ") + item;
    return text;
}

}  // namespace

TEST_CASE("deploy: the image builds on debian:12 and runs as non-root on debian:12-slim") {
    const std::vector<Stage> stages = repository_dockerfile();
    CHECK(stages[0].from == "debian:12 AS build");
    CHECK(stages[1].from == "debian:12-slim");
    const Stage& runtime = stages[1];

    const auto users = find_all(runtime, "USER");
    REQUIRE(users.size() == 1);
    CHECK(users[0]->arguments.rfind("65532", 0) == 0);

    const auto entrypoints = find_all(runtime, "ENTRYPOINT");
    const auto cmds = find_all(runtime, "CMD");
    REQUIRE(entrypoints.size() == 1);
    REQUIRE(cmds.size() == 1);
    // tini as PID 1 forwards signals and reaps what exec hooks leave behind.
    CHECK(nlohmann::json::parse(entrypoints[0]->arguments) ==
          nlohmann::json::array({"/usr/bin/tini", "--", "/usr/local/bin/afterhook"}));
    CHECK(installed_packages(runtime).count("tini") == 1);
    const nlohmann::json cmd = nlohmann::json::parse(cmds[0]->arguments);
    CHECK(cmd == nlohmann::json::array({"--config", "/etc/afterhook/afterhook.yaml"}));

    std::set<std::string> exposed;
    for (const Instruction* expose : find_all(runtime, "EXPOSE")) {
        for (const std::string& port : words(expose->arguments)) exposed.insert(port);
    }
    CHECK(exposed == std::set<std::string>{"8000", "9901"});

    // The runtime stage carries no compiler, build tool or -dev package.
    for (const std::string& package : installed_packages(runtime)) {
        INFO("runtime package " << package);
        CHECK(package.find("-dev") == std::string::npos);
        CHECK(std::set<std::string>{"build-essential", "cmake", "g++", "gcc", "make", "pkg-config"}.count(package) == 0);
    }

    // The binary comes from the build stage, where cmake builds it.
    bool binary_copied = false;
    for (const Instruction* copy : find_all(runtime, "COPY")) {
        const std::vector<std::string> parts = words(copy->arguments);
        binary_copied = binary_copied || (parts.size() == 3 && parts[0] == "--from=build" &&
                                          parts[1] == "/src/build/afterhook" && parts[2] == "/usr/local/bin/afterhook");
    }
    CHECK(binary_copied);
}

TEST_CASE("deploy: every file the Dockerfile copies from the repository exists") {
    for (const Stage& stage : repository_dockerfile()) {
        for (const Instruction* copy : find_all(stage, "COPY")) {
            const std::vector<std::string> parts = words(copy->arguments);
            if (!parts.empty() && parts[0].rfind("--from=", 0) == 0) continue;
            REQUIRE(parts.size() >= 2);
            for (size_t i = 0; i + 1 < parts.size(); ++i) {
                INFO("COPY source " << parts[i]);
                CHECK(std::filesystem::exists(source_path(parts[i])));
            }
        }
    }
}

TEST_CASE("deploy: the config named by the CMD of the image is valid") {
    const Stage runtime = repository_dockerfile()[1];
    const std::string config_path = "/etc/afterhook/afterhook.yaml";
    std::string source;
    for (const Instruction* copy : find_all(runtime, "COPY")) {
        const std::vector<std::string> parts = words(copy->arguments);
        if (parts.size() == 2 && parts[1] == config_path) source = parts[0];
    }
    INFO("the runtime stage must COPY a config to " << config_path);
    REQUIRE_FALSE(source.empty());
    const CommandResult check =
        run_command(shell_quote(AFTERHOOK_BINARY) + " --check-config " + shell_quote(source_path(source)));
    INFO(check.output);
    CHECK(check.exit_code == 0);
}

TEST_CASE("deploy: the runtime packages of the image provide every shared library the binary loads") {
    const std::set<std::string> runtime = installed_packages(repository_dockerfile()[1]);
    REQUIRE_FALSE(runtime.empty());
    std::set<std::string> roots = runtime;
    roots.insert(kBaseImagePackages.begin(), kBaseImagePackages.end());
    const std::set<std::string> available = closure(roots, dependency_graph());
    INFO("runtime stage packages: " << joined(runtime));

    std::map<std::string, std::string> libraries = loaded_libraries(AFTERHOOK_BINARY);
    std::set<std::string> direct = needed_sonames(AFTERHOOK_BINARY);
    REQUIRE_FALSE(direct.empty());
    // The libraries opened on demand count as named by the binary, with
    // everything they load in turn.
    const std::set<std::string> on_demand = on_demand_sonames(AFTERHOOK_BINARY);
    CHECK(on_demand == std::set<std::string>{"libcurl.so.4", "libcrypto.so.3"});
    for (const std::string& soname : on_demand) {
        INFO("opened on demand: " << soname);
        CHECK(direct.count(soname) == 0);  // really not linked
        const std::optional<std::string> path = library_path(soname);
        REQUIRE(path.has_value());
        direct.insert(soname);
        libraries[soname] = *path;
        for (const auto& [dependency, dependency_path] : loaded_libraries(*path)) libraries.emplace(dependency, dependency_path);
    }
    for (const std::string& soname : direct) {
        INFO("the binary needs " << soname);
        CHECK(libraries.count(soname) == 1);
    }
    for (const auto& [soname, path] : libraries) {
        const std::optional<std::string> package = package_of(path);
        INFO(soname << " (" << path << ") belongs to " << package.value_or("no package"));
        REQUIRE(package.has_value());
        if (kSanitizerPackages.count(*package) == 1) continue;
        if (direct.count(soname) == 1) {
            // A library the binary names itself must be in a package the
            // Dockerfile names, not merely pulled in by another one.
            CHECK((runtime.count(*package) == 1 || kBaseImagePackages.count(*package) == 1));
        } else {
            CHECK(available.count(*package) == 1);
        }
    }
}
