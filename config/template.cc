#include "config/template.h"

#include <array>
#include <string_view>
#include <utility>

namespace afterhook::config {

namespace {

using Kind = TemplatePart::Kind;

constexpr std::array<std::pair<std::string_view, Kind>, 16> kFields = {{
    {"request.id", Kind::request_id},
    {"request.method", Kind::request_method},
    {"request.path", Kind::request_path},
    {"request.query", Kind::request_query},
    {"request.target", Kind::request_target},
    {"request.scheme", Kind::request_scheme},
    {"request.host", Kind::request_host},
    {"client.ip", Kind::client_ip},
    {"client.port", Kind::client_port},
    {"response.status", Kind::response_status},
    {"response.bytes", Kind::response_bytes},
    {"outcome", Kind::outcome},
    {"duration_ms", Kind::duration_ms},
    {"upstream_ms", Kind::upstream_ms},
    {"time", Kind::time},
    {"hook", Kind::hook_name},
}};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool listed(const std::vector<std::string>& names, std::string_view name) {
    for (const auto& n : names)
        if (n == name) return true;
    return false;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
}

bool valid_name(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name)
        if (!is_name_char(c)) return false;
    return true;
}

// Resolves one placeholder's text ("request.header.user-agent") to a part.
bool resolve(std::string_view field, const Capture& capture, TemplatePart& part, std::string& error) {
    for (const auto& [name, kind] : kFields) {
        if (field == name) {
            part.kind = kind;
            return true;
        }
    }
    // Fields that take a name: headers and cookies must have been captured
    // (a hook never sees more than the record holds); trigger params are free.
    struct Named {
        std::string_view prefix;
        Kind kind;
        const std::vector<std::string>* captured;  // nullptr: any name
        const char* list_key;
        bool lower_case;
    };
    const Named named[] = {
        {"request.header.", Kind::request_header, &capture.headers, "capture.headers", true},
        {"request.cookie.", Kind::request_cookie, &capture.cookies, "capture.cookies", false},
        {"response.header.", Kind::response_header, &capture.response_headers, "capture.response_headers", true},
        {"trigger.", Kind::trigger_param, nullptr, "", false},
    };
    for (const Named& n : named) {
        if (field.substr(0, n.prefix.size()) != n.prefix) continue;
        std::string_view name = field.substr(n.prefix.size());
        if (!valid_name(name)) {
            error = "placeholder '{{" + std::string(field) + "}}' needs a name after '" + std::string(n.prefix) + "'";
            return false;
        }
        std::string stored = n.lower_case ? lower(name) : std::string(name);
        if (n.captured && !listed(*n.captured, stored)) {
            error = "placeholder '{{" + std::string(field) + "}}' uses '" + stored + "', which is not in " +
                    n.list_key + " (hooks see only captured values)";
            return false;
        }
        part.kind = n.kind;
        part.text = std::move(stored);
        return true;
    }
    error = "unknown placeholder '{{" + std::string(field) +
            "}}' (fields: request.{id,method,path,query,target,scheme,host}, request.header.NAME, "
            "request.cookie.NAME, client.{ip,port}, response.{status,bytes}, response.header.NAME, outcome, "
            "duration_ms, upstream_ms, time, trigger.PARAM, hook)";
    return false;
}

void add_literal(Template& out, std::string_view text) {
    if (text.empty()) return;
    if (!out.parts.empty() && out.parts.back().kind == Kind::literal) {
        out.parts.back().text.append(text);
        return;
    }
    out.parts.push_back({Kind::literal, std::string(text)});
}

}  // namespace

bool compile_template(const std::string& source, const Capture& capture, Template& out, std::string& error) {
    Template result;
    result.source = source;
    result.mark = out.mark;
    std::string_view rest = source;
    while (!rest.empty()) {
        size_t open = rest.find("{{");
        if (open == std::string_view::npos) {
            add_literal(result, rest);
            break;
        }
        add_literal(result, rest.substr(0, open));
        rest.remove_prefix(open);
        if (rest.substr(0, 4) == "{{{{") {  // escaped braces
            add_literal(result, "{{");
            rest.remove_prefix(4);
            continue;
        }
        size_t close = rest.find("}}");
        if (close == std::string_view::npos) {
            error = "unclosed placeholder: '{{' without '}}'";
            return false;
        }
        std::string_view field = trim(rest.substr(2, close - 2));
        TemplatePart part;
        if (!resolve(field, capture, part, error)) return false;
        result.parts.push_back(std::move(part));
        rest.remove_prefix(close + 2);
    }
    out = std::move(result);
    return true;
}

bool is_numeric_field(TemplatePart::Kind kind) {
    switch (kind) {
    case Kind::client_port:
    case Kind::response_status:
    case Kind::response_bytes:
    case Kind::duration_ms:
    case Kind::upstream_ms:
        return true;
    default:
        return false;
    }
}

}  // namespace afterhook::config
