// Timestamps as hook payloads and diagnostics write them: RFC 3339, UTC,
// millisecond precision ("2026-11-22T12:40:00.123Z").
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace afterhook::hooks {

// Appends `time` to `out`. Never throws beyond std::string growth and never
// consults the locale or the time zone database.
void append_timestamp(std::string& out, std::chrono::system_clock::time_point time);

// The most bytes write_timestamp() writes: 24 for any year 0..9999, a few more
// for the signed five-digit years a year_month_day can hold.
constexpr size_t max_timestamp_length = 32;

// Writes `time` at `out`, which has room for max_timestamp_length bytes, and
// returns the end of what it wrote. For writers that reserved their space.
char* write_timestamp(char* out, std::chrono::system_clock::time_point time);

}  // namespace afterhook::hooks
