// MessageHead: one parsed HTTP/1.x request or response head, owning its
// strings. Field names keep the case they arrived in; lookups ignore case.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afterhook::proxy {

struct HeaderField {
    std::string name;
    std::string value;  // optional whitespace around the value already removed
};

bool iequals(std::string_view a, std::string_view b);
// `text` without the optional whitespace (spaces and tabs, RFC 9110
// section 5.6.3) at either end.
std::string_view trim_ows(std::string_view text);
// Calls `fn` with each element of a comma-separated field value, without
// its optional whitespace; empty elements are skipped (RFC 9110 section
// 5.6.1).
template <typename Fn>
void for_each_list_element(std::string_view list, Fn&& fn) {
    size_t start = 0;
    while (start <= list.size()) {
        size_t comma = list.find(',', start);
        if (comma == std::string_view::npos) comma = list.size();
        const std::string_view element = trim_ows(list.substr(start, comma - start));
        if (!element.empty()) fn(element);
        start = comma + 1;
    }
}
std::string to_lower(std::string_view text);

struct MessageHead {
    std::string method;  // requests only
    std::string target;  // requests only
    int status = 0;      // responses only
    std::string reason;  // responses only
    int version_major = 1;
    int version_minor = 1;
    std::vector<HeaderField> fields;

    // Framing as the parser understood it.
    bool chunked = false;
    std::optional<uint64_t> content_length;
    bool upgrade = false;     // request: asks to upgrade; response: 101 accepted
    bool keep_alive = false;  // what the sender asked for (llhttp_should_keep_alive)

    // Back to a default-constructed head, keeping the storage of `fields`
    // (up to a bound) and of the strings (bounded by the header size limit)
    // for the next message on the same connection.
    void clear();

    const HeaderField* find(std::string_view name) const;  // first field with that name
    size_t count(std::string_view name) const;
    bool is_http10() const { return version_major == 1 && version_minor == 0; }
};

}  // namespace afterhook::proxy
