#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "hooks/webhook_action.h"
#include "tests/unit/support/http_receiver.h"
#include "tests/unit/support/webhook_harness.h"

using afterhook::config::Body;
using afterhook::config::JsonTemplate;
using afterhook::config::WebhookSink;
using afterhook::hooks::AttemptResult;
using afterhook::hooks::CurlMulti;
using afterhook::hooks::Delivery;
using afterhook::hooks::parse_retry_after;
using afterhook::test::compile;
using afterhook::test::HttpReceiver;
using afterhook::test::json_string;
using afterhook::test::ReceivedRequest;
using afterhook::test::Reply;
using afterhook::test::sample_delivery;
using afterhook::test::status_name;
using afterhook::test::WebhookHarness;
using Status = AttemptResult::Status;
using namespace std::chrono_literals;

namespace {

WebhookSink sink_to(const HttpReceiver& receiver, const std::string& path = "/hook") {
    WebhookSink sink;
    sink.url = compile(receiver.url(path));
    return sink;
}

Reply status_reply(int status, std::vector<std::pair<std::string, std::string>> headers = {}, std::string body = {}) {
    Reply reply;
    reply.status = status;
    reply.headers = std::move(headers);
    reply.body = std::move(body);
    return reply;
}

// base64(HMAC-SHA256(key, message)) through OpenSSL's EVP_Q_mac and
// EVP_EncodeBlock, independent of hooks/signature.cc.
std::string expected_signature(const std::string& key, const std::string& message) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_length = 0;
    REQUIRE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                      reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, sizeof mac,
                      &mac_length) != nullptr);
    unsigned char text[128];
    const int length = EVP_EncodeBlock(text, mac, static_cast<int>(mac_length));
    return "v1," + std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(length));
}

std::string decode_base64(const std::string& text) {
    std::vector<unsigned char> out(text.size());
    const int length = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                       static_cast<int>(text.size()));
    REQUIRE(length >= 0);
    size_t padding = 0;
    if (!text.empty() && text.back() == '=') ++padding;
    if (text.size() > 1 && text[text.size() - 2] == '=') ++padding;
    return std::string(reinterpret_cast<const char*>(out.data()), static_cast<size_t>(length) - padding);
}

int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

TEST_CASE("webhook: a 2xx delivers the rendered request") {
    HttpReceiver receiver([](const ReceivedRequest&) { return status_reply(204); });
    WebhookSink sink = sink_to(receiver, "/orders/{{request.id}}?status={{response.status}}");
    sink.headers = {{"X-Hook", compile("{{hook}} for {{request.header.x-tenant}}")},
                    {"X-Empty", compile("{{request.header.referer}}")}};
    sink.body.kind = Body::Kind::json;
    sink.body.json.kind = JsonTemplate::Kind::object;
    sink.body.json.members = {{"text", json_string("{{request.method}} {{request.path}} \"quoted\"")},
                              {"status", json_string("{{response.status}}")}};
    WebhookHarness harness(sink);

    const AttemptResult result = harness.attempt(sample_delivery());
    CHECK(status_name(result.status) == std::string("delivered"));
    CHECK(result.reason.empty());

    const auto requests = receiver.requests();
    REQUIRE(requests.size() == 1);
    const ReceivedRequest& request = requests[0];
    CHECK(request.method == "POST");
    CHECK(request.target == "/orders/req-42?status=201");
    CHECK(request.header("x-hook") == "notify for acme");
    CHECK(request.count("x-empty") == 1);
    CHECK(request.header("x-empty").empty());
    CHECK(request.header("content-type") == "application/json");
    CHECK(request.header("user-agent") == std::string("afterhook/") + AFTERHOOK_VERSION);
    CHECK(request.count("expect") == 0);
    CHECK(request.count("webhook-signature") == 0);
    CHECK(request.body == R"({"text":"POST /orders/42 \"quoted\"","status":201})");
}

TEST_CASE("webhook: text and record bodies, the method and a configured Content-Type") {
    HttpReceiver receiver;
    SUBCASE("a text body is text/plain") {
        WebhookSink sink = sink_to(receiver);
        sink.method = "PUT";
        sink.body.kind = Body::Kind::text;
        sink.body.text = compile("{{request.method}} {{request.target}} took {{duration_ms}} ms");
        WebhookHarness harness(sink);
        CHECK(harness.attempt(sample_delivery()).status == Status::delivered);
        const auto requests = receiver.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].method == "PUT");
        CHECK(requests[0].header("content-type") == "text/plain; charset=utf-8");
        CHECK(requests[0].body == "POST /orders/42?x=1 took 12.500 ms");
    }
    SUBCASE("the default body is the record as JSON") {
        WebhookHarness harness(sink_to(receiver));
        CHECK(harness.attempt(sample_delivery()).status == Status::delivered);
        const auto requests = receiver.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].header("content-type") == "application/json");
        const auto record = nlohmann::json::parse(requests[0].body);
        CHECK(record.dump().find("req-42") != std::string::npos);
        CHECK(record.dump().find("/orders/42") != std::string::npos);
    }
    SUBCASE("a configured Content-Type wins") {
        WebhookSink sink = sink_to(receiver);
        sink.headers = {{"content-type", compile("application/x-ndjson")}};
        WebhookHarness harness(sink);
        CHECK(harness.attempt(sample_delivery()).status == Status::delivered);
        const auto requests = receiver.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].count("content-type") == 1);
        CHECK(requests[0].header("content-type") == "application/x-ndjson");
    }
    SUBCASE("GET sends no body") {
        WebhookSink sink = sink_to(receiver, "/purge?key={{request.path}}");
        sink.method = "GET";
        WebhookHarness harness(sink);
        CHECK(harness.attempt(sample_delivery()).status == Status::delivered);
        const auto requests = receiver.requests();
        REQUIRE(requests.size() == 1);
        CHECK(requests[0].method == "GET");
        CHECK(requests[0].target == "/purge?key=/orders/42");
        CHECK(requests[0].body.empty());
        CHECK(requests[0].count("content-type") == 0);
    }
}

TEST_CASE("webhook: a large body is sent at once, without Expect: 100-continue") {
    HttpReceiver receiver;
    WebhookSink sink = sink_to(receiver);
    sink.body.kind = Body::Kind::text;
    sink.body.text = compile(std::string(2 * 1024 * 1024, 'b') + "{{request.id}}");
    WebhookHarness harness(sink);
    CHECK(harness.attempt(sample_delivery()).status == Status::delivered);
    const auto requests = receiver.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].count("expect") == 0);
    CHECK(requests[0].body.size() == 2 * 1024 * 1024 + 6);
}

TEST_CASE("webhook: a line break in a rendered header value cannot add a header") {
    HttpReceiver receiver;
    WebhookSink sink = sink_to(receiver);
    sink.headers = {{"X-Key", compile("{{trigger.key}}")}};
    WebhookHarness harness(sink);
    Delivery delivery = sample_delivery();
    delivery.trigger = {{"key", "a\r\nX-Injected: yes"}};
    CHECK(harness.attempt(delivery).status == Status::delivered);
    const auto requests = receiver.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].count("x-injected") == 0);
    CHECK(requests[0].header("x-key") == "a  X-Injected: yes");
}

TEST_CASE("webhook: 503 and network errors are retried, 400 and 302 fail") {
    std::atomic<int> status{503};
    HttpReceiver receiver([&](const ReceivedRequest&) {
        if (status == 302) return status_reply(302, {{"Location", "/elsewhere"}});
        if (status == 400) return status_reply(400, {}, "{\"error\":\"bad\nthings\"}");
        return status_reply(status);
    });
    WebhookHarness harness(sink_to(receiver));

    AttemptResult result = harness.attempt(sample_delivery());
    CHECK(status_name(result.status) == std::string("retry"));
    CHECK(result.reason == "HTTP 503");
    CHECK_FALSE(result.retry_after.has_value());

    status = 400;
    result = harness.attempt(sample_delivery());
    CHECK(status_name(result.status) == std::string("failed"));
    CHECK(result.reason == "HTTP 400: {'error':'bad?things'}");

    status = 302;
    result = harness.attempt(sample_delivery());
    CHECK(status_name(result.status) == std::string("failed"));
    CHECK(result.reason == "HTTP 302");
    // The redirect was not followed: only the three requests to /hook arrived.
    const auto requests = receiver.requests();
    REQUIRE(requests.size() == 3);
    for (const auto& request : requests) CHECK(request.target == "/hook");
}

// An action keeps the easy handles of finished attempts for the next ones:
// whatever an attempt set or received (its URL, headers, body, timeout, a
// Retry-After, a response body, a timed-out connection) must not reach the
// next attempt on the same handle.
TEST_CASE("webhook: attempts one after another on one action each carry only their own request") {
    HttpReceiver receiver([](const ReceivedRequest& request) {
        if (request.target == "/orders/req-1") return status_reply(503, {{"Retry-After", "7"}}, "busy");
        if (request.target == "/orders/req-2") {
            Reply reply;
            reply.mode = Reply::Mode::hang;
            return reply;
        }
        return status_reply(204);
    });
    WebhookSink sink = sink_to(receiver, "/orders/{{request.id}}");
    sink.headers = {{"X-Id", compile("{{request.id}}")}};
    sink.body.kind = Body::Kind::text;
    sink.body.text = compile("event {{request.id}}");
    WebhookHarness harness(sink);

    AttemptResult result = harness.attempt(sample_delivery("req-1"));
    CHECK(status_name(result.status) == std::string("retry"));
    CHECK(result.reason == "HTTP 503: busy");
    CHECK(result.retry_after == std::optional<std::chrono::milliseconds>(7000ms));

    result = harness.attempt(sample_delivery("req-2"), 300ms);
    CHECK(status_name(result.status) == std::string("retry"));
    CHECK(result.reason == "timeout");
    CHECK(receiver.wait_for_client_closes(1));

    for (const char* id : {"req-3", "req-4"}) {
        result = harness.attempt(sample_delivery(id));
        CHECK(status_name(result.status) == std::string("delivered"));
        CHECK(result.reason.empty());
        CHECK_FALSE(result.retry_after.has_value());
    }

    const auto requests = receiver.requests();
    REQUIRE(requests.size() == 4);
    for (size_t i = 0; i < requests.size(); ++i) {
        const std::string id = "req-" + std::to_string(i + 1);
        CAPTURE(id);
        CHECK(requests[i].target == "/orders/" + id);
        CHECK(requests[i].count("x-id") == 1);
        CHECK(requests[i].header("x-id") == id);
        CHECK(requests[i].body == "event " + id);
        CHECK(requests[i].header("content-length") == std::to_string(requests[i].body.size()));
    }
}

TEST_CASE("webhook: 429 with Retry-After is retried after the delay it names") {
    std::atomic<int> variant{0};
    HttpReceiver receiver([&](const ReceivedRequest&) {
        if (variant == 0) return status_reply(429, {{"Retry-After", "2"}});
        return status_reply(503, {{"Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"}});
    });
    WebhookHarness harness(sink_to(receiver));

    AttemptResult result = harness.attempt(sample_delivery());
    CHECK(result.status == Status::retry);
    CHECK(result.reason == "HTTP 429");
    REQUIRE(result.retry_after.has_value());
    CHECK(*result.retry_after == 2000ms);

    variant = 1;  // a date in the past: retry now
    result = harness.attempt(sample_delivery());
    CHECK(result.status == Status::retry);
    REQUIRE(result.retry_after.has_value());
    CHECK(*result.retry_after == 0ms);
}

TEST_CASE("webhook: Retry-After values") {
    const auto now = std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
    CHECK(parse_retry_after("2", now) == std::optional(2000ms));
    CHECK(parse_retry_after(" 120\r\n", now) == std::optional(120000ms));
    CHECK(parse_retry_after("0", now) == std::optional(0ms));
    CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) == std::optional(30000ms));
    CHECK(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now) == std::optional(0ms));
    CHECK(parse_retry_after("99999999999999999999999", now) == std::optional(std::chrono::milliseconds(1'000'000'000'000)));
    CHECK_FALSE(parse_retry_after("", now).has_value());
    CHECK_FALSE(parse_retry_after("soon", now).has_value());
    CHECK_FALSE(parse_retry_after("-5", now).has_value());
}

TEST_CASE("webhook: a receiver that never answers is retried at the attempt's timeout") {
    HttpReceiver receiver([](const ReceivedRequest&) {
        Reply reply;
        reply.mode = Reply::Mode::hang;
        return reply;
    });
    WebhookHarness harness(sink_to(receiver));
    const auto started = std::chrono::steady_clock::now();
    const AttemptResult result = harness.attempt(sample_delivery(), 300ms);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(result.status == Status::retry);
    CHECK(result.reason == "timeout");
    CHECK(elapsed >= 290ms);
    CHECK(elapsed < 3s);
    CHECK(receiver.wait_for_client_closes(1));  // the timed-out connection is not kept
}

TEST_CASE("webhook: a closed port and a connection closed without an answer are retried") {
    SUBCASE("connection refused") {
        WebhookSink sink;
        sink.url = compile("http://127.0.0.1:" + std::to_string(afterhook::test::closed_port()) + "/hook");
        WebhookHarness harness(sink);
        const AttemptResult result = harness.attempt(sample_delivery());
        CHECK(result.status == Status::retry);
        CHECK(result.reason.rfind("network: ", 0) == 0);
    }
    SUBCASE("closed without an answer") {
        HttpReceiver receiver([](const ReceivedRequest&) {
            Reply reply;
            reply.mode = Reply::Mode::close;
            return reply;
        });
        WebhookHarness harness(sink_to(receiver));
        const AttemptResult result = harness.attempt(sample_delivery());
        CHECK(result.status == Status::retry);
        CHECK(result.reason.rfind("network: ", 0) == 0);
    }
}

TEST_CASE("webhook: a URL that cannot work fails without a retry") {
    WebhookSink sink;
    SUBCASE("another protocol") { sink.url = compile("ftp://127.0.0.1/{{request.id}}"); }
    SUBCASE("not a URL") { sink.url = compile("http://[::1/{{request.id}}"); }
    WebhookHarness harness(sink);
    const AttemptResult result = harness.attempt(sample_delivery());
    CHECK(result.status == Status::failed);
    CHECK(result.reason.rfind("invalid url: ", 0) == 0);
}

TEST_CASE("webhook: Standard Webhooks signature headers verify, webhook-id is stable across retries") {
    std::atomic<int> calls{0};
    HttpReceiver receiver([&](const ReceivedRequest&) { return status_reply(++calls == 1 ? 503 : 200); });
    const std::string secret_bytes = "0123456789abcdef0123456789abcdef";
    WebhookSink sink = sink_to(receiver);
    sink.body.kind = Body::Kind::text;
    sink.body.text = compile("{{request.method}} {{request.path}}");
    SUBCASE("whsec_ secret") { sink.sign_secret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; }
    SUBCASE("raw secret") { sink.sign_secret = secret_bytes; }
    REQUIRE(decode_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=") == secret_bytes);
    // A configured header of the same name never replaces the signature.
    sink.headers = {{"webhook-signature", compile("forged")}};
    WebhookHarness harness(sink);

    const Delivery delivery = sample_delivery();
    const int64_t before = now_seconds();
    CHECK(harness.attempt(delivery).status == Status::retry);
    CHECK(harness.attempt(delivery).status == Status::delivered);
    const int64_t after = now_seconds();

    const auto requests = receiver.requests();
    REQUIRE(requests.size() == 2);
    for (const auto& request : requests) {
        CHECK(request.header("webhook-id") == "req-42-notify");
        const int64_t timestamp = std::stoll(request.header("webhook-timestamp"));
        CHECK(timestamp >= before);
        CHECK(timestamp <= after);
        CHECK(request.count("webhook-signature") == 1);
        CHECK(request.header("webhook-signature") ==
              expected_signature(secret_bytes, request.header("webhook-id") + "." +
                                                   request.header("webhook-timestamp") + "." + request.body));
    }
}

TEST_CASE("webhook: an invalid whsec_ secret is refused at start-up") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
        CurlMulti multi(&loop);
        WebhookSink sink;
        sink.url = compile("http://127.0.0.1:9/hook");
        sink.sign_secret = "whsec_not*base64";
        CHECK_THROWS_AS(afterhook::hooks::make_webhook_action(&loop, multi, sink, "notify"), std::runtime_error);
        bool closed = false;
        multi.close([&] { closed = true; });
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(closed);
    }
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("webhook: CloudEvents structured mode") {
    HttpReceiver receiver;
    WebhookSink sink = sink_to(receiver);
    sink.format = WebhookSink::Format::cloudevents;
    sink.headers = {{"Content-Type", compile("text/plain")}};
    nlohmann::json expected_data;
    SUBCASE("a JSON body is the event's data") {
        sink.body.kind = Body::Kind::json;
        sink.body.json.kind = JsonTemplate::Kind::object;
        sink.body.json.members = {{"path", json_string("{{request.path}}")}};
        expected_data = {{"path", "/orders/42"}};
    }
    SUBCASE("a text body that is JSON is embedded as JSON") {
        sink.body.kind = Body::Kind::text;
        sink.body.text = compile("[{{response.status}}, \"{{outcome}}\"]");
        expected_data = nlohmann::json::array({201, "ok"});
    }
    SUBCASE("other text is a JSON string") {
        sink.body.kind = Body::Kind::text;
        sink.body.text = compile("{{request.method}} \"{{request.path}}\"");
        expected_data = "POST \"/orders/42\"";
    }
    WebhookHarness harness(sink, "audit");
    CHECK(harness.attempt(sample_delivery()).status == Status::delivered);

    const auto requests = receiver.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].count("content-type") == 1);
    CHECK(requests[0].header("content-type") == "application/cloudevents+json");
    const auto event = nlohmann::json::parse(requests[0].body);
    CHECK(event.at("specversion") == "1.0");
    CHECK(event.at("id") == "req-42-notify");
    CHECK(event.at("source") == "afterhook/audit");
    CHECK(event.at("type") == "dev.afterhook.exchange");
    CHECK(event.at("time") == "2026-11-18T11:06:40.123Z");
    CHECK(event.at("datacontenttype") == "application/json");
    CHECK(event.at("data") == expected_data);
    CHECK(event.size() == 7);
}

TEST_CASE("webhook: closing the action ends attempts in flight as failed shutdown, then reports closed") {
    HttpReceiver receiver([](const ReceivedRequest&) {
        Reply reply;
        reply.mode = Reply::Mode::hang;
        return reply;
    });
    WebhookHarness harness(sink_to(receiver));
    std::vector<std::string> events;
    for (int i = 0; i < 3; ++i)
        harness.action().start(sample_delivery("req-" + std::to_string(i)), 10s, [&](AttemptResult result) {
            events.push_back(std::string(status_name(result.status)) + " " + result.reason);
        });
    REQUIRE(harness.run_until([&] { return receiver.requests().size() == 3; }));
    CHECK(harness.action().in_flight() == 3);

    bool closed = false;
    harness.close_action([&] {
        events.push_back("closed");
        closed = true;
    });
    CHECK(events.empty());  // nothing runs inside close()
    // Starting after close() is refused the same way, never inside start().
    harness.action().start(sample_delivery("late"), 10s,
                           [&](AttemptResult result) { events.push_back(std::string("late ") + result.reason); });
    CHECK(events.empty());
    REQUIRE(harness.run_until([&] { return closed; }));
    CHECK(events == std::vector<std::string>{"failed shutdown", "failed shutdown", "failed shutdown",
                                             "late shutdown", "closed"});
    CHECK(harness.action().in_flight() == 0);
    CHECK(receiver.wait_for_client_closes(3));
}
