// Pattern: the deterministic byte stream used for large bodies. Byte `i` of
// the stream is block[i % kPeriod], where the block is pseudo-random and its
// length is a prime, so a dropped, duplicated or reordered range of any
// power-of-two size (the sizes buffers come in) breaks the comparison.
// Writing and checking are memcpy/memcmp fast, so a gigabyte costs little.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace afterhook::testing {

class Pattern {
public:
    static constexpr size_t kPeriod = 1048573;  // largest prime below 2^20

    // Writes the `size` bytes starting at stream offset `offset` into `out`.
    static void fill(uint64_t offset, char* out, size_t size);
    static std::string bytes(uint64_t offset, size_t size);
    // True when `data` equals the stream's bytes at `offset`.
    static bool matches(uint64_t offset, std::string_view data);
};

// Checks a stream that arrives in pieces against the pattern from offset 0:
// feed every piece in order, then read size() and ok().
class PatternChecker {
public:
    void feed(std::string_view piece);
    uint64_t size() const { return size_; }
    bool ok() const { return ok_; }
    // Offset of the first piece that did not match (meaningful when !ok()).
    uint64_t first_mismatch_piece_offset() const { return mismatch_at_; }

private:
    uint64_t size_ = 0;
    bool ok_ = true;
    uint64_t mismatch_at_ = 0;
};

}  // namespace afterhook::testing
