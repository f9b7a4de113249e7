#!/usr/bin/env python3
"""Adds the reference verdict to each completion row, as lm-eval's
minerva_math500 computes it: verify(parse(solution), parse(completion)).

Usage (math_verify and latex2sympy2_extended importable, see README.md):
  score_with_math_verify.py data/math500/test.jsonl completions.jsonl > table.jsonl

Adds "math_verify": bool and "extracted": the string form of parse()'s
candidates (what the reference read), to each row.
"""
import json
import sys

from math_verify import parse, verify


def main():
    solutions = {}
    for line in open(sys.argv[1], encoding="utf-8"):
        row = json.loads(line)
        solutions[row["unique_id"]] = row["solution"]
    gold_cache = {}
    for line in open(sys.argv[2], encoding="utf-8"):
        row = json.loads(line)
        pid = row["id"]
        if pid not in gold_cache:
            gold_cache[pid] = parse(solutions[pid])
        text = row["completion"] if row["completion"] is not None else solutions[pid]
        target = parse(text)
        row["math_verify"] = bool(verify(gold_cache[pid], target))
        row["extracted"] = [str(t) for t in target]
        print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
