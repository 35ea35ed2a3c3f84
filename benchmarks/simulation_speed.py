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
        python benchmarks/simulation_speed.py --output docs/ [--n-events N] [--seed S] [--repeats R]
"""

import argparse
import json
import logging
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


def time_toy_alone(kwargs, progress):
    """(a): iterate the event source; returns counts and seconds (construction timed separately)."""
    t0 = time.perf_counter()
    source = ToyEventSource(**kwargs)
    t_init = time.perf_counter() - t0
    n_events = n_tel = 0
    t0 = time.perf_counter()
    for event in tqdm(source, total=source.n_events, desc=f"(a) toy {source.particle}", unit="ev", disable=not progress):
        n_events += 1
        n_tel += len(event.trigger.tels_with_trigger)
    seconds = time.perf_counter() - t0
    return {
        "init_s": t_init,
        "seconds": seconds,
        "events": n_events,
        "telescope_events": n_tel,
        "events_per_s": n_events / seconds,
        "telescope_events_per_s": n_tel / seconds,
        "description": describe(source),
    }


def time_full_chain(kwargs, work, progress):
    """(b): ToyEventSource -> process_events -> HDF5."""
    t0 = time.perf_counter()
    source = ToyEventSource(**kwargs)
    t_init = time.perf_counter() - t0
    path = work / f"{source.particle}.dl1.h5"
    t0 = time.perf_counter()
    counts = process_events(source, path, overwrite=True, progress=progress)
    seconds = time.perf_counter() - t0
    return {
        "init_s": t_init,
        "seconds": seconds,
        "events": counts["events"],
        "telescope_events": counts["telescope_events"],
        "events_per_s": counts["events"] / seconds,
        "telescope_events_per_s": counts["telescope_events"] / seconds,
        "file_mb": path.stat().st_size / 1e6,
    }


def time_baseline(path, work, repeats, progress):
    """convert_simtel on the real file (whole file, and first event only), plus reading alone; medians of repeats."""
    with SimTelEventSource(path, focal_length_choice="EQUIVALENT", max_events=1) as probe:
        lsts = lst_tel_ids(probe.subarray)

    def read_only():
        n = n_tel = 0
        with SimTelEventSource(path, focal_length_choice="EQUIVALENT", allowed_tels=set(lsts)) as source:
            for event in source:
                n += 1
                n_tel += len(event.trigger.tels_with_trigger)
        return {"events": n, "telescope_events": n_tel}

    runs = {"full": [], "first_event": [], "read_only": []}
    counts = {}
    for i in tqdm(range(repeats), desc="baseline convert_simtel", unit="rep", disable=not progress):
        for name, kwargs in (("full", {}), ("first_event", {"max_events": 1})):
            t0 = time.perf_counter()
            counts[name] = convert_simtel(path, work / f"real_{name}_{i}.dl1.h5", overwrite=True, progress=False, **kwargs)
            runs[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        counts["read_only"] = read_only()
        runs["read_only"].append(time.perf_counter() - t0)
    med = {name: float(np.median(times)) for name, times in runs.items()}
    full, first = counts["full"], counts["first_event"]
    d_tel = full["telescope_events"] - first["telescope_events"]
    d_ev = full["events"] - first["events"]
    d_t = med["full"] - med["first_event"]
    return {
        "file": path.name,
        "repeats": repeats,
        "times_s": runs,
        "median_s": med,
        "counts": counts,
        "telescope_events_per_s": full["telescope_events"] / med["full"],
        "events_per_s": full["events"] / med["full"],
        "read_only_telescope_events_per_s": counts["read_only"]["telescope_events"] / med["read_only"],
        "marginal_telescope_events_per_s": d_tel / d_t if d_t > 0 else float("nan"),
        "marginal_events_per_s": d_ev / d_t if d_t > 0 else float("nan"),
        "fixed_cost_s": med["full"] - full["telescope_events"] / (d_tel / d_t) if d_t > 0 else float("nan"),
    }


def write_markdown(result, output):
    meta, base = result["metadata"], result["baseline"]
    ref, ref_marg = base["telescope_events_per_s"], base["marginal_telescope_events_per_s"]
    lines = ["# Toy simulation speed on this machine", ""]
    lines += ["Generated by `benchmarks/simulation_speed.py`; every number below is measured by the script.", ""]
    lines += metadata_markdown(meta)
    lines += [f"- settings: {result['n_events']} events per data set, seed {result['seed']}, baseline repeated {base['repeats']} times (median)", ""]

    lines += [
        "## Toy simulation",
        "",
        "(a) = iterating `ToyEventSource` alone (showers, photons, camera response, R1 waveforms);",
        "(b) = the full chain `trigger.io.process_events` (calibration, image parameters, HDF5 writing), as",
        "`trigger-synth simulate` runs it. Source construction is timed separately (`init`). Ratios are telescope",
        "events per second divided by the sim_telarray baseline's (below); 'marginal' uses the baseline without its",
        "fixed start-up cost.",
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
            f"| {name} ({a['description']}) | {b['events']} | {b['telescope_events']} | {a['events_per_s']:.1f} | "
            f"{a['telescope_events_per_s']:.1f} | {b['events_per_s']:.1f} | {b['telescope_events_per_s']:.1f} | "
            f"{b['file_mb']:.1f} | {a['init_s']:.2f} | {a['telescope_events_per_s'] / ref:.2f} | "
            f"{b['telescope_events_per_s'] / ref:.2f} | {b['telescope_events_per_s'] / ref_marg:.2f} |"
        )
    lines += [
        "",
        "## Baseline: real sim_telarray events through the same chain",
        "",
        f"`trigger.io.convert_simtel` on `{base['file']}` (SimTelEventSource, LSTs only, then `process_events`).",
        "",
        "| measurement | events | tel. events | median time [s] | events/s | tel. ev/s |",
        "|---|---|---|---|---|---|",
    ]
    c, m = base["counts"], base["median_s"]
    lines.append(
        f"| convert_simtel, whole file (baseline) | {c['full']['events']} | {c['full']['telescope_events']} | {m['full']:.3f} | "
        f"{base['events_per_s']:.1f} | {base['telescope_events_per_s']:.1f} |"
    )
    lines.append(
        f"| convert_simtel, first event only | {c['first_event']['events']} | {c['first_event']['telescope_events']} | "
        f"{m['first_event']:.3f} | - | - |"
    )
    lines.append(
        f"| marginal (whole - first event) | {c['full']['events'] - c['first_event']['events']} | "
        f"{c['full']['telescope_events'] - c['first_event']['telescope_events']} | {m['full'] - m['first_event']:.3f} | "
        f"{base['marginal_events_per_s']:.1f} | {base['marginal_telescope_events_per_s']:.1f} |"
    )
    lines.append(
        f"| SimTelEventSource reading alone | {c['read_only']['events']} | {c['read_only']['telescope_events']} | "
        f"{m['read_only']:.3f} | - | {base['read_only_telescope_events_per_s']:.1f} |"
    )
    lines += [
        "",
        "Fixed start-up cost of one `convert_simtel` call (opening the file twice, building the calibrator, image",
        f"processor and writer, closing the file): about {base['fixed_cost_s']:.2f} s. The whole real file holds only",
        f"{c['full']['telescope_events']} LST telescope events, so this cost dominates the baseline; the toy runs (b) pay",
        "it once for all their events. The marginal baseline is the fairer per-event reference.",
        "",
        "Raw times per repeat [s]: "
        + "; ".join(f"{k}: " + ", ".join(f"{t:.3f}" for t in v) for k, v in base["times_s"].items()),
        "",
    ]
    output.write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path("docs"), help="folder for simulation_speed.md/.json")
    parser.add_argument("--n-events", type=int, default=300, help="events per toy data set (default 300)")
    parser.add_argument("--seed", type=int, default=1, help="toy random seed (default 1)")
    parser.add_argument("--repeats", type=int, default=15, help="repeats of the real-file baseline (default 15)")
    parser.add_argument("--data-dir", type=Path, default=None, help="shared data folder (default: trigger.paths.data_dir())")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    progress = not args.no_progress

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("ctapipe", "eventio", "traitlets", "trigger"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="ctapipe")
    warnings.filterwarnings("ignore", module="eventio")

    meta = run_metadata()
    baseline_path = data_dir(args.data_dir) / "simtel" / BASELINE_FILE
    result = {"metadata": meta, "n_events": args.n_events, "seed": args.seed, "toy": {}}
    with tempfile.TemporaryDirectory(prefix="simulation_speed_") as tmp:
        work = Path(tmp)
        # warm up imports and caches (instrument files, numba kernels of ctapipe) outside the timings
        process_events(ToyEventSource(particle="gamma", n_events=2, seed=args.seed), work / "warmup.h5", progress=False)
        log.info("baseline: %s", BASELINE_FILE)
        result["baseline"] = time_baseline(baseline_path, work, args.repeats, progress)
        for name, extra in TOY_SETS.items():
            kwargs = {"n_events": args.n_events, "seed": args.seed, **extra}
            log.info("toy %s: simulation alone", name)
            alone = time_toy_alone(kwargs, progress)
            log.info("toy %s: full chain to HDF5", name)
            chain = time_full_chain(kwargs, work, progress)
            if (alone["events"], alone["telescope_events"]) != (chain["events"], chain["telescope_events"]):
                raise RuntimeError(f"{name}: (a) and (b) simulated different events: {alone} vs {chain}")
            result["toy"][name] = {"settings": {k: str(v) for k, v in kwargs.items()}, "alone": alone, "chain": chain}

    base = result["baseline"]
    for res in result["toy"].values():
        for key in ("alone", "chain"):
            res[key]["ratio_to_baseline"] = res[key]["telescope_events_per_s"] / base["telescope_events_per_s"]
            res[key]["ratio_to_marginal_baseline"] = res[key]["telescope_events_per_s"] / base["marginal_telescope_events_per_s"]

    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "simulation_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, args.output / "simulation_speed.md")
    for name, res in result["toy"].items():
        log.info(
            "%s: (a) %.1f tel.ev/s, (b) %.1f tel.ev/s = %.2fx baseline (%.1f tel.ev/s), %.2fx marginal baseline (%.1f)",
            name, res["alone"]["telescope_events_per_s"], res["chain"]["telescope_events_per_s"], res["chain"]["ratio_to_baseline"],
            base["telescope_events_per_s"], res["chain"]["ratio_to_marginal_baseline"], base["marginal_telescope_events_per_s"],
        )
    log.info("wrote %s and %s", args.output / "simulation_speed.md", args.output / "simulation_speed.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
