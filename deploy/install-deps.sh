#!/usr/bin/env bash
# Installs what afterhook needs to build, test and run, from Debian 12 packages.
# Usage: deploy/install-deps.sh [--test]   (--test adds what the test suite uses)
set -euo pipefail

packages=(build-essential cmake pkg-config git ca-certificates
          libuv1-dev node-llhttp libyaml-cpp-dev libcurl4-openssl-dev libssl-dev
          nlohmann-json3-dev libcli11-dev python3 curl procps)
if [[ "${1:-}" == "--test" ]]; then
    # doctest for the suite; systemd for `systemd-analyze verify` of the unit;
    # jsonschema and yaml for the config schema checks.
    packages+=(doctest-dev systemd python3-jsonschema python3-yaml)
    # node and npm for the offline Kubernetes schema checks. A node that is
    # already there (some images ship one with npm bundled, which conflicts
    # with Debian's npm package) is used as it is.
    command -v node >/dev/null 2>&1 || packages+=(nodejs)
    command -v npm >/dev/null 2>&1 || packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
