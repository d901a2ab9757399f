// Built-in defaults, value rendering and the value parsers shared by the
// loader and the tests. Nothing here knows about YAML.
#include "config/config.h"

#include <arpa/inet.h>

#include <array>
#include <string_view>

namespace afterhook::config {

namespace {

constexpr std::string_view kHttpScheme = "http://";
constexpr uint16_t kHttpDefaultPort = 80;

// Reads a run of ASCII digits at the front of `text` into `out`, consuming
// them. Fails on no digits and on overflow, so callers never see a wrapped
// value.
bool take_digits(std::string_view& text, uint64_t& out, std::size_t& digit_count) {
    uint64_t value = 0;
    std::size_t count = 0;
    while (count < text.size() && text[count] >= '0' && text[count] <= '9') {
        const auto digit = static_cast<uint64_t>(text[count] - '0');
        if (__builtin_mul_overflow(value, uint64_t{10}, &value) ||
            __builtin_add_overflow(value, digit, &value)) {
            return false;
        }
        ++count;
    }
    if (count == 0) {
        return false;
    }
    text.remove_prefix(count);
    out = value;
    digit_count = count;
    return true;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

bool is_ipv4_literal(const std::string& host) {
    in_addr parsed{};
    return inet_pton(AF_INET, host.c_str(), &parsed) == 1;
}

bool is_ipv6_literal(const std::string& host) {
    in6_addr parsed{};
    return inet_pton(AF_INET6, host.c_str(), &parsed) == 1;
}

// A host name as resolvers accept it: dot-separated labels of letters,
// digits, '-' and '_' (service names in container networks use '_'), no
// label empty, longer than 63 bytes, or starting or ending with '-'. A name
// made only of digits and dots must be a valid IPv4 literal instead, so that
// "300.1.1.1" is refused rather than sent to the resolver.
bool is_host_name(std::string_view host) {
    if (host.empty() || host.size() > 253) {
        return false;
    }
    bool only_digits_and_dots = true;
    std::size_t label_length = 0;
    char previous = '.';
    for (char c : host) {
        const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const bool digit = c >= '0' && c <= '9';
        if (c == '.') {
            if (label_length == 0 || previous == '-') {
                return false;
            }
            label_length = 0;
        } else if (letter || digit || c == '-' || c == '_') {
            if (c == '-' && label_length == 0) {
                return false;
            }
            if (++label_length > 63) {
                return false;
            }
        } else {
            return false;
        }
        if (letter || c == '-' || c == '_') {
            only_digits_and_dots = false;
        }
        previous = c;
    }
    if (label_length == 0 || previous == '-') {
        return false;
    }
    return !only_digits_and_dots || is_ipv4_literal(std::string(host));
}

bool parse_port(std::string_view text, uint16_t& out) {
    uint64_t value = 0;
    std::size_t digits = 0;
    if (text.size() > 5 || !take_digits(text, value, digits) || !text.empty() || value > 65535) {
        return false;
    }
    out = static_cast<uint16_t>(value);
    return true;
}

}  // namespace

Config default_config() {
    Config config;
    config.source = "<defaults>";
    Hook access_log;
    access_log.name = "access-log";
    access_log.sink = LogSink{"stdout", {}};
    config.hooks.push_back(std::move(access_log));
    return config;
}

std::string Address::to_string() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    std::string text;
    if (ipv6) text.append("[").append(host).append("]");
    else text.append(host);
    return text.append(":").append(std::to_string(port));
}

// A problem without a position (an unreadable file) renders as "file: message";
// one without a key path (a YAML syntax error) leaves the key path out.
std::string ConfigError::to_string() const {
    std::string text = file;
    if (line > 0) {
        text.append(":").append(std::to_string(line)).append(":").append(std::to_string(column));
    }
    text += ": ";
    if (!key_path.empty()) {
        text.append(key_path).append(": ");
    }
    return text.append(message);
}

// A number with one unit: ms, s, m or h. A fraction is allowed when the
// result is a whole number of milliseconds ("1.5s", "0.25s"; not "0.5ms").
bool parse_duration(const std::string& text, Duration& out) {
    std::string_view rest = text;
    uint64_t whole = 0;
    std::size_t whole_digits = 0;
    if (!take_digits(rest, whole, whole_digits)) {
        return false;
    }
    uint64_t fraction = 0;
    std::size_t fraction_digits = 0;
    if (!rest.empty() && rest.front() == '.') {
        rest.remove_prefix(1);
        if (!take_digits(rest, fraction, fraction_digits) || fraction_digits > 9) {
            return false;
        }
    }
    struct Unit {
        std::string_view suffix;
        uint64_t milliseconds;
    };
    static constexpr std::array<Unit, 4> kUnits{{{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000}}};
    for (const Unit& unit : kUnits) {
        if (rest != unit.suffix) {
            continue;
        }
        uint64_t scale = 1;
        for (std::size_t i = 0; i < fraction_digits; ++i) {
            scale *= 10;
        }
        uint64_t whole_ms = 0;
        uint64_t fraction_scaled = 0;
        if (__builtin_mul_overflow(whole, unit.milliseconds, &whole_ms) ||
            __builtin_mul_overflow(fraction, unit.milliseconds, &fraction_scaled) ||
            fraction_scaled % scale != 0) {
            return false;
        }
        uint64_t total = 0;
        if (__builtin_add_overflow(whole_ms, fraction_scaled / scale, &total) ||
            total > static_cast<uint64_t>(Duration::max().count())) {
            return false;
        }
        out = Duration{static_cast<Duration::rep>(total)};
        return true;
    }
    return false;
}

// A whole number of bytes with an optional unit: KiB/MiB/GiB (powers of
// 1024) or KB/MB/GB (powers of 1000). Units are case-sensitive so that "mb"
// (millibits) is not silently taken for megabytes.
bool parse_size(const std::string& text, uint64_t& out) {
    std::string_view rest = text;
    uint64_t number = 0;
    std::size_t digits = 0;
    if (!take_digits(rest, number, digits)) {
        return false;
    }
    struct Unit {
        std::string_view suffix;
        uint64_t bytes;
    };
    static constexpr std::array<Unit, 7> kUnits{{{"", 1},
                                                 {"KiB", uint64_t{1} << 10},
                                                 {"MiB", uint64_t{1} << 20},
                                                 {"GiB", uint64_t{1} << 30},
                                                 {"KB", 1000},
                                                 {"MB", 1000 * 1000},
                                                 {"GB", 1000 * 1000 * 1000}}};
    for (const Unit& unit : kUnits) {
        uint64_t total = 0;
        if (rest == unit.suffix) {
            if (__builtin_mul_overflow(number, unit.bytes, &total)) {
                return false;
            }
            out = total;
            return true;
        }
    }
    return false;
}

// "host:port", "[v6]:port", or "http://host[:port][/]" (port 80 when the
// scheme is given without one). Hosts are IPv4/IPv6 literals or host names;
// an IPv6 literal must be bracketed so its colons are not read as the port.
bool parse_address(const std::string& text, Address& out) {
    std::string_view rest = text;
    bool has_scheme = false;
    if (rest.size() >= kHttpScheme.size() && equals_ignoring_case(rest.substr(0, kHttpScheme.size()), kHttpScheme)) {
        has_scheme = true;
        rest.remove_prefix(kHttpScheme.size());
        if (!rest.empty() && rest.back() == '/') {
            rest.remove_suffix(1);
        }
    }
    std::string host;
    std::string_view port_text;
    bool has_port = false;
    if (!rest.empty() && rest.front() == '[') {
        const std::size_t close = rest.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        host = std::string(rest.substr(1, close - 1));
        if (!is_ipv6_literal(host)) {
            return false;
        }
        rest.remove_prefix(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return false;
            }
            port_text = rest.substr(1);
            has_port = true;
        }
    } else {
        const std::size_t colon = rest.rfind(':');
        std::string_view host_text = rest.substr(0, colon);
        if (colon != std::string_view::npos) {
            port_text = rest.substr(colon + 1);
            has_port = true;
        }
        if (host_text.find(':') != std::string_view::npos || !is_host_name(host_text)) {
            return false;
        }
        host = std::string(host_text);
    }
    uint16_t port = kHttpDefaultPort;
    if (has_port ? !parse_port(port_text, port) : !has_scheme) {
        return false;
    }
    out.host = std::move(host);
    out.port = port;
    return true;
}

}  // namespace afterhook::config
