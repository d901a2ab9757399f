// The template language of hook configs: "{{request.method}} {{request.path}}"
// Compiled once at load time; hooks/template_render.h renders it per event.
//
// Fields: request.{id,method,path,query,target,scheme,host}, request.header.NAME,
// request.cookie.NAME, client.{ip,port}, response.{status,bytes},
// response.header.NAME, outcome, duration_ms, upstream_ms, time (RFC 3339),
// trigger.PARAM, hook. Whitespace inside the braces is allowed. "{{{{" is a
// literal "{{". A header or cookie must be listed under `capture` to be used.
#pragma once

#include <string>

#include "config/config.h"

namespace afterhook::config {

// Compiles `source` into `out`. On failure returns false and sets `error` to
// a message naming the bad placeholder (the loader adds file:line:col).
bool compile_template(const std::string& source, const Capture& capture, Template& out, std::string& error);

// True for fields that render as numbers (status, bytes, port, durations).
bool is_numeric_field(TemplatePart::Kind kind);

}  // namespace afterhook::config
