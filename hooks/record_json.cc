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

// Every write goes to memory reserved beforehand for the worst case (see
// json_line_bound()), so a write is a plain copy with no capacity check: the
// cheap path the hook thread takes for every log line.
struct Cursor {
    char* at;

    void put(char c) { *at++ = c; }
    void put(std::string_view text) {
        std::memcpy(at, text.data(), text.size());
        at += text.size();
    }
};

// "\u001f": the most one input byte can become. An ill-formed byte becomes
// U+FFFD (3 bytes); a well-formed sequence is copied as it is.
constexpr size_t max_escape_expansion = 6;

void write_control_escape(Cursor& out, unsigned char byte) {
    switch (byte) {
    case '"': out.put("\\\""sv); return;
    case '\\': out.put("\\\\"sv); return;
    case '\b': out.put("\\b"sv); return;
    case '\f': out.put("\\f"sv); return;
    case '\n': out.put("\\n"sv); return;
    case '\r': out.put("\\r"sv); return;
    case '\t': out.put("\\t"sv); return;
    default: break;
    }
    constexpr char hex[] = "0123456789abcdef";
    const char escape[] = {'\\', 'u', '0', '0', hex[byte >> 4], hex[byte & 0xF]};
    out.put(std::string_view(escape, sizeof escape));
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

// Eight bytes at a time: true when none of them needs escaping or UTF-8
// checking, that is every byte is in 0x20..0x7F and none is '"' or '\\'.
// (Bit tricks from "Bit Twiddling Hacks": a byte below n, a zero byte.)
bool all_plain(uint64_t word) {
    constexpr uint64_t ones = 0x0101010101010101ULL;
    constexpr uint64_t highs = 0x8080808080808080ULL;
    const auto has_zero = [](uint64_t v) { return (v - ones) & ~v & highs; };
    const uint64_t below_space = (word - ones * 0x20) & ~word & highs;
    const uint64_t quote = has_zero(word ^ (ones * '"'));
    const uint64_t backslash = has_zero(word ^ (ones * '\\'));
    return ((word & highs) | below_space | quote | backslash) == 0;
}

// Writes the escaped form of `text` without the surrounding quotes: at most
// max_escape_expansion bytes per byte of `text`.
void write_escaped(Cursor& out, std::string_view text) {
    const char* bytes = text.data();
    const size_t size = text.size();
    size_t i = 0;
    while (i < size) {
        for (uint64_t word; i + 8 <= size; i += 8) {
            std::memcpy(&word, bytes + i, sizeof word);
            if (!all_plain(word)) break;
            std::memcpy(out.at, &word, sizeof word);
            out.at += sizeof word;
        }
        while (i < size && is_plain(static_cast<unsigned char>(bytes[i]))) out.put(bytes[i++]);
        if (i == size) break;

        const auto byte = static_cast<unsigned char>(bytes[i]);
        if (byte < 0x80) {
            write_control_escape(out, byte);
            ++i;
            continue;
        }
        size_t invalid_length = 0;
        const size_t length = utf8_sequence_length(text.substr(i), invalid_length);
        if (length == 0) {
            out.put(replacement_character);
            i += invalid_length;
        } else {
            out.put(text.substr(i, length));
            i += length;
        }
    }
}

void write_string(Cursor& out, std::string_view text) {
    out.put('"');
    write_escaped(out, text);
    out.put('"');
}

// `key` is the literal `,"name":`: every key but the first ("time") has
// the comma, and a literal goes in with one fixed-size copy.
void write_string_field(Cursor& out, std::string_view key, std::string_view value) {
    out.put(key);
    write_string(out, value);
}

constexpr size_t max_integer_length = 20;  // UINT64_MAX, or INT64_MIN with its sign

void write_unsigned(Cursor& out, uint64_t value) {
    out.at = std::to_chars(out.at, out.at + max_integer_length, value).ptr;
}

void write_signed(Cursor& out, int64_t value) {
    out.at = std::to_chars(out.at, out.at + max_integer_length, value).ptr;
}

// Milliseconds with three decimals. NaN and infinities have no JSON number
// form; they are written as null rather than breaking the line.
static_assert(std::numeric_limits<long double>::digits >= 64,
              "write_milliseconds needs a long double that holds a double times 1000 exactly");

// Durations are small and non-negative: for them whole microseconds are
// formatted directly, several times faster than to_chars in fixed notation
// and with the same digits.
bool has_fast_milliseconds(double value) { return !std::signbit(value) && value < 1e15; }

constexpr size_t fast_milliseconds_length = 24;  // "1000000000000000.000" (20) and then some
constexpr size_t max_milliseconds_length = 400;  // the longest finite double in fixed notation

size_t milliseconds_bound(double value) {
    return has_fast_milliseconds(value) ? fast_milliseconds_length : max_milliseconds_length;
}

void write_micros_as_milliseconds(Cursor& out, uint64_t micros) {
    write_unsigned(out, micros / 1000);
    const auto fraction = static_cast<unsigned>(micros % 1000);
    const char digits[] = {'.', static_cast<char>('0' + fraction / 100), static_cast<char>('0' + fraction / 10 % 10),
                           static_cast<char>('0' + fraction % 10)};
    out.put(std::string_view(digits, sizeof digits));
}

// The common case, in plain double arithmetic (the long double one below
// costs several times more). Below 2^32 microseconds (about 71 minutes) the
// double product is within 2^-22 of the exact one, so its fraction rounds
// the same way as the exact value's unless it lies within 2^-21 of a tie:
// those few, and larger values, take the exact way. False when it cannot
// decide.
bool round_in_double(double value, uint64_t& micros) {
    constexpr double limit = 4294967.0;  // milliseconds: times 1000 stays below 2^32
    constexpr double tie_margin = 0x1p-21;
    if (std::signbit(value) || !(value < limit)) return false;  // -0.0 too: to_chars writes its sign
    const double product = value * 1000.0;
    micros = static_cast<uint64_t>(product);  // floor: product >= 0
    const double fraction = product - static_cast<double>(micros);  // exact
    if (std::fabs(fraction - 0.5) <= tie_margin) return false;
    if (fraction > 0.5) ++micros;
    return true;
}

void write_milliseconds(Cursor& out, double value) {
    if (!std::isfinite(value)) {
        out.put("null"sv);
        return;
    }
    uint64_t micros = 0;
    if (round_in_double(value, micros)) {
        write_micros_as_milliseconds(out, micros);
        return;
    }
    // The product is exact in long double (53 + 10 bits fit its 64-bit
    // mantissa), and so is what is left after the whole microseconds:
    // rounding half to even on it is what to_chars does on the exact value.
    if (has_fast_milliseconds(value)) {
        const long double product = static_cast<long double>(value) * 1000.0L;
        micros = static_cast<uint64_t>(product);  // floor: product >= 0
        const long double rest = product - static_cast<long double>(micros);  // exact
        if (rest > 0.5L || (rest == 0.5L && (micros & 1) != 0)) ++micros;
        write_micros_as_milliseconds(out, micros);
        return;
    }
    auto result = std::to_chars(out.at, out.at + max_milliseconds_length, value, std::chars_format::fixed, 3);
    if (result.ec != std::errc{}) {
        out.put("null"sv);
        return;
    }
    out.at = result.ptr;
}

// Keys built from configured names ("http.request.header.<name>") go through
// the escaper, since a name is data, not a constant. Never the first key.
void write_fields(Cursor& out, std::string_view prefix, const std::vector<Field>& fields,
                  std::string_view skip = {}) {
    for (const auto& [name, value] : fields) {
        if (!skip.empty() && name == skip) continue;
        out.put(",\""sv);
        out.put(prefix);  // a literal from this file: plain ASCII, nothing to escape
        write_escaped(out, name);
        out.put("\":"sv);
        write_string(out, value);
    }
}

// Appends through a Cursor: `out` grows by `bound` bytes, `write` fills what
// it needs of them, and `out` is cut back to what was written.
template <typename Write>
void append_bounded(std::string& out, size_t bound, Write write) {
    const size_t begin = out.size();
    out.resize(begin + bound);
    Cursor cursor{out.data() + begin};
    write(cursor);
    out.resize(static_cast<size_t>(cursor.at - out.data()));
}

// The literal keys of a line with every optional key present, the quotes
// around its fixed string values, "{" and "}\n": under this many bytes (a
// unit test holds the line to its bound).
constexpr size_t literal_bytes = 640;
// Per configured field: `,"` prefix `":"` `"` around the name and value,
// with the longest prefix ("afterhook.request.cookie.", 25 bytes).
constexpr size_t field_overhead = 40;

size_t escaped_bound(std::string_view text) { return max_escape_expansion * text.size(); }

size_t fields_bound(const std::vector<Field>& fields) {
    size_t bound = 0;
    for (const auto& [name, value] : fields) {
        bound += field_overhead + max_escape_expansion * (name.size() + value.size());
    }
    return bound;
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
    append_bounded(out, 2 + escaped_bound(text), [&](Cursor& cursor) { write_string(cursor, text); });
}

void append_milliseconds(std::string& out, double value) {
    append_bounded(out, milliseconds_bound(value), [&](Cursor& cursor) { write_milliseconds(cursor, value); });
}

size_t json_line_bound(const Record& record) {
    const std::string_view strings[] = {record.id,   to_string(record.outcome), record.error,
                                        record.method, record.path, record.query, record.scheme, record.host,
                                        record.protocol_version, record.client_ip, record.trigger};
    size_t bound = literal_bytes + max_timestamp_length + 6 * max_integer_length +
                   milliseconds_bound(record.duration_ms) + milliseconds_bound(record.upstream_ms);
    for (std::string_view text : strings) bound += escaped_bound(text);
    return bound + fields_bound(record.request_headers) + fields_bound(record.cookies) +
           fields_bound(record.response_headers);
}

// Key order and presence follow the record's JSON line format: optional keys
// ("afterhook.error", "url.query", "user_agent.original",
// "afterhook.upstream_ms", "afterhook.trigger") are omitted, not written empty.
void append_json_line(std::string& out, const Record& record) {
    append_bounded(out, json_line_bound(record), [&](Cursor& line) {
        line.put("{\"time\":\""sv);
        line.at = write_timestamp(line.at, record.start_time);
        line.put('"');
        write_string_field(line, ",\"afterhook.request.id\":"sv, record.id);
        write_string_field(line, ",\"afterhook.outcome\":"sv, to_string(record.outcome));
        if (!record.error.empty()) write_string_field(line, ",\"afterhook.error\":"sv, record.error);
        write_string_field(line, ",\"http.request.method\":"sv, record.method);
        write_string_field(line, ",\"url.path\":"sv, record.path);
        if (!record.query.empty()) write_string_field(line, ",\"url.query\":"sv, record.query);
        write_string_field(line, ",\"url.scheme\":"sv, record.scheme);
        write_string_field(line, ",\"server.address\":"sv, record.host);
        write_string_field(line, ",\"network.protocol.version\":"sv, record.protocol_version);
        write_string_field(line, ",\"client.address\":"sv, record.client_ip);
        line.put(",\"client.port\":"sv);
        write_unsigned(line, record.client_port);
        line.put(",\"http.response.status_code\":"sv);
        write_signed(line, record.status);

        // The user agent has its own OpenTelemetry attribute; every other
        // captured request header keeps the generic header form.
        constexpr std::string_view user_agent = "user-agent";
        for (const auto& [name, value] : record.request_headers) {
            if (name == user_agent) write_string_field(line, ",\"user_agent.original\":"sv, value);
        }
        write_fields(line, "http.request.header.", record.request_headers, user_agent);
        write_fields(line, "afterhook.request.cookie.", record.cookies);
        write_fields(line, "http.response.header.", record.response_headers);

        line.put(",\"http.request.body.size\":"sv);
        write_unsigned(line, record.request_body_bytes);
        line.put(",\"http.response.body.size\":"sv);
        write_unsigned(line, record.response_body_bytes);
        line.put(",\"afterhook.bytes_in\":"sv);
        write_unsigned(line, record.bytes_in);
        line.put(",\"afterhook.bytes_out\":"sv);
        write_unsigned(line, record.bytes_out);
        line.put(",\"afterhook.duration_ms\":"sv);
        write_milliseconds(line, record.duration_ms);
        if (!(record.upstream_ms < 0)) {
            line.put(",\"afterhook.upstream_ms\":"sv);
            write_milliseconds(line, record.upstream_ms);
        }
        if (!record.trigger.empty()) write_string_field(line, ",\"afterhook.trigger\":"sv, record.trigger);

        line.put("}\n"sv);
    });
}

std::string to_json_line(const Record& record) {
    std::string line;
    append_json_line(line, record);
    return line;
}

}  // namespace afterhook::hooks
