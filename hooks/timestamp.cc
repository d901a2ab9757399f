#include "hooks/timestamp.h"

#include <charconv>
#include <cstring>

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

// "YYYY-MM-DDTHH:MM:SS." for the second `time` falls in.
std::string second_prefix(std::chrono::sys_seconds second) {
    using namespace std::chrono;
    const auto day = floor<days>(second);
    const year_month_day date{day};
    const auto in_day = second - day;
    const auto hour = duration_cast<hours>(in_day);
    const auto minute = duration_cast<minutes>(in_day - hour);
    const auto secs = in_day - hour - minute;

    std::string out;
    out.reserve(20);
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
    append_padded(out, secs.count(), 2);
    out.push_back('.');
    return out;
}

}  // namespace

// Records arrive in time order, many per second: the calendar part is
// computed once per second and thread (a hook thread or a test's).
char* write_timestamp(char* out, std::chrono::system_clock::time_point time) {
    using namespace std::chrono;
    // Flooring (not truncating) keeps times before 1970 on the right day.
    const auto ms = floor<milliseconds>(time);
    const auto second = floor<seconds>(ms);
    thread_local sys_seconds cached_second = sys_seconds::min();
    thread_local std::string cached_prefix;
    if (second != cached_second) {
        cached_prefix = second_prefix(second);
        cached_second = second;
    }
    std::memcpy(out, cached_prefix.data(), cached_prefix.size());
    out += cached_prefix.size();
    const auto milli = static_cast<unsigned>((ms - second).count());
    out[0] = static_cast<char>('0' + milli / 100);
    out[1] = static_cast<char>('0' + milli / 10 % 10);
    out[2] = static_cast<char>('0' + milli % 10);
    out[3] = 'Z';
    return out + 4;
}

void append_timestamp(std::string& out, std::chrono::system_clock::time_point time) {
    const size_t begin = out.size();
    out.resize(begin + max_timestamp_length);
    char* end = write_timestamp(out.data() + begin, time);
    out.resize(static_cast<size_t>(end - out.data()));
}

}  // namespace afterhook::hooks
