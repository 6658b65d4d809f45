"""symop.threads: small CPU work runs on one intra-op thread, and torch's count comes back afterwards."""

from __future__ import annotations

import pytest
import torch

from symop.threads import SMALL_WORK_ELEMENTS, intra_op_threads, small_work_threads


def test_small_cpu_work_gets_one_thread_and_the_count_comes_back_even_after_an_error():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert small_work_threads(SMALL_WORK_ELEMENTS - 1, "cpu") == 1
        assert small_work_threads(SMALL_WORK_ELEMENTS, "cpu") is None
        assert small_work_threads(10, "cuda:0") is None
        with pytest.raises(RuntimeError):
            with intra_op_threads(1):
                assert torch.get_num_threads() == 1
                raise RuntimeError("inside")
        assert torch.get_num_threads() == 2
        with intra_op_threads(None):
            assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        assert small_work_threads(10, "cpu") is None  # already one thread: nothing to change
    finally:
        torch.set_num_threads(before)
