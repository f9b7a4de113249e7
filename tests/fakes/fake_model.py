"""A simulated model for the fake llama-server: answers as a pruned variant would.

The demo (deploy/local/demo.sh) has no real model, but a sweep is only worth
watching if its variants differ the way real ones do. With --simulate CONTRIB
(or FAKE_LLAMA_SIMULATE) the fake llama-server answers from this model:

- Which experts the served variant kept comes from the GGUF
  (`cohort.fake.per_layer_keep`, written by the fake converter from the pruned
  checkpoint's expert_drop_metadata.json); a GGUF without it keeps them all.
- How much each expert matters for each class comes from the contribution
  file the sweep pruned with (per class, per layer, per expert `wnorm`).
- A bench draws on a mix of classes (BENCH_CLASSES). The variant's skill on a
  bench is its base skill times the contribution share it kept for those
  classes, raised to SHARPNESS (2.5): dropping the experts a class relies on costs
  that class's benches most, so class weights move the scores.
- A problem is answered right when its difficulty (a hash of the question, the
  same for every variant) plus a small per-variant jitter is below the skill:
  a stronger variant solves mostly a superset of a weaker one's problems.
- Thinking lengths (whitespace tokens) are log-normal, longer for harder
  problems and for failures; some outputs ruminate until the reasoning budget
  cuts them (budget saturation), and a few of those still end right.

Gold answers come from the benchmark files in the repository's data/ (GSM8K
and ARC-Challenge test splits); prompts of other benches get None and the fake
falls back to its default answer. Everything is deterministic: the same GGUF,
contribution file and prompt give the same answer.
"""
import hashlib
import json
import math
import os
import random
import re

import gguf_lite as gg

KEEP_KEY = "cohort.fake.per_layer_keep"

# Which classes of the contribution data a bench draws on (weights sum to 1).
# Class names are synth-contrib's defaults; unknown classes are ignored.
BENCH_CLASSES = {
    "gsm8k": {"generic_math": 0.7, "generic_logic": 0.3},
    "arc_challenge": {"generic_science": 0.6, "generic_logic": 0.4},
}
# Accuracy of the unpruned model, and the median thinking length in tokens.
BASE_SKILL = {"gsm8k": 0.92, "arc_challenge": 0.90}
MEDIAN_THINKING = {"gsm8k": 700, "arc_challenge": 0}
SHARPNESS = 2.5
# A lower bit quantization costs a little skill (general.file_type).
QUANT_FACTOR = {0: 1.0, 1: 1.0, 32: 1.0, 7: 0.995, 18: 0.99, 17: 0.98, 15: 0.965,
                14: 0.95, 12: 0.93, 10: 0.88}

WORDS = ("so", "then", "wait", "let", "me", "check", "the", "total", "is", "we",
         "have", "each", "which", "means", "hmm", "again", "carefully", "step",
         "add", "subtract", "multiply", "that", "gives", "recount", "actually")


def _unit(*parts):
    """A deterministic number in [0, 1) from the parts."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8", "replace"))
    return int.from_bytes(h.digest()[:8], "big") / float(1 << 64)


def _normalize(text):
    return " ".join(text.split())


def _data_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("FAKE_LLAMA_DATA_DIR", os.path.join(here, "..", "..", "data"))


def _load_gold():
    """(bench, normalized question prefix) -> gold, from the repository's data/."""
    gold = []
    data = _data_dir()
    path = os.path.join(data, "gsm8k", "test.jsonl")
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            row = json.loads(line)
            answer = row["answer"].split("####")[-1].strip().replace(",", "")
            gold.append(("gsm8k", _normalize(row["question"])[:80], answer))
    path = os.path.join(data, "arc_challenge", "ARC-Challenge-Test.jsonl")
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            row = json.loads(line)
            key = row["answerKey"]
            if key.isdigit():
                key = "ABCDEFGHI"[int(key) - 1]
            gold.append(("arc_challenge", _normalize(row["question"]["stem"])[:80], key))
    return gold


def _retained_share(contrib, keep):
    """class -> share of its total contribution (wnorm) the kept experts hold."""
    shares = {}
    for cls, layers in contrib.get("categories", {}).items():
        total = kept = 0.0
        for layer, cells in layers.items():
            kept_ids = keep.get(str(layer))
            for cell in cells:
                w = float(cell.get("wnorm", 0.0) or 0.0)
                total += w
                if kept_ids is None or cell.get("id") in kept_ids:
                    kept += w
        shares[cls] = kept / total if total > 0 else 1.0
    return shares


class SimulatedModel:
    def __init__(self, contrib_path, gguf_path):
        with open(contrib_path, encoding="utf-8") as f:
            contrib = json.load(f)
        header = gg.read(gguf_path)
        raw = header.get(KEEP_KEY)
        self.keep = json.loads(raw) if raw else {}
        self.file_type = header.get("general.file_type", 0)
        # The variant's identity: what it kept and how it was quantized.
        self.variant = hashlib.sha256(
            json.dumps([self.keep, self.file_type], sort_keys=True).encode()).hexdigest()
        self.shares = _retained_share(contrib, self.keep)
        self.gold = _load_gold()

    def skill(self, bench):
        mix = BENCH_CLASSES[bench]
        known = {c: w for c, w in mix.items() if c in self.shares}
        if not known:
            share = 1.0
        else:
            share = sum(w * self.shares[c] for c, w in known.items()) / sum(known.values())
        return BASE_SKILL[bench] * share ** SHARPNESS * QUANT_FACTOR.get(self.file_type, 0.95)

    def find(self, user_text):
        text = _normalize(user_text)
        for bench, prefix, gold in self.gold:
            if prefix and prefix in text:
                return bench, prefix, gold
        return None

    def answer(self, user_text, budget):
        """An answers-table row {content, reasoning} for the prompt, or None."""
        found = self.find(user_text)
        if found is None:
            return None
        bench, question, gold = found
        difficulty = _unit("difficulty", bench, question)
        jitter = (_unit("jitter", self.variant, question) - 0.5) * 0.16
        skill = self.skill(bench)
        right = difficulty + jitter < skill
        rng = random.Random(_unit("length", self.variant, question))
        reasoning_len = self._thinking_length(bench, difficulty, skill, right, rng, budget)
        if budget is not None and budget > 0 and reasoning_len >= budget:
            # Ruminated to the budget: most such answers are guesses.
            right = right and rng.random() < 0.3
        reasoning = " ".join(rng.choice(WORDS) for _ in range(reasoning_len))
        return {"content": self._content(bench, gold, right, rng), "reasoning": reasoning}

    def _thinking_length(self, bench, difficulty, skill, right, rng, budget):
        median = MEDIAN_THINKING[bench]
        if median <= 0:
            return 0
        # Weaker variants and harder problems ruminate more often.
        ruminate = 0.02 + 0.2 * max(0.0, difficulty - skill) + 0.08 * (1.0 - skill)
        if budget is not None and budget > 0 and rng.random() < ruminate:
            return budget
        z = rng.gauss(0.0, 0.55)
        scale = math.exp(z + 1.2 * (difficulty - 0.5) + (0.0 if right else 0.5))
        return max(8, int(median * scale))

    def _content(self, bench, gold, right, rng):
        if bench == "gsm8k":
            value = gold if right else self._wrong_number(gold, rng)
            return f"Adding the steps up gives {value}.\nThe answer is {value}."
        letters = "ABCD"
        letter = gold if right else rng.choice([c for c in letters if c != gold])
        # Without thinking the explanation is the whole output: its length
        # varies from problem to problem, longer when the model is unsure.
        words = max(4, int(rng.lognormvariate(math.log(40), 0.6) * (1.0 if right else 1.4)))
        why = " ".join(rng.choice(WORDS) for _ in range(words))
        return (f"Weighing the four options: {why}. So {letter} fits the question best.\n"
                f"The best answer is {letter}")

    @staticmethod
    def _wrong_number(gold, rng):
        try:
            value = float(gold)
        except ValueError:
            return "0"
        delta = rng.choice([-10, -2, -1, 1, 2, 5, 10]) or 1
        wrong = value + delta if value != 0 else delta
        return str(int(wrong)) if float(wrong).is_integer() else str(wrong)


def load(contrib_path, gguf_path):
    """The simulated model, or None when no contribution file is given."""
    if not contrib_path:
        return None
    return SimulatedModel(contrib_path, gguf_path)
