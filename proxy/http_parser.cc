#include "proxy/http_parser.h"

#include <utility>

namespace afterhook::proxy {

namespace {

constexpr llhttp_settings_t kSettings = {
    .on_message_begin = HttpParser::cb_message_begin,
    .on_url = HttpParser::cb_url,
    .on_status = HttpParser::cb_status,
    .on_method = HttpParser::cb_method,
    .on_version = nullptr,
    .on_header_field = HttpParser::cb_header_field,
    .on_header_value = HttpParser::cb_header_value,
    .on_chunk_extension_name = HttpParser::cb_chunk_extension,
    .on_chunk_extension_value = HttpParser::cb_chunk_extension,
    .on_headers_complete = HttpParser::cb_headers_complete,
    .on_body = HttpParser::cb_body,
    .on_message_complete = HttpParser::cb_message_complete,
    .on_url_complete = nullptr,
    .on_status_complete = nullptr,
    .on_method_complete = nullptr,
    .on_version_complete = nullptr,
    .on_header_field_complete = nullptr,
    .on_header_value_complete = HttpParser::cb_header_value_complete,
    .on_chunk_extension_name_complete = nullptr,
    .on_chunk_extension_value_complete = nullptr,
    .on_chunk_header = HttpParser::cb_chunk_header,
    .on_chunk_complete = nullptr,
    .on_reset = nullptr,
};

HttpParser& self(llhttp_t* p) { return *static_cast<HttpParser*>(p->data); }

}  // namespace

int HttpParser::cb_message_begin(llhttp_t* p) { return self(p).on_message_begin(); }
int HttpParser::cb_url(llhttp_t* p, const char* at, size_t n) { return self(p).on_url(at, n); }
int HttpParser::cb_status(llhttp_t* p, const char* at, size_t n) { return self(p).on_status(at, n); }
int HttpParser::cb_method(llhttp_t* p, const char* at, size_t n) { return self(p).on_method(at, n); }
int HttpParser::cb_header_field(llhttp_t* p, const char* at, size_t n) { return self(p).on_header_field(at, n); }
int HttpParser::cb_header_value(llhttp_t* p, const char* at, size_t n) { return self(p).on_header_value(at, n); }
int HttpParser::cb_header_value_complete(llhttp_t* p) { return self(p).on_header_value_complete(); }
int HttpParser::cb_headers_complete(llhttp_t* p) { return self(p).on_headers_complete(); }
int HttpParser::cb_body(llhttp_t* p, const char* at, size_t n) { return self(p).on_body(at, n); }
int HttpParser::cb_message_complete(llhttp_t* p) { return self(p).on_message_complete(); }
int HttpParser::cb_chunk_header(llhttp_t* p) { return self(p).on_chunk_header(); }
int HttpParser::cb_chunk_extension(llhttp_t* p, const char*, size_t n) { return self(p).on_chunk_extension(n); }

HttpParser::HttpParser(Type type, const ParserLimits& limits, Handler& handler)
    : type_(type), limits_(limits), handler_(handler) {
    llhttp_init(&parser_, type == Type::request ? HTTP_REQUEST : HTTP_RESPONSE, &kSettings);
    parser_.data = this;
}

HttpParser::Result HttpParser::feed(const char* data, size_t length) {
    chunk_begin_ = data;
    head_origin_ = nullptr;
    llhttp_errno_t err = llhttp_execute(&parser_, data, length);
    Result result = translate(err, data, length);
    if (result.status == Status::need_more && in_message_ && (!head_complete_ || in_trailers_)) {
        // The head (or trailer section) continues in the next chunk: keep
        // counting its size across reads so a slow drip cannot grow it.
        const char* base = head_origin_ ? head_origin_ : data;
        head_bytes_ += static_cast<uint64_t>(data + length - base);
        if (head_bytes_ > limits_.max_header_bytes) {
            error_status_ = 431;
            error_reason_ = "request header fields too large";
            if (type_ == Type::response) error_status_ = 502;
            return {Status::error, result.consumed};
        }
    }
    if (result.consumed > 0) previous_byte_ = data[result.consumed - 1];
    return result;
}

HttpParser::Result HttpParser::finish() {
    llhttp_errno_t err = llhttp_finish(&parser_);
    if (err == HPE_OK) return {Status::need_more, 0};
    if (err == HPE_PAUSED) return {Status::paused, 0};
    if (error_status_ == 0) {
        error_status_ = type_ == Type::request ? 400 : 502;
        error_reason_ = "connection closed inside a message";
    }
    return {Status::error, 0};
}

void HttpParser::resume() { llhttp_resume(&parser_); }

void HttpParser::fail(int status, std::string reason) {
    error_status_ = status;
    error_reason_ = std::move(reason);
}

HttpParser::Result HttpParser::translate(llhttp_errno_t err, const char* data, size_t length) {
    auto consumed_to_error = [&] {
        const char* pos = llhttp_get_error_pos(&parser_);
        return pos ? static_cast<size_t>(pos - data) : length;
    };
    switch (err) {
    case HPE_OK:
        return {Status::need_more, length};
    case HPE_PAUSED:
        return {Status::paused, consumed_to_error()};
    case HPE_PAUSED_UPGRADE:
        return {Status::upgrade, consumed_to_error()};
    default:
        break;
    }
    if (error_status_ == 0) {
        // An llhttp protocol error: the message is malformed.
        error_status_ = type_ == Type::request ? 400 : 502;
        const char* reason = llhttp_get_error_reason(&parser_);
        error_reason_ = reason ? reason : llhttp_errno_name(err);
    }
    return {Status::error, consumed_to_error()};
}

int HttpParser::user_error(int status, const char* reason) {
    error_status_ = type_ == Type::response ? 502 : status;
    error_reason_ = reason;
    llhttp_set_error_reason(&parser_, reason);
    return HPE_USER;
}

int HttpParser::count_head_bytes(const char* end) {
    if (!head_origin_) head_origin_ = chunk_begin_;
    uint64_t total = head_bytes_ + static_cast<uint64_t>(end - head_origin_);
    if (total > limits_.max_header_bytes) return user_error(431, "request header fields too large");
    return 0;
}

int HttpParser::on_message_begin() {
    head_.clear();
    trailers_.clear();
    fields_ = &head_.fields;
    in_value_ = in_field_ = false;
    in_message_ = true;
    head_complete_ = in_trailers_ = false;
    head_bytes_ = 0;
    head_origin_ = nullptr;
    body_bytes_ = 0;
    chunk_extension_bytes_ = 0;
    return 0;
}

int HttpParser::on_method(const char* at, size_t n) {
    if (!head_origin_) head_origin_ = at;
    head_.method.append(at, n);
    return count_head_bytes(at + n);
}

int HttpParser::on_url(const char* at, size_t n) {
    if (head_.target.size() + n > limits_.max_uri_bytes) return user_error(414, "request target too long");
    head_.target.append(at, n);
    return count_head_bytes(at + n);
}

int HttpParser::on_status(const char* at, size_t n) {
    if (!head_origin_) head_origin_ = at;
    head_.reason.append(at, n);
    return count_head_bytes(at + n);
}

int HttpParser::on_header_field(const char* at, size_t n) {
    if (in_trailers_ && !head_origin_) head_origin_ = at;
    if (!in_field_) {
        if (fields_->size() >= limits_.max_headers) return user_error(431, "too many header fields");
        fields_->emplace_back();
        in_field_ = true;
        in_value_ = false;
    }
    fields_->back().name.append(at, n);
    return count_head_bytes(at + n);
}

int HttpParser::on_header_value(const char* at, size_t n) {
    if (!in_field_ && !in_value_) return user_error(400, "empty header field name");
    if (in_value_) {
        // A second piece of the same value. Inside one value there is never a
        // line break, so a piece that follows LF is an obs-fold continuation.
        char before = at > chunk_begin_ ? at[-1] : previous_byte_;
        if (before == '\n') return user_error(400, "obsolete line folding");
    }
    if (in_field_ && fields_->back().name.empty()) return user_error(400, "empty header field name");
    in_field_ = false;
    in_value_ = true;
    fields_->back().value.append(at, n);
    return count_head_bytes(at + n);
}

int HttpParser::on_header_value_complete() {
    if (in_field_) {
        // A field with an empty value: llhttp calls no value callback.
        if (fields_->back().name.empty()) return user_error(400, "empty header field name");
        in_field_ = false;
    }
    in_value_ = false;
    std::string& value = fields_->back().value;
    std::string_view trimmed = trim_ows(value);
    if (trimmed.size() != value.size()) value = std::string(trimmed);
    return 0;
}

// Returns 0 when Transfer-Encoding is exactly "chunked", else the status to
// answer: 400 when chunked is not the final coding (the length is unknown,
// RFC 9112 section 6.3), 501 when other codings come before it (afterhook
// re-frames bodies and would have to forward them undecoded).
int HttpParser::check_transfer_encoding() const {
    std::vector<std::string_view> codings;
    for (const auto& field : head_.fields) {
        if (!iequals(field.name, "transfer-encoding")) continue;
        for_each_list_element(field.value, [&](std::string_view coding) { codings.push_back(coding); });
    }
    if (codings.empty() || !iequals(codings.back(), "chunked")) return 400;
    return codings.size() == 1 ? 0 : 501;
}

bool HttpParser::check_head() {
    head_.version_major = parser_.http_major;
    head_.version_minor = parser_.http_minor;
    if (head_.version_major != 1 || head_.version_minor > 1) {
        user_error(400, "unsupported HTTP version");
        return false;
    }
    bool has_te = head_.find("transfer-encoding") != nullptr;
    if (has_te && head_.is_http10()) {
        user_error(400, "Transfer-Encoding in an HTTP/1.0 message");
        return false;
    }
    if (int status = has_te ? check_transfer_encoding() : 0; status != 0) {
        user_error(status, status == 501 ? "unsupported transfer coding" : "chunked is not the final transfer coding");
        return false;
    }
    if (type_ == Type::request) {
        size_t hosts = head_.count("host");
        if (hosts > 1 || (hosts == 0 && !head_.is_http10())) {
            user_error(400, hosts ? "more than one Host header" : "missing Host header");
            return false;
        }
    }
    head_.status = parser_.status_code;
    if (type_ == Type::response && (head_.status < 100 || head_.status > 599)) {
        user_error(502, "invalid status code");  // RFC 9110 section 15: three digits, 100..599
        return false;
    }
    head_.chunked = (parser_.flags & F_CHUNKED) != 0;
    if (parser_.flags & F_CONTENT_LENGTH) head_.content_length = parser_.content_length;
    head_.upgrade = parser_.upgrade != 0;
    head_.keep_alive = llhttp_should_keep_alive(&parser_) != 0;
    if (type_ == Type::request && limits_.max_body_bytes > 0 && head_.content_length &&
        *head_.content_length > limits_.max_body_bytes) {
        user_error(413, "request body too large");
        return false;
    }
    return true;
}

int HttpParser::on_headers_complete() {
    if (in_field_ && fields_->back().name.empty()) return user_error(400, "empty header field name");
    if (!check_head()) return -1;
    head_complete_ = true;
    bool skip_body = false;
    if (!handler_.on_head(head_, skip_body)) {
        if (error_status_ == 0) user_error(type_ == Type::request ? 400 : 502, "rejected");
        llhttp_set_error_reason(&parser_, error_reason_.c_str());
        return -1;
    }
    return skip_body ? 1 : 0;
}

int HttpParser::on_body(const char* at, size_t n) {
    body_bytes_ += n;
    if (type_ == Type::request && limits_.max_body_bytes > 0 && body_bytes_ > limits_.max_body_bytes)
        return user_error(413, "request body too large");
    handler_.on_body(at, n);
    return error_status_ ? HPE_USER : 0;
}

int HttpParser::on_chunk_header() {
    chunk_extension_bytes_ = 0;
    if (parser_.content_length == 0) {
        // The last chunk: what follows is the trailer section, with the same
        // size limits as the head.
        in_trailers_ = true;
        fields_ = &trailers_;
        head_bytes_ = 0;
        head_origin_ = nullptr;
    }
    return 0;
}

int HttpParser::on_chunk_extension(size_t n) {
    chunk_extension_bytes_ += n;
    if (chunk_extension_bytes_ > limits_.max_chunk_extension_bytes)
        return user_error(400, "chunk extensions too long");
    return 0;
}

int HttpParser::on_message_complete() {
    in_message_ = false;
    bool pause = handler_.on_message_complete(std::move(trailers_));
    trailers_.clear();
    if (error_status_) return HPE_USER;
    // An upgrade pauses by itself (HPE_PAUSED_UPGRADE) right after this.
    if (parser_.upgrade) return 0;
    return pause ? HPE_PAUSED : 0;
}

}  // namespace afterhook::proxy
