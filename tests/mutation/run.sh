#!/usr/bin/env bash
# Mutation check of the pure cores (tests/mutation/mutate.py): builds what is
# missing, then applies each mutant, rebuilds its test target, runs its tests
# and restores the file. Exit 1 when a mutant survives or is stale.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
bash deploy/install-deps.sh
bash deploy/local/build.sh
exec python3 tests/mutation/mutate.py --build build "$@"
