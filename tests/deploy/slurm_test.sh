#!/usr/bin/env bash
# deploy/slurm/cohort-worker.sbatch under a real Slurm on this machine.
#
# Starts munged, slurmctld and slurmd (Debian's slurm-wlm) with a generated
# one-node slurm.conf whose node offers two fake GPUs (gres "gpu" backed by
# /dev/null and /dev/zero: Slurm hands them out and sets CUDA_VISIBLE_DEVICES
# as for real cards), cohortd with mutual TLS (certificates made with the
# docs' openssl recipe), then submits the sbatch script unchanged as a
# two-task array with the llama.cpp fakes as tools, and checks:
#   1. each array task registers as a worker (slurm-<job>-<task>);
#   2. each task's steps see only the card Slurm gave that task;
#   3. `scancel` of a task while it holds a lease hands the step back, and the
#      other task finishes it (lease epoch 2);
#   4. the demo sweep (24 steps) completes on the array;
#   5. the array ends by itself once the campaign does (--exit-when-idle).
#
#   sudo bash tests/deploy/slurm_test.sh      # root: slurmd runs jobs as root here
#
# Needs root (slurmd), installs slurm-wlm, munge and openssl if missing,
# builds cohortd, cohort-worker and cohort. About 2 minutes. Leaves nothing
# running; the scratch folder is removed unless KEEP=1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
TEST_NAME=slurm_test
source tests/deploy/lib.sh
if [ "$(id -u)" != 0 ]; then echo "slurm_test: needs root (slurmd)" >&2; exit 2; fi
install_and_build slurmctld:slurm-wlm slurmd:slurm-wlm munged:munge openssl:openssl

T="$(mktemp -d)"
PIDS=()
cleanup() {
  set +e
  if [ -n "${SLURM_CONF:-}" ] && [ -n "${JOB:-}" ]; then
    # Let slurmd end the job's steps before it stops (a failed run otherwise
    # leaves slurmstepd behind).
    scancel "$JOB" 2>/dev/null
    for _ in $(seq 30); do [ -z "$(squeue -h -j "$JOB" 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  for f in "$T"/run/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 1
  remove_scratch "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$T"/{munge,state,spool,log,run,cohortd,share,cohort/etc/tls,cohort/bin}
chmod 700 "$T/munge"

# --- munge and Slurm ------------------------------------------------------
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
munged --force --socket="$T/munge/socket" --key-file="$T/munge/munge.key" \
  --pid-file="$T/run/munged.pid" --log-file="$T/log/munged.log" --seed-file="$T/munge/seed"
NODE="$(hostname -s)"
CTLD_PORT=$(free_port); SLURMD_PORT=$(free_port)
export SLURM_CONF="$T/slurm.conf"
cat > "$SLURM_CONF" <<EOF
ClusterName=cohorttest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
AuthInfo=socket=$T/munge/socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/run/slurmctld.pid
SlurmdPidFile=$T/run/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
MpiDefault=none
ReturnToService=2
KillWait=10
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=4000 Gres=gpu:2 State=UNKNOWN
PartitionName=main Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
# Two "GPUs": any device files do; Slurm only counts and hands them out.
cat > "$T/gres.conf" <<EOF
NodeName=$NODE Name=gpu File=/dev/null
NodeName=$NODE Name=gpu File=/dev/zero
EOF
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
wait_for 30 bash -c 'sinfo -h -o %t | grep -qx idle' || fail "the Slurm node never became idle: $(tail -n 5 "$T/log/slurmd.log")"
say "slurmctld and slurmd up: $(sinfo -h -o '%P %D %t %G')"

# --- certificates, as docs/deploy.md makes them ----------------------------
(
  cd "$T/cohort/etc/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cohort CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=cohortd" -keyout tls.key -out tls.csr 2>/dev/null
  openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out tls.crt \
    -extfile <(printf "subjectAltName=DNS:cohortd.cohort,IP:127.0.0.1") 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$NODE" -keyout worker.key -out worker.csr 2>/dev/null
  openssl x509 -req -in worker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out worker.crt \
    -extfile <(printf "subjectAltName=DNS:%s,DNS:%s,IP:127.0.0.1" "$NODE" "$(hostname -f)") 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=alice" -keyout client.key -out client.csr 2>/dev/null
  openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out client.crt \
    -extfile <(printf "extendedKeyUsage=clientAuth") 2>/dev/null
)
TLS="$T/cohort/etc/tls"

# --- cohortd and the CLI ---------------------------------------------------
PORT=$(free_port)
"$BIN/cohortd" --listen "127.0.0.1:$PORT" --state-dir "$T/cohortd" \
  --tls-cert "$TLS/tls.crt" --tls-key "$TLS/tls.key" --tls-client-ca "$TLS/ca.crt" \
  --shared-root "$T" --lease-seconds 10 --heartbeat-seconds 1 \
  > "$T/log/cohortd.log" 2>&1 &
PIDS+=($!)
"$BIN/cohortd" --state-dir "$T/cohortd" token create --role worker --name slurm-array \
  > "$T/cohort/etc/worker.token"
export COHORT_COORDINATOR="127.0.0.1:$PORT"
COHORT_TOKEN="$("$BIN/cohortd" --state-dir "$T/cohortd" token create --role client --name alice)"
export COHORT_TOKEN COHORT_TLS_CA="$TLS/ca.crt" COHORT_TLS_CERT="$TLS/client.crt" \
  COHORT_TLS_KEY="$TLS/client.key" COHORT_TLS_SERVER_NAME=cohortd.cohort
cohort() { "$BIN/cohort" "$@"; }
wait_for 30 cohort workers || fail "cohortd does not answer: $(tail -n 5 "$T/log/cohortd.log")"

# --- the array, as a user submits it ---------------------------------------
ln -s "$BIN/cohort-worker" "$T/cohort/bin/cohort-worker"
ln -s "$ROOT/tests/fakes" "$T/cohort/llama.cpp"
# Every fake tool sleeps per tensor (tests/fakes/README.md): a step lasts
# long enough to be cancelled in its middle.
JOB=$(env COHORT_ROOT="$T/cohort" COHORT_STATE_ROOT="$T/share/state" COHORT_SHARED_ROOT="$T" \
  COHORT_ARTIFACT_PORT="$(free_port)" COHORT_EXIT_WHEN_IDLE=6 COHORT_DRAIN_SECONDS=0 \
  COHORT_FAKE_FAIL=slow COHORT_FAKE_SLOW_MS=150 \
  FAKE_LLAMA_TOKEN_LATENCY_MS=0.02 FAKE_CUDA_DEVICES=card-0,card-1 \
  sbatch --parsable --array=0-1 --cpus-per-task=1 --mem=1G --time=20 \
  --output="$T/log/worker-%A_%a.log" deploy/slurm/cohort-worker.sbatch)
JOB="${JOB%%;*}"
say "sbatch --array=0-1 deploy/slurm/cohort-worker.sbatch: job $JOB"
registered() { [ "$(cohort workers | grep -c "slurm-$JOB-[01]")" = 2 ]; }
wait_for 60 registered || fail "array tasks did not register: $(cohort workers; tail -n 5 "$T"/log/worker-*.log)"
say "1. both array tasks registered:"
cohort workers | sed 's/^/     /'

# --- the demo sweep --------------------------------------------------------
# Inputs on the "shared storage" (under every --shared-root): the synthetic
# model and contribution data, and the benchmark files.
mkdir -p "$T/share/demo"
cp -r "$ROOT/data" "$T/share/data"
export COHORT_DATA_DIR="$T/share/data"
(
  cd "$T/share"
  "$BIN/cohort-worker" synth-model --layout qwen3moe --experts 16 --output-dir demo/model >/dev/null
  "$BIN/cohort-worker" synth-contrib --layers 4 --experts 16 --output demo/contrib.json >/dev/null
  sed -e 's/limit: 50/limit: 6/' "$ROOT/docs/examples/demo-sweep.yaml" > sweep.yaml
)
CAMPAIGN=$(cohort submit "$T/share/sweep.yaml")
say "campaign $CAMPAIGN submitted"

# 3. scancel task 0 while it holds a lease on a slow tool step.
# `cohort status` prints a leased step, then "on <worker> ..." below it.
held_by_task0() {
  cohort status "$CAMPAIGN" | grep -A1 -E "^leased +(convert|quantize) " | grep -q "on slurm-$JOB-0"
}
wait_for 120 held_by_task0 || fail "task 0 never held a convert/quantize step: $(cohort status "$CAMPAIGN")"
HELD=$(cohort status "$CAMPAIGN" | grep -B1 "on slurm-$JOB-0" | head -n1 | awk '{print $NF, $(NF-1)}')
say "task 0 holds: $HELD"
scancel "${JOB}_0"
say "scancel ${JOB}_0"
gone_task0() { ! squeue -h -j "$JOB" -o %i | grep -qx "${JOB}_0"; }
wait_for 60 gone_task0 || fail "task 0 still in the queue after scancel"
grep -q "draining" "$T/log/worker-${JOB}_0.log" || fail "task 0 did not drain: $(tail -n 5 "$T/log/worker-${JOB}_0.log")"
say "3. task 0 drained and left the queue: $(grep -E 'draining|handed|stopped' "$T/log/worker-${JOB}_0.log" | tail -n 2 | cut -c1-200 | tr '\n' ' ')"

# 4. the campaign completes on task 1.
finished() { cohort status | grep "$CAMPAIGN" | grep -qvi running; }
wait_for 400 finished || fail "campaign still running: $(cohort status "$CAMPAIGN")"
cohort status | grep "$CAMPAIGN" | grep -qi succeeded || fail "campaign did not succeed: $(cohort status "$CAMPAIGN" --all)"
say "4. campaign succeeded: $(cohort status | grep "$CAMPAIGN")"
cohort status "$CAMPAIGN" --all > "$T/log/status.txt"
# A step's log is <state>/logs/<key>-<lease epoch>.log: the step task 0 held
# ran again on task 1 as its second lease.
AGAIN=$(ls "$T"/share/state/worker-1/logs/ | grep -c -- '-2\.log$' || true)
[ "$AGAIN" -ge 1 ] || fail "no step ran again on task 1 (epoch 2): $(ls "$T"/share/state/worker-1/logs/)"
say "3. steps task 1 ran as a second lease after the scancel: $AGAIN"

# 2. each task's tools saw only its own card ("$ CUDA_VISIBLE_DEVICES=N tool ..."
# in the step logs; steps that asked for no GPU get an empty value).
for task in 0 1; do
  cards=$(grep -ho 'CUDA_VISIBLE_DEVICES=[^ ]\+' "$T"/share/state/worker-$task/logs/*.log \
    | sed 's/.*=//' | sort -u | tr '\n' ' ' || true)
  say "2. task $task: its GPU steps ran with CUDA_VISIBLE_DEVICES = ${cards:-none}"
  [ "$(echo $cards | wc -w)" -le 1 ] || fail "task $task's steps saw cards: '$cards'"
  eval "CARD_$task='$cards'"
done
# Task 0 may have been cancelled before it ran a GPU step; task 1 ran them.
[ -n "$CARD_1" ] || fail "task 1 ran no GPU step"
[ "$CARD_0" != "$CARD_1" ] || fail "both tasks' steps ran on card $CARD_0"

# 5. the array ends by itself.
ended() { [ -z "$(squeue -h -j "$JOB" 2>/dev/null)" ]; }
wait_for 60 ended || fail "the array is still queued after the campaign: $(squeue -j "$JOB")"
grep -q "exit-when-idle" "$T/log/worker-${JOB}_1.log" || fail "task 1 did not stop for idleness"
say "5. the array ended once the campaign did: $(grep -h 'exit-when-idle' "$T/log/worker-${JOB}_1.log" | tail -n1 | cut -c1-160)"
say "PASS"

