#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs the
# dependencies, builds afterhook twice (optimised, and with AddressSanitizer +
# UndefinedBehaviorSanitizer), and runs every unit and integration test in both.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh --test
# Pinned by tests/deploy/package-lock.json; used by the Kubernetes manifest tests.
npm ci --prefix tests/deploy --no-audit --no-fund --loglevel=error

jobs=$(nproc)
run_suite() {
    local dir=$1; shift
    cmake -S . -B "$dir" -DAFTERHOOK_TESTS=ON "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 300
}

echo "== Release build"
run_suite build -DCMAKE_BUILD_TYPE=Release
echo "== ASan + UBSan build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite build-sanitize -DCMAKE_BUILD_TYPE=Debug -DAFTERHOOK_SANITIZE=ON
