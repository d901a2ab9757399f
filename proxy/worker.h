// Worker: one thread, one libuv loop, one SO_REUSEPORT listener and one
// upstream pool. Everything a connection needs from its loop is reached
// through here; nothing in a worker is shared with another worker except the
// immutable config, the atomic metrics and the hook thread's submit().
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "hooks/hook_thread.h"
#include "proxy/http_parser.h"
#include "proxy/metrics.h"
#include "proxy/record_outbox.h"
#include "proxy/upstream_pool.h"

namespace afterhook::proxy {

class ClientConnection;
class Exchange;

// What every worker shares, owned by the Server and outliving the workers.
struct SharedState {
    Metrics* metrics = nullptr;
    hooks::HookThread* hooks = nullptr;
};

// A config as a worker runs it: the values plus the resolved upstream.
struct WorkerConfig {
    std::shared_ptr<const config::Config> config;
    sockaddr_storage upstream_address{};
    std::string upstream_host;  // "host:port", for HTTP/1.0 requests without Host
};

class Worker {
public:
    Worker(SharedState& shared, WorkerConfig config, int index, int listen_fd);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void start();  // starts the thread
    // Any thread: stop accepting and close idle keep-alive connections; busy
    // connections close after their current exchange.
    void begin_drain();
    // Any thread: close everything now and end the loop.
    void stop();
    // Any thread: new connections and exchanges use `config` from the loop's
    // next turn; exchanges in flight keep the config they started with.
    void update_config(WorkerConfig config);
    void join();
    size_t active_connections() const { return connections_.load(std::memory_order_relaxed); }

    // Loop thread only, from here on.
    uv_loop_t* loop() { return &loop_; }
    const config::Config& config() const { return *config_.config; }
    const std::shared_ptr<const config::Config>& config_ptr() const { return config_.config; }
    const sockaddr_storage& upstream_address() const { return config_.upstream_address; }
    const std::string& upstream_host() const { return config_.upstream_host; }
    Metrics& metrics() { return *shared_.metrics; }
    // Finished records go here; it hands them to the hook thread in batches.
    RecordOutbox& outbox() { return *outbox_; }
    UpstreamPool& upstream_pool() { return pool_; }
    const ParserLimits& request_limits() const { return request_limits_; }
    const ParserLimits& response_limits() const { return response_limits_; }
    bool draining() const { return draining_; }

    // Writes a new random request id (32 hex digits) into `id`, reusing its storage.
    void next_request_id(std::string& id);
    // One read buffer per loop: every read is consumed before the callback
    // returns, so idle connections hold no buffer at all.
    uv_buf_t read_buffer();
    // Exchanges are destroyed on the next loop turn, never inside their own callbacks.
    void defer_delete(std::unique_ptr<Exchange> exchange);

    void add_connection(ClientConnection* connection);
    void remove_connection(ClientConnection* connection);

private:
    static void on_connection_cb(uv_stream_t* server, int status);
    static void on_async_cb(uv_async_t* handle);
    static void on_check_cb(uv_check_t* handle);
    void on_connection(int status);
    void on_async();
    void run();
    void close_listener();
    void apply_pending_config();

    SharedState& shared_;
    WorkerConfig config_;
    std::mutex update_mutex_;
    std::optional<WorkerConfig> pending_config_;
    int index_;
    int listen_fd_;
    uv_loop_t loop_{};
    uv_tcp_t listener_{};
    uv_async_t wake_{};
    uv_check_t reaper_{};
    std::optional<RecordOutbox> outbox_;  // constructed once the loop exists
    bool listener_open_ = false;
    bool draining_ = false;
    std::atomic<int> command_{0};  // 1 = drain, 2 = stop
    std::thread thread_;
    UpstreamPool pool_;
    ParserLimits request_limits_;
    ParserLimits response_limits_;
    std::mt19937_64 random_;
    std::vector<char> read_buffer_;
    std::vector<std::unique_ptr<Exchange>> graveyard_;
    ClientConnection* connection_list_ = nullptr;  // intrusive list of live connections
    std::atomic<size_t> connections_{0};
};

}  // namespace afterhook::proxy
