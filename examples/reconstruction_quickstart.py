"""Quick start: simulate a small LST set, train a mono and a stereo CNN, compare them with Hillas + random forest.

    python examples/reconstruction_quickstart.py --output quickstart/          # under 10 min on 2 cores
    python examples/reconstruction_quickstart.py --output quickstart/ --full   # the full-size run (about 40 min)

writes ``quickstart/metrics.json`` (``cnn_mono``, ``cnn_stereo``, ``baseline``, each with
``auc``, ``energy_resolution``, ``angular_resolution_deg`` per bin of ``energy_bins_gev``;
strict JSON, ``null`` where a value is undefined), ``quickstart/comparison.png``, the models
and the DL2 files. All three are per array event (``cnn_mono`` is the mean of the mono
predictions, as the baseline averages its per-image forests); ``cnn_mono_per_image`` is the
mono network image by image.

The data are made with the project's ``trigger-synth simulate`` command (files are the only
link between the two packages), two simulations at a time; ``--data DIR`` reuses files made
before. A CNN needs thousands of images where the forests on Hillas parameters do with
hundreds: the default set gives about 3000 training images (``--full``: about 5400 and
longer training; ``--small``, about 640 images, only checks that the chain runs).
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lstcommon.files import write_json
from reconstruction import baseline, evaluate, predict, train
from reconstruction.settings import STEREO_FROM_MONO
from trigger.simulation.showers import DEFAULT_SHOWER_MODEL

# gammas diffuse within 1 deg so that the direction is something to learn; protons need > 100 GeV for images
OPTIONS = {"gamma": ["--viewcone", "1 deg", "--energy-min", "50 GeV"],
           "proton": ["--viewcone", "3 deg", "--energy-min", "150 GeV"]}
#: per data set: showers per split and particle (protons give about 0.5 usable images per shower, gammas 1.6) and
#: seeds. The default set trains with the package's defaults (reconstruction.settings: DataSpec, NetworkSpec,
#: TrainSpec, and STEREO_FROM_MONO for the stereo network, which starts from the mono one), exactly as
#: reconstruction-train and reconstruction.train.train do without options; the others change what "changes" names
#: (stereo_epochs: the stereo network's epochs).
SETS = {
    # about 3500 images
    "default": {"sizes": {"train": {"gamma": 1500, "proton": 1900}, "test": {"gamma": 450, "proton": 600}},
                "seeds": {"train": 31, "test": 32}, "changes": {}},
    # a half more data, larger images and a slower learning rate
    "full": {"sizes": {"train": {"gamma": 2400, "proton": 3000}, "test": {"gamma": 800, "proton": 1000}},
             "seeds": {"train": 21, "test": 22},
             "changes": {"image_shape": 56, "epochs": 10, "learning_rate": 1e-3, "stereo_epochs": 10}},
    "small": {"sizes": {"train": {"gamma": 260, "proton": 320}, "test": {"gamma": 140, "proton": 160}},
              "seeds": {"train": 11, "test": 12},
              "changes": {"image_shape": 56, "epochs": 10, "learning_rate": 1e-3, "stereo_epochs": 10}},
}


def settings(changes: dict, mode: str, mono_dir=None) -> dict:
    """The ``train.train`` arguments of one network: the package's defaults with the data set's ``changes``."""
    data = {"mode": mode, **({"image_shape": changes["image_shape"]} if "image_shape" in changes else {})}
    network = {"learning_rate": changes["learning_rate"]} if "learning_rate" in changes else {}
    training = {"epochs": changes["epochs"]} if "epochs" in changes else {}
    if mode == "stereo":
        # the stereo network starts from the mono one (its backbone and heads): a few hundred array events alone
        # train it less well than the single images the mono network saw (AUC 0.85 instead of 0.94, full set)
        training = {**training, **STEREO_FROM_MONO}
        if "stereo_epochs" in changes:
            training["epochs"] = changes["stereo_epochs"]
        return {"data": data, "network": network, "training": training, "initial_model": mono_dir}
    return {"data": data, "network": network, "training": training}


def _simulate_one(exe, folder: Path, split, particle, n, seed, shower_model=DEFAULT_SHOWER_MODEL, jobs=1):
    final = folder / split / f"{particle}.dl1.h5"
    if final.exists():
        return
    # each simulation in a folder of its own: trigger-synth writes a summary.json beside its files
    work = folder / f".{split}-{particle}"
    shutil.rmtree(work, ignore_errors=True)
    cmd = [exe, "simulate", "--particles", particle, "--n-events", str(n), "--max-impact", "300 m", "--seed", str(seed),
           "--shower-model", shower_model, "--workers", str(jobs), "--output", str(work), "--no-progress",
           "--log-level", "ERROR", *OPTIONS[particle]]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"reconstruction_quickstart: error: {' '.join(cmd)} failed ({done.returncode}): "
                         f"{done.stderr.strip()[-500:]}")
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(work / f"{particle}.dl1.h5", final)
    shutil.rmtree(work, ignore_errors=True)


def simulate(folder: Path, name="default", jobs=2, shower_model=DEFAULT_SHOWER_MODEL):
    """The data set's files (made if missing), one after the other, each in shards on ``jobs`` Dask workers.

    Sharding is the project's one engine for parallel work and writes the same file as one process
    (docs/parallel.md), so the data set does not depend on ``jobs``."""
    exe = shutil.which("trigger-synth") or str(Path(sys.executable).with_name("trigger-synth"))
    spec = SETS[name]
    work = [(split, particle, n, spec["seeds"][split]) for split, particles in spec["sizes"].items()
            for particle, n in particles.items()]
    for job in work:
        _simulate_one(exe, folder, *job, shower_model, jobs)


def _fmt(value, digits=3):
    return "n/a" if value is None else f"{value:.{digits}f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--data", type=Path, help="folder with train/ and test/ simulated files (made if missing)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="the full-size set and training (about 40 min on 2 cores)")
    size.add_argument("--small", action="store_true", help="a tiny set: checks the chain, learns little")
    parser.add_argument("--epochs", type=int, help="epochs of the mono network (default: the package's, or the set's)")
    parser.add_argument("--image-shape", type=int,
                        help="side of the mapped image (BilinearMapper; default: the package's, or the set's)")
    parser.add_argument("--shower-model", default=DEFAULT_SHOWER_MODEL,
                        help="the toy's parameter set (v1 the first toy, v2 calibrated against sim_telarray: "
                             "docs/simulation.md); a --data folder holds one model's files")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="Dask workers of each simulation")
    args = parser.parse_args(argv)
    name = "full" if args.full else "small" if args.small else "default"
    spec = SETS[name]
    if (args.epochs is not None and args.epochs < 1) or (args.image_shape is not None and args.image_shape < 8) \
            or args.jobs < 1:
        parser.error("--epochs and --jobs must be at least 1, --image-shape at least 8")
    changes = {**spec["changes"], **({"epochs": args.epochs} if args.epochs else {}),
               **({"image_shape": args.image_shape} if args.image_shape else {})}
    out = args.output
    out.mkdir(parents=True, exist_ok=True)
    data_dir = args.data or out / "data" / name
    timings = {}
    start = time.perf_counter()

    t = time.perf_counter()
    simulate(data_dir, name, jobs=args.jobs, shower_model=args.shower_model)
    timings["simulate_s"] = time.perf_counter() - t
    train_files = [data_dir / "train" / f"{p}.dl1.h5" for p in ("gamma", "proton")]
    test_files = [data_dir / "test" / f"{p}.dl1.h5" for p in ("gamma", "proton")]

    events, used = {}, {}
    for mode in ("mono", "stereo"):
        t = time.perf_counter()
        model_dir = out / "models" / mode
        result = train.train(train_files, model_dir, overwrite=True, **settings(changes, mode, out / "models" / "mono"))
        used[mode] = {key: result.meta[key] for key in ("data", "network", "training")}
        dl2 = [predict.predict(model_dir, f, out / "dl2" / f.name.replace(".dl1.h5", f".{mode}.dl2.h5"), overwrite=True)
               for f in test_files]
        # mono: the mean of the mono predictions per array event (StereoMeanCombiner), as for the baseline
        events[f"cnn_{mode}"] = evaluate.load_events(dl2, prefix="CNN", level="subarray")
        if mode == "mono":
            per_image = evaluate.load_events(dl2, prefix="CNN", level="telescope")
        timings[f"cnn_{mode}_s"] = time.perf_counter() - t

    t = time.perf_counter()
    rf = baseline.HillasRandomForest(out / "baseline", n_jobs=args.jobs).fit(train_files)
    dl2 = [rf.predict(f, out / "dl2" / f.name.replace(".dl1.h5", ".hillas_rf.dl2.h5"), overwrite=True) for f in test_files]
    events["baseline"] = evaluate.load_events(dl2, prefix=baseline.PREFIX, level="subarray")
    timings["baseline_s"] = time.perf_counter() - t

    common = evaluate.common_events(events)
    metrics = {name: evaluate.metrics_from_events(e) for name, e in common.items()}
    metrics["cnn_mono_per_image"] = evaluate.metrics_from_events(per_image)
    labels = {"cnn_mono": "CNN mono (mean per event)", "cnn_stereo": "CNN stereo", "baseline": "Hillas + RF"}
    results = {labels[name]: (metrics[name], common[name]) for name in labels}
    evaluate.plot_comparison(results, out / "comparison.png",
                             title="CNN vs Hillas + RF, per array event, on the events all three reconstruct")
    timings["total_s"] = time.perf_counter() - start
    metrics["timings"] = timings
    metrics["settings"] = {"data_set": name, "sizes": spec["sizes"], "seeds": spec["seeds"], "changes": changes,
                           "shower_model": args.shower_model,
                           **used}
    write_json(out / "metrics.json", metrics)
    for name in ("cnn_mono", "cnn_stereo", "baseline", "cnn_mono_per_image"):
        m = metrics[name]
        print(f"{name:18s} AUC {_fmt(m['auc'])}  energy resolution {_fmt(m['overall']['energy_resolution'])}  "
              f"68% angular resolution {_fmt(m['overall']['angular_resolution_deg'])} deg  "
              f"({m['overall']['n_events']} events)")
    print(f"wrote {out / 'metrics.json'} and {out / 'comparison.png'} in {timings['total_s']:.0f} s")


if __name__ == "__main__":
    main()
