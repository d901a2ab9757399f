// WebhookHarness: the hook thread's side of a webhook test, run on the test
// thread. One loop, one CurlMulti and one WebhookAction; attempts run with
// uv_run until their `done` arrives or a deadline passes. The destructor
// closes the action, then the multi, and checks that no handle is left
// (uv_loop_close() == 0). Header-only, like http_receiver.h.
#pragma once

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "config/config.h"
#include "config/template.h"
#include "hooks/curl_multi.h"
#include "hooks/delivery.h"
#include "hooks/record.h"
#include "hooks/webhook_action.h"
#include "tests/unit/hooks_test_loop.h"

namespace afterhook::test {

inline config::Template compile(const std::string& source) {
    config::Template out;
    std::string error;
    config::Capture capture;
    capture.headers.push_back("x-tenant");
    INFO("template: ", source);
    REQUIRE_MESSAGE(config::compile_template(source, capture, out, error), error);
    return out;
}

inline config::JsonTemplate json_string(const std::string& source) {
    config::JsonTemplate value;
    value.kind = config::JsonTemplate::Kind::string;
    value.text = compile(source);
    return value;
}

// A finished exchange as the proxy would hand it over.
inline hooks::RecordPtr sample_record(const std::string& id = "req-42") {
    auto record = std::make_shared<hooks::Record>();
    record->id = id;
    record->start_time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'795'000'000'123));
    record->method = "POST";
    record->target = "/orders/42?x=1";
    record->path = "/orders/42";
    record->query = "x=1";
    record->host = "shop.example";
    record->protocol_version = "1.1";
    record->client_ip = "192.0.2.7";
    record->client_port = 51000;
    record->request_headers = {{"user-agent", "test-client/1.0"}, {"x-tenant", "acme"}};
    record->status = 201;
    record->response_body_bytes = 17;
    record->duration_ms = 12.5;
    record->upstream_ms = 11.25;
    return record;
}

inline hooks::Delivery sample_delivery(const std::string& id = "req-42") {
    hooks::Delivery delivery;
    delivery.record = sample_record(id);
    delivery.id = id + "-notify";
    delivery.attempt = 1;
    return delivery;
}

class WebhookHarness {
public:
    explicit WebhookHarness(const config::WebhookSink& sink, std::string hook = "notify") {
        REQUIRE(uv_loop_init(&loop_) == 0);
        multi_ = std::make_unique<hooks::CurlMulti>(&loop_);
        action_ = hooks::make_webhook_action(&loop_, *multi_, sink, std::move(hook));
    }

    ~WebhookHarness() {
        close_action();
        close_multi();
        uv_run(&loop_, UV_RUN_DEFAULT);
        CHECK(action_closed_);
        CHECK(multi_closed_);
        action_.reset();
        multi_.reset();
        CHECK(uv_loop_close(&loop_) == 0);
    }

    // Close the action or the multi before the end of the test; `closed`
    // runs from the close callback. The destructor closes whatever is left.
    void close_action(std::function<void()> closed = {}) {
        if (action_close_requested_) return;
        action_close_requested_ = true;
        action_->close([this, closed = std::move(closed)] {
            action_closed_ = true;
            if (closed) closed();
        });
    }
    void close_multi(std::function<void()> closed = {}) {
        if (multi_close_requested_) return;
        multi_close_requested_ = true;
        multi_->close([this, closed = std::move(closed)] {
            multi_closed_ = true;
            if (closed) closed();
        });
    }

    WebhookHarness(const WebhookHarness&) = delete;
    WebhookHarness& operator=(const WebhookHarness&) = delete;

    uv_loop_t* loop() { return &loop_; }
    hooks::CurlMulti& multi() { return *multi_; }
    hooks::Action& action() { return *action_; }

    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        return run_loop_until(&loop_, done, timeout);
    }

    // One attempt, run to its end. Checks that `done` did not run inside start().
    hooks::AttemptResult attempt(const hooks::Delivery& delivery,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        std::optional<hooks::AttemptResult> result;
        action_->start(delivery, timeout, [&](hooks::AttemptResult r) { result = std::move(r); });
        CHECK_FALSE(result.has_value());
        CHECK(action_->in_flight() == 1);
        REQUIRE(run_until([&] { return result.has_value(); }, timeout + std::chrono::seconds(5)));
        CHECK(action_->in_flight() == 0);
        return *result;
    }

private:
    uv_loop_t loop_{};
    std::unique_ptr<hooks::CurlMulti> multi_;
    std::unique_ptr<hooks::Action> action_;
    bool action_close_requested_ = false;
    bool action_closed_ = false;
    bool multi_close_requested_ = false;
    bool multi_closed_ = false;
};

inline const char* status_name(hooks::AttemptResult::Status status) {
    switch (status) {
    case hooks::AttemptResult::Status::delivered: return "delivered";
    case hooks::AttemptResult::Status::retry: return "retry";
    case hooks::AttemptResult::Status::failed: return "failed";
    }
    return "?";
}

}  // namespace afterhook::test
