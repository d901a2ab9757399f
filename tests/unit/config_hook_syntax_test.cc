// The value rules of hook settings, on their own.
#include <doctest/doctest.h>

#include <string>

#include "config/hook_syntax.h"
#include "config/template.h"

using namespace afterhook::config;

namespace {

Template compiled(const std::string& source) {
    Template t;
    std::string error;
    REQUIRE_MESSAGE(compile_template(source, Capture{}, t, error), error);
    return t;
}

}  // namespace

TEST_CASE("status filters: codes 100..599 and classes 1xx..5xx") {
    CHECK(parse_status_filter("100")->low == 100);
    CHECK(parse_status_filter("599")->high == 599);
    CHECK(parse_status_filter("4xx")->low == 400);
    CHECK(parse_status_filter("4XX")->high == 499);
    for (const char* bad : {"", "99", "600", "099", "6xx", "x00", "5x0", "50x", "5xX0", "1000", " 404", "404 "}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_status_filter(bad).has_value());
    }
}

TEST_CASE("path patterns: absolute, no query, a double star as a whole segment") {
    for (const char* good : {"/", "/api", "/api/", "/api/*", "/api/**", "/**", "/*/x/**/y", "/a-b_c.d~e%20",
                             "/files/*.json", "/a*b*c"}) {
        CAPTURE(good);
        CHECK(path_pattern_problem(good).empty());
    }
    CHECK(path_pattern_problem("") == "must start with '/'");
    CHECK(path_pattern_problem("api") == "must start with '/'");
    CHECK(path_pattern_problem("/a#b") == "matches the path only; leave out '?' and '#'");
    CHECK(path_pattern_problem("/a\tb") == "must not contain spaces or control characters");
    for (const char* bad : {"/a**", "/**a", "/***", "/a/**b", "/x/**.png"}) {
        CAPTURE(bad);
        CHECK(path_pattern_problem(bad) ==
              "'**' (any number of segments) stands for a whole segment between '/'; '*' matches within one");
    }
}

TEST_CASE("sample rates are decimal numbers from 0 to 1") {
    double out = -1;
    CHECK(parse_sample("0", out));
    CHECK(out == 0.0);
    CHECK(parse_sample(".5", out));
    CHECK(out == 0.5);
    CHECK(parse_sample("1e-2", out));
    CHECK(out == 0.01);
    CHECK(parse_sample("1.000", out));
    CHECK(out == 1.0);
    out = 0.3;
    for (const char* bad : {"", "-0", "+0.5", "1.0001", "2", "nan", "inf", "0x1", "0.5 ", "1/2", "5%"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_sample(bad, out));
    }
    CHECK(out == 0.3);
}

TEST_CASE("booleans as YAML 1.2 writes them") {
    CHECK(parse_bool("true") == true);
    CHECK(parse_bool("TRUE") == true);
    CHECK(parse_bool("False") == false);
    for (const char* bad : {"yes", "no", "on", "1", "0", "tRue", ""}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_bool(bad).has_value());
    }
}

TEST_CASE("JSON numbers exactly as RFC 8259 writes them") {
    for (const char* good : {"0", "-0", "42", "-1.5", "1e3", "1E+3", "2.5e-10", "123456789012345678901234567890"}) {
        CAPTURE(good);
        CHECK(is_json_number(good));
    }
    for (const char* bad : {"", "-", "01", "+1", ".5", "5.", "1e", "0x1F", "1_000", "NaN", ".inf", "1.2.3", " 1"}) {
        CAPTURE(bad);
        CHECK_FALSE(is_json_number(bad));
    }
}

TEST_CASE("HTTP tokens and upper-casing") {
    CHECK(is_http_token("X-Event"));
    CHECK(is_http_token("PURGE"));
    CHECK(is_http_token("a!#$%&'*+-.^_`|~9"));
    for (const char* bad : {"", "a b", "a:b", "a\"b", "a/b", "é"}) {
        CAPTURE(bad);
        CHECK_FALSE(is_http_token(bad));
    }
    CHECK(to_upper("Purge-it_1") == "PURGE-IT_1");
}

TEST_CASE("webhook URLs start with a literal http:// or https:// and a host") {
    CHECK(url_problem(compiled("http://a")).empty());
    CHECK(url_problem(compiled("HTTPS://a/{{request.id}}")).empty());
    CHECK(url_problem(compiled("http://{{request.host}}/x")).empty());
    CHECK(url_problem(compiled("{{request.scheme}}://a")).starts_with("must start with http:// or https://"));
    CHECK(url_problem(compiled("")).starts_with("must start with http:// or https://"));
    CHECK(url_problem(compiled("http:/a")).starts_with("must start with http:// or https://"));
    CHECK(url_problem(compiled("file:///etc/passwd")).starts_with("must start with http:// or https://"));
    CHECK(url_problem(compiled("http://")) == "has no host after the scheme");
    CHECK(url_problem(compiled("http://a/\x7f")).starts_with("must not contain spaces"));
}

TEST_CASE("signing secrets: non-empty, and base64 of at least one byte after a whsec_ prefix") {
    for (const char* good : {"any shared secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_YWJjZA==",
                             "whsec_YWJjZA", "whsec_YWI=", "whsec_YWI", "whsec_YQ=="}) {
        CAPTURE(good);
        CHECK(signing_secret_problem(good).empty());
    }
    CHECK(signing_secret_problem("") == "must not be empty");
    for (const char* bad : {"whsec_", "whsec_Y", "whsec_ab=c", "whsec_YWJj*A==", "whsec_Y===", "whsec_YWJjZA===",
                            "whsec_YR==", "whsec_YWJ=", "whsec_YW=j", "whsec_YWJj ZA=="}) {
        CAPTURE(bad);
        CHECK(signing_secret_problem(bad) == "a secret starting with 'whsec_' must be base64 after the prefix");
    }
}
