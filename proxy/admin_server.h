// AdminServer: the admin listener (/metrics, /livez, /readyz) on its own
// port, never shared with proxied traffic. It runs on the main thread's loop,
// which otherwise only handles signals, so probes and scrapes answer even
// when the workers or the hook thread are saturated.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace afterhook::proxy {

struct AdminResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

class AdminServer {
public:
    // `route` answers GET/HEAD for a path; it runs on the loop thread.
    using Route = std::function<AdminResponse(std::string_view path)>;

    AdminServer(uv_loop_t* loop, Route route);
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;
    ~AdminServer();

    // Binds and listens. Throws std::runtime_error with the address on failure.
    void start(const config::Address& address);
    int port() const { return port_; }
    // Closes the listener and every admin connection; `closed` runs when all
    // handles are closed (the object may be destroyed then).
    void close(std::function<void()> closed);

    // For AdminConnection.
    AdminResponse answer(std::string_view method, std::string_view path) const;
    uv_loop_t* loop() const { return loop_; }

private:
    static void on_connection_cb(uv_stream_t* server, int status);
    void maybe_done();
    struct Connection;
    void connection_closed(Connection* connection);

    uv_loop_t* loop_;
    Route route_;
    uv_tcp_t listener_{};
    bool listening_ = false;
    bool closing_ = false;
    bool listener_closed_ = false;
    int port_ = 0;
    size_t connections_ = 0;
    std::function<void()> closed_;
    Connection* connection_list_ = nullptr;
};

}  // namespace afterhook::proxy
