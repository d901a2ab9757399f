#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "hooks/timestamp.h"

using namespace std::chrono;
using afterhook::hooks::append_timestamp;

namespace {
std::string stamp(system_clock::time_point time) {
    std::string out;
    append_timestamp(out, time);
    return out;
}
}  // namespace

TEST_CASE("timestamp: RFC 3339 UTC with milliseconds") {
    CHECK(stamp(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
    CHECK(stamp(sys_days{2026y / November / 22} + 12h + 40min + 5s + 123ms) == "2026-11-22T12:40:05.123Z");
    CHECK(stamp(sys_days{2024y / February / 29} + 23h + 59min + 59s + 999ms) == "2024-02-29T23:59:59.999Z");
}

TEST_CASE("timestamp: sub-millisecond parts are floored, also before 1970") {
    CHECK(stamp(sys_days{2026y / January / 1} + 1ms + 999us) == "2026-01-01T00:00:00.001Z");
    CHECK(stamp(system_clock::time_point{} - 1us) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("timestamp: appends to what is already there") {
    std::string out = "t=";
    append_timestamp(out, system_clock::time_point{});
    CHECK(out == "t=1970-01-01T00:00:00.000Z");
}

// The calendar part is kept per second: times in any order, within one
// second and across seconds, days and years, still come out right.
TEST_CASE("timestamp: times in any order across seconds, days and years") {
    const auto base = sys_days{2026y / December / 31} + 23h + 59min + 59s;
    CHECK(stamp(base + 1ms) == "2026-12-31T23:59:59.001Z");
    CHECK(stamp(base + 998ms) == "2026-12-31T23:59:59.998Z");
    CHECK(stamp(base + 1000ms) == "2027-01-01T00:00:00.000Z");
    CHECK(stamp(base + 5ms) == "2026-12-31T23:59:59.005Z");
    CHECK(stamp(base + 1001ms) == "2027-01-01T00:00:00.001Z");
    CHECK(stamp(base - 24h) == "2026-12-30T23:59:59.000Z");
    CHECK(stamp(base + 1999ms) == "2027-01-01T00:00:00.999Z");
}
