#!/usr/bin/python3
"""`cohort-worker bench` against a plain client on the same real llama-server.

Both send the same request bodies (captured from bench through a recording
proxy in an untimed first pass) to a freshly started llama-server with the
same slots; the plain client is one thread per slot, each taking the next
body, doing nothing else. Runs alternate (plain, bench, plain, bench, ...)
and each gets a new server, so neither profits from the other's prompt
cache. Prints wall times and the ratio plain/bench of the medians (and of
the best runs): >= 0.95 means bench is at most 5% slower; exit 1 below. Bench's time is
the whole command: start, dataset, prompt measurement, journal writes.

Usage (docs/PERFORMANCE.md):
  python3 tests/perf/bench_vs_plain_client.py --bin build/bin \
    --llama-server LLAMA/build/bin/llama-server --model model-Q6_K.gguf \
    [--bench gsm8k --limit 24 --max-tokens 512 --parallel 2 --rounds 3]
"""

import argparse
import http.client
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, str(ROOT / "tests" / "real"))
from small_profile import small_profile  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    def __init__(self, binary, model, parallel, ctx, log):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "-m", model, "--host", "127.0.0.1", "--port", str(self.port),
             "--parallel", str(parallel), "-c", str(ctx), "--jinja",
             "--reasoning-format", "deepseek"],
            stdout=log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("llama-server did not become healthy")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Recorder(http.server.BaseHTTPRequestHandler):
    """Forwards to the real server and keeps each generation request body."""
    upstream = None
    bodies = []
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def forward(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if method == "POST" and self.path.endswith("/chat/completions"):
            with self.lock:
                self.bodies.append(body)
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=3600)
        conn.request(method, self.path, body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        self.send_response(r.status)
        self.send_header("Content-Type", r.getheader("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.forward("GET")

    def do_POST(self):
        self.forward("POST")


def profile_file(work, max_tokens):
    profile = small_profile("perf-small", max_tokens, max_tokens // 2)
    path = Path(work) / "profile.json"
    path.write_text(json.dumps(profile))
    return path


def run_bench(args, url, work, tag):
    out = Path(work) / f"{tag}.jsonl"
    if out.exists():
        out.unlink()
    cmd = [str(Path(args.bin) / "cohort-worker"), "bench", "--bench", args.bench,
           "--dataset", str(ROOT / "data" / args.bench / "test.jsonl"),
           "--out", str(out), "--limit", str(args.limit),
           "--profile", str(profile_file(work, args.max_tokens)),
           "--server-url", url]
    start = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.monotonic() - start
    if r.returncode != 0:
        raise SystemExit(f"bench failed: {r.stderr[-2000:]}")
    return elapsed


def run_plain(url, bodies, threads):
    host, port = url.replace("http://", "").split(":")
    queue = list(bodies)
    lock = threading.Lock()
    statuses = []

    def worker():
        conn = http.client.HTTPConnection(host, int(port), timeout=3600)
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop(0)
            conn.request("POST", "/v1/chat/completions", body=body,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            statuses.append(r.status)

    start = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - start
    if any(s != 200 for s in statuses):
        raise SystemExit(f"plain client got {statuses}")
    return elapsed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--llama-server", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--bench", default="gsm8k")
    p.add_argument("--limit", type=int, default=24)
    p.add_argument("--max-tokens", type=int, default=512)
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    ctx = args.parallel * (args.max_tokens // 2 + 4096 + 1024)
    with tempfile.TemporaryDirectory() as work:
        log = open(Path(work) / "server.log", "w")
        # Untimed capture pass: bench through the recording proxy.
        server = LlamaServer(args.llama_server, args.model, args.parallel, ctx, log)
        Recorder.upstream = server.port
        proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        run_bench(args, f"http://127.0.0.1:{proxy.server_address[1]}", work, "capture")
        proxy.shutdown()
        server.stop()
        bodies = list(Recorder.bodies)
        print(f"captured {len(bodies)} request bodies from bench "
              f"({args.bench}, {args.limit} problems, max_tokens {args.max_tokens}, "
              f"{args.parallel} slots)")
        plain, bench = [], []
        for i in range(args.rounds):
            server = LlamaServer(args.llama_server, args.model, args.parallel, ctx, log)
            plain.append(run_plain(server.url, bodies, args.parallel))
            server.stop()
            server = LlamaServer(args.llama_server, args.model, args.parallel, ctx, log)
            bench.append(run_bench(args, server.url, work, f"bench{i}"))
            server.stop()
            print(f"round {i + 1}: plain client {plain[-1]:.2f} s, bench {bench[-1]:.2f} s")
        best = min(plain) / min(bench)
        median = statistics.median(plain) / statistics.median(bench)
        print(f"best of {args.rounds}: plain {min(plain):.2f} s, bench {min(bench):.2f} s, "
              f"ratio {best:.3f}")
        print(f"median of {args.rounds}: plain {statistics.median(plain):.2f} s, bench "
              f"{statistics.median(bench):.2f} s, ratio plain/bench {median:.3f} "
              f"(>= 0.95 passes)")
        return 0 if median >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
