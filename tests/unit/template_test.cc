// Templates: compiled once from config text, rendered per event.
#include <doctest/doctest.h>

#include <charconv>
#include <chrono>
#include <limits>

#include "config/template.h"
#include "hooks/record_json.h"
#include "hooks/template_render.h"

using afterhook::config::Capture;
using afterhook::config::JsonTemplate;
using afterhook::config::Template;
using afterhook::config::compile_template;
using afterhook::hooks::Record;
using afterhook::hooks::RenderContext;
using afterhook::hooks::TriggerParams;

namespace {

Template compile(const std::string& source, const Capture& capture = {}) {
    Template t;
    std::string error;
    REQUIRE_MESSAGE(compile_template(source, capture, t, error), error);
    return t;
}

std::string compile_error(const std::string& source, const Capture& capture = {}) {
    Template t;
    std::string error;
    CHECK_FALSE(compile_template(source, capture, t, error));
    return error;
}

Record sample_record() {
    Record r;
    r.id = "req-1";
    r.method = "POST";
    r.path = "/api/orders";
    r.query = "a=1";
    r.target = "/api/orders?a=1";
    r.host = "shop.example";
    r.client_ip = "10.0.0.7";
    r.client_port = 4242;
    r.status = 503;
    r.response_body_bytes = 17;
    r.duration_ms = 12.3456;
    r.upstream_ms = -1;
    r.outcome = afterhook::hooks::Outcome::upstream_error;
    r.request_headers = {{"user-agent", "curl/8 \"quoted\""}};
    r.response_headers = {{"content-type", "text/plain"}};
    r.cookies = {{"session-id", "abc"}};
    r.start_time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
    return r;
}

}  // namespace

TEST_CASE("every field renders from the record, the trigger and the hook") {
    Capture capture;
    capture.cookies = {"session-id"};
    Record r = sample_record();
    TriggerParams trigger = {{"key", "/p/42"}};
    RenderContext ctx{r, trigger, "notify"};
    auto render = [&](const std::string& source) { return afterhook::hooks::render_text(compile(source, capture), ctx); };
    CHECK(render("{{request.method}} {{request.path}} → {{response.status}} ({{duration_ms}} ms)") ==
          "POST /api/orders → 503 (12.346 ms)");
    CHECK(render("{{ request.id }}|{{request.query}}|{{request.target}}|{{request.host}}|{{request.scheme}}") ==
          "req-1|a=1|/api/orders?a=1|shop.example|http");
    CHECK(render("{{client.ip}}:{{client.port}} {{response.bytes}} {{outcome}} {{hook}}") ==
          "10.0.0.7:4242 17 upstream_error notify");
    CHECK(render("{{request.header.User-Agent}}") == "curl/8 \"quoted\"");
    CHECK(render("{{response.header.content-type}} {{request.cookie.session-id}}") == "text/plain abc");
    CHECK(render("key={{trigger.key}} missing=[{{trigger.nope}}] up=[{{upstream_ms}}]") ==
          "key=/p/42 missing=[] up=[]");
    CHECK(render("{{time}}") == "2023-11-14T22:13:20.123Z");
    CHECK(render("literal {{{{ braces") == "literal {{ braces");
}

TEST_CASE("compile errors name the placeholder") {
    CHECK(compile_error("{{request.nope}}").find("unknown placeholder '{{request.nope}}'") != std::string::npos);
    CHECK(compile_error("{{request.header.x-secret}}").find("not in capture.headers") != std::string::npos);
    CHECK(compile_error("{{request.cookie.sid}}").find("not in capture.cookies") != std::string::npos);
    CHECK(compile_error("{{response.header.etag}}").find("not in capture.response_headers") != std::string::npos);
    CHECK(compile_error("{{trigger.}}").find("needs a name") != std::string::npos);
    CHECK(compile_error("open {{request.id").find("unclosed") != std::string::npos);
}

TEST_CASE("JSON bodies escape every string and keep numbers numeric") {
    Record r = sample_record();
    r.path = "/a\"b\\c\n\x01";
    TriggerParams none;
    RenderContext ctx{r, none, "h"};
    JsonTemplate body;
    body.kind = JsonTemplate::Kind::object;
    JsonTemplate text;
    text.kind = JsonTemplate::Kind::string;
    text.text = compile("{{request.method}} {{request.path}}");
    JsonTemplate status;
    status.kind = JsonTemplate::Kind::string;
    status.text = compile("{{response.status}}");
    JsonTemplate upstream;
    upstream.kind = JsonTemplate::Kind::string;
    upstream.text = compile("{{upstream_ms}}");
    JsonTemplate flag;
    flag.kind = JsonTemplate::Kind::boolean;
    flag.literal = "true";
    JsonTemplate list;
    list.kind = JsonTemplate::Kind::array;
    list.items = {flag, JsonTemplate{}};
    body.members = {{"text", text}, {"status", status}, {"upstream", upstream}, {"list", list}};
    std::string out;
    afterhook::hooks::render_json(body, ctx, out);
    CHECK(out == "{\"text\":\"POST /a\\\"b\\\\c\\n\\u0001\",\"status\":503,\"upstream\":null,\"list\":[true,null]}");
}

// {{duration_ms}} and {{upstream_ms}} are written as the JSON line writes
// durations, with the digits to_chars gives, and a value with no JSON number
// form cannot break a JSON body.
TEST_CASE("durations render with the JSON line's digits, and a non-finite one as null") {
    Record r = sample_record();
    TriggerParams none;
    RenderContext ctx{r, none, "h"};
    const Template text = compile("{{duration_ms}}|{{upstream_ms}}");
    for (const double value : {0.0, -0.0, 0.0005, 0.0015, 2.5, 12.3456, 999.9995, 4294966.9995, 1e15, 1e16, 2e300}) {
        r.duration_ms = r.upstream_ms = value;
        char digits[400];
        const std::string expected(digits, std::to_chars(digits, digits + sizeof digits, value,
                                                         std::chars_format::fixed, 3).ptr);
        const std::string line = afterhook::hooks::to_json_line(r);
        INFO("value ", value, " line ", line);
        CHECK(line.find("\"afterhook.duration_ms\":" + expected + ",") != std::string::npos);
        CHECK(afterhook::hooks::render_text(text, ctx) == expected + "|" + expected);
    }

    JsonTemplate duration;
    duration.kind = JsonTemplate::Kind::string;
    duration.text = compile("{{duration_ms}}");
    JsonTemplate body;
    body.kind = JsonTemplate::Kind::object;
    body.members = {{"d", duration}};
    for (const double value : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
        r.duration_ms = value;
        std::string out;
        afterhook::hooks::render_json(body, ctx, out);
        CHECK(out == "{\"d\":null}");
    }
}

TEST_CASE("invalid UTF-8 from a client never breaks the JSON") {
    Record r = sample_record();
    r.path = std::string("/\xff\xfe");
    TriggerParams none;
    RenderContext ctx{r, none, "h"};
    JsonTemplate s;
    s.kind = JsonTemplate::Kind::string;
    s.text = compile("{{request.path}}");
    std::string out;
    afterhook::hooks::render_json(s, ctx, out);
    CHECK(out == "\"/\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST_CASE("URLs percent-encode placeholder values, never the literal text") {
    Record r = sample_record();
    TriggerParams trigger = {{"key", "/p/42?x=1&y=2 #frag"}, {"name", "caf\xc3\xa9"}};
    RenderContext ctx{r, trigger, "purge"};
    CHECK(afterhook::hooks::render_url(compile("http://cache.internal/purge?key={{trigger.key}}&n={{trigger.name}}"), ctx) ==
          "http://cache.internal/purge?key=/p/42%3Fx%3D1%26y%3D2%20%23frag&n=caf%C3%A9");
}
