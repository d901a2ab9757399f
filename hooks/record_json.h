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

}  // namespace afterhook::hooks
