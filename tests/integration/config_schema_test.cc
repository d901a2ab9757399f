// config/afterhook.schema.json and the loader agree on real files: every
// config afterhook ships (config/examples, the quick start's, the Kubernetes
// ConfigMaps') validates against the schema with python3-jsonschema AND
// loads with config::load_file; values from ${VAR} pass both wherever a typed
// value is expected; and broken configs are refused by both, at the same key.
// That both sides declare the same keys and defaults is checked without
// Python in tests/unit/config_schema_test.cc.
//
// Needs /usr/bin/python3 with python3-jsonschema and python3-yaml (Debian
// 12; `deploy/install-deps.sh --test` installs them); without them these
// tests fail.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "deploy_command.h"
#include "support/temp_dir.h"

using afterhook::testing::CommandResult;
using afterhook::testing::run_command;
using afterhook::testing::shell_quote;
using afterhook::testing::source_path;
using afterhook::testing::TempDir;

namespace {

// The Debian interpreter, which python3-jsonschema and python3-yaml install
// into (a python3 earlier on PATH may not see them).
const std::string kPython = "/usr/bin/python3";

// What the schema validator said about each file: the key paths it named,
// in the loader's spelling ("hooks[0].webhook.timeout"), with its messages.
struct SchemaVerdict {
    bool valid = false;
    std::vector<std::string> paths;
    std::string messages;
};

struct SchemaRun {
    int exit_code = -1;
    std::string output;
    std::map<std::string, SchemaVerdict> files;
};

// Runs tests/config/validate_config.py on `files` at once and parses its
// report ("valid FILE", or "invalid FILE" and "  key.path: message" lines).
SchemaRun validate_with_schema(const std::vector<std::string>& files) {
    std::string command = shell_quote(kPython) + " " + shell_quote(source_path("tests/config/validate_config.py")) +
                          " " + shell_quote(source_path("config/afterhook.schema.json"));
    for (const std::string& file : files) {
        command += " " + shell_quote(file);
    }
    const CommandResult result = run_command(command);
    SchemaRun run{result.exit_code, result.output, {}};
    SchemaVerdict* current = nullptr;
    std::size_t start = 0;
    while (start < result.output.size()) {
        std::size_t end = result.output.find('\n', start);
        if (end == std::string::npos) {
            end = result.output.size();
        }
        const std::string line = result.output.substr(start, end - start);
        start = end + 1;
        if (line.rfind("valid ", 0) == 0) {
            current = &run.files[line.substr(6)];
            current->valid = true;
        } else if (line.rfind("invalid ", 0) == 0) {
            current = &run.files[line.substr(8)];
        } else if (line.rfind("  ", 0) == 0 && current != nullptr) {
            current->paths.push_back(line.substr(2, line.find(": ") - 2));
            current->messages += line + "\n";
        }
    }
    return run;
}

// Fails the test with the install step when Python or its packages are
// missing, rather than reporting every config as invalid.
void require_python_packages() {
    const CommandResult probe = run_command(shell_quote(kPython) + " -c 'import jsonschema, yaml'");
    INFO("the schema tests need " << kPython << " with python3-jsonschema and python3-yaml: "
                                  << "deploy/install-deps.sh --test");
    INFO(probe.output);
    REQUIRE(probe.exit_code == 0);
}

std::vector<std::string> loader_errors(const std::string& file) {
    std::vector<std::string> errors;
    for (const afterhook::config::ConfigError& error : afterhook::config::load_file(file).errors) {
        errors.push_back(error.to_string());
    }
    return errors;
}

std::vector<std::string> loader_error_paths(const std::string& file) {
    std::vector<std::string> paths;
    for (const afterhook::config::ConfigError& error : afterhook::config::load_file(file).errors) {
        paths.push_back(error.key_path);
    }
    return paths;
}

std::string lines(const std::vector<std::string>& items) {
    std::string text;
    for (const std::string& item : items) {
        text += item + "\n";
    }
    return text;
}

// True when `path` is `key` or lies below it ("hooks[0].webhook" is below
// "hooks[0]"; "timeouts.connect_x" is not below "timeouts.connect").
bool at_or_below(const std::string& path, const std::string& key) {
    if (path.rfind(key, 0) != 0) {
        return false;
    }
    return path.size() == key.size() || path[key.size()] == '.' || path[key.size()] == '[';
}

// Sets an environment variable for one test and puts the old value back.
class ScopedEnv {
public:
    ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
        if (const char* old = std::getenv(name_.c_str())) {
            old_ = std::string(old);
        }
        ::setenv(name_.c_str(), value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_) {
            ::setenv(name_.c_str(), old_->c_str(), 1);
        } else {
            ::unsetenv(name_.c_str());
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string name_;
    std::optional<std::string> old_;
};

// Every config file afterhook ships: config/examples/*.yaml and each
// afterhook.yaml under deploy/ (the quick start's and the files the
// Kubernetes kustomizations turn into the afterhook-config ConfigMap).
std::vector<std::string> shipped_configs() {
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(source_path("config/examples"))) {
        if (entry.path().extension() == ".yaml") {
            files.push_back(entry.path().string());
        }
    }
    for (const auto& entry : std::filesystem::recursive_directory_iterator(source_path("deploy"))) {
        if (entry.is_regular_file() && entry.path().filename() == "afterhook.yaml") {
            files.push_back(entry.path().string());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

struct BrokenConfig {
    std::string mistake;
    std::string yaml;
    std::string key;  // where both must report it (errors at or below this key)
};

const std::vector<BrokenConfig> kBrokenConfigs{
    {"unknown key at the top", "lisen: 0.0.0.0:8000\n", "lisen"},
    {"unknown key in a section", "timeouts:\n  connect: 2s\n  conect: 3s\n", "timeouts.conect"},
    {"unknown key in a sink",
     "hooks:\n  - name: a\n    webhook:\n      url: http://127.0.0.1:9/\n      retries: 3\n", "hooks[0].webhook.retries"},
    {"a list for a number", "workers: [1, 2]\n", "workers"},
    {"a value for a mapping", "timeouts: 5s\n", "timeouts"},
    {"a word for a number", "limits:\n  max_headers: many\n", "limits.max_headers"},
    {"a duration without a unit", "hooks:\n  - name: a\n    log: {path: stdout}\n    when: {sample: 0.5}\n"
                                  "  - name: b\n    exec: {command: [/bin/true], timeout: 10}\n", "hooks[1].exec.timeout"},
    {"a size in a unit that does not exist", "limits:\n  max_header_bytes: 64kb\n", "limits.max_header_bytes"},
    {"an address without a port", "upstream: 127.0.0.1\n", "upstream"},
    {"a YAML 1.1 boolean", "hooks:\n  - name: a\n    webhook: {url: \"http://127.0.0.1:9/\", tls_verify: yes}\n",
     "hooks[0].webhook.tls_verify"},
    {"a policy that does not exist",
     "hooks:\n  - name: a\n    exec:\n      command: [/bin/true]\n      queue: {when_full: drop_all}\n",
     "hooks[0].exec.queue.when_full"},
    {"a hook with two sinks", "hooks:\n  - name: a\n    log: {path: stdout}\n    webhook: {url: \"http://127.0.0.1:9/\"}\n",
     "hooks[0]"},
    {"a hook with no sink", "hooks:\n  - name: a\n    when: {status: [5xx]}\n", "hooks[0]"},
    {"a hook with no name", "hooks:\n  - log: {path: stdout}\n", "hooks[0]"},
    {"a webhook with no url", "hooks:\n  - name: a\n    webhook: {method: PUT}\n", "hooks[0].webhook"},
    {"a relative program", "hooks:\n  - name: a\n    exec: {command: [cleanup, \"{{request.id}}\"]}\n",
     "hooks[0].exec.command"},
};

}  // namespace

TEST_CASE("every shipped config validates against the schema and loads with the loader") {
    require_python_packages();
    const std::vector<std::string> files = shipped_configs();
    for (const char* expected : {"config/examples/default.yaml", "config/examples/analytics.yaml",
                                 "deploy/demo/afterhook.yaml", "deploy/kubernetes/base/afterhook.yaml",
                                 "deploy/kubernetes/overlays/existing-app/afterhook.yaml"}) {
        CAPTURE(expected);
        CHECK(std::find(files.begin(), files.end(), source_path(expected)) != files.end());
    }
    REQUIRE(files.size() >= 11);

    // The ConfigMaps' webhook URL is a secret without a default; the
    // Deployment sets it from a Secret.
    const ScopedEnv slack("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXX");
    const SchemaRun schema = validate_with_schema(files);
    CHECK_MESSAGE(schema.exit_code == 0, schema.output);
    for (const std::string& file : files) {
        CAPTURE(file);
        REQUIRE_MESSAGE(schema.files.count(file) == 1, schema.output);
        CHECK_MESSAGE(schema.files.at(file).valid, schema.files.at(file).messages);
        CHECK(lines(loader_errors(file)) == "");
    }
}

TEST_CASE("values from the environment are accepted by both wherever a typed value is expected") {
    require_python_packages();
    TempDir dir;
    // None of these variables is set: each default applies at load.
    const std::string file = dir.write("env.yaml", R"(listen: 0.0.0.0:${AFTERHOOK_SCHEMA_TEST_PORT:-8000}
upstream: ${AFTERHOOK_SCHEMA_TEST_UPSTREAM:-127.0.0.1:8080}
workers: ${AFTERHOOK_SCHEMA_TEST_WORKERS:-2}
admin: {listen: "${AFTERHOOK_SCHEMA_TEST_ADMIN:-127.0.0.1:9901}"}
timeouts: {connect: "${AFTERHOOK_SCHEMA_TEST_CONNECT:-500ms}"}
limits:
  max_connections: ${AFTERHOOK_SCHEMA_TEST_CONNECTIONS:-100}
  max_body_bytes: ${AFTERHOOK_SCHEMA_TEST_BODY:-10MiB}
trigger_header: ${AFTERHOOK_SCHEMA_TEST_TRIGGER:-x-hook}
capture: {headers: ["${AFTERHOOK_SCHEMA_TEST_HEADER:-x-tenant}"]}
hooks:
  - name: ${AFTERHOOK_SCHEMA_TEST_NAME:-alerts}
    trigger: ${AFTERHOOK_SCHEMA_TEST_TRIGGER_KIND:-header}
    when:
      status: ["${AFTERHOOK_SCHEMA_TEST_STATUS:-5xx}"]
      sample: ${AFTERHOOK_SCHEMA_TEST_SAMPLE:-0.5}
    webhook:
      url: ${AFTERHOOK_SCHEMA_TEST_URL:-http://127.0.0.1:9/}
      timeout: ${AFTERHOOK_SCHEMA_TEST_TIMEOUT:-2s}
      concurrency: ${AFTERHOOK_SCHEMA_TEST_CONCURRENCY:-2}
      queue: {size: "${AFTERHOOK_SCHEMA_TEST_QUEUE:-100}", when_full: "${AFTERHOOK_SCHEMA_TEST_POLICY:-drop_oldest}"}
      tls_verify: ${AFTERHOOK_SCHEMA_TEST_TLS_VERIFY:-false}
)");
    const SchemaRun schema = validate_with_schema({file});
    CHECK_MESSAGE(schema.exit_code == 0, schema.output);
    REQUIRE_MESSAGE(schema.files.count(file) == 1, schema.output);
    CHECK(schema.files.at(file).valid);
    CHECK(lines(loader_errors(file)) == "");
}

TEST_CASE("broken configs are refused by the schema and by the loader, at the same key") {
    require_python_packages();
    TempDir dir;
    std::vector<std::string> files;
    for (std::size_t i = 0; i < kBrokenConfigs.size(); ++i) {
        files.push_back(dir.write("broken-" + std::to_string(i) + ".yaml", kBrokenConfigs[i].yaml));
    }
    const SchemaRun schema = validate_with_schema(files);
    CHECK_MESSAGE(schema.exit_code == 1, schema.output);
    for (std::size_t i = 0; i < kBrokenConfigs.size(); ++i) {
        const BrokenConfig& broken = kBrokenConfigs[i];
        CAPTURE(broken.mistake);
        CAPTURE(broken.yaml);
        REQUIRE_MESSAGE(schema.files.count(files[i]) == 1, schema.output);
        const SchemaVerdict& verdict = schema.files.at(files[i]);
        CHECK_FALSE(verdict.valid);
        CHECK_FALSE(verdict.paths.empty());
        for (const std::string& path : verdict.paths) {
            CHECK_MESSAGE(at_or_below(path, broken.key),
                          "the schema reported " << path << ", expected " << broken.key << "\n" << verdict.messages);
        }
        const std::vector<std::string> loader_paths = loader_error_paths(files[i]);
        CHECK_FALSE(loader_paths.empty());
        for (const std::string& path : loader_paths) {
            CHECK_MESSAGE(at_or_below(path, broken.key),
                          "the loader reported " << path << ", expected " << broken.key << "\n"
                                                 << lines(loader_errors(files[i])));
        }
    }
}
