// Self-tests of the integration harness: the fake upstream, the raw client,
// the process wrapper and the helpers, exercised against each other without
// afterhook, so that a proxy test failure can be trusted to be about the proxy.
#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <thread>

#include "support/access_log.h"
#include "support/child_process.h"
#include "support/fake_upstream.h"
#include "support/pattern.h"
#include "support/proxy_config.h"
#include "support/raw_client.h"
#include "support/refused_port.h"
#include "support/rss_sampler.h"
#include "support/temp_dir.h"
#include "support/wait.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

TEST_SUITE("harness") {

TEST_CASE("fake upstream records a Content-Length request and the raw client reads the answer") {
    FakeUpstream upstream;
    RawClient client = RawClient::connect(upstream.port());
    const std::string request =
        "POST /items?x=1 HTTP/1.1\r\nHost: app.local\r\nX-Mixed-Case: One\r\nx-lower: two\r\n"
        "Content-Length: 5\r\n\r\nhello";
    REQUIRE(client.send(request));
    const HttpResponse response = client.read_response();
    INFO(response.describe());
    REQUIRE(response.ok());
    CHECK(response.status_line == "HTTP/1.1 200 OK");
    CHECK(response.status == 200);
    CHECK(response.body == "POST /items?x=1");
    CHECK(response.framing == HttpResponse::Framing::content_length);

    REQUIRE(upstream.wait_for_requests(1, 2s));
    const UpstreamRequest got = upstream.request(0);
    CHECK(got.method == "POST");
    CHECK(got.target == "/items?x=1");
    CHECK(got.version == "HTTP/1.1");
    REQUIRE(got.headers.size() == 4);
    CHECK(got.headers[1].first == "X-Mixed-Case");
    CHECK(got.headers[1].second == "One");
    CHECK(got.headers[2].first == "x-lower");
    CHECK(got.body == "hello");
    CHECK(got.raw == request);
    CHECK_FALSE(got.chunked);
}

TEST_CASE("chunked both ways: extensions and trailers are recorded and parsed") {
    FakeUpstream upstream([](UpstreamConn& conn, const UpstreamRequest& request) {
        conn.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   chunked(request.body, 3, {{"X-Checksum", "abc"}}));
    });
    RawClient client = RawClient::connect(upstream.port());
    REQUIRE(client.send("PUT /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "4;name=value\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"));
    const HttpResponse response = client.read_response();
    INFO(response.describe());
    REQUIRE(response.ok());
    CHECK(response.framing == HttpResponse::Framing::chunked);
    CHECK(response.body == "wikipedia");
    CHECK(find_header(response.trailers, "x-checksum") == "abc");
    const UpstreamRequest got = upstream.request(0);
    CHECK(got.chunked);
    CHECK(got.body == "wikipedia");
    REQUIRE(got.chunk_extensions.size() == 3);
    CHECK(got.chunk_extensions[0] == ";name=value");
    CHECK(find_header(got.trailers, "x-trailer") == "t");
}

TEST_CASE("raw client: close-delimited and bodiless framing and interim responses") {
    FakeUpstream upstream([](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.target == "/head") {
            conn.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
        } else if (request.target == "/204") {
            conn.write("HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n");
        } else if (request.target == "/304") {
            conn.write("HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n");
        } else if (request.target == "/interim") {
            conn.write("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        } else {
            conn.write("HTTP/1.1 200 OK\r\n\r\nuntil the end");
            conn.close();
        }
    });
    RawClient client = RawClient::connect(upstream.port());
    REQUIRE(client.send("HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n" + get_request("/204") +
                        get_request("/304") + get_request("/interim") + get_request("/close")));
    ResponseOptions head;
    head.head_request = true;
    const HttpResponse r1 = client.read_response(head);
    CHECK(r1.ok());
    CHECK(r1.status == 200);
    CHECK(r1.body.empty());
    const HttpResponse r2 = client.read_response();
    CHECK(r2.status == 204);
    CHECK(r2.body.empty());
    const HttpResponse r3 = client.read_response();
    CHECK(r3.status == 304);
    std::vector<HttpResponse> interim;
    const HttpResponse r4 = client.read_final_response({}, &interim);
    REQUIRE(interim.size() == 1);
    CHECK(interim[0].status == 103);
    CHECK(r4.status == 200);
    CHECK(r4.body == "ok");
    const HttpResponse r5 = client.read_response();
    INFO(r5.describe());
    CHECK(r5.ok());
    CHECK(r5.framing == HttpResponse::Framing::until_close);
    CHECK(r5.body == "until the end");
}

TEST_CASE("raw client tells EOF from reset and reports a body cut by a reset") {
    FakeUpstream upstream([](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.target == "/fin") {
            conn.close();
        } else if (request.target == "/rst") {
            conn.reset();
        } else {
            conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
            conn.reset();
        }
    });
    {
        RawClient client = RawClient::connect(upstream.port());
        REQUIRE(client.send(get_request("/fin")));
        const CloseResult result = client.read_all_until_close(2s);
        CHECK(result.closed);
        CHECK_FALSE(result.reset);
        CHECK(result.data.empty());
    }
    {
        RawClient client = RawClient::connect(upstream.port());
        REQUIRE(client.send(get_request("/rst")));
        const CloseResult result = client.read_all_until_close(2s);
        CHECK(result.closed);
        CHECK(result.reset);
    }
    {
        RawClient client = RawClient::connect(upstream.port());
        REQUIRE(client.send(get_request("/cut")));
        const HttpResponse response = client.read_response(2s);
        CHECK_FALSE(response.ok());
        CHECK(response.status == 200);
        CHECK(response.error.find("body") != std::string::npos);
    }
    {
        // A stalled body fails at the stall timeout, long before the deadline.
        FakeUpstream stalled([](UpstreamConn& conn, const UpstreamRequest&) {
            conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
            conn.sleep_for(10s);
        });
        RawClient client = RawClient::connect(stalled.port());
        client.stream().set_stall_timeout(200ms);
        REQUIRE(client.send(get_request("/")));
        const auto start = Clock::now();
        const HttpResponse response = client.read_response(10s);
        CHECK(response.error.find("timeout") != std::string::npos);
        CHECK(response.body_size == 3);
        CHECK(Clock::now() - start < 2s);
    }
    {
        // Nothing arrives: the read gives up at its deadline.
        FakeUpstream silent([](UpstreamConn& conn, const UpstreamRequest&) { conn.sleep_for(10s); });
        RawClient client = RawClient::connect(silent.port());
        REQUIRE(client.send(get_request("/")));
        const auto start = Clock::now();
        const HttpResponse response = client.read_response(200ms);
        CHECK_FALSE(response.ok());
        CHECK(response.error.find("timeout") != std::string::npos);
        CHECK(Clock::now() - start < 2s);
    }  // stop() interrupts the sleeping handler: this scope ends promptly.
}

TEST_CASE("keep-alive: many requests on one connection are one accepted connection") {
    FakeUpstream upstream;
    RawClient client = RawClient::connect(upstream.port());
    for (int i = 0; i < 20; ++i) {
        REQUIRE(client.send(get_request("/n" + std::to_string(i))));
        const HttpResponse response = client.read_response();
        REQUIRE(response.ok());
        CHECK(response.body == "GET /n" + std::to_string(i));
    }
    CHECK(upstream.accepted_connections() == 1);
    CHECK(upstream.request_count() == 20);
    CHECK(upstream.request(19).index_on_connection == 19);
    client.close();
    CHECK(upstream.wait_for_closed_connections(1, 2s));
}

TEST_CASE("the timeline shows a pipelining peer: input pending before the last response byte") {
    FakeUpstream upstream([](UpstreamConn& conn, const UpstreamRequest& request) {
        conn.write_holding_last_byte("HTTP/1.1 200 OK\r\nContent-Length: " +
                                         std::to_string(request.target.size()) + "\r\n\r\n" + request.target,
                                     30ms);
    });
    RawClient client = RawClient::connect(upstream.port());
    REQUIRE(client.send(get_request("/1") + get_request("/2") + get_request("/3")));
    for (const char* target : {"/1", "/2", "/3"}) {
        const HttpResponse response = client.read_response();
        CHECK(response.body == target);
    }
    // A client that waits for each response before the next request is not flagged.
    REQUIRE(client.send(get_request("/4")));
    CHECK(client.read_response().body == "/4");
    REQUIRE(wait_until([&] {
        size_t done = 0;
        for (const auto& event : upstream.timeline()) done += event.kind == UpstreamEvent::Kind::response_done;
        return done == 4;
    }, 2s));
    std::vector<bool> pending;
    for (const auto& event : upstream.timeline()) {
        if (event.kind == UpstreamEvent::Kind::before_last_byte) pending.push_back(event.input_pending);
    }
    // The detector must fire for a client that really pipelines; the proxy
    // tests rely on it staying silent for a proxy that does not.
    CHECK(pending == std::vector<bool>{true, true, false, false});
}

TEST_CASE("expect 100-continue: the fake answers 100 before reading the body") {
    FakeUpstream upstream;
    RawClient client = RawClient::connect(upstream.port());
    REQUIRE(client.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
    const HttpResponse interim = client.read_response(2s);
    CHECK(interim.status == 100);
    REQUIRE(client.send("data"));
    const HttpResponse response = client.read_response(2s);
    CHECK(response.status == 200);
    CHECK(upstream.request(0).body == "data");
    CHECK(upstream.request(0).sent_continue);
}

TEST_CASE("backpressure is measurable: an unread stream plateaus and then completes intact") {
    constexpr uint64_t kSize = 64ull << 20;
    FakeUpstream::Options options;
    options.send_buffer = 256 * 1024;
    FakeUpstream upstream(
        [](UpstreamConn& conn, const UpstreamRequest&) {
            conn.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kSize) + "\r\n\r\n");
            conn.stream_pattern(kSize);
        },
        options);
    RawClient client = RawClient::connect(upstream.port(), 64 * 1024);
    REQUIRE(client.send(get_request("/big")));
    const auto plateau = wait_until_stable([&] { return upstream.bytes_written(); }, 300ms, 5s);
    REQUIRE(plateau.has_value());
    CHECK(*plateau < 8ull << 20);
    PatternChecker checker;
    ResponseOptions read;
    read.timeout = 20s;
    read.body_sink = [&](std::string_view piece) { checker.feed(piece); };
    const HttpResponse response = client.read_response(read);
    INFO(response.describe());
    CHECK(response.ok());
    CHECK(checker.size() == kSize);
    CHECK(checker.ok());
}

TEST_CASE("pattern: matches itself at any offset and catches a shifted or changed byte") {
    const std::string piece = Pattern::bytes(1000, 3 * Pattern::kPeriod);
    CHECK(Pattern::matches(1000, piece));
    CHECK_FALSE(Pattern::matches(1001, piece));
    CHECK_FALSE(Pattern::matches(1000 + 65536, piece));
    std::string changed = piece;
    changed[Pattern::kPeriod + 7] ^= 1;
    CHECK_FALSE(Pattern::matches(1000, changed));
    PatternChecker checker;
    const std::string all = Pattern::bytes(0, 200000);
    checker.feed(std::string_view(all).substr(0, 70000));
    checker.feed(std::string_view(all).substr(70000));
    CHECK(checker.ok());
    checker.feed(Pattern::bytes(300000, 10));  // skips 100000 bytes
    CHECK_FALSE(checker.ok());
}

TEST_CASE("upstream handler sees a large Content-Length upload as a pattern without storing it") {
    constexpr uint64_t kSize = 32ull << 20;
    FakeUpstream upstream;
    RawClient client = RawClient::connect(upstream.port());
    std::thread sender([&] {
        client.send("PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(kSize) + "\r\n\r\n");
        std::string piece(1 << 20, '\0');
        for (uint64_t offset = 0; offset < kSize; offset += piece.size()) {
            Pattern::fill(offset, piece.data(), piece.size());
            if (!client.send(piece, 10s)) return;
        }
    });
    REQUIRE(upstream.wait_for_requests(1, 20s));
    sender.join();
    const UpstreamRequest got = upstream.request(0);
    CHECK(got.body_size == kSize);
    CHECK(got.body_matches_pattern);
    CHECK(got.body.size() == 4u << 20);  // stored up to max_stored_body only
    CHECK(client.read_response(2s).status == 200);
}

TEST_CASE("a refused port refuses") {
    RefusedPort refused;
    CHECK(refused.port() != 0);
    CHECK_FALSE(RawClient::try_connect(refused.port()).has_value());
}

TEST_CASE("fake upstream stops promptly with a handler blocked in a write") {
    auto upstream = std::make_unique<FakeUpstream>([](UpstreamConn& conn, const UpstreamRequest&) {
        conn.write("HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n");
        conn.stream_pattern(1ull << 30);
    });
    RawClient client = RawClient::connect(upstream->port(), 64 * 1024);
    REQUIRE(client.send(get_request("/")));
    REQUIRE(wait_until([&] { return upstream->bytes_written() > 0; }, 2s));
    const auto start = Clock::now();
    upstream->stop();
    CHECK(Clock::now() - start < 2s);
}

TEST_CASE("child process: output lines and port parsing and RSS and stopping") {
    SUBCASE("a well-behaved child") {
        ChildProcess child({"/bin/sh", "-c",
                            "echo '2026-11-22T12:40:00.123Z info listening address=127.0.0.1:41234 workers=1' >&2;"
                            " echo out; exec sleep 30"});
        const auto line = child.wait_for_line(std::regex(R"(\binfo listening address=[^ ]*:([0-9]+))"), 5s);
        REQUIRE(line.has_value());
        std::smatch match;
        REQUIRE(std::regex_search(*line, match, std::regex(R"(:([0-9]+) )")));
        CHECK(match[1].str() == "41234");
        CHECK(child.wait_for_line(std::regex("^out$"), 5s).has_value());
        CHECK_FALSE(child.wait_for_line(std::regex("never printed"), 100ms).has_value());
        CHECK(child.rss_bytes() > 0);
        RssSampler sampler(child, 10ms);
        REQUIRE(wait_until([&] { return sampler.samples() >= 3; }, 2s));
        CHECK(sampler.stop() > 0);
        CHECK(child.send_signal(0));
        child.stop(2s);
        CHECK(child.exited());
        CHECK_FALSE(child.killed_after_grace());
        CHECK(child.exit_code() == -SIGTERM);
        CHECK(child.rss_bytes() == 0);
    }
    SUBCASE("a child that ignores SIGTERM is killed after the grace period") {
        ChildProcess child({"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"});
        REQUIRE(child.wait_for_line(std::regex("^ready$"), 5s).has_value());
        const auto start = Clock::now();
        child.stop(300ms);
        CHECK(Clock::now() - start < 3s);
        CHECK(child.killed_after_grace());
        CHECK(child.exit_code() == -SIGKILL);
    }
    SUBCASE("a missing program is reported at once") {
        CHECK_THROWS_AS(ChildProcess({"/nonexistent/afterhook"}), std::runtime_error);
    }
    SUBCASE("a helper left holding the output pipes does not hold up stop()") {
        ChildProcess child({"/bin/sh", "-c", "sleep 3 & echo started"});
        REQUIRE(child.wait_for_line(std::regex("^started$"), 5s).has_value());
        REQUIRE(child.wait_exit(5s));
        const auto start = Clock::now();
        child.stop(1s);
        CHECK(Clock::now() - start < 1s);
        CHECK(child.exit_code() == 0);
    }
    SUBCASE("an exiting child ends wait_for_line early") {
        ChildProcess child({"/bin/sh", "-c", "echo bye; exit 3"});
        const auto start = Clock::now();
        CHECK_FALSE(child.wait_for_line(std::regex("listening"), 10s).has_value());
        CHECK(Clock::now() - start < 5s);
        CHECK(child.wait_exit(5s));
        CHECK(child.exit_code() == 3);
    }
}

TEST_CASE("access log reader: complete lines only and unparsable lines visible") {
    TempDir dir;
    AccessLog log(dir.file("access.log"));
    CHECK(log.count() == 0);
    {
        std::ofstream out(log.path());
        out << R"({"afterhook.request.id":"a1","http.response.status_code":200})" << "\n"
            << R"({"afterhook.request.id":"b2"})" << "\n"
            << R"({"afterhook.request.id":"c3")";  // no newline yet
    }
    CHECK(log.wait_for_count(2, 1s));
    CHECK_FALSE(log.wait_for_count(3, 100ms));
    const auto record = log.wait_for_request_id("b2", 1s);
    REQUIRE(record.has_value());
    CHECK_FALSE(log.wait_for_request_id("c3", 50ms).has_value());
    {
        std::ofstream out(log.path(), std::ios::app);
        out << "}\nnot json\n";
    }
    REQUIRE(log.wait_for_count(4, 1s));
    CHECK(log.records()[2]["afterhook.request.id"] == "c3");
    CHECK(log.records()[3].contains("unparsable_line"));
}

TEST_CASE("proxy config renders the YAML afterhook is started with") {
    ProxyConfig config;
    config.upstream = "127.0.0.1:9";
    config.timeout("request_header", "300ms").limit("max_headers", "10");
    config.capture_cookies = {"session-id"};
    config.log_path = "/tmp/x/access.log";
    const std::string yaml = config.render();
    CHECK(yaml.find("listen: 127.0.0.1:0\n") == 0);
    CHECK(yaml.find("upstream: 127.0.0.1:9\n") != std::string::npos);
    CHECK(yaml.find("workers: 1\n") != std::string::npos);
    CHECK(yaml.find("admin: {listen: 127.0.0.1:0}\n") != std::string::npos);
    CHECK(yaml.find("timeouts: {drain: 1s, request_header: 300ms}\n") != std::string::npos);
    CHECK(yaml.find("limits: {max_headers: 10}\n") != std::string::npos);
    CHECK(yaml.find("capture:\n  cookies: [\"session-id\"]\n") != std::string::npos);
    CHECK(yaml.find("log: {path: \"/tmp/x/access.log\"}") != std::string::npos);
}

TEST_CASE("wait helpers give up at their deadline") {
    const auto start = Clock::now();
    CHECK_FALSE(wait_until([] { return false; }, 50ms));
    CHECK(Clock::now() - start < 1s);
    int calls = 0;
    CHECK(wait_until([&] { return ++calls == 3; }, 1s));
    uint64_t counter = 0;
    CHECK_FALSE(wait_until_stable([&] { return ++counter; }, 50ms, 200ms).has_value());
    CHECK(wait_until_stable([] { return uint64_t{7}; }, 30ms, 1s) == uint64_t{7});
}

}  // TEST_SUITE
