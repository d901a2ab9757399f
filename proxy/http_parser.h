// HttpParser: llhttp (strict mode, never lenient) plus the checks a proxy
// must add on top of llhttp 8.1, and the limits from the config. It turns a
// byte stream into events on a Handler: one head, body pieces, completion.
//
// Contract: feed() consumes bytes until the data ends, a message completes
// and the handler asked to pause, an upgrade begins, or an error. The caller
// keeps the unconsumed rest. Callbacks run synchronously inside feed(), and
// data pointers passed to on_body() are valid only during that call.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "proxy/http_message.h"

namespace afterhook::proxy {

struct ParserLimits {
    uint64_t max_header_bytes = 64 * 1024;  // head, start line included; trailers too
    uint32_t max_headers = 100;
    uint64_t max_uri_bytes = 8 * 1024;
    uint64_t max_body_bytes = 0;  // 0 = unlimited
    uint64_t max_chunk_extension_bytes = 1024;
};

class HttpParser {
public:
    enum class Type { request, response };

    class Handler {
    public:
        // The head is complete and valid. Return false to fail the message
        // (after calling fail()). For responses, set `skip_body` when the
        // message has no body whatever its framing says (HEAD, 204, 304).
        virtual bool on_head(MessageHead& head, bool& skip_body) = 0;
        virtual void on_body(const char* data, size_t length) = 0;
        // Return true to pause the parser after this message (see feed()).
        virtual bool on_message_complete(std::vector<HeaderField>&& trailers) = 0;

    protected:
        virtual ~Handler() = default;
    };

    enum class Status {
        need_more,  // every byte consumed, message not finished (or between messages)
        paused,     // a message completed and the handler asked to pause
        upgrade,    // the message completed and the connection switches protocols
        error,      // see error_status() / error_reason()
    };
    struct Result {
        Status status;
        size_t consumed;
    };

    HttpParser(Type type, const ParserLimits& limits, Handler& handler);
    HttpParser(const HttpParser&) = delete;
    HttpParser& operator=(const HttpParser&) = delete;

    Result feed(const char* data, size_t length);
    // The peer closed its side. Completes a read-to-EOF message; an error if
    // the connection closed inside a message.
    Result finish();
    // Continue after Status::paused.
    void resume();

    // Inside a handler callback: reject the message with this status (the
    // status a request is answered with; 502 for responses) and reason.
    void fail(int status, std::string reason);

    int error_status() const { return error_status_; }
    const std::string& error_reason() const { return error_reason_; }
    bool in_message() const { return in_message_; }
    bool head_complete() const { return head_complete_; }
    // Bytes of the current head received so far (start line included).
    uint64_t head_bytes() const { return head_bytes_; }
    // What has been parsed of the current head so far (for records of rejected requests).
    const MessageHead& partial_head() const { return head_; }

    // llhttp C callbacks (public only for the settings table).
    static int cb_message_begin(llhttp_t* p);
    static int cb_url(llhttp_t* p, const char* at, size_t n);
    static int cb_status(llhttp_t* p, const char* at, size_t n);
    static int cb_method(llhttp_t* p, const char* at, size_t n);
    static int cb_header_field(llhttp_t* p, const char* at, size_t n);
    static int cb_header_value(llhttp_t* p, const char* at, size_t n);
    static int cb_header_value_complete(llhttp_t* p);
    static int cb_headers_complete(llhttp_t* p);
    static int cb_body(llhttp_t* p, const char* at, size_t n);
    static int cb_message_complete(llhttp_t* p);
    static int cb_chunk_header(llhttp_t* p);
    static int cb_chunk_extension(llhttp_t* p, const char* at, size_t n);

private:
    int on_message_begin();
    int on_url(const char* at, size_t n);
    int on_status(const char* at, size_t n);
    int on_method(const char* at, size_t n);
    int on_header_field(const char* at, size_t n);
    int on_header_value(const char* at, size_t n);
    int on_header_value_complete();
    int on_headers_complete();
    int on_body(const char* at, size_t n);
    int on_message_complete();
    int on_chunk_header();
    int on_chunk_extension(size_t n);

    int count_head_bytes(const char* end);
    int user_error(int status, const char* reason);
    bool check_head();
    int check_transfer_encoding() const;
    Result translate(llhttp_errno_t err, const char* data, size_t length);

    Type type_;
    ParserLimits limits_;
    Handler& handler_;
    llhttp_t parser_;

    MessageHead head_;
    std::vector<HeaderField> trailers_;
    std::vector<HeaderField>* fields_ = &head_.fields;  // head fields, then trailers
    bool in_field_ = false;     // a field name has started, its value not yet
    bool in_value_ = false;     // a header value has started and not completed
    const char* head_origin_ = nullptr;  // where the head (or trailers) began in this chunk
    bool in_message_ = false;
    bool head_complete_ = false;
    bool in_trailers_ = false;
    uint64_t head_bytes_ = 0;     // bytes of the head before the current feed() chunk
    const char* chunk_begin_ = nullptr;
    char previous_byte_ = 0;      // last byte of the previous feed() call, for obs-fold
    uint64_t body_bytes_ = 0;
    uint64_t chunk_extension_bytes_ = 0;
    int error_status_ = 0;
    std::string error_reason_;
};

}  // namespace afterhook::proxy
