"""The seed's attention study: where CBAM attention goes, its spatial kernel, cleaned against uncleaned images, and
waveforms against images, over several training seeds on the same images.

    python benchmarks/reconstruction_attention.py --train DIR_TRAIN --test DIR_TEST [--seeds 0 1 2] [--output docs/]

Each DIR holds gamma.dl1.h5 and proton.dl1.h5 (``examples/reconstruction_quickstart.py`` makes them). Every input
(cleaned charge + relative peak time, the same without cleaning, and 8 waveform samples around the maximum) is read
once through dl1-data-handler with the package's DataSpec otherwise unchanged, and only the images present in all
three are kept, so every row is trained and scored on the same telescope events. Every variant is the package's mono
network (reconstruction.settings defaults: 40x40 BilinearMapper, 15 epochs, cosine decay) with one NetworkSpec change,
trained with Keras on the in-memory arrays (1/8 for validation) once per seed, and scored per image on the test files:
AUC, energy resolution (half the 16-84 % width of E_reco/E_true - 1) and the 68 % containment of the gammas'
direction error. Training time is a ratio to the first variant's with the same seed, in the same process.

The maps (first seed): for the gamma test images above 200 p.e., the share of each map (Grad-CAM of the type output,
and the first CBAM block's spatial attention) that falls on the pixels ctapipe's tailcuts cleaning keeps, against the
share of the grid those pixels cover. A network on uncleaned images whose maps put as much of their weight on those
pixels as the cleaned pipeline's has learned the cleaning. Two example images are drawn with every variant's maps.
Writes reconstruction_attention.md/.json and reconstruction_attention_<n>.png.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import metadata_markdown, run_metadata

from lstcommon.files import write_json

#: what the network reads: DataSpec changes from the package's defaults
INPUTS = {
    "cleaned": {},
    "uncleaned": {"channels": ["image", "relative_peak_time"]},
    "waveform": {"input_type": "waveform"},
}
#: name -> (input, NetworkSpec changes); the first is the reference of the time ratios
VARIANTS = {
    "cleaned, no attention": ("cleaned", {"attention": "none"}),
    "cleaned, attention at the input, 7x7": ("cleaned", {"attention": "input"}),
    "cleaned, attention after every block, 7x7 (package default)": ("cleaned", {"attention": "blocks"}),
    "cleaned, attention at both, 7x7": ("cleaned", {"attention": "both"}),
    "cleaned, attention after every block, 1x1": ("cleaned", {"attention": "blocks", "attention_kernel": 1}),
    "cleaned, attention after every block, 4x4": ("cleaned", {"attention": "blocks", "attention_kernel": 4}),
    "uncleaned, no attention": ("uncleaned", {"attention": "none"}),
    "uncleaned, attention at the input, 7x7": ("uncleaned", {"attention": "input"}),
    "uncleaned, attention after every block, 7x7": ("uncleaned", {"attention": "blocks"}),
    "waveform, attention after every block, 7x7": ("waveform", {"attention": "blocks"}),
}
TASKS = ("type", "energy", "direction")
MAP_MIN_INTENSITY = 200.0  # p.e.: images whose cleaning mask is a shower, not a few islands


def load(folder, changes):
    """Inputs, targets, Hillas intensity and the (file, obs_id, event_id, tel_id) key of every selected image."""
    from reconstruction.data import DL1Sequence, HillasAxes, open_readers
    from reconstruction.settings import DataSpec

    spec = DataSpec(**changes).validate()
    readers = open_readers([folder / "gamma.dl1.h5", folder / "proton.dl1.h5"], spec)
    seq = DL1Sequence(readers, tasks=TASKS, batch_size=256)
    batches = [seq.batch(i) for i in range(len(seq))]
    ids = {k: np.concatenate([b.ids[k] for b in batches]) for k in ("reader", "obs_id", "event_id", "tel_id")}
    keys = np.stack([ids[k] for k in ("reader", "obs_id", "event_id", "tel_id")], axis=1).astype(np.int64)
    intensity = np.empty(len(keys))
    for r in np.unique(keys[:, 0]):
        rows = keys[:, 0] == r
        intensity[rows] = HillasAxes.of(readers[r]).lookup(*keys[rows, 1:].T)[:, 3]
    x = np.concatenate([b.inputs for b in batches])
    y = {t: np.concatenate([b.targets[t] for b in batches]) for t in TASKS}
    return {"x": x, "y": y, "keys": keys, "intensity": intensity, "kinds": spec.channel_kinds(),
            "waveform": spec.input_type == "waveform"}


def align(sets):
    """The images every input holds, in one order (sorted keys)."""
    common = None
    for s in sets.values():
        rows = {tuple(k) for k in s["keys"].tolist()}
        common = rows if common is None else common & rows
    order = sorted(common)
    out = {}
    for name, s in sets.items():
        index = {tuple(k): i for i, k in enumerate(s["keys"].tolist())}
        take = np.array([index[k] for k in order], dtype=np.int64)
        out[name] = {**s, "x": s["x"][take], "y": {t: v[take] for t, v in s["y"].items()}, "keys": s["keys"][take],
                     "intensity": s["intensity"][take]}
    return out, len(order)


def score(model, x, y):
    from sklearn.metrics import roc_auc_score

    p = model.predict(x, batch_size=128, verbose=0)
    gamma = y["type"][:, 0] == 1
    rel = 10 ** (p["energy"][gamma, 0] - y["energy"][gamma, 0]) - 1
    q16, q84 = np.percentile(rel, [16, 84])
    error = np.hypot(*(p["direction"][gamma] - y["direction"][gamma]).T)
    return {"auc": float(roc_auc_score(gamma, p["type"][:, 0])), "energy_resolution": float((q84 - q16) / 2),
            "ang68_deg": float(np.percentile(error, 68))}


def map_shares(model, x, mask):
    """How much more of each map's weight lies on the cleaning mask than a uniform map would put there (1: none),
    mean over the images: Grad-CAM and the first spatial attention map."""
    from reconstruction.explain import attention_maps, grad_cam

    maps = {"grad_cam": grad_cam(model, x, task="type")}
    attention = attention_maps(model, x)
    if attention:
        maps["attention"] = next(iter(attention.values()))
    area = mask.reshape(len(mask), -1).mean(axis=1)
    shares = {}
    for name, m in maps.items():
        total = m.reshape(len(m), -1).sum(axis=1)
        inside = (m * mask).reshape(len(m), -1).sum(axis=1)
        ok = (total > 0) & (area > 0)
        shares[name] = float(np.mean(inside[ok] / total[ok] / area[ok]))
    return shares, maps


def mean_std(values):
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if len(values) == 0:
        return None, None
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=Path("docs"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, help="epochs per training (default: the package's TrainSpec)")
    parser.add_argument("--only", nargs="*", help="run only the variants whose names start with these")
    args = parser.parse_args()
    for folder in (args.train, args.test):
        for name in ("gamma.dl1.h5", "proton.dl1.h5"):
            if not (folder / name).is_file():
                raise SystemExit(f"reconstruction_attention: error: {folder / name} is missing")
    import keras

    from reconstruction.models import NetworkSpec, build_mono_model, compile_model
    from reconstruction.settings import TrainSpec

    meta = run_metadata()  # the code the run starts with
    epochs = args.epochs or TrainSpec().epochs
    batch_size = TrainSpec().batch_size
    chosen = {n: v for n, v in VARIANTS.items() if not args.only or any(n.startswith(o) for o in args.only)}
    needed = sorted({inp for inp, _ in chosen.values()} | {"cleaned"})  # cleaned: the masks of the map shares
    start = time.perf_counter()
    train, n_train = align({k: load(args.train, INPUTS[k]) for k in needed})
    test, n_test = align({k: load(args.test, INPUTS[k]) for k in needed})
    load_s = time.perf_counter() - start
    print(f"{n_train} training and {n_test} test images common to {needed} ({load_s:.0f} s)", flush=True)

    y, y_test = train["cleaned"]["y"], test["cleaned"]["y"]
    order = np.random.default_rng(0).permutation(n_train)
    val, fit = order[: n_train // 8], order[n_train // 8:]
    bright = np.flatnonzero((y_test["type"][:, 0] == 1) & (test["cleaned"]["intensity"] > MAP_MIN_INTENSITY))
    if len(bright) < 2:
        print(f"{args.test}: {len(bright)} gamma test images above {MAP_MIN_INTENSITY} p.e.; the maps need at least 2",
              file=sys.stderr)
        sys.exit(2)
    mask = (test["cleaned"]["x"][bright, ..., 0] > 0).astype("float32")
    examples = bright[np.argsort(-test["cleaned"]["intensity"][bright])[[len(bright) // 4, len(bright) // 2]]]

    def weights(sel):
        gamma = y["type"][sel, 0]
        return {"type": np.ones_like(gamma), "energy": gamma, "direction": gamma}  # protons train only the type

    runs = {name: [] for name in chosen}
    example_maps = {}
    for seed in args.seeds:
        reference_s = None
        for name, (inp, settings) in chosen.items():
            data = train[inp]
            keras.utils.set_random_seed(seed)
            spec = NetworkSpec(**settings)
            model = build_mono_model(data["x"].shape[1:], data["kinds"], spec, waveform=data["waveform"])
            compile_model(model, spec, decay_steps=epochs * -(-len(fit) // batch_size))
            t0 = time.perf_counter()
            model.fit(data["x"][fit], {t: v[fit] for t, v in y.items()}, sample_weight=weights(fit),
                      batch_size=batch_size, validation_data=(data["x"][val], {t: v[val] for t, v in y.items()},
                                                              weights(val)), epochs=epochs, verbose=0)
            train_s = time.perf_counter() - t0
            reference_s = reference_s or train_s
            row = {"seed": seed, "train_s": train_s, "time_ratio": train_s / reference_s,
                   **score(model, test[inp]["x"], y_test)}
            if seed == args.seeds[0]:
                shares, maps = map_shares(model, test[inp]["x"][bright], mask)
                row["map_share"] = shares
                pos = [int(np.flatnonzero(bright == e)[0]) for e in examples]
                example_maps[name] = {k: m[pos] for k, m in maps.items()}
            runs[name].append(row)
            print(seed, name, json.dumps(row), flush=True)
        # after every seed, so that a run stopped early keeps the seeds it finished
        write(args, meta, chosen, runs, epochs, fit, val, n_test, bright, mask, load_s,
              test["cleaned"]["x"][examples], example_maps)


def write(args, meta, chosen, runs, epochs, fit, val, n_test, bright, mask, load_s, images, example_maps):
    summary = {}
    for name, rows in runs.items():
        if not rows:
            continue
        summary[name] = {"input": chosen[name][0], "settings": chosen[name][1], "n_seeds": len(rows)}
        for key in ("auc", "energy_resolution", "ang68_deg", "time_ratio", "train_s"):
            summary[name][key] = dict(zip(("mean", "std"), mean_std([r[key] for r in rows]), strict=True))
        summary[name]["map_share"] = rows[0].get("map_share", {})
    seeds = sorted({r["seed"] for rows in runs.values() for r in rows})
    result = {"meta": meta, "epochs": epochs, "seeds": seeds, "n_train": int(len(fit)),
              "n_validation": int(len(val)), "n_test": int(n_test), "n_map_images": int(len(bright)),
              "mask_area_share": float(mask.mean()), "load_s": load_s, "runs": runs, "summary": summary}
    args.output.mkdir(parents=True, exist_ok=True)
    write_json(args.output / "reconstruction_attention.json", result)
    figures = draw(args.output, images, example_maps)
    (args.output / "reconstruction_attention.md").write_text(report(result, figures))
    print(report(result, figures), flush=True)


def _pm(stat, digits=3):
    if stat["mean"] is None:
        return "n/a"
    if stat["std"] is None:
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"


def _share(value):
    return "-" if value is None else f"{value:.1f}"


def report(result, figures) -> str:
    meta = result["meta"]
    lines = ["# Attention study: placement, kernel, cleaning, waveforms", "", *metadata_markdown(meta), "",
             f"Mono CNN (package defaults but the change named), {result['n_train']} training images "
             f"({result['n_validation']} more for validation), {result['epochs']} epochs, seeds {result['seeds']}; "
             f"scored per image on the same {result['n_test']} test images for every row. Mean ± standard deviation "
             "over the seeds. Time: training time over the first row's with the same seed, same process.", "",
             "| variant | AUC | energy res. | ang. 68 % [deg] | time / first | Grad-CAM on the cleaning mask | "
             "attention on the cleaning mask |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, s in result["summary"].items():
        share = s["map_share"]
        lines.append(f"| {name} | {_pm(s['auc'])} | {_pm(s['energy_resolution'])} | {_pm(s['ang68_deg'])} | "
                     f"{_pm(s['time_ratio'], 2)} | {_share(share.get('grad_cam'))} | {_share(share.get('attention'))} |")
    lines += ["", f"Maps on the cleaning mask (first seed): over the {result['n_map_images']} gamma test images above "
              f"{MAP_MIN_INTENSITY:.0f} p.e., the mean of the map's weight on the grid cells that ctapipe's tailcuts "
              "cleaning keeps, divided by the share of the grid those cells cover (on average "
              f"{result['mask_area_share']:.3f}): 1 is a map that ignores the shower, larger is a map that looks "
              "where the cleaning looks. Attention: the first CBAM block's spatial map (at the input, or after the "
              "first block).", ""]
    lines += [f"![maps {i}]({f.name})" for i, f in enumerate(figures, 1)]
    return "\n".join(lines) + "\n"


def draw(output, images, example_maps) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    names = list(example_maps)
    for i in range(len(images)):
        fig, axes = plt.subplots(len(names), 3, figsize=(7, 2.2 * len(names)), squeeze=False)
        for row, name in enumerate(names):
            maps = example_maps[name]
            panels = [(images[i, ..., 0], "cleaned charge"), (maps["grad_cam"][i], "Grad-CAM (type)")]
            if "attention" in maps:
                panels.append((maps["attention"][i], "spatial attention"))
            for col in range(3):
                ax = axes[row, col]
                ax.set_xticks([])
                ax.set_yticks([])
                if col < len(panels):
                    ax.imshow(panels[col][0], origin="lower", cmap="viridis")
                    ax.set_title(panels[col][1], fontsize=7)
                else:
                    ax.axis("off")
            axes[row, 0].set_ylabel(name.replace(", ", ",\n", 1), fontsize=6)
        fig.tight_layout()
        path = output / f"reconstruction_attention_{i + 1}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


if __name__ == "__main__":
    main()
