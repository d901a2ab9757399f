// Filter: a hook's `when`, compiled once from config::When and evaluated on
// the hook thread for every record. Every condition that is given must hold;
// an empty list holds for every record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "hooks/glob.h"
#include "hooks/record.h"

namespace afterhook::hooks {

class Filter {
public:
    explicit Filter(const config::When& when);

    // methods: exact match (methods are case-sensitive, the config holds
    // them in upper case); paths: any glob matches Record::path (see
    // hooks/glob.h); status: any range holds Record::status; outcomes: the
    // outcome's name is listed; sample: see sample_point().
    bool matches(const Record& record) const;

private:
    bool method_matches(const std::string& method) const;
    bool path_matches(const std::string& path) const;
    bool status_matches(int status) const;
    bool outcome_matches(Outcome outcome) const;
    bool sampled(const std::string& request_id) const;

    std::vector<std::string> methods_;
    std::vector<Glob> paths_;
    std::vector<config::StatusRange> status_;
    bool any_outcome_ = true;
    uint32_t outcomes_ = 0;  // bit (1 << Outcome) for each listed outcome
    double sample_ = 1.0;
};

// Where a request falls in [0, 1) for sampling: a fixed hash of its id
// (FNV-1a 64, then the MurmurHash3 finalizer so that ids differing only in
// their last characters spread over the whole range). The same id gives the
// same point in every process and for every hook, so hooks with the same rate
// pick the same requests, and a hook at rate r picks a subset of those a hook
// at a higher rate picks. A rate of 1 takes every request, 0 none.
double sample_point(std::string_view request_id);

}  // namespace afterhook::hooks
