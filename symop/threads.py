"""torch's intra-op threads around small CPU work: one home for the rule and the context manager.

Work made of many small operations (an eager fd step at 256², a PINN step on a few hundred points, fem's
chunked assembly) is slower on several OpenMP threads than on one: every operation torch splits ends at a
barrier, and on a busy machine the master spins there while its peer waits for a time slice (2 shared cores:
2-20x the CPU time of one thread; benchmarks/RESULTS.md).  Methods run such work inside
``with intra_op_threads(small_work_threads(elements, device)):``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

#: below this many elements in the widest tensor a step touches (grid points, or collocation points times
#: the widest layer input), work on the CPU runs on one intra-op thread
SMALL_WORK_ELEMENTS = 2**20


def small_work_threads(elements: int, device: Any = "cpu") -> int | None:
    """1 when work over ``elements`` values on ``device`` is small CPU work (below :data:`SMALL_WORK_ELEMENTS`)
    and torch has more than one thread; None (torch's setting stays) otherwise."""
    import torch

    if not str(device).startswith("cpu") or int(elements) >= SMALL_WORK_ELEMENTS:
        return None
    return 1 if torch.get_num_threads() > 1 else None


@contextmanager
def intra_op_threads(n: int | None) -> Iterator[None]:
    """``with intra_op_threads(n):`` torch's intra-op thread count is ``n`` inside (None: unchanged), and the
    previous count again on the way out."""
    import torch

    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
