#!/usr/bin/env bash
# The real-tools suite (tests/real/real_tools_suite.py): the whole chain on a
# synthetic checkpoint through a local cluster, against a real llama.cpp.
#
#   COHORT_LLAMA_CPP_DIR=/path/to/llama.cpp [COHORT_PYTHON=python3] \
#     bash deploy/local/test-real.sh
#
# What the two variables name: deploy/local/llama-env.sh. Without the tools
# it prints one line saying it was skipped and why, exit 0.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

source deploy/local/llama-env.sh
llama_tools_check || { echo "real-tools suite skipped: $LLAMA_TOOLS_WHY"; exit 0; }

bash deploy/local/build.sh --target cohortd cohort-worker cohort
exec python3 tests/real/real_tools_suite.py --bin "$ROOT/build/bin" \
  --llama-cpp-dir "$COHORT_LLAMA_CPP_DIR" --python "$COHORT_PYTHON" --work "$ROOT/build/real" "$@"
