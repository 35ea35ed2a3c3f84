"""Why the first CNNs learned little: the mono network with and without each fix, on the same images.

    python benchmarks/reconstruction_ablation.py --train DIR_TRAIN --test DIR_TEST [--epochs 10] [--output docs/]

Each DIR holds gamma.dl1.h5 and proton.dl1.h5 (``examples/reconstruction_quickstart.py`` makes them).
The images are read once through dl1-data-handler (the package's DataSpec, 56x56 BilinearMapper,
cleaned charge + relative peak time) and kept in memory, then every variant is trained with Keras on
the same arrays (1/8 of the training images for validation, same seed) and scored per image on the
test files: AUC, energy resolution (half the 16-84% width of E_reco/E_true - 1, as pyirf) and the 68%
containment of the direction error for gammas. ``ang68 no model`` is the same containment for a
prediction fixed at the camera centre: a network at that value has learned no direction.
Writes reconstruction_ablation.md/.json.
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

VARIANTS = {
    "before: attention, no coordinates, no batch norm, constant rate": {
        "attention": "blocks", "coordinates": False, "batch_norm": False, "lr_schedule": "constant"},
    "coordinates + batch norm + cosine, no attention": {"attention": "none"},
    "coordinates + batch norm + cosine + attention (quick start)": {"attention": "blocks"},
}


def load(folder, image_shape):
    from reconstruction.data import DataSpec, DL1Sequence, open_readers

    files = [folder / "gamma.dl1.h5", folder / "proton.dl1.h5"]
    seq = DL1Sequence(open_readers(files, DataSpec(image_shape=image_shape)), batch_size=256)
    batches = [seq.batch(i) for i in range(len(seq))]
    x = np.concatenate([b.inputs for b in batches])
    return x, {t: np.concatenate([b.targets[t] for b in batches]) for t in ("type", "energy", "direction")}


def score(model, x, y):
    from sklearn.metrics import roc_auc_score

    p = model.predict(x, batch_size=128, verbose=0)
    gamma = y["type"][:, 0] == 1
    rel = 10 ** (p["energy"][gamma, 0] - y["energy"][gamma, 0]) - 1
    q16, q84 = np.percentile(rel, [16, 84])
    error = np.hypot(*(p["direction"][gamma] - y["direction"][gamma]).T)
    return {"auc": float(roc_auc_score(gamma, p["type"][:, 0])), "energy_resolution": float((q84 - q16) / 2),
            "ang68_deg": float(np.percentile(error, 68)),
            "ang68_no_model_deg": float(np.percentile(np.hypot(*y["direction"][gamma].T), 68))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=Path("docs"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--image-shape", type=int, default=56)
    parser.add_argument("--variants", nargs="*", type=int, help="indices into the variant list (default all)")
    args = parser.parse_args()
    import keras

    from reconstruction.models import NetworkSpec, build_mono_model, compile_model

    x, y = load(args.train, args.image_shape)
    x_test, y_test = load(args.test, args.image_shape)
    order = np.random.default_rng(0).permutation(len(x))
    val, train = order[: len(x) // 8], order[len(x) // 8:]

    def weights(sel):
        gamma = y["type"][sel, 0]
        return {"type": np.ones_like(gamma), "energy": gamma, "direction": gamma}  # protons train only the type

    rows = {}
    chosen = list(VARIANTS.items())
    if args.variants:
        chosen = [chosen[i] for i in args.variants]
    for name, settings in chosen:
        keras.utils.set_random_seed(0)
        spec = NetworkSpec(**settings)
        model = build_mono_model(x.shape[1:], ["charge", "time"], spec)
        compile_model(model, spec, decay_steps=args.epochs * -(-len(train) // 32))
        start = time.perf_counter()
        model.fit(x[train], {t: v[train] for t, v in y.items()}, sample_weight=weights(train), batch_size=32,
                  validation_data=(x[val], {t: v[val] for t, v in y.items()}, weights(val)), epochs=args.epochs,
                  verbose=0)
        rows[name] = {"settings": settings, "train_s": time.perf_counter() - start, **score(model, x_test, y_test)}
        print(name, json.dumps(rows[name]), flush=True)

    meta = run_metadata()
    args.output.mkdir(parents=True, exist_ok=True)
    write_json(args.output / "reconstruction_ablation.json", {"meta": meta, "n_train": len(train),
                                                              "n_test": len(x_test), "rows": rows})
    reference = next(iter(rows.values()))["train_s"]
    lines = ["# Why the first CNNs learned little (ablation)", "", *metadata_markdown(meta), "",
             f"Mono CNN, {len(train)} training images, {args.epochs} epochs, scored per image on {len(x_test)} test images.",
             "Training time is relative to the first row, run in the same process.", "",
             "| variant | time / first | AUC | energy res. | ang. 68% [deg] | ang. 68% no model [deg] |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {name} | {r['train_s'] / reference:.2f} | {r['auc']:.3f} | {r['energy_resolution']:.3f} | "
              f"{r['ang68_deg']:.3f} | {r['ang68_no_model_deg']:.3f} |" for name, r in rows.items()]
    (args.output / "reconstruction_ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
