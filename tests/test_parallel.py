"""The Dask engine: sharded simulation equal to one process, failures named, bad engine options refused up front."""

import numpy as np
import pytest
import tables
from dl1_data_handler.reader import DLImageReader

from lstcommon.parallel import TaskFailed, TaskInputError, run_tasks
from trigger.cli import main
from trigger.parallel import shard_ranges

# a tiny run that still has images on several telescopes: 300 GeV and up, cores near the LSTs
RUN = ["simulate", "-p", "gamma", "--seed", "4", "--energy-min", "300 GeV", "--max-impact", "200 m",
       "--no-progress"]


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster on loopback: two single-threaded worker processes, as on a small machine."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def _tables(path) -> dict:
    with tables.open_file(path) as h5:
        return {node._v_pathname: node.read() for node in h5.walk_nodes("/", "Leaf")}


def _assert_same_tables(a, b):
    ta, tb = _tables(a), _tables(b)
    assert sorted(ta) == sorted(tb)
    for where, x in ta.items():
        y = tb[where]
        assert x.dtype == y.dtype and x.shape == y.shape, where
        for name in x.dtype.names or [None]:
            u, v = (x, y) if name is None else (x[name], y[name])
            assert np.array_equal(u, v, equal_nan=u.dtype.kind == "f"), f"{where} {name}"


def test_two_workers_write_the_file_of_one(cluster, tmp_path, capsys, monkeypatch):
    import trigger.parallel

    moved = []  # tables the merge appended as stored chunks (the client merges, in this process)
    append = trigger.parallel._append_raw_chunks
    monkeypatch.setattr(trigger.parallel, "_append_raw_chunks",
                        lambda output, raw: (moved.extend(where for _, where in raw), append(output, raw)))
    assert main([*RUN, "-n", "6", "-o", str(tmp_path / "one")]) == 0
    assert main([*RUN, "-n", "6", "-o", str(tmp_path / "two"), "--workers", "2", "--scheduler", cluster]) == 0
    capsys.readouterr()
    one, two = tmp_path / "one/gamma.dl1.h5", tmp_path / "two/gamma.dl1.h5"
    _assert_same_tables(one, two)
    # the waveforms (one row per chunk, most of the bytes) went by stored chunk, and equal a one-process run's
    assert any(w.startswith("/r1/event/telescope/") for w in moved)
    with tables.open_file(two) as h5:
        assert h5.root.dl1.event.subarray.trigger.nrows == 6
        assert h5.root.configuration.simulation.run.nrows == 1
        assert h5.root.simulation.service.shower_distribution[0]["n_entries"] == 6
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["gamma.dl1.h5", "summary.json"]
    reader = DLImageReader(input_url_signal=[str(two)], mode="mono")
    assert reader.get_n_events() == DLImageReader(input_url_signal=[str(one)], mode="mono").get_n_events() > 0
    assert np.isfinite(reader.generate_mono_batch([0])["features"]).all()


@pytest.fixture
def one_thread_cluster():
    """In this process (so that a test can make one shard fail), one worker thread: shards one after another."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.mark.parametrize("error, code", [("input", 2), ("bug", 1)])
def test_a_failing_shard_is_named(one_thread_cluster, tmp_path, capsys, monkeypatch, error, code):
    import trigger.parallel
    from trigger.simulation.source import SimulationError

    make = trigger.parallel._make_shard_source

    def fail_second(task):
        if task.shard.index == 1:
            raise SimulationError("refused") if error == "input" else RuntimeError("broken")
        return make(task)

    monkeypatch.setattr(trigger.parallel, "_make_shard_source", fail_second)
    out = tmp_path / "out"
    assert main([*RUN, "-n", "4", "-o", str(out), "--workers", "2", "--scheduler", one_thread_cluster]) == code
    err = capsys.readouterr().err
    assert "shard 2 of 4 (events 1..1) failed" in err
    if code == 2:
        assert err.strip().count("\n") == 0 and err.startswith("trigger-synth simulate: error: ")
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("option, message", [
    (["--workers", "0"], "--workers 0: must be at least 1"),
    (["--scheduler", "tcp://127.0.0.1:1"], "cannot reach a Dask scheduler"),
    (["--scheduler", "localhost"], "not a scheduler address"),
])
def test_bad_engine_options_are_refused_before_any_work(tmp_path, capsys, option, message):
    assert main([*RUN, "-n", "6", "-o", str(tmp_path / "out"), *option]) == 2
    err = capsys.readouterr().err
    assert message in err and err.strip().count("\n") == 0
    assert not (tmp_path / "out").exists()


def test_rate_pieces_depend_on_the_seed_not_on_the_workers(cluster, one_thread_cluster):
    """Counting and subset-simulation runs as tasks: two worker processes give what one worker thread gives."""
    from functools import partial

    from distributed import Client

    from trigger.inputs import TriggerInput
    from trigger.nn.roi import RoiGeometry
    from trigger.rates import NSBRateEstimator, brute_force_gated_rate
    from trigger.subset_simulation import SubsetSimulation

    geometry, score = RoiGeometry(gate=69), partial(np.sum, axis=1)  # a picklable stand-in for a network
    estimator = NSBRateEstimator(TriggerInput(), 0.233591)
    simulation = SubsetSimulation(estimator, geometry, score, n_per_level=200, thin=1)
    results = []
    for address in (cluster, one_thread_cluster):
        with Client(address, set_as_default=False) as client:
            counted = brute_force_gated_rate(estimator.trigger_input, 0.233591, geometry, score, [500.0, 560.0], 60,
                                             np.random.default_rng(1), client=client, pieces=3)
            runs = simulation.camera_rates([560.0], np.random.default_rng(2), min_rate_hz=1e6, n_runs=2, client=client)
            results.append((counted, runs.runs))
    (a, runs_a), (b, runs_b) = results
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and np.array_equal(runs_a, runs_b)
    assert len(a[2]) > 0 and runs_a.shape[0] == 2


def test_shard_ranges_cover_every_event_once():
    for n, k in [(1, 4), (6, 4), (10, 3), (1000, 8)]:
        ranges = shard_ranges(n, k)
        assert ranges[0][0] == 0 and ranges[-1][1] == n and len(ranges) == min(n, k)
        assert all(a < b for a, b in ranges) and all(b == c for (_, b), (c, _) in zip(ranges, ranges[1:]))


def _page_faults_of_temporaries(n_arrays):
    import os
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n_arrays):
        np.ones(2**17).sum()  # 1 MiB, allocated, touched and freed
    return "MALLOC_TRIM_THRESHOLD_" in os.environ, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_workers_reuse_freed_memory(cluster):
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_, which made every temporary array a fresh mmap: 256 page faults
    a MiB, and simulation shards 25 % slower on a worker than in a plain process. run_tasks undoes it."""
    from distributed import Client

    with Client(cluster) as client:
        (trim_set, faults), = run_tasks(client, _page_faults_of_temporaries, [200])
    assert trim_set  # the nanny's setting is there, so this checks that it no longer costs
    assert faults < 20 * 256, faults  # 200 fresh mappings would be 51,200


def test_tasks_in_this_process_report_their_index():
    assert run_tasks(None, lambda x: x * 2, [1, 2, 3]) == [2, 4, 6]
    with pytest.raises(TaskFailed, match="task 2 of 3 failed: ZeroDivisionError"):
        run_tasks(None, lambda x: 1 / x, [1, 0, 3])
    from lstcommon import UserError

    def refuse(x):
        raise UserError(f"item {x} is bad")

    with pytest.raises(TaskInputError, match="task 1 of 1 failed: item 7 is bad"):
        run_tasks(None, refuse, [7])


def test_each_shard_merges_once_those_before_it_are_written(tmp_path, monkeypatch):
    """The merge of shard k runs as soon as shards 0..k are written, while later shards are still to come."""
    import astropy.units as u

    import trigger.parallel as tp
    from trigger.io import process_events

    steps = []
    write, merge = tp.write_shard, tp.ShardMerger._merge
    monkeypatch.setattr(tp, "write_shard", lambda task: (steps.append(("write", task.shard.index)), write(task))[1])
    monkeypatch.setattr(tp.ShardMerger, "_merge", lambda self, i: (steps.append(("merge", i)), merge(self, i))[1])
    settings = dict(particle="gamma", seed=4, n_events=6, energy_min=300 * u.GeV, max_impact=200 * u.m)
    run = tp.simulate_sharded(tp.ToyEventSource(**settings), tmp_path / "sharded.h5", client=None, n_shards=3,
                              progress=False)
    assert steps == [("write", 0), ("merge", 0), ("write", 1), ("merge", 1), ("write", 2), ("merge", 2)]
    assert run.events == 6 and run.shards == 3
    process_events(tp.ToyEventSource(**settings), tmp_path / "one.h5", progress=False)
    _assert_same_tables(tmp_path / "one.h5", tmp_path / "sharded.h5")


def test_a_merger_waits_for_the_shards_before(tmp_path):
    """Shards written out of order merge in order; one never written is reported when the merger closes."""
    import trigger.parallel as tp

    merger = tp.ShardMerger([tmp_path / f"s{i}.h5" for i in range(3)], tmp_path / "out.h5")
    merged = []
    merger._merge = merged.append
    merger.shard_written(1)
    assert merged == []
    merger.shard_written(0)
    assert merged == [0, 1]
    with pytest.raises(tp.ShardMergeError, match="shard 3 of 3 was never written"):
        merger.close()
