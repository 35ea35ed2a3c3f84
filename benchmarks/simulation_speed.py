#!/usr/bin/env python
"""How fast the toy LST simulation runs on this machine, compared with processing real sim_telarray events.

For gamma, proton and NSB-only events (fixed seed) it times

(a) the toy simulation alone: iterating ``ToyEventSource`` (showers, photons,
    camera response, R1 waveforms);
(b) the full chain to HDF5: ``trigger.io.process_events`` (ToyEventSource ->
    CameraCalibrator -> ImageProcessor -> DataWriter), as ``trigger-synth
    simulate`` runs it;

and, in the same process, the baseline: ``trigger.io.convert_simtel`` on the
real file gamma_run000007 (SimTelEventSource + the same process_events chain),
in telescope events per second. The real file is small (4 triggered events,
13 LST telescope events), so the script also reports a marginal baseline
without the fixed start-up cost: (full file - first event only) / time
difference.

Outputs OUTPUT/simulation_speed.md and OUTPUT/simulation_speed.json.

    CTAPIPE_SVC_PATH=../shared/data/instrument \\
        python benchmarks/simulation_speed.py --output docs/ [--n-events N] [--seed S] [--repeats R] [--toy-repeats T]
"""

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np

# benchmarks/ is sys.path[0] when this file runs as a script
from _common import metadata_markdown, run_metadata
from ctapipe.io import SimTelEventSource
from tqdm.auto import tqdm

from lstcommon.files import write_json
from trigger.io import convert_simtel, lst_tel_ids, process_events
from trigger.paths import data_dir
from trigger.simulation.source import ToyEventSource

BASELINE_FILE = "gamma_run000007_za40deg_azm180deg_South_subsystem_lsts_7.0.0_test.simtel.zst"

# the data sets of `make demo`: default gamma spectrum, protons from 100 GeV so that images exist
TOY_SETS = {
    "gamma": {"particle": "gamma"},
    "proton": {"particle": "proton", "energy_min": 100 * u.GeV},
    "nsb": {"particle": "nsb"},
}

log = logging.getLogger("simulation_speed")


def describe(source: ToyEventSource) -> str:
    if source.particle == "nsb":
        return f"NSB only, {source.nsb_rate_ghz:.4f} p.e./ns/pixel, {source.n_telescopes} LSTs"
    return (
        f"{source.energy_min.to_value(u.GeV):.0f} GeV-{source.energy_max.to_value(u.TeV):.0f} TeV, "
        f"index {source.spectral_index:.1f}, max impact {source.max_impact.to_value(u.m):.0f} m, "
        f"view cone {source.viewcone_radius.to_value(u.deg):.0f} deg, alt {source.pointing_altitude.to_value(u.deg):.0f} deg"
    )


class Clock:
    """Wall-clock and CPU time (this process, all its threads) of a block."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu
        return False


def time_toy_alone(kwargs, progress):
    """(a): iterate the event source; counts and times (construction timed separately)."""
    with Clock() as init:
        source = ToyEventSource(**kwargs)
    n_events = n_tel = 0
    with Clock() as run:
        for event in tqdm(source, total=source.n_events, desc=f"(a) toy {source.particle}", unit="ev", disable=not progress):
            n_events += 1
            n_tel += len(event.trigger.tels_with_trigger)
    return {"init_s": init.wall, "wall_s": run.wall, "cpu_s": run.cpu, "events": n_events, "telescope_events": n_tel,
            "description": describe(source)}


def time_full_chain(kwargs, work, progress):
    """(b): ToyEventSource -> process_events -> HDF5."""
    with Clock() as init:
        source = ToyEventSource(**kwargs)
    path = work / f"{source.particle}.dl1.h5"
    with Clock() as run:
        counts = process_events(source, path, overwrite=True, progress=progress)
    return {"init_s": init.wall, "wall_s": run.wall, "cpu_s": run.cpu, **counts, "file_mb": path.stat().st_size / 1e6}


def summarize_runs(runs):
    """Median wall and CPU times of repeated runs (same events every time) and the rates from them."""
    counts = {(r["events"], r["telescope_events"]) for r in runs}
    if len(counts) != 1:
        raise RuntimeError(f"repeats simulated different events: {counts}")
    out = {k: v for k, v in runs[0].items() if k not in ("wall_s", "cpu_s", "init_s")}
    out["wall_s_runs"] = [r["wall_s"] for r in runs]
    out["cpu_s_runs"] = [r["cpu_s"] for r in runs]
    out["init_s"] = float(np.median([r["init_s"] for r in runs]))
    for clock in ("wall", "cpu"):
        seconds = float(np.median(out[f"{clock}_s_runs"]))
        out[f"{clock}_s"] = seconds
        out[f"events_per_{clock}_s"] = out["events"] / seconds
        out[f"telescope_events_per_{clock}_s"] = out["telescope_events"] / seconds
    return out


def time_baseline(path, work, repeats, progress, runs=None, label="baseline"):
    """convert_simtel on the real file (whole file, first event only) and reading alone, ``repeats`` times.

    Appends to ``runs`` (so that batches before and after the toy runs are pooled).
    """
    with SimTelEventSource(path, focal_length_choice="EQUIVALENT", max_events=1) as probe:
        lsts = lst_tel_ids(probe.subarray)

    def read_only():
        n = n_tel = 0
        with SimTelEventSource(path, focal_length_choice="EQUIVALENT", allowed_tels=set(lsts)) as source:
            for event in source:
                n += 1
                n_tel += len(event.trigger.tels_with_trigger)
        return {"events": n, "telescope_events": n_tel}

    runs = runs if runs is not None else {"full": [], "first_event": [], "read_only": []}
    for i in tqdm(range(repeats), desc=label, unit="rep", disable=not progress):
        for name, kwargs in (("full", {}), ("first_event", {"max_events": 1})):
            with Clock() as clock:
                counts = convert_simtel(path, work / f"real_{name}_{i}.dl1.h5", overwrite=True, progress=False, **kwargs)
            runs[name].append({"wall_s": clock.wall, "cpu_s": clock.cpu, "init_s": 0.0, **counts})
        with Clock() as clock:
            counts = read_only()
        runs["read_only"].append({"wall_s": clock.wall, "cpu_s": clock.cpu, "init_s": 0.0, **counts})
    return runs


def baseline_summary(path, runs):
    out = {"file": path.name, "repeats": len(runs["full"])}
    for name, values in runs.items():
        out[name] = summarize_runs(values)
    full, first = out["full"], out["first_event"]
    d_tel = full["telescope_events"] - first["telescope_events"]
    d_ev = full["events"] - first["events"]
    for clock in ("wall", "cpu"):
        d_t = full[f"{clock}_s"] - first[f"{clock}_s"]
        out[f"marginal_{clock}_s"] = d_t
        out[f"marginal_telescope_events_per_{clock}_s"] = d_tel / d_t if d_t > 0 else float("nan")
        out[f"marginal_events_per_{clock}_s"] = d_ev / d_t if d_t > 0 else float("nan")
        per_tel = d_t / d_tel if d_tel else float("nan")
        out[f"fixed_cost_{clock}_s"] = full[f"{clock}_s"] - full["telescope_events"] * per_tel
    return out


def write_markdown(result, output):
    meta, base = result["metadata"], result["baseline"]
    lines = ["# Toy simulation speed on this machine", ""]
    lines += ["Generated by `benchmarks/simulation_speed.py`; every number below is measured by the script.", ""]
    lines += metadata_markdown(meta)
    load = result["load_average"]
    busy = max(load["start"], load["end"]) > 1.5
    note = (
        ": well above the ~1 this script adds, so other processes shared the CPU; wall-clock rates suffer, the"
        " CPU-time rates are less sensitive to that"
        if busy
        else ""
    )
    lines += [
        (
            f"- settings: {result['n_events']} events per data set, seed {result['seed']}; each toy measurement"
            f" repeated {result['toy_repeats']} times, the baseline {base['repeats']} times (half before, half after"
            " the toy runs); medians"
        ),
        f"- 1-minute load average at start / end: {load['start']:.2f} / {load['end']:.2f} on {meta['nproc']} cores{note}",
        "",
        "## Toy simulation",
        "",
        "(a) = iterating `ToyEventSource` alone (showers, photons, camera response, R1 waveforms);",
        "(b) = the full chain `trigger.io.process_events` (calibration, image parameters, HDF5 writing), as",
        "`trigger-synth simulate` runs it. Source construction (`init`, wall clock) is not included. Ratios are",
        "telescope events per second divided by those of the sim_telarray baseline (next section); 'marginal'",
        "divides by the baseline without its fixed start-up cost.",
        "",
    ]
    for clock, title in (("wall", "wall-clock time"), ("cpu", "CPU time of the process")):
        ref = base["full"][f"telescope_events_per_{clock}_s"]
        ref_marg = base[f"marginal_telescope_events_per_{clock}_s"]
        lines += [
            f"### Rates per second of {title}",
            "",
            (
                "| data set | events | tel. events | (a) events/s | (a) tel. ev/s | (b) events/s | (b) tel. ev/s | (b) MB "
                "| init [s] | (a) / baseline | (b) / baseline | (b) / marginal baseline |"
            ),
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, res in result["toy"].items():
            a, b = res["alone"], res["chain"]
            lines.append(
                f"| {name} ({a['description']}) | {b['events']} | {b['telescope_events']} | {a[f'events_per_{clock}_s']:.1f} | "
                f"{a[f'telescope_events_per_{clock}_s']:.1f} | {b[f'events_per_{clock}_s']:.1f} | "
                f"{b[f'telescope_events_per_{clock}_s']:.1f} | {b['file_mb']:.1f} | {a['init_s']:.2f} | "
                f"{a[f'telescope_events_per_{clock}_s'] / ref:.2f} | {b[f'telescope_events_per_{clock}_s'] / ref:.2f} | "
                f"{b[f'telescope_events_per_{clock}_s'] / ref_marg:.2f} |"
            )
        lines.append("")
    lines += [
        "## Baseline: real sim_telarray events through the same chain",
        "",
        f"`trigger.io.convert_simtel` on `{base['file']}` (SimTelEventSource, LSTs only, then `process_events`).",
        "",
        "| measurement | events | tel. events | median wall [s] | tel. ev/s (wall) | median CPU [s] | tel. ev/s (CPU) |",
        "|---|---|---|---|---|---|---|",
    ]
    full, first, read = base["full"], base["first_event"], base["read_only"]
    for label, res in (("convert_simtel, whole file (baseline)", full), ("convert_simtel, first event only", first),
                       ("SimTelEventSource reading alone", read)):
        lines.append(
            f"| {label} | {res['events']} | {res['telescope_events']} | {res['wall_s']:.3f} | "
            f"{res['telescope_events_per_wall_s']:.1f} | {res['cpu_s']:.3f} | {res['telescope_events_per_cpu_s']:.1f} |"
        )
    lines.append(
        f"| marginal (whole - first event) | {full['events'] - first['events']} | "
        f"{full['telescope_events'] - first['telescope_events']} | {base['marginal_wall_s']:.3f} | "
        f"{base['marginal_telescope_events_per_wall_s']:.1f} | {base['marginal_cpu_s']:.3f} | "
        f"{base['marginal_telescope_events_per_cpu_s']:.1f} |"
    )

    def spread(values):
        return f"{np.min(values):.3f}-{np.max(values):.3f}"

    lines += [
        "",
        "Fixed start-up cost of one `convert_simtel` call (opening the file twice, building the calibrator, image",
        (
            f"processor and writer, closing the file): about {base['fixed_cost_wall_s']:.2f} s wall clock"
            f" ({base['fixed_cost_cpu_s']:.2f} s CPU). The whole real file holds only {full['telescope_events']} LST"
        ),
        "telescope events, so this cost dominates the baseline; the toy runs (b) pay it once for all their events. The",
        "marginal baseline is the fairer per-event reference, but it is the difference of two short timings: its",
        (
            "uncertainty is large (range of the wall-clock repeats: whole file "
            f"{spread(full['wall_s_runs'])} s, first event {spread(first['wall_s_runs'])} s)."
        ),
        "",
    ]
    output.write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path("docs"), help="folder for simulation_speed.md/.json")
    parser.add_argument("--n-events", type=int, default=300, help="events per toy data set (default 300)")
    parser.add_argument("--seed", type=int, default=1, help="toy random seed (default 1)")
    parser.add_argument("--repeats", type=int, default=16, help="repeats of the real-file baseline (default 16)")
    parser.add_argument("--toy-repeats", type=int, default=3, help="repeats of each toy measurement (default 3)")
    parser.add_argument("--data-dir", type=Path, default=None, help="shared data folder (default: trigger.paths.data_dir())")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.repeats < 2 or args.toy_repeats < 1 or args.n_events < 1:
        parser.error("need --repeats >= 2, --toy-repeats >= 1, --n-events >= 1")
    progress = not args.no_progress

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("ctapipe", "eventio", "traitlets", "trigger"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="ctapipe")
    warnings.filterwarnings("ignore", module="eventio")

    meta = run_metadata()
    load_start = os.getloadavg()[0]
    baseline_path = data_dir(args.data_dir) / "simtel" / BASELINE_FILE
    result = {"metadata": meta, "n_events": args.n_events, "seed": args.seed, "toy_repeats": args.toy_repeats, "toy": {}}
    with tempfile.TemporaryDirectory(prefix="simulation_speed_") as tmp:
        work = Path(tmp)
        # warm up imports and caches (instrument files, numba kernels of ctapipe) outside the timings
        process_events(ToyEventSource(particle="gamma", n_events=2, seed=args.seed), work / "warmup.h5", progress=False)
        convert_simtel(baseline_path, work / "warmup_real.h5", progress=False, max_events=1)
        log.info("baseline: %s", BASELINE_FILE)
        first_half = (args.repeats + 1) // 2
        runs = time_baseline(baseline_path, work, first_half, progress, label="baseline (before)")
        for name, extra in TOY_SETS.items():
            kwargs = {"n_events": args.n_events, "seed": args.seed, **extra}
            alone, chain = [], []
            for _ in range(args.toy_repeats):
                log.info("toy %s: simulation alone", name)
                alone.append(time_toy_alone(kwargs, progress))
                log.info("toy %s: full chain to HDF5", name)
                chain.append(time_full_chain(kwargs, work, progress))
            alone, chain = summarize_runs(alone), summarize_runs(chain)
            if (alone["events"], alone["telescope_events"]) != (chain["events"], chain["telescope_events"]):
                raise RuntimeError(f"{name}: (a) and (b) simulated different events: {alone} vs {chain}")
            result["toy"][name] = {"settings": {k: str(v) for k, v in kwargs.items()}, "alone": alone, "chain": chain}
        runs = time_baseline(baseline_path, work, args.repeats - first_half, progress, runs=runs, label="baseline (after)")
        result["baseline"] = baseline_summary(baseline_path, runs)
    result["load_average"] = {"start": load_start, "end": os.getloadavg()[0]}

    base = result["baseline"]
    for res in result["toy"].values():
        for key in ("alone", "chain"):
            for clock in ("wall", "cpu"):
                rate = res[key][f"telescope_events_per_{clock}_s"]
                res[key][f"ratio_to_baseline_{clock}"] = rate / base["full"][f"telescope_events_per_{clock}_s"]
                res[key][f"ratio_to_marginal_baseline_{clock}"] = rate / base[f"marginal_telescope_events_per_{clock}_s"]

    args.output.mkdir(parents=True, exist_ok=True)
    write_json(args.output / "simulation_speed.json", result)
    write_markdown(result, args.output / "simulation_speed.md")
    for name, res in result["toy"].items():
        log.info(
            "%s (wall clock): (a) %.1f tel.ev/s, (b) %.1f tel.ev/s = %.2fx baseline (%.1f tel.ev/s), %.2fx marginal (%.1f)",
            name, res["alone"]["telescope_events_per_wall_s"], res["chain"]["telescope_events_per_wall_s"],
            res["chain"]["ratio_to_baseline_wall"], base["full"]["telescope_events_per_wall_s"],
            res["chain"]["ratio_to_marginal_baseline_wall"], base["marginal_telescope_events_per_wall_s"],
        )
    log.info("wrote %s and %s", args.output / "simulation_speed.md", args.output / "simulation_speed.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
