"""Batch analysis on a Dask cluster (``memetrack index --dask ADDRESS``).

The same worker function as local indexing (:func:`memetrack.analysis.analyze_path`) runs on the
Dask workers; results come back in submission order (so family assignment stays deterministic) and
the calling process writes them to the store, normally the shared PostgreSQL. Each worker reads
the files itself: every worker must see the paths (a shared file system) and have memetrack
installed. ``"local"`` starts a local cluster of worker processes instead of connecting.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from memetrack.errors import BadInput

if TYPE_CHECKING:
    from memetrack.analysis import AnalyzeParams, FileOutcome

WINDOW_PER_WORKER = 64  # tasks in flight per worker: bounds memory, keeps workers busy


def analyze_on_dask(tasks: list[tuple[str, AnalyzeParams]], address: str,
                    workers: int) -> Iterator[FileOutcome]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - depends on the installation
        raise BadInput("Dask is not installed: pip install 'memetrack[dask]'") from None
    from memetrack.analysis import analyze_path

    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(address)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or workers)
        window = WINDOW_PER_WORKER * n_workers
        yield from _ordered(client, analyze_path, tasks, window)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _ordered(client, func, tasks: list, window: int) -> Iterable:  # type: ignore[no-untyped-def]
    """Submit in a sliding window and yield results in submission order."""
    futures: list = []
    next_task = 0
    while next_task < len(tasks) or futures:
        while next_task < len(tasks) and len(futures) < window:
            futures.append(client.submit(func, tasks[next_task], pure=False))
            next_task += 1
        head = futures.pop(0)
        yield head.result()
        head.release()
