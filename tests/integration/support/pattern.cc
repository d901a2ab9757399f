#include "support/pattern.h"

#include <algorithm>
#include <cstring>

namespace afterhook::testing {
namespace {

const std::string& block() {
    static const std::string data = [] {
        std::string out(Pattern::kPeriod, '\0');
        uint64_t state = 0x9E3779B97F4A7C15ULL;
        for (char& c : out) {
            // xorshift64*: cheap, deterministic, no short cycles.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            c = static_cast<char>((state * 0x2545F4914F6CDD1DULL) >> 56);
        }
        return out;
    }();
    return data;
}

}  // namespace

void Pattern::fill(uint64_t offset, char* out, size_t size) {
    const std::string& b = block();
    size_t pos = static_cast<size_t>(offset % kPeriod);
    while (size > 0) {
        const size_t n = std::min(size, kPeriod - pos);
        std::memcpy(out, b.data() + pos, n);
        out += n;
        size -= n;
        pos = 0;
    }
}

std::string Pattern::bytes(uint64_t offset, size_t size) {
    std::string out(size, '\0');
    fill(offset, out.data(), size);
    return out;
}

bool Pattern::matches(uint64_t offset, std::string_view data) {
    const std::string& b = block();
    size_t pos = static_cast<size_t>(offset % kPeriod);
    while (!data.empty()) {
        const size_t n = std::min(data.size(), kPeriod - pos);
        if (std::memcmp(data.data(), b.data() + pos, n) != 0) return false;
        data.remove_prefix(n);
        pos = 0;
    }
    return true;
}

void PatternChecker::feed(std::string_view piece) {
    if (ok_ && !Pattern::matches(size_, piece)) {
        ok_ = false;
        mismatch_at_ = size_;
    }
    size_ += piece.size();
}

}  // namespace afterhook::testing
