#include "proxy/upstream_pool.h"

#include "proxy/upstream_connection.h"
#include "proxy/worker.h"

namespace afterhook::proxy {

UpstreamConnection* UpstreamPool::acquire(int& error) {
    error = 0;
    if (head_) {
        UpstreamConnection* connection = head_;
        forget(connection);
        worker_.metrics().upstream_connections_reused.fetch_add(1, std::memory_order_relaxed);
        return connection;
    }
    auto* connection = new UpstreamConnection(worker_);
    error = connection->connect();
    // On error the connection is already closing and frees itself.
    return error < 0 ? nullptr : connection;
}

void UpstreamPool::release(UpstreamConnection* connection) {
    if (!connection->can_reuse() || idle_count_ >= kMaxIdle) {
        connection->close();
        return;
    }
    connection->park();
    connection->pool_prev = nullptr;
    connection->pool_next = head_;
    if (head_) head_->pool_prev = connection;
    head_ = connection;
    ++idle_count_;
}

void UpstreamPool::forget(UpstreamConnection* connection) {
    if (connection->pool_prev) connection->pool_prev->pool_next = connection->pool_next;
    else if (head_ == connection) head_ = connection->pool_next;
    else return;  // not in the pool
    if (connection->pool_next) connection->pool_next->pool_prev = connection->pool_prev;
    connection->pool_next = connection->pool_prev = nullptr;
    --idle_count_;
}

void UpstreamPool::close_all() {
    while (head_) head_->close();  // close() forgets it
}

}  // namespace afterhook::proxy
