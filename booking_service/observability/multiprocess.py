"""prometheus_client's multiprocess mode for `serve --workers N`: one scrape answers for every worker.

The supervisor gives its workers a private directory (WorkersDirectory): created empty at start,
passed as PROMETHEUS_MULTIPROC_DIR in each worker's environment (prometheus_client chooses its mode
when first imported, so the variable must be there from the worker's exec on), and removed at stop.
It keeps a list of the running workers' pids there, and marks a worker that exits dead: that
worker's live gauges leave the merge, while its counters and histograms stay in it, so that totals
never go backwards when a worker is restarted (the new one, a new pid, writes files of its own).

A worker's scrape reads merged_registry(): the files merged by prometheus_client's
MultiProcessCollector, plus the process metrics (CPU, memory, file descriptors, start time) of every
running worker, each with a `pid` label (WorkerProcesses: prometheus_client's ProcessCollector only
reads the process it runs in, and CPU seconds or open descriptors summed across processes would
hide the one worker that spins or leaks), plus python_info once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector, values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

#: prometheus_client's switch: the directory every metric of the process is written to.
DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
#: In that directory: the running workers' pids, one a line (MultiProcessCollector reads *.db only).
_PIDS = "workers.pids"


def directory() -> Path | None:
    """The directory this process writes its metrics to, when prometheus_client is in multiprocess
    mode (it decided that when first imported, from PROMETHEUS_MULTIPROC_DIR); None otherwise."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        return None
    return Path(os.environ[DIRECTORY_VARIABLE])


def merged_registry(path: Path, *scrape_time: Collector) -> CollectorRegistry:
    """What a worker's /metrics serves: every worker's files in `path`, the running workers'
    process metrics, python_info, and `scrape_time` (collectors computed by the scrape itself,
    once, by the worker that answers)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    registry.register(WorkerProcesses(path))
    PlatformCollector(registry=registry)
    for collector in scrape_time:
        registry.register(collector)
    return registry


class WorkerProcesses(Collector):
    """process_* of each running worker (the pids the supervisor lists in `path`), labelled `pid`. A
    worker that exited but is still listed (for up to the supervisor's half-second poll) has no
    /proc entry and is left out."""

    def __init__(self, path: Path) -> None:
        self._pids = path / _PIDS
        self._current = 0
        self._reader = ProcessCollector(pid=lambda: self._current, registry=None)

    def collect(self) -> Iterable[Metric]:
        try:
            pids = [int(line) for line in self._pids.read_text().split()]
        except FileNotFoundError:
            pids = []
        families: dict[str, Metric] = {}
        for pid in pids:
            self._current = pid
            for read in self._reader.collect():
                family = families.setdefault(read.name, Metric(read.name, read.documentation, read.type))
                for sample in read.samples:
                    family.samples.append(
                        Sample(sample.name, {**sample.labels, "pid": str(pid)}, sample.value)
                    )
        return list(families.values())


class WorkersDirectory:
    """The supervisor's side: the directory of its workers' metrics, from start to stop."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def environment(self) -> dict[str, str]:
        """The variables a worker is started with (it must have them before importing anything)."""
        return {DIRECTORY_VARIABLE: str(self.path)}

    def running(self, pids: Iterable[int]) -> None:
        """Records the running workers' pids (for their process metrics); replaced atomically."""
        staged = self.path / f".{_PIDS}.tmp"
        staged.write_text("".join(f"{pid}\n" for pid in pids))
        staged.replace(self.path / _PIDS)

    def exited(self, pid: int) -> None:
        """A worker exited (or was killed): its live gauges (the pool, its breakers) leave the merge;
        its counters and histograms stay in the totals."""
        mark_process_dead(pid, str(self.path))  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def workers_directory() -> Iterator[WorkersDirectory]:
    """A fresh private directory (mode 0700, in TMPDIR: a tmpfs suits the memory-mapped files) for
    the block's workers, removed with everything in it when the block ends. OSError if it cannot
    be created."""
    path = Path(tempfile.mkdtemp(prefix="booking-service-metrics-"))
    try:
        yield WorkersDirectory(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
