#!/usr/bin/env python3
"""Writes GSM8K completions "the way chat models answer", for checking
cohort's GSM8K scorer against lm-eval's (flexible-extract, exact_match).

Usage: make_gsm8k_completions.py data/gsm8k/test.jsonl > completions.jsonl

Each row: {"index": row of the test split, "kind": template, "completion":
text}. Deterministic (no RNG): the first 200 problems, each through every
template, then hand-written traps.
"""
import json
import sys


def gold(row):
    return row["answer"].split("####")[-1].strip()


def templates(g, other):
    n = int(g.replace(",", "")) if g.replace(",", "").lstrip("-").isdigit() else None
    yield "hashes", f"Step by step.\n#### {g}"
    yield "answer_is", f"So the answer is {g}."
    yield "markdown", f"Adding it up gives the total.\n\n**Answer:** {g}"
    yield "boxed", f"Therefore the answer is $\\boxed{{{g}}}$."
    yield "dollars", f"She earns ${g} in total."
    yield "check_after", f"The answer is {g}. Check: 2 + 3 = 5, consistent."
    yield "wrong", f"The answer is {other}."
    if n is not None:
        yield "commas", f"The total is {n:,}."
        yield "decimal", f"The total is {n}.00"
        yield "units", f"That makes {n} apples"
        yield "trailing_calc", f"{n} - 1 = {n - 1}, so the answer is {n}"


TRAPS = [
    (0, "   \n"),
    (0, ""),
    (0, "The answer is 18.0"),
    (0, "The answer is 18."),
    (0, "The answer is eighteen."),
    (0, "18"),
    (0, "-18"),
    (0, "The answer is 1,8."),
    (0, "$18"),
    (0, "18 dollars and 0 cents"),
    (0, "#### 18\n\nQuestion: what about 20?"),
    (1, "It takes 3 bolts."),
    (1, "2 + 1 = 3 bolts"),
    (1, "The answer is 3.5"),
    (2, "He made $70,000 profit."),
    (2, "He made $70000."),
    (2, "He made 70 000 dollars."),
    (2, "He made 70,000.00 dollars."),
    (3, "540 meters per week."),
    (3, "540m"),
    (3, "The answer is: 540"),
    (4, "Wendi needs 20 cups.\u00a0Done."),
    (4, "20\u202fcups"),
    (4, "２０ cups"),
]


def main():
    rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
    for i, row in enumerate(rows[:200]):
        other = gold(rows[(i + 1) % len(rows)])
        for kind, text in templates(gold(row), other):
            print(json.dumps({"index": i, "kind": kind, "completion": text}, ensure_ascii=False))
    for index, text in TRAPS:
        print(json.dumps({"index": index, "kind": "trap", "completion": text}, ensure_ascii=False))


if __name__ == "__main__":
    main()
