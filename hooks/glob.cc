#include "hooks/glob.h"

namespace afterhook::hooks {

namespace {

constexpr size_t none = std::string_view::npos;

// Calls `each` with every '/'-separated segment of `text`, in order; a
// leading '/' yields an empty first segment, like a trailing one yields an
// empty last segment.
template <typename Each>
void for_each_segment(std::string_view text, Each&& each) {
    size_t begin = 0;
    while (true) {
        const size_t slash = text.find('/', begin);
        if (slash == none) {
            each(text.substr(begin));
            return;
        }
        each(text.substr(begin, slash - begin));
        begin = slash + 1;
    }
}

// '*' in `pattern` matches any run of characters in `text`. The classic
// two-pointer match: on a mismatch, the last '*' takes one more character.
// Linear in practice, O(pattern * text) at worst.
bool wildcard_matches(std::string_view pattern, std::string_view text) {
    size_t p = 0;
    size_t t = 0;
    size_t star = none;
    size_t star_t = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            star_t = t;
        } else if (p < pattern.size() && pattern[p] == text[t]) {
            ++p;
            ++t;
        } else if (star != none) {
            p = star + 1;
            t = ++star_t;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

}  // namespace

Glob::Glob(std::string_view pattern) : pattern_(pattern) {
    for_each_segment(pattern, [this](std::string_view text) {
        Segment segment;
        if (text == "**") {
            segment.kind = Segment::Kind::any_segments;
        } else if (text.find('*') != none) {
            segment.kind = Segment::Kind::wildcard;
        }
        segment.text = text;
        segments_.push_back(std::move(segment));
    });
}

bool Glob::segment_matches(const Segment& segment, std::string_view text) {
    if (segment.kind == Segment::Kind::literal) return segment.text == text;
    return wildcard_matches(segment.text, text);
}

// The same two-pointer match one level up: "**" is the star and every other
// pattern segment matches exactly one path segment. Path positions are byte
// offsets of segment starts (past the end once every segment is used), so
// matching allocates nothing.
bool Glob::matches(std::string_view path) const {
    const size_t end = path.size() + 1;
    auto segment_at = [path](size_t at) {
        const size_t slash = path.find('/', at);
        return path.substr(at, slash == none ? none : slash - at);
    };
    auto next = [path](size_t at) {
        const size_t slash = path.find('/', at);
        return slash == none ? path.size() + 1 : slash + 1;
    };
    size_t p = 0;
    size_t s = 0;
    size_t star = none;
    size_t star_s = 0;
    while (s < end) {
        if (p < segments_.size() && segments_[p].kind == Segment::Kind::any_segments) {
            star = p++;
            star_s = s;
        } else if (p < segments_.size() && segment_matches(segments_[p], segment_at(s))) {
            ++p;
            s = next(s);
        } else if (star != none) {
            p = star + 1;
            star_s = next(star_s);
            s = star_s;
        } else {
            return false;
        }
    }
    while (p < segments_.size() && segments_[p].kind == Segment::Kind::any_segments) ++p;
    return p == segments_.size();
}

}  // namespace afterhook::hooks
