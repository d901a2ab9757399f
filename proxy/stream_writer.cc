#include "proxy/stream_writer.h"

#include <cstdio>

namespace afterhook::proxy {

void StreamWriter::append_chunk(const char* data, size_t length) {
    char size_line[24];
    int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", length);
    out_.append(size_line, static_cast<size_t>(n)).append(data, length).append("\r\n");
}

int StreamWriter::flush() {
    if (out_.empty()) return 0;
    size_t offset = 0;
    if (writes_ == 0) {
        // Nothing queued: try the kernel directly. This skips the write
        // request, its callback and the epoll re-arm libuv does after one.
        uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
        int n = uv_try_write(stream_, &buf, 1);
        if (n == static_cast<int>(out_.size())) {
            out_.clear();  // keeps its capacity for the next event
            return 0;
        }
        if (n < 0 && n != UV_EAGAIN) {
            out_.clear();
            return n;
        }
        if (n > 0) offset = static_cast<size_t>(n);
    }
    auto* request = new Request;
    request->data = offset ? out_.substr(offset) : std::move(out_);
    out_.clear();
    request->req.data = owner_;
    uv_buf_t buf = uv_buf_init(request->data.data(), static_cast<unsigned>(request->data.size()));
    int rc = uv_write(&request->req, stream_, &buf, 1, cb_);
    if (rc < 0) {
        delete request;
        return rc;
    }
    queued_ += request->data.size();
    ++writes_;
    return 0;
}

void StreamWriter::complete(uv_write_t* req) {
    auto* request = reinterpret_cast<Request*>(req);
    queued_ -= request->data.size();
    --writes_;
    delete request;
}

}  // namespace afterhook::proxy
