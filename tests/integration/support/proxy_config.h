// ProxyConfig: the YAML a test starts afterhook with, built from a few
// fields so that each test states only what it cares about. Everything
// listens on 127.0.0.1 port 0; the drain deadline is short so that stopping
// the proxy never dominates a test's runtime.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace afterhook::testing {

struct ProxyConfig {
    using Entries = std::vector<std::pair<std::string, std::string>>;

    std::string upstream;  // "127.0.0.1:PORT"; ProxyHarness fills in its fake upstream when empty
    unsigned workers = 1;
    Entries timeouts{{"drain", "1s"}};  // e.g. {"request_header", "300ms"}
    Entries limits;                     // e.g. {"max_headers", "10"}
    // capture.*: left out of the YAML when empty, so the built-in lists apply.
    std::vector<std::string> capture_headers;
    std::vector<std::string> capture_response_headers;
    std::vector<std::string> capture_cookies;
    std::vector<std::string> redact;
    std::string trigger_header;  // empty = the default (afterhook-trigger)
    std::string log_path;        // a `log` hook named "access" writing here; none when empty

    // Adds or replaces one entry of timeouts / limits.
    ProxyConfig& timeout(const std::string& key, const std::string& value);
    ProxyConfig& limit(const std::string& key, const std::string& value);

    std::string render() const;
};

}  // namespace afterhook::testing
