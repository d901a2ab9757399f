#include <curl/curl.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <uv.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <memory>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "hooks/curl_multi.h"
#include "hooks/webhook_action.h"
#include "tests/unit/support/http_receiver.h"
#include "tests/unit/support/webhook_harness.h"

using afterhook::config::WebhookSink;
using afterhook::hooks::AttemptResult;
using afterhook::hooks::CurlMulti;
using afterhook::hooks::WebhookAction;
using afterhook::test::compile;
using afterhook::test::HttpReceiver;
using afterhook::test::ReceivedRequest;
using afterhook::test::Reply;
using afterhook::test::run_loop_until;
using afterhook::test::sample_delivery;
using afterhook::test::status_name;
using afterhook::test::WebhookHarness;
using Status = AttemptResult::Status;
using namespace std::chrono_literals;

namespace {

WebhookSink sink_to(const HttpReceiver& receiver, unsigned concurrency = 8) {
    WebhookSink sink;
    sink.url = compile(receiver.url("/hook"));
    sink.concurrency = concurrency;
    return sink;
}

Reply hang() {
    Reply reply;
    reply.mode = Reply::Mode::hang;
    return reply;
}

// The loop's uv_poll_t handles that are not closing, and how many of them run.
struct Polls {
    std::vector<uv_poll_t*> all;
    size_t running = 0;
};

Polls polls_of(uv_loop_t* loop) {
    Polls polls;
    uv_walk(
        loop,
        [](uv_handle_t* handle, void* arg) {
            if (handle->type != UV_POLL || uv_is_closing(handle)) return;
            auto* found = static_cast<Polls*>(arg);
            found->all.push_back(reinterpret_cast<uv_poll_t*>(handle));
            if (uv_is_active(handle)) ++found->running;
        },
        &polls);
    return polls;
}

}  // namespace

TEST_CASE("curl multi: sequential attempts reuse one connection") {
    HttpReceiver receiver;
    WebhookHarness harness(sink_to(receiver));
    for (int i = 0; i < 5; ++i) CHECK(harness.attempt(sample_delivery("req-" + std::to_string(i))).status == Status::delivered);
    const auto requests = receiver.requests();
    REQUIRE(requests.size() == 5);
    for (const auto& request : requests) CHECK(request.connection == 1);
    CHECK(receiver.accepts() == 1);
}

// An idle connection keeps its poll, running for reading, so the next
// transfer on it costs no handle and no epoll change; its socket is
// close-on-exec, so an exec hook's command never inherits it.
TEST_CASE("curl multi: a kept-alive connection keeps one poll from transfer to transfer") {
    HttpReceiver receiver;
    WebhookHarness harness(sink_to(receiver));
    REQUIRE(harness.attempt(sample_delivery("req-0")).status == Status::delivered);
    const Polls first = polls_of(harness.loop());
    REQUIRE(first.all.size() == 1);
    CHECK(first.running == 1);
    uv_os_fd_t fd = -1;
    REQUIRE(uv_fileno(reinterpret_cast<uv_handle_t*>(first.all[0]), &fd) == 0);
    CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK(uv_loop_alive(harness.loop()) == 0);  // an idle connection is not work the loop waits for
    for (int i = 1; i < 4; ++i) {
        REQUIRE(harness.attempt(sample_delivery("req-" + std::to_string(i))).status == Status::delivered);
        const Polls now = polls_of(harness.loop());
        REQUIRE(now.all.size() == 1);
        CHECK(now.all[0] == first.all[0]);
        CHECK(now.running == 1);
    }
    CHECK(receiver.accepts() == 1);
}

// The receiver closes an idle connection without having said so: the poll
// still running on it sees the end of the stream once and stops (a running
// poll on a socket at EOF would wake the loop for ever); the next attempt
// finds the connection dead, closes it with its poll and opens another.
TEST_CASE("curl multi: an idle connection the receiver closes stops being polled and is replaced") {
    std::atomic<int> answered{0};
    HttpReceiver receiver([&](const ReceivedRequest&) {
        Reply reply;
        reply.close_after = ++answered == 1;
        return reply;
    });
    WebhookHarness harness(sink_to(receiver));
    REQUIRE(harness.attempt(sample_delivery("req-0")).status == Status::delivered);
    REQUIRE(harness.run_until([&] { return polls_of(harness.loop()).running == 0; }));
    CHECK(polls_of(harness.loop()).all.size() == 1);  // stopped, kept until libcurl closes the socket

    REQUIRE(harness.attempt(sample_delivery("req-1")).status == Status::delivered);
    CHECK(receiver.accepts() == 2);
    const Polls after = polls_of(harness.loop());
    CHECK(after.all.size() == 1);  // the dead connection's poll closed with its socket
    CHECK(after.running == 1);
    const auto requests = receiver.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1].connection == 2);
}

// A receiver that answers "Connection: close": libcurl closes the socket
// while its poll runs for reading, and the poll goes with it.
TEST_CASE("curl multi: a connection libcurl closes takes its poll with it") {
    HttpReceiver receiver([](const ReceivedRequest&) {
        Reply reply;
        reply.headers.emplace_back("Connection", "close");
        return reply;
    });
    WebhookHarness harness(sink_to(receiver));
    for (int i = 0; i < 3; ++i) {
        REQUIRE(harness.attempt(sample_delivery("req-" + std::to_string(i))).status == Status::delivered);
        CHECK(polls_of(harness.loop()).all.empty());
    }
    CHECK(receiver.accepts() == 3);
}

TEST_CASE("curl multi: concurrent attempts keep their connections for the next round") {
    HttpReceiver receiver;
    constexpr int kConcurrency = 4;
    WebhookHarness harness(sink_to(receiver, kConcurrency));
    for (int round = 0; round < 3; ++round) {
        int delivered = 0;
        for (int i = 0; i < kConcurrency; ++i)
            harness.action().start(sample_delivery("req-" + std::to_string(round) + "-" + std::to_string(i)), 5s,
                                   [&](AttemptResult result) { delivered += result.status == Status::delivered; });
        REQUIRE(harness.run_until([&] { return delivered == kConcurrency; }));
    }
    CHECK(receiver.requests().size() == 3 * kConcurrency);
    CHECK(receiver.accepts() <= kConcurrency);
}

TEST_CASE("curl multi: at most 64 KiB of a response is read - its status still decides") {
    std::atomic<size_t> body_size{WebhookAction::kMaxResponseBytes - 4096};
    std::atomic<bool> chunked{false};
    HttpReceiver receiver([&](const ReceivedRequest&) {
        Reply reply;
        reply.body.assign(body_size, 'x');
        reply.chunked = chunked;
        return reply;
    });
    WebhookHarness harness(sink_to(receiver));

    // Under the limit: read to the end, and the connection is reused.
    CHECK(harness.attempt(sample_delivery()).status == Status::delivered);
    CHECK(harness.attempt(sample_delivery()).status == Status::delivered);
    CHECK(receiver.accepts() == 1);

    SUBCASE("1 MiB with a Content-Length") {}
    SUBCASE("1 MiB chunked") { chunked = true; }
    body_size = 1024 * 1024;
    const AttemptResult result = harness.attempt(sample_delivery());
    CHECK(status_name(result.status) == std::string("delivered"));
    // The client stopped reading and closed that connection: the next
    // attempt needs a new one.
    CHECK(receiver.wait_for_client_closes(1));
    body_size = 10;
    CHECK(harness.attempt(sample_delivery()).status == Status::delivered);
    CHECK(receiver.accepts() == 2);
}

TEST_CASE("curl multi: a too large error response is cut off and keeps its status") {
    HttpReceiver receiver([](const ReceivedRequest&) {
        Reply reply;
        reply.status = 500;
        reply.chunked = true;
        reply.body = "first line\n" + std::string(1024 * 1024, 'y');
        return reply;
    });
    WebhookHarness harness(sink_to(receiver));
    const AttemptResult result = harness.attempt(sample_delivery());
    CHECK(result.status == Status::retry);
    CHECK(result.reason == "HTTP 500: first line?" + std::string(WebhookAction::kReasonBodyBytes - 11, 'y'));
}

TEST_CASE("curl multi: closing the multi cancels its transfers before it reports closed") {
    HttpReceiver receiver([](const ReceivedRequest&) { return hang(); });
    WebhookHarness harness(sink_to(receiver));
    std::vector<std::string> events;
    harness.action().start(sample_delivery(), 10s, [&](AttemptResult result) {
        events.push_back(std::string(status_name(result.status)) + " " + result.reason);
    });
    REQUIRE(harness.run_until([&] { return receiver.requests().size() == 1; }));
    CHECK(harness.multi().transfers() == 1);

    bool closed = false;
    harness.close_multi([&] {
        events.push_back("multi closed");
        closed = true;
    });
    CHECK(events.empty());
    CHECK(harness.multi().closing());
    REQUIRE(harness.run_until([&] { return closed; }));
    CHECK(events == std::vector<std::string>{"failed shutdown", "multi closed"});
    CHECK(harness.action().in_flight() == 0);
    CHECK(receiver.wait_for_client_closes(1));

    // A closed multi takes no new transfer; the action reports that later.
    std::optional<AttemptResult> late;
    harness.action().start(sample_delivery(), 1s, [&](AttemptResult result) { late = result; });
    CHECK_FALSE(late.has_value());
    REQUIRE(harness.run_until([&] { return late.has_value(); }));
    CHECK(late->status == Status::failed);
    CHECK(late->reason == "shutdown");
}

TEST_CASE("curl multi: raw transfers complete through the loop, never inside add()") {
    HttpReceiver receiver;
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
        CurlMulti multi(&loop);
        CURL* easy = curl_easy_init();
        REQUIRE(easy != nullptr);
        const std::string url = receiver.url("/raw");
        curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t count, void*) { return size * count; });
        std::optional<CURLcode> result;
        CHECK(multi.add(easy, [&](CURLcode code) { result = code; }));
        CHECK_FALSE(multi.add(easy, [&](CURLcode) { FAIL("a second add of the same handle ran"); }));
        CHECK_FALSE(result.has_value());
        CHECK(multi.transfers() == 1);
        while (!result) uv_run(&loop, UV_RUN_ONCE);
        CHECK(*result == CURLE_OK);
        CHECK(multi.transfers() == 0);
        CHECK_FALSE(multi.remove(easy));

        // Removed before it completes: its callback never runs.
        bool called = false;
        CHECK(multi.add(easy, [&](CURLcode) { called = true; }));
        CHECK(multi.remove(easy));
        CHECK(multi.transfers() == 0);

        bool closed = false;
        multi.close([&] { closed = true; });
        CHECK_FALSE(multi.add(easy, [&](CURLcode) { called = true; }));
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(closed);
        CHECK_FALSE(called);
        curl_easy_cleanup(easy);
    }
    CHECK(uv_loop_close(&loop) == 0);
}

// libcurl opens a socket pair for each multi handle without close-on-exec;
// an exec hook's command must not inherit it (nor anything else afterhook
// opens).
TEST_CASE("curl multi: every descriptor a new multi opens is close-on-exec") {
    auto descriptors = [] {
        std::set<int> found;
        for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
            found.insert(std::stoi(entry.path().filename().string()));
        }
        return found;
    };
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    const std::set<int> before = descriptors();
    std::shared_ptr<CurlMulti> multi = CurlMulti::make_shared(&loop);
    size_t opened = 0;
    for (const int fd : descriptors()) {
        if (before.count(fd) != 0) continue;
        const int flags = ::fcntl(fd, F_GETFD);
        if (flags < 0) continue;  // the listing's own directory, closed since
        ++opened;
        INFO("descriptor ", fd);
        CHECK((flags & FD_CLOEXEC) != 0);
    }
    CHECK(opened > 0);  // the check saw what the multi opened
    multi.reset();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("curl multi: a shared multi closes and frees itself when its last owner lets go") {
    HttpReceiver receiver([](const ReceivedRequest&) { return hang(); });
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    std::vector<std::string> events;
    SUBCASE("released with a transfer in flight") {
        std::shared_ptr<CurlMulti> multi = CurlMulti::make_shared(&loop);
        CURL* easy = curl_easy_init();
        REQUIRE(easy != nullptr);
        const std::string url = receiver.url("/raw");
        curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        REQUIRE(multi->add(easy, [&](CURLcode code) {
            events.push_back(code == CURLE_ABORTED_BY_CALLBACK ? "cancelled" : "other");
        }));
        // The request reaches the receiver's thread with nothing left for
        // the loop to do (the receiver never answers): the loop is run with
        // a tick, not until its next event, which never comes.
        REQUIRE(run_loop_until(&loop, [&] { return !receiver.requests().empty(); }));
        multi.reset();
        CHECK(events.empty());
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(events == std::vector<std::string>{"cancelled"});
        curl_easy_cleanup(easy);
        CHECK(receiver.wait_for_client_closes(1));
    }
    SUBCASE("closed first, then released") {
        std::shared_ptr<CurlMulti> multi = CurlMulti::make_shared(&loop);
        multi->close([&] { events.push_back("closed"); });
        multi.reset();
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(events == std::vector<std::string>{"closed"});
    }
    SUBCASE("released after its close completed") {
        std::shared_ptr<CurlMulti> multi = CurlMulti::make_shared(&loop);
        multi->close([&] { events.push_back("closed"); });
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(events == std::vector<std::string>{"closed"});
        multi.reset();
    }
    CHECK(uv_loop_close(&loop) == 0);
}
