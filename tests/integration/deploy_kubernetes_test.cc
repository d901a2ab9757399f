// The Kubernetes manifests in deploy/kubernetes, rendered offline by
// tests/deploy/check-manifests.js: every object must validate against the
// Kubernetes API schemas (kubernetes-models), every sidecar consistency
// check must pass, and the afterhook config carried in the ConfigMap must
// pass the real binary's --check-config. A last test breaks the manifests on
// purpose to show that each check can fail.
//
// Needs node and the packages of tests/deploy (`npm ci --prefix
// tests/deploy`, which tests/run-all.sh runs); without them these tests fail.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "deploy_command.h"
#include "support/temp_dir.h"

using afterhook::testing::CommandResult;
using afterhook::testing::read_text_file;
using afterhook::testing::run_command;
using afterhook::testing::shell_quote;
using afterhook::testing::source_path;
using afterhook::testing::TempDir;

namespace {

// Every check sidecar-checks.js runs; each must be reported at least once,
// so that a check dropped from the script fails here.
const std::vector<std::string> kCheckNames{
    "afterhook is a native sidecar",
    "selector matches the pod labels",
    "config is mounted as a directory",
    "listen port is the sidecar's container port",
    "upstream is on loopback",
    "Service targets afterhook",
    "probes use the admin port",
    "config environment is set",
    "secrets come from a Secret",
    "grace period covers preStop and drain",
    "containers are restricted",
    "afterhook has resources",
    "workers are explicit",
};

// Sample values for the environment variables the configs read, shaped as
// the real ones are (the webhook URL must be an http(s) URL).
const std::map<std::string, std::string> kSampleEnv{
    {"SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"},
};

// Fails the test with the install step when node or the packages are missing.
void require_node_packages() {
    const CommandResult node = run_command("node --version");
    INFO("node is needed for the Kubernetes manifest checks: apt-get install nodejs npm");
    INFO(node.output);
    REQUIRE(node.exit_code == 0);
    INFO("the packages of tests/deploy are missing: run `npm ci --prefix tests/deploy`");
    REQUIRE(std::filesystem::exists(source_path("tests/deploy/node_modules/kubernetes-models/package.json")));
    REQUIRE(std::filesystem::exists(source_path("tests/deploy/node_modules/yaml/package.json")));
}

CommandResult run_checker(const std::string& kustomization_dir, const std::string& out_dir) {
    return run_command("node " + shell_quote(source_path("tests/deploy/check-manifests.js")) + " " +
                       shell_quote(kustomization_dir) + " " + shell_quote(out_dir));
}

nlohmann::json checker_report(const std::string& kustomization_dir, const std::string& out_dir) {
    const CommandResult result = run_checker(kustomization_dir, out_dir);
    INFO("check-manifests.js output: " << result.output);
    REQUIRE(result.exit_code == 0);
    nlohmann::json report = nlohmann::json::parse(result.output, nullptr, false);
    REQUIRE_FALSE(report.is_discarded());
    return report;
}

std::string env_prefix(const nlohmann::json& names, const std::string& left_out) {
    std::string prefix = "env";
    for (const auto& name : names) {
        const std::string variable = name.get<std::string>();
        if (variable == left_out) {
            prefix += " -u " + variable;
            continue;
        }
        const auto sample = kSampleEnv.find(variable);
        INFO("no sample value for " << variable << ": add one to kSampleEnv");
        REQUIRE(sample != kSampleEnv.end());
        prefix += " " + variable + "=" + shell_quote(sample->second);
    }
    return prefix;
}

// The config the ConfigMap carries is valid for the real binary with its
// environment set, and invalid without each required variable.
void check_configs_with_binary(const nlohmann::json& report) {
    REQUIRE(report["configs"].size() >= 1);
    for (const auto& config : report["configs"]) {
        const std::string file = config["file"].get<std::string>();
        const nlohmann::json& required = config["requiredEnv"];
        INFO(config["subject"].get<std::string>() << ": ConfigMap " << config["configMap"].get<std::string>()
                                                  << " key " << config["key"].get<std::string>());
        const CommandResult valid = run_command(env_prefix(required, "") + " " + shell_quote(AFTERHOOK_BINARY) +
                                                " --check-config " + shell_quote(file));
        INFO("afterhook --check-config: " << valid.output);
        CHECK(valid.exit_code == 0);
        for (const auto& name : required) {
            const std::string variable = name.get<std::string>();
            const CommandResult unset = run_command(env_prefix(required, variable) + " " +
                                                    shell_quote(AFTERHOOK_BINARY) + " --check-config " +
                                                    shell_quote(file));
            INFO("without " << variable << ": " << unset.output);
            CHECK(unset.exit_code == 1);
            CHECK(unset.output.find(variable) != std::string::npos);
        }
    }
}

void check_report(const nlohmann::json& report, const std::set<std::string>& expected_kinds) {
    std::set<std::string> kinds;
    for (const auto& object : report["objects"]) {
        const std::string kind = object["kind"].get<std::string>();
        kinds.insert(kind);
        INFO(kind << " " << object["name"].dump() << " schema errors: " << object["schemaErrors"].dump());
        CHECK(object["schemaErrors"].empty());
    }
    CHECK(kinds == expected_kinds);
    std::set<std::string> reported;
    for (const auto& check : report["checks"]) {
        reported.insert(check["name"].get<std::string>());
        INFO(check["subject"].get<std::string>() << ": " << check["name"].get<std::string>() << ": "
                                                 << check["detail"].get<std::string>());
        CHECK(check["ok"].get<bool>());
    }
    for (const std::string& name : kCheckNames) {
        INFO("check not reported: " << name);
        CHECK(reported.count(name) == 1);
    }
}

// The names of the checks that failed, and "schema:KIND" for each object
// with schema errors.
std::set<std::string> failures(const nlohmann::json& report) {
    std::set<std::string> failed;
    for (const auto& check : report["checks"]) {
        if (!check["ok"].get<bool>()) failed.insert(check["name"].get<std::string>());
    }
    for (const auto& object : report["objects"]) {
        if (!object["schemaErrors"].empty()) failed.insert("schema:" + object["kind"].get<std::string>());
    }
    return failed;
}

struct Breakage {
    std::string file;      // relative to the copied base
    std::string from;      // text that must be present
    std::string to;
    std::string expected;  // a check name, "schema:KIND", or "render" for a refused kustomization
};

const std::vector<Breakage> kBreakages{
    {"deployment.yaml", "          restartPolicy: Always\n", "", "afterhook is a native sidecar"},
    {"deployment.yaml", "      app.kubernetes.io/name: app\n  template:", "      app.kubernetes.io/name: other\n  template:",
     "selector matches the pod labels"},
    {"deployment.yaml", "              mountPath: /etc/afterhook\n",
     "              mountPath: /etc/afterhook/afterhook.yaml\n              subPath: afterhook.yaml\n",
     "config is mounted as a directory"},
    {"deployment.yaml", "              containerPort: 8000\n", "              containerPort: 8001\n",
     "listen port is the sidecar's container port"},
    {"afterhook.yaml", "upstream: 127.0.0.1:8080", "upstream: 10.0.0.5:8080", "upstream is on loopback"},
    {"service.yaml", "targetPort: http", "targetPort: 8080", "Service targets afterhook"},
    {"afterhook.yaml", "  listen: 0.0.0.0:9901", "  listen: 0.0.0.0:9902", "probes use the admin port"},
    {"afterhook.yaml", "  listen: 0.0.0.0:9901", "  listen: 127.0.0.1:9901", "probes use the admin port"},
    {"deployment.yaml", "              path: /livez\n", "              path: /readyz\n", "probes use the admin port"},
    {"deployment.yaml", "            - name: SLACK_WEBHOOK_URL\n", "            - name: SLACK_URL\n",
     "config environment is set"},
    {"afterhook.yaml", "url: ${SLACK_WEBHOOK_URL}", "url: https://hooks.slack.com/services/T0/B0/token",
     "secrets come from a Secret"},
    {"deployment.yaml", "terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 30",
     "grace period covers preStop and drain"},
    {"afterhook.yaml", "drain: 20s", "drain: 1m", "grace period covers preStop and drain"},
    {"deployment.yaml", "              sleep:\n                seconds: 10\n",
     "              httpGet:\n                path: /shutdown\n                port: 8080\n",
     "grace period covers preStop and drain"},
    {"deployment.yaml", "            readOnlyRootFilesystem: true\n", "            readOnlyRootFilesystem: false\n",
     "containers are restricted"},
    {"deployment.yaml", "            runAsUser: 65532\n", "            runAsUser: 1000\n", "containers are restricted"},
    {"deployment.yaml", "              memory: 32Mi\n", "              memory: 256Mi\n", "afterhook has resources"},
    {"afterhook.yaml", "workers: 2", "workers: auto", "workers are explicit"},
    {"deployment.yaml", "              containerPort: 9901\n", "              containerPort: \"9901\"\n",
     "schema:Deployment"},
    {"service.yaml", "      port: 80\n", "      port: eighty\n", "schema:Service"},
    {"kustomization.yaml", "resources:\n", "namePrefix: x-\nresources:\n", "render"},
};

}  // namespace

TEST_CASE("deploy: node and the packages of tests/deploy are installed") {
    require_node_packages();
}

TEST_CASE("deploy: the Kubernetes base renders and validates against the API schemas and agrees with its config") {
    require_node_packages();
    TempDir out;
    const nlohmann::json report = checker_report(source_path("deploy/kubernetes/base"), out.path());
    check_report(report, {"ConfigMap", "Deployment", "Service"});
    check_configs_with_binary(report);
}

TEST_CASE("deploy: the existing-app overlay adds a sidecar that agrees with its config") {
    require_node_packages();
    TempDir out;
    const nlohmann::json report = checker_report(source_path("deploy/kubernetes/overlays/existing-app"), out.path());
    check_report(report, {"ConfigMap", "Deployment", "Service"});
    check_configs_with_binary(report);
}

TEST_CASE("deploy: the manifest checks fail on broken manifests") {
    require_node_packages();
    for (const Breakage& breakage : kBreakages) {
        CAPTURE(breakage.file);
        CAPTURE(breakage.from);
        CAPTURE(breakage.to);
        TempDir work;
        const std::string base = work.file("base");
        std::filesystem::copy(source_path("deploy/kubernetes/base"), base, std::filesystem::copy_options::recursive);
        const std::string file = base + "/" + breakage.file;
        std::string text = read_text_file(file);
        const size_t at = text.find(breakage.from);
        REQUIRE(at != std::string::npos);
        text.replace(at, breakage.from.size(), breakage.to);
        work.write("base/" + breakage.file, text);

        const CommandResult result = run_checker(base, work.file("out"));
        INFO("check-manifests.js output: " << result.output);
        if (breakage.expected == "render") {
            CHECK(result.exit_code == 2);
            CHECK(result.output.find("not supported") != std::string::npos);
            continue;
        }
        REQUIRE(result.exit_code == 0);
        const nlohmann::json report = nlohmann::json::parse(result.output, nullptr, false);
        REQUIRE_FALSE(report.is_discarded());
        CHECK(failures(report).count(breakage.expected) == 1);
    }
}
