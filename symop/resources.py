"""What a run will need before it allocates it: memory of this machine, sizes as text,
and a refusal with the estimate when a request cannot fit.

Methods estimate the bytes their largest arrays will take from the options
(grid nodes, mesh elements) and call :func:`require_memory` before building
anything, so that ``--set n=100000`` is a sentence naming the estimate and the
option to lower instead of an allocator's traceback minutes later.
"""

from __future__ import annotations

import os

from symop.errors import SymopError


class ResourceError(SymopError):
    """A run would need more memory (or elements) than this machine has."""


def machine_memory() -> tuple[int | None, int | None]:
    """(total, available) bytes of main memory, ``None`` where the system does not say.

    Uses psutil when installed, else ``/proc/meminfo`` (``MemAvailable``) and
    ``os.sysconf``.
    """
    try:
        import psutil  # type: ignore[import-not-found]

        vm = psutil.virtual_memory()
        return int(vm.total), int(vm.available)
    except ImportError:
        pass
    total = available = None
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total = page * os.sysconf("SC_PHYS_PAGES")
        available = page * os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return total, available


def format_bytes(count: float) -> str:
    """``count`` bytes as a short text with a binary unit: ``74.5 GiB``, ``512 MiB``."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.3g} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{value:.3g} PiB"  # pragma: no cover


def format_count(count: float) -> str:
    """A count as text: written out below a million (``31,000``), else ``7.3e+10``."""
    return f"{int(count):,}" if count < 1e6 else f"{count:.2g}"


def require_memory(needed: float, what: str, hint: str) -> None:
    """Refuse with a :class:`ResourceError` when ``needed`` bytes exceed what this machine can give.

    ``what`` says what needs the memory (``"a 100001² grid needs about ... for its
    12 arrays"`` is built from it) and ``hint`` which option to change.  A run
    is refused when the estimate exceeds the available memory (or the total,
    where the available amount is unknown); nothing is refused when the
    machine does not report its memory.
    """
    total, available = machine_memory()
    limit = available if available is not None else total
    if limit is None or needed <= limit:
        return
    have = (f"this machine has {format_bytes(total)}" if total is not None else "this machine")
    if available is not None and total is not None:
        have += f" ({format_bytes(available)} free)"
    raise ResourceError(f"{what} needs about {format_bytes(needed)}; {have}; {hint}.")
