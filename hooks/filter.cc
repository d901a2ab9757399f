#include "hooks/filter.h"

#include <algorithm>

namespace afterhook::hooks {

namespace {

constexpr Outcome all_outcomes[] = {Outcome::ok, Outcome::upstream_error, Outcome::upstream_timeout,
                                    Outcome::rejected, Outcome::client_abort};

uint32_t outcome_bit(Outcome outcome) { return 1u << static_cast<unsigned>(outcome); }

uint64_t fnv1a64(std::string_view text) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ull;
    }
    return hash;
}

// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
uint64_t avalanche(uint64_t hash) {
    hash ^= hash >> 33;
    hash *= 0xff51afd7ed558ccdull;
    hash ^= hash >> 33;
    hash *= 0xc4ceb9fe1a85ec53ull;
    hash ^= hash >> 33;
    return hash;
}

}  // namespace

double sample_point(std::string_view request_id) {
    // The top 53 bits fill a double's mantissa exactly: the result is < 1.
    return static_cast<double>(avalanche(fnv1a64(request_id)) >> 11) * 0x1.0p-53;
}

Filter::Filter(const config::When& when)
    : methods_(when.methods), status_(when.status), any_outcome_(when.outcomes.empty()), sample_(when.sample) {
    paths_.reserve(when.paths.size());
    for (const auto& pattern : when.paths) paths_.emplace_back(pattern);
    // Names are matched once here; a name the loader would have refused
    // matches no record.
    for (const auto& name : when.outcomes) {
        for (const Outcome outcome : all_outcomes) {
            if (to_string(outcome) == name) outcomes_ |= outcome_bit(outcome);
        }
    }
}

// The cheap conditions first; the sample hash and the globs last.
bool Filter::matches(const Record& record) const {
    return method_matches(record.method) && status_matches(record.status) && outcome_matches(record.outcome) &&
           sampled(record.id) && path_matches(record.path);
}

bool Filter::method_matches(const std::string& method) const {
    return methods_.empty() || std::find(methods_.begin(), methods_.end(), method) != methods_.end();
}

bool Filter::path_matches(const std::string& path) const {
    return paths_.empty() ||
           std::any_of(paths_.begin(), paths_.end(), [&path](const Glob& glob) { return glob.matches(path); });
}

bool Filter::status_matches(int status) const {
    return status_.empty() || std::any_of(status_.begin(), status_.end(), [status](const config::StatusRange& range) {
               return range.low <= status && status <= range.high;
           });
}

bool Filter::outcome_matches(Outcome outcome) const { return any_outcome_ || (outcomes_ & outcome_bit(outcome)) != 0; }

bool Filter::sampled(const std::string& request_id) const {
    if (sample_ >= 1.0) return true;
    if (sample_ <= 0.0) return false;
    return sample_point(request_id) < sample_;
}

}  // namespace afterhook::hooks
