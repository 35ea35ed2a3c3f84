"""Simulation in shards on the Dask engine (:mod:`lstcommon.parallel`), merged into the usual ctapipe file.

Every simulated event draws from its own random generator, keyed by the run's
seed, the particle and the event's index (``ToyEventSource._rng``), so a
shard over the events ``[first, stop)`` reproduces exactly those events of a
one-process run. Each shard is written by :func:`trigger.io.process_events`
into a file of its own, beside the output and on a filesystem the workers
share; the shards are then merged in order into the one file a single process
would have written: the event tables appended, the configuration tables
(subarray, observation and scheduling blocks, simulation run, telescope
pointing) kept once, the thrown-shower histograms summed. The merged file's
number of events is checked, and it is renamed into place only when
complete (:func:`lstcommon.files.atomic_output`).
"""

import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tables
from ctapipe.core import Provenance

from lstcommon.files import atomic_output
from lstcommon.parallel import n_workers, run_tasks

from .io import process_events
from .simulation.matched import MatchedShowerSource
from .simulation.source import ToyEventSource

__all__ = ["ShardedRun", "Shard", "ShardMerger", "shard_ranges", "simulate_sharded", "merge_shards", "ShardMergeError",
           "SHARDS_PER_WORKER", "SavedScore"]

# a few shards per worker even out showers of unequal cost (energies differ by decades); the per-shard cost
# (a source, a writer, a file to merge) is a fraction of a second
SHARDS_PER_WORKER = 4
SHOWER_DISTRIBUTION = "/simulation/service/shower_distribution"
EVENT_TABLE = "/dl1/event/subarray/trigger"
_COPY_BYTES = 64 * 2**20  # rows appended at a time: waveform tables of large shards do not fit in memory at once


class ShardMergeError(RuntimeError):
    """The merged file does not hold the events the shards were asked for (a bug, never bad input)."""


@dataclass(frozen=True)
class ShardedRun:
    """What :func:`simulate_sharded` wrote."""

    path: Path
    events: int
    telescope_events: int
    shards: int


@dataclass(frozen=True)
class Shard:
    """Events ``[first, stop)`` of a source, to be written to ``path``."""

    index: int
    first: int
    stop: int
    path: Path

    @property
    def n_events(self) -> int:
        return self.stop - self.first


def shard_ranges(n_events: int, n_shards: int) -> list[tuple[int, int]]:
    """``n_shards`` contiguous event ranges of (nearly) equal size covering ``range(n_events)``."""
    n_shards = max(1, min(int(n_shards), int(n_events)))
    edges = np.linspace(0, n_events, n_shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


@dataclass(frozen=True)
class _ShardTask:
    """Everything a worker needs to write one shard: plain, picklable values (a source holds its Tool)."""

    shard: Shard
    settings: dict
    recorded: object  # RecordedRun of a matched re-simulation, else None


def _settings(source: ToyEventSource) -> dict:
    skip = {"input_url", "max_events"}
    return {name: getattr(source, name) for name in source.trait_names(config=True) if name not in skip}


def _make_shard_source(task: _ShardTask) -> ToyEventSource:
    shard = task.shard
    if task.recorded is not None:
        source = MatchedShowerSource(task.recorded, max_events=shard.stop, **task.settings)
    else:
        source = ToyEventSource(max_events=shard.stop, **task.settings)
    source.first_event = shard.first  # the thrown-shower histogram then counts this shard's showers only
    return source


def _open_worker_activity():
    """One provenance activity per worker process, left open: the command's own Tool records the run, and an
    activity per shard would collect the installed packages again each time (a third of a second)."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return  # not on a Dask worker: the caller's activity, or process_events' own
    if Provenance().current_activity is None:
        Provenance().start_activity("trigger.parallel worker")


def write_shard(task: _ShardTask) -> dict:
    """Simulate and write one shard (runs on a worker); returns its counts."""
    if not task.shard.path.parent.is_dir():
        # the run failed or was interrupted and removed its shards' folder: writing would create it again
        raise ShardMergeError(f"{task.shard.path.parent}: the run's shard folder is gone (the run stopped)")
    _open_worker_activity()
    source = _make_shard_source(task)
    return process_events(source, task.shard.path, overwrite=True, progress=False)


def simulate_sharded(source: ToyEventSource, output_path, client, n_shards=None, overwrite=False,
                     progress=True) -> ShardedRun:
    """Write the events of ``source`` to ``output_path`` as shards on ``client``'s workers, merged in order.

    ``n_shards`` defaults to :data:`SHARDS_PER_WORKER` per worker of the
    cluster. The file equals, table by table, what :func:`trigger.io.process_events`
    writes from ``source`` in one process. A shard that fails raises
    :class:`lstcommon.parallel.TaskFailed` naming it; nothing is left behind.
    """
    output_path = Path(output_path)
    n_events = source.n_events if source.max_events is None else min(source.n_events, source.max_events)
    if n_shards is None:
        n_shards = SHARDS_PER_WORKER * (n_workers(client) if client is not None else 1)
    settings = _settings(source)
    recorded = getattr(source, "recorded", None)
    with atomic_output(output_path, overwrite=overwrite) as tmp:
        # beside the output: on the filesystem the workers share, and removed as a stale partial output
        # (files.py) if this process is killed
        folder = tmp.parent / f".{output_path.name}.partial-shards-{os.getpid()}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        try:
            shards = [Shard(i, a, b, folder / f"shard-{i:05d}.h5") for i, (a, b) in enumerate(shard_ranges(n_events, n_shards))]
            tasks = [_ShardTask(shard, settings, recorded) for shard in shards]
            # the shards merge while later ones run: the merge of 4000 gammas (1.2 GB) took 8 s after the last
            merger = ShardMerger([s.path for s in shards], tmp, expected_events=n_events)
            counts = run_tasks(
                client, write_shard, tasks, weights=[s.n_events for s in shards], progress=progress,
                desc=output_path.name, unit="ev", name="shard", on_result=lambda i, _: merger.shard_written(i),
                describe=lambda i: f"shard {i + 1} of {len(shards)} (events {shards[i].first}..{shards[i].stop - 1})",
            )
            merger.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return ShardedRun(output_path, sum(c["events"] for c in counts), sum(c["telescope_events"] for c in counts),
                      len(shards))


class ShardMerger:
    """Merges shard files into one ctapipe file, in shard order, each shard as soon as it and every shard
    before it are written: the merge runs while later shards are still being simulated.

    Shard 0 is moved, not copied, to ``output``; the event tables of the others are appended; configuration
    tables are kept from the first shard that has them (they are the same in every shard, and a telescope's
    fixed pointing is written by the shard where it first triggered); the thrown-shower histograms are summed.
    A merged shard's file is removed.
    """

    def __init__(self, paths, output, expected_events=None):
        self.paths, self.output = [Path(p) for p in paths], Path(output)
        self.expected_events = expected_events
        self._written = set()
        self.merged = 0  # shards 0 .. merged-1 are in the output

    def shard_written(self, index: int):
        """Shard ``index`` is complete: merge it and the written shards after it, up to the first missing one."""
        self._written.add(int(index))
        while self.merged in self._written:
            self._merge(self.merged)
            self.merged += 1

    def _merge(self, i):
        path = self.paths[i]
        if i == 0:
            os.replace(path, self.output)
            return
        raw = []  # tables appended chunk by chunk below, after PyTables has closed the output
        with tables.open_file(self.output, mode="a") as out, tables.open_file(path, mode="r") as other:
            for node in other.walk_nodes("/", "Leaf"):
                where = node._v_pathname
                if where in out and _raw_copyable(out.get_node(where), node):
                    raw.append((path, where))
                else:
                    _merge_node(out, other, node)
        _append_raw_chunks(self.output, raw)
        path.unlink()

    def close(self) -> Path:
        """Check that every shard is in the output and the output holds the events expected."""
        if self.merged != len(self.paths):
            raise ShardMergeError(f"{self.output}: shard {self.merged + 1} of {len(self.paths)} was never written")
        with tables.open_file(self.output, mode="r") as out:
            n = out.get_node(EVENT_TABLE).nrows if EVENT_TABLE in out else 0
        if self.expected_events is not None and n != self.expected_events:
            raise ShardMergeError(f"{self.output}: the merged shards hold {n} events, {self.expected_events} were "
                                  "simulated")
        return self.output


def merge_shards(paths, output, expected_events=None) -> Path:
    """Merge shard files, all written, in order into one ctapipe file (see :class:`ShardMerger`)."""
    merger = ShardMerger(paths, output, expected_events)
    for i in range(len(merger.paths)):
        merger.shard_written(i)
    return merger.close()


def _raw_copyable(target, node) -> bool:
    """Whether ``node``'s rows can be appended to ``target`` as its stored chunks, never decompressed.

    The R1 waveform tables are most of a file's bytes and have one row per chunk (a row is 300 kB), so their
    chunks can be moved as they are: appending them through PyTables decompresses and compresses
    every row again, which made the merge of a 2-worker run take longer than the shards themselves.
    """
    return (isinstance(target, tables.Table) and isinstance(node, tables.Table)
            and target.chunkshape == (1,) and node.chunkshape == (1,)
            and target.dtype == node.dtype and target.filters == node.filters)


def _append_raw_chunks(output, raw):
    """Append each (shard file, table) of ``raw`` to ``output``'s table of the same path, chunk by chunk."""
    if not raw:
        return
    import h5py

    with h5py.File(output, "a") as out:
        for path, where in raw:
            with h5py.File(path, "r") as other:
                source, target = other[where], out[where]
                start, n = target.shape[0], source.shape[0]
                target.resize((start + n,))
                for i in range(n):
                    mask, chunk = source.id.read_direct_chunk((i,))
                    target.id.write_direct_chunk((start + i,), chunk, mask)


def _merge_node(out, other, node):
    where = node._v_pathname
    if where not in out:
        _copy_with_parents(out, node)
    elif where.startswith("/configuration/"):
        return
    elif where == SHOWER_DISTRIBUTION:
        _add_histograms(out.get_node(where), node)
    else:
        target = out.get_node(where)
        step = max(1, _COPY_BYTES // max(node.rowsize, 1))
        for start in range(0, node.nrows, step):
            target.append(node.read(start, start + step))


def _copy_with_parents(out, node):
    """Copy ``node`` into ``out`` at the same path, creating missing parent groups with their attributes."""
    chain, group = [], node._v_parent
    while group._v_pathname not in out:
        chain.append(group)
        group = group._v_parent
    for missing in reversed(chain):
        missing._f_copy(newparent=out.get_node(missing._v_parent._v_pathname), recursive=False)
    node._f_copy(newparent=out.get_node(node._v_parent._v_pathname))


def _add_histograms(target: tables.Table, other: tables.Table):
    rows = target.read()
    add = other.read()
    for row in add:
        match = np.nonzero((rows["obs_id"] == row["obs_id"]) & (rows["hist_id"] == row["hist_id"]))[0]
        if len(match) != 1:
            target.append(row[np.newaxis])
            rows = target.read()
            continue
        i = int(match[0])
        for name in ("bins_core_dist", "bins_energy"):
            if not np.array_equal(rows[name][i], row[name]):
                raise ShardMergeError(f"shower histograms of obs_id {row['obs_id']} have different {name}")
        rows["n_entries"][i] += row["n_entries"]
        rows["histogram"][i] += row["histogram"]
        target.modify_rows(i, i + 1, rows=rows[i : i + 1])


class SavedScore:
    """The score function of a saved trigger model (ROIs -> logits) that can travel to Dask workers.

    A Keras model's traced function cannot be pickled; this carries the
    folder, and each process loads the model once, on first use.
    """

    def __init__(self, folder):
        self.folder = str(Path(folder).resolve())

    def __call__(self, rois):
        return _loaded_score(self.folder)(rois)

    def __repr__(self):
        return f"SavedScore({self.folder!r})"


@functools.cache
def _loaded_score(folder):
    from .nn.model import load_trigger, score_function

    model, _ = load_trigger(folder)
    return score_function(model)
