// Diagnostics: one line each on stderr, "<RFC 3339 UTC time> <level> <message>".
// Never a line per request: the data path logs only rare events.
#pragma once

#include <string_view>

namespace afterhook::log {

enum class Level { debug, info, warn, error };

void set_level(Level level);
void write(Level level, std::string_view message);

inline void debug(std::string_view m) { write(Level::debug, m); }
inline void info(std::string_view m) { write(Level::info, m); }
inline void warn(std::string_view m) { write(Level::warn, m); }
inline void error(std::string_view m) { write(Level::error, m); }

}  // namespace afterhook::log
