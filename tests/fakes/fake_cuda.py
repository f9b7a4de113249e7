"""The CUDA devices a fake llama.cpp tool sees, printed as ggml's CUDA backend
prints them when it starts (see README.md).

The fake machine's GPUs are FAKE_CUDA_DEVICES, comma-separated names (unset:
a CPU build, which prints nothing). CUDA_VISIBLE_DEVICES filters and
renumbers them as the CUDA runtime does: "1" shows the second card as
Device 0, "" shows none, and an index the machine lacks hides every card
from that position on (CUDA stops at the first invalid entry).
"""

import os


def visible_devices():
    """The names of the devices this process sees, in CUDA's order, or None
    for a CPU build."""
    machine = os.environ.get("FAKE_CUDA_DEVICES")
    if machine is None:
        return None
    names = [n for n in machine.split(",") if n]
    mask = os.environ.get("CUDA_VISIBLE_DEVICES")
    if mask is None:
        return names
    seen = []
    for item in mask.split(","):
        item = item.strip()
        if not item.isdigit() or int(item) >= len(names):
            break
        seen.append(names[int(item)])
    return seen


def init_lines():
    """ggml_cuda_init's start-up lines (real llama.cpp b6xxx wording)."""
    devices = visible_devices()
    if devices is None:
        return []
    if not devices:
        return ["ggml_cuda_init: failed to initialize CUDA: no CUDA-capable device is detected"]
    lines = ["ggml_cuda_init: GGML_CUDA_FORCE_MMQ:    no",
             "ggml_cuda_init: GGML_CUDA_FORCE_CUBLAS: no",
             f"ggml_cuda_init: found {len(devices)} CUDA devices:"]
    for i, name in enumerate(devices):
        lines.append(f"  Device {i}: {name}, compute capability 9.0, VMM: yes")
    return lines
