"""Independent solves side by side: the problems of a benchmark suite, the levels of a study.

:func:`run_tasks` runs a top-level function on each item, in this process
(the default) or on a Dask cluster: a local one with ``workers`` processes, or
an existing one at ``scheduler`` (``tcp://host:8786``, e.g. started by
dask-jobqueue on a batch system).  Results come back in the order of the items,
whatever the order they finish in, so a parallel sweep writes the same results
as a serial one; ``done(index, result)`` is called as each finishes, for
progress.  Each task times itself, so timing columns stay per problem.

Dask is an optional dependency (``pip install "symop[dask]"``); asking for
workers without it installed is a sentence, not a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from symop.errors import SymopError


@dataclass(frozen=True)
class Workers:
    """Where a sweep runs: ``count`` local worker processes, or the Dask scheduler at ``scheduler``."""

    count: int | None = None
    scheduler: str | None = None
    #: seconds to wait for the scheduler at ``scheduler`` to answer
    connect_timeout: float = 20.0

    def __post_init__(self) -> None:
        if self.count is not None and self.count < 1:
            raise SymopError(f"--workers takes a number of processes ≥ 1, not {self.count}.")

    @property
    def parallel(self) -> bool:
        return self.scheduler is not None or (self.count or 1) > 1

    def describe(self) -> str:
        if self.scheduler:
            return f"the Dask scheduler at {self.scheduler}"
        return f"{self.count} local Dask worker processes" if self.parallel else "this process"


def _client(workers: Workers):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SymopError("running on several workers needs Dask: pip install \"symop[dask]\" "
                         "(or drop --workers / --scheduler to run here, one problem after another).") from None
    if workers.scheduler:
        try:
            return Client(workers.scheduler, timeout=f"{workers.connect_timeout}s"), None
        except OSError as err:
            raise SymopError(f"no Dask scheduler answered at {workers.scheduler} ({err}); start one "
                             "(`dask scheduler`, or dask-jobqueue on a batch system) or use --workers N.") from None
    # one thread per worker process: the solves use torch's own threads, and processes keep them apart
    import logging

    # Dask's own log lines (a worker killed on shutdown) are no news to a user: errors only
    cluster = LocalCluster(n_workers=workers.count, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run_tasks(fn: Callable[..., Any], items: Sequence[Any], workers: Workers | None = None, *,
              started: Callable[[int], None] | None = None,
              done: Callable[[int, Any], None] | None = None) -> list[Any]:
    """``[fn(item) for item in items]``, here or on Dask workers; results in the order of ``items``.

    ``fn`` must be a module-level function (it is pickled to the workers) and
    should catch the errors that belong in a result row itself; an exception
    it lets through is raised here after the other tasks are cancelled.
    ``started(i)`` is called when item ``i`` is handed out, ``done(i, result)``
    when it has finished.
    """
    workers = workers or Workers()
    if not workers.parallel:
        out = []
        for i, item in enumerate(items):
            if started is not None:
                started(i)
            out.append(fn(item))
            if done is not None:
                done(i, out[-1])
        return out
    client, cluster = _client(workers)
    try:
        from dask.distributed import as_completed

        futures = []
        for i, item in enumerate(items):
            if started is not None:
                started(i)
            futures.append(client.submit(fn, item, key=f"symop-task-{i}-{id(items)}", pure=False))
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        for future in as_completed(futures):
            i = index[future.key]
            results[i] = future.result()
            if done is not None:
                done(i, results[i])
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
