// CurlMulti: one libcurl multi handle driven by a libuv loop (the hook
// thread's). libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION,
// one uv_poll_t per socket) and when to wake it (CURLMOPT_TIMERFUNCTION, one
// uv_timer_t); we hand every event back with curl_multi_socket_action and
// dispatch finished transfers to their callbacks. Every webhook hook of the
// thread shares it, so connections to the same receiver are reused across
// deliveries and hooks.
//
// A connection's uv_poll_t lives as long as its socket, not as long as one
// transfer: add() has libcurl open and close its connection sockets through
// us (CURLOPT_OPENSOCKETFUNCTION, CURLOPT_CLOSESOCKETFUNCTION), so the poll
// is made with the socket and closed just before it, and the socket is
// close-on-exec. So is the wake-up socket pair libcurl opens with the multi
// handle (marked right after curl_multi_init); the pair its threaded
// resolver opens for each host name lookup is not. In between, a connection
// that goes back to libcurl's cache keeps its poll running for what it last
// waited for (reading), but unreferenced, so an idle connection never keeps
// the loop alive: it is not readable, and the next transfer on it, which
// waits for the same, costs no epoll change at all. Should the idle socket
// turn readable (the server closed it), its poll stops at that first event,
// and libcurl finds the connection dead when it next looks at it. A socket
// that libcurl closes on its own (its resolver's) has a poll for as long as
// it is watched, as before. Every webhook on a kept-alive connection is
// spared a handle set-up and tear-down and four or five system calls.
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <unordered_map>

namespace afterhook::hooks {

class CurlMulti {
public:
    using Completed = std::function<void(CURLcode)>;

    // Initialises libcurl for the process on first use (once, thread-safe)
    // and creates the multi handle and its timer on `loop`. Throws
    // std::runtime_error if libcurl cannot be initialised.
    explicit CurlMulti(uv_loop_t* loop);

    // A multi shared by the webhook actions of one loop (each DeliveryQueue
    // keeps it alive until its action is gone). Releasing the last owner
    // closes it, if nobody did, and it frees itself from its close callback,
    // so the loop must run on until then; a `closed` callback given to an
    // earlier close() still runs first.
    static std::shared_ptr<CurlMulti> make_shared(uv_loop_t* loop);
    // Only once close()'s callback has run: the handles are freed by their
    // close callbacks and this object must outlive them. Destroying it
    // earlier aborts the process, as a freed handle would corrupt the loop.
    ~CurlMulti();
    CurlMulti(const CurlMulti&) = delete;
    CurlMulti& operator=(const CurlMulti&) = delete;

    // Users (webhook actions) declare how many transfers they may run at
    // once; the multi allows that many connections per host and keeps that
    // many idle connections for reuse, so a hook at its concurrency cap never
    // waits for a connection and never opens more than it needs.
    void reserve_connections(unsigned count);
    void release_connections(unsigned count);

    // Starts the transfer `easy` (fully configured by the caller, who keeps
    // owning it). `completed` runs exactly once on the loop with the
    // transfer's result, never inside add(). Returns false, and never calls
    // `completed`, when the multi is closing or libcurl refuses the handle.
    bool add(CURL* easy, Completed completed);

    // Stops a transfer that has not completed; its callback is dropped
    // without being called and the caller may clean up `easy` at once.
    // Returns false if `easy` is not a transfer of this multi.
    bool remove(CURL* easy);

    // Transfers added and not yet completed or removed.
    size_t transfers() const { return transfers_.size() + cancelled_.size(); }

    // Stops every transfer, closes every connection and handle. Each
    // transfer still running completes with CURLE_ABORTED_BY_CALLBACK, then
    // `closed` runs; both from close callbacks, never inside close(). Later
    // calls do nothing.
    void close(std::function<void()> closed);
    bool closing() const { return closing_; }

private:
    struct SocketPoll {
        uv_poll_t poll{};
        CurlMulti* owner = nullptr;
        curl_socket_t fd = CURL_SOCKET_BAD;
        bool connection = false;  // opened by open_socket(): closed by close_socket()
        bool watched = false;     // libcurl wants its events (between a watch and a CURL_POLL_REMOVE)
        int events = 0;           // what the poll runs for now (UV_READABLE | UV_WRITABLE), 0 if stopped
    };

    static int on_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
    static curl_socket_t on_open_socket(void* clientp, curlsocktype purpose, curl_sockaddr* address);
    static int on_close_socket(void* clientp, curl_socket_t fd);
    static int on_timer_change(CURLM* multi, long timeout_ms, void* userp);
    static void on_poll(uv_poll_t* poll, int status, int events);
    static void on_timer(uv_timer_t* timer);
    static void on_handle_closed(uv_handle_t* handle);

    int watch_socket(curl_socket_t fd, int what, SocketPoll* poll);
    void unwatch_socket(SocketPoll* poll);
    SocketPoll* make_poll(curl_socket_t fd, bool connection);
    bool run_poll(SocketPoll* poll, int events);
    curl_socket_t open_socket(const curl_sockaddr& address);
    int close_socket(curl_socket_t fd);
    int set_timer(long timeout_ms);
    void act(curl_socket_t fd, int flags);
    void dispatch_completed();
    void apply_connection_limits();
    void handle_closed(uv_handle_t* handle);
    void release_shared();

    uv_loop_t* loop_;
    CURLM* multi_ = nullptr;
    uv_timer_t timer_{};
    std::unordered_map<CURL*, Completed> transfers_;  // added, still in the multi
    std::unordered_map<CURL*, Completed> cancelled_;  // taken out by close(), completing from its callback
    std::unordered_map<curl_socket_t, SocketPoll*> polls_;  // by socket, every poll not yet closing
    size_t handles_closing_ = 0;
    unsigned connections_ = 0;
    bool closing_ = false;
    bool closed_ = false;
    bool delete_when_closed_ = false;  // owned by make_shared()'s last owner, now gone
    std::function<void()> closed_callback_;
};

}  // namespace afterhook::hooks
