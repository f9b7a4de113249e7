#!/usr/bin/env bash
# Configures and builds cohort in build/ (or $COHORT_BUILD_DIR) with ccache.
# Usage: deploy/local/build.sh [--sanitize] [cmake --build args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

SANITIZE=OFF
if [ "${1:-}" = "--sanitize" ]; then SANITIZE=ON; shift; fi
BUILD_DIR="${COHORT_BUILD_DIR:-build}"
if [ "$SANITIZE" = ON ] && [ -z "${COHORT_BUILD_DIR:-}" ]; then BUILD_DIR=build-asan; fi

# ccache keyed on paths relative to the checkout, so every clone hits the cache.
export CCACHE_BASEDIR="$ROOT"
export CCACHE_NOHASHDIR=true
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-time_macros}"

mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE="${COHORT_BUILD_TYPE:-RelWithDebInfo}" \
  -DCOHORT_SANITIZE="$SANITIZE" -DCOHORT_WERROR=ON > "$BUILD_DIR/configure.log" 2>&1 \
  || { cat "$BUILD_DIR/configure.log"; exit 1; }
cmake --build "$BUILD_DIR" -j"$(nproc)" "$@"
