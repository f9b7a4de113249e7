# Helpers the deploy tests (slurm_test.sh, tls_netns_test.sh) share. Source
# it with TEST_NAME set: lines are prefixed with it.

fail() { echo "$TEST_NAME: FAIL: $*" >&2; exit 1; }
say() { echo "$TEST_NAME: $*"; }

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.5
  done
}

# The scratch folder: removed, or kept (and said so) with KEEP=1.
remove_scratch() {
  if [ "${KEEP:-0}" = 1 ]; then echo "$TEST_NAME: kept $1"; else rm -rf "$1"; fi
}

# Installs what is missing of `command:package` pairs (apt), then builds the
# three binaries; BIN names their folder.
install_and_build() {
  local need=() tool
  for tool in "$@"; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
  fi
  bash deploy/local/build.sh --target cohortd cohort-worker cohort >/dev/null
  BIN="$ROOT/build/bin"
}
