// libcurl and libcrypto are opened on demand: an afterhook whose hooks are
// logs never maps them (that is most of its idle memory), and a reload that
// adds a signed webhook opens both and delivers through them.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/admin_client.h"
#include "support/afterhook_process.h"
#include "support/fake_upstream.h"
#include "support/raw_client.h"
#include "support/temp_dir.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

// The file names of the shared libraries mapped into process `pid`.
std::string mapped_libraries(int pid) {
    std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
    std::ostringstream names;
    for (std::string line; std::getline(maps, line);) {
        const size_t slash = line.rfind('/');
        if (slash != std::string::npos && line.find(".so", slash) != std::string::npos)
            names << line.substr(slash + 1) << "\n";
    }
    return names.str();
}

std::string base_config(const FakeUpstream& upstream, const TempDir& dir) {
    return "listen: 127.0.0.1:0\n"
           "upstream: " + upstream.address() + "\n"
           "workers: 1\n"
           "admin: {listen: 127.0.0.1:0}\n"
           "timeouts: {drain: 1s}\n"
           "hooks:\n"
           "  - name: access\n"
           "    log: {path: \"" + dir.file("access.log") + "\"}\n";
}

void get_ok(const AfterhookProcess& proxy, const std::string& target) {
    RawClient client = RawClient::connect(proxy.port());
    REQUIRE(client.send(get_request(target)));
    REQUIRE(client.read_response(3s).status == 200);
}

}  // namespace

TEST_SUITE("hooks on demand") {

TEST_CASE("libcurl and libcrypto stay unloaded without webhook hooks, and a reload that adds a signed webhook loads them") {
    FakeUpstream upstream;
    FakeUpstream receiver(FakeUpstream::respond_with(200, "ok"));
    TempDir dir;
    AfterhookProcess proxy(dir, base_config(upstream, dir));
    INFO("afterhook output:\n", proxy.diagnostics());
    const AdminClient admin(proxy.admin_port());
    const int pid = proxy.process().pid();

    get_ok(proxy, "/before");
    REQUIRE(admin.wait_for_metric("afterhook_hook_events_total", {{"hook", "access"}, {"result", "delivered"}},
                                  [](double v) { return v == 1; }, 5s));
    std::string libraries = mapped_libraries(pid);
    INFO("mapped before the reload:\n", libraries);
    REQUIRE(libraries.find("libuv.so") != std::string::npos);  // the listing itself works
    CHECK(libraries.find("libcurl.so") == std::string::npos);
    CHECK(libraries.find("libcrypto.so") == std::string::npos);

    replace_file(proxy.config_path(), base_config(upstream, dir) +
                                          "  - name: signed\n"
                                          "    webhook:\n"
                                          "      url: \"http://" + receiver.address() + "/events\"\n"
                                          "      body: {path: \"{{request.path}}\"}\n"
                                          "      sign: {secret: \"on-demand-test-secret\"}\n");
    REQUIRE(proxy.signal(SIGHUP));
    REQUIRE(admin.wait_for_metric("afterhook_config_reloads_total", {{"result", "success"}},
                                  [](double v) { return v == 1; }, 5s));

    get_ok(proxy, "/after");
    REQUIRE(receiver.wait_for_requests(1, 5s));
    const UpstreamRequest delivery = receiver.request(0);
    CHECK(delivery.body.find("\"/after\"") != std::string::npos);
    CHECK(delivery.header("webhook-signature").value_or("").rfind("v1,", 0) == 0);
    libraries = mapped_libraries(pid);
    INFO("mapped after the reload:\n", libraries);
    CHECK(libraries.find("libcurl.so.4") != std::string::npos);
    CHECK(libraries.find("libcrypto.so.3") != std::string::npos);
}

}  // TEST_SUITE
