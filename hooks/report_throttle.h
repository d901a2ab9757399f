// ReportThrottle: keeps a repeated problem (failed deliveries, dropped events,
// unknown trigger names) to a few diagnostics lines: one at the first
// occurrence, then at most one per interval, each summing up the occurrences
// since the line before. Successes in between do not reset the interval: a
// receiver that fails every other request yields one line per interval, not
// one per event. The hook thread's loop time is the clock.
#pragma once

#include <cstdint>

namespace afterhook::hooks {

class ReportThrottle {
public:
    explicit ReportThrottle(uint64_t interval_ms) : interval_ms_(interval_ms) {}

    // Counts `count` occurrences at `now_ms`. Returns true when a line is due
    // now; the caller then writes it with take() as the number it sums up.
    bool note(uint64_t now_ms, uint64_t count = 1) {
        unreported_ += count;
        if (reported_ && now_ms - last_report_ms_ < interval_ms_) return false;
        reported_ = true;
        last_report_ms_ = now_ms;
        return true;
    }

    // The occurrences not reported yet; resets the count.
    uint64_t take() {
        const uint64_t count = unreported_;
        unreported_ = 0;
        return count;
    }

private:
    uint64_t interval_ms_;
    uint64_t last_report_ms_ = 0;
    uint64_t unreported_ = 0;
    bool reported_ = false;
};

}  // namespace afterhook::hooks
