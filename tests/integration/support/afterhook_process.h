// AfterhookProcess: the real afterhook binary (AFTERHOOK_BINARY) started
// with a config file written from inline YAML, ready once it printed
// `info listening address=127.0.0.1:PORT` on stderr.
#pragma once

#include <memory>
#include <string>

#include "support/child_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace afterhook::testing {

class AfterhookProcess {
public:
    // Writes `yaml` to <dir>/afterhook.yaml, runs `afterhook --config` on it
    // and waits up to `startup` for the listening line. Throws
    // std::runtime_error, with the binary's last output lines, when the
    // binary is missing, exits, or does not report a port in time.
    AfterhookProcess(const TempDir& dir, const std::string& yaml,
                     Clock::duration startup = std::chrono::seconds(10));
    // Runs `afterhook --config config_path` on a file the test laid out
    // itself (a symlinked Kubernetes-style volume, say); same waiting.
    explicit AfterhookProcess(std::string config_path,
                              Clock::duration startup = std::chrono::seconds(10));

    static std::string binary_path();

    uint16_t port() const { return port_; }
    // The admin listener's port from the same line (`admin=HOST:PORT`); 0
    // when the line did not name one.
    uint16_t admin_port() const { return admin_port_; }
    const std::string& config_path() const { return config_path_; }
    ChildProcess& process() { return *process_; }
    const ChildProcess& process() const { return *process_; }

    uint64_t rss_bytes() const { return process_->rss_bytes(); }
    bool signal(int signal_number) const { return process_->send_signal(signal_number); }
    // SIGTERM, SIGKILL after `grace`; reaps. See ChildProcess::stop().
    int stop(Clock::duration grace = std::chrono::seconds(5)) { return process_->stop(grace); }
    std::string diagnostics(size_t lines = 40) const { return process_->tail(lines); }

private:
    void start(const std::string& shown_config, Clock::duration startup);

    std::string config_path_;
    std::unique_ptr<ChildProcess> process_;
    uint16_t port_ = 0;
    uint16_t admin_port_ = 0;
};

}  // namespace afterhook::testing
