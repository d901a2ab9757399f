// Server: the process. It binds the listeners, starts the hook thread and the
// workers, and runs the main thread's loop, which only handles signals:
// SIGTERM/SIGINT drain and exit, a second one exits at once; SIGUSR1 reopens
// log files.
#pragma once

#include <memory>

#include "config/config.h"

namespace afterhook::proxy {

class Server {
public:
    explicit Server(std::shared_ptr<const config::Config> config);
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
