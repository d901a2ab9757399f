// The key paths the config loader accepts, read from the loader's own key
// tables, so that the JSON Schema in config/afterhook.schema.json can be
// checked against them (tests/unit/config_schema_test.cc). Nothing here
// knows about YAML.
#pragma once

#include <string>
#include <vector>

namespace afterhook::config {

// Every mapping key the loader knows, as a dotted path from the document
// root: "listen", "timeouts.connect", "hooks[].webhook.retry.attempts". The
// items of the hook list are written "[]". Maps whose keys are free (webhook
// headers, JSON bodies) are listed as one path and not looked into. In the
// order the loader's tables give them; no path appears twice.
std::vector<std::string> known_key_paths();

}  // namespace afterhook::config
