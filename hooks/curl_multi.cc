#include "hooks/curl_multi.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <utility>
#include <vector>

#include "hooks/curl_library.h"
#include "proxy/log.h"

namespace afterhook::hooks {

namespace {

uv_handle_t* as_handle(uv_timer_t* timer) { return reinterpret_cast<uv_handle_t*>(timer); }
uv_handle_t* as_handle(uv_poll_t* poll) { return reinterpret_cast<uv_handle_t*>(poll); }

// The descriptors open in this process now (empty when /proc is missing).
std::vector<int> open_descriptors() {
    std::vector<int> found;
    DIR* dir = ::opendir("/proc/self/fd");
    if (!dir) return found;
    const int own = ::dirfd(dir);
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        const int fd = std::atoi(entry->d_name);
        if (fd != own) found.push_back(fd);
    }
    ::closedir(dir);
    std::sort(found.begin(), found.end());
    return found;
}

// Marks close-on-exec every descriptor opened since `before` was taken.
// libcurl makes a socket pair for each multi handle without the flag, and an
// exec hook's command would otherwise inherit it. Every descriptor afterhook
// itself opens has the flag already, so one opened meanwhile by another
// thread is left as it was.
void close_on_exec_since(const std::vector<int>& before) {
    for (const int fd : open_descriptors()) {
        if (std::binary_search(before.begin(), before.end(), fd)) continue;
        const int flags = ::fcntl(fd, F_GETFD);
        if (flags >= 0 && (flags & FD_CLOEXEC) == 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

}  // namespace

CurlMulti::CurlMulti(uv_loop_t* loop) : loop_(loop) {
    const std::vector<int> before = open_descriptors();
    multi_ = libcurl().multi_init();  // loads and initialises libcurl the first time
    if (!multi_) throw std::runtime_error("libcurl cannot create a multi handle");
    close_on_exec_since(before);
    uv_timer_init(loop_, &timer_);
    timer_.data = this;
    libcurl().multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlMulti::on_socket);
    libcurl().multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    libcurl().multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlMulti::on_timer_change);
    libcurl().multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    apply_connection_limits();
}

std::shared_ptr<CurlMulti> CurlMulti::make_shared(uv_loop_t* loop) {
    return std::shared_ptr<CurlMulti>(new CurlMulti(loop), [](CurlMulti* multi) { multi->release_shared(); });
}

void CurlMulti::release_shared() {
    if (closed_) {
        delete this;
        return;
    }
    delete_when_closed_ = true;
    close({});  // does nothing if a close is already under way
}

CurlMulti::~CurlMulti() {
    if (!closed_) {
        log::error("internal: CurlMulti destroyed before its handles were closed");
        std::abort();
    }
}

void CurlMulti::reserve_connections(unsigned count) {
    connections_ += count;
    apply_connection_limits();
}

void CurlMulti::release_connections(unsigned count) {
    connections_ -= std::min(count, connections_);
    apply_connection_limits();
}

void CurlMulti::apply_connection_limits() {
    if (closing_) return;
    const long limit = static_cast<long>(std::max(connections_, 1u));
    libcurl().multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, limit);
    libcurl().multi_setopt(multi_, CURLMOPT_MAXCONNECTS, limit);
}

bool CurlMulti::add(CURL* easy, Completed completed) {
    if (closing_ || !easy) return false;
    const CurlLibrary& curl = libcurl();
    if (curl.easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &CurlMulti::on_open_socket) != CURLE_OK ||
        curl.easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this) != CURLE_OK ||
        curl.easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &CurlMulti::on_close_socket) != CURLE_OK ||
        curl.easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this) != CURLE_OK) {
        return false;
    }
    // Registered first: adding may already call back into the multi.
    auto [it, inserted] = transfers_.emplace(easy, std::move(completed));
    if (!inserted) return false;
    const CURLMcode code = libcurl().multi_add_handle(multi_, easy);
    if (code != CURLM_OK) {
        transfers_.erase(easy);
        return false;
    }
    return true;
}

bool CurlMulti::remove(CURL* easy) {
    if (cancelled_.erase(easy) > 0) return true;  // already out of the multi
    auto it = transfers_.find(easy);
    if (it == transfers_.end()) return false;
    transfers_.erase(it);
    libcurl().multi_remove_handle(multi_, easy);
    return true;
}

void CurlMulti::close(std::function<void()> closed) {
    if (closing_) return;
    closing_ = true;
    closed_callback_ = std::move(closed);
    // From here on the socket and timer callbacks ignore libcurl: every poll
    // and the timer are closed below, whatever libcurl says while it tears
    // its connections down.
    for (const auto& transfer : transfers_) libcurl().multi_remove_handle(multi_, transfer.first);
    cancelled_ = std::move(transfers_);
    transfers_.clear();
    // Polls stop before libcurl closes their sockets in curl_multi_cleanup.
    while (!polls_.empty()) unwatch_socket(polls_.begin()->second);  // each takes its own entry out
    ++handles_closing_;
    uv_close(as_handle(&timer_), &CurlMulti::on_handle_closed);
    libcurl().multi_cleanup(multi_);
    multi_ = nullptr;
}

int CurlMulti::on_socket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
    return static_cast<CurlMulti*>(userp)->watch_socket(fd, what, static_cast<SocketPoll*>(socketp));
}

curl_socket_t CurlMulti::on_open_socket(void* clientp, curlsocktype, curl_sockaddr* address) {
    return static_cast<CurlMulti*>(clientp)->open_socket(*address);
}

int CurlMulti::on_close_socket(void* clientp, curl_socket_t fd) {
    return static_cast<CurlMulti*>(clientp)->close_socket(fd);
}

int CurlMulti::on_timer_change(CURLM*, long timeout_ms, void* userp) {
    return static_cast<CurlMulti*>(userp)->set_timer(timeout_ms);
}

void CurlMulti::on_poll(uv_poll_t* poll, int status, int events) {
    auto* socket = static_cast<SocketPoll*>(poll->data);
    if (status < 0) socket->events = 0;  // libuv stops a poll itself when it reports an error
    if (!socket->watched) {  // an idle connection turned readable: libcurl finds out when it next looks
        socket->owner->run_poll(socket, 0);
        return;
    }
    int flags = 0;
    if (status < 0) flags |= CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    socket->owner->act(socket->fd, flags);
}

void CurlMulti::on_timer(uv_timer_t* timer) { static_cast<CurlMulti*>(timer->data)->act(CURL_SOCKET_TIMEOUT, 0); }

void CurlMulti::on_handle_closed(uv_handle_t* handle) {
    if (handle->type == UV_POLL) {
        auto* socket = static_cast<SocketPoll*>(handle->data);
        CurlMulti* owner = socket->owner;
        delete socket;
        owner->handle_closed(handle);
    } else {
        static_cast<CurlMulti*>(handle->data)->handle_closed(handle);
    }
}

// libcurl asks us to watch `fd` for `what`. `poll` is what curl_multi_assign
// attached to the socket earlier (null for a socket it has not watched
// since its last CURL_POLL_REMOVE).
int CurlMulti::watch_socket(curl_socket_t fd, int what, SocketPoll* poll) {
    if (closing_) return 0;
    if (what == CURL_POLL_REMOVE) {
        if (!poll) return 0;
        libcurl().multi_assign(multi_, fd, nullptr);
        poll->watched = false;
        if (!poll->connection) {
            unwatch_socket(poll);
            return 0;
        }
        // Idle: not work the loop waits for. A poll that includes writing is
        // stopped (a socket is nearly always writable); one for reading only
        // goes on.
        uv_unref(as_handle(&poll->poll));
        if (poll->events & UV_WRITABLE) run_poll(poll, 0);
        return 0;
    }
    if (!poll) {
        const auto known = polls_.find(fd);
        poll = known != polls_.end() ? known->second : make_poll(fd, false);
        if (!poll) return -1;
        libcurl().multi_assign(multi_, fd, poll);
    }
    poll->watched = true;
    uv_ref(as_handle(&poll->poll));
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    return run_poll(poll, events) ? 0 : -1;
}

// A poll for `fd`, not running yet; null if libuv refuses the socket.
CurlMulti::SocketPoll* CurlMulti::make_poll(curl_socket_t fd, bool connection) {
    auto* poll = new SocketPoll;
    poll->owner = this;
    poll->fd = fd;
    poll->connection = connection;
    if (uv_poll_init_socket(loop_, &poll->poll, fd) != 0) {
        delete poll;  // never initialised, so there is no handle to close
        return nullptr;
    }
    poll->poll.data = poll;
    polls_.emplace(fd, poll);
    return poll;
}

// Runs the poll for `events` (0 stops it); false if libuv refuses. libuv's
// uv_poll_start always takes the socket out of epoll and puts it back, so an
// unchanged set is left alone.
bool CurlMulti::run_poll(SocketPoll* poll, int events) {
    if (events == poll->events) return true;
    const int result = events == 0 ? uv_poll_stop(&poll->poll) : uv_poll_start(&poll->poll, events, &CurlMulti::on_poll);
    poll->events = result == 0 ? events : 0;
    return result == 0;
}

void CurlMulti::unwatch_socket(SocketPoll* poll) {
    if (const auto entry = polls_.find(poll->fd); entry != polls_.end() && entry->second == poll) polls_.erase(entry);
    ++handles_closing_;
    uv_close(as_handle(&poll->poll), &CurlMulti::on_handle_closed);
}

// libcurl opens a connection socket (close-on-exec: an exec hook's command
// must not inherit it) and we make its poll. A poll left under the same
// number would belong to a socket libcurl closed without telling us (7.88
// does not, for http and https): it is closed first, and libcurl is made to
// forget it, so that libuv never sees two polls for one descriptor and
// libcurl never hands back a freed one.
curl_socket_t CurlMulti::open_socket(const curl_sockaddr& address) {
    const curl_socket_t fd = ::socket(address.family, address.socktype | SOCK_CLOEXEC, address.protocol);
    if (fd == CURL_SOCKET_BAD || closing_) return fd;
    if (const auto stale = polls_.find(fd); stale != polls_.end()) {
        libcurl().multi_assign(multi_, fd, nullptr);
        unwatch_socket(stale->second);
    }
    if (!make_poll(fd, true)) {
        ::close(fd);
        return CURL_SOCKET_BAD;
    }
    return fd;
}

// libcurl closes a socket (after a CURL_POLL_REMOVE if it was watched): its
// poll is closed first, which takes the descriptor out of the loop's epoll
// set, and only then the descriptor. During close() the polls are already
// closing.
int CurlMulti::close_socket(curl_socket_t fd) {
    if (const auto known = polls_.find(fd); known != polls_.end()) unwatch_socket(known->second);
    return ::close(fd);
}

// libcurl wants to be called back in `timeout_ms` (0: as soon as possible,
// -1: no timer). Never calls libcurl from here: it does not allow that from
// inside its own callbacks, so even a 0 ms timeout goes through the loop.
int CurlMulti::set_timer(long timeout_ms) {
    if (closing_) return 0;
    if (timeout_ms < 0) return uv_timer_stop(&timer_) == 0 ? 0 : -1;
    return uv_timer_start(&timer_, &CurlMulti::on_timer, static_cast<uint64_t>(timeout_ms), 0) == 0 ? 0 : -1;
}

void CurlMulti::act(curl_socket_t fd, int flags) {
    if (closing_) return;
    int running = 0;
    libcurl().multi_socket_action(multi_, fd, flags, &running);
    dispatch_completed();
}

// Hands every finished transfer to its callback. A callback may add or
// remove transfers or close the multi; the loop re-reads the multi's state
// after each one.
void CurlMulti::dispatch_completed() {
    int queued = 0;
    while (!closing_) {
        CURLMsg* message = libcurl().multi_info_read(multi_, &queued);
        if (!message) return;
        if (message->msg != CURLMSG_DONE) continue;
        CURL* easy = message->easy_handle;
        const CURLcode result = message->data.result;  // `message` dies with the removal below
        libcurl().multi_remove_handle(multi_, easy);
        auto it = transfers_.find(easy);
        if (it == transfers_.end()) continue;
        Completed completed = std::move(it->second);
        transfers_.erase(it);
        completed(result);
    }
}

void CurlMulti::handle_closed(uv_handle_t*) {
    --handles_closing_;
    if (!closing_ || handles_closing_ > 0 || closed_) return;
    // Every handle is closed: the transfers cancelled by close() complete,
    // one at a time because a callback may remove the others.
    while (!cancelled_.empty()) {
        auto it = cancelled_.begin();
        Completed completed = std::move(it->second);
        cancelled_.erase(it);
        completed(CURLE_ABORTED_BY_CALLBACK);
    }
    closed_ = true;
    auto closed = std::move(closed_callback_);
    if (delete_when_closed_) {
        // Shared and released: nobody else may delete it, so the callback
        // runs first and the multi frees itself last.
        if (closed) closed();
        delete this;
        return;
    }
    if (closed) closed();  // may destroy this object: nothing after it
}

}  // namespace afterhook::hooks
