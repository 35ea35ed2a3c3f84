#!/usr/bin/env python
"""Speed-up of the Dask engine on this machine: ``simulate`` and NSB counting with 1 and 2 workers.

Each is timed as a user runs it, a command in a fresh process, start-up included:

(a) ``trigger-synth simulate`` of one gamma run, in one process (``--workers 1``)
    and in shards on a new LocalCluster of 2 worker processes (``--workers 2``:
    cluster start, shards, merge); the files are checked to be equal, table by
    table;
(b) counting the gated NN trigger's rising edges in plain NSB camera windows
    (:func:`trigger.rates.brute_force_gated_rate`), in one process and as
    pieces on a new 2-worker LocalCluster (cluster start and each worker's
    model loading included).

The one-process runs go twice: as they come (numpy's BLAS may use a second
thread) and with ``OMP/OPENBLAS/MKL_NUM_THREADS=1``, what Dask sets in each of
its workers: the engine's scaling is 2 workers against that. Every run is a
process of its own, so that none inherits the memory and the threads an
earlier one left (run in this process after the one-process runs, the same
2-worker count of 400,000 windows took 254.6 s instead of 218.7 s). The machine's load average before and after
each timing is recorded: other work on the same cores lowers the speed-up.
Writes OUTPUT/parallel_speedup.md and .json.

    CTAPIPE_SVC_PATH=../shared/data/instrument LST_TRIGGER_DATA=../shared/data \\
        python benchmarks/parallel_speedup.py --model MODEL --output docs/

``--model`` is a trained trigger folder (``trigger-synth train``); without it a
small one is trained first on the simulated gammas.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tables

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import metadata_markdown, run_metadata  # noqa: E402

from lstcommon.files import dumps_json, write_text_atomic  # noqa: E402
from lstcommon.parallel import engine  # noqa: E402
from trigger.cli import main as trigger_synth  # noqa: E402

GOAL = 1.7


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # as Dask's nanny


def timed_process(argv, threads=None) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``argv`` in a new process: its wall time, its CPU time and its worker processes' (user + system of
    the children it waited for) and the load around it. ``threads=1``: numpy's BLAS on one thread."""
    env = {**os.environ, **(ONE_THREAD if threads == 1 else {})}
    before, t0, c0 = load(), time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([str(a) for a in argv], env=env, stdout=subprocess.PIPE, text=True)
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, cpu = time.perf_counter() - t0, (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    return done, {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_before": before, "load_after": load()}


TRIGGER_SYNTH = [sys.executable, "-c", "import sys; from trigger.cli import main; sys.exit(main(sys.argv[1:]))"]


def same_tables(a, b) -> bool:
    with tables.open_file(a) as ha, tables.open_file(b) as hb:
        nodes_a = {n._v_pathname: n for n in ha.walk_nodes("/", "Leaf")}
        nodes_b = {n._v_pathname: n for n in hb.walk_nodes("/", "Leaf")}
        if sorted(nodes_a) != sorted(nodes_b):
            return False
        for where, node in nodes_a.items():
            x, y = node.read(), nodes_b[where].read()
            if x.dtype != y.dtype or x.shape != y.shape:
                return False
            for name in x.dtype.names or [None]:
                u, v = (x, y) if name is None else (x[name], y[name])
                if not np.array_equal(u, v, equal_nan=u.dtype.kind == "f"):
                    return False
    return True


def simulate(args, work) -> dict:
    run = ["simulate", "-p", "gamma", "-n", args.n_events, "--energy-min", "10 GeV", "--energy-max", "1 TeV",
           "--seed", args.seed, "--overwrite", "--no-progress"]
    out = {}
    for name, workers, threads in (("1", 1, None), ("1-thread", 1, 1), ("2", 2, None)):
        command = [str(a) for a in [*run, "--workers", workers, "-o", work / f"sim{name}"]]
        done, out[name] = timed_process([*TRIGGER_SYNTH, *command], threads)
        if done.returncode != 0:
            raise SystemExit(f"trigger-synth {' '.join(command)} failed with exit code {done.returncode}")
        out[name]["command"] = "trigger-synth " + " ".join(command).replace(str(work), "WORK")
    identical = all(same_tables(work / "sim1/gamma.dl1.h5", work / f"sim{name}/gamma.dl1.h5")
                    for name in ("1-thread", "2"))
    return {"events": args.n_events, "particle": "gamma", "energy_gev": [10, 1000], "runs": out,
            "speedup": round(out["1"]["wall_s"] / out["2"]["wall_s"], 2),
            "speedup_one_thread": round(out["1-thread"]["wall_s"] / out["2"]["wall_s"], 2),
            "files_identical": identical}


def train_small_model(work) -> Path:
    folder = work / "model"
    code = trigger_synth([str(a) for a in [
        "train", "--gamma", work / "sim1/gamma.dl1.h5", "--output", folder, "--epochs", 5, "--hidden", 8,
        "--n-nsb-examples", 20000, "--n-calibration", 6000, "--calibration-runs", 2, "--calibration-windows", 200,
        "--candidates", 1, "--no-progress", "--seed", 3, "--overwrite"]])
    if code != 0:
        raise SystemExit(f"trigger-synth train failed with exit code {code}")
    return folder


def count_in_this_process(model, n_windows, seed, workers) -> dict:
    """One counting run (``--count-run``, a process of its own): with 2 workers on a new cluster."""
    from trigger.inputs import TriggerInput
    from trigger.nn.model import read_config
    from trigger.nn.roi import RoiGeometry
    from trigger.parallel import SavedScore
    from trigger.rates import brute_force_gated_rate

    config = read_config(model)
    geometry, score, trigger_input = RoiGeometry(**config["roi"]), SavedScore(model), TriggerInput()
    nsb = config["operating_point"]["nsb_rate_ghz"]
    thresholds = [config["operating_point"]["nn"]["threshold"]]

    def counted(client):
        rates, _, scores = brute_force_gated_rate(trigger_input, nsb, geometry, score, thresholds, n_windows,
                                                  np.random.default_rng(seed), client=client)
        return {"rate_hz": float(rates[0]), "candidates": len(scores), "threshold": thresholds[0]}

    if workers == 1:
        return counted(None)
    with engine(workers) as client:
        return counted(client)


def count(args, model) -> dict:
    runs = {}
    for name, workers, threads in (("1", 1, None), ("1-thread", 1, 1), ("2", 2, None)):
        done, timing = timed_process([sys.executable, __file__, "--count-run", workers, "--model", model,
                                      "--n-windows", args.n_windows, "--seed", args.seed], threads)
        if done.returncode != 0:
            raise SystemExit(f"the counting run with {workers} worker(s) failed with exit code {done.returncode}")
        runs[name] = {**timing, **json.loads(done.stdout.strip().splitlines()[-1])}
    return {"windows": args.n_windows, "model": str(model), "threshold": runs["1"]["threshold"], "runs": runs,
            "speedup": round(runs["1"]["wall_s"] / runs["2"]["wall_s"], 2),
            "speedup_one_thread": round(runs["1-thread"]["wall_s"] / runs["2"]["wall_s"], 2)}


def report(result) -> str:
    sim, cnt = result["simulate"], result["nsb_counting"]
    lines = [
        "# Parallel speed-up: 1 and 2 Dask workers",
        "",
        "Generated by `benchmarks/parallel_speedup.py`; every number below is measured by the script.",
        "",
        *metadata_markdown(result["metadata"]),
        f"- goal: a speed-up of at least {GOAL} with 2 workers on 2 cores",
        "",
        "| task | run | wall [s] | CPU of the command and its workers [s] | speed-up of 2 workers "
        "| load average before / after |",
        "|---|---|---|---|---|---|",
    ]
    rows = [(f"`simulate` {sim['events']} gammas (10 GeV - 1 TeV)", sim, (("1", "one process, numpy's threads"),
             ("1-thread", "one process, one thread"), ("2", "2 Dask workers"))),
            (f"NSB counting, {cnt['windows']} camera windows", cnt, (("1", "one process, numpy's threads"),
             ("1-thread", "one process, numpy on one thread"), ("2", "2 Dask workers")))]
    for label, part, runs in rows:
        for name, what in runs:
            run = part["runs"][name]
            gain = ("-" if name == "2" else
                    f"**{round(run['wall_s'] / part['runs']['2']['wall_s'], 2)}**")
            lines.append(f"| {label} | {what} | {run['wall_s']} | {run.get('cpu_s', '-')} | {gain} "
                         f"| {run['load_before'][0]} / {run['load_after'][0]} |")
            label = ""
    identical = "identical table by table" if sim["files_identical"] else "NOT identical (a bug)"
    lines += [
        "",
        "- wall: the command's process from start to exit (interpreter, imports, work); every run a process of"
        " its own. CPU: user + system time of that process and of the Dask worker processes it started"
        " (`RUSAGE_CHILDREN`); above the wall time in a one-process run, numpy already used a second core.",
        f"- `simulate`: wall time of the whole command (2 workers: LocalCluster start, the events in 8 shards, "
        f"merge); the three files are {identical}. Commands: `{sim['runs']['1']['command']}` (the second run the"
        f" same with `OMP/OPENBLAS/MKL_NUM_THREADS=1`: numpy's BLAS on one thread, as in a Dask worker) and "
        f"`{sim['runs']['2']['command']}`.",
        f"- NSB counting: `trigger.rates.brute_force_gated_rate` at the model's threshold {cnt['threshold']} "
        f"(`{cnt['model']}`), each run `python benchmarks/parallel_speedup.py --count-run N`; 2 workers: LocalCluster "
        "start, 8 pieces, each worker loading TensorFlow and the model. "
        "The one-process runs count the same windows (the same generator seed) and the 2-worker run others (one "
        f"generator spawned per piece): {cnt['runs']['1']['rate_hz']:.4g}, {cnt['runs']['1-thread']['rate_hz']:.4g} "
        f"and {cnt['runs']['2']['rate_hz']:.4g} Hz.",
        "- load average: `os.getloadavg()` (1 minute) before and after each timing; above 0 before a run, "
        "other work shared the cores and lowered the speed-up.",
    ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("docs"))
    parser.add_argument("--work", type=Path, help="folder for the simulated files (default: a temporary one)")
    parser.add_argument("--model", type=Path, help="trained trigger folder for the NSB counting (default: train a small one)")
    parser.add_argument("--n-events", type=int, default=1200, help="gamma showers simulated")
    parser.add_argument("--n-windows", type=int, default=50_000, help="NSB camera windows counted")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--count-run", type=int, metavar="WORKERS", help=argparse.SUPPRESS)  # one timed count
    args = parser.parse_args()
    if args.count_run:
        print(json.dumps(count_in_this_process(args.model, args.n_windows, args.seed, args.count_run)))
        return
    meta = run_metadata()
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        result = {"metadata": meta, "simulate": simulate(args, work)}
        model = args.model or train_small_model(work)
        result["nsb_counting"] = count(args, model)
    args.output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output / "parallel_speedup.json", dumps_json(result))
    write_text_atomic(args.output / "parallel_speedup.md", report(result) + "\n")
    print(report(result))


if __name__ == "__main__":
    main()
