#include "proxy/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace afterhook::log {

namespace {
std::atomic<Level> g_level{Level::info};

const char* name(Level level) {
    switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
    }
    return "info";
}
}  // namespace

void set_level(Level level) { g_level.store(level, std::memory_order_relaxed); }

void write(Level level, std::string_view message) {
    if (level < g_level.load(std::memory_order_relaxed)) return;
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char stamp[96];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
    std::string line;
    line.reserve(message.size() + 48);
    line.append(stamp).append(" ").append(name(level)).append(" ").append(message).append("\n");
    // One write(2) per line keeps lines whole when several threads log.
    ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
}

}  // namespace afterhook::log
