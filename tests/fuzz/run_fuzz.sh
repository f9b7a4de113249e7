#!/usr/bin/env bash
# Runs every libFuzzer target for a while and prints executions and findings.
#   bash tests/fuzz/run_fuzz.sh [BUILD_DIR (build-fuzz)] [SECONDS per target (60)]
# BUILD_DIR must be configured as tests/fuzz/fuzz.cmake says (clang, COHORT_FUZZ=ON).
# Seeds: tests/fuzz/corpus/<target> plus data in the repository (data/ and
# tests/data: datasets, goldens, llama-server recordings). Working corpora and crash files go to
# BUILD_DIR/fuzz-work/<target>; a crash is copied to
# tests/fuzz/regressions/<target>/ so that ctest replays it from then on.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-build-fuzz}"
seconds="${2:-60}"
cd "$root"

seed_from_repo() {
  local target="$1" dir="$2"
  case "$target" in
    contrib)
      for f in tests/data/goldens/dropmap/*/contrib_v5.json; do
        [ "$(stat -c %s "$f")" -lt 200000 ] && cp "$f" "$dir/$(basename "$(dirname "$f")").json"
      done ;;
    extractors)
      # Reference answers and solutions of the text benches, one per file.
      python3 - data "$dir" <<'PY'
import json, sys, os
data, out = sys.argv[1], sys.argv[2]
n = 0
for bench, field in (("gsm8k/test.jsonl", "answer"), ("math500/test.jsonl", "solution")):
    path = os.path.join(data, bench)
    if not os.path.exists(path):
        continue
    for line in open(path, encoding="utf-8"):
        row = json.loads(line)
        if field in row:
            open(os.path.join(out, f"data_{n}"), "w").write(str(row[field])[:4000])
            n += 1
        if n % 200 == 199:
            break
PY
      ;;
    spec) cp docs/examples/*.yaml "$dir/" ;;
    *) ;;
  esac
}

printf "%-20s %12s %10s %8s\n" target executions exec/s crashes
for bin in "$build"/fuzz/fuzz_*; do
  target="$(basename "$bin")"; target="${target#fuzz_}"
  work="$build/fuzz-work/$target"
  mkdir -p "$work/corpus" "$work/crashes"
  cp -n tests/fuzz/corpus/"$target"/* "$work/corpus/" 2>/dev/null || true
  seed_from_repo "$target" "$work/corpus"
  set +e
  "$bin" "$work/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/crashes/" \
    > "$work/log.txt" 2>&1
  set -e
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log.txt" | grep -o '[0-9]*$' | tail -1)"
  rate="$(grep -o 'exec/s: *[0-9]*' "$work/log.txt" | tail -1 | grep -o '[0-9]*$')"
  crashes="$(find "$work/crashes" -type f | wc -l)"
  if [ "$crashes" -gt 0 ]; then
    mkdir -p tests/fuzz/regressions/"$target"
    cp "$work"/crashes/* tests/fuzz/regressions/"$target"/
  fi
  printf "%-20s %12s %10s %8s\n" "$target" "${execs:-?}" "${rate:-?}" "$crashes"
done
