#include "proxy/worker.h"

#include <stdexcept>

#include "proxy/client_connection.h"
#include "proxy/exchange.h"
#include "proxy/log.h"
#include "proxy/upstream_connection.h"

namespace afterhook::proxy {

namespace {
constexpr size_t kReadBufferSize = 64 * 1024;

ParserLimits limits_from(const config::Limits& limits, bool request) {
    ParserLimits out;
    out.max_header_bytes = limits.max_header_bytes;
    out.max_headers = limits.max_headers;
    out.max_uri_bytes = limits.max_uri_bytes;
    out.max_chunk_extension_bytes = limits.max_chunk_extension_bytes;
    out.max_body_bytes = request ? limits.max_body_bytes : 0;
    if (!request) {
        // The upstream is trusted more than clients, but still bounded.
        out.max_headers = std::max<uint32_t>(limits.max_headers, 1000);
        out.max_header_bytes = std::max<uint64_t>(limits.max_header_bytes, 256 * 1024);
    }
    return out;
}
}  // namespace

Worker::Worker(SharedState& shared, WorkerConfig config, int index, int listen_fd)
    : shared_(shared),
      config_(std::move(config)),
      index_(index),
      listen_fd_(listen_fd),
      pool_(*this),
      request_limits_(limits_from(config_.config->limits, true)),
      response_limits_(limits_from(config_.config->limits, false)),
      read_buffer_(kReadBufferSize) {
    std::random_device seed;
    random_.seed((static_cast<uint64_t>(seed()) << 32) ^ seed() ^ static_cast<uint64_t>(index));
    if (int rc = uv_loop_init(&loop_); rc != 0) throw std::runtime_error(uv_strerror(rc));
    uv_tcp_init(&loop_, &listener_);
    listener_.data = this;
    if (int rc = uv_tcp_open(&listener_, listen_fd_); rc != 0) throw std::runtime_error(uv_strerror(rc));
    if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 4096, on_connection_cb); rc != 0)
        throw std::runtime_error(std::string("listen: ") + uv_strerror(rc));
    listener_open_ = true;
    uv_async_init(&loop_, &wake_, on_async_cb);
    wake_.data = this;
    uv_check_init(&loop_, &reaper_);
    reaper_.data = this;
    outbox_.emplace(&loop_, *shared_.hooks);
}

Worker::~Worker() {
    join();
    uv_loop_close(&loop_);
}

void Worker::start() { thread_ = std::thread([this] { run(); }); }

void Worker::run() {
    uv_run(&loop_, UV_RUN_DEFAULT);
    graveyard_.clear();
    outbox_->flush();  // a safety net: once closed, the outbox hands records over as they come
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::begin_drain() {
    int expected = 0;
    command_.compare_exchange_strong(expected, 1);
    uv_async_send(&wake_);
}

void Worker::stop() {
    command_.store(2);
    uv_async_send(&wake_);
}

void Worker::on_async_cb(uv_async_t* handle) { static_cast<Worker*>(handle->data)->on_async(); }

void Worker::update_config(WorkerConfig config) {
    {
        std::lock_guard<std::mutex> lock(update_mutex_);
        pending_config_ = std::move(config);
    }
    uv_async_send(&wake_);
}

void Worker::apply_pending_config() {
    std::optional<WorkerConfig> update;
    {
        std::lock_guard<std::mutex> lock(update_mutex_);
        update.swap(pending_config_);
    }
    if (!update) return;
    bool upstream_changed = update->config->upstream.to_string() != config_.config->upstream.to_string();
    config_ = std::move(*update);
    request_limits_ = limits_from(config_.config->limits, true);
    response_limits_ = limits_from(config_.config->limits, false);
    // Idle connections to an upstream that is no longer configured go now;
    // busy ones finish their exchange and are not pooled again.
    if (upstream_changed) pool_.close_all();
}

void Worker::on_async() {
    apply_pending_config();
    int command = command_.load();
    if (command >= 1 && !draining_) {
        draining_ = true;
        close_listener();
        for (ClientConnection* c = connection_list_; c;) {
            ClientConnection* next = c->next;
            c->drain();
            c = next;
        }
        pool_.close_all();
    }
    if (command == 2) {
        close_listener();
        while (connection_list_) connection_list_->close();
        pool_.close_all();
        uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&reaper_), nullptr);
        outbox_->close();
    }
}

void Worker::close_listener() {
    if (!listener_open_) return;
    listener_open_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
}

void Worker::on_connection_cb(uv_stream_t* server, int status) {
    static_cast<Worker*>(server->data)->on_connection(status);
}

void Worker::on_connection(int status) {
    if (status < 0) {
        log::warn(std::string("accept failed: ") + uv_strerror(status));
        return;
    }
    ClientConnection::accept(*this, reinterpret_cast<uv_stream_t*>(&listener_));
}

void Worker::next_request_id(std::string& id) {
    static constexpr char kHex[] = "0123456789abcdef";
    id.resize(32);
    uint64_t a = random_(), b = random_();
    for (int i = 0; i < 16; ++i) {
        id[static_cast<size_t>(i)] = kHex[(a >> (i * 4)) & 0xf];
        id[static_cast<size_t>(16 + i)] = kHex[(b >> (i * 4)) & 0xf];
    }
}

uv_buf_t Worker::read_buffer() { return uv_buf_init(read_buffer_.data(), static_cast<unsigned>(read_buffer_.size())); }

void Worker::defer_delete(std::unique_ptr<Exchange> exchange) {
    if (!exchange) return;
    graveyard_.push_back(std::move(exchange));
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&reaper_)) && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&reaper_)))
        uv_check_start(&reaper_, on_check_cb);
}

void Worker::on_check_cb(uv_check_t* handle) {
    auto* worker = static_cast<Worker*>(handle->data);
    worker->graveyard_.clear();
    uv_check_stop(handle);
}

void Worker::add_connection(ClientConnection* connection) {
    connection->prev = nullptr;
    connection->next = connection_list_;
    if (connection_list_) connection_list_->prev = connection;
    connection_list_ = connection;
    connections_.fetch_add(1, std::memory_order_relaxed);
}

void Worker::remove_connection(ClientConnection* connection) {
    if (connection->prev) connection->prev->next = connection->next;
    else connection_list_ = connection->next;
    if (connection->next) connection->next->prev = connection->prev;
    connection->next = connection->prev = nullptr;
    connections_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace afterhook::proxy
