// Exchange: one request/response pair on a client connection. It captures
// the record when the request head is parsed (before anything is forwarded),
// streams the request to an upstream connection and the response back, and
// ends in exactly one call to finish(): the one exit, which decides
// keep-alive, completes the record and hands it to the hook thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "hooks/record.h"
#include "proxy/header_rules.h"
#include "proxy/http_message.h"
#include "proxy/upstream_connection.h"

namespace afterhook::proxy {

class ClientConnection;
class Worker;

class Exchange final : private UpstreamConnection::Listener {
public:
    Exchange(ClientConnection& client, Worker& worker);
    ~Exchange();
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;

    // Client side, called by ClientConnection.
    void on_request_head(MessageHead& head);
    void on_request_body(const char* data, size_t length);
    void on_request_complete(std::vector<HeaderField>&& trailers);
    void on_client_tunnel_data(const char* data, size_t length);
    // One read from the client has been parsed: send what it produced.
    void on_client_input_done();
    void on_client_write_done();
    void on_client_closed(const char* reason);  // EOF, reset or failed write
    void on_client_timeout();
    // The request is malformed or over a limit. `partial` is what was parsed
    // of the head so far (may be incomplete), for the record.
    void reject(int status, const std::string& reason, const MessageHead& partial);
    // Records what was parsed of a head that never completed.
    void capture_partial(const MessageHead& partial);

    size_t upstream_backlog() const;
    bool finished() const { return finished_; }
    bool waiting_for_upstream() const;
    bool tunnelling() const { return tunnel_; }

private:
    enum class ResponseState { none, interim, head_sent, complete };

    // UpstreamConnection::Listener
    void on_upstream_connected() override;
    bool on_upstream_head(MessageHead& head, bool& skip_body) override;
    void on_upstream_body(const char* data, size_t length) override;
    void on_upstream_complete(std::vector<HeaderField>&& trailers) override;
    void on_upstream_interim_complete() override;
    void on_upstream_tunnel_data(const char* data, size_t length) override;
    void on_upstream_failed(UpstreamFailure failure, const std::string& reason) override;
    void on_upstream_closed() override;
    void on_upstream_writable() override;
    void on_upstream_read_done() override;

    void capture_request(const MessageHead& head);
    void capture_response(const MessageHead& head);
    bool start_upstream();
    void send_to_upstream(std::string_view data);
    void write_to_client(std::string_view data);
    void write_head_to_client(const MessageHead& head, const ClientResponseContext& ctx);
    void write_body_to_client(const char* data, size_t length);
    void send_error(int status, hooks::Outcome outcome, const std::string& reason);
    void abort(hooks::Outcome outcome, const std::string& reason);
    void release_upstream(bool reusable);
    void maybe_finish();
    bool keep_alive() const;
    void finish(hooks::Outcome outcome);

    ClientConnection& client_;
    Worker& worker_;
    // The config this exchange started under; with hooks, finish() moves it
    // into the record.
    std::shared_ptr<const config::Config> config_;
    // Taken from the worker's outbox and filled in place; handed over in
    // finish(), after which nothing writes to it (the exchange is detached
    // from its connection and upstream by then).
    hooks::SubmittedRecord shared_record_;
    hooks::Record& record_;
    std::chrono::steady_clock::time_point started_;
    std::chrono::steady_clock::time_point upstream_started_{};

    // Request side.
    std::string method_;
    bool client_http10_ = false;
    bool client_keep_alive_ = false;
    bool head_request_ = false;
    bool tunnel_requested_ = false;
    Framing request_framing_ = Framing::none;
    bool request_complete_ = false;
    bool request_body_sent_ = false;   // some body bytes went to the upstream
    std::string retry_head_;           // the head, for one retry on a stale pooled connection
    bool retried_ = false;

    // Response side.
    UpstreamConnection* upstream_ = nullptr;
    ResponseState response_ = ResponseState::none;
    Framing response_framing_ = Framing::none;
    bool tunnel_ = false;
    bool closing_after_error_ = false;
    hooks::Outcome pending_outcome_ = hooks::Outcome::ok;
    bool finished_ = false;
};

}  // namespace afterhook::proxy
