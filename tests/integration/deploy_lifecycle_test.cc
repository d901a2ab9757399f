// The Kubernetes lifecycle, played locally: the ConfigMap's own config
// (deploy/kubernetes/base/afterhook.yaml, ports moved to free ones), mounted
// the way the kubelet mounts a ConfigMap volume, updated by swapping the
// `..data` symlink, and stopped with SIGTERM as the kubelet stops a pod.
// Nothing may be lost: every 5xx fires its webhook, old or new config.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "support/afterhook_process.h"
#include "support/fake_upstream.h"
#include "support/raw_client.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The ConfigMap's config with the pod's fixed ports replaced for a test.
std::string configmap_config(const std::string& app_address, const std::string& marker) {
    std::string yaml = read_text(std::string(AFTERHOOK_SOURCE_DIR) + "/deploy/kubernetes/base/afterhook.yaml");
    auto replace = [&](const std::string& from, const std::string& to) {
        size_t at = yaml.find(from);
        REQUIRE_MESSAGE(at != std::string::npos, "the ConfigMap config no longer contains: " << from);
        yaml.replace(at, from.size(), to);
    };
    replace("listen: 0.0.0.0:8000", "listen: 127.0.0.1:0");
    replace("upstream: 127.0.0.1:8080", "upstream: " + app_address);
    replace("listen: 0.0.0.0:9901", "listen: 127.0.0.1:0");
    replace("(request {{request.id}})", "(request {{request.id}}) " + marker);
    return yaml;
}

void write_generation(const TempDir& dir, const std::string& name, const std::string& yaml) {
    std::filesystem::create_directory(dir.file(name));
    std::ofstream(dir.file(name + "/afterhook.yaml")) << yaml;
}

int get_status(uint16_t port, const std::string& target) {
    RawClient client = RawClient::connect(port);
    client.send("GET " + target + " HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n");
    return client.read_response(10s).status;
}

size_t deliveries_with(const FakeUpstream& receiver, const std::string& marker) {
    size_t n = 0;
    for (const auto& request : receiver.requests())
        if (request.target == "/slack" && request.body.find(marker) != std::string::npos) ++n;
    return n;
}

}  // namespace

TEST_CASE("kubernetes lifecycle: ConfigMap config, ..data swap, SIGTERM - every event delivered") {
    FakeUpstream receiver(FakeUpstream::respond_with(200, "ok"));
    FakeUpstream app([](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.target == "/slow") std::this_thread::sleep_for(1s);  // in flight when the pod stops
        conn.respond(request.target.rfind("/fail", 0) == 0 ? 503 : 200, "app\n");
    });
    // The Secret's value, through the container's environment.
    ::setenv("SLACK_WEBHOOK_URL", ("http://" + receiver.address() + "/slack").c_str(), 1);

    TempDir volume;
    write_generation(volume, "..2026_11_22_01", configmap_config(app.address(), "[v1]"));
    std::filesystem::create_directory_symlink("..2026_11_22_01", volume.file("..data"));
    std::filesystem::create_symlink("..data/afterhook.yaml", volume.file("afterhook.yaml"));
    AfterhookProcess pod(volume.file("afterhook.yaml"));
    INFO("afterhook output:\n" << pod.diagnostics());

    for (int i = 0; i < 20; ++i) CHECK(get_status(pod.port(), "/fail/" + std::to_string(i)) == 503);

    // `kubectl apply` of a changed ConfigMap: the kubelet writes a new
    // timestamped directory and renames a fresh symlink over ..data.
    write_generation(volume, "..2026_11_22_02", configmap_config(app.address(), "[v2]"));
    std::filesystem::create_directory_symlink("..2026_11_22_02", volume.file("..data_tmp"));
    REQUIRE(::rename(volume.file("..data_tmp").c_str(), volume.file("..data").c_str()) == 0);
    std::filesystem::remove_all(volume.file("..2026_11_22_01"));
    REQUIRE(pod.process().wait_for_line(std::regex("info config reloaded"), 5s));

    for (int i = 0; i < 10; ++i) CHECK(get_status(pod.port(), "/fail/after-" + std::to_string(i)) == 503);

    // The kubelet stops the pod while a request is in flight.
    int slow_status = 0;
    std::thread slow([&] { slow_status = get_status(pod.port(), "/slow"); });
    REQUIRE(wait_until([&] { return app.request_count() >= 31 || app.incomplete_requests() > 0; }, 5s));
    REQUIRE(pod.signal(SIGTERM));
    slow.join();
    CHECK(slow_status == 200);
    REQUIRE(pod.process().wait_exit(25s));
    CHECK(pod.process().exit_code() == 0);

    // Nothing lost: all 30 alerts arrived, each under the config its request started with.
    CHECK(deliveries_with(receiver, "[v1]") == 20);
    CHECK(deliveries_with(receiver, "[v2]") == 10);
    ::unsetenv("SLACK_WEBHOOK_URL");
}
