#include <doctest/doctest.h>

#include <set>
#include <string>

#include "config/config.h"
#include "hooks/filter.h"
#include "hooks/glob.h"
#include "hooks/record.h"

using afterhook::config::When;
using afterhook::hooks::Filter;
using afterhook::hooks::Glob;
using afterhook::hooks::Outcome;
using afterhook::hooks::Record;
using afterhook::hooks::sample_point;

namespace {

Record exchange(std::string method, std::string path, int status, Outcome outcome = Outcome::ok,
                std::string id = "req-1") {
    Record r;
    r.id = std::move(id);
    r.method = std::move(method);
    r.path = std::move(path);
    r.status = status;
    r.outcome = outcome;
    return r;
}

std::string uuid_like(int n) {
    // Request ids as afterhook generates them look random; sequential ids
    // are the harder case for the hash, so both are used below.
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%08x-4b1d-9e7c-%012d", static_cast<unsigned>(n) * 2654435761u, n);
    return buffer;
}

}  // namespace

TEST_CASE("glob: a double star matches any number of segments, none included") {
    Glob glob("/api/**");
    CHECK(glob.matches("/api"));
    CHECK(glob.matches("/api/"));
    CHECK(glob.matches("/api/x"));
    CHECK(glob.matches("/api/x/y"));
    CHECK(glob.matches("/api/x/y/z.json"));
    CHECK_FALSE(glob.matches("/apix"));
    CHECK_FALSE(glob.matches("/ap"));
    CHECK_FALSE(glob.matches("/v1/api/x"));
    CHECK_FALSE(glob.matches("/"));
}

TEST_CASE("glob: a single star matches one segment and never a '/'") {
    Glob glob("/api/*");
    CHECK(glob.matches("/api/x"));
    CHECK(glob.matches("/api/orders-42"));
    CHECK_FALSE(glob.matches("/api/x/y"));
    CHECK_FALSE(glob.matches("/api"));
    CHECK_FALSE(glob.matches("/other/x"));
    CHECK(Glob("/files/*.json").matches("/files/a.json"));
    CHECK_FALSE(Glob("/files/*.json").matches("/files/a.json/b"));
    CHECK_FALSE(Glob("/files/*.json").matches("/files/a.jsonx"));
    CHECK(Glob("/u/*/orders/*").matches("/u/7/orders/9"));
    CHECK_FALSE(Glob("/u/*/orders/*").matches("/u/7/x/orders/9"));
    CHECK(Glob("/a*b*c").matches("/abc"));
    CHECK(Glob("/a*b*c").matches("/aXbYbZc"));
    CHECK_FALSE(Glob("/a*b*c").matches("/aXbYbZ"));
}

TEST_CASE("glob: a double star in the middle and at the start") {
    Glob middle("/a/**/z");
    CHECK(middle.matches("/a/z"));
    CHECK(middle.matches("/a/b/z"));
    CHECK(middle.matches("/a/b/c/d/z"));
    CHECK_FALSE(middle.matches("/a/b/c/d/zz"));
    CHECK_FALSE(middle.matches("/a/z/b"));
    CHECK(Glob("/**/*.png").matches("/img/a/b.png"));
    CHECK(Glob("/**/*.png").matches("/b.png"));
    CHECK_FALSE(Glob("/**/*.png").matches("/img/b.png/x"));
    CHECK(Glob("/**").matches("/"));
    CHECK(Glob("/**").matches("/anything/at/all"));
    CHECK(Glob("**").matches("/anything"));
    CHECK(Glob("/a/**/b/**/c").matches("/a/x/b/y/b/c"));
    CHECK_FALSE(Glob("/a/**/b/**/c").matches("/a/x/c/y/b"));
}

TEST_CASE("glob: everything else is literal") {
    CHECK(Glob("/health").matches("/health"));
    CHECK_FALSE(Glob("/health").matches("/health/"));
    CHECK_FALSE(Glob("/health").matches("/Health"));
    CHECK(Glob("/a?b").matches("/a?b"));
    CHECK_FALSE(Glob("/a?b").matches("/axb"));
    CHECK(Glob("/a.b").matches("/a.b"));
    CHECK_FALSE(Glob("/a.b").matches("/axb"));
    CHECK(Glob("/").matches("/"));
    CHECK_FALSE(Glob("/").matches("/x"));
}

TEST_CASE("filter: an empty when matches every record") {
    Filter filter{When{}};
    CHECK(filter.matches(exchange("GET", "/", 200)));
    CHECK(filter.matches(exchange("DELETE", "/x/y", 499, Outcome::client_abort)));
}

TEST_CASE("filter: methods are matched exactly") {
    When when;
    when.methods = {"POST", "PUT"};
    Filter filter(when);
    CHECK(filter.matches(exchange("POST", "/", 200)));
    CHECK(filter.matches(exchange("PUT", "/", 200)));
    CHECK_FALSE(filter.matches(exchange("GET", "/", 200)));
    CHECK_FALSE(filter.matches(exchange("post", "/", 200)));
}

TEST_CASE("filter: paths match when any glob does, against the path without the query") {
    When when;
    when.paths = {"/api/**", "/health"};
    Filter filter(when);
    CHECK(filter.matches(exchange("GET", "/api/orders/1", 200)));
    CHECK(filter.matches(exchange("GET", "/health", 200)));
    CHECK_FALSE(filter.matches(exchange("GET", "/static/app.js", 200)));
}

TEST_CASE("filter: status codes and classes") {
    When when;
    when.status = {{500, 599}, {404, 404}};  // "5xx", 404
    Filter filter(when);
    CHECK(filter.matches(exchange("GET", "/", 500)));
    CHECK(filter.matches(exchange("GET", "/", 503)));
    CHECK(filter.matches(exchange("GET", "/", 599)));
    CHECK(filter.matches(exchange("GET", "/", 404)));
    CHECK_FALSE(filter.matches(exchange("GET", "/", 405)));
    CHECK_FALSE(filter.matches(exchange("GET", "/", 200)));
    CHECK_FALSE(filter.matches(exchange("GET", "/", 499)));
}

TEST_CASE("filter: outcomes by name") {
    When when;
    when.outcomes = {"upstream_error", "client_abort"};
    Filter filter(when);
    CHECK(filter.matches(exchange("GET", "/", 502, Outcome::upstream_error)));
    CHECK(filter.matches(exchange("GET", "/", 499, Outcome::client_abort)));
    CHECK_FALSE(filter.matches(exchange("GET", "/", 200, Outcome::ok)));
    CHECK_FALSE(filter.matches(exchange("GET", "/", 504, Outcome::upstream_timeout)));
    CHECK_FALSE(filter.matches(exchange("GET", "/", 400, Outcome::rejected)));
}

TEST_CASE("filter: every condition given must hold") {
    When when;
    when.methods = {"POST"};
    when.paths = {"/api/**"};
    when.status = {{500, 599}};
    Filter filter(when);
    CHECK(filter.matches(exchange("POST", "/api/x", 502)));
    CHECK_FALSE(filter.matches(exchange("GET", "/api/x", 502)));
    CHECK_FALSE(filter.matches(exchange("POST", "/web/x", 502)));
    CHECK_FALSE(filter.matches(exchange("POST", "/api/x", 201)));
}

TEST_CASE("filter: sample 1 takes every request, 0 none") {
    When all;
    all.sample = 1.0;
    When none;
    none.sample = 0.0;
    for (int i = 0; i < 1000; ++i) {
        const Record r = exchange("GET", "/", 200, Outcome::ok, uuid_like(i));
        CHECK(Filter(all).matches(r));
        CHECK_FALSE(Filter(none).matches(r));
    }
}

TEST_CASE("filter: sample 0.5 over 1,000 requests takes 400 to 600, the same ones for every hook") {
    When half;
    half.sample = 0.5;
    When half_of_gets;
    half_of_gets.sample = 0.5;
    half_of_gets.methods = {"GET"};
    const Filter first(half);
    const Filter second(half_of_gets);
    for (const bool sequential : {false, true}) {
        CAPTURE(sequential);
        std::set<std::string> picked_by_first;
        std::set<std::string> picked_by_second;
        for (int i = 0; i < 1000; ++i) {
            const std::string id = sequential ? "req-" + std::to_string(i) : uuid_like(i);
            const Record r = exchange("GET", "/", 200, Outcome::ok, id);
            if (first.matches(r)) picked_by_first.insert(id);
            if (second.matches(r)) picked_by_second.insert(id);
        }
        CHECK(picked_by_first.size() >= 400);
        CHECK(picked_by_first.size() <= 600);
        CHECK(picked_by_first == picked_by_second);
    }
}

TEST_CASE("filter: a lower rate picks a subset of what a higher rate picks") {
    When low;
    low.sample = 0.1;
    When high;
    high.sample = 0.3;
    int low_count = 0;
    for (int i = 0; i < 2000; ++i) {
        const Record r = exchange("GET", "/", 200, Outcome::ok, uuid_like(i));
        if (Filter(low).matches(r)) {
            ++low_count;
            CHECK(Filter(high).matches(r));
        }
    }
    CHECK(low_count > 100);
    CHECK(low_count < 300);
}

TEST_CASE("filter: the sample point is fixed for an id and at least 0 and below 1") {
    CHECK(sample_point("req-1") == sample_point("req-1"));
    CHECK(sample_point("req-1") != sample_point("req-2"));
    for (int i = 0; i < 10000; ++i) {
        const double point = sample_point(std::to_string(i));
        REQUIRE(point >= 0.0);
        REQUIRE(point < 1.0);
    }
    // Fixed across builds and processes (replicas of afterhook sample the
    // same requests): the hash is part of the contract.
    CHECK(sample_point("req-1") == doctest::Approx(0.25682938140636868).epsilon(1e-12));
}
