// StreamWriter: the output side of one TCP stream. Bytes are appended during
// an event and flushed once at its end, so a response head and the body that
// arrived with it leave in one write(2). flush() first tries a direct write;
// only what the kernel does not take is queued as a uv_write_t (whose
// callback libuv always calls, with UV_ECANCELED on close).
#pragma once

#include <uv.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace afterhook::proxy {

class StreamWriter {
public:
    // `owner` is stored in each uv_write_t's data; `cb` must call complete().
    void init(uv_stream_t* stream, void* owner, uv_write_cb cb) {
        stream_ = stream;
        owner_ = owner;
        cb_ = cb;
    }

    void append(std::string_view data) { out_.append(data); }
    // What append() adds to, for writing into it directly (a head built in
    // place instead of in a string of its own).
    std::string& buffer() { return out_; }
    // One chunk of a chunked body: size line, data, CRLF.
    void append_chunk(const char* data, size_t length);
    bool has_pending() const { return !out_.empty(); }

    // Hands everything appended so far to the kernel or to libuv's queue.
    // Returns 0, or a libuv error when the stream cannot be written at all.
    int flush();

    // Bytes not yet handed to the kernel.
    size_t backlog() const { return queued_ + out_.size(); }
    // Writes not yet handed to the kernel (appended-but-unflushed counts as one).
    size_t in_flight() const { return writes_ + (out_.empty() ? 0 : 1); }

    // From the owner's write callback: frees the request and updates counters.
    void complete(uv_write_t* req);

private:
    struct Request {
        uv_write_t req{};
        std::string data;
    };

    uv_stream_t* stream_ = nullptr;
    void* owner_ = nullptr;
    uv_write_cb cb_ = nullptr;
    std::string out_;
    size_t queued_ = 0;
    size_t writes_ = 0;
};

}  // namespace afterhook::proxy
