"""What every benchmark prints about the machine it ran on: the CPU model and the load average."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what the platform module knows)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, e.g. ``"0.42 0.61 0.70"``."""
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def torch_on_one_thread():
    """torch, imported with one intra-op thread (``OMP_NUM_THREADS=1`` unless the environment sets it): CPU-time
    figures that other jobs on a shared machine do not distort through spinning worker threads."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    return torch
