#include "hooks/webhook_action.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "hooks/curl_library.h"
#include "hooks/record_json.h"
#include "hooks/signature.h"
#include "hooks/template_render.h"
#include "hooks/timestamp.h"
#include "proxy/http_message.h"
#include "proxy/log.h"

namespace afterhook::hooks {

namespace {

using std::chrono::milliseconds;

constexpr int64_t kMaxRetryAfterSeconds = 1'000'000'000;  // bounds the arithmetic, not the policy

using proxy::iequals;

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// A header line from libcurl's header callback still ends with its CRLF.
std::string_view without_line_end(std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    return line;
}

// A rendered header value comes partly from what the client sent: line
// breaks and NULs become spaces so that it can never add a header line.
void sanitize_header_value(std::string& value) {
    for (char& c : value)
        if (c == '\r' || c == '\n' || c == '\0') c = ' ';
}

// The start of a response body as it may appear in a diagnostics line:
// printable ASCII only, quotes and backslashes softened.
std::string printable(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '"') out.push_back('\'');
        else if (c == '\\' || c < 0x20 || c > 0x7e) out.push_back('?');
        else out.push_back(c);
    }
    return out;
}

bool is_signature_header(std::string_view name) {
    return iequals(name, "webhook-id") || iequals(name, "webhook-timestamp") ||
           iequals(name, "webhook-signature");
}

const char* content_type_for(const config::WebhookSink& sink) {
    if (sink.format == config::WebhookSink::Format::cloudevents) return "application/cloudevents+json";
    if (sink.body.kind == config::Body::Kind::text) return "text/plain; charset=utf-8";
    return "application/json";
}

AttemptResult result_of(AttemptResult::Status status, std::string reason,
                        std::optional<milliseconds> retry_after = std::nullopt) {
    AttemptResult result;
    result.status = status;
    result.reason = std::move(reason);
    result.retry_after = retry_after;
    return result;
}

}  // namespace

// One HTTP request in flight (or one attempt whose result is already known
// and waits to be reported). Owns its easy handle (until it goes back to the
// action's idle handles), header list and body, which libcurl reads from
// until the transfer is done.
struct WebhookAction::Attempt {
    Done done;
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    std::string url;
    std::string body;
    bool in_multi = false;
    uint64_t response_bytes = 0;
    std::string response_start;  // the first kReasonBodyBytes of the body
    std::optional<milliseconds> retry_after;
    AttemptResult result;  // when deferred
    char error[CURL_ERROR_SIZE] = {};

    Attempt() = default;
    Attempt(const Attempt&) = delete;
    Attempt& operator=(const Attempt&) = delete;
    ~Attempt() {
        if (easy) libcurl().easy_cleanup(easy);
        libcurl().slist_free_all(headers);
    }

    // libcurl hands the body over in pieces. Past kMaxResponseBytes the
    // transfer is cut off (returning less than given makes libcurl stop).
    static size_t on_body(char* data, size_t size, size_t count, void* self) {
        return static_cast<Attempt*>(self)->take_body(data, size * count);
    }
    size_t take_body(const char* data, size_t length) {
        response_bytes += length;
        if (response_start.size() < kReasonBodyBytes)
            response_start.append(data, std::min(length, kReasonBodyBytes - response_start.size()));
        return response_bytes > kMaxResponseBytes ? 0 : length;
    }

    // One header line at a time, status lines included (a 100 Continue
    // starts a new response, so it resets what an earlier one said).
    static size_t on_header(char* data, size_t size, size_t count, void* self) {
        static_cast<Attempt*>(self)->take_header(std::string_view(data, size * count));
        return size * count;
    }
    void take_header(std::string_view line) {
        if (starts_with_ignoring_case(line, "HTTP/")) {
            retry_after.reset();
        } else if (starts_with_ignoring_case(line, "retry-after:")) {
            retry_after = parse_retry_after(line.substr(12), std::chrono::system_clock::now());
        }
    }
};

std::optional<milliseconds> parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
    value = proxy::trim_ows(without_line_end(value));
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        int64_t seconds = 0;
        for (char c : value) {
            seconds = seconds * 10 + (c - '0');
            if (seconds > kMaxRetryAfterSeconds) {
                seconds = kMaxRetryAfterSeconds;
                break;
            }
        }
        return milliseconds(seconds * 1000);
    }
    const std::string date(value);
    const time_t when = libcurl().getdate(date.c_str(), nullptr);
    if (when == -1) return std::nullopt;
    const int64_t delta = static_cast<int64_t>(when) - static_cast<int64_t>(std::chrono::system_clock::to_time_t(now));
    return milliseconds(std::clamp<int64_t>(delta, 0, kMaxRetryAfterSeconds) * 1000);
}

WebhookAction::WebhookAction(uv_loop_t* loop, CurlMulti& multi, config::WebhookSink sink, std::string hook_name)
    : loop_(loop),
      multi_(multi),
      sink_(std::move(sink)),
      hook_name_(std::move(hook_name)),
      user_agent_(std::string("afterhook/") + AFTERHOOK_VERSION) {
    if (!sink_.sign_secret.empty() && !webhook_signing_key(sink_.sign_secret, signing_key_))
        throw std::runtime_error("hook '" + hook_name_ + "': sign.secret starts with whsec_ but is not valid base64");
    if (!sink_.sign_secret.empty()) load_signing_library();
    // Nothing below throws: the handle must not outlive a failed construction.
    uv_timer_init(loop_, &deferred_timer_);
    deferred_timer_.data = this;
    multi_.reserve_connections(std::max(sink_.concurrency, 1u));
}

WebhookAction::~WebhookAction() {
    if (!closed_) {
        log::error("internal: webhook action destroyed before it was closed");
        std::abort();
    }
    for (CURL* easy : idle_handles_) libcurl().easy_cleanup(easy);
}

// An easy handle of an earlier attempt when there is one: a new one costs a
// large zeroed allocation, and its first transfer allocates buffers that a
// used handle already has. configure() sets every option an attempt
// depends on.
CURL* WebhookAction::take_handle() {
    if (idle_handles_.empty()) return libcurl().easy_init();
    CURL* easy = idle_handles_.back();
    idle_handles_.pop_back();
    return easy;
}

// Keeps the attempt's handle for the next one, up to one per concurrent
// attempt; it is out of the multi (finished, removed or never added). The
// options that point into the attempt about to be freed (error buffer,
// header list, body, callback data) are cleared. Not curl_easy_reset(): it
// frees what the handle allocated for its transfers, which the next
// attempt would allocate again, and configure() sets every option anyway.
void WebhookAction::recycle(Attempt& attempt) {
    if (!attempt.easy || closing_ || idle_handles_.size() >= std::max(sink_.concurrency, 1u)) return;
    const CurlLibrary& curl = libcurl();
    CURL* easy = attempt.easy;
    const bool cleared = curl.easy_setopt(easy, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr)) == CURLE_OK &&
                         curl.easy_setopt(easy, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr)) == CURLE_OK &&
                         curl.easy_setopt(easy, CURLOPT_POSTFIELDS, static_cast<const char*>(nullptr)) == CURLE_OK &&
                         curl.easy_setopt(easy, CURLOPT_WRITEDATA, static_cast<void*>(nullptr)) == CURLE_OK &&
                         curl.easy_setopt(easy, CURLOPT_HEADERDATA, static_cast<void*>(nullptr)) == CURLE_OK;
    if (!cleared) return;  // the attempt's destructor cleans the handle up
    idle_handles_.push_back(easy);
    attempt.easy = nullptr;
}

void WebhookAction::start(const Delivery& delivery, milliseconds timeout, Done done) {
    auto owned = std::make_unique<Attempt>();
    Attempt* attempt = owned.get();
    attempt->done = std::move(done);
    attempts_.emplace(attempt, std::move(owned));
    if (closing_) return defer(attempt, result_of(AttemptResult::Status::failed, "shutdown"));
    if (!configure(*attempt, delivery, timeout))
        return defer(attempt, result_of(AttemptResult::Status::retry, "libcurl cannot set up the request"));
    if (!multi_.add(attempt->easy, [this, attempt](CURLcode code) { on_transfer_done(attempt, code); })) {
        if (multi_.closing()) return defer(attempt, result_of(AttemptResult::Status::failed, "shutdown"));
        return defer(attempt, result_of(AttemptResult::Status::retry, "libcurl refused the transfer"));
    }
    attempt->in_multi = true;
}

// The request body as sent: nothing for GET and HEAD, else the rendered body,
// wrapped in a CloudEvents envelope in structured mode.
std::string WebhookAction::render_request_body(const Delivery& delivery) const {
    if (sink_.method == "GET" || sink_.method == "HEAD") return {};
    const RenderContext ctx{*delivery.record, delivery.trigger, hook_name_};
    std::string data;
    render_body(sink_.body, ctx, data);
    if (sink_.format != config::WebhookSink::Format::cloudevents) return data;

    std::string event = R"({"specversion":"1.0","id":)";
    append_json_string(event, delivery.id);
    event += R"(,"source":)";
    append_json_string(event, "afterhook/" + hook_name_);
    event += R"(,"type":"dev.afterhook.exchange","time":")";
    append_timestamp(event, delivery.record->start_time);
    event += R"(","datacontenttype":"application/json","data":)";
    // Record and JSON bodies are JSON by construction; a text body is
    // embedded as-is only when it happens to be JSON, else as a string.
    if (sink_.body.kind == config::Body::Kind::text && !nlohmann::json::accept(data)) {
        append_json_string(event, data);
    } else {
        event += data;
    }
    event += '}';
    return event;
}

// Appends the request's header lines to `list` (owned by the caller, also
// when this fails). False when libcurl runs out of memory.
bool WebhookAction::build_headers(const Delivery& delivery, bool has_body, const std::string& body,
                                  curl_slist*& list) const {
    const RenderContext ctx{*delivery.record, delivery.trigger, hook_name_};
    const bool cloudevents = sink_.format == config::WebhookSink::Format::cloudevents;
    const bool signing = !signing_key_.empty();
    std::vector<std::string> lines;
    bool content_type_set = false;
    for (const auto& [name, tmpl] : sink_.headers) {
        if (iequals(name, "content-type")) {
            if (cloudevents) continue;  // structured mode fixes the media type
            content_type_set = true;
        }
        if (signing && is_signature_header(name)) continue;
        std::string value = render_text(tmpl, ctx);
        sanitize_header_value(value);
        // "Name:" alone would make libcurl drop the header; "Name;" sends it empty.
        lines.push_back(value.empty() ? name + ";" : name + ": " + value);
    }
    if (has_body && !content_type_set) lines.push_back(std::string("Content-Type: ") + content_type_for(sink_));
    // libcurl would otherwise send "Expect: 100-continue" for larger bodies
    // and wait for an interim response many receivers never send.
    lines.emplace_back("Expect:");
    if (signing) {
        const int64_t timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
        std::string id = delivery.id;
        sanitize_header_value(id);
        lines.push_back("webhook-id: " + id);
        lines.push_back("webhook-timestamp: " + std::to_string(timestamp));
        lines.push_back("webhook-signature: " + sign_standard_webhook_with_key(signing_key_, id, timestamp, body));
    }
    for (const auto& line : lines) {
        curl_slist* longer = libcurl().slist_append(list, line.c_str());
        if (!longer) return false;
        list = longer;
    }
    return true;
}

// Builds the easy handle of one attempt. False when libcurl cannot (out of
// memory, an option this libcurl lacks).
bool WebhookAction::configure(Attempt& attempt, const Delivery& delivery, milliseconds timeout) {
    const RenderContext ctx{*delivery.record, delivery.trigger, hook_name_};
    attempt.url = render_url(sink_.url, ctx);
    attempt.body = render_request_body(delivery);
    const bool is_get = sink_.method == "GET";
    const bool is_head = sink_.method == "HEAD";
    if (!build_headers(delivery, !is_get && !is_head, attempt.body, attempt.headers)) return false;
    const CurlLibrary& curl = libcurl();
    attempt.easy = take_handle();
    if (!attempt.easy) return false;

    CURL* easy = attempt.easy;
    CURLcode failure = CURLE_OK;
    auto check = [&failure](CURLcode code) {
        if (failure == CURLE_OK) failure = code;
    };
    check(curl.easy_setopt(easy, CURLOPT_ERRORBUFFER, attempt.error));
    check(curl.easy_setopt(easy, CURLOPT_URL, attempt.url.c_str()));
    check(curl.easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https"));
    check(curl.easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1)));
    check(curl.easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L));
    check(curl.easy_setopt(easy, CURLOPT_NOSIGNAL, 1L));
    // 0 would mean "no timeout" to libcurl: an attempt always has one.
    check(curl.easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(timeout.count(), 1))));
    check(curl.easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, sink_.tls_verify ? 1L : 0L));
    check(curl.easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, sink_.tls_verify ? 2L : 0L));
    check(curl.easy_setopt(easy, CURLOPT_USERAGENT, user_agent_.c_str()));
    check(curl.easy_setopt(easy, CURLOPT_HTTPHEADER, attempt.headers));
    check(curl.easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxResponseBytes)));
    check(curl.easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Attempt::on_body));
    check(curl.easy_setopt(easy, CURLOPT_WRITEDATA, &attempt));
    check(curl.easy_setopt(easy, CURLOPT_HEADERFUNCTION, &Attempt::on_header));
    check(curl.easy_setopt(easy, CURLOPT_HEADERDATA, &attempt));
    if (is_get) {
        check(curl.easy_setopt(easy, CURLOPT_HTTPGET, 1L));
    } else if (is_head) {
        check(curl.easy_setopt(easy, CURLOPT_NOBODY, 1L));
    } else {
        check(curl.easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(attempt.body.size())));
        check(curl.easy_setopt(easy, CURLOPT_POSTFIELDS, attempt.body.data()));
        if (sink_.method != "POST") check(curl.easy_setopt(easy, CURLOPT_CUSTOMREQUEST, sink_.method.c_str()));
    }
    return failure == CURLE_OK;
}

void WebhookAction::on_transfer_done(Attempt* attempt, CURLcode code) {
    attempt->in_multi = false;
    using Status = AttemptResult::Status;
    // Only CurlMulti::close produces this code: this action's write and
    // header callbacks never abort a transfer that way.
    if (code == CURLE_ABORTED_BY_CALLBACK) return finish(attempt, result_of(Status::failed, "shutdown"));

    long status = 0;
    libcurl().easy_getinfo(attempt->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200) {
        if (status <= 299) return finish(attempt, result_of(Status::delivered, {}));
        std::string reason = "HTTP " + std::to_string(status);
        if (!attempt->response_start.empty()) reason += ": " + printable(attempt->response_start);
        if (status == 429 || (status >= 500 && status <= 599))
            return finish(attempt, result_of(Status::retry, std::move(reason), attempt->retry_after));
        return finish(attempt, result_of(Status::failed, std::move(reason)));
    }
    if (code == CURLE_OPERATION_TIMEDOUT) return finish(attempt, result_of(Status::retry, "timeout"));
    const std::string detail = attempt->error[0] != '\0' ? attempt->error : libcurl().easy_strerror(code);
    // A URL that does not parse or names another protocol fails the same way
    // on every attempt.
    if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL)
        return finish(attempt, result_of(Status::failed, "invalid url: " + detail));
    finish(attempt, result_of(Status::retry, "network: " + detail));
}

void WebhookAction::defer(Attempt* attempt, AttemptResult result) {
    attempt->result = std::move(result);
    deferred_.push_back(attempt);
    if (!closing_) uv_timer_start(&deferred_timer_, &WebhookAction::on_deferred, 0, 0);
}

void WebhookAction::on_deferred(uv_timer_t* timer) { static_cast<WebhookAction*>(timer->data)->run_deferred(); }

// Reports the attempts whose result is known, one at a time: a `done` may
// start new attempts (appended here) or close the action.
void WebhookAction::run_deferred() {
    while (!deferred_.empty()) {
        Attempt* attempt = deferred_.front();
        deferred_.pop_front();
        finish(attempt, std::move(attempt->result));
    }
}

// Frees the attempt, then reports its result; `done` runs last because it may
// start another attempt or close this action.
void WebhookAction::finish(Attempt* attempt, AttemptResult result) {
    auto it = attempts_.find(attempt);
    recycle(*attempt);
    Done done = std::move(it->second->done);
    attempts_.erase(it);
    done(std::move(result));
}

void WebhookAction::close(std::function<void()> closed) {
    if (closing_) return;
    closing_ = true;
    closed_callback_ = std::move(closed);
    multi_.release_connections(std::max(sink_.concurrency, 1u));
    for (const auto& entry : attempts_) {
        Attempt* attempt = entry.first;
        if (!attempt->in_multi) continue;  // already deferred
        multi_.remove(attempt->easy);
        attempt->in_multi = false;
        attempt->result = result_of(AttemptResult::Status::failed, "shutdown");
        deferred_.push_back(attempt);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&deferred_timer_), &WebhookAction::on_timer_closed);
}

void WebhookAction::on_timer_closed(uv_handle_t* handle) {
    auto* self = static_cast<WebhookAction*>(handle->data);
    self->run_deferred();
    self->closed_ = true;
    auto closed = std::move(self->closed_callback_);
    if (closed) closed();  // may delete the action: nothing after it
}

std::unique_ptr<Action> make_webhook_action(uv_loop_t* loop, CurlMulti& multi, const config::WebhookSink& sink,
                                            std::string hook_name) {
    return std::make_unique<WebhookAction>(loop, multi, sink, std::move(hook_name));
}

}  // namespace afterhook::hooks
