// WebhookAction: one attempt of a `webhook` hook is one HTTP request through
// the hook thread's shared CurlMulti. The url, headers and body are rendered
// from the hook's templates for each attempt; the request is optionally
// signed (Standard Webhooks) and optionally wrapped as a CloudEvent
// (structured mode). The DeliveryQueue decides when to retry; this class only
// maps one response to delivered, retry or failed:
//   2xx                                  delivered
//   429, 5xx                             retry (with the Retry-After delay if given)
//   other 4xx, 3xx (never followed)      failed
//   network error, timeout               retry
// Once the response status is known it decides, even if the rest of the
// transfer fails (a body cut short or over the 64 KiB read limit). A URL that
// does not parse or names a protocol other than http/https fails at once.
//
// The request: `method` as configured (GET and HEAD carry no body); the body
// is the record, the text template or the JSON template; Content-Type is
// application/json, text/plain; charset=utf-8 for text, or the configured
// one. CloudEvents structured mode wraps the body as the event's `data` and
// sends application/cloudevents+json. With `sign.secret`, webhook-id (the
// delivery id, the same on every retry), webhook-timestamp (this attempt) and
// webhook-signature are added and win over configured headers of those
// names. Rendered header values never contain CR, LF or NUL. HTTP/1.1 only,
// no redirects, certificates verified unless `tls_verify: false`.
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "hooks/curl_multi.h"
#include "hooks/delivery.h"

namespace afterhook::hooks {

class WebhookAction final : public Action {
public:
    // At most this much of a response body is read; a larger response is cut
    // off there (its status still decides the attempt).
    static constexpr uint64_t kMaxResponseBytes = 64 * 1024;
    // How much of a response body is kept for the failure reason.
    static constexpr size_t kReasonBodyBytes = 200;

    // Throws std::runtime_error naming the hook when `sink.sign_secret` is a
    // "whsec_" secret that is not valid base64. `multi` must outlive this
    // action and stay open until this action is closed.
    WebhookAction(uv_loop_t* loop, CurlMulti& multi, config::WebhookSink sink, std::string hook_name);
    // Only once close()'s callback has run (aborts otherwise: the timer
    // handle would be freed while the loop still holds it).
    ~WebhookAction() override;

    void start(const Delivery& delivery, std::chrono::milliseconds timeout, Done done) override;
    size_t in_flight() const override { return attempts_.size(); }
    // Attempts in flight end as failed "shutdown"; their `done` callbacks run
    // from the timer's close callback, then `closed`.
    void close(std::function<void()> closed) override;

private:
    struct Attempt;

    static void on_deferred(uv_timer_t* timer);
    static void on_timer_closed(uv_handle_t* handle);

    CURL* take_handle();
    void recycle(Attempt& attempt);
    bool configure(Attempt& attempt, const Delivery& delivery, std::chrono::milliseconds timeout);
    std::string render_request_body(const Delivery& delivery) const;
    bool build_headers(const Delivery& delivery, bool has_body, const std::string& body, curl_slist*& list) const;
    void on_transfer_done(Attempt* attempt, CURLcode code);
    void defer(Attempt* attempt, AttemptResult result);
    void run_deferred();
    void finish(Attempt* attempt, AttemptResult result);

    uv_loop_t* loop_;
    CurlMulti& multi_;
    const config::WebhookSink sink_;
    const std::string hook_name_;
    std::string signing_key_;  // derived from sink_.sign_secret; empty when not signing
    std::string user_agent_;

    uv_timer_t deferred_timer_{};  // completes attempts that ended without a transfer
    std::unordered_map<Attempt*, std::unique_ptr<Attempt>> attempts_;  // started, `done` not yet run
    std::deque<Attempt*> deferred_;  // attempts whose result is known, waiting for the timer
    std::vector<CURL*> idle_handles_;  // easy handles of finished attempts, for the next ones
    bool closing_ = false;
    bool closed_ = false;
    std::function<void()> closed_callback_;
};

// The factory the DeliveryQueue's make_sink wiring uses. Start-up only: throws
// std::runtime_error naming the hook for an invalid signing secret.
std::unique_ptr<Action> make_webhook_action(uv_loop_t* loop, CurlMulti& multi, const config::WebhookSink& sink,
                                            std::string hook_name);

// Parses a Retry-After value: delta-seconds or an HTTP-date (converted to the
// delay from `now`, zero when already past). Exposed for the tests.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

}  // namespace afterhook::hooks
