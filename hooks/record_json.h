// The record as one JSON line: the log sink's format. Keys, their order and
// the rules for optional keys are fixed in docs (OpenTelemetry attribute
// names); see the comments in record_json.cc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "hooks/record.h"

namespace afterhook::hooks {

// Appends `record` to `out` as one JSON object followed by '\n'. Strings are
// escaped (quotes, backslashes and control characters) and any byte sequence
// that is not valid UTF-8 is replaced by U+FFFD, so the line is always valid
// JSON whatever the client sent. Never throws beyond std::string growth.
void append_json_line(std::string& out, const Record& record);

// At least as many bytes as append_json_line() adds for `record`: it reserves
// this much (the escaped worst case) and writes without further checks.
size_t json_line_bound(const Record& record);

// The same, as a new string.
std::string to_json_line(const Record& record);

// Appends `text` as a quoted JSON string with the escaping described above.
void append_json_string(std::string& out, std::string_view text);

// Appends a duration in milliseconds with three decimals, rounded as
// std::to_chars rounds (the exact value, ties to even): "12.346". NaN and
// infinities, which have no JSON number form, are written as null. The JSON
// line and the {{duration_ms}} and {{upstream_ms}} placeholders both write
// durations this way.
void append_milliseconds(std::string& out, double value);

}  // namespace afterhook::hooks
