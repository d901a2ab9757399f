#include "config/env_substitution.h"

#include <cstdlib>

namespace afterhook::config {

namespace {

constexpr std::string_view kOpen = "${";
constexpr std::string_view kEscapedOpen = "$${";
constexpr std::string_view kDefaultSeparator = ":-";

bool is_name_start(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool is_name_char(char c) {
    return is_name_start(c) || (c >= '0' && c <= '9');
}

bool is_variable_name(std::string_view name) {
    if (name.empty() || !is_name_start(name.front())) {
        return false;
    }
    for (char c : name) {
        if (!is_name_char(c)) {
            return false;
        }
    }
    return true;
}

// Resolves the inside of one "${...}" reference and appends the result.
void resolve_reference(std::string_view body, const EnvLookup& lookup, EnvSubstitution& result) {
    const std::size_t separator = body.find(kDefaultSeparator);
    const std::string_view name = body.substr(0, separator);
    if (!is_variable_name(name)) {
        result.errors.push_back("malformed environment reference (expected ${NAME} or ${NAME:-default})");
        return;
    }
    const std::optional<std::string> value = lookup(std::string(name));
    if (separator == std::string_view::npos) {
        if (!value) {
            result.errors.push_back("environment variable '" + std::string(name) + "' is not set");
            return;
        }
        result.text += *value;
        return;
    }
    const std::string_view fallback = body.substr(separator + kDefaultSeparator.size());
    if (fallback.find(kOpen) != std::string_view::npos) {
        result.errors.push_back("nested environment references are not supported");
        return;
    }
    if (value && !value->empty()) {
        result.text += *value;
    } else {
        result.text += fallback;
    }
}

}  // namespace

EnvSubstitution substitute_env(std::string_view raw, const EnvLookup& lookup) {
    EnvSubstitution result;
    std::size_t position = 0;
    while (position < raw.size()) {
        const std::string_view rest = raw.substr(position);
        if (rest.substr(0, kEscapedOpen.size()) == kEscapedOpen) {
            result.text += kOpen;
            position += kEscapedOpen.size();
            continue;
        }
        if (rest.substr(0, kOpen.size()) != kOpen) {
            result.text += rest.front();
            ++position;
            continue;
        }
        const std::size_t close = rest.find('}');
        if (close == std::string_view::npos) {
            result.errors.push_back("unterminated environment reference (missing '}')");
            return result;
        }
        resolve_reference(rest.substr(kOpen.size(), close - kOpen.size()), lookup, result);
        position += close + 1;
    }
    return result;
}

EnvSubstitution substitute_env(std::string_view raw) {
    return substitute_env(raw, [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) {
            return std::nullopt;
        }
        return std::string(value);
    });
}

bool mentions_env(std::string_view raw) {
    return raw.find(kOpen) != std::string_view::npos;
}

}  // namespace afterhook::config
