#include "support/access_log.h"

#include <fstream>
#include <sstream>

namespace afterhook::testing {

std::string AccessLog::contents() const {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return {};
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::vector<nlohmann::json> AccessLog::records() const {
    const std::string text = contents();
    std::vector<nlohmann::json> out;
    size_t start = 0;
    for (size_t end = text.find('\n'); end != std::string::npos; end = text.find('\n', start)) {
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        if (line.empty()) continue;
        nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
        if (parsed.is_discarded()) parsed = nlohmann::json{{"unparsable_line", line}};
        out.push_back(std::move(parsed));
    }
    return out;
}

bool AccessLog::wait_for_count(size_t count, Clock::duration timeout) const {
    return wait_until([&] { return records().size() >= count; }, timeout, Millis(10));
}

std::optional<nlohmann::json> AccessLog::wait_for_request_id(const std::string& id,
                                                             Clock::duration timeout) const {
    return wait_for_record(
        [&](const nlohmann::json& record) {
            const auto it = record.find("afterhook.request.id");
            return it != record.end() && it->is_string() && it->get<std::string>() == id;
        },
        timeout);
}

std::optional<nlohmann::json> AccessLog::wait_for_record(
    const std::function<bool(const nlohmann::json&)>& predicate, Clock::duration timeout) const {
    std::optional<nlohmann::json> found;
    wait_until(
        [&] {
            for (const nlohmann::json& record : records()) {
                if (predicate(record)) {
                    found = record;
                    return true;
                }
            }
            return false;
        },
        timeout, Millis(10));
    return found;
}

}  // namespace afterhook::testing
