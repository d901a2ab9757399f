#include "support/admin_client.h"

namespace afterhook::testing {

HttpResponse AdminClient::request(std::string_view method, std::string_view path,
                                  Clock::duration timeout) const {
    HttpResponse failed;
    auto client = RawClient::try_connect(port_);
    if (!client) {
        failed.error = "cannot connect to the admin port " + std::to_string(port_);
        return failed;
    }
    std::string head(method);
    head += " ";
    head.append(path);
    head += " HTTP/1.1\r\nHost: admin.test\r\nConnection: close\r\n\r\n";
    if (!client->send(head, timeout)) {
        failed.error = "could not send to the admin port: " + client->stream().last_error();
        return failed;
    }
    ResponseOptions options;
    options.timeout = timeout;
    options.head_request = method == "HEAD";
    return client->read_response(options);
}

PrometheusExposition AdminClient::metrics() const {
    const HttpResponse response = get("/metrics");
    if (!response.ok() || response.status != 200) {
        PrometheusExposition failed;
        failed.errors.push_back("GET /metrics: " + response.describe());
        return failed;
    }
    return parse_prometheus_text(response.body);
}

std::optional<double> AdminClient::metric(std::string_view name, const PrometheusLabels& labels) const {
    return metrics().value(name, labels);
}

bool AdminClient::wait_for_metric(std::string_view name, const PrometheusLabels& labels,
                                  const std::function<bool(double)>& holds, Clock::duration timeout) const {
    return wait_until(
        [&] {
            const auto value = metric(name, labels);
            return value && holds(*value);
        },
        timeout, Millis(20));
}

}  // namespace afterhook::testing
