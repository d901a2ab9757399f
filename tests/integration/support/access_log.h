// AccessLog: reads the file a `log` hook appends JSON lines to (one record
// per finished exchange, see /work/notes/record_json.md). Only complete
// lines (ending in '\n') count, so a line being written is never half-read.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/wait.h"

namespace afterhook::testing {

class AccessLog {
public:
    explicit AccessLog(std::string path) : path_(std::move(path)) {}

    const std::string& path() const { return path_; }
    // The whole file as bytes; empty when it does not exist yet.
    std::string contents() const;
    // Every complete line parsed as JSON, in file order. A line that is not
    // valid JSON is returned as {"unparsable_line": "<text>"} so that tests
    // fail on it with the text in view.
    std::vector<nlohmann::json> records() const;
    size_t count() const { return records().size(); }

    bool wait_for_count(size_t count, Clock::duration timeout) const;
    // The first record whose "afterhook.request.id" equals `id`.
    std::optional<nlohmann::json> wait_for_request_id(const std::string& id, Clock::duration timeout) const;
    // The first record satisfying `predicate`.
    std::optional<nlohmann::json> wait_for_record(const std::function<bool(const nlohmann::json&)>& predicate,
                                                  Clock::duration timeout) const;

private:
    std::string path_;
};

}  // namespace afterhook::testing
