"""Shared test fixtures."""

from __future__ import annotations

import os

import pytest
import torch

# fd compiles its explicit steps by default; compiling in every test would take minutes on a
# small machine, so the suite steps eagerly unless a test asks for compile=True (or clears this)
os.environ.setdefault("SYMOP_COMPILE", "0")


@pytest.fixture
def one_thread():
    """Run with one torch thread: small grids only gain contention from more."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
