// Rendering of compiled templates (config/template.h) for one event, on the
// hook thread. Values come only from the record and the trigger's params; a
// field the exchange did not have (a header that was not sent, upstream_ms
// when the upstream was never reached) renders as empty text, or as null
// where a JSON number stood. Durations are written as the JSON line writes
// them (append_milliseconds): three decimals, and null for a value that is
// not finite, in text as in JSON.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"
#include "hooks/delivery.h"
#include "hooks/record.h"

namespace afterhook::hooks {

struct RenderContext {
    const Record& record;
    const TriggerParams& trigger;
    std::string_view hook;
};

// Appends the template's text, unescaped (URLs, header values, argv).
void render_text(const config::Template& tmpl, const RenderContext& ctx, std::string& out);
std::string render_text(const config::Template& tmpl, const RenderContext& ctx);

// Renders a URL: the template's literal text as written, each placeholder's
// value percent-encoded (RFC 3986) except unreserved characters and '/', so a
// value can never add a query parameter, a fragment or a space.
std::string render_url(const config::Template& tmpl, const RenderContext& ctx);

// Appends a JSON body written as YAML, with every string value escaped.
void render_json(const config::JsonTemplate& json, const RenderContext& ctx, std::string& out);

// Appends a webhook body: the record as a JSON object, the text template, or the JSON template.
void render_body(const config::Body& body, const RenderContext& ctx, std::string& out);

}  // namespace afterhook::hooks
