#include "config/hook_syntax.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

namespace afterhook::config {

namespace {

constexpr std::string_view kWhsecPrefix = "whsec_";

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_control_or_space(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7f;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        const char c = text[i];
        const char lower = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        if (lower != prefix[i]) {
            return false;
        }
    }
    return true;
}

// Skips a run of digits; returns how many there were.
std::size_t skip_digits(std::string_view text, std::size_t& at) {
    const std::size_t start = at;
    while (at < text.size() && is_digit(text[at])) {
        ++at;
    }
    return at - start;
}

int sextet(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (is_digit(c)) return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Standard base64 that decodes to at least one byte, by the same rules as
// the webhook sink's decoder (hooks/signature.h): padding may be left out
// but, when given, ends a complete group; the bits after the last whole
// byte are zero, so each byte string has exactly one spelling.
bool is_nonempty_base64(std::string_view text) {
    std::size_t padding = 0;
    if (!text.empty() && text.size() % 4 == 0) {
        padding = text.back() == '=' ? (text[text.size() - 2] == '=' ? 2 : 1) : 0;
        if (padding == 0 && text[text.size() - 2] == '=') {
            return false;
        }
    }
    text.remove_suffix(padding);
    if (text.empty() || text.size() % 4 == 1) {
        return false;
    }
    if (!std::all_of(text.begin(), text.end(), [](char c) { return sextet(c) >= 0; })) {
        return false;
    }
    const int last = sextet(text.back());
    switch (text.size() % 4) {
        case 2:
            return (last & 0x0f) == 0;
        case 3:
            return (last & 0x03) == 0;
        default:
            return true;
    }
}

}  // namespace

bool is_http_token(std::string_view text) {
    static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
    if (text.empty()) {
        return false;
    }
    return std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
               kSymbols.find(c) != std::string_view::npos;
    });
}

std::string to_upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'a' && c <= 'z') {
            c = static_cast<char>(c - 'a' + 'A');
        }
    }
    return out;
}

std::optional<StatusRange> parse_status_filter(std::string_view text) {
    if (text.size() != 3 || text[0] < '1' || text[0] > '5') {
        return std::nullopt;
    }
    const int hundreds = (text[0] - '0') * 100;
    const bool class_x = (text[1] == 'x' || text[1] == 'X') && (text[2] == 'x' || text[2] == 'X');
    if (class_x) {
        return StatusRange{hundreds, hundreds + 99};
    }
    if (!is_digit(text[1]) || !is_digit(text[2])) {
        return std::nullopt;
    }
    const int code = hundreds + (text[1] - '0') * 10 + (text[2] - '0');
    return StatusRange{code, code};
}

std::string path_pattern_problem(std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/') {
        return "must start with '/'";
    }
    if (std::any_of(pattern.begin(), pattern.end(), is_control_or_space)) {
        return "must not contain spaces or control characters";
    }
    if (pattern.find_first_of("?#") != std::string_view::npos) {
        return "matches the path only; leave out '?' and '#'";
    }
    std::size_t start = 1;
    while (start <= pattern.size()) {
        std::size_t end = pattern.find('/', start);
        if (end == std::string_view::npos) {
            end = pattern.size();
        }
        const std::string_view segment = pattern.substr(start, end - start);
        if (segment.find("**") != std::string_view::npos && segment != "**") {
            return "'**' (any number of segments) stands for a whole segment between '/'; '*' matches within one";
        }
        start = end + 1;
    }
    return "";
}

bool parse_sample(std::string_view text, double& out) {
    if (text.empty() || !(is_digit(text.front()) || text.front() == '.')) {
        return false;  // no sign, no "nan" or "inf"
    }
    double value = 0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value, std::chars_format::general);
    if (error != std::errc{} || stop != end || !std::isfinite(value) || value < 0.0 || value > 1.0) {
        return false;
    }
    out = value;
    return true;
}

std::optional<bool> parse_bool(std::string_view text) {
    if (text == "true" || text == "True" || text == "TRUE") {
        return true;
    }
    if (text == "false" || text == "False" || text == "FALSE") {
        return false;
    }
    return std::nullopt;
}

bool is_json_number(std::string_view text) {
    std::size_t at = 0;
    if (at < text.size() && text[at] == '-') {
        ++at;
    }
    if (at < text.size() && text[at] == '0') {
        ++at;  // a leading zero stands alone
    } else if (skip_digits(text, at) == 0) {
        return false;
    }
    if (at < text.size() && text[at] == '.') {
        ++at;
        if (skip_digits(text, at) == 0) {
            return false;
        }
    }
    if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
        ++at;
        if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
            ++at;
        }
        if (skip_digits(text, at) == 0) {
            return false;
        }
    }
    return at == text.size();
}

std::string url_problem(const Template& url) {
    const bool literal_first = !url.parts.empty() && url.parts.front().kind == TemplatePart::Kind::literal;
    const std::string_view head = literal_first ? std::string_view(url.parts.front().text) : std::string_view();
    std::size_t scheme_length = 0;
    if (starts_with_ignoring_case(head, "http://")) {
        scheme_length = 7;
    } else if (starts_with_ignoring_case(head, "https://")) {
        scheme_length = 8;
    } else {
        return "must start with http:// or https:// written out (the scheme cannot come from a placeholder)";
    }
    if (head.size() == scheme_length && url.parts.size() == 1) {
        return "has no host after the scheme";
    }
    for (const TemplatePart& part : url.parts) {
        if (part.kind == TemplatePart::Kind::literal &&
            std::any_of(part.text.begin(), part.text.end(), is_control_or_space)) {
            return "must not contain spaces or control characters (percent-encode them)";
        }
    }
    return "";
}

std::string signing_secret_problem(std::string_view secret) {
    if (secret.empty()) {
        return "must not be empty";
    }
    if (secret.starts_with(kWhsecPrefix) && !is_nonempty_base64(secret.substr(kWhsecPrefix.size()))) {
        return "a secret starting with 'whsec_' must be base64 after the prefix";
    }
    return "";
}

}  // namespace afterhook::config
