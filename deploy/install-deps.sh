#!/usr/bin/env bash
# Installs the Debian 12 packages cohort needs; skips what is already there.
# Idempotent: a second run installs nothing and takes about a second.
# Usage: install-deps.sh [--tests]   (--tests: also what only the tests use)
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git openssl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libsqlite3-dev sqlite3 libcurl4-openssl-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libcli11-dev libssl-dev libyaml-cpp-dev
  # worker/eval: regex, sentence breaks and Unicode case, .gz data
  libre2-dev libicu-dev zlib1g-dev
  # server/metrics: cohortd's Prometheus /metrics endpoint
  prometheus-cpp-dev
  # tests/lint/thread_safety.py: clang's -Wthread-safety over the lock annotations
  clang
  # tests/deploy: systemd-analyze verify reads the shipped units as systemd does
  systemd
)
# Runtimes for the code benches and the sandbox (issue: code benches).
# nodejs: Debian's 18 on a fresh machine; a preinstalled NodeSource nodejs counts as present.
# python3-langdetect: IFEval's language checks read its profiles (worker/eval/langdetect.h).
# librsvg2-bin: `cohort report --plots DIR --png` renders the SVG plots with rsvg-convert.
RUNTIME_PACKAGES=(bubblewrap libseccomp-dev python3 util-linux rustc default-jdk-headless
                  libjavatuples-java nodejs python3-langdetect librsvg2-bin)

# What only the tests use: the dashboard's browser test drives headless
# chromium (tests/browser); the fuzz replays also run under valgrind
# (tests/fuzz/fuzz.cmake); the Kubernetes manifests are checked against the
# API schema python3-kubernetes carries (tests/deploy/k8s_schema_check.py).
TEST_PACKAGES=()
if [ "${1:-}" = "--tests" ]; then
  TEST_PACKAGES=(chromium valgrind python3-kubernetes python3-yaml)
  # kubectl builds the kustomization (tests/deploy); a kubectl already on
  # the PATH (a cloud SDK's) does, and Debian's would conflict with it.
  if ! command -v kubectl >/dev/null; then TEST_PACKAGES+=(kubernetes-client); fi
fi

missing=()
for pkg in "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}" "${TEST_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#BUILD_PACKAGES[@]}+${#RUNTIME_PACKAGES[@]}+${#TEST_PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# Another apt (unattended-upgrades) may hold the lock on a fresh machine.
for _ in $(seq 1 60); do
  if ! fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1; then break; fi
  sleep 2
done
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
