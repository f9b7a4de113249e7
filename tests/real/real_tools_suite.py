#!/usr/bin/python3
"""The real-tools suite: the whole chain against a real llama.cpp build.

Run by deploy/local/test-real.sh (README), which finds the tools and the
converter's Python. Through a local cluster (`cohort up`) it runs, for each
layout llama.cpp converts from a synthetic checkpoint:

  synth-model -> dropmap -> prune (+ upweight where the layout has a shared
  expert) -> convert -> imatrix -> quantmap (per-layer types from the
  contribution data) -> quantize (Q6_K, Q4_K_M) -> bench (gsm8k,
  arc_challenge, humaneval; small limits) -> score -> report

and checks that every step succeeded, every GGUF's expert_count is the kept
count, each quantized GGUF's expert tensors have the types the hand-written
and the generated maps asked, llama-server answered every request with HTTP 200 (no server errors
in any journal), the report rows carry the server's token counts, and a
resubmission runs zero steps. It prints the time each stage took; docs/
real-tools.md records a run. Exit 0 when every check holds, 1 otherwise.

Usage: real_tools_suite.py --bin BUILD/bin --llama-cpp-dir DIR --python PY
                           --work DIR [--layouts mixtral]
"""

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
from small_profile import small_profile  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

# Layouts whose synthetic checkpoint llama.cpp's converter accepts, with the
# synth-model sizes used (K-quants need rows that are multiples of 256).
LAYOUTS = {
    "mixtral": {"experts": 8, "drop": 2, "shared_expert": False},
}
SYNTH_SIZES = ["--layers", "2", "--hidden", "256", "--moe-intermediate", "256",
               "--intermediate", "256", "--vocab", "512", "--top-k", "2"]
QUANT_TYPES = ["Q6_K", "Q4_K_M"]
# A per-layer quant map on every quantize (llama-quantize --tensor-type): the
# experts' down projections at q8_0 whatever the tier.
TENSOR_TYPES = ["ffn_down_exps=q8_0"]
# A generated map on top (the quantmap step): the other expert tensors and
# the attention's q and v of one of the two layers at q8_0, the other's at
# q4_K, chosen by kept contribution.
QUANT_MAP = {"target_bpw": 6.5, "types": ["q4_K", "q8_0"],
             "tensors": ["ffn_gate_exps", "ffn_up_exps", "ffn_down_exps", "attn_q", "attn_v"]}
SUITES = [("gsm8k", 4), ("arc_challenge", 4), ("humaneval", 2)]
# A random model never stops on its own: small generation limits keep each
# request short while still exercising thinking budgets and stop strings.
MAX_TOKENS = 96
REASONING_BUDGET = 48
# The protocol's slot rule (docs/protocol.md 1.4): budget + a 4096-token
# answer reserve per slot, plus the prompt; two slots.
CTX_SIZE = 2 * 5120


class Failure(Exception):
    pass


class Suite:
    def __init__(self, args):
        self.bin = Path(args.bin)
        self.llama = args.llama_cpp_dir
        self.work = Path(args.work)
        self.timings = []
        self.failures = []
        self.env = dict(os.environ)
        self.env["COHORT_PYTHON"] = args.python
        self.env["COHORT_DATA_DIR"] = str(ROOT / "data")

    # --- helpers ---------------------------------------------------------
    def run(self, argv, check=True, timeout=1800, **kw):
        r = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                           env=self.env, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise Failure(f"{' '.join(map(str, argv))} exited {r.returncode}:\n"
                          f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        return r

    def cohort(self, *args, **kw):
        return self.run([self.bin / "cohort", *args], **kw)

    def worker(self, *args, **kw):
        return self.run([self.bin / "cohort-worker", *args], **kw)

    def check(self, ok, what):
        print(f"  {'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if not ok:
            self.failures.append(what)

    def timed(self, stage, fn):
        start = time.monotonic()
        result = fn()
        self.timings.append((stage, time.monotonic() - start))
        return result

    # --- inputs ----------------------------------------------------------
    def make_inputs(self, layout, spec_dir):
        info = LAYOUTS[layout]
        self.worker("synth-model", "--layout", layout, "--experts", info["experts"],
                    *SYNTH_SIZES, "--output-dir", spec_dir / "model")
        self.worker("synth-contrib", "--layers", 2, "--experts", info["experts"],
                    "--output", spec_dir / "contrib.json")
        # Calibration text for imatrix: GSM8K questions (shipped in data/).
        lines = []
        with open(ROOT / "data" / "gsm8k" / "test.jsonl", encoding="utf-8") as f:
            for line in f:
                lines.append(json.loads(line)["question"])
                if len(lines) >= 400:
                    break
        (spec_dir / "calibration.txt").write_text("\n\n".join(lines) + "\n")
        profile = small_profile("real-tools-small", MAX_TOKENS, REASONING_BUDGET,
                                "omk-card-2026-07 with short generations for a random "
                                "model (tests/real)")
        (spec_dir / "profile.json").write_text(json.dumps(profile, indent=2))
        keep = info["experts"] - info["drop"]
        suites = "\n".join(f"    - {{bench: {b}, dataset: {b}, limit: {n}}}"
                           for b, n in SUITES)
        upweight = ("  upweight: {alpha: 1.2, target: mlp.down_proj.weight}\n"
                    if info["shared_expert"] else "")
        spec = f"""kind: sweep
name: real-tools-{layout}
base_model: model
contrib: contrib.json
calibration: calibration.txt
recipe:
  dropmap: {{target: {keep}, protect_top: 1}}
{upweight}  imatrix: {{enabled: true, chunks: 4}}
  quantmap: {{target_bpw: {QUANT_MAP["target_bpw"]}, types: [{', '.join(QUANT_MAP["types"])}], tensors: [{', '.join(QUANT_MAP["tensors"])}]}}
  quantize: {{tensor_types: [{', '.join(TENSOR_TYPES)}]}}
grid:
  dropmap.class_weights:
    even: 1 1 1 1 1 1 1 1
    coder: 1 1 3 1 1 0 0 2
  quantize.type: [{', '.join(QUANT_TYPES)}]
eval:
  profile: profile.json
  server: {{parallel: 2, ctx_size: {CTX_SIZE}}}
  suites:
{suites}
"""
        (spec_dir / "sweep.yaml").write_text(spec)
        return keep

    # --- the cluster -----------------------------------------------------
    def up(self, state):
        self.cohort("up", "--state-dir", state, "--listen", "127.0.0.1:0",
                    "--workers", 1, "--gpus", 1, "--llama-cpp-dir", self.llama,
                    "--no-user-config")
        self.env["COHORT_CONFIG"] = str(state / "config.yaml")

    def down(self, state):
        self.cohort("down", "--state-dir", state, check=False)

    # --- checks ----------------------------------------------------------
    def quant_maps(self, state):
        """Each quantmap output's per-layer types, by the maps' rules text."""
        maps = []
        for path in state.rglob("quant_map.json"):
            plan = json.loads(path.read_text())
            maps.append({layer["layer"]: layer["type"] for layer in plan["layers"]})
            self.check(plan["bits_per_weight"] <= QUANT_MAP["target_bpw"],
                       f"quant map: {plan['bits_per_weight']} bits per weight <= target "
                       f"{QUANT_MAP['target_bpw']}")
        self.check(len(maps) == 2, f"one quant map per drop map ({len(maps)} found)")
        return maps

    def check_ggufs(self, state, keep):
        maps = self.quant_maps(state)
        ggufs = [p for p in state.rglob("*.gguf") if p.is_file() and
                 not p.name.startswith("imatrix")]
        quantized = [p for p in ggufs if re.match(r"model-(Q6_K|Q4_K_M)\.gguf$", p.name)]
        self.check(len({p.name for p in quantized}) == len(QUANT_TYPES),
                   f"quantized GGUFs of every type ({sorted({p.name for p in quantized})})")
        for path in ggufs:
            info = json.loads(self.worker("gguf-info", path).stdout)
            meta = info.get("metadata", {})
            arch = meta.get("general.architecture")
            count = meta.get(f"{arch}.expert_count")
            self.check(count == keep, f"{path.name}: expert_count {count} == kept {keep}")
            if path in quantized:
                down = {t["type"] for t in info.get("tensors", [])
                        if t["name"].endswith("ffn_down_exps.weight")}
                self.check(down == {"q8_0"},
                           f"{path.name}: the map's ffn_down_exps tensors are {sorted(down)} "
                           "(asked q8_0)")
                # The generated map sets the other expert tensors and the
                # attention's q and v per layer, all of a layer alike.
                other = {}
                for t in info.get("tensors", []):
                    m = re.match(r"blk\.(\d+)\.(ffn_gate_exps|ffn_up_exps|attn_q|attn_v)"
                                 r"\.weight$", t["name"])
                    if m:
                        other.setdefault(int(m.group(1)), {})[m.group(2)] = t["type"]
                got = {layer: set(types.values()).pop() for layer, types in other.items()
                       if len(types) == 4 and len(set(types.values())) == 1}
                self.check(got in maps and len(set(got.values())) == 2,
                           f"{path.name}: per-layer gate/up/attn_q/attn_v types {other} are "
                           f"a generated map's ({maps})")

    def check_tiers(self, campaign, state):
        """The report's tier table: each quantized variant's size is a GGUF's
        on disk, and its bits per weight is what llama-quantize itself printed
        ("quant size = 2.42 MiB (6.74 BPW)" in the quantize step's log)."""
        tiers = json.loads(self.cohort("report", campaign, "--tiers", "--format", "json").stdout)
        self.check(len(tiers) == 2 * len(QUANT_TYPES),
                   f"a tier row per quantized variant ({len(tiers)})")
        sizes = {p.stat().st_size for p in state.rglob("model-*.gguf")}
        printed = set()
        for log in state.glob("worker-*/logs/*.log"):
            for m in re.finditer(r"quant size\s*=\s*[\d.]+ MiB \(([\d.]+) BPW\)",
                                 log.read_text(errors="replace")):
                printed.add(m.group(1))
        for t in tiers:
            rules = len(TENSOR_TYPES) + 2  # the hand-written rule, one generated per layer
            self.check(t.get("quant_map_target_bpw") == QUANT_MAP["target_bpw"] and
                       t.get("tensor_rules") == rules,
                       f"tier {t['model']}: its map's target {t.get('quant_map_target_bpw')} "
                       f"and {t.get('tensor_rules')} rules (expected {rules})")
            bpw = f"{t['bits_per_weight']:.2f}"
            self.check(t["file_bytes"] in sizes and bpw in printed,
                       f"tier {t['model']}: {t['file_bytes']} bytes on disk, {bpw} bits per "
                       f"weight as llama-quantize printed ({sorted(printed)})")

    def check_results(self, campaign, spec_dir):
        report = json.loads(self.cohort("report", campaign, "--format", "json").stdout)
        lengths = json.loads(self.cohort("lengths", campaign, "--format", "json").stdout)
        (spec_dir / "report.json").write_text(json.dumps(report, indent=2))
        (spec_dir / "lengths.json").write_text(json.dumps(lengths, indent=2))
        out = spec_dir / "export"
        shutil.rmtree(out, ignore_errors=True)
        self.cohort("export", campaign, "--out", out)
        samples, problems = [], set()
        for path in sorted(out.rglob("samples_*.jsonl")):
            with open(path, encoding="utf-8") as f:
                records = [json.loads(line) for line in f if line.strip()]
            samples += records
            # lm-eval logs one record per filter (GSM8K: strict-match and
            # flexible-extract): a problem is a (file, doc_id).
            problems |= {(str(path), r["doc_id"]) for r in records}
        expected = len(QUANT_TYPES) * 2 * sum(n for _, n in SUITES)
        self.check(len(problems) == expected,
                   f"{len(problems)} scored problems == {expected} (2 variants x "
                   f"{len(QUANT_TYPES)} quant types x {sum(n for _, n in SUITES)})")
        ours = [s.get("cohort", {}) for s in samples]
        errors = [c for c in ours if c.get("server_error") or c.get("error_kind")
                  or c.get("details", {}).get("error_kind")]
        self.check(samples and not errors, f"llama-server answered every request with HTTP 200 "
                               f"({len(errors)} server errors)")
        tokens = [c.get("completion_tokens") for c in ours]
        self.check(tokens and all(isinstance(t, int) and t > 0 for t in tokens),
                   "every sample carries the server's completion token count")
        self.check(tokens and all(isinstance(t, int) and t <= MAX_TOKENS for t in tokens),
                   f"no sample past max_tokens {MAX_TOKENS}")
        return report, lengths

    def check_external_server(self, state, spec_dir):
        """A bench step of the campaign again, against the real llama-server
        started by hand with --api-key-file (as a shared server would be):
        with the key every request gets through (/props, /apply-template,
        /tokenize, /slots and the completions want it; only /health and
        /models are open), without it the server's 401 stops the run."""
        bench = server = None
        for log in sorted(state.glob("worker-*/logs/*.log")):
            text = log.read_text(errors="replace")
            b = re.search(r"^\$ (?:CUDA_VISIBLE_DEVICES=\S* )?(\S+cohort-worker bench .*)$", text, re.M)
            m = re.search(r"starting llama-server: (.*)$", text, re.M)
            if b and m and "--bench gsm8k" in b.group(1):
                bench, server = shlex.split(b.group(1)), shlex.split(m.group(1))
                break
        self.check(bench is not None, "a gsm8k bench step's command and its llama-server's")
        if bench is None:
            return
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server[server.index("--port") + 1] = str(port)
        keys = spec_dir / "api-keys"
        keys.write_text("# shared server\nsomeone-else\nsekrit\n")
        (spec_dir / "key").write_text("sekrit\n")
        dropped = {"--model", "--llama-server", "--ctx-size", "--server-log", "--parallel",
                   "--gpu", "--scores"}
        argv, i = [], 0
        while i < len(bench):
            if bench[i] in dropped:
                i += 2
                continue
            argv.append(bench[i])
            i += 1
        url = f"http://127.0.0.1:{port}"
        log = open(spec_dir / "external-llama-server.log", "w")
        proc = subprocess.Popen(server + ["--api-key-file", str(keys)], stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            ready = False
            for _ in range(600):
                try:
                    with urllib.request.urlopen(url + "/health", timeout=2) as r:
                        ready = r.status == 200
                except OSError:
                    pass
                if ready or proc.poll() is not None:
                    break
                time.sleep(0.2)
            self.check(ready, f"llama-server --api-key-file answers /health without the key ({url})")
            if not ready:
                return
            def run(out, *extra):
                a = list(argv)
                a[a.index("--out") + 1] = str(spec_dir / out)
                # The step's own copy went with its work folder: the suite's.
                a[a.index("--profile") + 1] = str(spec_dir / "profile.json")
                return self.run(a + ["--server-url", url, "--limit", "4", *extra], check=False,
                                timeout=1800)
            keyed = run("external-keyed.jsonl", "--api-key-file", spec_dir / "key")
            summary = {}
            try:
                summary = json.loads(keyed.stdout)
            except ValueError:
                pass
            self.check(keyed.returncode == 0 and summary.get("n", 0) > 0,
                       f"bench --server-url --api-key-file against llama-server --api-key-file: "
                       f"exit {keyed.returncode}, n={summary.get('n')} "
                       f"{keyed.stderr.strip().splitlines()[-1:] if keyed.returncode else ''}")
            refused_keyed = (spec_dir / "external-llama-server.log").read_text(
                errors="replace").count("Invalid API Key")
            self.check(refused_keyed == 0, f"the server refused none of the keyed run's requests "
                                           f"({refused_keyed})")
            keyless = run("external-keyless.jsonl")
            log.flush()
            unauthorized = (spec_dir / "external-llama-server.log").read_text(
                errors="replace").count("Invalid API Key")
            self.check(keyless.returncode != 0 and "Invalid API Key" in keyless.stderr,
                       f"without the key: exit {keyless.returncode}, "
                       f"{keyless.stderr.strip().splitlines()[-1:]} "
                       f"(the server logged {unauthorized} refusal(s))")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()

    # --- one layout ------------------------------------------------------
    def run_layout(self, layout):
        print(f"real-tools: {layout}", flush=True)
        spec_dir = self.work / layout
        state = spec_dir / "cluster"
        shutil.rmtree(spec_dir, ignore_errors=True)
        spec_dir.mkdir(parents=True)
        keep = self.timed(f"{layout}: synth-model + inputs",
                          lambda: self.make_inputs(layout, spec_dir))
        self.up(state)
        try:
            sub = self.timed(f"{layout}: submit", lambda: self.cohort(
                "submit", "sweep.yaml", cwd=spec_dir))
            campaign = sub.stdout.strip().splitlines()[-1]
            self.timed(f"{layout}: whole campaign (watch)", lambda: self.cohort(
                "watch", "--plain", campaign, check=False, timeout=3600))
            status = self.cohort("status", campaign, "--all", check=False)
            (spec_dir / "status.txt").write_text(status.stdout)
            self.check(status.returncode == 0, f"campaign {campaign} succeeded "
                                               f"(cohort status exit {status.returncode})")
            bad = [l for l in status.stdout.splitlines()
                   if re.search(r"\b(failed|blocked|cancelled|skipped)\b", l)]
            self.check(not bad, "every step succeeded" + (":\n    " + "\n    ".join(bad)
                                                        if bad else ""))
            self.stage_times(state)
            self.check_ggufs(state, keep)
            self.check_results(campaign, spec_dir)
            self.check_tiers(campaign, state)
            self.check_external_server(state, spec_dir)
            again = self.cohort("submit", "sweep.yaml", cwd=spec_dir)
            m = re.search(r"(\d+) cached, (\d+) to run", again.stderr)
            self.check(m is not None and m.group(2) == "0",
                       f"a resubmission runs zero steps ({m.group(0) if m else again.stderr.strip()})")
        finally:
            self.down(state)

    def stage_times(self, state):
        """Per step kind: how many ran and the longest one, from the workers'
        logs (leased -> succeeded, wall clock)."""
        stamp = r"^(\S+)Z I cohort-worker: "
        leased, spans = {}, {}
        for log in sorted(state.glob("worker-*/worker.log")):
            for line in log.read_text(errors="replace").splitlines():
                m = re.match(stamp + r"leased (.+?) \(sha256", line)
                if m:
                    leased[m.group(2)] = m.group(1)
                    continue
                m = re.match(stamp + r"step (.+) succeeded$", line)
                if m and m.group(2) in leased:
                    start = time.mktime(time.strptime(leased[m.group(2)][:19], "%Y-%m-%dT%H:%M:%S"))
                    end = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S"))
                    start += float("0" + leased[m.group(2)][19:])
                    end += float("0" + m.group(1)[19:])
                    spans.setdefault(m.group(2).split()[0], []).append(end - start)
        for kind, seconds in spans.items():
            self.timings.append((f"  {kind}: {len(seconds)} step(s), longest", max(seconds)))

    def main(self, layouts):
        for layout in layouts:
            try:
                self.run_layout(layout)
            except Failure as e:
                self.check(False, f"{layout}: {e}")
        print("real-tools: stage times (wall, this machine)")
        for stage, seconds in self.timings:
            print(f"  {seconds:8.1f} s  {stage}")
        if self.failures:
            print(f"real-tools: {len(self.failures)} check(s) failed", file=sys.stderr)
            return 1
        print("real-tools: every check passed")
        return 0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--llama-cpp-dir", required=True)
    p.add_argument("--python", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--layouts", nargs="*", default=list(LAYOUTS))
    return p.parse_args()


if __name__ == "__main__":
    args = parse_args()
    unknown = [l for l in args.layouts if l not in LAYOUTS]
    if unknown:
        sys.exit(f"real-tools: unknown layout(s) {unknown}; known: {list(LAYOUTS)}")
    sys.exit(Suite(args).main(args.layouts))
