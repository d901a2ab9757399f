#include <doctest/doctest.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "hooks/record.h"
#include "hooks/record_json.h"

using namespace std::chrono;
using afterhook::hooks::append_json_string;
using afterhook::hooks::Outcome;
using afterhook::hooks::Record;
using afterhook::hooks::to_json_line;

namespace {

Record full_record() {
    Record r;
    r.id = "req-1";
    r.start_time = sys_days{2026y / November / 22} + 12h + 40min + 123ms;
    r.method = "GET";
    r.target = "/a/b?x=1";
    r.path = "/a/b";
    r.query = "x=1";
    r.host = "example.test";
    r.protocol_version = "1.1";
    r.client_ip = "127.0.0.1";
    r.client_port = 54321;
    r.request_headers = {{"referer", "http://r/"}, {"user-agent", "curl/8"}};
    r.cookies = {{"session-id", "abc"}};
    r.status = 200;
    r.response_headers = {{"content-type", "text/plain"}};
    r.request_body_bytes = 5;
    r.response_body_bytes = 11;
    r.bytes_in = 120;
    r.bytes_out = 230;
    r.duration_ms = 12.3456;
    r.upstream_ms = 10.5;
    return r;
}

std::string escaped_json(std::string_view text) {
    std::string out;
    append_json_string(out, text);
    return out;
}

std::vector<std::string> keys_of(const std::string& line) {
    std::vector<std::string> keys;
    const auto json = nlohmann::ordered_json::parse(line);
    for (const auto& item : json.items()) keys.push_back(item.key());
    return keys;
}

}  // namespace

TEST_CASE("record json: a full record, every key in order") {
    const std::string expected =
        R"({"time":"2026-11-22T12:40:00.123Z","afterhook.request.id":"req-1","afterhook.outcome":"ok",)"
        R"("http.request.method":"GET","url.path":"/a/b","url.query":"x=1","url.scheme":"http",)"
        R"("server.address":"example.test","network.protocol.version":"1.1","client.address":"127.0.0.1",)"
        R"("client.port":54321,"http.response.status_code":200,"user_agent.original":"curl/8",)"
        R"("http.request.header.referer":"http://r/","afterhook.request.cookie.session-id":"abc",)"
        R"("http.response.header.content-type":"text/plain","http.request.body.size":5,)"
        R"("http.response.body.size":11,"afterhook.bytes_in":120,"afterhook.bytes_out":230,)"
        R"("afterhook.duration_ms":12.346,"afterhook.upstream_ms":10.500})"
        "\n";
    CHECK(to_json_line(full_record()) == expected);
}

TEST_CASE("record json: optional keys appear only when set") {
    Record r = full_record();
    r.query.clear();
    r.upstream_ms = -1;
    r.request_headers.clear();
    r.cookies.clear();
    r.response_headers.clear();
    const std::vector<std::string> minimal = {"time",
                                              "afterhook.request.id",
                                              "afterhook.outcome",
                                              "http.request.method",
                                              "url.path",
                                              "url.scheme",
                                              "server.address",
                                              "network.protocol.version",
                                              "client.address",
                                              "client.port",
                                              "http.response.status_code",
                                              "http.request.body.size",
                                              "http.response.body.size",
                                              "afterhook.bytes_in",
                                              "afterhook.bytes_out",
                                              "afterhook.duration_ms"};
    CHECK(keys_of(to_json_line(r)) == minimal);

    r.outcome = Outcome::client_abort;
    r.status = 499;
    r.error = "client closed the connection";
    r.trigger = "purge-cache;key=/p/42";
    const auto line = to_json_line(r);
    const auto keys = keys_of(line);
    REQUIRE(keys.size() == minimal.size() + 2);
    CHECK(keys[3] == "afterhook.error");
    CHECK(keys.back() == "afterhook.trigger");
    const auto json = nlohmann::json::parse(line);
    CHECK(json["afterhook.outcome"] == "client_abort");
    CHECK(json["http.response.status_code"] == 499);
    CHECK(json["afterhook.error"] == "client closed the connection");
    CHECK(json["afterhook.trigger"] == "purge-cache;key=/p/42");
}

TEST_CASE("record json: user-agent is user_agent.original, not a generic header") {
    Record r = full_record();
    const auto json = nlohmann::json::parse(to_json_line(r));
    CHECK(json["user_agent.original"] == "curl/8");
    CHECK_FALSE(json.contains("http.request.header.user-agent"));
}

TEST_CASE("record json: the line is one line, ending in a newline") {
    Record r = full_record();
    r.path = "/a\nb";
    r.error = "x\r\ny";
    const auto line = to_json_line(r);
    REQUIRE(!line.empty());
    CHECK(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);
}

TEST_CASE("record json: quotes, backslashes and control characters are escaped") {
    CHECK(escaped_json("plain /path?q=1") == R"("plain /path?q=1")");
    CHECK(escaped_json("a\"b\\c") == R"("a\"b\\c")");
    CHECK(escaped_json("\b\f\n\r\t") == R"("\b\f\n\r\t")");
    CHECK(escaped_json(std::string("\x00\x01\x1f", 3)) == R"("\u0000\u0001\u001f")");
    CHECK(escaped_json("\x7f") == "\"\x7f\"");  // DEL needs no escape in JSON
}

TEST_CASE("record json: valid UTF-8 passes through unchanged") {
    CHECK(escaped_json("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
    CHECK(escaped_json("\xF4\x8F\xBF\xBF") == "\"\xF4\x8F\xBF\xBF\"");  // U+10FFFF, the last code point
}

TEST_CASE("record json: invalid UTF-8 becomes U+FFFD, one per maximal ill-formed subpart") {
    const std::string r = "\xEF\xBF\xBD";
    CHECK(escaped_json("\xFF") == "\"" + r + "\"");
    CHECK(escaped_json("a\xC3") == "\"a" + r + "\"");                     // cut short at the end
    CHECK(escaped_json("\xE2\x82x") == "\"" + r + "x\"");                 // cut short by ASCII
    CHECK(escaped_json("\xC0\xAF") == "\"" + r + r + "\"");               // overlong '/'
    CHECK(escaped_json("\xE0\x80\xAF") == "\"" + r + r + r + "\"");       // overlong, three bytes
    CHECK(escaped_json("\xED\xA0\x80") == "\"" + r + r + r + "\"");       // UTF-16 surrogate
    CHECK(escaped_json("\xF4\x90\x80\x80") == "\"" + r + r + r + r + "\"");  // above U+10FFFF
    CHECK(escaped_json("\x80\xBF") == "\"" + r + r + "\"");               // lone continuation bytes
    CHECK(escaped_json("\xF0\x9F\x98") == "\"" + r + "\"");               // emoji missing its last byte
}

TEST_CASE("record json: names taken from the config are escaped in keys too") {
    Record r = full_record();
    r.request_headers = {{"x-\"odd\"", "v"}};
    const auto json = nlohmann::json::parse(to_json_line(r));
    CHECK(json["http.request.header.x-\"odd\""] == "v");
}

TEST_CASE("record json: numbers that JSON cannot hold are written as null") {
    Record r = full_record();
    r.duration_ms = std::numeric_limits<double>::quiet_NaN();
    r.upstream_ms = std::numeric_limits<double>::infinity();
    const auto json = nlohmann::json::parse(to_json_line(r));
    CHECK(json["afterhook.duration_ms"].is_null());
    CHECK(json["afterhook.upstream_ms"].is_null());

    r.duration_ms = 1e300;
    CHECK(nlohmann::json::parse(to_json_line(r))["afterhook.duration_ms"].get<double>() == doctest::Approx(1e300));
}

TEST_CASE("record json: arbitrary bytes in every string still give valid JSON") {
    std::mt19937 random(12345);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> length(0, 24);
    auto noise = [&] {
        std::string s(static_cast<size_t>(length(random)), '\0');
        for (auto& c : s) c = static_cast<char>(byte(random));
        return s;
    };
    for (int i = 0; i < 2000; ++i) {
        Record r = full_record();
        r.id = noise();
        r.path = noise();
        r.host = noise();
        r.error = noise();
        r.request_headers = {{noise(), noise()}};
        r.cookies = {{"c", noise()}};
        const auto line = to_json_line(r);
        CHECK(nlohmann::json::accept(line));
        REQUIRE(line.find('\n') == line.size() - 1);
    }
}

// The escaper checks eight bytes at a time before it looks at single ones:
// a byte that needs care must be found at every offset of a word, and in
// the tail after the last whole word.
TEST_CASE("record json: a byte that needs escaping is found at every position of a long plain run") {
    const std::string replacement = "\xEF\xBF\xBD";
    const std::vector<std::pair<char, std::string>> cases = {
        {'"', "\""}, {'\\', "\\"}, {'\0', std::string(1, '\0')}, {'\x1f', "\x1f"}, {'\n', "\n"},
        {'\x7f', "\x7f"}, {' ', " "}, {'~', "~"}, {'\x80', replacement}, {'\xff', replacement}};
    for (size_t length = 1; length <= 40; ++length) {
        for (size_t position = 0; position < length; ++position) {
            for (const auto& [byte, decoded] : cases) {
                std::string text(length, 'a');
                text[position] = byte;
                std::string expected = text.substr(0, position) + decoded + text.substr(position + 1);
                const std::string json = escaped_json(text);
                INFO("length ", length, " position ", position, " byte ", static_cast<int>(static_cast<unsigned char>(byte)));
                REQUIRE(nlohmann::json::accept(json));
                CHECK(nlohmann::json::parse(json).get<std::string>() == expected);
            }
        }
    }
}

// Durations are written from whole microseconds, not through to_chars; the
// digits must be the ones to_chars gives (three decimals, round half to
// even on the exact value), ties, large values and a negative zero included.
TEST_CASE("record json: durations have the digits to_chars gives them") {
    auto written = [](double value) {
        Record r = full_record();
        r.duration_ms = value;
        const std::string line = to_json_line(r);
        const std::string key = "\"afterhook.duration_ms\":";
        const size_t start = line.find(key) + key.size();
        return line.substr(start, line.find_first_of(",}", start) - start);
    };
    auto reference = [](double value) {
        char digits[400];
        const auto result = std::to_chars(digits, digits + sizeof digits, value, std::chars_format::fixed, 3);
        return std::string(digits, result.ptr);
    };
    std::vector<double> values = {0.0, 0.0005, 0.0015, 0.0625, 0.1875, 1.0005, 2.5, 10.5, 12.3456, 999.9995,
                                  123456789.0625, 4503599627370495.5, 1e14 + 0.0625, 1e15 - 1, 1e15, 1e16,
                                  4294966.9995, 4294966.9985, 4294967.0, 4294967.0005,
                                  4294966.999, std::nextafter(4294967.0, 0.0), -0.0, -0.0005, -2.5, -12.3456};
    std::mt19937_64 random(7);
    std::uniform_real_distribution<double> small(0.0, 10'000.0);
    std::uniform_int_distribution<uint64_t> micros(0, 10'000'000'000ULL);
    for (int i = 0; i < 20000; ++i) {
        values.push_back(small(random));
        values.push_back(static_cast<double>(micros(random)) / 1000.0);         // near a decimal
        values.push_back((static_cast<double>(micros(random)) + 0.5) / 1000.0);  // near a tie
    }
    for (const double value : values) {
        INFO("value ", value);
        REQUIRE(written(value) == reference(value));
        std::string appended;
        afterhook::hooks::append_milliseconds(appended, value);
        REQUIRE(appended == reference(value));
    }
}

// append_json_line() reserves json_line_bound() bytes and then writes without
// checking: the bound must hold for the worst a record can carry: every byte
// escaped as \u00XX, every optional key present, the longest numbers.
TEST_CASE("record json: the line never exceeds its bound, whatever the record holds") {
    using afterhook::hooks::json_line_bound;
    auto check = [](const Record& r) {
        const std::string line = to_json_line(r);
        INFO("line ", line);
        CHECK(line.size() <= json_line_bound(r));
        CHECK(nlohmann::json::accept(line));
    };
    Record empty;
    empty.scheme.clear();
    check(empty);

    for (const char byte : {'\x01', '\xff', '"', 'a'}) {
        for (const size_t length : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{300}}) {
            const std::string text(length, byte);
            Record r = full_record();
            r.id = r.error = r.method = r.path = r.query = r.scheme = r.host = r.protocol_version = r.client_ip =
                r.trigger = text;
            r.request_headers = {{text, text}, {"user-agent", text}};
            r.cookies = {{text, text}};
            r.response_headers = {{text, text}, {text + "x", text}};
            r.status = std::numeric_limits<int>::min();
            r.client_port = std::numeric_limits<uint16_t>::max();
            r.request_body_bytes = r.response_body_bytes = r.bytes_in = r.bytes_out =
                std::numeric_limits<uint64_t>::max();
            r.outcome = Outcome::upstream_timeout;
            r.start_time = system_clock::time_point::max();
            for (const double duration : {0.0, 999999999999.9995, 1e15, -std::numeric_limits<double>::max(),
                                          std::numeric_limits<double>::max()}) {
                r.duration_ms = r.upstream_ms = duration;
                check(r);
            }
        }
    }
}
