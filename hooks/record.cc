#include "hooks/record.h"

namespace afterhook::hooks {

std::string_view to_string(Outcome outcome) {
    switch (outcome) {
    case Outcome::ok: return "ok";
    case Outcome::upstream_error: return "upstream_error";
    case Outcome::upstream_timeout: return "upstream_timeout";
    case Outcome::rejected: return "rejected";
    case Outcome::client_abort: return "client_abort";
    }
    // Only reachable with a value cast from outside the enumeration.
    return "unknown";
}

}  // namespace afterhook::hooks
