// Server: the process. It binds the listeners, starts the hook thread, the
// workers and the admin listener, and runs the main thread's loop, which
// handles signals and config reloads:
//   SIGTERM/SIGINT  drain and exit (a second one exits at once)
//   SIGHUP, or a change in the config file's directory   reload the config
//   SIGUSR1         reopen log files
#pragma once

#include <memory>
#include <string>

#include "config/config.h"

namespace afterhook::proxy {

class Server {
public:
    // `config_path` is the file the config came from ("" for the built-in
    // defaults, which cannot be reloaded).
    Server(std::shared_ptr<const config::Config> config, std::string config_path);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Runs until the process is told to stop. Returns the exit code.
    // Start-up failures throw std::runtime_error with a clear message.
    int run();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace afterhook::proxy
