#!/usr/bin/env python3
"""Adds lm-eval's GSM8K verdict to each completion row: the flexible-extract
filter (RegexFilter, group_select -1, then take_first) and exact_match with
the task's options, as lm-eval 0.4.11's gsm8k.yaml configures them.

Usage (lm-eval 0.4.11 importable, see README.md):
  score_with_lm_eval_gsm8k.py data/gsm8k/test.jsonl completions.jsonl > table.jsonl

Adds "lm_eval": bool and "filtered": the string the filter kept.
"""
import json
import sys

from lm_eval.api.metrics import exact_match_hf_evaluate
from lm_eval.filters.extraction import RegexFilter

FLEXIBLE = RegexFilter(regex_pattern=r"(-?[$0-9.,]{2,})|(-?[0-9]+)", group_select=-1)
IGNORE = [",", "\\$", "(?s).*#### ", "\\.$"]


def main():
    docs = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
    for line in open(sys.argv[2], encoding="utf-8"):
        row = json.loads(line)
        doc = docs[row["index"]]
        filtered = FLEXIBLE.apply([[row["completion"]]], [doc])[0][0]
        score = exact_match_hf_evaluate([filtered], [doc["answer"]], regexes_to_ignore=IGNORE,
                                        ignore_case=True, ignore_punctuation=False)
        row["lm_eval"] = bool(score["exact_match"] == 1.0)
        row["filtered"] = filtered
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
