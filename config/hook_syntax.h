// HookSyntax: the value rules of hook settings (filters, HTTP names, webhook
// URLs, JSON scalars, signing secrets), as plain functions on text so that
// the loader and the tests share them. Nothing here knows about YAML.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace afterhook::config {

// The outcomes a `when.outcome` filter may name, as records spell them.
inline constexpr std::array<std::string_view, 5> kOutcomeNames{
    "ok", "upstream_error", "upstream_timeout", "rejected", "client_abort"};

// RFC 9110 token: what a header field name or a method may contain.
bool is_http_token(std::string_view text);

// ASCII upper case; methods are compared in upper case.
std::string to_upper(std::string_view text);

// A status filter item: a code from 100 to 599 ("404") or a class from
// "1xx" to "5xx" (the x in either case). nullopt for anything else.
std::optional<StatusRange> parse_status_filter(std::string_view text);

// A path glob for `when.paths` (matched by hooks/glob.h): starts with '/',
// holds no query, fragment, space or control character, and uses '**' (any
// number of whole segments) only as a whole segment; '*' matches any run of
// characters within one segment. Returns "" when valid, else why not.
std::string path_pattern_problem(std::string_view pattern);

// A sample rate from 0 to 1 written as a decimal number ("0.1", "1", "1e-2").
bool parse_sample(std::string_view text, double& out);

// A boolean as YAML 1.2 writes it: true/True/TRUE or false/False/FALSE.
std::optional<bool> parse_bool(std::string_view text);

// True when `text` is a number exactly as JSON writes it (RFC 8259 §6), so
// that it can be copied into a JSON body as it stands.
bool is_json_number(std::string_view text);

// The problem with a compiled webhook URL, or "" when it is fine: the URL
// must begin with a literal "http://" or "https://" (any case) and something
// after it, so that no request value can choose the scheme, and its literal
// text must hold no space or control character.
std::string url_problem(const Template& url);

// The problem with a signing secret, or "" when it is fine. A secret that
// starts with "whsec_" must be base64 of at least one byte after the prefix
// (it is decoded before use). Messages never repeat the secret.
std::string signing_secret_problem(std::string_view secret);

}  // namespace afterhook::config
