"""The card's eval profile with short generations, for a random model.

A random model never stops by itself, so the real-tools suite and the bench
benchmark cap every bench at `max_tokens` and the thinking benches at
`reasoning_budget`; everything else (prompts, stops, extractors, sampler)
stays as in worker/eval/profiles/omk-card-2026-07.json.
"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def small_profile(name, max_tokens, reasoning_budget, description=None):
    profile = json.loads((ROOT / "worker" / "eval" / "profiles" /
                          "omk-card-2026-07.json").read_text())
    profile["name"] = name
    if description is not None:
        profile["description"] = description
    for bench in profile["benches"].values():
        bench["max_tokens"] = max_tokens
        if bench.get("reasoning_budget"):
            bench["reasoning_budget"] = reasoning_budget
    return profile
