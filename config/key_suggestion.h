// KeySuggestion: the "did you mean 'X'?" hint for unknown configuration keys.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace afterhook::config {

// Optimal string alignment distance: insertions, deletions, substitutions
// and swaps of two neighbouring characters each cost one.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, or "" when none is close enough to be a
// likely typo (distance 1 for words of up to four characters, 2 beyond) or
// when two candidates are equally close.
std::string suggest_key(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace afterhook::config
