// EnvSubstitution: replaces ${VAR} and ${VAR:-default} in a configuration
// value with values from the environment. The loader applies it to scalar
// values after YAML parsing, so source marks always point into the file as
// written. Nothing here knows about YAML.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace afterhook::config {

// Looks a variable up; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

struct EnvSubstitution {
    std::string text;                 // the value with every reference replaced
    std::vector<std::string> errors;  // one message per bad reference; they name variables, never values
    bool ok() const { return errors.empty(); }
};

// Syntax, as in POSIX shells and Compose files:
//   ${NAME}           the variable's value (may be empty); an error when unset
//   ${NAME:-default}  the value, or `default` when unset or empty; the default
//                     runs to the first '}' and may not contain "${"
//   $${               a literal "${"
// NAME is [A-Za-z_][A-Za-z0-9_]*. A '$' not followed by '{' is literal.
EnvSubstitution substitute_env(std::string_view raw, const EnvLookup& lookup);

// Same, reading the process environment.
EnvSubstitution substitute_env(std::string_view raw);

// True when `raw` holds anything substitute_env would treat specially. Error
// messages quote such a value only as "(value from environment)" so that a
// secret never reaches a log.
bool mentions_env(std::string_view raw);

}  // namespace afterhook::config
