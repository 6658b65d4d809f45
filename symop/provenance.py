"""Where a result came from: versions, seed, command line, time and device, for ``summary.json``."""

from __future__ import annotations

import datetime
import platform
import shlex
import sys
from typing import Any, Mapping, Sequence

#: the command line :func:`symop.cli.main` was given (None outside the command: ``sys.argv`` is used)
_command: list[str] | None = None


def set_command(argv: Sequence[str]) -> None:
    """Record ``argv`` (``["symop", "run", ...]``) as the command line that results state."""
    global _command
    _command = list(argv)


def device_name(device: str) -> str:
    """A readable name of ``device``: the GPU's name for ``cuda``, the processor's model for ``cpu``."""
    if device.startswith("cuda"):
        try:
            import torch

            return str(torch.cuda.get_device_name(torch.device(device)))
        except Exception:  # a name is a courtesy; a missing one must not lose the result
            return device
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def provenance(device: str = "cpu", options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{"symop", "torch", "python", "seed", "command", "created", "device_name"}`` of the current process.

    ``seed`` is the ``seed`` option when the method has one (None otherwise);
    ``command`` is the command line that started the process; ``created`` is
    the UTC time in ISO 8601.
    """
    torch = sys.modules.get("torch")  # a solve has imported it; importing it here only for a version is not worth it
    if torch is None:
        try:
            import importlib.metadata

            torch_version: str | None = importlib.metadata.version("torch")
        except Exception:
            torch_version = None
    else:
        torch_version = str(torch.__version__)
    seed = (options or {}).get("seed")
    return {
        "symop": sys.modules["symop"].__version__,  # the package above this module, imported before it
        "torch": torch_version,
        "python": platform.python_version(),
        "seed": seed,
        "command": shlex.join(_command) if _command is not None else (shlex.join(sys.argv) if sys.argv else None),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device_name": device_name(device),
    }
