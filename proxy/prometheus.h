// PrometheusText: builds the text exposition format (version 0.0.4): one
// HELP and TYPE line per family, then its samples.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/histogram.h"

namespace afterhook::proxy {

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

class PrometheusText {
public:
    void family(std::string_view name, std::string_view type, std::string_view help);
    void sample(std::string_view name, const Labels& labels, double value);
    void sample(std::string_view name, const Labels& labels, uint64_t value);
    // The _bucket, _sum and _count samples of one histogram.
    void histogram(std::string_view name, const Labels& labels, const Histogram& histogram);
    const std::string& text() const { return out_; }

private:
    void labels(const Labels& labels, std::string_view extra_name = {}, std::string_view extra_value = {});
    std::string out_;
};

}  // namespace afterhook::proxy
