// HttpParser: llhttp in strict mode plus afterhook's own checks and limits.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proxy/http_parser.h"

using namespace afterhook::proxy;

namespace {

struct Collector : HttpParser::Handler {
    std::vector<MessageHead> heads;
    std::string body;
    std::vector<std::vector<HeaderField>> trailers;
    int completed = 0;
    bool skip_body = false;
    bool pause = true;

    bool on_head(MessageHead& head, bool& skip) override {
        heads.push_back(head);
        skip = skip_body;
        return true;
    }
    void on_body(const char* data, size_t length) override { body.append(data, length); }
    bool on_message_complete(std::vector<HeaderField>&& t) override {
        trailers.push_back(std::move(t));
        ++completed;
        return pause;
    }
};

struct Run {
    Collector events;
    HttpParser parser;
    HttpParser::Result result{HttpParser::Status::need_more, 0};

    explicit Run(HttpParser::Type type = HttpParser::Type::request, ParserLimits limits = {})
        : parser(type, limits, events) {}

    // Feeds `input` in pieces of `step` bytes (0 = all at once), stopping at
    // the first non-need_more result.
    HttpParser::Status feed(const std::string& input, size_t step = 0) {
        if (step == 0) step = input.size();
        for (size_t at = 0; at < input.size(); at += step) {
            size_t n = std::min(step, input.size() - at);
            result = parser.feed(input.data() + at, n);
            if (result.status != HttpParser::Status::need_more) return result.status;
        }
        return result.status;
    }
};

int reject_status(const std::string& request, ParserLimits limits = {}) {
    Run run(HttpParser::Type::request, limits);
    if (run.feed(request) != HttpParser::Status::error) return 0;
    return run.parser.error_status();
}

}  // namespace

TEST_CASE("a simple request is parsed into one head and pauses after the message") {
    Run run;
    std::string input = "GET /a?b=1 HTTP/1.1\r\nHost: example\r\nX-Thing:  spaced value \t\r\n\r\nGET /next";
    CHECK(run.feed(input) == HttpParser::Status::paused);
    REQUIRE(run.events.heads.size() == 1);
    const MessageHead& head = run.events.heads[0];
    CHECK(head.method == "GET");
    CHECK(head.target == "/a?b=1");
    CHECK(head.version_minor == 1);
    CHECK(head.keep_alive);
    REQUIRE(head.find("x-thing"));
    CHECK(head.find("x-thing")->value == "spaced value");
    // The pipelined rest stays unconsumed for the next exchange.
    CHECK(input.substr(run.result.consumed) == "GET /next");
}

TEST_CASE("every byte split still yields the same request, body and trailers") {
    std::string input =
        "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n";
    for (size_t step : {1u, 2u, 3u, 7u, 1000u}) {
        CAPTURE(step);
        Run run;
        CHECK(run.feed(input, step) == HttpParser::Status::paused);
        REQUIRE(run.events.heads.size() == 1);
        CHECK(run.events.heads[0].chunked);
        CHECK(run.events.body == "hello world");
        REQUIRE(run.events.trailers.size() == 1);
        REQUIRE(run.events.trailers[0].size() == 1);
        CHECK(run.events.trailers[0][0].name == "X-Checksum");
        CHECK(run.events.trailers[0][0].value == "abc");
    }
}

TEST_CASE("malformed requests are refused with 400") {
    CHECK(reject_status("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  folded\r\n\r\n") == 400);    // obs-fold
    CHECK(reject_status("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n") == 400);             // empty name
    CHECK(reject_status("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == 400);                       // space before colon
    CHECK(reject_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
    CHECK(reject_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n") == 400);
    CHECK(reject_status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
    CHECK(reject_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n") == 400);
    CHECK(reject_status("GET / HTTP/1.2\r\nHost: a\r\n\r\n") == 400);
    CHECK(reject_status("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 400);
    CHECK(reject_status("GET /\r\n\r\n") == 400);                                            // HTTP/0.9
    CHECK(reject_status("GET / HTTP/1.1\r\n\r\n") == 400);                                   // no Host
    CHECK(reject_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
    CHECK(reject_status("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n") == 400);             // bare CR
    CHECK(reject_status("GET / HTTP/1.1\rHost: a\r\n\r\n") == 400);
    CHECK(reject_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == 400);
}

TEST_CASE("obs-fold is found even when the fold starts a new read") {
    Run run;
    run.feed("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n");
    CHECK(run.feed(" folded\r\n\r\n") == HttpParser::Status::error);
    CHECK(run.parser.error_status() == 400);
}

TEST_CASE("a transfer coding before chunked is refused as not implemented") {
    CHECK(reject_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n") == 501);
}

TEST_CASE("limits answer 431, 414 and 413") {
    ParserLimits limits;
    limits.max_header_bytes = 1024;
    limits.max_headers = 3;
    limits.max_uri_bytes = 256;
    limits.max_body_bytes = 10;
    limits.max_chunk_extension_bytes = 16;
    CHECK(reject_status("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'v') + "\r\n\r\n", limits) == 431);
    CHECK(reject_status("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits) == 431);
    CHECK(reject_status("GET /" + std::string(300, 'u') + " HTTP/1.1\r\nHost: a\r\n\r\n", limits) == 414);
    CHECK(reject_status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limits) == 413);
    CHECK(reject_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n", limits) == 413);
    CHECK(reject_status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "1;name=" + std::string(40, 'x') + "\r\na\r\n0\r\n\r\n", limits) == 400);
}

TEST_CASE("a head that drips in across many reads is still bounded") {
    ParserLimits limits;
    limits.max_header_bytes = 1024;
    Run run(HttpParser::Type::request, limits);
    std::string input = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 200; ++i) input += "X-" + std::to_string(i) + ": v\r\n";
    CHECK(run.feed(input, 5) == HttpParser::Status::error);
    CHECK(run.parser.error_status() == 431);
}

TEST_CASE("pipelined requests are parsed one at a time after resume") {
    Run run;
    std::string input = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(run.feed(input) == HttpParser::Status::paused);
    size_t first = run.result.consumed;
    CHECK(run.events.heads.size() == 1);
    run.parser.resume();
    auto second = run.parser.feed(input.data() + first, input.size() - first);
    CHECK(second.status == HttpParser::Status::paused);
    REQUIRE(run.events.heads.size() == 2);
    CHECK(run.events.heads[1].target == "/2");
}

TEST_CASE("an upgrade request stops the parser with the tunnel bytes unconsumed") {
    Run run;
    std::string input = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nRAW";
    CHECK(run.feed(input) == HttpParser::Status::upgrade);
    CHECK(run.events.heads.at(0).upgrade);
    CHECK(input.substr(run.result.consumed) == "RAW");
}

TEST_CASE("responses: skip_body stops llhttp from reading a body on 204/304/HEAD") {
    Run run(HttpParser::Type::response);
    run.events.skip_body = true;
    std::string input = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello";
    CHECK(run.feed(input) == HttpParser::Status::paused);
    CHECK(run.events.body.empty());
    CHECK(input.substr(run.result.consumed) == "hello");  // left over: the connection is not reused
}

TEST_CASE("responses: read to EOF completes on finish(), cut chunked bodies fail") {
    {
        Run run(HttpParser::Type::response);
        CHECK(run.feed("HTTP/1.1 200 OK\r\n\r\nstream until close") == HttpParser::Status::need_more);
        CHECK(run.parser.finish().status == HttpParser::Status::paused);
        CHECK(run.events.body == "stream until close");
    }
    {
        Run run(HttpParser::Type::response);
        CHECK(run.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel") == HttpParser::Status::need_more);
        CHECK(run.parser.finish().status == HttpParser::Status::error);
        CHECK(run.parser.error_status() == 502);
    }
}

TEST_CASE("responses: interim 100 then the final response, when the handler does not pause") {
    Run run(HttpParser::Type::response);
    run.events.pause = false;
    CHECK(run.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") ==
          HttpParser::Status::need_more);
    REQUIRE(run.events.heads.size() == 2);
    CHECK(run.events.heads[0].status == 100);
    CHECK(run.events.heads[1].status == 200);
    CHECK(run.events.body == "ok");
}

TEST_CASE("responses: obs-fold and bad versions are a bad gateway") {
    {
        Run run(HttpParser::Type::response);
        CHECK(run.feed("HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n") == HttpParser::Status::error);
        CHECK(run.parser.error_status() == 502);
    }
    {
        Run run(HttpParser::Type::response);
        CHECK(run.feed("HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n") == HttpParser::Status::error);
        CHECK(run.parser.error_status() == 502);
    }
}

TEST_CASE("responses: a status outside 100..599 is a bad gateway") {
    for (const char* line : {"HTTP/1.1 20 OK\r\n", "HTTP/1.1 600 Odd\r\n", "HTTP/1.1 099 Low\r\n"}) {
        CAPTURE(line);
        Run run(HttpParser::Type::response);
        CHECK(run.feed(std::string(line) + "Content-Length: 0\r\n\r\n") == HttpParser::Status::error);
        CHECK(run.parser.error_status() == 502);
    }
}

TEST_CASE("a cleared head is a default head, and many fields do not stay allocated") {
    MessageHead head;
    head.method = "POST";
    head.target = "/upload";
    head.status = 201;
    head.reason = "Created";
    head.version_minor = 0;
    head.chunked = true;
    head.content_length = 5;
    head.upgrade = true;
    head.keep_alive = true;
    for (int i = 0; i < 8; ++i) head.fields.push_back({"X-" + std::to_string(i), "v"});
    const size_t kept = head.fields.capacity();
    head.clear();
    const MessageHead fresh;
    CHECK(head.method.empty());
    CHECK(head.target.empty());
    CHECK(head.status == fresh.status);
    CHECK(head.reason.empty());
    CHECK(head.version_major == fresh.version_major);
    CHECK(head.version_minor == fresh.version_minor);
    CHECK(head.fields.empty());
    CHECK(head.fields.capacity() == kept);  // reused by the next message
    CHECK(head.chunked == fresh.chunked);
    CHECK(head.content_length == fresh.content_length);
    CHECK(head.upgrade == fresh.upgrade);
    CHECK(head.keep_alive == fresh.keep_alive);

    for (int i = 0; i < 100; ++i) head.fields.push_back({"X-" + std::to_string(i), "v"});
    head.clear();
    CHECK(head.fields.capacity() == 0);
}

TEST_CASE("the second message on a connection inherits nothing from the first") {
    Run run(HttpParser::Type::response);
    const std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\nX-B: 2\r\n\r\nok";
    const std::string second = "HTTP/1.0 204 No Content\r\nX-C: 3\r\n\r\n";
    REQUIRE(run.feed(first) == HttpParser::Status::paused);
    run.parser.resume();
    REQUIRE(run.feed(second) == HttpParser::Status::paused);
    REQUIRE(run.events.heads.size() == 2);
    const MessageHead& head = run.events.heads[1];
    CHECK(head.status == 204);
    CHECK(head.reason == "No Content");
    CHECK(head.version_minor == 0);
    CHECK_FALSE(head.content_length);
    REQUIRE(head.fields.size() == 1);
    CHECK(head.fields[0].name == "X-C");
    CHECK(head.fields[0].value == "3");
}
