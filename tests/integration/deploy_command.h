// Shell commands for the deploy_*_test.cc files, which check the files in
// deploy/ with the tools that read them (node, dpkg, ldd, systemd-analyze,
// the afterhook binary). Each command runs through /bin/sh with stderr
// folded into the captured output, so that a failure message shows both.
#pragma once

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>

namespace afterhook::testing {

struct CommandResult {
    int exit_code = -1;  // -1 when the shell could not be started or was killed
    std::string output;  // stdout and stderr, interleaved
};

// Single-quotes `text` for /bin/sh.
inline std::string shell_quote(const std::string& text) {
    std::string quoted = "'";
    for (char c : text) {
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return quoted + "'";
}

inline CommandResult run_command(const std::string& command_line) {
    CommandResult result;
    FILE* pipe = ::popen((command_line + " 2>&1").c_str(), "r");
    if (pipe == nullptr) {
        result.output = "cannot start /bin/sh for: " + command_line;
        return result;
    }
    char buffer[4096];
    size_t count = 0;
    while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) {
        result.output.append(buffer, count);
    }
    const int status = ::pclose(pipe);
    if (status != -1 && WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    }
    return result;
}

// True when `program` is found on PATH.
inline bool have_program(const std::string& program) {
    return run_command("command -v " + shell_quote(program) + " >/dev/null").exit_code == 0;
}

inline std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

inline std::string source_path(const std::string& relative) {
    return std::string(AFTERHOOK_SOURCE_DIR) + "/" + relative;
}

}  // namespace afterhook::testing
