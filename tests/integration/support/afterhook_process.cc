#include "support/afterhook_process.h"

#include <regex>
#include <stdexcept>
#include <utility>

#ifndef AFTERHOOK_BINARY
#error "AFTERHOOK_BINARY must name the afterhook executable under test"
#endif

namespace afterhook::testing {

std::string AfterhookProcess::binary_path() { return AFTERHOOK_BINARY; }

AfterhookProcess::AfterhookProcess(const TempDir& dir, const std::string& yaml,
                                   Clock::duration startup) {
    config_path_ = dir.write("afterhook.yaml", yaml);
    start(yaml, startup);
}

AfterhookProcess::AfterhookProcess(std::string config_path, Clock::duration startup)
    : config_path_(std::move(config_path)) {
    start("(the file " + config_path_ + ")\n", startup);
}

void AfterhookProcess::start(const std::string& shown_config, Clock::duration startup) {
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{binary_path(), "--config", config_path_});
    static const std::regex listening(R"(\binfo listening address=[^ ]*:([0-9]+)\b)");
    const auto line = process_->wait_for_line(listening, startup);
    if (!line) {
        const bool gone = process_->exited();
        const int code = gone ? process_->exit_code() : 0;
        process_->stop(std::chrono::seconds(2));
        throw std::runtime_error(
            std::string("afterhook did not report `info listening address=...` ") +
            (gone ? "and exited with status " + std::to_string(code) : "in time") +
            "\nconfig:\n" + shown_config + "output:\n" + process_->tail());
    }
    std::smatch match;
    std::regex_search(*line, match, listening);
    port_ = static_cast<uint16_t>(std::stoul(match[1].str()));
    static const std::regex admin(R"(\badmin=[^ ]*:([0-9]+)\b)");
    if (std::regex_search(*line, match, admin)) {
        admin_port_ = static_cast<uint16_t>(std::stoul(match[1].str()));
    }
}

}  // namespace afterhook::testing
