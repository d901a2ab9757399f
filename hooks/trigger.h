// Trigger: the app's request for hooks, named in an upstream response header
// (config `trigger_header`, "afterhook-trigger" by default):
//
//     afterhook-trigger: purge-cache;key=/p/42, notify;user=7;note="a, \"b\""
//
// A comma-separated list of calls. Each call is a hook name followed by
// `;key=value` params. Names and keys are tokens (RFC 9110 tchar). A value is
// either bare (any visible characters except ',', ';' and '"') or a quoted
// string in which '\' escapes the next character. Spaces and tabs around
// names, keys, '=' and values are ignored, and empty list elements are
// skipped. A malformed call (a missing or bad name, a param without '=', an
// unterminated quote, text after a quoted value) is skipped up to the next
// comma outside quotes and counted; the calls around it still count.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "hooks/delivery.h"

namespace afterhook::hooks {

struct TriggerCall {
    std::string name;
    TriggerParams params;  // in header order; a repeated key keeps every value
};

struct ParsedTrigger {
    std::vector<TriggerCall> calls;  // in header order; a name given twice is there twice
    size_t malformed = 0;            // calls skipped
};

ParsedTrigger parse_trigger(std::string_view header);

}  // namespace afterhook::hooks
