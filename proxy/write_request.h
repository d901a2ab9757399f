// WriteRequest: one uv_write_t and the bytes it writes, kept alive until the
// write callback (which libuv always calls, with UV_ECANCELED on close).
#pragma once

#include <uv.h>

#include <string>

namespace afterhook::proxy {

struct WriteRequest {
    uv_write_t req{};
    std::string data;

    // Starts the write; on failure to start, deletes itself and returns the error.
    static int start(uv_stream_t* stream, std::string&& data, void* owner, uv_write_cb cb) {
        auto* w = new WriteRequest;
        w->data = std::move(data);
        w->req.data = owner;
        uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
        int rc = uv_write(&w->req, stream, &buf, 1, cb);
        if (rc < 0) delete w;
        return rc;
    }
    static WriteRequest* from(uv_write_t* req) { return reinterpret_cast<WriteRequest*>(req); }
};

}  // namespace afterhook::proxy
