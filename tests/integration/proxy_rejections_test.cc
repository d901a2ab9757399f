// Malformed requests: afterhook answers 400 itself, with a short text/plain
// body and Connection: close, closes the connection, forwards nothing
// complete to the upstream, and records the exchange as `rejected`.
#include <doctest/doctest.h>

#include "support/expectations.h"
#include "support/proxy_harness.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

const std::string kHost = "Host: test.local\r\n";

}  // namespace

TEST_SUITE("proxy rejections") {

TEST_CASE("malformed header fields are rejected with 400") {
    check_rejections({
        {"obs-fold with a space", "GET / HTTP/1.1\r\n" + kHost + "X-Folded: first\r\n second\r\n\r\n"},
        {"obs-fold with a tab", "GET / HTTP/1.1\r\n" + kHost + "X-Folded: first\r\n\tsecond\r\n\r\n"},
        {"empty header name", "GET / HTTP/1.1\r\n" + kHost + ": value\r\n\r\n"},
        {"space between name and colon", "GET / HTTP/1.1\r\n" + kHost + "X-Space : value\r\n\r\n"},
        {"tab between name and colon", "GET / HTTP/1.1\r\n" + kHost + "X-Tab\t: value\r\n\r\n"},
        {"space inside a header name", "GET / HTTP/1.1\r\n" + kHost + "X Bad: value\r\n\r\n"},
        {"bare CR in a header value", "GET / HTTP/1.1\r\n" + kHost + "X-A: b\rc\r\n\r\n"},
        {"NUL in a header value", "GET / HTTP/1.1\r\n" + kHost + std::string("X-A: b\0c\r\n\r\n", 12)},
        {"header line without a colon", "GET / HTTP/1.1\r\n" + kHost + "NoColonHere\r\n\r\n"},
    }, 400, true);
}

TEST_CASE("ambiguous or unsupported framing is rejected with 400") {
    check_rejections({
        {"Content-Length with Transfer-Encoding",
         "POST / HTTP/1.1\r\n" + kHost + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        {"Transfer-Encoding with Content-Length",
         "POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
        {"two differing Content-Length fields",
         "POST / HTTP/1.1\r\n" + kHost + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
        {"a Content-Length list with differing values",
         "POST / HTTP/1.1\r\n" + kHost + "Content-Length: 3, 4\r\n\r\nabcd"},
        {"a Content-Length that is not a number",
         "POST / HTTP/1.1\r\n" + kHost + "Content-Length: four\r\n\r\n"},
        {"a negative Content-Length", "POST / HTTP/1.1\r\n" + kHost + "Content-Length: -1\r\n\r\n"},
        {"Transfer-Encoding on HTTP/1.0",
         "POST / HTTP/1.0\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        {"final transfer coding gzip", "POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: gzip\r\n\r\n"},
        {"final transfer coding after chunked",
         "POST / HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked, gzip\r\n\r\n"},
    }, 400, true);
}

TEST_CASE("request lines and versions other than HTTP/1.0 and HTTP/1.1 are rejected with 400") {
    check_rejections({
        {"HTTP/1.2", "GET / HTTP/1.2\r\n" + kHost + "\r\n"},
        {"HTTP/2.0", "GET / HTTP/2.0\r\n" + kHost + "\r\n"},
        {"HTTP/3.0", "GET / HTTP/3.0\r\n" + kHost + "\r\n"},
        {"HTTP/0.9 style, no version", "GET /\r\n\r\n"},
        {"lower-case protocol name", "GET / http/1.1\r\n" + kHost + "\r\n"},
        {"bare CR in the request line", "GET /a\rb HTTP/1.1\r\n" + kHost + "\r\n"},
    }, 400, true);
}

TEST_CASE("Host must appear exactly once on HTTP/1.1") {
    check_rejections({
        {"missing Host", "GET / HTTP/1.1\r\nUser-Agent: test\r\n\r\n"},
        {"two differing Host fields", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n"},
        {"two identical Host fields", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: a.example\r\n\r\n"},
    }, 400, true);
}

TEST_CASE("invalid chunk sizes are rejected with 400") {
    const std::string head = "POST /chunks HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n";
    check_rejections({
        {"not hexadecimal", head + "zz\r\nhello\r\n0\r\n\r\n"},
        {"negative", head + "-5\r\nhello\r\n0\r\n\r\n"},
        {"empty size line", head + "\r\nhello\r\n0\r\n\r\n"},
        {"too large for 64 bits", head + "fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
        {"data longer than the size", head + "3\r\nhello\r\n0\r\n\r\n"},
    }, 400, false);
}

TEST_CASE("chunk extensions over limits.max_chunk_extension_bytes are rejected with 400") {
    ProxyConfig config;
    config.limit("max_chunk_extension_bytes", "64");
    const std::string head = "POST /chunks HTTP/1.1\r\n" + kHost + "Transfer-Encoding: chunked\r\n\r\n";
    SUBCASE("within the limit the body passes") {
        ProxyHarness h(config);
        const HttpResponse response = h.exchange(head + "5;name=value\r\nhello\r\n0\r\n\r\n");
        INFO(response.describe());
        CHECK(response.status == 200);
        REQUIRE(h.upstream().wait_for_requests(1, 2s));
        CHECK(h.upstream().request(0).body == "hello");
    }
    SUBCASE("over the limit") {
        check_rejections({
            {"one long extension", head + "5;x=" + std::string(100, 'a') + "\r\nhello\r\n0\r\n\r\n"},
            {"many short extensions",
             head + "5" + [] { std::string s; for (int i = 0; i < 30; ++i) s += ";e=" + std::to_string(i); return s; }() +
                 "\r\nhello\r\n0\r\n\r\n"},
            {"long extension on the last chunk", head + "5\r\nhello\r\n0;x=" + std::string(100, 'b') + "\r\n\r\n"},
        }, 400, false, config);
    }
}

}  // TEST_SUITE
