#include "hooks/timestamp.h"

#include <charconv>

namespace afterhook::hooks {

namespace {

// Appends `value` with at least `width` digits, zero padded.
void append_padded(std::string& out, long long value, int width) {
    char digits[24];
    auto result = std::to_chars(digits, digits + sizeof digits, value < 0 ? -value : value);
    auto length = static_cast<int>(result.ptr - digits);
    if (value < 0) out.push_back('-');
    for (int i = length; i < width; ++i) out.push_back('0');
    out.append(digits, result.ptr);
}

}  // namespace

void append_timestamp(std::string& out, std::chrono::system_clock::time_point time) {
    using namespace std::chrono;
    // Flooring (not truncating) keeps times before 1970 on the right day.
    const auto ms = floor<milliseconds>(time);
    const auto day = floor<days>(ms);
    const year_month_day date{day};
    const auto in_day = ms - day;
    const auto hour = duration_cast<hours>(in_day);
    const auto minute = duration_cast<minutes>(in_day - hour);
    const auto second = duration_cast<seconds>(in_day - hour - minute);
    const auto milli = in_day - hour - minute - second;

    append_padded(out, static_cast<int>(date.year()), 4);
    out.push_back('-');
    append_padded(out, static_cast<unsigned>(date.month()), 2);
    out.push_back('-');
    append_padded(out, static_cast<unsigned>(date.day()), 2);
    out.push_back('T');
    append_padded(out, hour.count(), 2);
    out.push_back(':');
    append_padded(out, minute.count(), 2);
    out.push_back(':');
    append_padded(out, second.count(), 2);
    out.push_back('.');
    append_padded(out, milli.count(), 3);
    out.push_back('Z');
}

}  // namespace afterhook::hooks
