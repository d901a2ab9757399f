#include "hooks/exec_action.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <string_view>
#include <utility>

#include "hooks/record_json.h"
#include "hooks/template_render.h"
#include "proxy/log.h"

extern char** environ;

namespace afterhook::hooks {

namespace {

constexpr std::string_view trigger_prefix = "AFTERHOOK_TRIGGER_";
constexpr std::array<std::string_view, 9> record_variables = {
    "AFTERHOOK_REQUEST_ID", "AFTERHOOK_METHOD",      "AFTERHOOK_PATH",      "AFTERHOOK_QUERY", "AFTERHOOK_STATUS",
    "AFTERHOOK_OUTCOME",    "AFTERHOOK_DURATION_MS", "AFTERHOOK_CLIENT_IP", "AFTERHOOK_HOOK",
};

// Arguments and environment values are C strings: a value with a NUL byte
// ends at it, on purpose rather than by accident of c_str().
void cut_at_nul(std::string& text) {
    const auto nul = text.find('\0');
    if (nul != std::string::npos) text.resize(nul);
}

std::string variable_name(std::string_view entry) { return std::string(entry.substr(0, entry.find('='))); }

bool set_by_attempt(std::string_view name) {
    if (name.substr(0, trigger_prefix.size()) == trigger_prefix) return true;
    return std::find(record_variables.begin(), record_variables.end(), name) != record_variables.end();
}

std::string trigger_variable(std::string_view param) {
    std::string name(trigger_prefix);
    for (char c : param) {
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum) c = '_';
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        name.push_back(c);
    }
    return name;
}

std::string format_milliseconds(double value) {
    char buffer[48];
    const int n = std::snprintf(buffer, sizeof buffer, "%.3f", value);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

std::string format_duration(std::chrono::milliseconds duration) {
    const auto ms = duration.count();
    if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

// Spawn errors that another attempt would only repeat: the binary is missing
// or cannot be executed. Everything else (EMFILE, EAGAIN, ENOMEM ...) may pass.
bool permanent_spawn_error(int error) {
    return error == UV_ENOENT || error == UV_EACCES || error == UV_ENOTDIR || error == UV_EPERM ||
           error == UV_ELOOP || error == UV_ENAMETOOLONG || error == -ENOEXEC;
}

std::string spawn_error_text(int error) {
    if (error == -ENOEXEC) return "exec format error";  // no libuv name for it
    return uv_strerror(error);
}

// A value goes into a diagnostics line as it is when it is a plain token,
// else as a JSON string, so that no value can break the line in two.
void append_value(std::string& line, std::string_view value) {
    const bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '_' || c == '.' || c == ':' || c == '/';
    });
    if (plain) {
        line.append(value);
    } else {
        append_json_string(line, value);
    }
}

}  // namespace

// One child process and its five handles: the process, three pipes and the
// deadline timer. It frees itself through ExecAction::complete() once every
// handle's close callback has run.
class ExecAction::Attempt {
public:
    // The first few KiB written to one output stream, and how much more came.
    struct Output {
        std::string kept;
        uint64_t discarded = 0;
    };

    Attempt(ExecAction& action, std::string request_id, unsigned attempt, Done done)
        : action_(action), request_id_(std::move(request_id)), attempt_(attempt), done_(std::move(done)) {}

    void run(const std::vector<std::string>& argv, const std::vector<std::string>& environment, std::string input,
             std::chrono::milliseconds timeout);
    // Ends the attempt without a child: a start() after close().
    void abandon(AttemptResult result);
    // close(): kills the child, or stops waiting on its output if it exited.
    void shut_down();

    AttemptResult take_result() { return std::move(result_); }
    Done take_done() { return std::move(done_); }
    const std::string& request_id() const { return request_id_; }
    unsigned attempt() const { return attempt_; }
    const Output& out() const { return out_; }
    const Output& err() const { return err_; }

private:
    enum class Stage { running, terminating, killing };
    enum class KilledBy { nobody, timeout, shutdown };

    static void on_exit(uv_process_t* process, int64_t exit_status, int term_signal);
    static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_written(uv_write_t* request, int status);
    static void on_timer(uv_timer_t* timer);
    static void on_closed(uv_handle_t* handle);

    void init_handles();
    void write_input(std::string input);
    void start_reading(uv_pipe_t& pipe);
    void exited(int64_t exit_status, int term_signal);
    void read(uv_pipe_t& pipe, ssize_t nread, const uv_buf_t* buf);
    void deadline_passed();
    void signal_group(int signal_number);
    void maybe_finish();
    void finish();
    AttemptResult decide() const;
    void close_handle(uv_handle_t* handle);
    void handle_closed();
    uv_handle_t* handle(uv_pipe_t& pipe) { return reinterpret_cast<uv_handle_t*>(&pipe); }
    bool outputs_closed() { return uv_is_closing(handle(stdout_)) && uv_is_closing(handle(stderr_)); }

    ExecAction& action_;
    const std::string request_id_;
    const unsigned attempt_;
    Done done_;

    uv_process_t process_{};
    uv_pipe_t stdin_{};
    uv_pipe_t stdout_{};
    uv_pipe_t stderr_{};
    uv_timer_t timer_{};
    uv_write_t write_request_{};
    unsigned open_handles_ = 0;

    std::string input_;  // the record's JSON line, alive until its write completes
    Output out_;
    Output err_;
    // One buffer serves both output pipes: libuv hands each read to on_read
    // before it asks for the next buffer.
    std::array<char, 64 * 1024> read_buffer_{};

    std::chrono::milliseconds timeout_{0};
    Stage stage_ = Stage::running;
    KilledBy killed_by_ = KilledBy::nobody;
    int spawn_error_ = 0;
    bool spawned_ = false;
    bool exited_ = false;
    int64_t exit_status_ = 0;
    int term_signal_ = 0;
    bool finished_ = false;
    AttemptResult result_;
};

void ExecAction::Attempt::init_handles() {
    uv_loop_t* loop = action_.loop_;
    uv_timer_init(loop, &timer_);
    uv_pipe_init(loop, &stdin_, 0);
    uv_pipe_init(loop, &stdout_, 0);
    uv_pipe_init(loop, &stderr_, 0);
    open_handles_ = 4;
    for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&timer_), handle(stdin_), handle(stdout_), handle(stderr_)})
        h->data = this;
    process_.data = this;
}

void ExecAction::Attempt::run(const std::vector<std::string>& argv, const std::vector<std::string>& environment,
                              std::string input, std::chrono::milliseconds timeout) {
    init_handles();
    timeout_ = timeout;
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    std::vector<char*> env;
    for (const auto& entry : environment) env.push_back(const_cast<char*>(entry.c_str()));
    env.push_back(nullptr);

    uv_stdio_container_t stdio[3];
    stdio[0].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE);
    stdio[0].data.stream = reinterpret_cast<uv_stream_t*>(&stdin_);
    stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(&stdout_);
    stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(&stderr_);

    uv_process_options_t options{};
    options.exit_cb = on_exit;
    options.file = args[0];
    options.args = args.data();
    options.env = env.data();
    // A new process group (and session) lets the deadline signal reach the
    // child's own children too, which may hold the output pipes open.
    options.flags = UV_PROCESS_DETACHED;
    options.stdio_count = 3;
    options.stdio = stdio;

    // uv_spawn initialises the process handle even when it fails, so it is
    // closed like the others either way.
    const int result = uv_spawn(action_.loop_, &process_, &options);
    process_.data = this;
    ++open_handles_;
    if (result != 0) {
        spawn_error_ = result;
        finish();
        return;
    }
    spawned_ = true;
    write_input(std::move(input));
    start_reading(stdout_);
    start_reading(stderr_);
    // The loop's cached time may be a whole iteration old: the deadline
    // counts from the spawn.
    uv_update_time(action_.loop_);
    uv_timer_start(&timer_, on_timer, static_cast<uint64_t>(std::max<int64_t>(timeout.count(), 0)), 0);
}

void ExecAction::Attempt::abandon(AttemptResult result) {
    uv_timer_init(action_.loop_, &timer_);
    timer_.data = this;
    open_handles_ = 1;
    finished_ = true;
    result_ = std::move(result);
    close_handle(reinterpret_cast<uv_handle_t*>(&timer_));
}

void ExecAction::Attempt::shut_down() {
    if (finished_) return;
    if (exited_) {  // only a descendant holding the output open is left
        finish();
        return;
    }
    killed_by_ = KilledBy::shutdown;
    stage_ = Stage::killing;
    signal_group(SIGKILL);
    // Bounds the wait for output pipes that a process outside the group holds.
    uv_timer_start(&timer_, on_timer, static_cast<uint64_t>(action_.kill_grace_.count()), 0);
}

void ExecAction::Attempt::on_exit(uv_process_t* process, int64_t exit_status, int term_signal) {
    static_cast<Attempt*>(process->data)->exited(exit_status, term_signal);
}

void ExecAction::Attempt::on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
    auto* attempt = static_cast<Attempt*>(handle->data);
    *buf = uv_buf_init(attempt->read_buffer_.data(), static_cast<unsigned>(attempt->read_buffer_.size()));
}

void ExecAction::Attempt::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* attempt = static_cast<Attempt*>(stream->data);
    attempt->read(*reinterpret_cast<uv_pipe_t*>(stream), nread, buf);
}

// The write's status is ignored on purpose: a child may exit or close stdin
// without reading the record (EPIPE), which does not make the attempt fail.
void ExecAction::Attempt::on_written(uv_write_t* request, int) {
    auto* attempt = static_cast<Attempt*>(request->data);
    attempt->close_handle(attempt->handle(attempt->stdin_));
}

void ExecAction::Attempt::on_timer(uv_timer_t* timer) { static_cast<Attempt*>(timer->data)->deadline_passed(); }

void ExecAction::Attempt::on_closed(uv_handle_t* handle) { static_cast<Attempt*>(handle->data)->handle_closed(); }

void ExecAction::Attempt::write_input(std::string input) {
    input_ = std::move(input);
    write_request_.data = this;
    uv_buf_t buf = uv_buf_init(input_.data(), static_cast<unsigned>(input_.size()));
    if (uv_write(&write_request_, reinterpret_cast<uv_stream_t*>(&stdin_), &buf, 1, on_written) != 0)
        close_handle(handle(stdin_));
}

void ExecAction::Attempt::start_reading(uv_pipe_t& pipe) {
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&pipe), on_alloc, on_read) != 0) close_handle(handle(pipe));
}

void ExecAction::Attempt::exited(int64_t exit_status, int term_signal) {
    exited_ = true;
    exit_status_ = exit_status;
    term_signal_ = term_signal;
    close_handle(reinterpret_cast<uv_handle_t*>(&process_));
    // A descendant that escaped the group kill may keep the output open:
    // waiting for it is bounded by the timer, which a timeout left idle.
    if (!outputs_closed() && !uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_)))
        uv_timer_start(&timer_, on_timer, static_cast<uint64_t>(action_.kill_grace_.count()), 0);
    maybe_finish();
}

void ExecAction::Attempt::read(uv_pipe_t& pipe, ssize_t nread, const uv_buf_t* buf) {
    if (nread < 0) {  // end of file, or a read error: the stream is over either way
        close_handle(handle(pipe));
        maybe_finish();
        return;
    }
    Output& output = &pipe == &stdout_ ? out_ : err_;
    const size_t length = static_cast<size_t>(nread);
    const size_t room = action_.options_.capture_bytes - std::min(action_.options_.capture_bytes, output.kept.size());
    const size_t kept = std::min(room, length);
    output.kept.append(buf->base, kept);
    output.discarded += length - kept;
}

// The timeout, then the grace after SIGTERM, then the grace after SIGKILL.
// Once the child has exited, the timer only bounds the wait for its output.
void ExecAction::Attempt::deadline_passed() {
    if (exited_) {
        finish();
        return;
    }
    const auto grace = static_cast<uint64_t>(action_.kill_grace_.count());
    switch (stage_) {
    case Stage::running:
        killed_by_ = KilledBy::timeout;
        stage_ = Stage::terminating;
        signal_group(SIGTERM);
        uv_timer_start(&timer_, on_timer, grace, 0);
        break;
    case Stage::terminating:
        stage_ = Stage::killing;
        signal_group(SIGKILL);
        uv_timer_start(&timer_, on_timer, grace, 0);
        break;
    case Stage::killing:
        // SIGKILL was sent; only the kernel can delay the exit callback now,
        // and the child must still be reaped through it.
        break;
    }
}

// The child is not reaped before its exit callback, so its pid (and group
// id) cannot have been reused yet. A child that left the group is reached
// by its pid.
void ExecAction::Attempt::signal_group(int signal_number) {
    if (!spawned_ || exited_) return;
    if (::kill(-process_.pid, signal_number) != 0) uv_process_kill(&process_, signal_number);
}

void ExecAction::Attempt::maybe_finish() {
    if (exited_ && outputs_closed()) finish();
}

void ExecAction::Attempt::finish() {
    if (finished_) return;
    finished_ = true;
    result_ = decide();
    uv_timer_stop(&timer_);
    close_handle(reinterpret_cast<uv_handle_t*>(&timer_));
    close_handle(handle(stdin_));  // cancels a write the child never read
    close_handle(handle(stdout_));
    close_handle(handle(stderr_));
    if (!spawned_) close_handle(reinterpret_cast<uv_handle_t*>(&process_));
}

AttemptResult ExecAction::Attempt::decide() const {
    using Status = AttemptResult::Status;
    AttemptResult result;
    if (!spawned_) {
        result.status = permanent_spawn_error(spawn_error_) ? Status::failed : Status::retry;
        result.reason = "spawn failed: " + spawn_error_text(spawn_error_);
        return result;
    }
    if (killed_by_ == KilledBy::shutdown) {
        result.status = Status::failed;
        result.reason = "shutdown";
        return result;
    }
    result.reason = term_signal_ != 0 ? "killed by signal " + std::to_string(term_signal_)
                                      : "exit " + std::to_string(exit_status_);
    if (killed_by_ == KilledBy::timeout) {
        // Past the deadline the attempt has failed, whatever the exit status.
        result.status = Status::retry;
        result.reason += " after timeout " + format_duration(timeout_);
        return result;
    }
    result.status = term_signal_ == 0 && exit_status_ == 0 ? Status::delivered : Status::retry;
    if (result.status == Status::delivered) result.reason.clear();
    return result;
}

void ExecAction::Attempt::close_handle(uv_handle_t* h) {
    if (!uv_is_closing(h)) uv_close(h, on_closed);
}

void ExecAction::Attempt::handle_closed() {
    if (--open_handles_ == 0) action_.complete(this);
}

ExecAction::ExecAction(uv_loop_t* loop, const config::ExecSink& sink, std::string hook_name, Options options)
    : loop_(loop),
      command_(sink.command),
      kill_grace_(sink.kill_grace),
      hook_(std::move(hook_name)),
      options_(options) {
    for (char** entry = environ; entry && *entry; ++entry)
        if (!set_by_attempt(variable_name(*entry))) base_environment_.emplace_back(*entry);
}

ExecAction::~ExecAction() = default;

void ExecAction::start(const Delivery& delivery, std::chrono::milliseconds timeout, Done done) {
    auto* attempt = new Attempt(*this, delivery.record->id, delivery.attempt, std::move(done));
    attempts_.push_back(attempt);
    if (closing_) {
        attempt->abandon(AttemptResult{AttemptResult::Status::failed, "shutdown", std::nullopt});
        return;
    }
    if (command_.empty()) {  // the loader refuses this; kept safe for hand-made configs
        attempt->abandon(AttemptResult{AttemptResult::Status::failed, "spawn failed: empty command", std::nullopt});
        return;
    }
    std::string input;
    append_json_line(input, *delivery.record);
    attempt->run(render_argv(delivery), build_environment(delivery), std::move(input), timeout);
}

size_t ExecAction::in_flight() const { return attempts_.size(); }

void ExecAction::close(std::function<void()> closed) {
    if (close_finished_) {  // a second close(): nothing is left to wait for
        if (closed) closed();
        return;
    }
    if (closing_) {  // a second close() while the first waits: both callbacks run
        closed_ = [first = std::move(closed_), second = std::move(closed)] {
            if (first) first();
            if (second) second();
        };
        return;
    }
    closing_ = true;
    closed_ = std::move(closed);
    if (attempts_.empty()) {
        finish_close();
        return;
    }
    // shut_down() never completes an attempt synchronously (handles close
    // in close callbacks), so the list stays as it is during the loop.
    for (Attempt* attempt : attempts_) attempt->shut_down();
}

std::vector<std::string> ExecAction::render_argv(const Delivery& delivery) const {
    const RenderContext context{*delivery.record, delivery.trigger, hook_};
    std::vector<std::string> argv;
    argv.reserve(command_.size());
    for (const auto& tmpl : command_) {
        std::string arg = render_text(tmpl, context);
        cut_at_nul(arg);
        argv.push_back(std::move(arg));
    }
    return argv;
}

std::vector<std::string> ExecAction::build_environment(const Delivery& delivery) const {
    const Record& record = *delivery.record;
    std::vector<std::string> environment = base_environment_;
    std::vector<std::string> names;
    auto add = [&](std::string name, std::string_view value) {
        // The first of two trigger params that map to one name wins, as in templates.
        if (std::find(names.begin(), names.end(), name) != names.end()) return;
        std::string entry = name + "=" + std::string(value);
        cut_at_nul(entry);
        environment.push_back(std::move(entry));
        names.push_back(std::move(name));
    };
    add("AFTERHOOK_REQUEST_ID", record.id);
    add("AFTERHOOK_METHOD", record.method);
    add("AFTERHOOK_PATH", record.path);
    add("AFTERHOOK_QUERY", record.query);
    add("AFTERHOOK_STATUS", std::to_string(record.status));
    add("AFTERHOOK_OUTCOME", to_string(record.outcome));
    add("AFTERHOOK_DURATION_MS", format_milliseconds(record.duration_ms));
    add("AFTERHOOK_CLIENT_IP", record.client_ip);
    add("AFTERHOOK_HOOK", hook_);
    for (const auto& [param, value] : delivery.trigger) add(trigger_variable(param), value);
    return environment;
}

// Runs once every handle of `attempt` is closed. `done` and `closed` run
// last: either may start new attempts, close this action or delete it.
void ExecAction::complete(Attempt* attempt) {
    attempts_.erase(std::find(attempts_.begin(), attempts_.end(), attempt));
    AttemptResult result = attempt->take_result();
    Done done = attempt->take_done();
    if (result.status != AttemptResult::Status::delivered && result.reason != "shutdown")
        report_failure(*attempt, result);
    delete attempt;
    if (done) done(std::move(result));
    if (closing_ && attempts_.empty()) finish_close();
}

void ExecAction::report_failure(const Attempt& attempt, const AttemptResult& result) {
    const uint64_t now = uv_now(loop_);
    if (reported_ && now - last_report_ms_ < options_.report_interval_ms) {
        ++suppressed_;
        return;
    }
    std::string line = "exec hook attempt failed hook=";
    append_value(line, hook_);
    line += " reason=";
    append_value(line, result.reason);
    line += " attempt=" + std::to_string(attempt.attempt()) + " request_id=";
    append_value(line, attempt.request_id());
    auto append_output = [&line](std::string_view name, const Attempt::Output& output) {
        std::string_view text = output.kept;
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
        if (text.empty() && output.discarded == 0) return;
        line.append(" ").append(name).append("=");
        append_json_string(line, text);
        if (output.discarded > 0)
            line.append(" ").append(name).append("_discarded_bytes=").append(std::to_string(output.discarded));
    };
    append_output("stderr", attempt.err());
    append_output("stdout", attempt.out());
    if (suppressed_ > 0) line += " suppressed=" + std::to_string(suppressed_);
    log::warn(line);
    reported_ = true;
    last_report_ms_ = now;
    suppressed_ = 0;
}

// Reports the failures the rate limit held back, then runs `closed` last.
void ExecAction::finish_close() {
    if (close_finished_) return;
    close_finished_ = true;
    if (suppressed_ > 0) {
        std::string line = "exec hook failures not reported hook=";
        append_value(line, hook_);
        line += " count=" + std::to_string(suppressed_);
        log::warn(line);
        suppressed_ = 0;
    }
    auto closed = std::move(closed_);
    closed_ = nullptr;
    if (closed) closed();
}

std::unique_ptr<Action> make_exec_action(uv_loop_t* loop, const config::ExecSink& sink, std::string hook_name) {
    return std::make_unique<ExecAction>(loop, sink, std::move(hook_name));
}

}  // namespace afterhook::hooks
