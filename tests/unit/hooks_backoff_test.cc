#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>

#include "config/config.h"
#include "hooks/backoff.h"

using namespace std::chrono_literals;
using afterhook::config::Retry;
using afterhook::hooks::Backoff;

TEST_CASE("backoff: the cap doubles from the base up to max_backoff") {
    Backoff backoff(Retry{10, 200ms, 1500ms}, 1);
    CHECK(backoff.cap(1) == 200ms);
    CHECK(backoff.cap(2) == 400ms);
    CHECK(backoff.cap(3) == 800ms);
    CHECK(backoff.cap(4) == 1500ms);
    CHECK(backoff.cap(5) == 1500ms);
    CHECK(backoff.cap(1000000) == 1500ms);  // no overflow however many attempts
    CHECK(Backoff(Retry{3, 5s, 1s}, 1).cap(1) == 1s);  // a base above the maximum is capped too
}

TEST_CASE("backoff: full jitter draws uniformly from zero to the cap") {
    Backoff backoff(Retry{5, 100ms, 30s}, 2);
    constexpr int draws = 20000;
    int64_t sum = 0;
    int64_t lowest = 1000;
    int64_t highest = 0;
    int quarters[4] = {0, 0, 0, 0};
    for (int i = 0; i < draws; ++i) {
        const auto delay = backoff.delay(3, std::nullopt).count();  // cap 400 ms
        REQUIRE(delay >= 0);
        REQUIRE(delay <= 400);
        sum += delay;
        lowest = std::min(lowest, delay);
        highest = std::max(highest, delay);
        ++quarters[std::min<int64_t>(delay / 100, 3)];
    }
    CHECK(lowest <= 5);
    CHECK(highest >= 395);
    CHECK(static_cast<double>(sum) / draws == doctest::Approx(200).epsilon(0.05));
    for (const int quarter : quarters) CHECK(quarter > draws / 5);
}

TEST_CASE("backoff: a Retry-After is a floor, above max_backoff too, up to an hour") {
    Backoff backoff(Retry{5, 10ms, 100ms}, 3);
    for (int i = 0; i < 1000; ++i) {
        const auto delay = backoff.delay(1, 2s);
        REQUIRE(delay == 2s);  // the jitter (at most 10 ms) never exceeds it
    }
    for (int i = 0; i < 1000; ++i) {
        const auto delay = backoff.delay(4, 50ms);  // cap 80 ms
        REQUIRE(delay >= 50ms);
        REQUIRE(delay <= 80ms);
    }
    CHECK(backoff.delay(1, 0ms) <= 10ms);
    CHECK(backoff.delay(1, std::chrono::hours(48)) == std::chrono::hours(1));
    CHECK(backoff.delay(1, -5s) <= 10ms);
}

TEST_CASE("backoff: the same seed gives the same delays") {
    Backoff a(Retry{5, 100ms, 30s}, 99);
    Backoff b(Retry{5, 100ms, 30s}, 99);
    for (unsigned attempt = 1; attempt < 5; ++attempt) {
        CHECK(a.delay(attempt, std::nullopt) == b.delay(attempt, std::nullopt));
    }
}
