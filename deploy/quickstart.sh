#!/usr/bin/env bash
# Quick start, from a fresh Debian 12 machine: installs the dependencies,
# builds afterhook, starts the demo app (127.0.0.1:8080) and the demo webhook
# receiver (127.0.0.1:9000), and runs afterhook in front of the app on
# deploy/demo/afterhook.yaml (listen 0.0.0.0:8000, admin 127.0.0.1:9901):
# an access log on stdout and webhooks to the receiver. Ctrl-C stops all.
#
# Environment: LISTEN_PORT, APP_PORT, RECEIVER_PORT, ADMIN_PORT move the
# ports; AFTERHOOK_BIN runs that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."

export LISTEN_PORT="${LISTEN_PORT:-8000}" APP_PORT="${APP_PORT:-8080}"
export RECEIVER_PORT="${RECEIVER_PORT:-9000}" ADMIN_PORT="${ADMIN_PORT:-9901}"

bash deploy/install-deps.sh
if [[ -z "${AFTERHOOK_BIN:-}" ]]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAFTERHOOK_TESTS=OFF >/dev/null
    cmake --build build -j"$(nproc)" --target afterhook
    AFTERHOOK_BIN=build/afterhook
fi

pids=()
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python3 deploy/demo/app.py "$APP_PORT" & pids+=($!)
python3 deploy/demo/receiver.py "$RECEIVER_PORT" & pids+=($!)
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$APP_PORT/" && break
    sleep 0.1
done

cat <<MSG

afterhook is starting in front of the demo app. In another terminal, try:

    curl -i http://127.0.0.1:$LISTEN_PORT/
    curl -i http://127.0.0.1:$LISTEN_PORT/status/503          # alert-on-5xx fires
    curl -i -X POST http://127.0.0.1:$LISTEN_PORT/orders      # the app triggers order-created
    curl -s http://127.0.0.1:$ADMIN_PORT/metrics | grep afterhook_hook_events_total

Each response comes back at once; the access-log line and the receiver's
"[receiver]" lines appear below only after it was sent.

MSG
"$AFTERHOOK_BIN" --config deploy/demo/afterhook.yaml & pids+=($!)
wait "${pids[-1]}"
