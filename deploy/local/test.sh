#!/usr/bin/env bash
# The test command: installs missing Debian packages, builds everything and
# runs every unit and integration test with ctest, then checks the lock
# annotations with clang's -Wthread-safety (tests/lint/thread_safety.py) and
# replays the fuzz inputs under ASan + UBSan (tests/fuzz/replay_sanitized.sh).
# Usage: deploy/local/test.sh [--sanitize]   (ASan + UBSan build in build-asan/)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
bash deploy/install-deps.sh --tests
bash deploy/local/build.sh "$@"
BUILD_DIR="${COHORT_BUILD_DIR:-build}"
if [ "${1:-}" = "--sanitize" ] && [ -z "${COHORT_BUILD_DIR:-}" ]; then BUILD_DIR=build-asan; fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Multi-process tests share 2 loaded cores with the build cache and each
# other; a test that fails is run once more, and fails the run if it fails
# again.
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" --timeout 600 \
  --repeat until-pass:2
if [ "${1:-}" != "--sanitize" ]; then
  python3 tests/lint/thread_safety.py --build "$BUILD_DIR" --jobs "$(nproc)"
  # The fuzz replays once more under ASan + UBSan (only their binaries are
  # built with the sanitizers, in build-asan/).
  bash tests/fuzz/replay_sanitized.sh
fi
