// Hooks fire for every way an exchange can end, not only for upstream
// answers: an unreachable upstream (502), an upstream that is too slow (504),
// a request afterhook refuses (400) and a client that goes away, each with
// the right {{outcome}} and {{response.status}} in the webhook body.
#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "support/afterhook_process.h"
#include "support/fake_upstream.h"
#include "support/raw_client.h"
#include "support/refused_port.h"
#include "support/temp_dir.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

std::string config_with_outcome_hook(const std::string& upstream, const FakeUpstream& receiver) {
    return "listen: 127.0.0.1:0\n"
           "upstream: " + upstream + "\n"
           "workers: 1\n"
           "admin: {listen: 127.0.0.1:0}\n"
           "timeouts: {drain: 1s, upstream_response: 300ms}\n"
           "hooks:\n"
           "  - name: outcomes\n"
           "    webhook:\n"
           "      url: \"http://" + receiver.address() + "/events\"\n"
           "      body: {path: \"{{request.path}}\", outcome: \"{{outcome}}\", status: \"{{response.status}}\"}\n"
           "      retry: {attempts: 1}\n";
}

// The webhook body the receiver got for `path`, waiting for it.
nlohmann::json body_for(const FakeUpstream& receiver, const std::string& path) {
    nlohmann::json found;
    wait_until([&] {
        for (const UpstreamRequest& request : receiver.requests()) {
            const auto body = nlohmann::json::parse(request.body, nullptr, false);
            if (body.is_object() && body.value("path", "") == path) {
                found = body;
                return true;
            }
        }
        return false;
    }, 5s, 10ms);
    return found;
}

}  // namespace

TEST_SUITE("hooks outcomes") {

TEST_CASE("an unreachable upstream (502) and a malformed request (400) fire hooks with their outcome") {
    FakeUpstream receiver(FakeUpstream::respond_with(200, "ok"));
    RefusedPort refused;
    TempDir dir;
    AfterhookProcess proxy(dir, config_with_outcome_hook(refused.address(), receiver));
    INFO("afterhook output:\n", proxy.diagnostics());

    RawClient client = RawClient::connect(proxy.port());
    REQUIRE(client.send(get_request("/refused")));
    CHECK(client.read_response(3s).status == 502);

    RawClient bad = RawClient::connect(proxy.port());
    REQUIRE(bad.send("GET /malformed HTTP/1.1\r\nHost: test.local\r\nno colon here\r\n\r\n"));
    CHECK(bad.read_response(3s).status == 400);

    const nlohmann::json refused_body = body_for(receiver, "/refused");
    INFO("502 body: ", refused_body.dump());
    CHECK(refused_body.value("outcome", "") == "upstream_error");
    CHECK(refused_body.value("status", 0) == 502);

    // The path of a request whose head is malformed may be unknown to the
    // record, so the event is found by its outcome.
    nlohmann::json rejected;
    CHECK(wait_until([&] {
        for (const UpstreamRequest& request : receiver.requests()) {
            const auto body = nlohmann::json::parse(request.body, nullptr, false);
            if (body.is_object() && body.value("outcome", "") == "rejected") {
                rejected = body;
                return true;
            }
        }
        return false;
    }, 5s, 10ms));
    INFO("400 body: ", rejected.dump());
    CHECK(rejected.value("status", 0) == 400);
}

TEST_CASE("an upstream timeout (504) and a client abort fire hooks with their outcome") {
    FakeUpstream receiver(FakeUpstream::respond_with(200, "ok"));
    FakeUpstream upstream([](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.target == "/slow") {
            conn.sleep_for(2s);  // far past upstream_response: 300ms
            return;
        }
        if (request.target == "/abort") {
            // The head and part of the body, then nothing until the client leaves.
            conn.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial");
            conn.wait_peer_close(2s);
            return;
        }
        conn.respond(200, "ok");
    });
    TempDir dir;
    AfterhookProcess proxy(dir, config_with_outcome_hook(upstream.address(), receiver));
    INFO("afterhook output:\n", proxy.diagnostics());

    RawClient slow = RawClient::connect(proxy.port());
    REQUIRE(slow.send(get_request("/slow")));
    CHECK(slow.read_response(3s).status == 504);

    RawClient aborting = RawClient::connect(proxy.port());
    REQUIRE(aborting.send(get_request("/abort")));
    REQUIRE(aborting.read_at_least(std::string("HTTP/1.1 200").size(), 2s));
    aborting.reset();

    const nlohmann::json timeout_body = body_for(receiver, "/slow");
    INFO("504 body: ", timeout_body.dump());
    CHECK(timeout_body.value("outcome", "") == "upstream_timeout");
    CHECK(timeout_body.value("status", 0) == 504);

    const nlohmann::json abort_body = body_for(receiver, "/abort");
    INFO("abort body: ", abort_body.dump());
    CHECK(abort_body.value("outcome", "") == "client_abort");
    CHECK(abort_body.value("status", 0) == 499);  // a client abort is recorded as 499
}

}  // TEST_SUITE
