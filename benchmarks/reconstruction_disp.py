"""Direction from the image axes (the mono network's ``disp`` task, combined by a weighted intersection) against
the quick start's CNNs and Hillas + RF, on the same array events.

    python benchmarks/reconstruction_disp.py --quickstart QS [--seeds 0 1 2] [--epochs N] [--work DIR] [--output docs/]

``QS`` is a quick-start output folder (``examples/reconstruction_quickstart.py --output QS``): its training and
test files (``QS/data/<set>/{train,test}``) and its DL2 files (``QS/dl2/{gamma,proton}.{mono,stereo,hillas_rf}.dl2.h5``)
are the reference rows. A mono network with the package's defaults, except its tasks (type, energy, disp instead of
type, energy, direction), is trained on the same training files, once per ``--seeds`` value (split, shuffling,
initial weights), and applied to the same test files; with several seeds a last row gives their mean and, as its
error, their standard deviation. All rows are
scored per array event on the events every row reconstructs (``evaluate.common_events``), with
``evaluate.metrics_from_events``; the 68 % containment gets a bootstrap error (200 resamplings of the gammas).
Writes reconstruction_disp.json/.md in ``--output``.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git, metadata_markdown, run_metadata

from lstcommon.files import write_json, write_text_atomic

REFERENCES = {"cnn_mono": ("mono", "CNN"), "cnn_stereo": ("stereo", "CNN"), "baseline": ("hillas_rf", "HillasRF")}
LABELS = {"cnn_mono": "CNN mono, direction head (mean per event)",
          "cnn_stereo": "CNN stereo, direction head", "baseline": "Hillas + RF (Hillas intersection)"}


def bootstrap_containment(events, bins, n=200, seed=0):
    """68 % containment per bin of true energy and overall (deg), each with its bootstrap standard deviation."""
    import astropy.units as u
    import numpy as np

    gammas = events[(events["true_shower_primary_id"] == 0) & np.isfinite(events["theta"])]
    energy = gammas["true_energy"].to_value(u.GeV)
    theta = gammas["theta"].to_value(u.deg)
    rng = np.random.default_rng(seed)

    def q68(values):
        return float(np.quantile(values, 0.68)) if len(values) else None

    def with_error(values):
        if len(values) < 2:
            return {"value": q68(values), "error": None, "n": int(len(values))}
        draws = [q68(rng.choice(values, len(values))) for _ in range(n)]
        return {"value": q68(values), "error": float(np.std(draws)), "n": int(len(values))}

    edges = bins.to_value(u.GeV)
    per_bin = [with_error(theta[(energy >= lo) & (energy < hi)]) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return {"overall": with_error(theta), "bins": per_bin}


def _mean_over_seeds(rows):
    """The seeds' mean, with their standard deviation as the error (the spread from one training to another)."""
    import numpy as np

    def mean(entries):
        values = [e["value"] for e in entries]
        if any(v is None for v in values):
            return {"value": None, "error": None, "n": entries[0]["n"]}
        return {"value": float(np.mean(values)), "error": float(np.std(values, ddof=1)), "n": entries[0]["n"]}

    ares = [r["angular_resolution_deg"] for r in rows]

    def per_bin(key):
        values = np.array([[np.nan if v is None else v for v in r[key]] for r in rows], dtype=float)
        finite = np.isfinite(values).all(axis=0)
        return ([float(v) if f else None for v, f in zip(values.mean(axis=0), finite, strict=True)],
                [float(v) if f else None for v, f in zip(values.std(axis=0, ddof=1), finite, strict=True)])

    energy, energy_spread = per_bin("energy_resolution")
    return {"label": f"{rows[0]['label'].rsplit(', seed', 1)[0]}: mean ± std over {len(rows)} seeds",
            "auc": float(np.mean([r["auc"] for r in rows])),
            "auc_error": float(np.std([r["auc"] for r in rows], ddof=1)),
            "overall_energy_resolution": float(np.mean([r["overall_energy_resolution"] for r in rows])),
            "energy_resolution": energy,
            "energy_resolution_error": energy_spread,
            "n_gamma_energy": rows[0]["n_gamma_energy"],
            "angular_resolution_deg": {"overall": mean([a["overall"] for a in ares]),
                                       "bins": [mean([a["bins"][i] for a in ares]) for i in range(len(ares[0]["bins"]))]}}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quickstart", type=Path, required=True)
    parser.add_argument("--data-set", default="default", help="the quick start's data set (default, full, small)")
    parser.add_argument("--epochs", type=int, help="epochs of the disp network (default: the package's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one disp network per seed")
    parser.add_argument("--input-type", choices=["image", "waveform"], default="image",
                        help="what the disp network sees (--DataSpec.input_type)")
    parser.add_argument("--energy-geometry", choices=["none", "impact"], default="none",
                        help="what the energy head gets besides the image (--NetworkSpec.energy_geometry)")
    parser.add_argument("--work", type=Path, default=Path("disp-work"))
    parser.add_argument("--reuse", action="store_true",
                        help="use the networks already trained in --work (same seeds; the others are trained), and their "
                        "recorded training time")
    parser.add_argument("--output", type=Path, default=Path("docs"))
    args = parser.parse_args()
    from reconstruction import evaluate, predict, train

    meta = run_metadata()
    meta["reconstruction_commit"] = git("log", "-1", "--format=%H", "--", "reconstruction").strip()
    data = args.quickstart / "data" / args.data_set
    train_files = [data / "train" / f"{p}.dl1.h5" for p in ("gamma", "proton")]
    test_files = [data / "test" / f"{p}.dl1.h5" for p in ("gamma", "proton")]

    events, models, labels = {}, {}, dict(LABELS)
    for seed in args.seeds:
        model_dir = args.work / f"model_seed{seed}"
        if args.reuse and (model_dir / "model.json").exists():
            meta_seed = train.check_model(model_dir)
            if "disp_errors" not in meta_seed:  # trained before networks measured their disp errors
                train.calibrate_disp(model_dir, train_files)
                meta_seed = train.check_model(model_dir)
            train_s = meta_seed["train_wall_s"]
        else:
            start = time.perf_counter()
            training = {"seed": seed, **({"epochs": args.epochs} if args.epochs else {})}
            meta_seed = train.train(train_files, model_dir, data={"input_type": args.input_type},
                                    network={"tasks": ["type", "energy", "disp"],
                                             "energy_geometry": args.energy_geometry}, training=training,
                                    overwrite=True).meta
            train_s = time.perf_counter() - start
        dl2 = [predict.predict(model_dir, f, args.work / "dl2" / f.name.replace(".dl1.h5", f".disp{seed}.dl2.h5"),
                               overwrite=True) for f in test_files]
        name = f"cnn_disp_seed{seed}"
        events[name] = evaluate.load_events(dl2, prefix="CNN", level="subarray")
        extra = ", impact + h_max to the energy head" if args.energy_geometry == "impact" else ""
        labels[name] = f"CNN mono ({args.input_type}s{extra}), disp + stereo combination, seed {seed}"
        models[name] = {"train_wall_s": train_s, "settings": {k: meta_seed[k] for k in ("data", "network", "training")}}
    for name, (kind, prefix) in REFERENCES.items():
        files = [args.quickstart / "dl2" / f"{p}.{kind}.dl2.h5" for p in ("gamma", "proton")]
        if kind != "stereo":  # the quick start's files may predate the intensity-weighted energy mean
            files = [predict.recombine_energy(f, args.work / "references" / f.name, prefix, overwrite=True)
                     for f in files]
        events[name] = evaluate.load_events(files, prefix=prefix, level="subarray")
    common = evaluate.common_events(events)
    bins = evaluate.default_energy_bins()
    rows = {}
    for name, e in common.items():
        metrics = evaluate.bootstrap_metrics(e, bins)
        rows[name] = {"label": labels[name], "auc": metrics["auc"], "auc_error": metrics["errors"]["auc"],
                      "energy_resolution": metrics["energy_resolution"],
                      "energy_resolution_error": metrics["errors"]["energy_resolution"],
                      "n_gamma_energy": metrics["n_gamma_energy"],
                      "overall_energy_resolution": metrics["overall"]["energy_resolution"],
                      "angular_resolution_deg": bootstrap_containment(e, bins)}
    if len(args.seeds) > 1:
        rows["cnn_disp_mean"] = _mean_over_seeds([rows[f"cnn_disp_seed{seed}"] for seed in args.seeds])
    write_json(args.output / "reconstruction_disp.json",
               {"metadata": meta, "energy_bins_gev": bins.to_value("GeV").tolist(), "rows": rows,
                "disp_models": models})

    def fmt(entry):
        if entry["value"] is None:
            return ""
        error = f" ± {entry['error']:.3f}" if entry["error"] is not None else ""
        return f"{entry['value']:.3f}{error} ({entry['n']})"

    edges = bins.to_value("GeV")
    shown = [i for i in range(len(edges) - 1) if any(r["angular_resolution_deg"]["bins"][i]["n"] >= 10
                                                     for r in rows.values())]
    n_gamma = rows["baseline"]["angular_resolution_deg"]["overall"]["n"]
    lines = ["# Direction from the image axes (disp) against the direction heads and Hillas + RF", "",
             *metadata_markdown(meta), f"- reconstruction/ at commit `{meta['reconstruction_commit'][:10]}`",
             f"- references: `{args.quickstart}` (quick start, data set `{args.data_set}`; the mono rows' array energies "
             "recombined from their telescope estimates with this version's intensity-weighted mean, "
             "`predict.recombine_energy`); disp networks trained "
             f"in {', '.join(str(round(m['train_wall_s'])) for m in models.values())} s", "",
             f"Per array event, on the {len(next(iter(common.values())))} events every row reconstructs "
             f"({n_gamma} gammas). 68 % containment in degrees ± bootstrap standard deviation (gammas in the bin).", "",
             "| | AUC | energy res. | 68 % ang. res., all | " + " | ".join(
                 f"{edges[i]:.0f}-{edges[i + 1]:.0f} GeV" for i in shown) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(shown)]
    for r in rows.values():
        ares = r["angular_resolution_deg"]
        lines.append(f"| {r['label']} | {r['auc']:.3f} | {r['overall_energy_resolution']:.3f} | "
                     f"{fmt(ares['overall'])} | " + " | ".join(fmt(ares["bins"][i]) for i in shown) + " |")
    e_shown = [i for i in range(len(edges) - 1) if rows["baseline"]["n_gamma_energy"][i] >= 10]

    def efmt(r, i):
        value, error = r["energy_resolution"][i], r["energy_resolution_error"][i]
        return "" if value is None else f"{value:.3f}" + ("" if error is None else f" ± {error:.3f}")

    lines += ["", "Energy resolution per array event (half the 68 % inter-quantile range of E_reco/E_true - 1, pyirf) "
              "per bin of true energy with at least 10 gammas (their number in brackets); AUC ± bootstrap standard "
              "deviation (mean rows: ± the standard deviation over the seeds).", "",
              "| | AUC | " + " | ".join(f"{edges[i]:.0f}-{edges[i + 1]:.0f} GeV "
                                       f"({rows['baseline']['n_gamma_energy'][i]})" for i in e_shown) + " |",
              "|---|---:|" + "---:|" * len(e_shown)]
    for r in rows.values():
        auc = f"{r['auc']:.4f}" + (f" ± {r['auc_error']:.4f}" if r.get("auc_error") is not None else "")
        lines.append(f"| {r['label']} | {auc} | " + " | ".join(efmt(r, i) for i in e_shown) + " |")
    lines.append("")
    write_text_atomic(args.output / "reconstruction_disp.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
