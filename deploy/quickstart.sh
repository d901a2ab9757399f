#!/usr/bin/env bash
# Quick start, from a fresh Debian 12 machine: installs the dependencies,
# builds afterhook, starts the demo app on 127.0.0.1:8080 and afterhook in
# front of it on the default config (listen 0.0.0.0:8000, JSON access log to
# stdout). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAFTERHOOK_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target afterhook

python3 deploy/demo/app.py 8080 &
app_pid=$!
trap 'kill "$app_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    curl -s -o /dev/null http://127.0.0.1:8080/ && break
    sleep 0.1
done

cat <<'MSG'

afterhook is starting in front of the demo app. In another terminal, try:

    curl -i http://127.0.0.1:8000/
    curl -i http://127.0.0.1:8000/status/503

Each request prints one JSON access-log line below, after its response was sent.

MSG
"${AFTERHOOK_BIN:-build/afterhook}" "$@"
