#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "hooks/trigger.h"

using afterhook::hooks::parse_trigger;
using afterhook::hooks::ParsedTrigger;
using afterhook::hooks::TriggerParams;

namespace {

std::vector<std::string> names(const ParsedTrigger& parsed) {
    std::vector<std::string> out;
    for (const auto& call : parsed.calls) out.push_back(call.name);
    return out;
}

}  // namespace

TEST_CASE("trigger: the documented example") {
    const auto parsed = parse_trigger("purge-cache;key=/p/42, notify;user=7");
    CHECK(parsed.malformed == 0);
    REQUIRE(parsed.calls.size() == 2);
    CHECK(parsed.calls[0].name == "purge-cache");
    CHECK(parsed.calls[0].params == TriggerParams{{"key", "/p/42"}});
    CHECK(parsed.calls[1].name == "notify");
    CHECK(parsed.calls[1].params == TriggerParams{{"user", "7"}});
}

TEST_CASE("trigger: names alone, several params, and a name given twice") {
    const auto parsed = parse_trigger("a, b;x=1;y=2;x=3, a;x=9");
    CHECK(parsed.malformed == 0);
    CHECK(names(parsed) == std::vector<std::string>{"a", "b", "a"});
    CHECK(parsed.calls[0].params.empty());
    CHECK(parsed.calls[1].params == TriggerParams{{"x", "1"}, {"y", "2"}, {"x", "3"}});
    CHECK(parsed.calls[2].params == TriggerParams{{"x", "9"}});
}

TEST_CASE("trigger: whitespace around tokens is ignored") {
    const auto parsed = parse_trigger(" \t purge-cache ; key = /p/42 ;\tmode= soft ,notify ");
    CHECK(parsed.malformed == 0);
    REQUIRE(parsed.calls.size() == 2);
    CHECK(parsed.calls[0].params == TriggerParams{{"key", "/p/42"}, {"mode", "soft"}});
    CHECK(parsed.calls[1].name == "notify");
}

TEST_CASE("trigger: quoted values hold separators, spaces and escapes") {
    const auto parsed = parse_trigger(R"(notify;msg="a, b; c";q="say \"hi\" \\o/";e="", next)");
    CHECK(parsed.malformed == 0);
    REQUIRE(parsed.calls.size() == 2);
    CHECK(parsed.calls[0].params ==
          TriggerParams{{"msg", "a, b; c"}, {"q", R"(say "hi" \o/)"}, {"e", ""}});
    CHECK(parsed.calls[1].name == "next");
}

TEST_CASE("trigger: an empty bare value is the empty string - other bytes pass through") {
    const auto parsed = parse_trigger("a;k=;v=/caf\xc3\xa9?x=1&y=%20");
    CHECK(parsed.malformed == 0);
    REQUIRE(parsed.calls.size() == 1);
    CHECK(parsed.calls[0].params == TriggerParams{{"k", ""}, {"v", "/caf\xc3\xa9?x=1&y=%20"}});
}

TEST_CASE("trigger: empty elements are skipped without counting") {
    CHECK(parse_trigger("").calls.empty());
    CHECK(parse_trigger("   ").calls.empty());
    const auto parsed = parse_trigger(",a,, ,b,");
    CHECK(parsed.malformed == 0);
    CHECK(names(parsed) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("trigger: malformed calls are skipped and counted, the others still count") {
    struct Case {
        const char* header;
        std::vector<std::string> names;
        size_t malformed;
    };
    const Case cases[] = {
        {";key=1, ok", {"ok"}, 1},                       // no name
        {"a;key, ok", {"ok"}, 1},                        // a param without '='
        {"a;=v, ok", {"ok"}, 1},                         // a param without a key
        {"a/b, ok", {"ok"}, 1},                          // '/' is not a token character
        {"a b, ok", {"ok"}, 1},                          // two words
        {"ok, a;k=\"open", {"ok"}, 1},                   // an unterminated quote
        {"a;k=\"v\"x, ok", {"ok"}, 1},                   // text after a quoted value
        {"a;k=x\"y\", ok", {"ok"}, 1},                   // a quote inside a bare value
        {"a;k=\"x, y\"z, ok", {"ok"}, 1},                // skipping stays outside the quotes
        {"a;k=\"v\x01\", ok", {"ok"}, 1},                // a control character in a quoted value
        {"a;k=\"\\", {}, 1},                             // an escape at the very end
        {"a;;k=v, ok", {"ok"}, 1},                       // an empty param
        {"a;k=v;, ok", {"ok"}, 1},                       // a trailing ';'
        {"\"quoted\", ok", {"ok"}, 1},                   // a quoted name
        {"x;k=1 2, y;k=\"1 2\"", {"y"}, 1},              // a space inside a bare value
        {"bad/1, bad/2, ok", {"ok"}, 2},
    };
    for (const Case& c : cases) {
        CAPTURE(c.header);
        const auto parsed = parse_trigger(c.header);
        CHECK(names(parsed) == c.names);
        CHECK(parsed.malformed == c.malformed);
    }
}
