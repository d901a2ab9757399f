#include "hooks/record_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "hooks/timestamp.h"

namespace afterhook::hooks {

namespace {

constexpr std::string_view replacement_character = "\xEF\xBF\xBD";  // U+FFFD

// True for bytes that can be copied into a JSON string as they are: printable
// ASCII other than '"' and '\\'. Everything else takes the slow path.
constexpr bool is_plain(unsigned char byte) { return byte >= 0x20 && byte < 0x80 && byte != '"' && byte != '\\'; }

void append_control_escape(std::string& out, unsigned char byte) {
    switch (byte) {
    case '"': out.append("\\\""); return;
    case '\\': out.append("\\\\"); return;
    case '\b': out.append("\\b"); return;
    case '\f': out.append("\\f"); return;
    case '\n': out.append("\\n"); return;
    case '\r': out.append("\\r"); return;
    case '\t': out.append("\\t"); return;
    default: break;
    }
    constexpr char hex[] = "0123456789abcdef";
    const char escape[] = {'\\', 'u', '0', '0', hex[byte >> 4], hex[byte & 0xF]};
    out.append(escape, sizeof escape);
}

// Length of the well-formed UTF-8 sequence starting at text[0] (a byte >=
// 0x80), or 0 when it is not one. Follows RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF. `invalid_length` receives how many bytes
// the ill-formed prefix spans, so that each maximal ill-formed subpart becomes
// one U+FFFD (the Unicode "substitution of maximal subparts" practice).
size_t utf8_sequence_length(std::string_view text, size_t& invalid_length) {
    const auto lead = static_cast<unsigned char>(text[0]);
    size_t length = 0;
    unsigned char second_low = 0x80;
    unsigned char second_high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) second_low = 0xA0;   // overlong
        if (lead == 0xED) second_high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) second_low = 0x90;   // overlong
        if (lead == 0xF4) second_high = 0x8F;  // above U+10FFFF
    } else {
        invalid_length = 1;
        return 0;
    }
    for (size_t i = 1; i < length; ++i) {
        const unsigned char low = i == 1 ? second_low : 0x80;
        const unsigned char high = i == 1 ? second_high : 0xBF;
        if (i >= text.size() || static_cast<unsigned char>(text[i]) < low ||
            static_cast<unsigned char>(text[i]) > high) {
            invalid_length = i;
            return 0;
        }
    }
    return length;
}

void append_escaped(std::string& out, std::string_view text);

void append_key(std::string& out, std::string_view key, bool& first) {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    out.append(key);
    out.append("\":");
}

// Keys built from configured names ("http.request.header.<name>") go through
// the escaper, since a name is data, not a constant.
void append_prefixed_key(std::string& out, std::string_view prefix, std::string_view name, bool& first) {
    if (!first) out.push_back(',');
    first = false;
    out.push_back('"');
    append_escaped(out, prefix);
    append_escaped(out, name);
    out.append("\":");
}

void append_unsigned(std::string& out, uint64_t value) {
    char digits[24];
    auto result = std::to_chars(digits, digits + sizeof digits, value);
    out.append(digits, result.ptr);
}

void append_signed(std::string& out, int64_t value) {
    char digits[24];
    auto result = std::to_chars(digits, digits + sizeof digits, value);
    out.append(digits, result.ptr);
}

// Milliseconds with three decimals. NaN and infinities have no JSON number
// form; they are written as null rather than breaking the line.
void append_milliseconds(std::string& out, double value) {
    if (!std::isfinite(value)) {
        out.append("null");
        return;
    }
    char digits[400];  // enough for the longest finite double in fixed notation
    auto result = std::to_chars(digits, digits + sizeof digits, value, std::chars_format::fixed, 3);
    if (result.ec != std::errc{}) {
        out.append("null");
        return;
    }
    out.append(digits, result.ptr);
}

void append_string_field(std::string& out, std::string_view key, std::string_view value, bool& first) {
    append_key(out, key, first);
    append_json_string(out, value);
}

void append_fields(std::string& out, std::string_view prefix, const std::vector<Field>& fields, bool& first,
                   std::string_view skip = {}) {
    for (const auto& [name, value] : fields) {
        if (!skip.empty() && name == skip) continue;
        append_prefixed_key(out, prefix, name, first);
        append_json_string(out, value);
    }
}

// Appends the escaped form of `text` without the surrounding quotes.
void append_escaped(std::string& out, std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        const size_t run_start = i;
        while (i < text.size() && is_plain(static_cast<unsigned char>(text[i]))) ++i;
        out.append(text.data() + run_start, i - run_start);
        if (i == text.size()) break;

        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x80) {
            append_control_escape(out, byte);
            ++i;
            continue;
        }
        size_t invalid_length = 0;
        const size_t length = utf8_sequence_length(text.substr(i), invalid_length);
        if (length == 0) {
            out.append(replacement_character);
            i += invalid_length;
        } else {
            out.append(text.data() + i, length);
            i += length;
        }
    }
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
    out.push_back('"');
    append_escaped(out, text);
    out.push_back('"');
}

// Key order and presence follow the record's JSON line format: optional keys
// ("afterhook.error", "url.query", "user_agent.original",
// "afterhook.upstream_ms", "afterhook.trigger") are omitted, not written empty.
void append_json_line(std::string& out, const Record& record) {
    bool first = true;
    out.push_back('{');

    append_key(out, "time", first);
    out.push_back('"');
    append_timestamp(out, record.start_time);
    out.push_back('"');
    append_string_field(out, "afterhook.request.id", record.id, first);
    append_string_field(out, "afterhook.outcome", to_string(record.outcome), first);
    if (!record.error.empty()) append_string_field(out, "afterhook.error", record.error, first);
    append_string_field(out, "http.request.method", record.method, first);
    append_string_field(out, "url.path", record.path, first);
    if (!record.query.empty()) append_string_field(out, "url.query", record.query, first);
    append_string_field(out, "url.scheme", record.scheme, first);
    append_string_field(out, "server.address", record.host, first);
    append_string_field(out, "network.protocol.version", record.protocol_version, first);
    append_string_field(out, "client.address", record.client_ip, first);
    append_key(out, "client.port", first);
    append_unsigned(out, record.client_port);
    append_key(out, "http.response.status_code", first);
    append_signed(out, record.status);

    // The user agent has its own OpenTelemetry attribute; every other
    // captured request header keeps the generic header form.
    constexpr std::string_view user_agent = "user-agent";
    for (const auto& [name, value] : record.request_headers) {
        if (name == user_agent) append_string_field(out, "user_agent.original", value, first);
    }
    append_fields(out, "http.request.header.", record.request_headers, first, user_agent);
    append_fields(out, "afterhook.request.cookie.", record.cookies, first);
    append_fields(out, "http.response.header.", record.response_headers, first);

    append_key(out, "http.request.body.size", first);
    append_unsigned(out, record.request_body_bytes);
    append_key(out, "http.response.body.size", first);
    append_unsigned(out, record.response_body_bytes);
    append_key(out, "afterhook.bytes_in", first);
    append_unsigned(out, record.bytes_in);
    append_key(out, "afterhook.bytes_out", first);
    append_unsigned(out, record.bytes_out);
    append_key(out, "afterhook.duration_ms", first);
    append_milliseconds(out, record.duration_ms);
    if (!(record.upstream_ms < 0)) {
        append_key(out, "afterhook.upstream_ms", first);
        append_milliseconds(out, record.upstream_ms);
    }
    if (!record.trigger.empty()) append_string_field(out, "afterhook.trigger", record.trigger, first);

    out.append("}\n");
}

std::string to_json_line(const Record& record) {
    std::string line;
    line.reserve(512);
    append_json_line(line, record);
    return line;
}

}  // namespace afterhook::hooks
