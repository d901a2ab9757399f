#include "proxy/prometheus.h"

#include <cmath>
#include <cstdio>

namespace afterhook::proxy {

namespace {

void append_escaped(std::string& out, std::string_view value) {
    for (char c : value) {
        if (c == '\\') out.append("\\\\");
        else if (c == '"') out.append("\\\"");
        else if (c == '\n') out.append("\\n");
        else out.push_back(c);
    }
}

void append_double(std::string& out, double value) {
    if (std::isinf(value)) {
        out.append(value > 0 ? "+Inf" : "-Inf");
        return;
    }
    char buffer[64];
    int n = std::snprintf(buffer, sizeof buffer, "%.15g", value);
    out.append(buffer, static_cast<size_t>(n));
}

}  // namespace

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ");
    for (char c : help) {
        if (c == '\\') out_.append("\\\\");
        else if (c == '\n') out_.append("\\n");
        else out_.push_back(c);
    }
    out_.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
}

void PrometheusText::labels(const Labels& labels, std::string_view extra_name, std::string_view extra_value) {
    if (labels.empty() && extra_name.empty()) return;
    out_.push_back('{');
    bool first = true;
    auto add = [&](std::string_view n, std::string_view v) {
        if (!first) out_.push_back(',');
        first = false;
        out_.append(n).append("=\"");
        append_escaped(out_, v);
        out_.push_back('"');
    };
    for (const auto& [n, v] : labels) add(n, v);
    if (!extra_name.empty()) add(extra_name, extra_value);
    out_.push_back('}');
}

void PrometheusText::sample(std::string_view name, const Labels& l, double value) {
    out_.append(name);
    labels(l);
    out_.push_back(' ');
    append_double(out_, value);
    out_.push_back('\n');
}

void PrometheusText::sample(std::string_view name, const Labels& l, uint64_t value) {
    out_.append(name);
    labels(l);
    out_.push_back(' ');
    out_.append(std::to_string(value));
    out_.push_back('\n');
}

void PrometheusText::histogram(std::string_view name, const Labels& l, const Histogram& h) {
    std::string bucket = std::string(name) + "_bucket";
    for (size_t i = 0; i <= Histogram::kBounds.size(); ++i) {
        std::string le;
        if (i == Histogram::kBounds.size()) le = "+Inf";
        else append_double(le, Histogram::kBounds[i]);
        out_.append(bucket);
        labels(l, "le", le);
        out_.push_back(' ');
        out_.append(std::to_string(h.cumulative(i)));
        out_.push_back('\n');
    }
    sample(std::string(name) + "_sum", l, h.sum());
    sample(std::string(name) + "_count", l, h.count());
}

}  // namespace afterhook::proxy
