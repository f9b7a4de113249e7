#!/usr/bin/env python3
"""Checks the lock annotations (ABSL_GUARDED_BY, ABSL_LOCKS_EXCLUDED, ...) with
clang's -Wthread-safety over every library source of common/, server/,
worker/ and client/ (tests excluded): a syntax-only clang pass per file,
using the flags of the gcc build's compile_commands.json.

  python3 tests/lint/thread_safety.py [--build build] [--jobs 2]

Prints each warning and exits 1 if there is any, 2 if clang++ or the build's
compile_commands.json is missing.
"""

import argparse
import concurrent.futures
import json
import os
import shlex
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FOLDERS = ("common/", "server/", "worker/", "client/")


def clang_command(entry):
    args = shlex.split(entry["command"])
    while args and ("ccache" in args[0] or args[0].endswith(("c++", "g++", "gcc"))):
        args.pop(0)
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT"):
            skip = True
            continue
        if a in ("-c", "-MD", "-Werror"):
            continue
        out.append(a)
    return ["clang++", "-fsyntax-only", "-Wthread-safety", "-Wno-unknown-warning-option"] + out


def check(entry):
    r = subprocess.run(clang_command(entry), cwd=entry["directory"], capture_output=True,
                       text=True)
    lines = [l for l in r.stderr.splitlines() if "-Wthread-safety" in l]
    return entry["file"], r.returncode, lines, r.stderr


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--jobs", type=int, default=2)
    a = p.parse_args()
    db = os.path.join(a.build, "compile_commands.json")
    if shutil.which("clang++") is None or not os.path.exists(db):
        print(f"thread-safety: needs clang++ and {db}", file=sys.stderr)
        return 2
    entries = []
    for e in json.load(open(db)):
        rel = os.path.relpath(e["file"], ROOT)
        if rel.startswith(FOLDERS) and not rel.endswith("_test.cc") and "/testing/" not in rel:
            entries.append(e)
    warnings, errors = 0, 0
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for path, rc, lines, stderr in pool.map(check, entries):
            for l in lines:
                print(l)
            warnings += len(lines)
            if rc != 0:
                errors += 1
                print(f"thread-safety: clang could not read {path}:\n{stderr[-2000:]}")
    print(f"thread-safety: {len(entries)} files, {warnings} warnings, {errors} unreadable")
    return 1 if warnings or errors else 0


if __name__ == "__main__":
    sys.exit(main())
