// bench_receiver: the webhook receiver of the hooks benchmark.
//
// Usage: bench_receiver --stats FILE [--port N] [--delay-ms MS]
//
// It stands for a remote service (a collector, a chat API) that on a real
// deployment runs on another machine; here it shares the benchmark's two
// cores, so it must cost as little CPU as it can, or its own work would be
// charged to afterhook's hooks-on run. One libuv loop, no parsing beyond
// what a webhook needs.
//
// Listens on 127.0.0.1 (port 0 picks one) and prints `listening PORT` on
// stdout once bound. HTTP/1.1 with keep-alive: each request must carry its
// body as Content-Length (afterhook's webhooks do; Transfer-Encoding closes
// the connection), and every request is answered `204 No Content`, after
// --delay-ms milliseconds when given (the slow receiver of the saturation
// run), in order.
//
// For every request it records the receive time (the wall clock once the
// whole body has arrived) and, when the body is a JSON object with `time`
// (RFC 3339 in UTC, the request start, as afterhook's {{time}} renders it)
// and `duration_ms`, the delivery lag: receive time - (time + duration_ms),
// from the response having been sent to the webhook having been received.
//
// On SIGTERM or SIGINT it writes JSON stats to --stats and exits: count
// (requests received), lag_count (requests whose body gave a lag),
// bad_bodies, and lag_ms {p50, p99, max} over lag_count (null when empty).
#include <uv.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "proxy/http_message.h"

namespace {

using afterhook::proxy::iequals;
using afterhook::proxy::trim_ows;

constexpr std::string_view keep_alive_response = "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n";
constexpr std::string_view close_response = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
constexpr size_t max_head_bytes = 64 * 1024;
constexpr size_t max_body_bytes = 1024 * 1024;

double wall_seconds() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// "2026-11-22T12:40:00.123Z" (or "+00:00") as seconds since the epoch.
std::optional<double> parse_utc_time(const std::string& text) {
    int year, month, day, hour, minute, second, consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second,
                    &consumed) != 6)
        return std::nullopt;
    std::string_view rest = std::string_view(text).substr(static_cast<size_t>(consumed));
    double fraction = 0;
    if (!rest.empty() && rest.front() == '.') {
        double scale = 0.1;
        rest.remove_prefix(1);
        while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
            fraction += (rest.front() - '0') * scale;
            scale /= 10;
            rest.remove_prefix(1);
        }
    }
    if (rest != "Z" && rest != "+00:00") return std::nullopt;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return static_cast<double>(timegm(&tm)) + fraction;
}

std::optional<double> parse_number(const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) return std::nullopt;
    return value;
}

struct Stats {
    uint64_t count = 0;
    uint64_t bad_bodies = 0;
    std::vector<double> lags_ms;

    void record(double received, std::string_view body) {
        ++count;
        const auto event = nlohmann::json::parse(body, nullptr, false);
        if (!event.is_object() || !event.contains("time") || !event.contains("duration_ms")) {
            ++bad_bodies;
            return;
        }
        const auto& time = event["time"];
        const auto& duration = event["duration_ms"];
        std::optional<double> started = time.is_string() ? parse_utc_time(time.get<std::string>()) : std::nullopt;
        std::optional<double> duration_ms;
        if (duration.is_number()) duration_ms = duration.get<double>();
        else if (duration.is_string()) duration_ms = parse_number(duration.get<std::string>());
        if (!started || !duration_ms) {
            ++bad_bodies;
            return;
        }
        lags_ms.push_back((received - (*started + *duration_ms / 1000.0)) * 1000.0);
    }

    // Nearest-rank percentile, null when there is nothing.
    static nlohmann::json percentile(const std::vector<double>& sorted, double p) {
        if (sorted.empty()) return nullptr;
        const auto rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size()))));
        return sorted[rank - 1];
    }

    nlohmann::json to_json() const {
        std::vector<double> sorted = lags_ms;
        std::sort(sorted.begin(), sorted.end());
        return {{"count", count},
                {"lag_count", sorted.size()},
                {"bad_bodies", bad_bodies},
                {"lag_ms",
                 {{"p50", percentile(sorted, 50)},
                  {"p99", percentile(sorted, 99)},
                  {"max", sorted.empty() ? nlohmann::json(nullptr) : nlohmann::json(sorted.back())}}}};
    }
};

struct Server;

// One client connection. Requests are answered in order: while one waits
// for its delay, the ones behind it wait in `input`.
struct Connection {
    uv_tcp_t tcp{};
    uv_timer_t delay{};
    Server* server = nullptr;
    std::string input;
    bool waiting = false;      // a request's delay is running
    bool close_after = false;  // the request being answered asked to close
    bool closing = false;
    int open_handles = 2;

    void on_input();
    void answer();
    void close();
};

struct Server {
    uv_loop_t* loop = nullptr;
    uv_tcp_t listener{};
    uv_signal_t sigterm{};
    uv_signal_t sigint{};
    uint64_t delay_ms = 0;
    Stats stats;
    std::string stats_path;
    char read_buffer[64 * 1024];
};

void on_handle_closed(uv_handle_t* handle) {
    auto* connection = static_cast<Connection*>(handle->data);
    if (--connection->open_handles == 0) delete connection;
}

void Connection::close() {
    if (closing) return;
    closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&delay), on_handle_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), on_handle_closed);
}

// An answer the kernel did not take at once. One that ends the connection
// closes it once written: closing earlier would cancel it.
struct QueuedAnswer {
    uv_write_t request{};
    Connection* connection = nullptr;
    bool then_close = false;
};

void on_write_done(uv_write_t* request, int) {
    auto* answer = reinterpret_cast<QueuedAnswer*>(request);
    if (answer->then_close) answer->connection->close();
    delete answer;
}

void Connection::answer() {
    const std::string_view response = close_after ? close_response : keep_alive_response;
    uv_buf_t buffer = uv_buf_init(const_cast<char*>(response.data()), static_cast<unsigned>(response.size()));
    const int written = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp), &buffer, 1);
    if (written == static_cast<int>(response.size())) {
        if (close_after) close();
        return;
    }
    const size_t offset = written > 0 ? static_cast<size_t>(written) : 0;
    buffer = uv_buf_init(const_cast<char*>(response.data() + offset), static_cast<unsigned>(response.size() - offset));
    auto* queued = new QueuedAnswer{{}, this, close_after};
    if (uv_write(&queued->request, reinterpret_cast<uv_stream_t*>(&tcp), &buffer, 1, on_write_done) < 0) {
        delete queued;
        close();
    }
}

void on_delay_done(uv_timer_t* timer) {
    auto* connection = static_cast<Connection*>(timer->data);
    connection->waiting = false;
    connection->answer();
    if (!connection->closing) connection->on_input();
}

// Takes complete requests off the front of the input until one has to wait.
void Connection::on_input() {
    while (!waiting && !closing) {
        const size_t head_end = input.find("\r\n\r\n");
        if (head_end == std::string::npos) {
            if (input.size() > max_head_bytes) close();
            return;
        }
        const std::string_view head(input.data(), head_end);
        size_t length = 0;
        close_after = false;
        size_t line_start = head.find("\r\n");
        while (line_start != std::string_view::npos) {
            line_start += 2;
            const size_t line_end = std::min(head.find("\r\n", line_start), head.size());
            const std::string_view line = head.substr(line_start, line_end - line_start);
            const size_t colon = line.find(':');
            if (colon != std::string_view::npos) {
                const std::string_view name = trim_ows(line.substr(0, colon));
                const std::string_view value = trim_ows(line.substr(colon + 1));
                if (iequals(name, "content-length")) {
                    // Digits only (RFC 9110 section 8.6), within the bound.
                    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
                    if (error != std::errc{} || end != value.data() + value.size() || length > max_body_bytes)
                        return close();
                }
                else if (iequals(name, "connection") && iequals(value, "close")) close_after = true;
                else if (iequals(name, "transfer-encoding")) return close();  // afterhook never sends one
            }
            line_start = line_end < head.size() ? line_end : std::string_view::npos;
        }
        const size_t total = head_end + 4 + length;
        if (input.size() < total) return;
        server->stats.record(wall_seconds(), std::string_view(input).substr(head_end + 4, length));
        input.erase(0, total);
        if (server->delay_ms == 0) {
            answer();
            continue;
        }
        waiting = true;
        uv_timer_start(&delay, on_delay_done, server->delay_ms, 0);
    }
}

void on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buffer) {
    Server* server = static_cast<Connection*>(handle->data)->server;
    *buffer = uv_buf_init(server->read_buffer, sizeof server->read_buffer);
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buffer) {
    auto* connection = static_cast<Connection*>(stream->data);
    if (nread < 0) {
        connection->close();
        return;
    }
    connection->input.append(buffer->base, static_cast<size_t>(nread));
    connection->on_input();
}

void on_connection(uv_stream_t* listener, int status) {
    if (status < 0) return;
    auto* server = static_cast<Server*>(listener->data);
    auto* connection = new Connection;
    connection->server = server;
    uv_tcp_init(server->loop, &connection->tcp);
    uv_timer_init(server->loop, &connection->delay);
    connection->tcp.data = connection;
    connection->delay.data = connection;
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&connection->tcp)) < 0) {
        connection->close();
        return;
    }
    uv_tcp_nodelay(&connection->tcp, 1);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&connection->tcp), on_alloc, on_read);
}

void close_any(uv_handle_t* handle, void*) {
    if (uv_is_closing(handle)) return;
    if (handle->type == UV_TCP && handle->data != nullptr && handle->data != handle->loop->data) {
        static_cast<Connection*>(handle->data)->close();
        return;
    }
    if (handle->type == UV_TIMER) return;  // a connection's, closed with it
    uv_close(handle, nullptr);
}

void on_signal(uv_signal_t* signal, int) {
    auto* server = static_cast<Server*>(signal->data);
    std::ofstream(server->stats_path) << server->stats.to_json().dump() << "\n";
    uv_walk(server->loop, close_any, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"webhook receiver for the hooks benchmark"};
    int port = 0;
    double delay_ms = 0;
    std::string stats_path;
    app.add_option("--port", port, "port on 127.0.0.1 (0 picks one)");
    app.add_option("--delay-ms", delay_ms, "answer each request this many milliseconds after it arrived");
    app.add_option("--stats", stats_path, "where to write the stats on SIGTERM or SIGINT")->required();
    CLI11_PARSE(app, argc, argv);

    // A write to a connection the client reset must fail, not end the
    // process before it writes its stats.
    std::signal(SIGPIPE, SIG_IGN);
    static Server server;
    server.loop = uv_default_loop();
    server.loop->data = &server;
    server.delay_ms = static_cast<uint64_t>(std::llround(delay_ms));
    server.stats_path = stats_path;

    sockaddr_in address{};
    uv_ip4_addr("127.0.0.1", port, &address);
    uv_tcp_init(server.loop, &server.listener);
    server.listener.data = &server;
    int rc = uv_tcp_bind(&server.listener, reinterpret_cast<const sockaddr*>(&address), 0);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server.listener), 1024, on_connection);
    if (rc < 0) {
        std::fprintf(stderr, "bench_receiver: cannot listen on 127.0.0.1:%d: %s\n", port, uv_strerror(rc));
        return 1;
    }
    sockaddr_storage bound{};
    int bound_length = sizeof bound;
    uv_tcp_getsockname(&server.listener, reinterpret_cast<sockaddr*>(&bound), &bound_length);
    std::printf("listening %d\n", ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port));
    std::fflush(stdout);

    uv_signal_init(server.loop, &server.sigterm);
    uv_signal_init(server.loop, &server.sigint);
    server.sigterm.data = server.sigint.data = &server;
    uv_signal_start(&server.sigterm, on_signal, SIGTERM);
    uv_signal_start(&server.sigint, on_signal, SIGINT);
    uv_run(server.loop, UV_RUN_DEFAULT);
    return uv_loop_close(server.loop) == 0 ? 0 : 1;
}
