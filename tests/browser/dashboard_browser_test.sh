#!/usr/bin/env bash
# The dashboard in a real browser: a local cluster (cohortd with
# --dashboard-listen, two workers on the test fakes, the simulated model)
# runs the demo sweep (20 problems a bench). Debian's headless chromium,
# driven by dashboard_browser.py, opens the campaign's page before the
# workers start and must see it follow the run by itself (0 done, partly
# done, succeeded); then it signs in again and loads every page of the
# finished campaign, checks the numbers `cohort` prints for it, saves a
# screenshot of each page and fails on any console error.
#
# usage: tests/browser/dashboard_browser_test.sh [SCREENSHOT_DIR]
#   (default: a temporary folder; docs/dashboard/ keeps the README's)
# Exit 77 (ctest: skipped) when chromium is not installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="${COHORT_BIN_DIR:-$ROOT/build/bin}"
if ! command -v chromium >/dev/null 2>&1; then
  echo "dashboard_browser_test: chromium is not installed (apt install chromium): skipped"
  exit 77
fi
WORK="$(mktemp -d)"
SHOTS="${1:-$WORK/screenshots}"
mkdir -p "$SHOTS" && SHOTS="$(cd "$SHOTS" && pwd)"  # before the cd below
cleanup() {
  "$BIN/cohort" down --state-dir "$WORK/cluster" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
"$BIN/cohort-worker" synth-model --layout qwen3moe --experts 16 --output-dir demo/model >/dev/null
"$BIN/cohort-worker" synth-contrib --layers 4 --experts 16 --output demo/contrib.json >/dev/null
export COHORT_DATASETS="$ROOT/data"
export FAKE_LLAMA_SIMULATE="$WORK/demo/contrib.json" FAKE_LLAMA_TOKEN_LATENCY_MS=0.02
up() {  # the cluster with $1 workers (a second call keeps cohortd, adds workers)
  "$BIN/cohort" up --state-dir cluster --listen 127.0.0.1:0 --workers "$1" --gpus 1 \
    --dashboard-listen 127.0.0.1:0 --llama-cpp-dir "$ROOT/tests/fakes" --no-user-config >/dev/null
}
up 0
export COHORT_CONFIG="$WORK/cluster/config.yaml"
sed 's/limit: 50/limit: 20/' "$ROOT/docs/examples/demo-sweep.yaml" > sweep.yaml
CAMPAIGN="$("$BIN/cohort" submit sweep.yaml 2>/dev/null)"
PORT="$(cat cluster/cohortd/dashboard.port)"
TOKEN="$(cat cluster/client.token)"

# The campaign's page, open before any worker runs, follows the run.
python3 "$ROOT/tests/browser/dashboard_browser.py" --live "http://127.0.0.1:$PORT" "$TOKEN" \
  "$CAMPAIGN" "$SHOTS" "$WORK/page-open" &
LIVE=$!
for _ in $(seq 600); do
  [ -e "$WORK/page-open" ] && break
  kill -0 "$LIVE" 2>/dev/null || break
  sleep 0.1
done
if [ ! -e "$WORK/page-open" ]; then
  wait "$LIVE" || true
  echo "dashboard_browser_test: the campaign page did not open within 60 s" >&2
  exit 1
fi
up 2
"$BIN/cohort" watch --plain "$CAMPAIGN" >/dev/null
wait "$LIVE"

# What the pages must show, from the CLI's own output for the campaign.
"$BIN/cohort" report "$CAMPAIGN" --ref even --format json > report.json
"$BIN/cohort" lengths "$CAMPAIGN" --format json > lengths.json
"$BIN/cohort" compare "$CAMPAIGN" coder even --format json > compare.json
"$BIN/cohort" status "$CAMPAIGN" > status.txt
python3 - "$CAMPAIGN" > expect.json <<'PY'
import json, sys
campaign = sys.argv[1]
report = json.load(open("report.json"))
lengths = json.load(open("lengths.json"))
compare = json.load(open("compare.json"))
suite = report["suites"][0]["suite"]
board = []
for s in report["suites"]:
    for model, cell in s["cells"].items():
        board.append(f"{100 * cell['accuracy']:.1f}%")
        board.append(f"{cell['passed']}/{cell['n']}")
    for model, deltas in s["delta"].items():
        for ref, d in deltas.items():
            board.append(f"Δ {ref} {'+' if d > 0 else ''}{d:.1f}")
lens = []
for row in lengths:
    if row["suite"] == suite:
        lens += [row["model"], str(row["tokens"]["p50"]), str(row["tokens"]["p90"]),
                 str(row["tokens"]["max"])]
flips = compare["suites"][suite]
problem = (flips["wins"] + flips["losses"] + ["0"])[0]
json.dump({
    "campaign": campaign, "ref": "even", "suite": suite, "a": "coder", "b": "even",
    "problem": problem,
    "campaigns_text": ["demo-class-weights", "succeeded", "24/24"],
    "grid_text": ["even", "coder", "math", "dropmap", "quantize", "No failures."],
    "scoreboard_text": board,
    "lengths_text": lens,
    "compare_text": [f"A wins {len(flips['wins'])}, B wins {len(flips['losses'])}",
                     f"{suite} · {problem}", "answer:"],
    "workers_text": ["local-0", "local-1", "live"],
}, sys.stdout)
PY
python3 "$ROOT/tests/browser/dashboard_browser.py" "http://127.0.0.1:$PORT" "$TOKEN" expect.json \
  "$SHOTS"
