#include "hooks/record_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "hooks/timestamp.h"

namespace afterhook::hooks {

using namespace std::string_view_literals;

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

// Keys built from configured names ("http.request.header.<name>") go through
// the escaper, since a name is data, not a constant. Never the first key.
void append_prefixed_key(std::string& out, std::string_view prefix, std::string_view name) {
    out.append(",\""sv);
    append_escaped(out, prefix);
    append_escaped(out, name);
    out.append("\":"sv);
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
static_assert(std::numeric_limits<long double>::digits >= 64,
              "append_milliseconds needs a long double that holds a double times 1000 exactly");

void append_milliseconds(std::string& out, double value) {
    if (!std::isfinite(value)) {
        out.append("null");
        return;
    }
    // Durations are small and non-negative: format whole microseconds
    // directly, which is several times faster than to_chars in fixed
    // notation and gives the same digits. The product is exact in long
    // double (53 + 10 bits fit its 64-bit mantissa), and so is what is left
    // after the whole microseconds: rounding half to even on it is what
    // to_chars does on the exact value.
    if (value >= 0 && value < 1e15) {
        const long double product = static_cast<long double>(value) * 1000.0L;
        auto micros = static_cast<uint64_t>(product);  // floor: product >= 0
        const long double rest = product - static_cast<long double>(micros);  // exact
        if (rest > 0.5L || (rest == 0.5L && (micros & 1) != 0)) ++micros;
        append_unsigned(out, micros / 1000);
        const auto fraction = static_cast<unsigned>(micros % 1000);
        const char digits[] = {'.', static_cast<char>('0' + fraction / 100), static_cast<char>('0' + fraction / 10 % 10),
                               static_cast<char>('0' + fraction % 10)};
        out.append(digits, sizeof digits);
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

// `key` is the literal `,"name":`: every key but the first ("time") has
// the comma, and a literal goes in with one fixed-size copy.
void append_string_field(std::string& out, std::string_view key, std::string_view value) {
    out.append(key);
    append_json_string(out, value);
}

void append_fields(std::string& out, std::string_view prefix, const std::vector<Field>& fields,
                   std::string_view skip = {}) {
    for (const auto& [name, value] : fields) {
        if (!skip.empty() && name == skip) continue;
        append_prefixed_key(out, prefix, name);
        append_json_string(out, value);
    }
}

// Eight bytes at a time: true when none of them needs escaping or UTF-8
// checking, that is every byte is in 0x20..0x7F and none is '"' or '\\'.
// (Bit tricks from "Bit Twiddling Hacks": a byte below n, a zero byte.)
bool all_plain(const char* bytes) {
    constexpr uint64_t ones = 0x0101010101010101ULL;
    constexpr uint64_t highs = 0x8080808080808080ULL;
    uint64_t word;
    std::memcpy(&word, bytes, sizeof word);
    const auto has_zero = [](uint64_t v) { return (v - ones) & ~v & highs; };
    const uint64_t below_space = (word - ones * 0x20) & ~word & highs;
    const uint64_t quote = has_zero(word ^ (ones * '"'));
    const uint64_t backslash = has_zero(word ^ (ones * '\\'));
    return ((word & highs) | below_space | quote | backslash) == 0;
}

// Appends the escaped form of `text` without the surrounding quotes.
void append_escaped(std::string& out, std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        const size_t run_start = i;
        while (i + 8 <= text.size() && all_plain(text.data() + i)) i += 8;
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
    out.append("{\"time\":\""sv);
    append_timestamp(out, record.start_time);
    out.push_back('"');
    append_string_field(out, ",\"afterhook.request.id\":"sv, record.id);
    append_string_field(out, ",\"afterhook.outcome\":"sv, to_string(record.outcome));
    if (!record.error.empty()) append_string_field(out, ",\"afterhook.error\":"sv, record.error);
    append_string_field(out, ",\"http.request.method\":"sv, record.method);
    append_string_field(out, ",\"url.path\":"sv, record.path);
    if (!record.query.empty()) append_string_field(out, ",\"url.query\":"sv, record.query);
    append_string_field(out, ",\"url.scheme\":"sv, record.scheme);
    append_string_field(out, ",\"server.address\":"sv, record.host);
    append_string_field(out, ",\"network.protocol.version\":"sv, record.protocol_version);
    append_string_field(out, ",\"client.address\":"sv, record.client_ip);
    out.append(",\"client.port\":"sv);
    append_unsigned(out, record.client_port);
    out.append(",\"http.response.status_code\":"sv);
    append_signed(out, record.status);

    // The user agent has its own OpenTelemetry attribute; every other
    // captured request header keeps the generic header form.
    constexpr std::string_view user_agent = "user-agent";
    for (const auto& [name, value] : record.request_headers) {
        if (name == user_agent) append_string_field(out, ",\"user_agent.original\":"sv, value);
    }
    append_fields(out, "http.request.header.", record.request_headers, user_agent);
    append_fields(out, "afterhook.request.cookie.", record.cookies);
    append_fields(out, "http.response.header.", record.response_headers);

    out.append(",\"http.request.body.size\":"sv);
    append_unsigned(out, record.request_body_bytes);
    out.append(",\"http.response.body.size\":"sv);
    append_unsigned(out, record.response_body_bytes);
    out.append(",\"afterhook.bytes_in\":"sv);
    append_unsigned(out, record.bytes_in);
    out.append(",\"afterhook.bytes_out\":"sv);
    append_unsigned(out, record.bytes_out);
    out.append(",\"afterhook.duration_ms\":"sv);
    append_milliseconds(out, record.duration_ms);
    if (!(record.upstream_ms < 0)) {
        out.append(",\"afterhook.upstream_ms\":"sv);
        append_milliseconds(out, record.upstream_ms);
    }
    if (!record.trigger.empty()) append_string_field(out, ",\"afterhook.trigger\":"sv, record.trigger);

    out.append("}\n"sv);
}

std::string to_json_line(const Record& record) {
    std::string line;
    line.reserve(512);
    append_json_line(line, record);
    return line;
}

}  // namespace afterhook::hooks
