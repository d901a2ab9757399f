// ConfigWatch: says when the config file may have changed, by watching its
// directory with inotify on the main loop.
//
// The directory, not the file: Kubernetes updates a ConfigMap volume by
// swapping the `..data` symlink, so the file itself is never written, and an
// editor or `kubectl cp` may rename a new file over it.
//
// Only events that can change the config are asked for. A file written in
// place counts when its writer closes it (IN_CLOSE_WRITE), never on each
// write (IN_MODIFY): an access log that afterhook itself writes into the
// same directory would otherwise wake the main thread, and make the kernel
// queue an event, for every batch of lines it writes.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace afterhook::proxy {

class ConfigWatch {
public:
    using Changed = std::function<void()>;

    ConfigWatch() = default;
    ConfigWatch(const ConfigWatch&) = delete;
    ConfigWatch& operator=(const ConfigWatch&) = delete;

    // Starts watching the directory of `config_path` on `loop`; `changed`
    // runs on the loop for every batch of events that may concern the
    // config. Returns 0, or a negative errno-style code (the same values as
    // libuv's): then nothing is watched, and close() still releases whatever
    // was set up.
    int start(uv_loop_t* loop, const std::string& config_path, Changed changed);

    // Stops watching. The poll handle is closed and the inotify descriptor
    // released in its close callback; this object must outlive it (it does
    // when it lives as long as the loop runs).
    void close();

    // Whether an event about `name` in the config's directory can change a
    // config file called `config_name`: the file itself, or one of the
    // `..`-names through which Kubernetes swaps a ConfigMap volume
    // (`..data`, `..data_tmp`, `..2026_11_22_...`). An empty name is an
    // event on the directory itself.
    static bool may_change_config(std::string_view name, std::string_view config_name);

    // Events read from the directory so far, whether they concerned the
    // config or not.
    uint64_t events_read() const { return events_read_; }

private:
    static void on_readable(uv_poll_t* poll, int status, int events);
    static void on_closed(uv_handle_t* handle);
    bool drain_events();  // reads every queued event; true if one may concern the config

    uv_poll_t poll_{};
    int fd_ = -1;
    bool watching_ = false;
    uint64_t events_read_ = 0;
    std::string config_name_;
    Changed changed_;
};

}  // namespace afterhook::proxy
