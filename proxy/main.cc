// afterhook: a reverse-proxy sidecar that runs hooks after the response.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "config/config.h"
#include "hooks/on_demand_library.h"
#include "proxy/log.h"
#include "proxy/server.h"

using namespace afterhook;

namespace {

int check_config(const std::string& path) {
    config::LoadResult result = config::load_file(path);
    for (const auto& error : result.errors) std::cerr << error.to_string() << "\n";
    if (!result.ok()) {
        std::cerr << path << ": " << result.errors.size() << " error(s)\n";
        return 1;
    }
    std::cout << path << ": valid (listen " << result.config.listen.to_string() << ", upstream "
              << result.config.upstream.to_string() << ", " << result.config.hooks.size() << " hook(s))\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"afterhook: forwards each request to the app, streams the response back, then runs hooks"};
    std::string config_path;
    std::string check_path;
    app.add_option("-c,--config", config_path, "YAML config file (without it, built-in defaults serve)");
    app.add_option("--check-config", check_path, "validate a config file and exit (0 valid, 1 invalid)");
    app.set_version_flag("-v,--version", std::string("afterhook ") + AFTERHOOK_VERSION +
                                             "\nloaded on demand: " + hooks::curl_soname + " (webhook hooks), " +
                                             hooks::crypto_soname + " (webhook signatures)");
    CLI11_PARSE(app, argc, argv);

    if (!check_path.empty()) return check_config(check_path);

    std::shared_ptr<const config::Config> cfg;
    if (config_path.empty()) {
        cfg = std::make_shared<const config::Config>(config::default_config());
    } else {
        config::LoadResult result = config::load_file(config_path);
        if (!result.ok()) {
            for (const auto& error : result.errors) log::error(error.to_string());
            log::error("config is invalid: " + std::to_string(result.errors.size()) + " error(s); not starting");
            return 1;
        }
        cfg = std::make_shared<const config::Config>(std::move(result.config));
    }
    try {
        proxy::Server server(cfg, config_path);
        return server.run();
    } catch (const std::exception& e) {
        log::error(std::string("cannot start: ") + e.what());
        return 1;
    }
}
