#include "proxy/server.h"

#include <uv.h>

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "hooks/hook_thread.h"
#include "proxy/admin_server.h"
#include "proxy/listener.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/metrics_page.h"
#include "proxy/worker.h"

namespace afterhook::proxy {

namespace {
constexpr uint64_t kDrainPollMs = 20;
// Records between the workers and the hook thread. A Record is about 500
// bytes, so this bounds the hand-off at 8 MiB once the ring has wrapped; at
// 30,000 requests/s it absorbs half a second of a stalled hook thread.
constexpr size_t kHookQueueCapacity = 16384;
}

struct Server::Impl {
    std::shared_ptr<const config::Config> config;
    Metrics metrics;
    std::unique_ptr<hooks::HookThread> hooks;
    SharedState shared;
    std::vector<std::unique_ptr<Worker>> workers;

    uv_loop_t loop{};
    std::unique_ptr<AdminServer> admin;
    bool ready = false;  // listeners up and not draining: what /readyz says
    uv_signal_t sigterm{}, sigint{}, sigusr1{};
    uv_timer_t drain_timer{};
    bool draining = false;
    std::chrono::steady_clock::time_point drain_deadline{};
    int exit_code = 0;
    uint64_t undelivered = 0;

    void start();
    AdminResponse admin_route(std::string_view path);
    void on_stop_signal(int signum);
    void on_drain_tick();
    void finish(bool immediately);
};

Server::Server(std::shared_ptr<const config::Config> config) : impl_(std::make_unique<Impl>()) {
    impl_->config = std::move(config);
}

Server::~Server() = default;

void Server::Impl::start() {
    std::string error;
    shared.config = config;
    shared.metrics = &metrics;
    if (!resolve_address(config->upstream, shared.upstream_address, error)) throw std::runtime_error(error);
    shared.upstream_host = config->upstream.to_string();

    sockaddr_storage listen_address{};
    if (!resolve_address(config->listen, listen_address, error)) throw std::runtime_error(error);
    unsigned count = config->workers ? config->workers : std::max(1u, uv_available_parallelism());
    std::vector<int> fds;
    for (unsigned i = 0; i < count; ++i) {
        int fd = open_listen_socket(listen_address, error);
        if (fd < 0) throw std::runtime_error("listen on " + config->listen.to_string() + ": " + error);
        if (i == 0) {
            // Port 0 asks for any free port; the other workers share the one it got.
            int port = bound_port(fd);
            if (listen_address.ss_family == AF_INET)
                reinterpret_cast<sockaddr_in*>(&listen_address)->sin_port = htons(static_cast<uint16_t>(port));
            else
                reinterpret_cast<sockaddr_in6*>(&listen_address)->sin6_port = htons(static_cast<uint16_t>(port));
        }
        fds.push_back(fd);
    }
    int port = bound_port(fds.front());

    hooks = std::make_unique<hooks::HookThread>(*config, kHookQueueCapacity);
    hooks->start();
    shared.hooks = hooks.get();
    for (unsigned i = 0; i < count; ++i) workers.push_back(std::make_unique<Worker>(shared, static_cast<int>(i), fds[i]));
    for (auto& worker : workers) worker->start();

    admin = std::make_unique<AdminServer>(&loop, [this](std::string_view path) { return admin_route(path); });
    admin->start(config->admin_listen);
    ready = true;

    config::Address shown = config->listen;
    shown.port = static_cast<uint16_t>(port);
    config::Address shown_admin = config->admin_listen;
    shown_admin.port = static_cast<uint16_t>(admin->port());
    log::info("listening address=" + shown.to_string() + " admin=" + shown_admin.to_string() +
              " upstream=" + config->upstream.to_string() + " workers=" + std::to_string(count) +
              " hooks=" + std::to_string(config->hooks.size()));
}

AdminResponse Server::Impl::admin_route(std::string_view path) {
    if (path == "/livez") return {200, "text/plain; charset=utf-8", "ok\n"};
    if (path == "/readyz") {
        if (ready) return {200, "text/plain; charset=utf-8", "ready\n"};
        return {503, "text/plain; charset=utf-8", draining ? "draining\n" : "starting\n"};
    }
    if (path == "/metrics")
        return {200, "text/plain; version=0.0.4; charset=utf-8", render_metrics_page(metrics, *hooks)};
    return {404, "text/plain; charset=utf-8", "Not Found: try /metrics, /livez or /readyz\n"};
}

int Server::run() {
    Impl& s = *impl_;
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGHUP, SIG_IGN);
    std::signal(SIGXFSZ, SIG_IGN);  // a log file over its size limit is a counted write error
    uv_loop_init(&s.loop);
    s.loop.data = &s;
    s.start();

    auto on_signal = [](uv_signal_t* handle, int signum) {
        static_cast<Impl*>(handle->loop->data)->on_stop_signal(signum);
    };
    uv_signal_init(&s.loop, &s.sigterm);
    uv_signal_init(&s.loop, &s.sigint);
    uv_signal_init(&s.loop, &s.sigusr1);
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sigusr1, [](uv_signal_t* handle, int) {
        static_cast<Impl*>(handle->loop->data)->hooks->reopen_logs();
    }, SIGUSR1);
    uv_timer_init(&s.loop, &s.drain_timer);

    uv_run(&s.loop, UV_RUN_DEFAULT);
    uv_loop_close(&s.loop);
    // A sink stuck in a write (a pipe nobody reads) keeps the hook thread
    // alive past its deadline; it was detached, so leave without running
    // destructors that would wait for it.
    if (s.undelivered > 0) std::_Exit(s.exit_code);
    return s.exit_code;
}

void Server::Impl::on_stop_signal(int signum) {
    if (draining) {
        log::warn("second stop signal: exiting now");
        finish(true);
        return;
    }
    draining = true;
    ready = false;
    drain_deadline = std::chrono::steady_clock::now() + config->timeouts.drain;
    log::info(std::string("draining signal=") + (signum == SIGTERM ? "SIGTERM" : "SIGINT") +
              " deadline_ms=" + std::to_string(config->timeouts.drain.count()));
    for (auto& worker : workers) worker->begin_drain();
    uv_timer_start(&drain_timer, [](uv_timer_t* t) { static_cast<Impl*>(t->loop->data)->on_drain_tick(); },
                   kDrainPollMs, kDrainPollMs);
}

void Server::Impl::on_drain_tick() {
    size_t active = 0;
    for (auto& worker : workers) active += worker->active_connections();
    if (active == 0 || std::chrono::steady_clock::now() >= drain_deadline) finish(false);
}

void Server::Impl::finish(bool immediately) {
    uv_timer_stop(&drain_timer);
    for (auto& worker : workers) worker->stop();
    for (auto& worker : workers) worker->join();
    workers.clear();
    auto deadline = immediately ? std::chrono::steady_clock::now() : drain_deadline;
    undelivered = hooks->stop(deadline);
    if (undelivered > 0) log::warn("exiting with undelivered hook events count=" + std::to_string(undelivered));
    log::info("stopped");
    exit_code = 0;
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigusr1), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer), nullptr);
    if (admin) admin->close([] {});
}

}  // namespace afterhook::proxy
