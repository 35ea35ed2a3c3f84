"""Quick start: simulate a small LST set, train a mono and a stereo CNN, compare them with Hillas + random forest.

    python examples/reconstruction_quickstart.py --output quickstart/

writes ``quickstart/metrics.json`` (``cnn_mono``, ``cnn_stereo``, ``baseline``, each with
``auc``, ``energy_resolution``, ``angular_resolution_deg`` per bin of ``energy_bins_gev``),
``quickstart/comparison.png``, the models and the DL2 files. Runs in a few minutes on 2 cores.
The data are made with the project's ``trigger-synth simulate`` command (files are the only
link between the two packages); ``--data DIR`` reuses files made before.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from reconstruction import baseline, evaluate, predict, train

# gammas diffuse within 1 deg so that the direction is something to learn; protons need > 100 GeV for images
SETS = {
    "train": {"gamma": (260, ["--viewcone", "1 deg", "--energy-min", "50 GeV"]),
              "proton": (320, ["--viewcone", "3 deg", "--energy-min", "150 GeV"])},
    "test": {"gamma": (140, ["--viewcone", "1 deg", "--energy-min", "50 GeV"]),
             "proton": (160, ["--viewcone", "3 deg", "--energy-min", "150 GeV"])},
}
SEEDS = {"train": 11, "test": 12}


def simulate(folder: Path):
    exe = shutil.which("trigger-synth") or str(Path(sys.executable).with_name("trigger-synth"))
    for split, particles in SETS.items():
        for particle, (n, options) in particles.items():
            out = folder / split
            if (out / f"{particle}.dl1.h5").exists():
                continue
            cmd = [exe, "simulate", "--particles", particle, "--n-events", str(n), "--max-impact", "300 m",
                   "--seed", str(SEEDS[split]), "--output", str(out), "--no-progress", "--log-level", "ERROR", *options]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--data", type=Path, help="folder with train/ and test/ simulated files (made if missing)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--image-shape", type=int, default=56, help="side of the mapped image (BilinearMapper)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out = args.output
    out.mkdir(parents=True, exist_ok=True)
    data_dir = args.data or out / "data"
    timings = {}

    t = time.perf_counter()
    simulate(data_dir)
    timings["simulate_s"] = time.perf_counter() - t
    train_files = [data_dir / "train" / f"{p}.dl1.h5" for p in ("gamma", "proton")]
    test_files = [data_dir / "test" / f"{p}.dl1.h5" for p in ("gamma", "proton")]

    network = {"backbone": "cnn", "depth": 3, "width": 16, "attention": "blocks", "attention_kernel": 7}
    metrics, results = {}, {}
    for mode, level in (("mono", "telescope"), ("stereo", "subarray")):
        t = time.perf_counter()
        data = {"mode": mode, "image_shape": args.image_shape}
        model_dir = out / "models" / mode
        train.train(train_files, model_dir, data=data, network=network, epochs=args.epochs, batch_size=32 if mode == "mono" else 8)
        dl2 = [predict.predict(model_dir, f, out / "dl2" / f.name.replace(".dl1.h5", f".{mode}.dl2.h5"), overwrite=True)
               for f in test_files]
        events = evaluate.load_events(dl2, prefix="CNN", level=level)
        metrics[f"cnn_{mode}"] = evaluate.metrics_from_events(events)
        results[f"CNN {mode}"] = (metrics[f"cnn_{mode}"], events)
        timings[f"cnn_{mode}_s"] = time.perf_counter() - t

    t = time.perf_counter()
    rf = baseline.HillasRandomForest(out / "baseline").fit(train_files)
    dl2 = [rf.predict(f, out / "dl2" / f.name.replace(".dl1.h5", ".hillas_rf.dl2.h5"), overwrite=True) for f in test_files]
    events = evaluate.load_events(dl2, prefix=baseline.PREFIX, level="subarray")
    metrics["baseline"] = evaluate.metrics_from_events(events)
    results["Hillas + RF"] = (metrics["baseline"], events)
    timings["baseline_s"] = time.perf_counter() - t

    evaluate.plot_comparison(results, out / "comparison.png", title="CNN (mono per image, stereo per event) vs Hillas + RF")
    metrics["timings"] = timings
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    for name in ("cnn_mono", "cnn_stereo", "baseline"):
        m = metrics[name]
        print(f"{name:11s} AUC {m['auc']:.3f}  energy resolution {m['overall']['energy_resolution']:.3f}  "
              f"68% angular resolution {m['overall']['angular_resolution_deg']:.3f} deg")
    print(f"wrote {out / 'metrics.json'} and {out / 'comparison.png'}")


if __name__ == "__main__":
    main()
