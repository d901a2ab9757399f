// Hot reload: SIGHUP or a change in the config file's directory makes
// afterhook load the file again. A valid file is swapped in for new
// exchanges while an exchange in flight finishes (and fires its hooks)
// under the config it started with; a broken file leaves the running config
// in charge, logs every error with file:line:col and says so in /metrics; a
// Kubernetes-style `..data` symlink swap is seen without any signal; and
// `listen` is bound once, so changing it asks for a restart.
//
// Each config has one webhook hook, "notify", whose JSON body names the
// config's generation, so the receiver tells which config an event came from.
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <thread>
#include <unistd.h>

#include "support/admin_client.h"
#include "support/afterhook_process.h"
#include "support/fake_upstream.h"
#include "support/raw_client.h"
#include "support/refused_port.h"
#include "support/temp_dir.h"

using namespace afterhook::testing;
using namespace std::chrono_literals;

namespace {

struct HookedConfig {
    std::string upstream;    // 127.0.0.1:PORT
    std::string receiver;    // 127.0.0.1:PORT of the webhook receiver
    std::string generation;  // written into every event's body
    std::string listen = "127.0.0.1:0";
    unsigned workers = 1;

    std::string render() const {
        return "listen: " + listen + "\n" +
               "upstream: " + upstream + "\n" +
               "workers: " + std::to_string(workers) + "\n" +
               "admin: {listen: 127.0.0.1:0}\n"
               "timeouts: {drain: 2s}\n"
               "hooks:\n"
               "  - name: notify\n"
               "    webhook:\n"
               "      url: \"http://" + receiver + "/events\"\n" +
               "      body: {generation: \"" + generation + "\", path: \"{{request.path}}\"}\n" +
               "      timeout: 2s\n"
               "      retry: {attempts: 1}\n";
    }
};

// The body of the event the receiver got for the exchange on `path`.
std::optional<nlohmann::json> event_for(const FakeUpstream& receiver, const std::string& path,
                                        Clock::duration timeout = 5s) {
    std::optional<nlohmann::json> found;
    wait_until(
        [&] {
            for (const UpstreamRequest& request : receiver.requests()) {
                const auto body = nlohmann::json::parse(request.body, nullptr, false);
                if (body.is_object() && body.value("path", "") == path) {
                    found = body;
                    return true;
                }
            }
            return false;
        },
        timeout, Millis(10));
    return found;
}

std::string events_seen(const FakeUpstream& receiver) {
    std::string out;
    for (const UpstreamRequest& request : receiver.requests()) out += request.body + "\n";
    return out.empty() ? "(none)\n" : out;
}

// The generation of the event for `path`, or a description of its absence.
std::string generation_of(const FakeUpstream& receiver, const std::string& path) {
    const auto event = event_for(receiver, path);
    if (!event) return "<no event for " + path + ">";
    return event->value("generation", "<no generation>");
}

HttpResponse get(const AfterhookProcess& proxy, const std::string& target) {
    RawClient client = RawClient::connect(proxy.port());
    if (!client.send(get_request(target))) return {};
    return client.read_response(3s);
}

// `text` as a regular expression that matches it literally.
std::string quoted(const std::string& text) {
    return std::regex_replace(text, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
}

// Waits for a diagnostics line matching `pattern` printed after line `from`.
bool logged_after(AfterhookProcess& proxy, size_t from, const std::string& pattern,
                  Clock::duration timeout = 5s) {
    return proxy.process().wait_for_line(std::regex(pattern), timeout, from).has_value();
}

// Stops afterhook and checks it drained and exited 0 rather than crashing.
void stop_cleanly(AfterhookProcess& proxy) {
    proxy.stop(5s);
    INFO("afterhook output:\n", proxy.diagnostics());
    CHECK(proxy.process().exit_code() == 0);
}

double value_or_minus_one(const AdminClient& admin, std::string_view name, const PrometheusLabels& labels = {}) {
    return admin.metric(name, labels).value_or(-1);
}

}  // namespace

TEST_SUITE("ops reload") {

TEST_CASE("a reload with a new webhook body applies to new exchanges while one in flight keeps the old config") {
    FakeUpstream receiver(FakeUpstream::respond_with(200, "ok"));
    std::atomic<bool> release{false};
    FakeUpstream upstream([&](UpstreamConn& conn, const UpstreamRequest& request) {
        if (request.target == "/in-flight") conn.wait([&] { return release.load(); }, 10s);
        conn.respond(200, request.target);
    });
    TempDir dir;
    HookedConfig config{upstream.address(), receiver.address(), "one"};
    AfterhookProcess proxy(dir, config.render());
    const AdminClient admin(proxy.admin_port());

    RawClient in_flight = RawClient::connect(proxy.port());
    REQUIRE(in_flight.send(get_request("/in-flight")));
    REQUIRE(upstream.wait_for_requests(1, 3s));  // the exchange has started under "one"

    const size_t mark = proxy.process().line_count();
    config.generation = "two";
    replace_file(proxy.config_path(), config.render());
    REQUIRE(proxy.signal(SIGHUP));
    INFO("afterhook output:\n", proxy.diagnostics());
    REQUIRE(logged_after(proxy, mark, R"(info config reloaded \(SIGHUP\) hooks=1)"));
    CHECK(value_or_minus_one(admin, "afterhook_config_last_reload_successful") == 1.0);
    CHECK(value_or_minus_one(admin, "afterhook_config_reloads_total", {{"result", "success"}}) >= 1.0);

    release = true;
    upstream.notify();
    const HttpResponse held = in_flight.read_response(5s);
    INFO(held.describe());
    CHECK(held.status == 200);
    CHECK(held.body == "/in-flight");

    const HttpResponse later = get(proxy, "/later");
    CHECK(later.status == 200);

    INFO("events:\n", events_seen(receiver));
    CHECK(generation_of(receiver, "/in-flight") == "one");
    CHECK(generation_of(receiver, "/later") == "two");
    CHECK(receiver.request_count() == 2);
    stop_cleanly(proxy);
}

TEST_CASE("a broken reload keeps the running config and logs every error and says so in metrics until a good one") {
    FakeUpstream receiver(FakeUpstream::respond_with(200, "ok"));
    FakeUpstream upstream(FakeUpstream::echo_handler());
    TempDir dir;
    HookedConfig config{upstream.address(), receiver.address(), "one"};
    AfterhookProcess proxy(dir, config.render());
    const AdminClient admin(proxy.admin_port());
    const std::string file = proxy.config_path();
    INFO("afterhook output:\n", proxy.diagnostics());

    CHECK(get(proxy, "/before").status == 200);
    CHECK(generation_of(receiver, "/before") == "one");

    // Valid YAML with two mistakes: an unknown key (line 6, col 3) and a bad
    // duration (line 12, col 16). No signal: the directory watch sees it.
    config.generation = "broken";
    std::string broken = config.render();
    broken = std::regex_replace(broken, std::regex("timeouts: \\{drain: 2s\\}\n"), "timeouts:\n  drian: 2s\n");
    broken = std::regex_replace(broken, std::regex("      timeout: 2s\n"), "      timeout: soon\n");
    REQUIRE(broken.find("  drian: 2s\n") != std::string::npos);
    size_t mark = proxy.process().line_count();
    replace_file(file, broken);
    REQUIRE(logged_after(proxy, mark, R"(error config reload failed)"));
    CHECK(logged_after(proxy, mark, quoted(file) + R"(:6:3: timeouts\.drian: )", 0s));
    CHECK(logged_after(proxy, mark, quoted(file) + R"(:12:16: hooks\[0\]\.webhook\.timeout: .*soon)", 0s));
    CHECK(value_or_minus_one(admin, "afterhook_config_last_reload_successful") == 0.0);
    CHECK(value_or_minus_one(admin, "afterhook_config_reloads_total", {{"result", "failure"}}) == 1.0);
    CHECK(value_or_minus_one(admin, "afterhook_config_reloads_total", {{"result", "success"}}) == 0.0);

    // The old config still proxies and its hook still fires.
    CHECK(get(proxy, "/during").status == 200);
    CHECK(generation_of(receiver, "/during") == "one");

    // Not even YAML: one more failure, reported with its position.
    mark = proxy.process().line_count();
    replace_file(file, "listen: 127.0.0.1:0\nhooks: [\n  {name: x\n");
    REQUIRE(logged_after(proxy, mark, R"(error config reload failed)"));
    CHECK(logged_after(proxy, mark, quoted(file) + R"(:[0-9]+:[0-9]+: )", 0s));
    CHECK(value_or_minus_one(admin, "afterhook_config_reloads_total", {{"result", "failure"}}) == 2.0);
    CHECK(value_or_minus_one(admin, "afterhook_config_last_reload_successful") == 0.0);
    CHECK(get(proxy, "/still").status == 200);
    CHECK(generation_of(receiver, "/still") == "one");

    // A good file again.
    config.generation = "two";
    mark = proxy.process().line_count();
    replace_file(file, config.render());
    REQUIRE(logged_after(proxy, mark, R"(info config reloaded \(.*\) hooks=1)"));
    CHECK(value_or_minus_one(admin, "afterhook_config_last_reload_successful") == 1.0);
    CHECK(value_or_minus_one(admin, "afterhook_config_reloads_total", {{"result", "success"}}) == 1.0);
    CHECK(value_or_minus_one(admin, "afterhook_config_reloads_total", {{"result", "failure"}}) == 2.0);
    CHECK(get(proxy, "/after").status == 200);
    CHECK(generation_of(receiver, "/after") == "two");
    stop_cleanly(proxy);
}

TEST_CASE("a Kubernetes-style swap of the ..data symlink reloads without a signal") {
    FakeUpstream receiver(FakeUpstream::respond_with(200, "ok"));
    FakeUpstream upstream(FakeUpstream::echo_handler());
    TempDir dir;
    namespace fs = std::filesystem;
    // The layout the kubelet gives a ConfigMap volume.
    HookedConfig config{upstream.address(), receiver.address(), "one"};
    fs::create_directory(dir.file("..2026_11_22_a"));
    {
        std::ofstream out(dir.file("..2026_11_22_a/afterhook.yaml"));
        out << config.render();
    }
    fs::create_directory_symlink("..2026_11_22_a", dir.file("..data"));
    fs::create_symlink("..data/afterhook.yaml", dir.file("afterhook.yaml"));
    AfterhookProcess proxy(dir.file("afterhook.yaml"));
    const AdminClient admin(proxy.admin_port());
    INFO("afterhook output:\n", proxy.diagnostics());

    CHECK(get(proxy, "/one").status == 200);
    CHECK(generation_of(receiver, "/one") == "one");

    // The update: a new timestamped directory, a temporary symlink to it
    // renamed over ..data in one step, then the old directory removed.
    config.generation = "two";
    fs::create_directory(dir.file("..2026_11_22_b"));
    {
        std::ofstream out(dir.file("..2026_11_22_b/afterhook.yaml"));
        out << config.render();
    }
    const size_t mark = proxy.process().line_count();
    fs::create_directory_symlink("..2026_11_22_b", dir.file("..data_tmp"));
    REQUIRE(::rename(dir.file("..data_tmp").c_str(), dir.file("..data").c_str()) == 0);
    fs::remove_all(dir.file("..2026_11_22_a"));

    REQUIRE(logged_after(proxy, mark, R"(info config reloaded \(.*\) hooks=1)"));
    CHECK_FALSE(logged_after(proxy, mark, R"(SIGHUP)", 0s));
    CHECK(admin.wait_for_metric("afterhook_config_reloads_total", {{"result", "success"}},
                                [](double v) { return v == 1; }, 2s));
    CHECK(value_or_minus_one(admin, "afterhook_config_last_reload_successful") == 1.0);
    CHECK(get(proxy, "/two").status == 200);
    CHECK(generation_of(receiver, "/two") == "two");
    stop_cleanly(proxy);
}

// A log hook writing into the config's own directory changes that directory
// many times a second. Only changes that can concern the config may start
// (or restart) the reload debounce; otherwise the writes would hold a real
// change off for as long as traffic flows.
TEST_CASE("a log file written in the config's directory does not hold off a reload of the config") {
    FakeUpstream receiver(FakeUpstream::respond_with(200, "ok"));
    FakeUpstream upstream(FakeUpstream::echo_handler());
    TempDir dir;
    HookedConfig config{upstream.address(), receiver.address(), "one"};
    const std::string log_path = dir.file("access.log");
    auto render = [&] { return config.render() + "  - name: access\n    log: {path: \"" + log_path + "\"}\n"; };
    const std::string config_path = dir.write("afterhook.yaml", render());
    AfterhookProcess proxy(config_path);
    INFO("afterhook output:\n", proxy.diagnostics());

    // Back-to-back requests keep the log sink writing (it flushes at least
    // every 50 ms while lines wait), bounded in count and time.
    std::atomic<bool> stop{false};
    std::atomic<int> sent{0};
    std::thread traffic([&] {
        const auto give_up = Clock::now() + 20s;
        while (!stop.load() && Clock::now() < give_up && sent.load() < 50000) {
            get(proxy, "/traffic");
            ++sent;
        }
    });
    REQUIRE(wait_until([&] { return std::filesystem::exists(log_path) && std::filesystem::file_size(log_path) > 0; },
                       5s, Millis(10)));

    config.generation = "two";
    const size_t mark = proxy.process().line_count();
    replace_file(config_path, render());  // renamed over it, as an editor saves
    const bool reloaded = logged_after(proxy, mark, R"(info config reloaded \(.*\) hooks=2)", 3s);
    const uintmax_t log_bytes_during_reload = std::filesystem::file_size(log_path);
    stop.store(true);
    traffic.join();
    CHECK(reloaded);
    CHECK(sent.load() > 10);
    CHECK(log_bytes_during_reload > 0);
    CHECK(get(proxy, "/after").status == 200);
    CHECK(generation_of(receiver, "/after") == "two");
    stop_cleanly(proxy);
}

TEST_CASE("changing listen and workers logs that a restart is needed and keeps serving on the old port") {
    FakeUpstream receiver(FakeUpstream::respond_with(200, "ok"));
    FakeUpstream upstream(FakeUpstream::echo_handler());
    RefusedPort elsewhere;  // a port nobody listens on, held for the test
    TempDir dir;
    HookedConfig config{upstream.address(), receiver.address(), "one"};
    AfterhookProcess proxy(dir, config.render());
    INFO("afterhook output:\n", proxy.diagnostics());

    config.listen = elsewhere.address();
    config.workers = 2;
    config.generation = "two";
    const size_t mark = proxy.process().line_count();
    replace_file(proxy.config_path(), config.render());
    REQUIRE(logged_after(proxy, mark, R"(info config reloaded \(.*\))"));
    CHECK(logged_after(proxy, mark, R"(warn .*listen.*restart)", 0s));

    // Still on the old port, and the rest of the new config applies.
    const HttpResponse response = get(proxy, "/after");
    INFO(response.describe());
    CHECK(response.status == 200);
    CHECK(generation_of(receiver, "/after") == "two");
    stop_cleanly(proxy);
}

}  // TEST_SUITE
