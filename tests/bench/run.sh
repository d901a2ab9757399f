#!/usr/bin/env bash
# shellcheck disable=SC2016  # backquotes in printf formats are Markdown, not expansions
# Side-by-side benchmark: afterhook (no hooks) against nginx and HAProxy as
# reverse proxies, and against the upstream reached directly, with the same
# wrk load; then afterhook's memory per idle keep-alive client connection.
# See tests/bench/README.md. Progress goes to stderr; the Markdown report goes
# to stdout and to tests/bench/results.md (overwritten).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
CONF_DIR=$BENCH_DIR/conf
RESULTS=$BENCH_DIR/results.md
export PATH=$PATH:/usr/sbin:/sbin

BENCH_DURATION=${BENCH_DURATION:-10s}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-64}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_THREADS=${BENCH_THREADS:-2}
BENCH_WARMUP=${BENCH_WARMUP:-2s}
BENCH_WORKERS=${BENCH_WORKERS:-1 2}
BENCH_UPSTREAM_WORKERS=${BENCH_UPSTREAM_WORKERS:-2}
BENCH_IDLE_CONNECTIONS=${BENCH_IDLE_CONNECTIONS:-10000}
BENCH_KEEP_TMP=${BENCH_KEEP_TMP:-0}
BENCH_HOOKS=${BENCH_HOOKS:-1}
BENCH_ONLY_HOOKS=${BENCH_ONLY_HOOKS:-0}
BENCH_HOOK_WORKERS=${BENCH_HOOK_WORKERS:-2}
BENCH_DELIVERY_DURATION=${BENCH_DELIVERY_DURATION:-30s}
BENCH_DELIVERY_RATE=${BENCH_DELIVERY_RATE:-2000}
BENCH_DELIVERY_CLIENTS=${BENCH_DELIVERY_CLIENTS:-10}

CONTENDERS=(direct afterhook nginx haproxy)
declare -A LABEL=(
    [direct]="direct to upstream (no proxy)"
    [afterhook]="afterhook (hooks: [])"
    [nginx]="nginx proxy_pass"
    [haproxy]="HAProxy"
)

say() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- settings --

check_settings() {
    [[ $BENCH_ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer, got '$BENCH_ROUNDS'"
    [[ $BENCH_CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNECTIONS must be a positive integer, got '$BENCH_CONNECTIONS'"
    [[ $BENCH_THREADS =~ ^[1-9][0-9]*$ ]] || die "BENCH_THREADS must be a positive integer, got '$BENCH_THREADS'"
    ((BENCH_CONNECTIONS >= BENCH_THREADS)) || die "BENCH_CONNECTIONS must be at least BENCH_THREADS"
    [[ $BENCH_DURATION =~ ^[1-9][0-9]*[smh]?$ ]] || die "BENCH_DURATION must look like 10s or 1m, got '$BENCH_DURATION'"
    [[ $BENCH_WARMUP =~ ^[0-9]+[smh]?$ ]] || die "BENCH_WARMUP must look like 2s or 0, got '$BENCH_WARMUP'"
    [[ $BENCH_UPSTREAM_WORKERS =~ ^[1-9][0-9]*$ ]] || die "BENCH_UPSTREAM_WORKERS must be a positive integer"
    [[ $BENCH_IDLE_CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "BENCH_IDLE_CONNECTIONS must be a positive integer"
    [[ $BENCH_HOOKS =~ ^[01]$ ]] || die "BENCH_HOOKS must be 0 or 1, got '$BENCH_HOOKS'"
    [[ $BENCH_ONLY_HOOKS =~ ^[01]$ ]] || die "BENCH_ONLY_HOOKS must be 0 or 1, got '$BENCH_ONLY_HOOKS'"
    ((BENCH_HOOKS == 1 || BENCH_ONLY_HOOKS == 0)) || die "BENCH_ONLY_HOOKS=1 needs BENCH_HOOKS=1"
    [[ $BENCH_HOOK_WORKERS =~ ^[1-9][0-9]*$ ]] || die "BENCH_HOOK_WORKERS must be a positive integer"
    [[ $BENCH_DELIVERY_DURATION =~ ^[1-9][0-9]*s?$ ]] || die "BENCH_DELIVERY_DURATION must be whole seconds like 30s, got '$BENCH_DELIVERY_DURATION'"
    [[ $BENCH_DELIVERY_RATE =~ ^[1-9][0-9]*$ ]] || die "BENCH_DELIVERY_RATE must be a positive integer"
    [[ $BENCH_DELIVERY_CLIENTS =~ ^[1-9][0-9]*$ ]] || die "BENCH_DELIVERY_CLIENTS must be a positive integer"
    ((BENCH_DELIVERY_RATE % BENCH_DELIVERY_CLIENTS == 0)) ||
        die "BENCH_DELIVERY_RATE must be a multiple of BENCH_DELIVERY_CLIENTS (h2load's --rps is per client)"
    local w
    for w in $BENCH_WORKERS; do
        [[ $w =~ ^[1-9][0-9]*$ ]] || die "BENCH_WORKERS must list positive integers, got '$BENCH_WORKERS'"
    done
}

# ------------------------------------------------------------ dependencies --

as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# Installs the missing tools with apt-get; `apt-get update` runs only when
# something has to be installed.
install_dependencies() {
    local missing=()
    if ! command -v nginx >/dev/null; then
        if apt-cache show nginx-light >/dev/null 2>&1; then missing+=(nginx-light); else missing+=(nginx); fi
    fi
    command -v haproxy >/dev/null || missing+=(haproxy)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v ps >/dev/null || missing+=(procps)
    command -v python3 >/dev/null || missing+=(python3)
    command -v curl >/dev/null || missing+=(curl)
    if ((BENCH_HOOKS == 1)); then
        command -v h2load >/dev/null || missing+=(nghttp2-client)
    fi
    if ((${#missing[@]} == 0)); then
        return
    fi
    say "installing ${missing[*]}"
    as_root apt-get update -q >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
    # nginx-light was not installable under that name: fall back to nginx.
    command -v nginx >/dev/null || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx >&2
}

# Sets AFTERHOOK: $AFTERHOOK_BIN if given, else build/afterhook, configured
# as Release when build/ does not exist yet, and always brought up to date
# with the sources (a no-op when it is), so that the report's git revision
# is the code that ran. Sets RECEIVER to the hooks runs' webhook receiver,
# built in build/ from tests/bench/receiver.cc either way.
find_afterhook() {
    if [[ ! -f $ROOT/build/CMakeCache.txt ]]; then
        say "configuring a Release build in $ROOT/build"
        cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release >&2
    fi
    local targets=(bench_receiver)
    RECEIVER=$ROOT/build/bench_receiver
    if [[ -n ${AFTERHOOK_BIN:-} ]]; then
        [[ -x $AFTERHOOK_BIN ]] || die "AFTERHOOK_BIN=$AFTERHOOK_BIN is not an executable"
        AFTERHOOK=$AFTERHOOK_BIN
    else
        AFTERHOOK=$ROOT/build/afterhook
        targets+=(afterhook)
    fi
    say "building ${targets[*]} in $ROOT/build (up to date with the sources)"
    cmake --build "$ROOT/build" -j"$(nproc)" --target "${targets[@]}" >&2
}

# The idle-connection measurement needs one descriptor per connection in the
# client helper and in afterhook (separate processes, same limit).
raise_fd_limit() {
    local need=$((BENCH_IDLE_CONNECTIONS + 1024))
    if (($(ulimit -Hn) < need)); then
        ulimit -Hn "$need" 2>/dev/null || die "hard open-file limit $(ulimit -Hn) is below $need; raise it or lower BENCH_IDLE_CONNECTIONS"
    fi
    if (($(ulimit -n) < need)); then
        ulimit -n "$need"
    fi
}

# --------------------------------------------------------------- processes --

TMP=
PIDS=()

# Stops one process we started: SIGTERM, up to 10 s of grace, then SIGKILL.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local kept=() p
    for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
    PIDS=("${kept[@]}")
}

cleanup() {
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${PIDS[i]}"
    done
    if [[ -n $TMP && -d $TMP ]]; then
        if [[ $BENCH_KEEP_TMP == 1 ]]; then say "kept $TMP"; else rm -rf "$TMP"; fi
    fi
}

# Runs "$@" in the background with output to $1's log; sets STARTED_PID.
start_bg() {
    local name=$1
    shift
    : >"$TMP/$name.out"  # exist before the process does, so polling never races it
    : >"$TMP/$name.err"
    "$@" >>"$TMP/$name.out" 2>>"$TMP/$name.err" </dev/null &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Substitutes @NAME@ placeholders: render TEMPLATE OUT NAME=VALUE...
render() {
    local template=$1 out=$2
    shift 2
    local text pair
    text=$(<"$template")
    for pair in "$@"; do
        text=${text//@${pair%%=*}@/${pair#*=}}
    done
    printf '%s\n' "$text" >"$out"
}

# nginx's temp directories, inside DIR, for the modules this nginx has (so
# nothing depends on /var/lib/nginx existing).
nginx_temp_paths() {
    local dir=$1 built line=""
    built=$(nginx -V 2>&1)
    line+="client_body_temp_path $dir/body; proxy_temp_path $dir/proxy;"
    local module
    for module in fastcgi uwsgi scgi; do
        [[ $built == *"--without-http_${module}_module"* ]] || line+=" ${module}_temp_path $dir/$module;"
    done
    printf '%s' "$line"
}

# Waits until URL answers 200 with the upstream's body, or dies after 10 s.
wait_http() {
    local url=$1 pid=$2 name=$3 i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || die "$name exited at start: $(tail -n 20 "$TMP/$name.err" 2>/dev/null)"
        if [[ $(curl -s --max-time 1 "$url" 2>/dev/null) == "hello world" ]]; then
            return
        fi
        sleep 0.1
    done
    die "$name did not answer 'hello world' on $url within 10 s: $(tail -n 20 "$TMP/$name.err" 2>/dev/null)"
}

start_nginx() {  # NAME TEMPLATE WORKERS PORT -> STARTED_PID
    local name=$1 template=$2 workers=$3 port=$4 dir=$TMP/$1
    mkdir -p "$dir"
    render "$template" "$dir/nginx.conf" "WORKERS=$workers" "DIR=$dir" "PORT=$port" \
        "UPSTREAM_PORT=$UPSTREAM_PORT" "TEMP_PATHS=$(nginx_temp_paths "$dir")"
    start_bg "$name" nginx -p "$dir" -c "$dir/nginx.conf"
    wait_http "http://127.0.0.1:$port/" "$STARTED_PID" "$name"
}

start_haproxy() {  # NAME WORKERS PORT -> STARTED_PID
    local name=$1 workers=$2 port=$3
    render "$CONF_DIR/haproxy.cfg.in" "$TMP/$name.cfg" "WORKERS=$workers" "PORT=$port" "UPSTREAM_PORT=$UPSTREAM_PORT"
    haproxy -c -q -f "$TMP/$name.cfg" >&2 || die "haproxy rejected $TMP/$name.cfg"
    start_bg "$name" haproxy -db -f "$TMP/$name.cfg"
    wait_http "http://127.0.0.1:$port/" "$STARTED_PID" "$name"
}

# Starts afterhook on CONFIG and waits for its `listening address=` line;
# sets STARTED_PID, STARTED_PORT and STARTED_ADMIN (the admin port, empty
# when the config has no admin listener).
start_afterhook() {  # NAME CONFIG
    local name=$1 config=$2 i address="" admin
    start_bg "$name" "$AFTERHOOK" --config "$config"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$STARTED_PID" 2>/dev/null || die "$name exited at start: $(tail -n 20 "$TMP/$name.err")"
        address=$(sed -n 's/.* listening address=\([^ ]*\).*/\1/p' "$TMP/$name.err" | head -n 1)
        [[ -n $address ]] && break
        sleep 0.1
    done
    [[ -n $address ]] || die "$name printed no 'listening address=' within 10 s: $(tail -n 20 "$TMP/$name.err")"
    STARTED_PORT=${address##*:}
    admin=$(sed -n 's/.* listening .* admin=\([^ ]*\).*/\1/p' "$TMP/$name.err" | head -n 1)
    STARTED_ADMIN=${admin##*:}
    wait_http "http://127.0.0.1:$STARTED_PORT/" "$STARTED_PID" "$name"
}

# ------------------------------------------------------------- measurement --

wrk_run() {  # PORT DURATION OUTFILE
    wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"$2" --latency "http://127.0.0.1:$1/" >"$3" 2>&1 ||
        die "wrk failed against port $1: $(cat "$3")"
}

# Measures every contender at one worker count: start the three proxies,
# warm each up once, then BENCH_ROUNDS rounds in which every contender runs
# once, the order rotating by one each round so none always runs first or
# right after the same neighbour. Appends one manifest line per wrk run.
measure_workers() {
    local workers=$1 key round i
    declare -A port=([direct]=$UPSTREAM_PORT)
    local group_pids=()

    port[nginx]=$(free_port)
    start_nginx "proxy-nginx-w$workers" "$CONF_DIR/proxy-nginx.conf.in" "$workers" "${port[nginx]}"
    group_pids+=("$STARTED_PID")

    port[haproxy]=$(free_port)
    start_haproxy "haproxy-w$workers" "$workers" "${port[haproxy]}"
    group_pids+=("$STARTED_PID")

    render "$CONF_DIR/afterhook.yaml.in" "$TMP/afterhook-w$workers.yaml" "WORKERS=$workers" "UPSTREAM_PORT=$UPSTREAM_PORT"
    start_afterhook "afterhook-w$workers" "$TMP/afterhook-w$workers.yaml"
    port[afterhook]=$STARTED_PORT
    group_pids+=("$STARTED_PID")

    if [[ $BENCH_WARMUP != 0 && $BENCH_WARMUP != 0[smh] ]]; then
        for key in "${CONTENDERS[@]}"; do
            say "workers=$workers warm-up $key ($BENCH_WARMUP)"
            wrk_run "${port[$key]}" "$BENCH_WARMUP" "$TMP/warmup-$key-w$workers.txt"
        done
    fi

    local n=${#CONTENDERS[@]}
    for ((round = 1; round <= BENCH_ROUNDS; round++)); do
        for ((i = 0; i < n; i++)); do
            key=${CONTENDERS[(i + round - 1) % n]}
            say "workers=$workers round $round/$BENCH_ROUNDS $key ($BENCH_DURATION)"
            local out=$TMP/wrk-$key-w$workers-r$round.txt
            wrk_run "${port[$key]}" "$BENCH_DURATION" "$out"
            printf '%s\t%s\t%s\t%s\t%s\n' "$key" "${LABEL[$key]}" "$workers" "$round" "$out" >>"$TMP/manifest.tsv"
        done
    done

    for i in "${group_pids[@]}"; do stop_pid "$i"; done
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Reads RSS until two samples 300 ms apart agree within 1% (at most ~6 s),
# so a number is not taken while the process is still touching new pages.
settled_rss_kib() {
    local pid=$1 previous current i
    previous=$(rss_kib "$pid")
    for ((i = 0; i < 20; i++)); do
        sleep 0.3
        current=$(rss_kib "$pid")
        if ((current - previous <= previous / 100 && previous - current <= previous / 100)); then
            break
        fi
        previous=$current
    done
    printf '%s' "$current"
}

# Fresh afterhook at WORKERS: RSS after start, then RSS with
# BENCH_IDLE_CONNECTIONS idle keep-alive client connections (one request
# each). Appends one Markdown table row to $TMP/rss.md.
measure_idle_rss() {
    local workers=$1 name=afterhook-idle-w$1 pid helper i idle with fds
    render "$CONF_DIR/afterhook-idle.yaml.in" "$TMP/$name.yaml" "WORKERS=$workers" \
        "UPSTREAM_PORT=$UPSTREAM_PORT" "MAX_CONNECTIONS=$((BENCH_IDLE_CONNECTIONS * 2))"
    start_afterhook "$name" "$TMP/$name.yaml"
    pid=$STARTED_PID
    idle=$(settled_rss_kib "$pid")

    say "workers=$workers opening $BENCH_IDLE_CONNECTIONS idle keep-alive connections to afterhook"
    start_bg "idle-clients-w$workers" python3 "$BENCH_DIR/idle_clients.py" \
        --port "$STARTED_PORT" --count "$BENCH_IDLE_CONNECTIONS" --hold 600
    helper=$STARTED_PID
    for ((i = 0; i < 1200; i++)); do
        grep -q '^ready ' "$TMP/idle-clients-w$workers.out" && break
        kill -0 "$helper" 2>/dev/null || die "idle_clients.py failed: $(cat "$TMP/idle-clients-w$workers.err")"
        sleep 0.1
    done
    grep -q '^ready ' "$TMP/idle-clients-w$workers.out" || die "idle_clients.py not ready within 120 s"
    with=$(settled_rss_kib "$pid")
    fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    kill -0 "$pid" 2>/dev/null || die "afterhook exited while holding idle connections"

    stop_pid "$helper"
    stop_pid "$pid"
    local per
    per=$(awk -v a="$idle" -v b="$with" -v n="$BENCH_IDLE_CONNECTIONS" 'BEGIN { printf "%.2f", (b - a) / n }')
    printf '| %s | %s KiB | %s KiB | %s | %s | %s KiB |\n' \
        "$workers" "$idle" "$with" "$BENCH_IDLE_CONNECTIONS" "$fds" "$per" >>"$TMP/rss.md"
}

# ------------------------------------------------------------------- hooks --

# Starts the webhook receiver (answering after DELAY_MS) at niceness NICE and waits
# for its `listening PORT` line; sets STARTED_PID and RECEIVER_PORT. Its JSON
# stats go to $TMP/NAME.json when it is stopped.
start_receiver() {  # NAME DELAY_MS NICE
    local name=$1 delay=$2 niceness=$3 i
    RECEIVER_PORT=
    start_bg "$name" nice -n "$niceness" "$RECEIVER" --delay-ms "$delay" --stats "$TMP/$name.json"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$STARTED_PID" 2>/dev/null || die "$name exited at start: $(tail -n 20 "$TMP/$name.err")"
        RECEIVER_PORT=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$TMP/$name.out" | head -n 1)
        [[ -n $RECEIVER_PORT ]] && return
        sleep 0.1
    done
    die "$name printed no 'listening PORT' within 10 s: $(tail -n 20 "$TMP/$name.err")"
}

# Prints afterhook_hook_events_total{hook=HOOK,result=RESULT} from the
# admin endpoint at ADMIN_PORT (0 when the series is absent).
hook_counter() {  # ADMIN_PORT HOOK RESULT
    curl -s --max-time 2 "http://127.0.0.1:$1/metrics" |
        awk -v series="afterhook_hook_events_total{hook=\"$2\",result=\"$3\"}" \
            '$1 == series { value = $2 } END { print value + 0 }'
}

# Exchanges afterhook at ADMIN_PORT has answered: the sum of every
# afterhook_requests_total series. Each one is a record, so an event for a
# hook on every request.
requests_answered() {  # ADMIN_PORT
    curl -s --max-time 2 "http://127.0.0.1:$1/metrics" |
        awk '$1 ~ /^afterhook_requests_total[{ ]/ || $1 == "afterhook_requests_total" { sum += $2 } END { print sum + 0 }'
}

records_dropped() {  # ADMIN_PORT
    curl -s --max-time 2 "http://127.0.0.1:$1/metrics" |
        awk '$1 == "afterhook_records_dropped_total" { value = $2 } END { print value + 0 }'
}

# Waits until HOOK's settled events (delivered + failed + dropped) reach
# EXPECTED, or stop growing for 3 s, polling every 0.5 s for at most 120 s.
wait_hook_settled() {  # ADMIN_PORT HOOK EXPECTED
    local admin=$1 hook=$2 expected=$3 total previous=-1 still=0 i
    for ((i = 0; i < 240; i++)); do
        total=$(($(hook_counter "$admin" "$hook" delivered) + $(hook_counter "$admin" "$hook" failed) +
            $(hook_counter "$admin" "$hook" dropped)))
        ((total >= expected)) && return
        if ((total == previous)); then
            ((++still >= 6)) && return
        else
            still=0
        fi
        previous=$total
        sleep 0.5
    done
    say "hook $hook still settling after 120 s ($total of $expected events)"
}

# Saturation with hooks: afterhook with `hooks: []` and afterhook with a JSON
# access log on every request plus a 1%-sampled webhook to a receiver that
# answers after 200 ms, both running side by side at BENCH_HOOK_WORKERS,
# the same wrk load, alternating which goes first each round. Appends one
# line per wrk run to $TMP/hooks-manifest.tsv and writes the sampled
# webhook's counters to $TMP/saturation-facts.md.
measure_hooks_saturation() {
    local workers=$BENCH_HOOK_WORKERS round key receiver_pid on_pid on_admin
    declare -A port
    declare -A label=(
        [hooks-off]="hooks off (\`hooks: []\`)"
        [hooks-on]="hooks on (JSON log every request + webhook on 1%, receiver 200 ms)"
    )
    # The receiver stands for a remote service (a collector, a chat API):
    # at the lowest CPU priority it answers with what the proxy and the load
    # generator leave over, instead of taking a share of the two cores from
    # the hooks-on run only. Its count below shows it still got every webhook.
    start_receiver receiver-slow 200 19
    receiver_pid=$STARTED_PID

    render "$CONF_DIR/afterhook.yaml.in" "$TMP/hooks-off.yaml" "WORKERS=$workers" "UPSTREAM_PORT=$UPSTREAM_PORT"
    start_afterhook hooks-off "$TMP/hooks-off.yaml"
    port[hooks-off]=$STARTED_PORT
    local off_pid=$STARTED_PID

    render "$CONF_DIR/afterhook-hooks.yaml.in" "$TMP/hooks-on.yaml" "WORKERS=$workers" \
        "UPSTREAM_PORT=$UPSTREAM_PORT" "RECEIVER_PORT=$RECEIVER_PORT" "LOG_PATH=$TMP/access.log"
    start_afterhook hooks-on "$TMP/hooks-on.yaml"
    port[hooks-on]=$STARTED_PORT
    on_pid=$STARTED_PID
    on_admin=$STARTED_ADMIN
    [[ -n $on_admin ]] || die "hooks-on afterhook printed no admin port"

    local order=(hooks-off hooks-on)
    if [[ $BENCH_WARMUP != 0 && $BENCH_WARMUP != 0[smh] ]]; then
        for key in "${order[@]}"; do
            say "hooks saturation warm-up $key ($BENCH_WARMUP)"
            wrk_run "${port[$key]}" "$BENCH_WARMUP" "$TMP/warmup-$key.txt"
        done
    fi
    for ((round = 1; round <= BENCH_ROUNDS; round++)); do
        if ((round % 2 == 0)); then order=(hooks-on hooks-off); else order=(hooks-off hooks-on); fi
        for key in "${order[@]}"; do
            say "hooks saturation round $round/$BENCH_ROUNDS $key ($BENCH_DURATION)"
            local out=$TMP/wrk-$key-r$round.txt
            wrk_run "${port[$key]}" "$BENCH_DURATION" "$out"
            printf '%s\t%s\t%s\t%s\t%s\n' "$key" "${label[$key]}" "$workers" "$round" "$out" >>"$TMP/hooks-manifest.tsv"
        done
    done

    # Let the sampled webhooks still queued behind the 200 ms receiver finish,
    # so the counters below are final.
    wait_hook_settled "$on_admin" sampled 1000000000
    local delivered failed dropped lost lines
    delivered=$(hook_counter "$on_admin" sampled delivered)
    failed=$(hook_counter "$on_admin" sampled failed)
    dropped=$(hook_counter "$on_admin" sampled dropped)
    lost=$(records_dropped "$on_admin")
    stop_pid "$on_pid"
    stop_pid "$off_pid"
    stop_pid "$receiver_pid"
    lines=$(wc -l <"$TMP/access.log")
    {
        printf 'Hooks-on afterhook over the whole run (warm-up included): %s access-log lines written;\n' "$lines"
        printf 'sampled webhook: %s delivered, %s failed, %s dropped; records dropped before the hook thread: %s;\n' \
            "$delivered" "$failed" "$dropped" "$lost"
        printf 'the 200 ms receiver counted %s webhook requests.\n' \
            "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["count"])' "$TMP/receiver-slow.json")"
    } >"$TMP/saturation-facts.md"
    rm -f "$TMP/access.log"
}

# Delivery: h2load at BENCH_DELIVERY_RATE req/s in total for
# BENCH_DELIVERY_DURATION against afterhook with a webhook on every request
# to a receiver that answers at once; once afterhook's event counters stop
# growing, the receiver is stopped and writes the lag statistics. Writes
# $TMP/delivery-facts.tsv for hooks_report.py.
measure_delivery() {
    local workers=$BENCH_HOOK_WORKERS seconds=${BENCH_DELIVERY_DURATION%s} receiver_pid pid admin
    local per_client=$((BENCH_DELIVERY_RATE / BENCH_DELIVERY_CLIENTS)) threads=2
    ((BENCH_DELIVERY_CLIENTS < threads)) && threads=$BENCH_DELIVERY_CLIENTS
    start_receiver receiver-fast 0 0
    receiver_pid=$STARTED_PID
    render "$CONF_DIR/afterhook-delivery.yaml.in" "$TMP/delivery.yaml" "WORKERS=$workers" \
        "UPSTREAM_PORT=$UPSTREAM_PORT" "RECEIVER_PORT=$RECEIVER_PORT"
    start_afterhook delivery "$TMP/delivery.yaml"  # its readiness probe is one request, so one event
    pid=$STARTED_PID
    admin=$STARTED_ADMIN
    [[ -n $admin ]] || die "delivery afterhook printed no admin port"

    say "delivery: h2load --h1 -c$BENCH_DELIVERY_CLIENTS --rps $per_client (${BENCH_DELIVERY_RATE} req/s) for ${seconds}s"
    h2load --h1 -t"$threads" -c"$BENCH_DELIVERY_CLIENTS" --rps "$per_client" -D "$seconds" \
        "http://127.0.0.1:$STARTED_PORT/" >"$TMP/h2load.txt" 2>&1 || die "h2load failed: $(tail -n 20 "$TMP/h2load.txt")"
    # afterhook's own count, not h2load's: a request h2load sent as its time
    # ran out is answered (and so has an event) but not counted by h2load.
    local answered
    answered=$(requests_answered "$admin")
    wait_hook_settled "$admin" every "$answered"
    {
        printf 'answered\t%s\n' "$answered"
        printf 'h2load_output\t%s\n' "$TMP/h2load.txt"
        printf 'receiver_stats\t%s\n' "$TMP/receiver-fast.json"
        printf 'rate\t%s\nduration_s\t%s\nclients\t%s\nprobes\t1\n' "$BENCH_DELIVERY_RATE" "$seconds" "$BENCH_DELIVERY_CLIENTS"
        local result
        for result in delivered failed dropped retried; do
            printf '%s\t%s\n' "$result" "$(hook_counter "$admin" every "$result")"
        done
        printf 'records_dropped\t%s\n' "$(records_dropped "$admin")"
    } >"$TMP/delivery-facts.tsv"
    stop_pid "$receiver_pid"
    stop_pid "$pid"
    [[ -s $TMP/receiver-fast.json ]] || die "the receiver wrote no stats: $(tail -n 20 "$TMP/receiver-fast.err")"
}

# ------------------------------------------------------------------ report --

first_line() { "$@" 2>&1 | head -n 1 || true; }

afterhook_build_type() {
    local cache
    cache=$(dirname "$AFTERHOOK")/CMakeCache.txt
    if [[ -f $cache ]]; then
        sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$cache"
    else
        printf 'unknown'
    fi
}

git_revision() {
    local rev
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) || { printf 'unknown'; return; }
    # The report being written is itself a tracked file: it does not count.
    if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no -- . ':!tests/bench/results*.md' 2>/dev/null) ]]; then
        rev+=" (working tree has uncommitted changes)"
    fi
    printf '%s' "$rev"
}

proxy_sections() {
    printf '\n## Throughput and latency\n\n'
    printf 'Load: `wrk -t%s -c%s -d%s --latency http://127.0.0.1:PORT/` against every contender,\n' \
        "$BENCH_THREADS" "$BENCH_CONNECTIONS" "$BENCH_DURATION"
    printf '%s round(s), contenders alternating in rotating order, medians shown (each column on its own).\n' "$BENCH_ROUNDS"
    printf 'Upstream: nginx, %s worker process(es), `return 200 "hello world\\n"`, keep-alive, no access log.\n' \
        "$BENCH_UPSTREAM_WORKERS"
    printf 'Keep-alive on both legs for every proxy; no proxy logs; afterhook runs with `hooks: []`.\n'
    printf 'All processes (wrk, proxy, upstream) share the same %s CPUs: compare ratios, not absolute numbers.\n\n' "$(nproc)"
    python3 "$BENCH_DIR/report.py" "$TMP/manifest.tsv"
    printf '\n## afterhook memory per idle keep-alive connection\n\n'
    printf 'Fresh afterhook (`hooks: []`): RSS once listening, then RSS with %s client connections\n' "$BENCH_IDLE_CONNECTIONS"
    printf 'that each sent one complete request, read the response, and stayed open and idle\n'
    printf '(`tests/bench/idle_clients.py`, 32 requests in flight at a time). RSS is VmRSS, read until stable.\n\n'
    printf '| workers | RSS idle | RSS with connections | connections | open fds | per connection |\n'
    printf '|---:|---:|---:|---:|---:|---:|\n'
    cat "$TMP/rss.md"
}

hooks_sections() {
    printf '\n## Hooks on: saturation\n\n'
    printf 'Two afterhooks side by side, `workers: %s` each, same upstream, same load:\n' "$BENCH_HOOK_WORKERS"
    printf '`wrk -t%s -c%s -d%s --latency`, %s round(s), which one runs first alternating each round,\n' \
        "$BENCH_THREADS" "$BENCH_CONNECTIONS" "$BENCH_DURATION" "$BENCH_ROUNDS"
    printf 'medians shown. Hooks off: `hooks: []`. Hooks on (`conf/afterhook-hooks.yaml.in`): a JSON access log\n'
    printf 'to a file on every request, plus a webhook on 1%% of requests (`sample: 0.01`) to `bench_receiver`\n'
    printf 'answering after 200 ms (concurrency 128, queue 100000), run at `nice -n 19` as the remote service it\n'
    printf 'stands for. Targets from the issue: hooks-on req/s >= 0.95x hooks off, p99 <= 1.1x hooks off.\n\n'
    python3 "$BENCH_DIR/hooks_report.py" saturation "$TMP/hooks-manifest.tsv"
    printf '\n'
    cat "$TMP/saturation-facts.md"
    printf '\n## Hooks on: delivery\n\n'
    printf '`h2load --h1 -c%s --rps %s -D %s` (a fixed %s req/s in total) against afterhook (`workers: %s`)\n' \
        "$BENCH_DELIVERY_CLIENTS" "$((BENCH_DELIVERY_RATE / BENCH_DELIVERY_CLIENTS))" "${BENCH_DELIVERY_DURATION%s}" \
        "$BENCH_DELIVERY_RATE" "$BENCH_HOOK_WORKERS"
    printf 'with a webhook on every request (`conf/afterhook-delivery.yaml.in`) to `bench_receiver` answering at once.\n'
    printf 'Counters are afterhook'"'"'s `/metrics` once they stopped growing. Lag = receive time at the receiver -\n'
    printf '(`{{time}}` + `{{duration_ms}}`), i.e. from the response sent to the webhook received, same clock.\n\n'
    python3 "$BENCH_DIR/hooks_report.py" delivery "$TMP/delivery-facts.tsv"
}

# Writes the report to stdout and to $RESULTS, or, with BENCH_ONLY_HOOKS=1,
# to results-hooks.md so the full comparison in results.md is kept.
write_report() {
    local command="BENCH_DURATION=$BENCH_DURATION BENCH_CONNECTIONS=$BENCH_CONNECTIONS BENCH_ROUNDS=$BENCH_ROUNDS"
    command+=" BENCH_THREADS=$BENCH_THREADS BENCH_WARMUP=$BENCH_WARMUP"
    if ((BENCH_ONLY_HOOKS == 0)); then
        command+=" BENCH_WORKERS=\"$BENCH_WORKERS\" BENCH_IDLE_CONNECTIONS=$BENCH_IDLE_CONNECTIONS"
    fi
    command+=" BENCH_UPSTREAM_WORKERS=$BENCH_UPSTREAM_WORKERS BENCH_HOOKS=$BENCH_HOOKS BENCH_ONLY_HOOKS=$BENCH_ONLY_HOOKS"
    if ((BENCH_HOOKS == 1)); then
        command+=" BENCH_HOOK_WORKERS=$BENCH_HOOK_WORKERS BENCH_DELIVERY_DURATION=$BENCH_DELIVERY_DURATION"
        command+=" BENCH_DELIVERY_RATE=$BENCH_DELIVERY_RATE BENCH_DELIVERY_CLIENTS=$BENCH_DELIVERY_CLIENTS"
    fi
    [[ -n ${AFTERHOOK_BIN:-} ]] && command+=" AFTERHOOK_BIN=$AFTERHOOK_BIN"
    command+=" bash tests/bench/run.sh"
    local out=$RESULTS
    ((BENCH_ONLY_HOOKS == 1)) && out=$BENCH_DIR/results-hooks.md
    {
        printf '# afterhook benchmark results\n\n'
        printf 'Generated by `tests/bench/run.sh` on %s. Command:\n\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        printf '```sh\n%s\n```\n\n' "$command"
        printf '## Machine and versions\n\n'
        printf -- '- CPU: %s, nproc = %s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" "$(nproc)"
        printf -- '- Kernel: %s\n' "$(uname -sr)"
        printf -- '- Load average (1/5/15 min) before: %s; after: %s\n' "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)"
        printf -- '- CPU time the hypervisor took from this machine (steal) during the run: %s%%\n' "$(steal_percent_since "$CPU_TIMES_BEFORE")"
        printf -- '- afterhook: %s, %s build, git %s\n' "$(first_line "$AFTERHOOK" --version)" "$(afterhook_build_type)" "$(git_revision)"
        printf -- '- nginx: %s\n' "$(first_line nginx -v)"
        ((BENCH_ONLY_HOOKS == 1)) || printf -- '- HAProxy: %s\n' "$(first_line haproxy -v)"
        printf -- '- wrk: %s\n' "$(first_line wrk -v)"
        ((BENCH_HOOKS == 0)) || printf -- '- h2load: %s; python3: %s\n' "$(first_line h2load --version)" "$(first_line python3 --version)"
        ((BENCH_ONLY_HOOKS == 1)) || proxy_sections
        ((BENCH_HOOKS == 0)) || hooks_sections
    } >"$out"
    cat "$out"
}

# "STEAL TOTAL": the machine's steal and total CPU time so far, in ticks.
cpu_times() {
    awk '$1 == "cpu" { total = 0; for (i = 2; i <= NF; i++) total += $i; print $9, total }' /proc/stat
}

# Steal as a percentage of all CPU time since BEFORE (cpu_times output). On
# a virtual machine it is time another guest ran instead: a run with much of
# it moves both absolute numbers and ratios.
steal_percent_since() {  # BEFORE
    local before=($1) now
    now=($(cpu_times))
    awk -v s="$((now[0] - before[0]))" -v t="$((now[1] - before[1]))" 'BEGIN { printf "%.1f", (t > 0 ? 100 * s / t : 0) }'
}

# -------------------------------------------------------------------- main --

main() {
    check_settings
    install_dependencies
    find_afterhook
    raise_fd_limit

    TMP=$(mktemp -d "${TMPDIR:-/tmp}/afterhook-bench.XXXXXX")
    chmod 755 "$TMP"  # nginx workers may run as another user
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    : >"$TMP/manifest.tsv"
    : >"$TMP/rss.md"
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    CPU_TIMES_BEFORE=$(cpu_times)
    say "load average before: $LOAD_BEFORE (other work on this machine makes the numbers noisy)"

    UPSTREAM_PORT=$(free_port)
    start_nginx upstream "$CONF_DIR/upstream-nginx.conf.in" "$BENCH_UPSTREAM_WORKERS" "$UPSTREAM_PORT"

    local workers
    if ((BENCH_ONLY_HOOKS == 0)); then
        for workers in $BENCH_WORKERS; do
            measure_workers "$workers"
        done
        for workers in $BENCH_WORKERS; do
            measure_idle_rss "$workers"
        done
    fi
    if ((BENCH_HOOKS == 1)); then
        : >"$TMP/hooks-manifest.tsv"
        measure_hooks_saturation
        measure_delivery
    fi
    write_report
}

main "$@"
