#include "proxy/config_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <utility>

namespace afterhook::proxy {

namespace {

// Every way a file in the directory can come to hold another config: written
// in place and closed, renamed or linked in, created (a new `..data_tmp`
// symlink), removed or renamed away (the old `..2026_...` target), its
// attributes changed, and the directory itself removed or moved.
constexpr uint32_t kEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB |
                             IN_DELETE_SELF | IN_MOVE_SELF;

std::string directory_of(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string file_name_of(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool ConfigWatch::may_change_config(std::string_view name, std::string_view config_name) {
    return name.empty() || name == config_name || name.substr(0, 2) == "..";
}

int ConfigWatch::start(uv_loop_t* loop, const std::string& config_path, Changed changed) {
    const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return -errno;
    if (inotify_add_watch(fd, directory_of(config_path).c_str(), kEvents) < 0) {
        const int error = -errno;
        ::close(fd);
        return error;
    }
    if (const int rc = uv_poll_init(loop, &poll_, fd); rc != 0) {
        ::close(fd);  // the handle was not initialised: nothing to close on the loop
        return rc;
    }
    fd_ = fd;
    watching_ = true;
    poll_.data = this;
    config_name_ = file_name_of(config_path);
    changed_ = std::move(changed);
    return uv_poll_start(&poll_, UV_READABLE, &ConfigWatch::on_readable);
}

void ConfigWatch::close() {
    if (!watching_) return;
    watching_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &ConfigWatch::on_closed);
}

void ConfigWatch::on_readable(uv_poll_t* poll, int status, int) {
    auto* self = static_cast<ConfigWatch*>(poll->data);
    // An error on an inotify descriptor is not expected; read anyway, which
    // either finds events or says EAGAIN.
    (void)status;
    if (self->drain_events() && self->changed_) self->changed_();
}

void ConfigWatch::on_closed(uv_handle_t* handle) {
    auto* self = static_cast<ConfigWatch*>(handle->data);
    ::close(self->fd_);
    self->fd_ = -1;
}

bool ConfigWatch::drain_events() {
    alignas(inotify_event) char buffer[4096];
    bool relevant = false;
    for (;;) {
        const ssize_t length = ::read(fd_, buffer, sizeof buffer);
        if (length < 0 && errno == EINTR) continue;
        if (length <= 0) return relevant;  // EAGAIN: nothing more queued
        for (ssize_t offset = 0; offset + static_cast<ssize_t>(sizeof(inotify_event)) <= length;) {
            inotify_event event;
            std::memcpy(&event, buffer + offset, sizeof event);
            const char* name = buffer + offset + sizeof event;
            // The name is padded with NULs to event.len bytes.
            const std::string_view changed(name, event.len > 0 ? strnlen(name, event.len) : 0);
            ++events_read_;
            if ((event.mask & IN_Q_OVERFLOW) != 0 || may_change_config(changed, config_name_)) relevant = true;
            offset += static_cast<ssize_t>(sizeof event + event.len);
        }
    }
}

}  // namespace afterhook::proxy
