#include "proxy/admin_server.h"

#include <stdexcept>

#include "proxy/header_rules.h"
#include "proxy/http_parser.h"
#include "proxy/listener.h"
#include "proxy/log.h"
#include "proxy/stream_writer.h"

namespace afterhook::proxy {

namespace {
constexpr size_t kMaxAdminConnections = 64;

ParserLimits admin_limits() {
    ParserLimits limits;
    limits.max_header_bytes = 16 * 1024;
    limits.max_headers = 64;
    limits.max_uri_bytes = 1024;
    limits.max_body_bytes = 1;  // admin requests carry no body
    return limits;
}
}  // namespace

// One admin client connection: requests answered in order, keep-alive.
struct AdminServer::Connection final : private HttpParser::Handler {
    AdminServer& server;
    uv_tcp_t tcp{};
    HttpParser parser;
    StreamWriter writer;
    std::string method, path, pending;
    bool close_after = false;
    bool closing = false;
    Connection* next = nullptr;
    Connection* prev = nullptr;

    explicit Connection(AdminServer& s) : server(s), parser(HttpParser::Type::request, admin_limits(), *this) {}

    bool on_head(MessageHead& head, bool&) override {
        method = head.method;
        path = head.target.substr(0, head.target.find('?'));
        close_after = !head.keep_alive;
        return true;
    }
    void on_body(const char*, size_t) override {}
    bool on_message_complete(std::vector<HeaderField>&&) override { return true; }

    void respond(const AdminResponse& response) {
        std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                          std::string(reason_phrase(response.status)) + "\r\nContent-Type: " + response.content_type +
                          "\r\nContent-Length: " + std::to_string(response.body.size()) +
                          "\r\nCache-Control: no-store\r\n" + (close_after ? "Connection: close\r\n" : "") + "\r\n";
        if (method != "HEAD") out.append(response.body);
        writer.append(out);
        if (writer.flush() < 0) close_after = true;
    }

    void feed(const char* data, size_t length) {
        while (!closing) {
            HttpParser::Result result = parser.feed(data, length);
            if (result.status == HttpParser::Status::error) {
                AdminResponse bad{parser.error_status(), "text/plain; charset=utf-8",
                                  std::string(reason_phrase(parser.error_status())) + "\n"};
                close_after = true;
                respond(bad);
                close_when_flushed();
                return;
            }
            if (result.status != HttpParser::Status::paused) return;  // need more
            respond(server.answer(method, path));
            if (close_after) {
                close_when_flushed();
                return;
            }
            parser.resume();
            data += result.consumed;
            length -= result.consumed;
            if (length == 0) return;
        }
    }

    void close_when_flushed() {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp));
        if (writer.in_flight() == 0) close();
    }

    void close() {
        if (closing) return;
        closing = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&tcp), [](uv_handle_t* h) {
            auto* c = static_cast<Connection*>(h->data);
            AdminServer& s = c->server;
            s.connection_closed(c);
            delete c;
        });
    }
};

AdminServer::AdminServer(uv_loop_t* loop, Route route) : loop_(loop), route_(std::move(route)) {}

AdminServer::~AdminServer() = default;

void AdminServer::start(const config::Address& address) {
    sockaddr_storage addr{};
    std::string error;
    if (!resolve_address(address, addr, error)) throw std::runtime_error("admin listen: " + error);
    uv_tcp_init(loop_, &listener_);
    listener_.data = this;
    listening_ = true;
    int rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, on_connection_cb);
    if (rc != 0) throw std::runtime_error("admin listen on " + address.to_string() + ": " + uv_strerror(rc));
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                        : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

void AdminServer::on_connection_cb(uv_stream_t* stream, int status) {
    auto* server = static_cast<AdminServer*>(stream->data);
    if (status < 0 || server->closing_) return;
    auto* c = new Connection(*server);
    uv_tcp_init(server->loop_, &c->tcp);
    c->tcp.data = c;
    c->writer.init(reinterpret_cast<uv_stream_t*>(&c->tcp), c, [](uv_write_t* req, int) {
        auto* conn = static_cast<Connection*>(req->data);
        conn->writer.complete(req);
        if (conn->close_after && conn->writer.in_flight() == 0) conn->close();
    });
    ++server->connections_;
    c->next = server->connection_list_;
    if (c->next) c->next->prev = c;
    server->connection_list_ = c;
    if (uv_accept(stream, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0 ||
        server->connections_ > kMaxAdminConnections) {
        c->close();
        return;
    }
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, size_t, uv_buf_t* buf) {
            static thread_local char buffer[16 * 1024];
            *buf = uv_buf_init(buffer, sizeof buffer);
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
            auto* conn = static_cast<Connection*>(s->data);
            if (nread < 0) conn->close();
            else if (nread > 0) conn->feed(buf->base, static_cast<size_t>(nread));
        });
}

AdminResponse AdminServer::answer(std::string_view method, std::string_view path) const {
    if (method != "GET" && method != "HEAD") return {405, "text/plain; charset=utf-8", "Method Not Allowed\n"};
    return route_(path);
}

void AdminServer::connection_closed(Connection* c) {
    if (c->prev) c->prev->next = c->next;
    else connection_list_ = c->next;
    if (c->next) c->next->prev = c->prev;
    --connections_;
    maybe_done();
}

void AdminServer::close(std::function<void()> closed) {
    closing_ = true;
    closed_ = std::move(closed);
    for (Connection* c = connection_list_; c; c = c->next) c->close();  // unlinked in their close callbacks
    if (listening_) {
        uv_close(reinterpret_cast<uv_handle_t*>(&listener_), [](uv_handle_t* h) {
            auto* s = static_cast<AdminServer*>(h->data);
            s->listener_closed_ = true;
            s->maybe_done();
        });
    } else {
        listener_closed_ = true;
        maybe_done();
    }
}

void AdminServer::maybe_done() {
    if (closing_ && listener_closed_ && connections_ == 0 && closed_) {
        auto closed = std::move(closed_);
        closed_ = nullptr;
        closed();
    }
}

}  // namespace afterhook::proxy
