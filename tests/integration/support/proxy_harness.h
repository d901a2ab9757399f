// ProxyHarness: the usual cast of one proxy test. A temporary directory, a
// fake upstream running the test's handler, afterhook started from a
// ProxyConfig that points at it (with a `log` hook writing to
// <dir>/access.log), and clients connecting to afterhook.
//
// Teardown order matters and is fixed by member order: afterhook stops
// first (it may still be talking to the upstream), then the fake upstream,
// then the directory goes.
#pragma once

#include <memory>
#include <string>

#include "support/access_log.h"
#include "support/afterhook_process.h"
#include "support/fake_upstream.h"
#include "support/proxy_config.h"
#include "support/raw_client.h"
#include "support/temp_dir.h"

namespace afterhook::testing {

class ProxyHarness {
public:
    // Leaves config.upstream alone when it is set (a RefusedPort, say);
    // otherwise points it at the fake upstream. Sets config.log_path to
    // <dir>/access.log unless it is set. Throws when afterhook does not start.
    explicit ProxyHarness(ProxyConfig config = {},
                          FakeUpstream::Handler handler = FakeUpstream::echo_handler(),
                          FakeUpstream::Options options = {});
    ~ProxyHarness();

    FakeUpstream& upstream() { return *upstream_; }
    AfterhookProcess& proxy() { return *proxy_; }
    const AccessLog& log() const { return *log_; }
    const ProxyConfig& config() const { return config_; }
    const TempDir& dir() const { return dir_; }
    uint16_t port() const { return proxy_->port(); }

    RawClient connect(int receive_buffer = 0) const { return RawClient::connect(port(), receive_buffer); }
    // One exchange on a fresh connection: connect, send `request`, read one
    // final response (interim 1xx responses are skipped).
    HttpResponse exchange(std::string_view request, const ResponseOptions& options = {}) const;

private:
    TempDir dir_;
    ProxyConfig config_;
    std::unique_ptr<FakeUpstream> upstream_;
    std::unique_ptr<AccessLog> log_;
    std::unique_ptr<AfterhookProcess> proxy_;
};

}  // namespace afterhook::testing
