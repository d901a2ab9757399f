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

namespace {

// Storage kept for the next exchange: what an ordinary request needs. An
// exchange with a huge target or many captured fields does not leave every
// later one holding that much.
constexpr size_t kept_string_capacity = 256;
constexpr size_t kept_field_count = 16;

void clear_string(std::string& text) {
    if (text.capacity() > kept_string_capacity) std::string().swap(text);
    else text.clear();
}

void clear_fields(std::vector<Field>& fields) {
    if (fields.capacity() > kept_field_count) std::vector<Field>().swap(fields);
    else fields.clear();
}

}  // namespace

void Record::reset() {
    clear_string(id);
    start_time = {};
    clear_string(method);
    clear_string(target);
    clear_string(path);
    clear_string(query);
    scheme = "http";
    clear_string(host);
    clear_string(protocol_version);
    clear_string(client_ip);
    client_port = 0;
    clear_fields(request_headers);
    clear_fields(cookies);
    status = 0;
    outcome = Outcome::ok;
    clear_string(error);
    clear_fields(response_headers);
    clear_string(trigger);
    request_body_bytes = 0;
    response_body_bytes = 0;
    bytes_in = 0;
    bytes_out = 0;
    duration_ms = 0;
    upstream_ms = -1;
    config.reset();
}

}  // namespace afterhook::hooks
