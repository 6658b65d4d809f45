"""Start-up cost of symop commands: CPU seconds (user + system) of a fresh process.

``python benchmarks/startup.py [REPEATS]`` runs each command below ``REPEATS``
times (default 3) in a new interpreter and prints the best CPU time (from
``resource.getrusage(RUSAGE_CHILDREN)``), the wall time, whether torch was
imported, and the load average at the start.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

COMMANDS = [
    ["check", "examples/heat.pde"],
    ["show", "examples/heat.pde"],
    ["plugins"],
    ["plugins", "pinn"],
    ["--help"],
    ["run", "examples/heat.pde", "--device", "cuda"],  # refused without CUDA: the cost before a solve starts
    ["run", "examples/poisson.pde", "--set", "n=8", "-q"],
]

PROBE = ("import sys\nfrom symop.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
         "sys.stderr.write('torch imported: %s\\n' % ('torch' in sys.modules))\n")


def measure(argv: list[str]) -> tuple[float, float, str]:
    """(CPU seconds, wall seconds, torch line) of one ``symop ARGV`` in a fresh interpreter."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    torch_line = [line for line in done.stderr.splitlines() if line.startswith("torch imported")]
    return cpu, wall, torch_line[-1] if torch_line else "?"


def main() -> None:
    """Print one line per command: best CPU and wall of the repeats."""
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"nproc={os.cpu_count()}, load average {os.getloadavg()[0]:.2f}, python {sys.version.split()[0]}")
    for argv in COMMANDS:
        runs = [measure(argv) for _ in range(repeats)]
        cpu = min(r[0] for r in runs)
        wall = min(r[1] for r in runs)
        print(f"symop {' '.join(argv):50s} CPU {cpu:5.2f} s  wall {wall:5.2f} s  ({runs[0][2]})")


if __name__ == "__main__":
    main()
