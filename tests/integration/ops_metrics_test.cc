// The admin listener: /metrics read by a strict Prometheus text reader
// (support/prometheus_parser.h), with counters that match the traffic sent
// exactly, and /livez, /readyz, HEAD and 405 on its own port.
#include <doctest/doctest.h>

#include <map>

#include "support/admin_client.h"
#include "support/expectations.h"
#include "support/prometheus_parser.h"
#include "support/proxy_harness.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

// Every family DESIGN.md names, with its type.
const std::map<std::string, std::string> kFamilies = {
    {"afterhook_build_info", "gauge"},
    {"afterhook_requests_total", "counter"},
    {"afterhook_request_duration_seconds", "histogram"},
    {"afterhook_upstream_errors_total", "counter"},
    {"afterhook_connections_active", "gauge"},
    {"afterhook_connections_total", "counter"},
    {"afterhook_connections_rejected_total", "counter"},
    {"afterhook_upstream_connections_opened_total", "counter"},
    {"afterhook_upstream_connections_reused_total", "counter"},
    {"afterhook_records_dropped_total", "counter"},
    {"afterhook_hook_events_total", "counter"},
    {"afterhook_hook_queue_depth", "gauge"},
    {"afterhook_hook_delivery_duration_seconds", "histogram"},
    {"afterhook_config_reloads_total", "counter"},
    {"afterhook_config_last_reload_successful", "gauge"},
};

double sum_of(const PrometheusExposition& m, std::string_view name) {
    double total = 0;
    for (const PrometheusSample& sample : m.samples(name)) total += sample.value;
    return total;
}

// 404 for /missing/..., a reset before any response byte for /reset, else 200.
void app(UpstreamConn& conn, const UpstreamRequest& request) {
    if (request.target == "/reset") {
        conn.reset();
    } else if (request.target.rfind("/missing/", 0) == 0) {
        conn.respond(404, "no such thing");
    } else {
        conn.respond(200, "fine");
    }
}

}  // namespace

TEST_SUITE("ops metrics") {

TEST_CASE("the strict Prometheus reader accepts a valid exposition and decodes it") {
    const PrometheusExposition m = parse_prometheus_text(
        "# HELP demo_total Things done, with a \\\\ and a \\n in the help.\n"
        "# TYPE demo_total counter\n"
        "demo_total{kind=\"a \\\"quoted\\\" \\\\ value\\n\"} 3\n"
        "demo_total{kind=\"b\",} 4 1700000000000\n"
        "# a plain comment is allowed\n"
        "\n"
        "# TYPE demo_seconds histogram\n"
        "# HELP demo_seconds Durations.\n"
        "demo_seconds_bucket{le=\"0.5\"} 1\n"
        "demo_seconds_bucket{le=\"1\"} 1\n"
        "demo_seconds_bucket{le=\"+Inf\"} 2\n"
        "demo_seconds_sum 2.5e0\n"
        "demo_seconds_count 2\n"
        "# HELP demo_gauge A gauge.\n"
        "# TYPE demo_gauge gauge\n"
        "demo_gauge -Inf\n");
    INFO(m.describe_errors());
    CHECK(m.ok());
    CHECK(m.value("demo_total", {{"kind", "a \"quoted\" \\ value\n"}}) == 3.0);
    CHECK(m.value("demo_total", {{"kind", "b"}}) == 4.0);
    CHECK(m.value("demo_seconds_sum") == 2.5);
    REQUIRE(m.family("demo_total") != nullptr);
    CHECK(m.family("demo_total")->help == "Things done, with a \\ and a \n in the help.");
    CHECK(m.family("demo_seconds")->type == "histogram");
}

TEST_CASE("the strict Prometheus reader rejects what the text format forbids") {
    const std::string head = "# HELP x X.\n# TYPE x gauge\n";
    const std::string hist = "# HELP h H.\n# TYPE h histogram\n";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"a sample with no family", "x 1\n"},
        {"a family without HELP", "# TYPE x gauge\nx 1\n"},
        {"a family without TYPE", "# HELP x X.\nx 1\n"},
        {"HELP after the samples", "# TYPE x gauge\nx 1\n# HELP x X.\n"},
        {"two TYPE lines", head + "# TYPE x gauge\nx 1\n"},
        {"an unknown type", "# HELP x X.\n# TYPE x meter\nx 1\n"},
        {"a bad metric name", "# HELP 1x X.\n# TYPE 1x gauge\n1x 1\n"},
        {"a sample of another family", head + "y 1\n"},
        {"a family split in two groups", head + "x{a=\"1\"} 1\n" + "# HELP y Y.\n# TYPE y gauge\ny 1\n" +
                                             "# HELP x X.\n# TYPE x gauge\nx{a=\"2\"} 1\n"},
        {"a bad label name", head + "x{1a=\"1\"} 1\n"},
        {"a reserved label name", head + "x{__name__=\"x\"} 1\n"},
        {"an unquoted label value", head + "x{a=1} 1\n"},
        {"an unknown escape", head + "x{a=\"\\t\"} 1\n"},
        {"a repeated label", head + "x{a=\"1\",a=\"2\"} 1\n"},
        {"an unclosed label set", head + "x{a=\"1\" 1\n"},
        {"a value that is not a float", head + "x one\n"},
        {"a value strtod takes but the format does not", head + "x inf\n"},
        {"a hexadecimal value", head + "x 0x10\n"},
        {"a bad timestamp", head + "x 1 soon\n"},
        {"trailing blanks", head + "x 1 \n"},
        {"no blank before the value", head + "x{a=\"1\"}1\n"},
        {"a duplicate series", head + "x{a=\"1\"} 1\nx{a=\"1\"} 2\n"},
        {"a negative counter", "# HELP c C.\n# TYPE c counter\nc -1\n"},
        {"a carriage return", head + "x 1\r\n"},
        {"no newline at the end", head + "x 1"},
        {"decreasing buckets", hist + "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"},
        {"buckets out of order", hist + "h_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"},
        {"no +Inf bucket", hist + "h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"},
        {"+Inf bucket differs from _count", hist + "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n"},
        {"no _sum", hist + "h_bucket{le=\"+Inf\"} 1\nh_count 1\n"},
        {"no _count", hist + "h_bucket{le=\"+Inf\"} 1\nh_sum 1\n"},
        {"a bucket without le", hist + "h_bucket 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"},
        {"le on _sum", hist + "h_bucket{le=\"+Inf\"} 1\nh_sum{le=\"1\"} 1\nh_count 1\n"},
        {"a bare histogram sample", hist + "h 1\n"},
    };
    for (const auto& [name, text] : cases) {
        INFO("case: ", name, "\n", text);
        CHECK_FALSE(parse_prometheus_text(text).ok());
    }
}

TEST_CASE("metrics parse strictly and count exactly the traffic sent") {
    ProxyHarness h({}, app);
    const AdminClient admin(h.proxy().admin_port());
    REQUIRE(admin.port() != 0);
    CHECK(admin.port() != h.port());

    // Before any traffic: a valid page with every family and nothing counted yet.
    const PrometheusExposition before = admin.metrics();
    INFO("before:\n", before.describe_errors());
    CHECK(before.ok());
    CHECK(before.samples("afterhook_requests_total").empty());
    CHECK(before.value("afterhook_connections_total") == 0.0);

    // 7 x 200 and 3 x 404 on one keep-alive connection.
    {
        RawClient client = h.connect();
        for (int i = 0; i < 10; ++i) {
            const bool ok = i < 7;
            REQUIRE(client.send(get_request((ok ? "/ok/" : "/missing/") + std::to_string(i))));
            const HttpResponse response = client.read_response();
            INFO(response.describe());
            REQUIRE(response.ok());
            CHECK(response.status == (ok ? 200 : 404));
        }
        // Afterhook sees this connection open until the client closes it.
        CHECK(admin.wait_for_metric("afterhook_connections_active", {}, [](double v) { return v == 1; }, 2s));
    }
    // 2 x 502: the upstream resets before any response byte.
    for (int i = 0; i < 2; ++i) {
        RawClient client = h.connect();
        REQUIRE(client.send(get_request("/reset")));
        const HttpResponse response = client.read_response(3s);
        check_afterhook_error(response, 502);
    }

    CHECK(admin.wait_for_metric("afterhook_connections_active", {}, [](double v) { return v == 0; }, 3s));
    CHECK(admin.wait_for_metric("afterhook_hook_events_total", {{"hook", "access"}, {"result", "delivered"}},
                                [](double v) { return v >= 12; }, 5s));
    CHECK(h.log().wait_for_count(12, 3s));

    const PrometheusExposition m = admin.metrics();
    INFO("errors:\n", m.describe_errors());
    REQUIRE(m.ok());
    for (const auto& [name, type] : kFamilies) {
        INFO("family ", name);
        const PrometheusFamily* family = m.family(name);
        CHECK(family != nullptr);
        if (family != nullptr) CHECK(family->type == type);
    }

    std::map<std::string, double> by_code;
    for (const PrometheusSample& sample : m.samples("afterhook_requests_total")) {
        by_code[sample.labels.count("code") ? sample.labels.at("code") : "<no code label>"] += sample.value;
    }
    CHECK(by_code == std::map<std::string, double>{{"200", 7}, {"404", 3}, {"502", 2}});
    CHECK(m.value("afterhook_request_duration_seconds_count") == 12.0);
    CHECK(m.value("afterhook_request_duration_seconds_sum").value_or(0) > 0);
    CHECK(m.value("afterhook_upstream_errors_total", {{"reason", "reset"}}) == 2.0);
    CHECK(sum_of(m, "afterhook_upstream_errors_total") == 2.0);

    CHECK(m.value("afterhook_connections_active") == 0.0);
    CHECK(m.value("afterhook_connections_total") == 3.0);
    CHECK(m.value("afterhook_connections_rejected_total") == 0.0);
    // Upstream connections as the fake upstream counted them: each one
    // opened carried its first exchange, every other exchange was a reuse
    // (the reset one included: it was retried once on a fresh connection).
    const double opened = m.value("afterhook_upstream_connections_opened_total").value_or(-1);
    const double reused = m.value("afterhook_upstream_connections_reused_total").value_or(-1);
    CHECK(opened == static_cast<double>(h.upstream().accepted_connections()));
    CHECK(opened + reused == static_cast<double>(h.upstream().request_count()));

    CHECK(m.value("afterhook_records_dropped_total") == 0.0);
    CHECK(m.value("afterhook_hook_events_total", {{"hook", "access"}, {"result", "delivered"}}) == 12.0);
    CHECK(m.value("afterhook_hook_events_total", {{"hook", "access"}, {"result", "failed"}}) == 0.0);
    CHECK(m.value("afterhook_hook_events_total", {{"hook", "access"}, {"result", "dropped"}}) == 0.0);
    CHECK(m.value("afterhook_hook_events_total", {{"hook", "access"}, {"result", "retried"}}) == 0.0);
    CHECK(m.value("afterhook_hook_queue_depth", {{"hook", "access"}}) == 0.0);
    CHECK(m.value("afterhook_hook_delivery_duration_seconds_count", {{"hook", "access"}}) == 12.0);
    CHECK(h.log().count() == 12);

    CHECK(m.value("afterhook_config_reloads_total", {{"result", "success"}}) == 0.0);
    CHECK(m.value("afterhook_config_reloads_total", {{"result", "failure"}}) == 0.0);
    CHECK(m.value("afterhook_config_last_reload_successful") == 1.0);
    const auto build = m.samples("afterhook_build_info");
    REQUIRE(build.size() == 1);
    CHECK(build[0].value == 1.0);
    const auto version = build[0].labels.find("version");
    REQUIRE(version != build[0].labels.end());
    CHECK_FALSE(version->second.empty());
}

TEST_CASE("the admin listener answers livez and readyz and HEAD and refuses other methods") {
    ProxyHarness h;
    const AdminClient admin(h.proxy().admin_port());
    for (const char* path : {"/livez", "/readyz", "/metrics"}) {
        INFO("GET ", path);
        const HttpResponse response = admin.get(path);
        INFO(response.describe());
        CHECK(response.status == 200);
    }
    const HttpResponse metrics = admin.get("/metrics");
    CHECK(metrics.header("content-type").value_or("").rfind("text/plain; version=0.0.4", 0) == 0);

    const HttpResponse head = admin.request("HEAD", "/metrics");
    INFO(head.describe());
    CHECK(head.ok());
    CHECK(head.status == 200);
    CHECK(head.body_size == 0);

    for (const char* method : {"POST", "PUT", "DELETE"}) {
        INFO(method, " /metrics");
        const HttpResponse refused = admin.request(method, "/metrics");
        INFO(refused.describe());
        CHECK(refused.status == 405);
    }
    const HttpResponse unknown = admin.get("/nope");
    INFO(unknown.describe());
    CHECK(unknown.status == 404);
    // Proxied traffic is not the admin listener's business, and the reverse.
    const HttpResponse proxied = h.exchange(get_request("/metrics"));
    CHECK(proxied.status == 200);
    CHECK(proxied.body == "GET /metrics");
    CHECK(h.upstream().request_count() == 1);
}

}  // TEST_SUITE
