#include "proxy/server.h"

#include <uv.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "hooks/hook_thread.h"
#include "proxy/admin_server.h"
#include "proxy/config_watch.h"
#include "proxy/listener.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/metrics_page.h"
#include "proxy/worker.h"

namespace afterhook::proxy {

namespace {
constexpr uint64_t kDrainPollMs = 20;
// A config directory change arrives as a burst of events (Kubernetes swaps a
// symlink and removes the old target); one reload follows the burst.
constexpr uint64_t kReloadDebounceMs = 100;
// Records between the workers and the hook thread. A Record is about 500
// bytes, so this bounds the hand-off at 8 MiB once the ring has wrapped; at
// 30,000 requests/s it absorbs half a second of a stalled hook thread.
constexpr size_t kHookQueueCapacity = 16384;

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

WorkerConfig worker_config(std::shared_ptr<const config::Config> config) {
    WorkerConfig out;
    std::string error;
    if (!resolve_address(config->upstream, out.upstream_address, error)) throw std::runtime_error(error);
    out.upstream_host = config->upstream.to_string();
    out.config = std::move(config);
    return out;
}
}  // namespace

struct Server::Impl {
    std::shared_ptr<const config::Config> config;
    std::string config_path;
    std::string config_text;  // what was last loaded, to ignore events that change nothing
    Metrics metrics;
    std::unique_ptr<hooks::HookThread> hooks;
    SharedState shared;
    std::vector<std::unique_ptr<Worker>> workers;

    uv_loop_t loop{};
    std::unique_ptr<AdminServer> admin;
    uv_signal_t sigterm{}, sigint{}, sighup{}, sigusr1{};
    uv_timer_t drain_timer{};
    uv_timer_t reload_timer{};
    ConfigWatch config_watch;
    bool ready = false;  // listeners up and not draining: what /readyz says
    bool draining = false;
    std::chrono::steady_clock::time_point drain_deadline{};
    int exit_code = 0;
    uint64_t undelivered = 0;

    void start();
    void watch_config();
    void reload(const char* cause);
    AdminResponse admin_route(std::string_view path);
    void on_stop_signal(int signum);
    void on_drain_tick();
    void finish(bool immediately);
};

Server::Server(std::shared_ptr<const config::Config> config, std::string config_path)
    : impl_(std::make_unique<Impl>()) {
    impl_->config = std::move(config);
    impl_->config_path = std::move(config_path);
    if (!impl_->config_path.empty()) impl_->config_text = read_file(impl_->config_path);
}

Server::~Server() = default;

void Server::Impl::start() {
    std::string error;
    shared.metrics = &metrics;
    WorkerConfig first = worker_config(config);

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

    hooks = std::make_unique<hooks::HookThread>(config, kHookQueueCapacity);
    hooks->start();
    shared.hooks = hooks.get();
    for (unsigned i = 0; i < count; ++i)
        workers.push_back(std::make_unique<Worker>(shared, first, static_cast<int>(i), fds[i]));
    for (auto& worker : workers) worker->start();

    admin = std::make_unique<AdminServer>(&loop, [this](std::string_view path) { return admin_route(path); });
    admin->start(config->admin_listen);
    watch_config();
    ready = true;

    config::Address shown = config->listen;
    shown.port = static_cast<uint16_t>(port);
    config::Address shown_admin = config->admin_listen;
    shown_admin.port = static_cast<uint16_t>(admin->port());
    log::info("listening address=" + shown.to_string() + " admin=" + shown_admin.to_string() +
              " upstream=" + config->upstream.to_string() + " workers=" + std::to_string(count) +
              " hooks=" + std::to_string(config->hooks.size()));
}

// One check after each burst of changes (kReloadDebounceMs); it reloads
// only if the file's text changed.
void Server::Impl::watch_config() {
    uv_timer_init(&loop, &reload_timer);
    if (config_path.empty()) return;
    const int rc = config_watch.start(&loop, config_path, [this] {
        uv_timer_start(&reload_timer, [](uv_timer_t* t) {
            auto* s = static_cast<Impl*>(t->loop->data);
            if (read_file(s->config_path) != s->config_text) s->reload("file changed");
        }, kReloadDebounceMs, 0);
    });
    if (rc != 0) log::warn("cannot watch the config directory (reload with SIGHUP): " + std::string(uv_strerror(rc)));
}

void Server::Impl::reload(const char* cause) {
    if (draining) return;
    if (config_path.empty()) {
        log::warn("reload asked, but afterhook runs on the built-in defaults (no --config)");
        return;
    }
    std::string text = read_file(config_path);
    config::LoadResult result = config::load_file(config_path);
    auto failed = [&](const std::string& why) {
        metrics.config_reloads_failed.fetch_add(1, std::memory_order_relaxed);
        metrics.config_last_reload_successful.store(false, std::memory_order_relaxed);
        log::error("config reload failed (" + std::string(cause) + "): " + why + "; the running config stays");
    };
    if (!result.ok()) {
        for (const auto& error : result.errors) log::error(error.to_string());
        failed(std::to_string(result.errors.size()) + " error(s)");
        config_text = text;  // do not retry the same broken file on every event
        return;
    }
    config::Config next = std::move(result.config);
    // These are bound at start-up; a change takes effect at the next restart.
    if (next.listen.to_string() != config->listen.to_string() || next.workers != config->workers ||
        next.admin_listen.to_string() != config->admin_listen.to_string()) {
        log::warn("config reload: listen, workers and admin.listen need a restart to change; keeping the running values");
        next.listen = config->listen;
        next.workers = config->workers;
        next.admin_listen = config->admin_listen;
    }
    auto shared_next = std::make_shared<const config::Config>(std::move(next));
    WorkerConfig update;
    try {
        update = worker_config(shared_next);
    } catch (const std::exception& e) {
        config_text = text;
        failed(e.what());
        return;
    }
    // Hooks first: a sink that cannot open fails the reload before any
    // worker sees the new config, so nothing changes.
    std::string error;
    if (!hooks->reload(shared_next, error)) {
        config_text = text;
        failed(error);
        return;
    }
    for (auto& worker : workers) worker->update_config(update);
    config = shared_next;
    config_text = text;
    metrics.config_reloads_ok.fetch_add(1, std::memory_order_relaxed);
    metrics.config_last_reload_successful.store(true, std::memory_order_relaxed);
    log::info(std::string("config reloaded (") + cause + ") hooks=" + std::to_string(config->hooks.size()));
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
    std::signal(SIGXFSZ, SIG_IGN);  // a log file over its size limit is a counted write error
    uv_loop_init(&s.loop);
    s.loop.data = &s;
    s.start();

    auto on_stop = [](uv_signal_t* handle, int signum) { static_cast<Impl*>(handle->loop->data)->on_stop_signal(signum); };
    uv_signal_init(&s.loop, &s.sigterm);
    uv_signal_init(&s.loop, &s.sigint);
    uv_signal_init(&s.loop, &s.sighup);
    uv_signal_init(&s.loop, &s.sigusr1);
    uv_signal_start(&s.sigterm, on_stop, SIGTERM);
    uv_signal_start(&s.sigint, on_stop, SIGINT);
    uv_signal_start(&s.sighup, [](uv_signal_t* h, int) { static_cast<Impl*>(h->loop->data)->reload("SIGHUP"); }, SIGHUP);
    uv_signal_start(&s.sigusr1, [](uv_signal_t* h, int) { static_cast<Impl*>(h->loop->data)->hooks->reopen_logs(); },
                    SIGUSR1);
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
    for (const auto& c : hooks->counters())
        if (c.queue_depth > 0) log::warn("hook left events undelivered hook=" + c.hook + " count=" + std::to_string(c.queue_depth));
    if (undelivered > 0) log::warn("exiting with undelivered hook events count=" + std::to_string(undelivered));
    log::info("stopped");
    exit_code = 0;
    for (uv_signal_t* signal : {&sigterm, &sigint, &sighup, &sigusr1})
        uv_close(reinterpret_cast<uv_handle_t*>(signal), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&reload_timer), nullptr);
    config_watch.close();
    if (admin) admin->close([] {});
}

}  // namespace afterhook::proxy
