#!/usr/bin/env bash
# docs/deploy.md's mutual-TLS setup on four "machines": network namespaces on
# one bridge, each with its own /etc/hosts (ip netns exec mounts
# /etc/netns/<ns>/hosts), so every process dials the names an operator's DNS
# would give:
#
#   coord  10.0.0.10  cohortd.example.internal     cohortd (the systemd unit's command line)
#   gpu1   10.0.0.21  gpu-node-1.example.internal  cohort-worker run (the systemd unit's)
#   gpu2   10.0.0.22  gpu-node-2.example.internal  cohort-worker run (the systemd unit's)
#   desk   10.0.0.5   -                            the researcher's CLI
#
# The certificates are made by running the docs' openssl block itself (the
# second worker's by the same lines with its name and address changed); the
# commands are the ExecStart lines of deploy/systemd/*.service with the env
# files' values. Checks, each as an operator meets it:
#   1. flags that would serve less than they ask refuse to start, naming what
#      is missing;
#   2. the demo sweep completes over mTLS on the two workers, artifacts
#      crossing between them (peer transfer);
#   3. cohortd's certificate is renewed (by rename, as the docs say) while the
#      sweep runs and cohortd gets SIGHUP: new connections get the new
#      certificate within seconds, no step runs twice;
#   4. each refusal names its cause in the CLI's error: no client
#      certificate, another CA's certificate, an expired one (with its date),
#      TLS against a plaintext cohortd; cohortd logs the failed handshake as
#      JSON with the desk's address;
#   5. a rogue cohortd on a worker machine serving that worker's certificate
#      is refused by the CLI (--tls-server-name cohortd.cohort) before any
#      token is sent, and would be believed without the flag;
#   6. a worker whose certificate cohortd refuses says why in its log, once
#      (not per retry), and stops within 2 s of SIGTERM; cohortd's log names
#      that worker's address.
#
#   sudo bash tests/deploy/tls_netns_test.sh     # root: network namespaces
#
# Builds cohortd, cohort-worker and cohort; installs openssl and iproute2 if
# missing. About 2 minutes. Removes its namespaces, bridge and scratch folder
# (KEEP=1 keeps the folder).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TEST_NAME=tls_netns_test
source tests/deploy/lib.sh
if [ "$(id -u)" != 0 ]; then echo "tls_netns_test: needs root (network namespaces)" >&2; exit 2; fi
install_and_build ip:iproute2 openssl:openssl

T="$(mktemp -d)"
chmod 755 "$T"
TAG="ct$$"
NETNS=(coord gpu1 gpu2 desk)
declare -A ADDR=([coord]=10.0.0.10 [gpu1]=10.0.0.21 [gpu2]=10.0.0.22 [desk]=10.0.0.5)
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  for ns in "${NETNS[@]}"; do
    ip netns del "$TAG-$ns" 2>/dev/null
    rm -rf "/etc/netns/$TAG-$ns"
  done
  ip link del "$TAG-br" 2>/dev/null
  remove_scratch "$T"
}
trap cleanup EXIT
# Runs a command on one of the machines.
on() { local ns=$1; shift; ip netns exec "$TAG-$ns" "$@"; }

# --- the network -----------------------------------------------------------
ip link add "$TAG-br" type bridge
ip link set "$TAG-br" up
for ns in "${NETNS[@]}"; do
  ip netns add "$TAG-$ns"
  ip link add "$TAG-$ns" type veth peer name eth0 netns "$TAG-$ns"
  ip link set "$TAG-$ns" master "$TAG-br" up
  on "$ns" ip addr add "${ADDR[$ns]}/24" dev eth0
  on "$ns" ip link set eth0 up
  on "$ns" ip link set lo up
  mkdir -p "/etc/netns/$TAG-$ns"
  cat > "/etc/netns/$TAG-$ns/hosts" <<EOF
127.0.0.1 localhost
${ADDR[coord]} cohortd.example.internal
${ADDR[gpu1]} gpu-node-1.example.internal
${ADDR[gpu2]} gpu-node-2.example.internal
EOF
done
say "machines: coord ${ADDR[coord]}, gpu1 ${ADDR[gpu1]}, gpu2 ${ADDR[gpu2]}, desk ${ADDR[desk]}"

# --- certificates: the docs' block, run as written ---------------------------
# The first ```sh block under "## Certificates and tokens".
awk '/^## Certificates and tokens/ {s=1} s && /^```sh/ {b=1; next} b && /^```/ {exit} b' \
  docs/deploy.md > "$T/certs.sh"
grep -q 'openssl x509 -req -in worker.csr' "$T/certs.sh" || fail "no openssl block in docs/deploy.md"
# The second worker: the worker lines with its name and address.
grep -E 'worker\.(csr|key)|subjectAltName=DNS:gpu-node-1' "$T/certs.sh" \
  | sed -e 's/gpu-node-1/gpu-node-2/g' -e 's/10\.0\.0\.21/10.0.0.22/g' -e 's/worker\./worker2./g' \
  > "$T/certs2.sh"
(cd "$T" && bash -e certs.sh 2>/dev/null && cd tls && bash -e ../certs2.sh 2>/dev/null)
TLS="$T/tls"
for f in ca.crt tls.crt tls.key worker.crt worker.key worker2.crt worker2.key client.crt client.key; do
  [ -s "$TLS/$f" ] || fail "the docs' openssl block made no $f"
done
# For the refusals: another CA and a client certificate that has expired.
(
  cd "$TLS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" \
    -keyout other-ca.key -out other-ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=mallory" -keyout other.key -out other.csr 2>/dev/null
  openssl x509 -req -in other.csr -CA other-ca.crt -CAkey other-ca.key -CAcreateserial -days 2 \
    -out other.crt -extfile <(printf "extendedKeyUsage=clientAuth") 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=alice" -keyout expired.key -out expired.csr 2>/dev/null
  openssl x509 -req -in expired.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 0 \
    -out expired.crt -extfile <(printf "extendedKeyUsage=clientAuth") 2>/dev/null
)
say "certificates from docs/deploy.md: $(cd "$TLS" && ls *.crt | tr '\n' ' ')"

# --- commands from the systemd units ------------------------------------------
# ExecStart of a unit, continuation lines joined, installed paths mapped into
# the scratch folder; ${VAR}s are expanded by eval from the env file's values.
unit_command() {
  awk '/^ExecStart=/ {s=1; sub(/^ExecStart=/, "")} s {line = line " " $0; if ($0 !~ /\\$/) exit}
       END {gsub(/\\/, "", line); print line}' "$1" \
    | sed -e "s#/usr/local/bin/#$BIN/#" -e "s#/etc/cohort/tls/#$TLS/#g" -e "s#/etc/cohort/#$T/etc-\$MACHINE/#g" \
          -e "s#/var/lib/#$T/state-\$MACHINE/#g"
}
COHORTD_CMD="$(unit_command deploy/systemd/cohortd.service)"
WORKER_CMD="$(unit_command deploy/systemd/cohort-worker.service)"

SHARE="$T/share"
mkdir -p "$SHARE/demo" "$T/etc-coord" "$T/state-coord"
cp -r "$ROOT/data" "$SHARE/data"
# cohortd: the env file's values, the shared folder of this test, and a
# metrics listener.
start_cohortd() {
  (
    set -a; source deploy/systemd/cohortd.env; set +a
    COHORTD_SHARED_ROOT="$SHARE" MACHINE=coord
    eval "exec ip netns exec $TAG-coord $COHORTD_CMD --metrics-listen 127.0.0.1:0"
  ) >> "$T/cohortd.log" 2>&1 &
  PIDS+=($!); disown $!
}
token() { "$BIN/cohortd" --state-dir "$T/state-coord/cohortd" token create "$@"; }
# A worker on machine $1 with the certificate files $2.crt/$2.key, as worker
# $3 (its token bound to that id), its artifact listener on port $4.
start_worker() {
  local machine=$1 cert=$2 node=$3 port=${4:-7401}
  mkdir -p "$T/etc-$node" "$T/state-$node"
  [ -f "$T/etc-$node/worker.token" ] \
    || token --role worker --name "$node" --worker-id "$node" > "$T/etc-$node/worker.token"
  (
    set -a; source deploy/systemd/worker.env; set +a
    COHORT_ADVERTISE_HOST="${node%b}.example.internal" COHORT_LLAMA_CPP_DIR="$ROOT/tests/fakes"
    COHORT_SHARED_ROOT="$SHARE" COHORT_ARTIFACT_LISTEN="0.0.0.0:$port" MACHINE=$node
    local cmd="${WORKER_CMD//worker.crt/$cert.crt}"
    cmd="${cmd//worker.key/$cert.key}"
    eval "exec ip netns exec $TAG-$machine env COHORT_FAKE_FAIL=slow COHORT_FAKE_SLOW_MS=40 \
      FAKE_LLAMA_TOKEN_LATENCY_MS=0.02 $cmd --worker-id $node"
  ) >> "$T/$node.log" 2>&1 &
  PIDS+=($!); disown $!
}

# --- 1. fail closed --------------------------------------------------------------
expect_refusal() {  # expect_refusal <what> <pattern> <machine> <command...>
  local what=$1 pattern=$2 machine=$3; shift 3
  local out rc=0
  out=$(timeout 10 ip netns exec "$TAG-$machine" "$@" 2>&1) || rc=$?
  [ $rc != 0 ] && [ $rc != 124 ] || fail "$what: started (rc $rc): $out"
  echo "$out" | grep -qiE "$pattern" || fail "$what: error does not say /$pattern/: $out"
  say "1. $what: exit $rc: $(echo "$out" | grep -iE "$pattern" | head -n1 | cut -c1-150)"
}
mkdir -p "$T/scratch"
expect_refusal "cohortd --tls-client-ca without --tls-cert" "tls-cert" \
  coord "$BIN/cohortd" --listen 0.0.0.0:7400 --state-dir "$T/scratch/a" --tls-client-ca "$TLS/ca.crt"
expect_refusal "cohortd plaintext on 0.0.0.0" "insecure-plaintext" \
  coord "$BIN/cohortd" --listen 0.0.0.0:7400 --state-dir "$T/scratch/b"
expect_refusal "cohortd --tls-cert without --tls-key" "tls-key" \
  coord "$BIN/cohortd" --listen 0.0.0.0:7400 --state-dir "$T/scratch/c" --tls-cert "$TLS/tls.crt"
expect_refusal "cohortd with a key that is not its certificate's" "key|match" \
  coord "$BIN/cohortd" --listen 0.0.0.0:7400 --state-dir "$T/scratch/d" \
  --tls-cert "$TLS/tls.crt" --tls-key "$TLS/worker.key"
echo x > "$T/scratch/token"
expect_refusal "worker --tls-cert without --tls-ca" "tls-ca" \
  gpu1 "$BIN/cohort-worker" run --coordinator cohortd.example.internal:7400 \
  --token-file "$T/scratch/token" --state-dir "$T/scratch/w" \
  --tls-cert "$TLS/worker.crt" --tls-key "$TLS/worker.key"

# --- cohortd, workers, CLI ----------------------------------------------------
start_cohortd
CLIENT_TOKEN="$(token --role client --name alice)"
cli() {  # the researcher's CLI on the desk machine, configured as docs/cli.md says
  on desk env HOME="$T/desk" COHORT_COORDINATOR=cohortd.example.internal:7400 COHORT_TOKEN="$CLIENT_TOKEN" \
    COHORT_TLS_CA="$TLS/ca.crt" COHORT_TLS_CERT="$TLS/client.crt" COHORT_TLS_KEY="$TLS/client.key" \
    COHORT_TLS_SERVER_NAME=cohortd.cohort COHORT_DATA_DIR="$SHARE/data" \
    "$BIN/cohort" "$@"
}
wait_for 30 cli workers || fail "cohortd does not answer: $(cli workers 2>&1; tail -n 5 "$T/cohortd.log")"
grep -q "client certificates required" "$T/cohortd.log" \
  || fail "cohortd's start line does not say mTLS: $(head -n 5 "$T/cohortd.log")"
say "cohortd: $(grep -o '"msg":"serving[^"]*"' "$T/cohortd.log" | head -n1)"
start_worker gpu1 worker gpu-node-1
start_worker gpu2 worker2 gpu-node-2
both_registered() { [ "$(cli workers | grep -cE 'gpu-node-[12]')" = 2 ]; }
wait_for 30 both_registered || fail "workers did not register: $(cli workers 2>&1; tail -n 3 "$T"/gpu-node-[12].log)"
say "workers registered over mTLS:"
cli workers | sed 's/^/     /'

# --- 2. the demo sweep ------------------------------------------------------------
(
  cd "$SHARE"
  "$BIN/cohort-worker" synth-model --layout qwen3moe --experts 16 --output-dir demo/model >/dev/null
  "$BIN/cohort-worker" synth-contrib --layers 4 --experts 16 --output demo/contrib.json >/dev/null
  sed -e 's/limit: 50/limit: 6/' "$ROOT/docs/examples/demo-sweep.yaml" > sweep.yaml
)
CAMPAIGN=$(cli submit "$SHARE/sweep.yaml")
say "2. campaign $CAMPAIGN submitted from the desk"

# --- 3. renew cohortd's certificate while the sweep runs ------------------------------
served_serial() {  # the serial of the certificate cohortd serves to a new connection
  on desk openssl s_client -connect cohortd.example.internal:7400 -servername cohortd.cohort \
    -CAfile "$TLS/ca.crt" -cert "$TLS/client.crt" -key "$TLS/client.key" </dev/null 2>/dev/null \
    | openssl x509 -noout -serial 2>/dev/null || true
}
running_steps() { cli status "$CAMPAIGN" | grep -qE '^leased'; }
wait_for 60 running_steps || fail "no step leased: $(cli status "$CAMPAIGN" 2>&1)"
OLD_SERIAL=$(served_serial)
(
  cd "$T/scratch"
  # The docs' cohortd lines, into new files, then renamed over the served
  # ones: the key first, then the certificate.
  grep -E 'tls\.(csr|key)|subjectAltName=DNS:cohortd' "$T/certs.sh" \
    | sed -e 's/tls\./new-tls./g' -e 's/-CA ca.crt -CAkey ca.key/-CA ..\/tls\/ca.crt -CAkey ..\/tls\/ca.key/' \
    > renew.sh
  bash -e renew.sh 2>/dev/null
  mv new-tls.key "$TLS/tls.key"
  mv new-tls.crt "$TLS/tls.crt"
)
NEW_SERIAL=$(openssl x509 -in "$TLS/tls.crt" -noout -serial)
[ "$OLD_SERIAL" != "$NEW_SERIAL" ] || fail "the renewal made the same serial $NEW_SERIAL"
# The files are checked every --tls-reload-seconds (60 in the unit);
# SIGHUP, as an operator sends it after a renewal, serves them at once.
kill -HUP "${PIDS[0]}"
renewed() { [ "$(served_serial)" = "$NEW_SERIAL" ]; }
wait_for 5 renewed || fail "cohortd still serves $(served_serial), not the renewed $NEW_SERIAL, 5 s after SIGHUP"
say "3. renewed while steps ran, then SIGHUP: cohortd served $OLD_SERIAL, now $NEW_SERIAL to new connections"

finished() { cli status | grep "$CAMPAIGN" | grep -qvi running; }
wait_for 300 finished || fail "campaign still running: $(cli status "$CAMPAIGN")"
cli status | grep "$CAMPAIGN" | grep -qi succeeded \
  || fail "campaign did not succeed: $(cli status "$CAMPAIGN" --all)"
say "2. campaign succeeded: $(cli status | grep "$CAMPAIGN")"
# A step's log is <state>/logs/<key>-<lease epoch>.log: every step ran once.
RAN=$(ls "$T"/state-gpu-node-[12]/cohort-worker/logs/ | grep -c -- '\.log$' || true)
AGAIN=$(ls "$T"/state-gpu-node-[12]/cohort-worker/logs/ | grep -c -- '-[2-9]\.log$' || true)
[ "$AGAIN" = 0 ] || fail "$AGAIN steps ran a second time: $(ls "$T"/state-gpu-node-[12]/cohort-worker/logs/)"
say "3. $RAN step runs on the two workers, none a second lease"
for machine in gpu1 gpu2; do
  n=$(grep -c 'fetched sha256' "$T/gpu-node-${machine#gpu}.log" || true)
  say "2. $machine fetched $n artifacts from its peer"
  eval "FETCHED_$machine=$n"
done
[ $((FETCHED_gpu1 + FETCHED_gpu2)) -gt 0 ] || fail "no artifact crossed between the workers"
grep -q 'fetched sha256.* from gpu-node-2' "$T/gpu-node-1.log" \
  || grep -q 'fetched sha256.* from gpu-node-1' "$T/gpu-node-2.log" \
  || fail "no fetch names the other worker: $(grep -h 'fetched sha256' "$T"/gpu-node-[12].log)"

# --- 4. refusals, each named ----------------------------------------------------------
expect_cli_refusal() {  # expect_cli_refusal <what> <pattern> <env overrides...>
  local what=$1 pattern=$2; shift 2
  local out rc=0
  out=$(on desk env HOME="$T/desk" COHORT_COORDINATOR=cohortd.example.internal:7400 COHORT_TOKEN="$CLIENT_TOKEN" \
    COHORT_TLS_CA="$TLS/ca.crt" COHORT_TLS_CERT="$TLS/client.crt" COHORT_TLS_KEY="$TLS/client.key" \
    COHORT_TLS_SERVER_NAME=cohortd.cohort "$@" timeout 20 "$BIN/cohort" workers 2>&1) || rc=$?
  [ $rc != 0 ] && [ $rc != 124 ] || fail "$what: the CLI got through (rc $rc): $out"
  echo "$out" | grep -qiE "$pattern" || fail "$what: the error does not say /$pattern/: $out"
  say "4. $what: $(echo "$out" | head -n 1 | cut -c1-420)"
}
expect_cli_refusal "no client certificate" "requires a client certificate" \
  COHORT_TLS_CERT= COHORT_TLS_KEY=
expect_cli_refusal "another CA's client certificate" "not signed by the CA" \
  COHORT_TLS_CERT="$TLS/other.crt" COHORT_TLS_KEY="$TLS/other.key"
EXPIRY=$(openssl x509 -in "$TLS/expired.crt" -noout -enddate | cut -d= -f2)
expect_cli_refusal "an expired client certificate ($EXPIRY)" "expired at $(date -u -d "$EXPIRY" +%Y-%m-%d)" \
  COHORT_TLS_CERT="$TLS/expired.crt" COHORT_TLS_KEY="$TLS/expired.key"
expect_cli_refusal "a CA that did not sign cohortd's certificate" "not signed by the CA" \
  COHORT_TLS_CA="$TLS/other-ca.crt"
# cohortd logs each failed handshake through its logger, as JSON, naming
# the machine it came from (the desk) and the reason.
handshake_logged() { grep '^{' "$T/cohortd.log" | grep -q "TLS handshake refused for ${ADDR[desk]}:[0-9]*: peer did not return a certificate"; }
wait_for 5 handshake_logged || fail "cohortd logged no failed handshake from ${ADDR[desk]}: $(tail -n 3 "$T/cohortd.log")"
say "4. cohortd: $(grep '^{' "$T/cohortd.log" | grep 'peer did not return a certificate' | tail -n 1 | cut -c1-260)"
! grep -q "grpc: Handshake failed" "$T/cohortd.log" || fail "cohortd logged gRPC's bare handshake line"
# ... and the expired certificate with its date, as the CLI did.
expired_logged() { grep -q "TLS handshake refused for ${ADDR[desk]}:[0-9]*: the client certificate (CN=[^)]*) expired at $(date -u -d "$EXPIRY" '+%Y-%m-%d %H:%M:%S') UTC" "$T/cohortd.log"; }
wait_for 5 expired_logged || fail "cohortd does not name the expired client certificate: $(grep 'handshake refused' "$T/cohortd.log" | tail -n 3)"
say "4. cohortd: $(grep "TLS handshake refused for ${ADDR[desk]}:[0-9]*: the client certificate" "$T/cohortd.log" | grep expired | tail -n 1 | cut -c1-220)"
# TLS against a plaintext cohortd (one on the desk's loopback).
on desk "$BIN/cohortd" --listen 127.0.0.1:7400 --state-dir "$T/scratch/plain" > "$T/plain.log" 2>&1 &
PIDS+=($!); disown $!
plain_up() { grep -q "serving" "$T/plain.log"; }
wait_for 20 plain_up || fail "the plaintext cohortd did not start: $(cat "$T/plain.log")"
expect_cli_refusal "TLS against a plaintext cohortd" "does not speak TLS" \
  COHORT_COORDINATOR=127.0.0.1:7400 COHORT_TLS_SERVER_NAME=

# --- 5. a rogue cohortd with a worker's certificate --------------------------------------
on gpu1 "$BIN/cohortd" --listen "${ADDR[gpu1]}:7400" --state-dir "$T/scratch/rogue" \
  --tls-cert "$TLS/worker.crt" --tls-key "$TLS/worker.key" > "$T/rogue.log" 2>&1 &
PIDS+=($!); disown $!
rogue_up() { grep -q "serving" "$T/rogue.log"; }
wait_for 20 rogue_up || fail "the rogue cohortd did not start: $(cat "$T/rogue.log")"
expect_cli_refusal "a rogue cohortd serving gpu-node-1's certificate" "not cohortd.cohort" \
  COHORT_COORDINATOR=gpu-node-1.example.internal:7400
# Without --tls-server-name the dialled name is checked, which the worker's
# certificate carries: the CLI would talk to the rogue (which knows no token).
out=$(on desk env HOME="$T/desk" COHORT_COORDINATOR=gpu-node-1.example.internal:7400 COHORT_TOKEN="$CLIENT_TOKEN" \
  COHORT_TLS_CA="$TLS/ca.crt" timeout 20 "$BIN/cohort" workers 2>&1 || true)
echo "$out" | grep -q "unknown bearer token" || fail "without --tls-server-name: $out"
say "5. without --tls-server-name the same rogue is reached: $(echo "$out" | head -n1 | cut -c1-120)"

# --- 6. a worker cohortd refuses, then SIGTERM ---------------------------------------------
start_worker gpu2 other gpu-node-2b 7402
REFUSED_PID=${PIDS[-1]}
refusal_logged() { grep -q "refused the client certificate" "$T/gpu-node-2b.log"; }
wait_for 20 refusal_logged || fail "the refused worker does not say why: $(tail -n 3 "$T/gpu-node-2b.log")"
say "6. refused worker: $(grep "refused the client certificate" "$T/gpu-node-2b.log" | head -n1 | cut -c1-220)"
worker_refusal_logged() { grep -q "TLS handshake refused for ${ADDR[gpu2]}:[0-9]*: the client certificate (CN=[^)]*), issued by CN=other CA, is not signed by the CA in" "$T/cohortd.log"; }
wait_for 5 worker_refusal_logged || fail "cohortd does not name the refused worker's address ${ADDR[gpu2]}: $(tail -n 3 "$T/cohortd.log")"
say "6. cohortd: $(grep "TLS handshake refused for ${ADDR[gpu2]}" "$T/cohortd.log" | head -n1 | cut -c1-260)"
# The cause is logged when it changes, then once a minute: not per retry.
sleep 4
LINES=$(grep -c "refused the client certificate" "$T/gpu-node-2b.log" || true)
[ "$LINES" = 1 ] || fail "the refusal was logged $LINES times in 4 s: $(tail -n 4 "$T/gpu-node-2b.log")"
START=$(date +%s.%N)
kill -TERM "$REFUSED_PID"
stopped() { ! kill -0 "$REFUSED_PID" 2>/dev/null; }
wait_for 5 stopped || fail "the refused worker is alive 5 s after SIGTERM"
ELAPSED=$(awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
awk -v e="$ELAPSED" 'BEGIN {exit !(e < 2)}' || fail "the refused worker took $ELAPSED s to stop"
say "6. it stopped ${ELAPSED} s after SIGTERM"
say "PASS"
