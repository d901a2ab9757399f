#include "proxy/exchange.h"

#include <cstdio>

#include "proxy/client_connection.h"
#include "proxy/log.h"
#include "proxy/worker.h"

namespace afterhook::proxy {

namespace {

constexpr size_t kHighWater = 256 * 1024;  // stop reading the other side above this
constexpr size_t kLowWater = 64 * 1024;    // and start again below this

using hooks::Outcome;

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
    for (const auto& n : names)
        if (iequals(n, name)) return true;
    return false;
}

// All values of `name`, joined as one list value (RFC 9110 section 5.3).
bool joined_value(const MessageHead& head, std::string_view name, std::string& out) {
    bool found = false;
    for (const auto& field : head.fields) {
        if (!iequals(field.name, name)) continue;
        if (found) out.append(", ");
        out.append(field.value);
        found = true;
    }
    return found;
}

void capture_fields(const MessageHead& head, const std::vector<std::string>& names,
                    const std::vector<std::string>& redact, std::vector<hooks::Field>& out) {
    for (const auto& name : names) {
        std::string value;
        if (!joined_value(head, name, value)) continue;
        out.emplace_back(to_lower(name), contains(redact, name) ? std::string("[redacted]") : std::move(value));
    }
}

void capture_cookies(const MessageHead& head, const std::vector<std::string>& names,
                     const std::vector<std::string>& redact, std::vector<hooks::Field>& out) {
    if (names.empty()) return;
    for (const auto& field : head.fields) {
        if (!iequals(field.name, "cookie")) continue;
        std::string_view rest = field.value;
        while (!rest.empty()) {
            size_t semi = rest.find(';');
            std::string_view pair = rest.substr(0, semi);
            rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
            while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
            size_t eq = pair.find('=');
            if (eq == std::string_view::npos) continue;
            std::string_view name = pair.substr(0, eq);
            for (const auto& wanted : names) {
                if (name != wanted) continue;
                bool hidden = contains(redact, name);
                out.emplace_back(std::string(name), hidden ? std::string("[redacted]") : std::string(pair.substr(eq + 1)));
            }
        }
    }
}

// "/a/b?x=1" → "/a/b" and "x=1"; the absolute form keeps only the path.
void split_target(std::string_view target, std::string& path, std::string& query) {
    if (size_t scheme = target.find("://"); scheme != std::string_view::npos && target.front() != '/') {
        size_t slash = target.find('/', scheme + 3);
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
    size_t q = target.find('?');
    path.assign(target.substr(0, q));
    if (q != std::string_view::npos) query.assign(target.substr(q + 1));
}

}  // namespace

Exchange::Exchange(ClientConnection& client, Worker& worker)
    : client_(client),
      worker_(worker),
      config_(worker.config_ptr()),
      shared_record_(worker.outbox().take()),
      record_(*shared_record_) {
    started_ = client.request_started();
    record_.start_time = client.request_started_wall();
    record_.client_ip = client.peer_ip();
    record_.client_port = client.peer_port();
}

Exchange::~Exchange() {
    // finish() always runs first; an upstream still attached here would be a bug.
    if (upstream_) upstream_->close();
}

// ---- request side -------------------------------------------------------

// The request id is echoed and forwarded whatever the config; the rest of
// the record only serves hooks, and with none configured it is not taken.
void Exchange::capture_request(const MessageHead& head) {
    const config::Capture& capture = config_->capture;
    const HeaderField* id = head.find("x-request-id");
    if (id && valid_request_id(id->value)) record_.id = id->value;
    else worker_.next_request_id(record_.id);
    if (config_->hooks.empty()) return;
    record_.method = head.method;
    record_.target = head.target;
    split_target(head.target, record_.path, record_.query);
    if (const HeaderField* host = head.find("host")) record_.host = host->value;
    record_.protocol_version = head.version_minor == 0 ? "1.0" : "1.1";
    capture_fields(head, capture.headers, capture.redact, record_.request_headers);
    capture_cookies(head, capture.cookies, capture.redact, record_.cookies);
}

void Exchange::on_request_head(MessageHead& head) {
    capture_request(head);
    method_ = head.method;
    client_http10_ = head.is_http10();
    client_keep_alive_ = head.keep_alive;
    head_request_ = head.method == "HEAD";
    tunnel_requested_ = head.upgrade;

    if (head.method == "CONNECT") {
        send_error(405, Outcome::rejected, "CONNECT is not proxied");
        return;
    }
    if (const HeaderField* expect = head.find("expect"); expect && !iequals(expect->value, "100-continue")) {
        send_error(417, Outcome::rejected, "unsupported expectation");
        return;
    }
    if (head.chunked) request_framing_ = Framing::chunked;
    else if (head.content_length) request_framing_ = Framing::content_length;

    UpstreamRequestContext ctx;
    ctx.client_ip = record_.client_ip;
    ctx.request_id = record_.id;
    ctx.default_host = worker_.upstream_host();
    ctx.framing = request_framing_;
    ctx.tunnel = tunnel_requested_;
    // Kept for one retry on a stale pooled connection, which is only safe
    // while nothing but the head has gone out: bodyless requests.
    append_upstream_request_head(retry_head_, head, ctx);
    bool bodyless = request_framing_ == Framing::none ||
                    (request_framing_ == Framing::content_length && *head.content_length == 0);
    if (!start_upstream()) return;
    send_to_upstream(retry_head_);
    if (!bodyless) retry_head_.clear();
}

bool Exchange::start_upstream() {
    int error = 0;
    upstream_ = worker_.upstream_pool().acquire(error);
    if (!upstream_) {
        worker_.metrics().upstream_connect_errors.fetch_add(1, std::memory_order_relaxed);
        send_error(502, Outcome::upstream_error, std::string("upstream connect: ") + uv_strerror(error));
        return false;
    }
    upstream_->attach(this);
    upstream_started_ = std::chrono::steady_clock::now();
    return true;
}

void Exchange::send_to_upstream(std::string_view data) {
    if (upstream_) upstream_->output().append(data);
}

void Exchange::on_client_input_done() {
    if (upstream_) upstream_->flush();
}

void Exchange::on_request_body(const char* data, size_t length) {
    if (finished_) return;
    record_.request_body_bytes += length;
    if (!upstream_ || closing_after_error_) return;  // the request is being discarded
    request_body_sent_ = true;
    retry_head_.clear();
    if (request_framing_ == Framing::chunked) upstream_->output().append_chunk(data, length);
    else upstream_->output().append({data, length});
}

void Exchange::on_request_complete(std::vector<HeaderField>&& trailers) {
    request_complete_ = true;
    if (!upstream_ || finished_ || closing_after_error_) {
        maybe_finish();
        return;
    }
    if (request_framing_ == Framing::chunked)
        send_to_upstream("0\r\n" + build_trailer_section(trailers) + "\r\n");
    if (upstream_ && response_ == ResponseState::none) upstream_->expect_response();
}

void Exchange::on_client_tunnel_data(const char* data, size_t length) {
    if (!upstream_) return;
    upstream_->output().append({data, length});
    upstream_->flush();
}

size_t Exchange::upstream_backlog() const { return upstream_ ? upstream_->write_backlog() : 0; }

bool Exchange::waiting_for_upstream() const {
    return upstream_ && request_complete_ && response_ != ResponseState::complete && !tunnel_;
}

void Exchange::capture_partial(const MessageHead& partial) {
    if (!record_.id.empty()) return;  // the head was complete and captured
    worker_.next_request_id(record_.id);
    record_.method = partial.method;
    record_.target.assign(partial.target, 0, 1024);
    split_target(record_.target, record_.path, record_.query);
    record_.protocol_version = partial.version_minor == 0 ? "1.0" : "1.1";
}

void Exchange::reject(int status, const std::string& reason, const MessageHead& partial) {
    capture_partial(partial);
    send_error(status, Outcome::rejected, reason);
}

// ---- client events ------------------------------------------------------

void Exchange::on_client_write_done() {
    if (finished_) return;
    if (upstream_ && client_.write_backlog() < kLowWater) upstream_->resume_reading();
    maybe_finish();
}

void Exchange::on_client_closed(const char* reason) {
    if (finished_) return;
    if (tunnel_) {
        // Either side may end a tunnel; that is its normal end.
        release_upstream(false);
        finish(Outcome::ok);
        return;
    }
    release_upstream(false);
    record_.error = reason;
    record_.status = 499;
    finish(Outcome::client_abort);
}

void Exchange::on_client_timeout() {
    if (finished_) return;
    if (waiting_for_upstream()) return;  // the upstream timer governs
    if (tunnel_) {
        release_upstream(false);
        finish(Outcome::ok);
    } else if (!request_complete_ && response_ == ResponseState::none) {
        send_error(408, Outcome::rejected, "client sent the request body too slowly");
    } else {
        release_upstream(false);
        record_.error = "client stopped reading the response";
        record_.status = 499;
        finish(Outcome::client_abort);
    }
}

// ---- upstream events ----------------------------------------------------

void Exchange::on_upstream_connected() {}

bool Exchange::on_upstream_head(MessageHead& head, bool& skip_body) {
    if (head.status == 101) {
        if (!tunnel_requested_) return false;  // 101 to a request that asked for no upgrade
    } else if (head.status < 200) {
        // Interim responses (100 Continue, 103 Early Hints) go to HTTP/1.1 clients only.
        if (!client_http10_) {
            ClientResponseContext ctx;
            ctx.interim = true;
            write_head_to_client(head, ctx);
        }
        response_ = ResponseState::interim;
        return true;
    }
    capture_response(head);
    skip_body = head_request_ || head.status == 204 || head.status == 304;
    if (head.status == 101) response_framing_ = Framing::none;
    else if (skip_body) response_framing_ = Framing::none;
    else if (head.content_length) response_framing_ = Framing::content_length;
    else response_framing_ = client_http10_ ? Framing::close_delimited : Framing::chunked;

    ClientResponseContext ctx;
    ctx.request_id = record_.id;
    ctx.trigger_header = config_->trigger_header;
    ctx.framing = response_framing_;
    ctx.client_http10 = client_http10_;
    ctx.tunnel = head.status == 101;
    ctx.keep_alive = keep_alive() && request_complete_ && head.keep_alive;
    if (!ctx.keep_alive) client_keep_alive_ = false;
    response_ = ResponseState::head_sent;
    write_head_to_client(head, ctx);
    return true;
}

void Exchange::capture_response(const MessageHead& head) {
    const config::Capture& capture = config_->capture;
    record_.status = head.status;
    if (config_->hooks.empty()) return;
    capture_fields(head, capture.response_headers, capture.redact, record_.response_headers);
    joined_value(head, config_->trigger_header, record_.trigger);
}

void Exchange::on_upstream_body(const char* data, size_t length) {
    record_.response_body_bytes += length;
    write_body_to_client(data, length);
}

void Exchange::write_body_to_client(const char* data, size_t length) {
    if (response_framing_ != Framing::chunked) {
        write_to_client({data, length});
        return;
    }
    size_t before = client_.output().backlog();
    client_.output().append_chunk(data, length);
    record_.bytes_out += client_.output().backlog() - before;
}

void Exchange::on_upstream_read_done() {
    client_.flush();
    if (upstream_ && client_.write_backlog() > kHighWater) upstream_->pause_reading();
}

void Exchange::on_upstream_interim_complete() {}

void Exchange::on_upstream_complete(std::vector<HeaderField>&& trailers) {
    record_.upstream_ms = ms_between(upstream_started_, std::chrono::steady_clock::now());
    if (record_.status == 101) {
        tunnel_ = true;
        upstream_->begin_tunnel();
        client_.start_tunnel();
        return;
    }
    if (response_framing_ == Framing::chunked)
        write_to_client("0\r\n" + build_trailer_section(trailers) + "\r\n");
    client_.flush();
    response_ = ResponseState::complete;
    // The upstream connection is free as soon as its response is read, if
    // the whole request reached it too.
    release_upstream(request_complete_);
    maybe_finish();
}

void Exchange::on_upstream_tunnel_data(const char* data, size_t length) {
    record_.response_body_bytes += length;
    write_to_client({data, length});
}

void Exchange::on_upstream_failed(UpstreamFailure failure, const std::string& reason) {
    bool was_reused = upstream_ && upstream_->reused();
    upstream_ = nullptr;  // it is closing itself
    if (finished_) return;
    // A pooled connection the upstream closed while idle: try once more on a
    // fresh one, if nothing of the request or the response has crossed yet.
    if (failure == UpstreamFailure::reset && was_reused && !retried_ && !request_body_sent_ &&
        response_ == ResponseState::none && !retry_head_.empty()) {
        retried_ = true;
        if (!start_upstream()) return;
        send_to_upstream(retry_head_);
        upstream_->flush();
        if (upstream_ && request_complete_) upstream_->expect_response();
        return;
    }
    Metrics& m = worker_.metrics();
    Outcome outcome = Outcome::upstream_error;
    int status = 502;
    switch (failure) {
    case UpstreamFailure::connect: m.upstream_connect_errors.fetch_add(1, std::memory_order_relaxed); break;
    case UpstreamFailure::connect_timeout:
    case UpstreamFailure::timeout:
        m.upstream_timeouts.fetch_add(1, std::memory_order_relaxed);
        outcome = Outcome::upstream_timeout;
        status = 504;
        break;
    case UpstreamFailure::reset: m.upstream_resets.fetch_add(1, std::memory_order_relaxed); break;
    case UpstreamFailure::bad_response: break;
    }
    if (tunnel_) {
        finish(Outcome::ok);
        return;
    }
    if (response_ == ResponseState::none || response_ == ResponseState::interim)
        send_error(status, outcome, "upstream: " + reason);
    else
        abort(outcome, "upstream: " + reason);
}

void Exchange::on_upstream_closed() {
    upstream_ = nullptr;
    if (!finished_) finish(Outcome::ok);
}

void Exchange::on_upstream_writable() { client_.resume_reading(); }

// ---- endings ------------------------------------------------------------

void Exchange::write_to_client(std::string_view data) {
    record_.bytes_out += data.size();
    client_.output().append(data);
}

void Exchange::write_head_to_client(const MessageHead& head, const ClientResponseContext& ctx) {
    std::string& out = client_.output().buffer();
    const size_t before = out.size();
    append_client_response_head(out, head, ctx);
    record_.bytes_out += out.size() - before;
}

void Exchange::release_upstream(bool reusable) {
    if (!upstream_) return;
    UpstreamConnection* upstream = upstream_;
    upstream_ = nullptr;
    upstream->release(reusable);
}

void Exchange::send_error(int status, Outcome outcome, const std::string& reason) {
    if (finished_) return;
    release_upstream(false);
    if (response_ == ResponseState::head_sent || response_ == ResponseState::complete) {
        abort(outcome, reason);
        return;
    }
    record_.status = status;
    record_.error = reason;
    pending_outcome_ = outcome;
    closing_after_error_ = true;
    client_keep_alive_ = false;
    response_ = ResponseState::complete;
    write_to_client(build_error_response(status, record_.id));
    client_.flush();
    maybe_finish();
}

void Exchange::abort(Outcome outcome, const std::string& reason) {
    // The response head already went out: the only honest signal left is to
    // cut the connection, so the client sees a truncated response.
    release_upstream(false);
    client_.flush();  // what already went out logically must reach the socket before the cut
    record_.error = reason;
    client_keep_alive_ = false;
    finish(outcome);
}

void Exchange::maybe_finish() {
    if (finished_ || response_ != ResponseState::complete || client_.writes_in_flight() > 0) return;
    finish(closing_after_error_ ? pending_outcome_ : Outcome::ok);
}

// Keep the client connection open for another exchange only when every one
// of these holds; each is a reason HTTP/1.1 or afterhook requires a close.
bool Exchange::keep_alive() const {
    if (!client_keep_alive_) return false;           // client said close, or HTTP/1.0 without keep-alive
    if (closing_after_error_) return false;          // afterhook answered with an error
    if (!request_complete_) return false;            // unread request body would be taken for a request
    if (tunnel_requested_) return false;             // the parser stopped at the upgrade
    if (response_framing_ == Framing::close_delimited) return false;  // the close ends the body
    if (worker_.draining()) return false;            // shutting down
    return true;
}

void Exchange::finish(Outcome outcome) {
    if (finished_) return;
    finished_ = true;
    release_upstream(outcome == Outcome::ok && request_complete_);
    bool keep = outcome == Outcome::ok && !tunnel_ && keep_alive();
    record_.outcome = outcome;
    if (outcome == Outcome::client_abort) record_.status = 499;
    record_.bytes_in = client_.exchange_bytes_in();
    record_.duration_ms = ms_between(started_, std::chrono::steady_clock::now());
    worker_.metrics().count_response(record_.status);
    worker_.metrics().request_duration.observe(record_.duration_ms / 1000.0);
    // The exchange is over: its reference to the config moves into the
    // record instead of being copied, which saves two atomic updates of a
    // counter every worker and the hook thread share. Nothing reads config_
    // after finish() (every entry point returns once finished_ is set).
    if (!config_->hooks.empty()) {
        record_.config = std::move(config_);
        worker_.outbox().add(shared_record_);
    }
    using After = ClientConnection::After;
    if (keep) client_.exchange_finished(After::keep_alive);
    else if (closing_after_error_) client_.exchange_finished(After::linger);
    else if (outcome == Outcome::ok) client_.exchange_finished(After::close_after_flush);
    else client_.exchange_finished(After::close_now);
}

}  // namespace afterhook::proxy
