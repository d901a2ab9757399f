#include "proxy/header_rules.h"

#include <array>
#include <charconv>

namespace afterhook::proxy {

namespace {

constexpr std::array<std::string_view, 6> kHopByHop = {
    "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade",
};

// Fields a Connection header may not remove: they carry framing or routing
// that afterhook itself relies on.
bool protected_from_connection(std::string_view name) {
    return iequals(name, "host") || iequals(name, "content-length") || iequals(name, "x-request-id");
}

// Room for the head's own fields and what afterhook adds, so that building
// it grows `out` once at most.
void reserve_for(std::string& out, const MessageHead& head, size_t extra) {
    size_t size = head.method.size() + head.target.size() + head.reason.size() + extra;
    for (const auto& field : head.fields) size += field.name.size() + field.value.size() + 4;
    out.reserve(out.size() + size);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

// The field names a message's Connection (and Proxy-Connection) header
// lists, to be removed as hop-by-hop. They point into the message's own
// field values. Names that are hop-by-hop anyway ("keep-alive", "upgrade")
// are left out, so the usual "Connection: keep-alive" costs nothing.
struct ConnectionNames {
    std::vector<std::string_view> names;

    bool contains(std::string_view name) const {
        for (auto n : names)
            if (iequals(n, name)) return !protected_from_connection(name);
        return false;
    }
};

ConnectionNames connection_names(const MessageHead& head) {
    ConnectionNames result;
    for (const auto& field : head.fields) {
        if (!iequals(field.name, "connection") && !iequals(field.name, "proxy-connection")) continue;
        for_each_list_element(field.value, [&](std::string_view token) {
            if (!is_hop_by_hop(token)) result.names.push_back(token);
        });
    }
    return result;
}

}  // namespace

bool is_hop_by_hop(std::string_view name) {
    for (auto h : kHopByHop)
        if (iequals(name, h)) return true;
    return false;
}

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 200) return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == ':' || c == '/' || c == '+' || c == '=' || c == '-';
        if (!ok) return false;
    }
    return true;
}

void append_upstream_request_head(std::string& out, const MessageHead& request, const UpstreamRequestContext& ctx) {
    const ConnectionNames connection = connection_names(request);
    reserve_for(out, request, 256 + ctx.client_ip.size() + ctx.request_id.size() + 2 * ctx.default_host.size());
    out.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\n");

    std::string forwarded_for;
    bool has_host = false, has_proto = false, has_forwarded_host = false;
    for (const auto& field : request.fields) {
        const std::string& name = field.name;
        if (is_hop_by_hop(name) || connection.contains(name)) continue;
        if (iequals(name, "x-forwarded-for")) {
            if (!forwarded_for.empty()) forwarded_for.append(", ");
            forwarded_for.append(field.value);
            continue;
        }
        if (iequals(name, "x-request-id")) continue;  // written once below
        if (iequals(name, "host")) has_host = true;
        // Behind an ingress these already say what the client used; kept.
        if (iequals(name, "x-forwarded-proto")) has_proto = true;
        if (iequals(name, "x-forwarded-host")) has_forwarded_host = true;
        append_field(out, name, field.value);
    }
    const HeaderField* host = request.find("host");
    if (!has_host) append_field(out, "Host", ctx.default_host);
    if (!forwarded_for.empty()) forwarded_for.append(", ");
    forwarded_for.append(ctx.client_ip);
    append_field(out, "X-Forwarded-For", forwarded_for);
    if (!has_proto) append_field(out, "X-Forwarded-Proto", "http");
    if (!has_forwarded_host) append_field(out, "X-Forwarded-Host", host ? std::string_view(host->value) : ctx.default_host);
    append_field(out, "X-Request-Id", ctx.request_id);
    if (ctx.framing == Framing::chunked) append_field(out, "Transfer-Encoding", "chunked");
    if (ctx.tunnel) {
        if (const HeaderField* upgrade = request.find("upgrade")) append_field(out, "Upgrade", upgrade->value);
        append_field(out, "Connection", "upgrade");
    }
    out.append("\r\n");
}

void append_client_response_head(std::string& out, const MessageHead& response, const ClientResponseContext& ctx) {
    const ConnectionNames connection = connection_names(response);
    reserve_for(out, response, 128 + ctx.request_id.size());
    char status[8];
    const auto status_end = std::to_chars(status, status + sizeof status, response.status).ptr;
    out.append("HTTP/1.1 ").append(status, status_end).append(" ");
    out.append(response.reason.empty() ? reason_phrase(response.status) : std::string_view(response.reason));
    out.append("\r\n");
    bool has_request_id = false;
    for (const auto& field : response.fields) {
        const std::string& name = field.name;
        if (is_hop_by_hop(name) || connection.contains(name)) continue;
        if (!ctx.trigger_header.empty() && iequals(name, ctx.trigger_header)) continue;
        if (iequals(name, "content-length") && ctx.framing != Framing::content_length &&
            !(ctx.framing == Framing::none && response.status != 204))
            continue;
        if (iequals(name, "x-request-id")) has_request_id = true;
        append_field(out, name, field.value);
    }
    if (!has_request_id && !ctx.interim) append_field(out, "X-Request-Id", ctx.request_id);
    if (ctx.interim) {
        // Nothing else belongs on an interim response.
    } else if (ctx.tunnel) {
        if (const HeaderField* upgrade = response.find("upgrade")) append_field(out, "Upgrade", upgrade->value);
        append_field(out, "Connection", "upgrade");
    } else {
        if (ctx.framing == Framing::chunked) append_field(out, "Transfer-Encoding", "chunked");
        if (!ctx.keep_alive) append_field(out, "Connection", "close");
        else if (ctx.client_http10) append_field(out, "Connection", "keep-alive");
    }
    out.append("\r\n");
}

std::string build_trailer_section(const std::vector<HeaderField>& trailers) {
    std::string out;
    for (const auto& field : trailers) {
        const std::string& name = field.name;
        if (is_hop_by_hop(name) || iequals(name, "content-length") || iequals(name, "host") ||
            iequals(name, "trailer") || iequals(name, "content-type") || iequals(name, "authorization"))
            continue;
        append_field(out, name, field.value);
    }
    return out;
}

std::string_view reason_phrase(int status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

std::string build_error_response(int status, std::string_view request_id) {
    std::string body(reason_phrase(status));
    body.push_back('\n');
    std::string out;
    out.reserve(256);
    out.append("HTTP/1.1 ").append(std::to_string(status)).append(" ").append(reason_phrase(status)).append("\r\n");
    append_field(out, "Content-Type", "text/plain; charset=utf-8");
    append_field(out, "Content-Length", std::to_string(body.size()));
    if (!request_id.empty()) append_field(out, "X-Request-Id", request_id);
    append_field(out, "Connection", "close");
    out.append("\r\n").append(body);
    return out;
}

}  // namespace afterhook::proxy
