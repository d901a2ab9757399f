// Timestamps as hook payloads and diagnostics write them: RFC 3339, UTC,
// millisecond precision ("2026-11-22T12:40:00.123Z").
#pragma once

#include <chrono>
#include <string>

namespace afterhook::hooks {

// Appends `time` to `out`. Never throws beyond std::string growth and never
// consults the locale or the time zone database.
void append_timestamp(std::string& out, std::chrono::system_clock::time_point time);

}  // namespace afterhook::hooks
