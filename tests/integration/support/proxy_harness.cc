#include "support/proxy_harness.h"

namespace afterhook::testing {

ProxyHarness::ProxyHarness(ProxyConfig config, FakeUpstream::Handler handler,
                           FakeUpstream::Options options)
    : config_(std::move(config)),
      upstream_(std::make_unique<FakeUpstream>(std::move(handler), options)) {
    if (config_.upstream.empty()) config_.upstream = upstream_->address();
    if (config_.log_path.empty()) config_.log_path = dir_.file("access.log");
    log_ = std::make_unique<AccessLog>(config_.log_path);
    proxy_ = std::make_unique<AfterhookProcess>(dir_, config_.render());
}

ProxyHarness::~ProxyHarness() {
    proxy_.reset();
    upstream_.reset();
}

HttpResponse ProxyHarness::exchange(std::string_view request, const ResponseOptions& options) const {
    RawClient client = connect();
    if (!client.send(request)) {
        HttpResponse failed;
        failed.error = "could not send the request: " + client.stream().last_error();
        return failed;
    }
    return client.read_final_response(options);
}

}  // namespace afterhook::testing
