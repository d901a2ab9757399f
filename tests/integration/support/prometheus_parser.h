// A strict reader of the Prometheus text exposition format (version
// 0.0.4), written for the tests so that /metrics is checked by something
// that forgives nothing the format forbids:
//
// - every sample line belongs to the family last announced, and that family
//   had both a `# HELP` and a `# TYPE` line (once each) before its first
//   sample; a family's lines form one group;
// - metric and label names follow the format's syntax, label values use
//   only the `\\`, `\"` and `\n` escapes, and no label name repeats;
// - values are floats as the format writes them (digits, `+Inf`, `-Inf`,
//   `NaN`), with an optional integer timestamp;
// - a series (sample name and label set) appears once;
// - counters are never negative; a histogram's `_bucket` samples carry
//   `le`, come in increasing `le` order with non-decreasing counts, end in
//   `le="+Inf"` equal to `_count`, and every series has `_sum` and `_count`.
//
// The reader never throws: each violation becomes one "line N: ..." entry of
// PrometheusExposition::errors, and everything readable is still returned so
// that a test can show both.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afterhook::testing {

using PrometheusLabels = std::map<std::string, std::string>;

struct PrometheusSample {
    std::string name;  // as written, e.g. "afterhook_request_duration_seconds_bucket"
    PrometheusLabels labels;
    double value = 0;
    int line = 0;  // 1-based
};

struct PrometheusFamily {
    std::string name;
    std::string type;  // counter, gauge, histogram, summary or untyped
    std::string help;  // unescaped
    std::vector<PrometheusSample> samples;
};

struct PrometheusExposition {
    std::vector<PrometheusFamily> families;  // in the order announced
    std::vector<std::string> errors;         // empty when the text is valid

    bool ok() const { return errors.empty(); }
    const PrometheusFamily* family(std::string_view name) const;
    // The sample named `name` whose label set is exactly `labels`.
    std::optional<double> value(std::string_view name, const PrometheusLabels& labels = {}) const;
    // Every sample named `name`, whatever its labels.
    std::vector<PrometheusSample> samples(std::string_view name) const;
    // One line per error, for failure messages.
    std::string describe_errors() const;
};

PrometheusExposition parse_prometheus_text(std::string_view text);

}  // namespace afterhook::testing
