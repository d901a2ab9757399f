#include "proxy/http_message.h"

namespace afterhook::proxy {

namespace {
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view trim_ows(std::string_view text) {
    auto is_ows = [](char c) { return c == ' ' || c == '\t'; };
    while (!text.empty() && is_ows(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_ows(text.back())) text.remove_suffix(1);
    return text;
}

std::string to_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = lower(c);
    return out;
}

void MessageHead::clear() {
    // A message with many fields does not pin their storage on a connection
    // that goes idle after it.
    constexpr size_t kept_fields = 32;
    method.clear();
    target.clear();
    status = 0;
    reason.clear();
    version_major = 1;
    version_minor = 1;
    if (fields.capacity() > kept_fields) std::vector<HeaderField>().swap(fields);
    else fields.clear();
    chunked = false;
    content_length.reset();
    upgrade = false;
    keep_alive = false;
}

const HeaderField* MessageHead::find(std::string_view name) const {
    for (const auto& field : fields)
        if (iequals(field.name, name)) return &field;
    return nullptr;
}

size_t MessageHead::count(std::string_view name) const {
    size_t n = 0;
    for (const auto& field : fields)
        if (iequals(field.name, name)) ++n;
    return n;
}

}  // namespace afterhook::proxy
