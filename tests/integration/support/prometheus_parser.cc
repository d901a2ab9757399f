#include "support/prometheus_parser.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <regex>
#include <set>

namespace afterhook::testing {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, [a-zA-Z_][a-zA-Z0-9_]* for labels.
bool valid_name(std::string_view name, bool metric) {
    if (name.empty()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool ok = is_alpha(c) || c == '_' || (metric && c == ':') || (i > 0 && is_digit(c));
        if (!ok) return false;
    }
    return true;
}

// The length of the name starting at `text[0]` (metric-name characters).
size_t name_length(std::string_view text) {
    size_t n = 0;
    while (n < text.size() && (is_alpha(text[n]) || is_digit(text[n]) || text[n] == '_' || text[n] == ':')) ++n;
    return n;
}

bool valid_utf8(std::string_view text) {
    size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        size_t extra = 0;
        if (c < 0x80) extra = 0;
        else if (c >= 0xC2 && c <= 0xDF) extra = 1;
        else if (c >= 0xE0 && c <= 0xEF) extra = 2;
        else if (c >= 0xF0 && c <= 0xF4) extra = 3;
        else return false;
        if (extra > 0 && i + extra >= text.size()) return false;
        for (size_t k = 1; k <= extra; ++k) {
            if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
        }
        i += extra + 1;
    }
    return true;
}

// A value as the format writes it: a decimal float, +Inf, -Inf or NaN.
// strtod alone would also take "inf", "0x1p3" or "nan(1)".
bool parse_value(std::string_view text, double& out) {
    if (text == "+Inf") {
        out = std::numeric_limits<double>::infinity();
        return true;
    }
    if (text == "-Inf") {
        out = -std::numeric_limits<double>::infinity();
        return true;
    }
    if (text == "NaN") {
        out = std::numeric_limits<double>::quiet_NaN();
        return true;
    }
    static const std::regex decimal(R"([-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?)");
    const std::string copy(text);
    if (!std::regex_match(copy, decimal)) return false;
    out = std::strtod(copy.c_str(), nullptr);
    return true;
}

bool valid_timestamp(std::string_view text) {
    if (!text.empty() && text[0] == '-') text.remove_prefix(1);
    if (text.empty()) return false;
    for (char c : text) {
        if (!is_digit(c)) return false;
    }
    return true;
}

// Undoes the escapes allowed in `text`: `\\`, `\n`, and `\"` when
// `quote_allowed`. False on any other escape or a trailing backslash.
bool unescape(std::string_view text, bool quote_allowed, std::string& out) {
    out.clear();
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\') {
            out += text[i];
            continue;
        }
        if (i + 1 == text.size()) return false;
        const char next = text[++i];
        if (next == '\\') out += '\\';
        else if (next == 'n') out += '\n';
        else if (next == '"' && quote_allowed) out += '"';
        else return false;
    }
    return true;
}

std::string series_key(const std::string& name, const PrometheusLabels& labels) {
    std::string key = name + "{";
    for (const auto& [label, value] : labels) key += label + "=\"" + value + "\",";
    return key + "}";
}

bool has_suffix(std::string_view text, std::string_view suffix) {
    return text.size() > suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Reads an exposition line by line into `out`.
class Reader {
public:
    explicit Reader(PrometheusExposition& out) : out_(out) {}

    void line(int number, std::string_view text);
    void finish() { close_family(); }

private:
    void comment(std::string_view text);
    void announce(bool help, std::string_view rest);
    void sample(std::string_view text);
    bool parse_labels(std::string_view& rest, PrometheusLabels& labels);
    bool belongs(const PrometheusFamily& family, std::string_view sample_name) const;
    void close_family();
    void check_counter(const PrometheusFamily& family);
    void check_histogram(const PrometheusFamily& family);
    void error(std::string message) { error_at(line_, std::move(message)); }
    void error_at(int line, std::string message) {
        out_.errors.push_back("line " + std::to_string(line) + ": " + std::move(message));
    }

    PrometheusExposition& out_;
    int line_ = 0;
    PrometheusFamily* current_ = nullptr;
    bool current_has_help_ = false;
    bool current_has_type_ = false;
    int current_line_ = 0;  // where the current family was announced
    std::set<std::string> announced_;
    std::set<std::string> series_;
};

void Reader::line(int number, std::string_view text) {
    line_ = number;
    if (text.find('\r') != std::string_view::npos) {
        error("carriage return in a line (lines end in \\n only)");
        return;
    }
    if (text.empty()) return;  // the format ignores empty lines
    if (text[0] == '#') {
        comment(text);
        return;
    }
    sample(text);
}

void Reader::comment(std::string_view text) {
    // "# HELP name doc" and "# TYPE name type"; any other comment is ignored.
    std::string_view rest = text.substr(1);
    if (rest.empty() || !is_blank(rest[0])) return;
    while (!rest.empty() && is_blank(rest[0])) rest.remove_prefix(1);
    const size_t end = rest.find_first_of(" \t");
    const std::string_view keyword = rest.substr(0, end);
    if (keyword != "HELP" && keyword != "TYPE") return;
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    if (rest.empty() || !is_blank(rest[0])) {
        error(std::string(keyword) + " line without a metric name");
        return;
    }
    rest.remove_prefix(1);
    announce(keyword == "HELP", rest);
}

void Reader::announce(bool help, std::string_view rest) {
    const char* what = help ? "HELP" : "TYPE";
    const size_t end = rest.find_first_of(" \t");
    const std::string name(rest.substr(0, end));
    std::string_view tail = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (!valid_name(name, true)) {
        error(std::string(what) + " names an invalid metric name '" + name + "'");
        return;
    }
    if (current_ == nullptr || current_->name != name) {
        if (announced_.count(name) != 0) {
            error("family '" + name + "' announced again after other lines (a family's lines form one group)");
            return;
        }
        close_family();
        out_.families.push_back(PrometheusFamily{name, "", "", {}});
        current_ = &out_.families.back();
        current_has_help_ = current_has_type_ = false;
        current_line_ = line_;
        announced_.insert(name);
    } else if (!current_->samples.empty()) {
        error(std::string(what) + " for '" + name + "' after its samples");
        return;
    }
    bool& seen = help ? current_has_help_ : current_has_type_;
    if (seen) {
        error(std::string("a second ") + what + " line for '" + name + "'");
        return;
    }
    seen = true;
    if (help) {
        if (!unescape(tail, false, current_->help)) error("HELP of '" + name + "' has an escape other than \\\\ and \\n");
        if (!valid_utf8(tail)) error("HELP of '" + name + "' is not valid UTF-8");
        return;
    }
    static const std::set<std::string, std::less<>> types{"counter", "gauge", "histogram", "summary", "untyped"};
    if (types.count(tail) == 0) {
        error("TYPE of '" + name + "' is '" + std::string(tail) + "', not counter, gauge, histogram, summary or untyped");
        return;
    }
    current_->type = std::string(tail);
}

void Reader::sample(std::string_view text) {
    PrometheusSample sample;
    sample.line = line_;
    const size_t length = name_length(text);
    sample.name = std::string(text.substr(0, length));
    if (!valid_name(sample.name, true)) {
        error("sample line does not start with a valid metric name: '" + std::string(text) + "'");
        return;
    }
    std::string_view rest = text.substr(length);
    if (!rest.empty() && rest[0] == '{' && !parse_labels(rest, sample.labels)) return;
    if (rest.empty() || !is_blank(rest[0])) {
        error("no blank between the series and the value of '" + sample.name + "'");
        return;
    }
    while (!rest.empty() && is_blank(rest[0])) rest.remove_prefix(1);
    const size_t value_end = rest.find_first_of(" \t");
    const std::string_view value = rest.substr(0, value_end);
    if (!parse_value(value, sample.value)) {
        error("value '" + std::string(value) + "' of '" + sample.name + "' is not a float");
        return;
    }
    if (value_end != std::string_view::npos) {
        std::string_view timestamp = rest.substr(value_end);
        while (!timestamp.empty() && is_blank(timestamp[0])) timestamp.remove_prefix(1);
        if (!valid_timestamp(timestamp)) {
            error("after the value of '" + sample.name + "': '" + std::string(timestamp) +
                  "' is not an integer timestamp (or the line has trailing blanks)");
            return;
        }
    }
    if (current_ == nullptr || !belongs(*current_, sample.name)) {
        error("sample '" + sample.name + "' does not belong to the family announced before it" +
              (current_ == nullptr ? std::string(" (none was)") : " ('" + current_->name + "')"));
        return;
    }
    if (!current_has_help_ || !current_has_type_) {
        error("sample '" + sample.name + "' before its family had both HELP and TYPE lines");
    }
    if (!series_.insert(series_key(sample.name, sample.labels)).second) {
        error("duplicate series " + series_key(sample.name, sample.labels));
        return;
    }
    current_->samples.push_back(std::move(sample));
}

// Reads `{name="value",...}` from the front of `rest`, leaving what follows.
bool Reader::parse_labels(std::string_view& rest, PrometheusLabels& labels) {
    rest.remove_prefix(1);  // '{'
    while (true) {
        if (!rest.empty() && rest[0] == '}') {
            rest.remove_prefix(1);
            return true;
        }
        const size_t eq = rest.find('=');
        if (eq == std::string_view::npos) {
            error("label set not closed");
            return false;
        }
        const std::string name(rest.substr(0, eq));
        if (!valid_name(name, false) || name.rfind("__", 0) == 0) {
            error("invalid label name '" + name + "'");
            return false;
        }
        rest.remove_prefix(eq + 1);
        if (rest.empty() || rest[0] != '"') {
            error("value of label '" + name + "' is not quoted");
            return false;
        }
        size_t close = 1;
        while (close < rest.size() && rest[close] != '"') close += rest[close] == '\\' ? 2 : 1;
        if (close >= rest.size()) {
            error("value of label '" + name + "' is not closed");
            return false;
        }
        std::string value;
        if (!unescape(rest.substr(1, close - 1), true, value)) {
            error("value of label '" + name + "' has an escape other than \\\\, \\\" and \\n");
            return false;
        }
        if (!valid_utf8(value)) {
            error("value of label '" + name + "' is not valid UTF-8");
            return false;
        }
        if (!labels.emplace(name, value).second) {
            error("label '" + name + "' given twice");
            return false;
        }
        rest.remove_prefix(close + 1);
        if (!rest.empty() && rest[0] == ',') {
            rest.remove_prefix(1);
        } else if (rest.empty() || rest[0] != '}') {
            error("expected ',' or '}' after label '" + name + "'");
            return false;
        }
    }
}

bool Reader::belongs(const PrometheusFamily& family, std::string_view sample_name) const {
    if (sample_name == family.name) return family.type != "histogram";
    if (sample_name.substr(0, family.name.size()) != family.name) return false;
    const std::string_view suffix = sample_name.substr(family.name.size());
    if (family.type == "histogram") return suffix == "_bucket" || suffix == "_sum" || suffix == "_count";
    if (family.type == "summary") return suffix == "_sum" || suffix == "_count";
    return false;
}

void Reader::close_family() {
    if (current_ == nullptr) return;
    if (!current_has_help_) error_at(current_line_, "family '" + current_->name + "' has no HELP line");
    if (!current_has_type_) error_at(current_line_, "family '" + current_->name + "' has no TYPE line");
    if (current_->type == "counter") check_counter(*current_);
    if (current_->type == "histogram") check_histogram(*current_);
    current_ = nullptr;
}

void Reader::check_counter(const PrometheusFamily& family) {
    for (const PrometheusSample& sample : family.samples) {
        if (std::isnan(sample.value) || sample.value < 0) {
            error_at(sample.line, "counter '" + sample.name + "' is negative or NaN");
        }
    }
}

// Buckets per series (the labels other than `le`), in the order written.
void Reader::check_histogram(const PrometheusFamily& family) {
    struct Series {
        std::vector<std::pair<double, const PrometheusSample*>> buckets;
        const PrometheusSample* sum = nullptr;
        const PrometheusSample* count = nullptr;
        int line = 0;
    };
    std::map<std::string, Series> series;
    for (const PrometheusSample& sample : family.samples) {
        PrometheusLabels labels = sample.labels;
        const auto le = labels.find("le");
        const bool has_le = le != labels.end();
        std::optional<double> bound;
        if (has_le) {
            double parsed = 0;
            if (!has_suffix(sample.name, "_bucket")) {
                error_at(sample.line, "'" + sample.name + "' carries an 'le' label");
            } else if (!parse_value(le->second, parsed) || std::isnan(parsed)) {
                error_at(sample.line, "le=\"" + le->second + "\" is not a bucket bound");
            } else {
                bound = parsed;
            }
            labels.erase(le);
        }
        Series& s = series[series_key(family.name, labels)];
        if (s.line == 0) s.line = sample.line;
        if (std::isnan(sample.value) || sample.value < 0) {
            error_at(sample.line, "'" + sample.name + "' is negative or NaN");
        }
        if (has_suffix(sample.name, "_bucket")) {
            if (!has_le) error_at(sample.line, "bucket without an 'le' label");
            if (bound) s.buckets.emplace_back(*bound, &sample);
        } else if (has_suffix(sample.name, "_sum")) {
            s.sum = &sample;
        } else {
            s.count = &sample;
        }
    }
    for (const auto& [key, s] : series) {
        if (s.buckets.empty()) error_at(s.line, key + ": histogram without buckets");
        for (size_t i = 1; i < s.buckets.size(); ++i) {
            if (!(s.buckets[i].first > s.buckets[i - 1].first)) {
                error_at(s.buckets[i].second->line, key + ": bucket bounds not in increasing order");
            }
            if (s.buckets[i].second->value < s.buckets[i - 1].second->value) {
                error_at(s.buckets[i].second->line, key + ": bucket counts decrease (they are cumulative)");
            }
        }
        if (!s.sum) error_at(s.line, key + ": no _sum sample");
        if (!s.count) error_at(s.line, key + ": no _count sample");
        if (s.buckets.empty()) continue;
        if (!std::isinf(s.buckets.back().first) || s.buckets.back().first < 0) {
            error_at(s.buckets.back().second->line, key + ": the last bucket is not le=\"+Inf\"");
        } else if (s.count && s.buckets.back().second->value != s.count->value) {
            error_at(s.count->line, key + ": _count differs from the le=\"+Inf\" bucket");
        }
    }
}

}  // namespace

const PrometheusFamily* PrometheusExposition::family(std::string_view name) const {
    for (const PrometheusFamily& f : families) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

std::optional<double> PrometheusExposition::value(std::string_view name, const PrometheusLabels& labels) const {
    for (const PrometheusFamily& f : families) {
        for (const PrometheusSample& sample : f.samples) {
            if (sample.name == name && sample.labels == labels) return sample.value;
        }
    }
    return std::nullopt;
}

std::vector<PrometheusSample> PrometheusExposition::samples(std::string_view name) const {
    std::vector<PrometheusSample> out;
    for (const PrometheusFamily& f : families) {
        for (const PrometheusSample& sample : f.samples) {
            if (sample.name == name) out.push_back(sample);
        }
    }
    return out;
}

std::string PrometheusExposition::describe_errors() const {
    std::string out;
    for (const std::string& e : errors) out += e + "\n";
    return out;
}

PrometheusExposition parse_prometheus_text(std::string_view text) {
    PrometheusExposition out;
    Reader reader(out);
    int number = 0;
    size_t start = 0;
    while (start < text.size()) {
        const size_t newline = text.find('\n', start);
        ++number;
        if (newline == std::string_view::npos) {
            reader.line(number, text.substr(start));
            out.errors.push_back("line " + std::to_string(number) + ": the last line does not end in \\n");
            break;
        }
        reader.line(number, text.substr(start, newline - start));
        start = newline + 1;
    }
    reader.finish();
    return out;
}

}  // namespace afterhook::testing
