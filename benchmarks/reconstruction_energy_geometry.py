"""The energy head with and without the stereo geometry the forests have (``NetworkSpec.energy_geometry``), against
Hillas + RF, per bin of true energy, over several trainings.

    python benchmarks/reconstruction_energy_geometry.py --quickstart QS [--seeds 0 1] [--variants none impact]
        [--stereo] [--epochs N] [--work DIR] [--output docs/]

``QS`` is a quick-start output folder (``examples/reconstruction_quickstart.py --output QS``): its training and test
files (``QS/data/<set>/{train,test}``) and its Hillas + RF DL2 files (``QS/dl2/{gamma,proton}.hillas_rf.dl2.h5``).
Per seed and variant a mono network with the package's defaults, except ``energy_geometry`` and the seed, is trained
on the training files and applied to the test files; with ``--stereo`` a stereo network is trained from each as the
quick start trains its stereo network (``STEREO_FROM_MONO``), with the same ``energy_geometry``. Every row is scored
per array event on the events all rows reconstruct (``evaluate.common_events``) with ``evaluate.bootstrap_metrics``
(errors: standard deviation over resamplings of those events); each variant's mean row has the seeds' mean and, as
its error, their standard deviation. Writes reconstruction_energy_geometry.json/.md in ``--output``.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git, metadata_markdown, run_metadata

from lstcommon.files import write_json, write_text_atomic

PARTICLES = ("gamma", "proton")
VARIANTS = ("none", "impact")
LABELS = {"none": "image features only", "impact": "+ impact distance and h_max (HillasReconstructor)"}


def fail(message):
    """Refused input: one line, exit code 2."""
    print(f"reconstruction_energy_geometry: error: {message}", file=sys.stderr)
    raise SystemExit(2)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage + message
        fail(message)


def parse_args(argv=None):
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quickstart", type=Path, required=True, help="a quick-start output folder")
    parser.add_argument("--data-set", default="default", help="the quick start's data set (default, full, small)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="one training per seed and variant")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help=f"energy_geometry values {VARIANTS}")
    parser.add_argument("--stereo", action="store_true", help="also a stereo network from each mono one")
    parser.add_argument("--epochs", type=int, help="epochs of the mono networks (default: the package's)")
    parser.add_argument("--resamplings", type=int, default=200, help="bootstrap resamplings of the events")
    parser.add_argument("--work", type=Path, default=Path("energy-geometry-work"))
    parser.add_argument("--output", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    data = args.quickstart / "data" / args.data_set
    for path in [data / s / f"{p}.dl1.h5" for s in ("train", "test") for p in PARTICLES] + \
            [args.quickstart / "dl2" / f"{p}.hillas_rf.dl2.h5" for p in PARTICLES]:
        if not path.is_file() or path.stat().st_size == 0:
            fail(f"{path}: missing or empty (--quickstart needs a quick-start output folder)")
    if any(v not in VARIANTS for v in args.variants) or len(set(args.variants)) != len(args.variants):
        fail(f"--variants must be distinct values of {list(VARIANTS)}, got {args.variants}")
    if any(s < 0 for s in args.seeds) or len(set(args.seeds)) != len(args.seeds):
        fail(f"--seeds must be distinct integers 0 or more, got {args.seeds}")
    if args.epochs is not None and args.epochs < 1:
        fail(f"--epochs must be at least 1, got {args.epochs}")
    if args.resamplings < 2:
        fail(f"--resamplings must be at least 2, got {args.resamplings}")
    return args


def mean_over_seeds(rows, label):
    """The seeds' mean of every figure, with their standard deviation as its error."""
    import numpy as np

    def stat(values):
        if any(v is None for v in values):
            return None, None
        return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else None

    out = {"label": label, "errors": {"overall": {}}, "overall": {}, "seeds": len(rows)}
    out["auc"], out["errors"]["auc"] = stat([r["auc"] for r in rows])
    for key in ("energy_resolution", "energy_bias", "angular_resolution_deg"):
        pairs = [stat([r[key][i] for r in rows]) for i in range(len(rows[0][key]))]
        out[key], out["errors"][key] = [p[0] for p in pairs], [p[1] for p in pairs]
        out["overall"][key], out["errors"]["overall"][key] = stat([r["overall"][key] for r in rows])
    out["n_gamma_energy"] = rows[0]["n_gamma_energy"]
    return out


def main(argv=None):
    args = parse_args(argv)
    from reconstruction import baseline, evaluate, predict, train
    from reconstruction.settings import STEREO_FROM_MONO

    meta = run_metadata()
    meta["reconstruction_commit"] = git("log", "-1", "--format=%H", "--", "reconstruction").strip()
    data = args.quickstart / "data" / args.data_set
    train_files = [data / "train" / f"{p}.dl1.h5" for p in PARTICLES]
    test_files = [data / "test" / f"{p}.dl1.h5" for p in PARTICLES]
    modes = ["mono", "stereo"] if args.stereo else ["mono"]

    events, labels, runs = {}, {}, {}
    events["baseline"] = evaluate.load_events([args.quickstart / "dl2" / f"{p}.hillas_rf.dl2.h5" for p in PARTICLES],
                                              prefix=baseline.PREFIX, level="subarray")
    labels["baseline"] = "Hillas + RF"
    # every mono network first, then the stereo ones (each starts from its mono network): the results are written
    # after each mode, so a run stopped during the stereo trainings keeps the mono figures
    for done, mode in enumerate(modes):
        for seed in args.seeds:
            for variant in args.variants:
                name = f"{mode}_{variant}_seed{seed}"
                folder = args.work / name
                options = {"data": {"mode": mode}, "network": {"energy_geometry": variant},
                           "training": {"seed": seed, **({"epochs": args.epochs} if args.epochs and mode == "mono" else {})}}
                if mode == "stereo":
                    options["training"] = {**options["training"], **STEREO_FROM_MONO}
                    options["initial_model"] = args.work / f"mono_{variant}_seed{seed}"
                start = time.perf_counter()
                result = train.train(train_files, folder, overwrite=True, **options)
                train_s = time.perf_counter() - start
                dl2 = [predict.predict(folder, f, args.work / "dl2" / f.name.replace(".dl1.h5", f".{name}.dl2.h5"),
                                       overwrite=True) for f in test_files]
                events[name] = evaluate.load_events(dl2, prefix="CNN", level="subarray")
                labels[name] = f"CNN {mode}, {LABELS[variant]}, seed {seed}"
                runs[name] = {"train_s": train_s, "total_s": time.perf_counter() - start,
                              "settings": {k: result.meta[k] for k in ("data", "network", "training")}}
                print(f"{name}: trained in {train_s:.0f} s", flush=True)
        write_results(args, meta, events, labels, runs, modes[:done + 1])


def write_results(args, meta, events, labels, runs, modes):
    """Score every row on the events all of them reconstruct and write the JSON and markdown."""
    from reconstruction import evaluate

    common = evaluate.common_events(events)
    bins = evaluate.default_energy_bins()
    rows = {name: {"label": labels[name], **evaluate.bootstrap_metrics(e, bins, n=args.resamplings)}
            for name, e in common.items()}
    means = {}
    for variant in args.variants:
        for mode in modes:
            seeds = [rows[f"{mode}_{variant}_seed{s}"] for s in args.seeds]
            means[f"{mode}_{variant}"] = mean_over_seeds(
                seeds, f"CNN {mode}, {LABELS[variant]}: mean ± std over {len(seeds)} seeds")
    first = next(iter(common.values()))
    result = {"metadata": meta, "quickstart": str(args.quickstart), "data_set": args.data_set,
              "n_events": len(first), "n_gamma": int((first["true_shower_primary_id"] == 0).sum()),
              "energy_bins_gev": bins.to_value("GeV").tolist(), "means": means, "rows": rows, "runs": runs}
    args.output.mkdir(parents=True, exist_ok=True)
    write_json(args.output / "reconstruction_energy_geometry.json", result)
    text = "\n".join(markdown(result, args))
    write_text_atomic(args.output / "reconstruction_energy_geometry.md", text)
    print(text, flush=True)


def _fmt(value, error, digits=3):
    if value is None:
        return ""
    return f"{value:.{digits}f}" + (f" ± {error:.{digits}f}" if error is not None else "")


def markdown(result, args):
    meta, rows, means = result["metadata"], result["rows"], result["means"]
    edges = result["energy_bins_gev"]
    counts = rows["baseline"]["n_gamma_energy"]
    shown = [i for i in range(len(edges) - 1) if counts[i] >= 10]
    header = ("| | AUC | energy res., all | " + " | ".join(f"{edges[i]:.0f}-{edges[i + 1]:.0f} GeV ({counts[i]})"
                                                        for i in shown) + " |")
    rule = "|---|---:|---:|" + "---:|" * len(shown)

    def line(r):
        return (f"| {r['label']} | {_fmt(r['auc'], r['errors']['auc'])} | "
                f"{_fmt(r['overall']['energy_resolution'], r['errors']['overall']['energy_resolution'])} | "
                + " | ".join(_fmt(r["energy_resolution"][i], r["errors"]["energy_resolution"][i]) for i in shown) + " |")

    lines = ["# Energy head with the stereo geometry (impact distance, h_max) against Hillas + RF", "",
             *metadata_markdown(meta), f"- reconstruction/ at commit `{meta['reconstruction_commit'][:10]}`",
             f"- files and Hillas + RF row: quick start `{result['quickstart']}` (data set `{result['data_set']}`)",
             "- training wall time per network: " + ", ".join(f"{k} {v['train_s']:.0f} s" for k, v in result["runs"].items()),
             "", f"Energy resolution per array event (half the 68 % inter-quantile range of E_reco/E_true - 1, pyirf) "
             f"on the {result['n_events']} events every row reconstructs ({result['n_gamma']} gammas), per bin of true "
             "energy with at least 10 gammas (their number in brackets). Mean rows: mean ± standard deviation over "
             "the seeds (the spread from one training to another); other rows: ± the standard deviation over "
             f"{rows['baseline']['errors']['n_resamplings']} bootstrap resamplings of the events.", "",
             header, rule, line(rows["baseline"]), *(line(m) for m in means.values()), "", "Each training:", "",
             header, rule, *(line(r) for name, r in rows.items() if name != "baseline"), ""]
    return lines


if __name__ == "__main__":
    main()
