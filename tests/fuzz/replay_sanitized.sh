#!/usr/bin/env bash
# Replays every fuzz target's seeds and regressions (tests/fuzz/corpus,
# tests/fuzz/regressions) under AddressSanitizer and UndefinedBehaviorSanitizer,
# building only the replay binaries and the libraries they link, in a
# sanitizer build folder (build-asan, deploy/local/build.sh --sanitize). The
# ordinary build replays them plainly and under valgrind (fuzz.cmake); this
# adds what only the compiler's instrumentation sees: signed overflow, bad
# shifts, misaligned or null loads, invalid enum and bool values, overflowing
# float-to-int conversions.
#   bash tests/fuzz/replay_sanitized.sh            (the test command runs it)
# COHORT_SANITIZE_BUILD_DIR picks another folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
build="${COHORT_SANITIZE_BUILD_DIR:-build-asan}"

targets=()
for name in $(sed -n 's/^ *"\([a-z_]*\)=cohort::[a-z_]*"[)]*$/\1/p' tests/fuzz/fuzz.cmake); do
  targets+=("fuzz_${name}_regress")
done
if [ "${#targets[@]}" -eq 0 ]; then
  echo "replay_sanitized: no targets found in tests/fuzz/fuzz.cmake" >&2
  exit 1
fi
start=$(date +%s)
COHORT_BUILD_DIR="$build" bash deploy/local/build.sh --sanitize --target "${targets[@]}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$build" --output-on-failure -R '^fuzz\.[a-z_]+\.regressions$'
echo "replay_sanitized: ${#targets[@]} targets under ASan+UBSan in $(( $(date +%s) - start )) s"
