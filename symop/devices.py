"""Which devices a run may ask for, decided without importing torch (the CLI refuses at once)."""

from __future__ import annotations


def check_device_early(device: str) -> None:
    """Refuse ``device`` without importing torch: an unknown name, or CUDA where there is surely none.

    CUDA is surely absent when the installed torch is a CPU build (its version
    ends in ``+cpu``) or, on Linux, when no NVIDIA driver is loaded
    (no ``/proc/driver/nvidia``, ``/dev/nvidiactl`` or WSL's ``/dev/dxg``).  Anything else is left to
    :func:`symop.api.check_device`, which asks torch.
    """
    import importlib.metadata
    import os
    import sys

    from symop.errors import SymopError

    if not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
        raise SymopError(f"unknown device `{device}`; use cpu or cuda.")
    if device == "cpu":
        return
    try:
        cpu_build = importlib.metadata.version("torch").endswith("+cpu")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - torch is a dependency
        cpu_build = False
    no_driver = sys.platform.startswith("linux") and not any(
        os.path.exists(p) for p in ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/dxg"))
    if cpu_build or no_driver:
        why = "the installed PyTorch is a CPU-only build" if cpu_build else "no NVIDIA driver is loaded"
        raise SymopError(f"--device {device} was asked for, but {why}; use --device cpu.")
