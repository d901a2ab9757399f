#include "hooks/template_render.h"

#include "config/template.h"
#include "hooks/record_json.h"
#include "hooks/timestamp.h"

namespace afterhook::hooks {

namespace {

using Kind = config::TemplatePart::Kind;

const std::string* find_field(const std::vector<Field>& fields, const std::string& name) {
    for (const auto& field : fields)
        if (field.first == name) return &field.second;
    return nullptr;
}

// Appends the value of one placeholder. Returns false when the exchange had
// no such value (nothing is appended then).
bool append_field(const config::TemplatePart& part, const RenderContext& ctx, std::string& out) {
    const Record& r = ctx.record;
    auto text = [&](std::string_view value) {
        out.append(value);
        return true;
    };
    auto named = [&](const std::vector<Field>& fields) {
        const std::string* value = find_field(fields, part.text);
        if (!value) return false;
        out.append(*value);
        return true;
    };
    switch (part.kind) {
    case Kind::literal: return text(part.text);
    case Kind::request_id: return text(r.id);
    case Kind::request_method: return text(r.method);
    case Kind::request_path: return text(r.path);
    case Kind::request_query: return text(r.query);
    case Kind::request_target: return text(r.target);
    case Kind::request_scheme: return text(r.scheme);
    case Kind::request_host: return text(r.host);
    case Kind::request_header: return named(r.request_headers);
    case Kind::request_cookie: return named(r.cookies);
    case Kind::response_header: return named(r.response_headers);
    case Kind::client_ip: return text(r.client_ip);
    case Kind::client_port: return text(std::to_string(r.client_port));
    case Kind::response_status: return text(std::to_string(r.status));
    case Kind::response_bytes: return text(std::to_string(r.response_body_bytes));
    case Kind::outcome: return text(to_string(r.outcome));
    case Kind::duration_ms:
        append_milliseconds(out, r.duration_ms);
        return true;
    case Kind::upstream_ms:
        if (r.upstream_ms < 0) return false;
        append_milliseconds(out, r.upstream_ms);
        return true;
    case Kind::time:
        append_timestamp(out, r.start_time);
        return true;
    case Kind::trigger_param:
        for (const auto& [name, value] : ctx.trigger)
            if (name == part.text) return text(value);
        return false;
    case Kind::hook_name: return text(ctx.hook);
    }
    return false;
}

}  // namespace

void render_text(const config::Template& tmpl, const RenderContext& ctx, std::string& out) {
    for (const auto& part : tmpl.parts) append_field(part, ctx, out);
}

std::string render_text(const config::Template& tmpl, const RenderContext& ctx) {
    std::string out;
    render_text(tmpl, ctx, out);
    return out;
}

std::string render_url(const config::Template& tmpl, const RenderContext& ctx) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out, value;
    for (const auto& part : tmpl.parts) {
        if (part.kind == Kind::literal) {
            out.append(part.text);
            continue;
        }
        value.clear();
        append_field(part, ctx, value);
        for (unsigned char c : value) {
            bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '.' || c == '_' || c == '~' || c == '/';
            if (keep) {
                out.push_back(static_cast<char>(c));
            } else {
                out.push_back('%');
                out.push_back(kHex[c >> 4]);
                out.push_back(kHex[c & 0xf]);
            }
        }
    }
    return out;
}

void render_json(const config::JsonTemplate& json, const RenderContext& ctx, std::string& out) {
    using JKind = config::JsonTemplate::Kind;
    switch (json.kind) {
    case JKind::null:
        out.append("null");
        return;
    case JKind::number:
    case JKind::boolean:
        out.append(json.literal);
        return;
    case JKind::string: {
        const auto& parts = json.text.parts;
        if (parts.size() == 1 && config::is_numeric_field(parts[0].kind)) {
            // "{{response.status}}" alone: a number, or null when absent.
            if (!append_field(parts[0], ctx, out)) out.append("null");
            return;
        }
        std::string text;
        render_text(json.text, ctx, text);
        append_json_string(out, text);
        return;
    }
    case JKind::array: {
        out.push_back('[');
        bool first = true;
        for (const auto& item : json.items) {
            if (!first) out.push_back(',');
            first = false;
            render_json(item, ctx, out);
        }
        out.push_back(']');
        return;
    }
    case JKind::object: {
        out.push_back('{');
        bool first = true;
        for (const auto& [key, value] : json.members) {
            if (!first) out.push_back(',');
            first = false;
            append_json_string(out, key);
            out.push_back(':');
            render_json(value, ctx, out);
        }
        out.push_back('}');
        return;
    }
    }
}

void render_body(const config::Body& body, const RenderContext& ctx, std::string& out) {
    switch (body.kind) {
    case config::Body::Kind::record: {
        size_t start = out.size();
        append_json_line(out, ctx.record);
        if (out.size() > start && out.back() == '\n') out.pop_back();
        return;
    }
    case config::Body::Kind::text:
        render_text(body.text, ctx, out);
        return;
    case config::Body::Kind::json:
        render_json(body.json, ctx, out);
        return;
    }
}

}  // namespace afterhook::hooks
