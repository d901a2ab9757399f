// Header rules: hop-by-hop removal, forwarding fields, request ids, framing.
#include <doctest/doctest.h>

#include "proxy/header_rules.h"

using namespace afterhook::proxy;

namespace {
MessageHead request(std::vector<HeaderField> fields, std::string method = "GET", int minor = 1) {
    MessageHead head;
    head.method = std::move(method);
    head.target = "/p?q=1";
    head.version_minor = minor;
    head.fields = std::move(fields);
    return head;
}

std::string upstream_head(const MessageHead& head, const UpstreamRequestContext& ctx) {
    std::string out;
    append_upstream_request_head(out, head, ctx);
    return out;
}

std::string client_head(const MessageHead& head, const ClientResponseContext& ctx) {
    std::string out;
    append_client_response_head(out, head, ctx);
    return out;
}

bool has_line(const std::string& head, const std::string& line) {
    return head.find("\r\n" + line + "\r\n") != std::string::npos;
}
}  // namespace

TEST_CASE("hop-by-hop fields and the fields Connection names are not forwarded") {
    MessageHead head = request({{"Host", "app"},
                                {"Connection", "keep-alive, X-Secret-Hop"},
                                {"Keep-Alive", "timeout=5"},
                                {"Proxy-Connection", "keep-alive"},
                                {"TE", "trailers"},
                                {"Upgrade", "websocket"},
                                {"X-Secret-Hop", "1"},
                                {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                                {"Accept", "*/*"}});
    UpstreamRequestContext ctx{.client_ip = "10.1.2.3", .request_id = "abc", .default_host = "127.0.0.1:8080"};
    std::string out = upstream_head(head, ctx);
    CHECK(out.rfind("GET /p?q=1 HTTP/1.1\r\n", 0) == 0);
    for (const char* gone : {"Connection:", "Keep-Alive:", "Proxy-Connection:", "TE:", "Upgrade:", "X-Secret-Hop:"})
        CHECK(out.find(gone) == std::string::npos);
    CHECK(has_line(out, "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
    CHECK(has_line(out, "Accept: */*"));
    CHECK(has_line(out, "X-Forwarded-For: 10.1.2.3"));
    CHECK(has_line(out, "X-Forwarded-Proto: http"));
    CHECK(has_line(out, "X-Forwarded-Host: app"));
    CHECK(has_line(out, "X-Request-Id: abc"));
    CHECK(out.substr(out.size() - 4) == "\r\n\r\n");
}

TEST_CASE("X-Forwarded-For is appended to, and Connection cannot remove Host or Content-Length") {
    MessageHead head = request({{"Host", "app"},
                                {"X-Forwarded-For", "1.1.1.1"},
                                {"X-Forwarded-For", "2.2.2.2"},
                                {"Content-Length", "3"},
                                {"Connection", "Host, Content-Length"}},
                               "POST");
    UpstreamRequestContext ctx{.client_ip = "127.0.0.1", .request_id = "id", .default_host = "u:1",
                               .framing = Framing::content_length};
    std::string out = upstream_head(head, ctx);
    CHECK(has_line(out, "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 127.0.0.1"));
    CHECK(has_line(out, "Host: app"));
    CHECK(has_line(out, "Content-Length: 3"));
}

TEST_CASE("chunked re-framing, tunnels, and HTTP/1.0 without Host") {
    MessageHead head = request({{"Transfer-Encoding", "chunked"}}, "POST", 0);
    UpstreamRequestContext ctx{.client_ip = "127.0.0.1", .request_id = "id", .default_host = "127.0.0.1:8080",
                               .framing = Framing::chunked};
    std::string out = upstream_head(head, ctx);
    CHECK(has_line(out, "Host: 127.0.0.1:8080"));
    CHECK(has_line(out, "Transfer-Encoding: chunked"));

    MessageHead ws = request({{"Host", "a"}, {"Connection", "Upgrade"}, {"Upgrade", "websocket"}});
    UpstreamRequestContext tunnel{.client_ip = "127.0.0.1", .request_id = "id", .default_host = "x", .tunnel = true};
    std::string t = upstream_head(ws, tunnel);
    CHECK(has_line(t, "Upgrade: websocket"));
    CHECK(has_line(t, "Connection: upgrade"));
}

TEST_CASE("Connection names fields in any case, and close names one too") {
    MessageHead head = request({{"Host", "app"},
                                {"connection", "CLOSE, X-SECRET-HOP"},
                                {"x-secret-hop", "1"},
                                {"Close", "reserved"},
                                {"Accept", "*/*"}});
    UpstreamRequestContext ctx{.client_ip = "127.0.0.1", .request_id = "id", .default_host = "u:1"};
    std::string out = upstream_head(head, ctx);
    CHECK(out.find("x-secret-hop") == std::string::npos);
    CHECK(out.find("Close:") == std::string::npos);
    CHECK(out.find("connection:") == std::string::npos);
    CHECK(has_line(out, "Accept: */*"));
}

TEST_CASE("heads are appended after what the output buffer already holds") {
    MessageHead interim;
    interim.status = 103;
    interim.fields = {{"Link", "</s.css>; rel=preload"}};
    MessageHead final_head;
    final_head.status = 200;
    final_head.fields = {{"Content-Length", "2"}};
    std::string out = "pending body bytes";
    append_client_response_head(out, interim, ClientResponseContext{.interim = true});
    append_client_response_head(out, final_head,
                                ClientResponseContext{.request_id = "r", .framing = Framing::content_length,
                                                      .keep_alive = true});
    CHECK(out == "pending body bytes"
                 "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Request-Id: r\r\n\r\n");

    std::string request_out = "previous";
    append_upstream_request_head(request_out, request({{"Host", "a"}}),
                                 UpstreamRequestContext{.client_ip = "127.0.0.1", .request_id = "i",
                                                        .default_host = "a"});
    CHECK(request_out.rfind("previousGET /p?q=1 HTTP/1.1\r\nHost: a\r\n", 0) == 0);
}

TEST_CASE("request ids from clients are kept only when sane") {
    CHECK(valid_request_id("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
    CHECK(valid_request_id("Root=1-abc:def/ghi+j="));
    CHECK_FALSE(valid_request_id(""));
    CHECK_FALSE(valid_request_id("has space"));
    CHECK_FALSE(valid_request_id("quote\"inside"));
    CHECK_FALSE(valid_request_id(std::string(201, 'a')));
}

TEST_CASE("client responses: trigger header stripped, request id echoed, framing rebuilt") {
    MessageHead head;
    head.status = 200;
    head.reason = "OK";
    head.fields = {{"Content-Type", "text/plain"},
                   {"Transfer-Encoding", "chunked"},
                   {"afterhook-trigger", "purge;key=1"},
                   {"Connection", "close"}};
    ClientResponseContext ctx{.request_id = "rid", .trigger_header = "afterhook-trigger",
                              .framing = Framing::chunked, .keep_alive = true};
    std::string out = client_head(head, ctx);
    CHECK(out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(out.find("afterhook-trigger") == std::string::npos);
    CHECK(has_line(out, "X-Request-Id: rid"));
    CHECK(has_line(out, "Transfer-Encoding: chunked"));
    CHECK(out.find("Connection:") == std::string::npos);

    ClientResponseContext closing{.request_id = "rid", .framing = Framing::close_delimited, .keep_alive = false};
    std::string c = client_head(head, closing);
    CHECK(has_line(c, "Connection: close"));
    CHECK(c.find("Transfer-Encoding") == std::string::npos);
}

TEST_CASE("204 loses Content-Length, HEAD and 304 keep it") {
    MessageHead head;
    head.status = 204;
    head.fields = {{"Content-Length", "5"}};
    ClientResponseContext ctx{.request_id = "r", .framing = Framing::none, .keep_alive = true};
    CHECK(client_head(head, ctx).find("Content-Length") == std::string::npos);
    head.status = 304;
    CHECK(client_head(head, ctx).find("Content-Length: 5") != std::string::npos);
}

TEST_CASE("error responses close the connection and carry the request id") {
    std::string out = build_error_response(431, "rid");
    CHECK(out.rfind("HTTP/1.1 431 Request Header Fields Too Large\r\n", 0) == 0);
    CHECK(has_line(out, "Connection: close"));
    CHECK(has_line(out, "X-Request-Id: rid"));
    CHECK(out.find("\r\n\r\nRequest Header Fields Too Large\n") != std::string::npos);
}

TEST_CASE("trailers lose framing and routing fields") {
    std::string out = build_trailer_section({{"X-Checksum", "1"}, {"Content-Length", "9"}, {"Host", "h"}});
    CHECK(out == "X-Checksum: 1\r\n");
}
