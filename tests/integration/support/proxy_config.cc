#include "support/proxy_config.h"

namespace afterhook::testing {
namespace {

void set_entry(ProxyConfig::Entries& entries, const std::string& key, const std::string& value) {
    for (auto& entry : entries) {
        if (entry.first == key) {
            entry.second = value;
            return;
        }
    }
    entries.emplace_back(key, value);
}

std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string flow_map(const ProxyConfig::Entries& entries) {
    std::string out = "{";
    for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out += ", ";
        out += entries[i].first + ": " + entries[i].second;
    }
    return out + "}";
}

std::string flow_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ", ";
        out += quoted(items[i]);
    }
    return out + "]";
}

}  // namespace

ProxyConfig& ProxyConfig::timeout(const std::string& key, const std::string& value) {
    set_entry(timeouts, key, value);
    return *this;
}

ProxyConfig& ProxyConfig::limit(const std::string& key, const std::string& value) {
    set_entry(limits, key, value);
    return *this;
}

std::string ProxyConfig::render() const {
    std::string out;
    out += "listen: 127.0.0.1:0\n";
    out += "upstream: " + upstream + "\n";
    out += "workers: " + std::to_string(workers) + "\n";
    out += "admin: {listen: 127.0.0.1:0}\n";
    if (!timeouts.empty()) out += "timeouts: " + flow_map(timeouts) + "\n";
    if (!limits.empty()) out += "limits: " + flow_map(limits) + "\n";
    const bool any_capture = !capture_headers.empty() || !capture_response_headers.empty() ||
                             !capture_cookies.empty() || !redact.empty();
    if (any_capture) {
        out += "capture:\n";
        if (!capture_headers.empty()) out += "  headers: " + flow_list(capture_headers) + "\n";
        if (!capture_response_headers.empty()) {
            out += "  response_headers: " + flow_list(capture_response_headers) + "\n";
        }
        if (!capture_cookies.empty()) out += "  cookies: " + flow_list(capture_cookies) + "\n";
        if (!redact.empty()) out += "  redact: " + flow_list(redact) + "\n";
    }
    if (!trigger_header.empty()) out += "trigger_header: " + trigger_header + "\n";
    if (!log_path.empty()) {
        out += "hooks:\n";
        out += "  - name: access\n";
        out += "    log: {path: " + quoted(log_path) + "}\n";
    }
    return out;
}

}  // namespace afterhook::testing
