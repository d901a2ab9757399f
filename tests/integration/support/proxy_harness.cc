#include "support/proxy_harness.h"

#include <doctest/doctest.h>

#include <csignal>

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
    // A crash at any point of the test shows up here even when every
    // exchange happened to succeed before it.
    proxy_->stop();
    const int code = proxy_->process().exit_code();
    if (code < 0 && code != -SIGTERM && code != -SIGKILL) {
        FAIL_CHECK("afterhook died from signal ", -code, "; its last output:\n", proxy_->diagnostics());
    }
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
