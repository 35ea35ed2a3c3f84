"""The toy simulation against sim_telarray, shower by shower, on real sim_telarray files.

Every shower stored in each real file (within --max-impact of an LST) is
re-simulated --repeats times by the toy at the same primary, energy,
direction, core, LST positions, pointing, observation level and NSB
(``trigger-synth simulate --showers-from``). Real and toy LST images of the
same showers and telescopes are then compared (see
trigger/simulation/validation.py for the selection and the statistics):
true image size, width and length, the fraction of LSTs with an image, and
after calibration and cleaning intensity, width, length, length/width, the
signed time gradient and the fraction surviving cleaning; in bins of impact
distance and of energy, per file and pooled per particle.

    CTAPIPE_SVC_PATH=../shared/data/instrument python benchmarks/validate_simulation_matched.py --output docs/

writes docs/simulation_matched.{md,json,png}. The "Done when" criteria of the
simulation-fidelity work are evaluated at the end of the report.
"""

import argparse
import dataclasses
import json
import logging
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from trigger.instrument import LSTInstrument
from trigger.io import convert_simtel
from trigger.paths import data_dir
from trigger.simulation.showers import DEFAULT_SHOWER_MODEL, SHOWER_MODELS
from trigger.simulation.validation import (
    ENERGY_BINS_TEV,
    IMPACT_BINS,
    MIN_CLEANED_PE,
    compare,
    impact_distance,
    matched_run,
    real_images,
    simtel_threshold,
    toy_images,
    trigger_decisions,
)

DEFAULT_FILES = (
    "gamma_run000007_za40deg_azm180deg_South_subsystem_lsts_7.0.0_test.simtel.zst",
    "test_lasercal_v3.simtel.gz",
    "proton_run000001_za20deg_azm180deg_North_CTAO-North-Alpha_7.0.0_test.simtel.zst",
    "proton_run202_za20deg_azm0deg_North_test_layout_test-prod.simtel.zst",
    "proton_run000201_za20deg_azm000deg_North_alpha_6.0.0_test_file.simtel.zst",
    "proton_run000201_za20deg_azm000deg_North_6.0.0_qgsjet3.simtel.zst",
)
# (name, label, kind, sample): sample "true" = images >= floor on both sides, "cleaned" = read-out LSTs,
# cleaned with >= MIN_CLEANED_PE p.e., "all" = every LST x shower (fractions)
QUANTITIES = (
    ("image_fraction", "LSTs with a true image >= floor", "difference", "all"),
    ("true_size", "true image size [p.e.]", "ratio", "true"),
    ("true_width", "true Hillas width [deg]", "ratio", "true"),
    ("true_length", "true Hillas length [deg]", "ratio", "true"),
    ("cleaned", "read-out LSTs surviving cleaning", "difference", "readout"),
    ("intensity", "cleaned intensity [p.e.]", "ratio", "cleaned"),
    ("width", "cleaned Hillas width [deg]", "ratio", "cleaned"),
    ("length", "cleaned Hillas length [deg]", "ratio", "cleaned"),
    ("length_over_width", "cleaned length / width", "ratio", "cleaned"),
    ("time_gradient", "time gradient, + = later away from the source [ns/deg]", "difference", "cleaned"),
)
# the simulation-fidelity criteria: ratio within 1 +- 0.15 (or 2 standard errors) ...
CRITERIA = {"true_size": 0.15, "true_width": 0.15, "true_length": 0.15, "intensity": 0.15, "width": 0.15,
            "length": 0.15}
PROTON_FRACTION_TOLERANCE = 0.2  # ... and the proton image fraction within 1 +- 0.2 (as a ratio)
MIN_TRIGGER_AGREEMENT = 0.95  # ... and the analog sum agrees with sim_telarray on 95 % of LST images
THRESHOLD_OFFSETS = range(-12, 10)  # counts around each image's threshold, for the scan

log = logging.getLogger("validate_simulation_matched")


def _git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def file_samples(path, work, repeats, seed, max_impact, lon, lat, model=None):
    """Real and toy samples of one file: its description, dicts of per-image arrays with a 'pair' key, and the run."""
    toy_path = work / f"{path.name}.toy.dl1.h5"
    real_path = work / f"{path.name}.real.dl1.h5"
    t0 = time.perf_counter()
    run, near = matched_run(path, toy_path, repeats=repeats, seed=seed, max_impact=max_impact, model=model)
    t_toy = time.perf_counter() - t0
    if not real_path.exists():
        convert_simtel(path, real_path, progress=False)
    real = real_images(near, real_path, lon, lat)
    toy = toy_images(near, toy_path, lon, lat)

    # every (shower, LST) of the near showers, for the fraction of LSTs with an image
    tel_ids = np.array(near.tel_ids)
    ev = np.repeat([s.event_id for s in near.showers], len(tel_ids))
    tel = np.tile(tel_ids, len(near.showers))
    pos = np.array([near.subarray.positions[int(t)].to_value("m") for t in tel]).reshape(-1, 3)
    by_id = {s.event_id: s for s in near.showers}
    sh = [by_id[int(e)] for e in ev]
    impact = impact_distance([s.alt for s in sh], [s.az for s in sh], [s.core_x for s in sh], [s.core_y for s in sh], pos)
    energy = np.array([s.energy for s in sh]) / 1000.0
    floor = max(run.store_pe, 1.0)
    pair_all = ev.astype(np.int64) * 1000 + tel
    real_size = dict(zip(real.pair.tolist(), real.values["true_size"]))
    toy_size = {}
    for p, r, s in zip(toy.pair.tolist(), toy.values["repeat"], toy.values["true_size"]):
        toy_size[(p, int(r))] = s
    all_real = {"pair": pair_all, "impact": impact, "energy": energy,
                "image_fraction": np.array([real_size.get(p, 0.0) >= floor for p in pair_all.tolist()], float)}
    rep = np.arange(repeats)
    toy_pairs = np.repeat(pair_all, repeats)
    all_toy = {"pair": toy_pairs, "impact": np.repeat(impact, repeats), "energy": np.repeat(energy, repeats),
               "image_fraction": np.array([toy_size.get((p, r), 0.0) >= floor
                                           for p, r in zip(toy_pairs.tolist(), np.tile(rep, len(pair_all)).tolist())],
                                          float)}

    def sample(images, which):
        v = images.values
        if which == "true":
            keep = v["true_size"] >= floor
        elif which == "readout":
            keep = np.isin(images.pair, real.pair[real.values["read_out"] > 0])
        else:
            keep = np.isin(images.pair, real.pair[real.values["read_out"] > 0]) & (v["cleaned"] > 0)
        out = {k: np.asarray(a)[keep] for k, a in v.items()}
        out["pair"] = images.pair[keep]
        return out

    samples = {"all": (all_real, all_toy)}
    for which in ("true", "readout", "cleaned"):
        samples[which] = (sample(real, which), sample(toy, which))
    meta = {
        "file": path.name,
        "particle": run.particle,
        "obs_id": run.obs_id,
        "zenith_deg": round(90 - run.pointing_alt.to_value("deg"), 1),
        "energy_tev": [round(float(energy.min()), 4), round(float(energy.max()), 4)] if len(energy) else None,
        "showers_stored": len(run.showers),
        "showers_near": len(near.showers),
        "lsts": [int(t) for t in tel_ids],
        "floor_pe": floor,
        "nsb_ghz": run.nsb_rate.to_value("GHz") if run.nsb_rate is not None else None,
        "real_images": int(len(real)),
        "real_read_out": int(np.sum(real.values["read_out"])),
        "toy_images": int(len(toy)),
        "toy_seconds": round(t_toy, 1),
    }
    return meta, samples, run


def _bins():
    out = [(f"impact {lo:.0f}-{hi:.0f} m", "impact", lo, hi) for lo, hi in IMPACT_BINS]
    edges = ENERGY_BINS_TEV
    out += [(f"E {edges[i]:g}-{edges[i + 1]:g} TeV", "energy", edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
    out.append(("all", None, None, None))
    return out


def comparisons(samples, rng):
    rows = []
    for name, _label, kind, which in QUANTITIES:
        real, toy = samples[which]
        statistic = np.mean if name in ("image_fraction", "cleaned") else np.median
        for label, column, lo, hi in _bins():
            if column is None:
                r_keep, t_keep = np.ones(len(real["pair"]), bool), np.ones(len(toy["pair"]), bool)
            else:
                r_keep = (real[column] >= lo) & (real[column] < hi)
                t_keep = (toy[column] >= lo) & (toy[column] < hi)
            if not r_keep.any():
                continue
            c = compare(name, real["pair"][r_keep], real[name][r_keep], toy["pair"][t_keep], toy[name][t_keep],
                        bin_label=label, kind=kind, statistic=statistic, rng=rng, shower_of=shower_of)
            rows.append(c)
    return rows


def shower_of(pair):
    """The CORSIKA shower of a (shower, LST) pair key (event_id * 1000 + tel_id, plus a per-file offset of 10**15 when
    pooled): sim_telarray's event_id is 100 x the CORSIKA shower + the reuse, and the reuses of one shower (its cores)
    share its energy and development."""
    return np.asarray(pair) // 1000 // 100


def pool(samples_list):
    """Concatenate samples of several files (pairs made unique per file)."""
    pooled = {}
    for offset, samples in enumerate(samples_list):
        for which, (real, toy) in samples.items():
            pr, pt = pooled.setdefault(which, ({}, {}))
            for target, source in ((pr, real), (pt, toy)):
                for k, a in source.items():
                    a = np.asarray(a)
                    if k == "pair":
                        a = a + offset * 10**15
                    target.setdefault(k, []).append(a)
    return {w: tuple({k: np.concatenate(v) for k, v in side.items()} for side in sides) for w, sides in pooled.items()}


def fmt(c):
    if not np.isfinite(c.value):
        return "-"
    err = f" +- {c.error:.2f}" if np.isfinite(c.error) else ""
    return f"{c.value:.2f}{err} (n={c.n_real}/{c.n_toy})"


def verdicts(pooled_rows):
    """The simulation-fidelity criteria, per particle, on the pooled comparison."""
    out = []
    for particle, rows in pooled_rows.items():
        by = {(c.quantity, c.bin): c for c in rows}
        for name, tolerance in CRITERIA.items():
            bins = [b for b, *_ in _bins() if b.startswith("impact")] if name == "true_size" else ["all"]
            for b in bins:
                c = by.get((name, b))
                if c is None:
                    continue
                out.append({"particle": particle, "quantity": name, "bin": b, "value": c.value, "error": c.error,
                            "n_real": c.n_real, "holds": bool(c.holds(tolerance))})
        c = by.get(("image_fraction", "all"))
        if particle == "proton" and c is not None and c.real > 0:
            ratio = c.toy / c.real
            out.append({"particle": particle, "quantity": "image_fraction (toy/real)", "bin": "all", "value": ratio,
                        "error": c.error / c.real if np.isfinite(c.error) else np.nan, "n_real": c.n_real,
                        "holds": bool(abs(ratio - 1) <= PROTON_FRACTION_TOLERANCE
                                      or abs(ratio - 1) <= 2 * c.error / c.real)})
    return out


def plot(pooled_rows, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [q for q in QUANTITIES]
    fig, axes = plt.subplots(2, 5, figsize=(20, 7), sharex=True)
    labels = [f"{lo:.0f}-{hi:.0f}" for lo, hi in IMPACT_BINS] + ["all"]
    for ax, (name, label, kind, _) in zip(axes.ravel(), names):
        for shift, (particle, rows) in zip((-0.1, 0.1), pooled_rows.items()):
            by = {c.bin: c for c in rows if c.quantity == name}
            keys = [f"impact {lab} m" for lab in labels[:-1]] + ["all"]
            x = np.arange(len(keys)) + shift
            y = [by[k].value if k in by else np.nan for k in keys]
            e = [by[k].error if k in by else np.nan for k in keys]
            ax.errorbar(x, y, yerr=e, fmt="o", label=particle, capsize=3)
        centre = 1.0 if kind == "ratio" else 0.0
        ax.axhline(centre, color="k", lw=0.8)
        if kind == "ratio":
            ax.axhspan(0.85, 1.15, color="g", alpha=0.1)
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("toy / real" if kind == "ratio" else "toy - real")
        ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=8)
    axes[0, 0].legend()
    fig.supxlabel("impact distance [m]")
    fig.tight_layout()
    tmp = output.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=90)
    tmp.rename(output)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="sim_telarray files (default: the shared real files)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-impact", type=float, default=600.0)
    parser.add_argument("--output", type=Path, default=Path("docs"))
    parser.add_argument("--name", default="simulation_matched")
    parser.add_argument("--work", type=Path, default=None, help="folder for the DL1 files (default: a temporary one)")
    parser.add_argument("--model", type=_model, default=None, metavar="NAME|JSON",
                        help="a named parameter set of the toy (v1, v2: SHOWER_MODELS in trigger/simulation/showers.py; "
                             f"default {DEFAULT_SHOWER_MODEL}) or ShowerModel parameters to change relative to v1, "
                             "e.g. '{\"psf_deg\": 0.035}' (calibration scans)")
    parser.add_argument("--asum-threshold", type=int, default=None,
                        help="one analog-sum threshold [counts] for every LST, compared with sim_telarray's decisions "
                             "(default: each file's own configured asum_threshold per LST, from its history, "
                             "translated into counts on aux_traces_2030: simtel_threshold in "
                             "trigger/simulation/validation.py)")
    parser.add_argument("--trigger-trace-ns", type=float, default=None, metavar="NS",
                        help="let the analog sum watch a trace this long around the light (default: the readout's "
                             "40 ns, what the project's trigger sees; sim_telarray's discriminator watches disc_bins, "
                             "68 ns for LSTN-01)")
    args = parser.parse_args(argv)
    if args.trigger_trace_ns is not None and not 1 <= args.trigger_trace_ns <= 1000:
        parser.exit(2, f"error: --trigger-trace-ns must be 1-1000 ns, got {args.trigger_trace_ns}\n")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore")
    files = args.files or [data_dir() / "simtel" / f for f in DEFAULT_FILES]
    translated = simtel_threshold()
    threshold = translated if args.asum_threshold is None else args.asum_threshold
    instrument = LSTInstrument()
    lon, lat = instrument.pixel_fov
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        metas, per_file, by_particle, decisions = [], {}, {}, []
        for path in files:
            log.info("%s ...", path.name)
            meta, samples, run = file_samples(path, work, args.repeats, args.seed, args.max_impact, lon, lat,
                                              model=args.model)
            metas.append(meta)
            decisions.append(trigger_decisions(run, threshold, seed=args.seed, trace_ns=args.trigger_trace_ns))
            # each LST's configured threshold in mV and in counts (what the comparison uses unless overridden)
            meta["asum_threshold"] = {int(t): [run.asum_threshold_mv.get(int(t)), translated.counts_of(run, int(t))]
                                      for t in np.unique(decisions[-1].tel_id)}
            per_file[path.name] = comparisons(samples, rng)
            by_particle.setdefault(meta["particle"], []).append(samples)
    pooled_rows = {p: comparisons(pool(s), rng) for p, s in by_particle.items()}
    trigger = trigger_summary(files, decisions, args.asum_threshold)
    trigger["simtel_threshold"] = dataclasses.asdict(translated)
    runtime = time.perf_counter() - t0
    checks = verdicts(pooled_rows)
    checks.append({"particle": "all", "quantity": "analog-sum decisions agreeing with sim_telarray", "bin": "all",
                   "value": trigger["agreement"], "error": trigger["agreement_error"], "n_real": trigger["images"],
                   "holds": bool(trigger["agreement"] >= MIN_TRIGGER_AGREEMENT)})

    args.output.mkdir(parents=True, exist_ok=True)
    header = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "machine": f"{platform.node()}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores",
        "python": sys.version.split()[0],
        "command": "python benchmarks/validate_simulation_matched.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "git_commit": _git_commit(),
        "repeats": args.repeats,
        "seed": args.seed,
        "runtime_s": round(runtime, 1),
        "model": args.model or DEFAULT_SHOWER_MODEL,
        "trigger_trace_ns": args.trigger_trace_ns or instrument.n_samples / instrument.sampling_rate.to_value("GHz"),
    }
    result = {
        **header,
        "files": metas,
        "pooled": {p: [c.__dict__ for c in rows] for p, rows in pooled_rows.items()},
        "per_file": {f: [c.__dict__ for c in rows] for f, rows in per_file.items()},
        "criteria": checks,
        "trigger": trigger,
    }
    (args.output / f"{args.name}.json").write_text(json.dumps(result, indent=1, default=float) + "\n")
    plot(pooled_rows, args.output / f"{args.name}.png")
    write_markdown(args.output / f"{args.name}.md", header, metas, pooled_rows, per_file, checks, trigger)
    print((args.output / f"{args.name}.md").read_text())


def _model(text):
    if text in SHOWER_MODELS:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise argparse.ArgumentTypeError(f"neither a shower model ({', '.join(SHOWER_MODELS)}) nor JSON: {text}") from None


def trigger_summary(files, decisions, threshold=None):
    """Agreement of the project's analog sum (on sim_telarray's own p.e.) with sim_telarray's telescope triggers, at
    the thresholds the decisions carry (each LST's configured one, or ``threshold`` for all) and offsets from them."""
    observable = np.concatenate([d.observable for d in decisions])
    sums = np.concatenate([d.max_group_sum for d in decisions])[observable]
    fired = np.concatenate([d.simtel_triggered for d in decisions])[observable]
    n = len(sums)

    def agreement(offset):
        return float(np.concatenate([d.agreement_per_image(offset=offset) for d in decisions]).mean())

    agree = agreement(0) if n else np.nan
    scan = {int(o): agreement(o) for o in THRESHOLD_OFFSETS} if n else {}
    best = max(scan.values()) if scan else np.nan
    disagreements = []
    for path, d in zip(files, decisions):
        per_image = np.full(len(d.event_id), np.nan)
        per_image[d.observable] = d.agreement_per_image()
        for i in np.flatnonzero(per_image < 1):
            disagreements.append({"file": Path(path).name, "event_id": int(d.event_id[i]), "tel_id": int(d.tel_id[i]),
                                  "true_size": float(d.true_size[i]),
                                  "max_group_sum": [int(g) for g in d.max_group_sum[i]],
                                  "threshold": int(d.threshold[i]),
                                  "disagreeing_draws": float(1 - per_image[i]),
                                  "simtel_triggered": bool(d.simtel_triggered[i])})
    return {
        "threshold": "configured per LST" if threshold is None else int(threshold),
        "images": int(n),
        "images_not_observable": int(len(observable) - n),
        "draws": int(sums.shape[1]) if n else 0,
        "agreement": agree,
        "agreement_error": float(np.sqrt(agree * (1 - agree) / n)) if n else np.nan,
        "self_agreement": (float(np.average([d.self_agreement() for d in decisions],
                                            weights=[d.observable.sum() for d in decisions])) if n else np.nan),
        "scan": scan,
        "best_offsets": [t for t, a in scan.items() if a == best],
        "best_agreement": best,
        "disagreements": disagreements,
        "simtel_fired_min_sum": int(np.median(sums[fired], axis=1).min()) if fired.any() else None,
        "simtel_quiet_max_sum": int(np.median(sums[~fired], axis=1).max()) if (~fired).any() else None,
    }


def write_markdown(path, header, metas, pooled_rows, per_file, checks, trigger):
    t = trigger["simtel_threshold"]
    where = (f"{trigger['threshold']} counts for every LST" if isinstance(trigger["threshold"], int)
             else "each LST's configured threshold")
    configured = "; ".join(f"`{m['file'][:40]}` " + ", ".join(sorted({f"{mv:g} mV -> {c}" for mv, c in m["asum_threshold"].values()
                                                                    if mv is not None}))
                           for m in metas if m.get("asum_threshold"))
    lines = [
        "# Toy simulation vs sim_telarray, shower by shower (matched-geometry re-simulation)",
        "",
        "Generated by `benchmarks/validate_simulation_matched.py`; every number below is computed by the script.",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in header.items()]
    lines += [
        "",
        f"![per quantity, toy against real, pooled per particle]({path.with_suffix('.png').name})",
        "",
        "## Files",
        "",
        "| file | particle | zenith | energy [TeV] | showers stored / within reach | LSTs | floor [p.e.] | real images"
        " (read out) | toy images | toy time [s] |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in metas:
        lines.append(f"| `{m['file']}` | {m['particle']} | {m['zenith_deg']} | {m['energy_tev']} | "
                     f"{m['showers_stored']} / {m['showers_near']} | {m['lsts']} | {m['floor_pe']:.0f} | "
                     f"{m['real_images']} ({m['real_read_out']}) | {m['toy_images']} | {m['toy_seconds']} |")
    lines += [
        "",
        "How to read: each real LST image is compared with the toy's images of the same shower and telescope"
        " (`repeats` each). Ratio = toy median / real median (toy mean - real mean for fractions, toy median -"
        " real median for the time gradient), `+-` one bootstrap standard error, resampling the real showers (each"
        " with all its LST images and their toy repeats: the images of one shower are not independent),"
        " `n` = real / toy images. True quantities: images with at least the floor (sim_telarray's"
        f" STORE_PHOTOELECTRONS) on both sides. Cleaned quantities: LSTs sim_telarray read out, images surviving"
        f" ctapipe's default tailcuts with at least {MIN_CLEANED_PE:.0f} p.e., on both sides.",
        "",
        "## Criteria (pooled per particle)",
        "",
        "| particle | quantity | bin | toy vs real | real images | holds (1 +- 0.15, or within 2 errors) |",
        "|---|---|---|---|---|---|",
    ]
    for c in checks:
        lines.append(f"| {c['particle']} | {c['quantity']} | {c['bin']} | {c['value']:.2f} +- {c['error']:.2f} |"
                     f" {c['n_real']} | {'yes' if c['holds'] else '**no**'} |")
    lines += [
        "",
        "## Analog-sum trigger on sim_telarray's own photo-electrons",
        "",
        "Each LST true image (p.e. pixel and time, as sim_telarray stored them) goes through the project's camera"
        " response, trigger input and analog sum (`trigger_decisions` in trigger/simulation/validation.py);"
        " sim_telarray's decision is its list of triggered telescopes in the array-triggered events (only they"
        " carry one). Where LSTs trigger only in pairs (the LSTs' hardware stereo trigger of `array_triggers.dat`;"
        " a run that ever lists a lone LST had none) and no LST of the event is listed, a lone LST that triggered"
        " looks like one that did not: those images are left out. The analog sum watches"
        f" {header['trigger_trace_ns']:g} ns of signal around the light (the readout's 40 ns unless"
        " `--trigger-trace-ns`). The project's camera draws its NSB"
        f" {trigger['draws']} times per image; the agreement is the mean over images and draws, its error"
        " binomial over the images.",
        "",
        f"- sim_telarray's analog sum is {t['mv_per_pe_sample']:.2f} +- {t['error']:.2f} mV per p.e. per sample of"
        f" the project's group sum at a p.e. amplitude of {t['discriminator_amplitude_mv']:.1f} mV (sim_telarray's"
        f" own analog-sum traces of `aux_traces_2030` against the project's camera on the same photo-electrons,"
        f" {t['n_groups']} bright groups): its asum_threshold {t['asum_threshold_mv']:.1f} mV there is"
        f" {t['threshold_pe']:.2f} p.e. per sample = {t['threshold_counts']:.1f} counts of the project's trigger"
        " input. " + (f"Every LST is compared at {trigger['threshold']} counts (`--asum-threshold`); the files'"
                      f" configured asum_threshold would give: {configured}." if isinstance(trigger["threshold"], int) else
                      "Each file's LSTs are compared at their own configured asum_threshold (from the file's history;"
                      f" productions differ), in counts by the same scale: {configured}."),
        f"- {trigger['images']} LST images ({trigger['images_not_observable']} more not observable); at"
        f" {where} the decisions agree on {trigger['agreement']:.3f} +- {trigger['agreement_error']:.3f}. Two independent NSB"
        f" draws of the project agree with each other on {trigger['self_agreement']:.3f}: the most any model can"
        " agree with sim_telarray's single draw of the same images.",
        f"- Smallest project group sum (median over draws) among images sim_telarray triggered:"
        f" {trigger['simtel_fired_min_sum']} counts; largest among images it did not trigger:"
        f" {trigger['simtel_quiet_max_sum']} counts.",
        f"- Best agreement {trigger['best_agreement']:.3f} at offsets {trigger['best_offsets']} counts from those"
        " thresholds.",
        "",
        "| offset from the threshold [counts] | " + " | ".join(f"{o:+d}" for o in trigger["scan"]) + " |",
        "|---|" + "---|" * len(trigger["scan"]),
        "| agreement | " + " | ".join(f"{a:.3f}" for a in trigger["scan"].values()) + " |",
        "",
        "Images where some draws disagree at the project's threshold:",
        "",
        "| file | event | LST | true size [p.e.] | threshold [counts] | project max group sum per draw |"
        " draws disagreeing | sim_telarray listed it |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in trigger["disagreements"]:
        lines.append(f"| `{d['file'][:40]}` | {d['event_id']} | {d['tel_id']} | {d['true_size']:.0f} |"
                     f" {d['threshold']} | {', '.join(str(g) for g in d['max_group_sum'])} |"
                     f" {d['disagreeing_draws']:.0%} | {'yes' if d['simtel_triggered'] else 'no'} |")
    for title, table in [("Pooled per particle", pooled_rows), *[(f"File `{f}`", {"": r}) for f, r in per_file.items()]]:
        lines += ["", f"## {title}", ""]
        for particle, rows in table.items():
            bins = [b for b, *_ in _bins() if any(c.bin == b for c in rows)]
            if particle:
                lines += [f"### {particle}", ""]
            lines += ["| quantity | " + " | ".join(bins) + " |", "|---|" + "---|" * len(bins)]
            for name, label, kind, _ in QUANTITIES:
                by = {c.bin: c for c in rows if c.quantity == name}
                lines.append(f"| {label} ({'toy/real' if kind == 'ratio' else 'toy-real'}) | "
                             + " | ".join(fmt(by[b]) if b in by else "" for b in bins) + " |")
            lines.append("")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.rename(path)


if __name__ == "__main__":
    main()
