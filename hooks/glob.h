// Glob: a path pattern of a hook's `when.paths`, compiled once.
//
// The pattern and the path are compared segment by segment ('/' separates
// segments). A segment that is exactly "**" matches any number of whole
// segments, none included, so "/api/**" matches "/api", "/api/" and
// "/api/x/y". Inside any other segment '*' matches any run of characters
// other than '/' (the empty run included), so "/api/*" matches "/api/x" but
// not "/api/x/y", and "/files/*.json" matches "/files/a.json". Every other
// character is literal; there are no escapes and no '?'.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace afterhook::hooks {

class Glob {
public:
    explicit Glob(std::string_view pattern);

    // True when the whole of `path` (Record::path: no query) matches.
    bool matches(std::string_view path) const;

    const std::string& pattern() const { return pattern_; }

private:
    struct Segment {
        enum class Kind { literal, wildcard, any_segments };
        Kind kind = Kind::literal;
        std::string text;
    };

    static bool segment_matches(const Segment& segment, std::string_view text);

    std::string pattern_;
    std::vector<Segment> segments_;
};

}  // namespace afterhook::hooks
