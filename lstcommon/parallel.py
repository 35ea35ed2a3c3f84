"""The one engine for embarrassingly parallel work: Dask's ``distributed``.

Simulation shards, independent rate-estimator runs, NSB counting and
prediction over many files are independent tasks. They run on a Dask cluster:
by default a ``LocalCluster`` of single-threaded worker processes on this
machine's cores, or an existing cluster given by its scheduler's address
(``--scheduler tcp://host:8786``, or Dask's own configuration:
``DASK_SCHEDULER_ADDRESS`` / ``scheduler-address``), e.g. one started on a
batch system with ``dask-jobqueue`` (docs/parallel.md). Workers of a cluster
must see the same files as the client (a shared filesystem).

A task that raises is reported with its index and what it covered, never
dropped: :class:`TaskFailed`, or :class:`TaskInputError` (a :class:`UserError`,
one line and exit code 2) when the task refused its input. A worker that dies
has its tasks rescheduled by Dask (``distributed.scheduler.allowed-failures``
times) before they are reported as failed.
"""

import contextlib
import ctypes
import functools
import logging
import os
import socket
import warnings
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from tqdm.auto import tqdm

from .errors import UserError, one_line

__all__ = [
    "SchedulerError", "TaskFailed", "TaskInputError", "check_engine_options", "configured_scheduler", "engine",
    "local_cores", "n_workers", "run_tasks",
]

_PROBE_TIMEOUT_S = 5.0


class SchedulerError(UserError):
    """The scheduler address is malformed or nothing answers there."""


class TaskFailed(RuntimeError):
    """A task raised: the message names it (index and what it covered) and its error."""

    def __init__(self, message, index):
        super().__init__(message)
        self.index = index


class TaskInputError(TaskFailed, UserError):
    """A task refused its input (it raised a :class:`UserError`): reported like any bad input."""


def local_cores() -> int:
    """Cores this process may use (affinity and cgroup limits included), as Dask counts them."""
    from dask.system import CPU_COUNT

    return int(CPU_COUNT)


def configured_scheduler() -> str | None:
    """The scheduler address of Dask's configuration (``DASK_SCHEDULER_ADDRESS``), if any."""
    import dask

    return dask.config.get("scheduler-address", None) or None


def _host_port(address: str) -> tuple[str, int]:
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme not in ("tcp", "tls") or not parts.hostname:
        raise ValueError("expected tcp://HOST:PORT or tls://HOST:PORT")
    try:
        port = parts.port
    except ValueError as err:
        raise ValueError(f"bad port ({err})") from None
    if port is None:
        raise ValueError("no port (the scheduler listens on 8786 unless told otherwise)")
    return parts.hostname, port


def check_scheduler(address: str, option="--scheduler") -> str:
    """Refuse, in one line and at once, an address that is malformed or where nothing listens."""
    if address.startswith("inproc://"):  # a cluster inside this very process (tests)
        return address
    try:
        host, port = _host_port(address)
    except ValueError as err:
        raise SchedulerError(f"{option} {address}: not a scheduler address: {err}") from None
    try:
        socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S).close()
    except OSError as err:
        reason = "timed out" if isinstance(err, TimeoutError) else one_line(err.strerror or err)
        raise SchedulerError(f"{option} {address}: cannot reach a Dask scheduler there ({reason})") from None
    return address


def check_engine_options(workers: int | None, scheduler: str | None, option_workers="--workers",
                         option_scheduler="--scheduler") -> str | None:
    """Validate ``--workers`` and ``--scheduler`` before any work; returns the scheduler address to use, if any."""
    if workers is not None and workers < 1:
        raise UserError(f"{option_workers} {workers}: must be at least 1")
    if scheduler is not None:
        return check_scheduler(scheduler, option_scheduler)
    configured = configured_scheduler()
    return check_scheduler(configured, "Dask's scheduler-address") if configured else None


# A local cluster has no dashboard to show what its workers' statistical profiler and fast monitors collect;
# at their defaults (a sample every 10 ms, a tick every 20 ms, memory every 100 ms) they preempted each task's
# thread 3,000 times a minute and cost the NSB counting 5 % of its speed-up on 2 cores (docs/parallel_speedup.md).
# Each worker takes this configuration from its nanny when it starts.
_LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


@contextlib.contextmanager
def engine(workers: int | None = None, scheduler: str | None = None, processes=True):
    """A Dask ``Client``: on the cluster whose scheduler is at ``scheduler`` (or Dask's configured one), or on a
    new ``LocalCluster`` of ``workers`` single-threaded processes (default: this machine's cores), closed on exit.

    Single-threaded workers: the tasks are numpy-heavy Python, and one process per core sidesteps the GIL.
    """
    import dask
    from distributed import Client, LocalCluster

    address = scheduler or configured_scheduler()
    if address:
        with Client(address, timeout="30s", set_as_default=False) as client:
            yield client
        return
    with warnings.catch_warnings(), dask.config.set(_LOCAL_CLUSTER_CONFIG):
        # without a dashboard the scheduler still serves its health page, on 8787 or, when taken, another port
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = LocalCluster(n_workers=workers or local_cores(), threads_per_worker=1, processes=processes,
                               host="127.0.0.1", dashboard_address=None, silence_logs=logging.CRITICAL)
    with cluster, Client(cluster, set_as_default=False) as client:
        yield client


def n_workers(client) -> int:
    """Workers the cluster has now."""
    return len(client.scheduler_info(n_workers=-1)["workers"])


def run_tasks(client, function: Callable, items: Sequence, *, describe: Callable[[int], str] | None = None,
              weights: Sequence[float] | None = None, progress=False, desc="", unit="task", name="task",
              on_result: Callable[[int, object], None] | None = None) -> list:
    """``[function(item) for item in items]``, each a task on ``client`` (or in this process when it is None).

    The results come back in the order of ``items``. ``weights`` (e.g. events per task) drive the progress bar
    over all tasks; ``describe(i)`` says what task ``i`` covered, for the error of a task that raises. On the
    first failure the tasks not yet run are cancelled and :class:`TaskFailed` is raised. ``on_result(i, result)``
    is called here as each task finishes (in the order they finish), while the others still run.
    """
    items = list(items)
    n = len(items)
    weights = [1] * n if weights is None else list(weights)
    what = (lambda i: f"{name} {i + 1} of {n}") if describe is None else describe
    bar = tqdm(total=sum(weights), disable=not progress, desc=desc, unit=unit)
    results = [None] * n
    try:
        if client is None:
            for i, item in enumerate(items):
                results[i] = _call(function, item, what, i)
                if on_result is not None:
                    on_result(i, results[i])
                bar.update(weights[i])
            return results
        from distributed import as_completed

        futures = client.map(functools.partial(_on_worker, function), items, pure=False,
                             key=[f"{name}-{i}-{_token()}" for i in range(n)])
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for future in as_completed(futures, loop=client.loop):
                i = index[future.key]
                if future.status == "cancelled":
                    raise TaskFailed(f"{what(i)} was cancelled (the cluster closed or released it)", i)
                if future.status != "finished":
                    _raise_failed(future.exception(), what, i)
                results[i] = future.result()
                if on_result is not None:
                    on_result(i, results[i])
                bar.update(weights[i])
        finally:
            client.cancel([f for f in futures if not f.done()])
        return results
    finally:
        bar.close()


def _token() -> str:
    import uuid

    return uuid.uuid4().hex[:12]


def _on_worker(function, item):
    _restore_malloc_thresholds()
    return function(item)


# glibc's mallopt() parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@functools.cache
def _restore_malloc_thresholds():
    """Undo what ``MALLOC_TRIM_THRESHOLD_`` does to numpy-heavy tasks, once per worker process.

    Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (so that long-lived workers give
    memory back). Setting any malloc threshold also switches off glibc's sliding mmap threshold: every
    temporary array over 128 KiB then comes from a fresh ``mmap`` and is zeroed page by page. A simulation
    shard of 120 gammas took 950,000 page faults instead of 16,000 and ran 25 % slower than in a plain
    process (docs/parallel_speedup.md). The tasks here allocate arrays of the same few sizes over and over:
    the thresholds go to where glibc's sliding threshold would settle (its 32 MiB ceiling, trimming above
    twice that). Only where the variable is set (a Dask nanny's worker) and only with glibc.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: its allocator does not read the variable either
    libc.mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)
    libc.mallopt(_M_TRIM_THRESHOLD, 64 * 2**20)


def _call(function, item, what, i):
    try:
        return function(item)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:
        _raise_failed(err, what, i)


def _raise_failed(err, what, i):
    kind = TaskInputError if isinstance(err, UserError) else TaskFailed
    if isinstance(err, TaskFailed):
        detail = str(err)
    else:
        detail = one_line(f"{type(err).__name__}: {err}" if not isinstance(err, UserError) else err)
    raise kind(f"{what(i)} failed: {detail}", i) from err
