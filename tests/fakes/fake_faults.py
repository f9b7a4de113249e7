"""Failure switches shared by the llama.cpp fakes (see README.md).

COHORT_FAKE_FAIL       crash | hang | exit1 | wrong_expert_count | slow
COHORT_FAKE_FAIL_ONLY  a tool name (convert_hf_to_gguf, llama-quantize,
                       llama-imatrix): the failure applies to that tool only
COHORT_FAKE_SLOW_MS    the delay per progress step for `slow` (default 200)
"""

import os
import resource
import signal
import sys
import time

MODES = ("crash", "hang", "exit1", "wrong_expert_count", "slow")


def mode(tool):
    """The failure mode that applies to `tool`, or None."""
    wanted = os.environ.get("COHORT_FAKE_FAIL", "").strip()
    if not wanted:
        return None
    if wanted not in MODES:
        sys.stderr.write(f"{tool}: unknown COHORT_FAKE_FAIL={wanted!r} "
                         f"(one of {', '.join(MODES)})\n")
        sys.exit(2)
    only = os.environ.get("COHORT_FAKE_FAIL_ONLY", "").strip()
    if only and only != tool:
        return None
    return wanted


def step_delay(tool):
    """Sleeps between progress steps when the `slow` mode applies."""
    if mode(tool) == "slow":
        time.sleep(int(os.environ.get("COHORT_FAKE_SLOW_MS", "200")) / 1000.0)


def crash():
    """Dies by SIGSEGV, as a real segfault would (no core file)."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    signal.signal(signal.SIGSEGV, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(10)  # never reached in practice
    os._exit(139)


def hang():
    """Stops making progress until killed (SIGTERM or SIGKILL)."""
    sys.stdout.flush()
    sys.stderr.flush()
    while True:
        time.sleep(3600)
