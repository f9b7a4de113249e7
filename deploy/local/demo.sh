#!/usr/bin/env bash
# The main job: a small prune-and-eval sweep end to end on this machine.
#
# Installs missing Debian packages, builds cohortd, cohort-worker and cohort,
# makes a synthetic MoE checkpoint (16 experts) and synthetic contribution
# data, starts a local cluster (cohortd + 2 workers, embedded SQLite), submits
# docs/examples/demo-sweep.yaml (three class-weight variants: dropmap ->
# prune+upweight -> convert -> quantize -> bench -> score), watches it, and
# prints the scoreboard and the answer-length analysis. Then it resubmits the
# same sweep to show that nothing runs twice, and stops the cluster.
#
# llama.cpp: set COHORT_LLAMA_CPP_DIR to a llama.cpp build (convert script,
# llama-quantize, llama-server) to use the real tools; otherwise the test
# fakes in tests/fakes stand in, the fake llama-server answers as a simulated
# model of each variant (tests/fakes/fake_model.py), and the demo says so.
# Datasets: the benchmark files shipped in data/ (data/datasets.json).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

bash deploy/install-deps.sh
bash deploy/local/build.sh --target cohortd cohort-worker cohort
BIN="$ROOT/build/bin"
DEMO="$ROOT/build/demo"

SIMULATED=0
# The synthetic checkpoint's layout: llama.cpp converts the SentencePiece
# families (docs/real-tools.md), so the real tools get a Mixtral layout.
LAYOUT=qwen3moe
SIZES=()
source deploy/local/llama-env.sh
if [ -n "${COHORT_LLAMA_CPP_DIR:-}" ] && ! llama_tools_check; then
  echo "demo: COHORT_LLAMA_CPP_DIR is set but unusable: $LLAMA_TOOLS_WHY" >&2
  exit 2
fi
if [ -n "${COHORT_LLAMA_CPP_DIR:-}" ]; then
  TOOLS="$COHORT_LLAMA_CPP_DIR"
  LAYOUT=mixtral
  # head_dim 64: the profile's q8_0 KV cache needs a multiple of 32.
  SIZES=(--hidden 256 --moe-intermediate 256)
  echo "demo: REAL llama.cpp from $TOOLS: its converter, llama-imatrix, llama-quantize"
  echo "      and llama-server run end to end on this machine (CPU). The checkpoint is"
  echo "      random, so the scores measure nothing; the chain is what runs for real."
else
  TOOLS="$ROOT/tests/fakes"
  SIMULATED=1
  echo "demo: no llama.cpp build found, so the test fakes stand in for llama.cpp and"
  echo "      the fake llama-server answers as a SIMULATED model of each variant"
  echo "      (tests/fakes/fake_model.py): its skill on a bench falls with the share"
  echo "      of that bench's class contributions the variant's drop map removed."
  echo "      THE SCORES BELOW ARE SIMULATED, NOT MEASURED. For real numbers, point"
  echo "      the demo at a llama.cpp build:"
  echo "        COHORT_LLAMA_CPP_DIR=/path/to/llama.cpp bash deploy/local/demo.sh"
fi
# The spec names datasets (gsm8k); the CLI finds them in COHORT_DATA_DIR, else
# the repository's data/ (data/README.md).
export COHORT_DATA_DIR="${COHORT_DATA_DIR:-$ROOT/data}"
if [ ! -f "$COHORT_DATA_DIR/gsm8k/test.jsonl" ]; then
  echo "demo: no datasets at $COHORT_DATA_DIR (set COHORT_DATA_DIR)" >&2
  exit 2
fi

# A fresh demo each run: stop a cluster left from an earlier one.
if [ -d "$DEMO/cluster" ]; then "$BIN/cohort" down --state-dir "$DEMO/cluster" >/dev/null 2>&1 || true; fi
rm -rf "$DEMO"
mkdir -p "$DEMO/demo"
cd "$DEMO"
echo "demo: synthetic checkpoint and contribution data"
"$BIN/cohort-worker" synth-model --layout "$LAYOUT" --experts 16 "${SIZES[@]}" --output-dir demo/model
"$BIN/cohort-worker" synth-contrib --layers 4 --experts 16 --output demo/contrib.json
"$BIN/cohort-worker" inspect demo/model | head -5

if [ "$SIMULATED" = 1 ]; then
  # Read by the fake llama-server the workers start (tests/fakes/README.md).
  export FAKE_LLAMA_SIMULATE="$DEMO/demo/contrib.json"
  export FAKE_LLAMA_TOKEN_LATENCY_MS="${FAKE_LLAMA_TOKEN_LATENCY_MS:-0.02}"
fi

WORKERS=2
[ "$SIMULATED" = 1 ] || WORKERS=1
echo "demo: starting a local cluster (cohortd + $WORKERS worker(s))"
"$BIN/cohort" up --state-dir "$DEMO/cluster" --listen 127.0.0.1:0 --workers "$WORKERS" --gpus 1 \
  --dashboard-listen 127.0.0.1:0 \
  --llama-cpp-dir "$TOOLS" --no-user-config
export COHORT_CONFIG="$DEMO/cluster/config.yaml"
trap '"$BIN/cohort" down --state-dir "$DEMO/cluster" >/dev/null 2>&1 || true' EXIT

cp "$ROOT/docs/examples/demo-sweep.yaml" sweep.yaml
if [ "$SIMULATED" = 0 ]; then
  # A random model answers until max_tokens: fewer problems, and slots as
  # long as the protocol's budget needs (12288 + a 4096 answer reserve).
  # It generates at full length (16384 tokens per reasoning answer), so two
  # problems per bench, one worker: two llama-servers spinning on two cores
  # fell to 13 tokens/s each.
  sed -i -e 's/limit: 50/limit: 2/' -e 's/server: {parallel: 2}/server: {parallel: 2, ctx_size: 34000}/' sweep.yaml
fi
echo "demo: the expanded graph"
"$BIN/cohort" submit --dry-run sweep.yaml | tail -5
CAMPAIGN=$("$BIN/cohort" submit sweep.yaml)
echo "demo: campaign $CAMPAIGN"
"$BIN/cohort" watch --plain "$CAMPAIGN" | tail -3 || true
"$BIN/cohort" status "$CAMPAIGN" | head -2

echo
echo "== scoreboard =="
"$BIN/cohort" report "$CAMPAIGN" --ref even
echo
echo "== the scoreboard as a model card prints it (--style card) =="
"$BIN/cohort" report "$CAMPAIGN" --ref even --style card
echo
echo "== quantized models: size on disk, bits per weight, benches (--tiers) =="
"$BIN/cohort" report "$CAMPAIGN" --tiers
echo
echo "== answer lengths =="
"$BIN/cohort" lengths "$CAMPAIGN"
echo
echo "== plots for a model card (--plots) =="
"$BIN/cohort" report "$CAMPAIGN" --ref even --plots "$DEMO/plots" --png >/dev/null
ls "$DEMO/plots"
echo
echo "== compare coder vs even =="
"$BIN/cohort" compare "$CAMPAIGN" coder even | head -12 || true
echo
echo "demo: resubmitting the same sweep (every step is cached)"
"$BIN/cohort" submit sweep.yaml >/dev/null
if [ "$SIMULATED" = 1 ]; then
  echo "demo: the scores above came from the simulated model (tests/fakes/fake_model.py),"
  echo "      not from a real one; set COHORT_LLAMA_CPP_DIR to run llama.cpp."
fi
echo "demo: done; state kept in $DEMO (cluster stopped)"
echo "demo: to browse it in the web dashboard, restart the cluster (it prints the URL):"
echo "        $BIN/cohort restart --state-dir $DEMO/cluster   (cohort down --state-dir ... stops it)"
