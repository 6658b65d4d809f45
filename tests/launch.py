"""Launching ``torchrun`` from tests on a shared machine: a free rendezvous port, and one retry.

A fixed ``--master_port`` collides with any other job using it at the same
time (another test run, another suite), and a launch that lost its port
fails in ways that look like the code's fault.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Mapping, Sequence

#: what a launch that lost its rendezvous port to another job says (then it is launched again, once)
LAUNCH_FAILURES = ("EADDRINUSE", "address already in use", "DistNetworkError", "RendezvousConnectionError",
                   "Connection refused", "Connection reset")


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torchrun(args: Sequence[str], procs: int = 2, env: Mapping[str, str] | None = None,
             timeout: float = 150) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node procs --master_port <free> *args``, captured;
    launched once more when the first launch lost its port."""
    env = dict(os.environ if env is None else env)
    for _ in range(2):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs),
               "--master_port", str(free_port()), *args]
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if run.returncode == 0 or not any(m in run.stderr for m in LAUNCH_FAILURES):
            return run
    return run
