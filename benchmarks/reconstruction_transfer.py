"""The transfer-learning table: time relative to full training, relative change of the resolutions and AUC.

    python benchmarks/reconstruction_transfer.py --source DIR_A --target DIR_B --test DIR_T [--output docs/]

Each DIR holds gamma.dl1.h5 and proton.dl1.h5. A source model is trained on DIR_A (full set and, for
the "reduced source" rows, half of it); on DIR_B we compare full training from scratch (the reference)
with starting from the source backbone, frozen or free, for 1 epoch or the full number. All are
evaluated on DIR_T (mono, per image). Writes reconstruction_transfer.md/.json.

A transfer starts from the source model's backbone and heads (see ``reconstruction.train``);
``--source-model`` reuses a mono model trained before on DIR_A (e.g. the quick start's) as the
full source, its training time taken from its model.json.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import metadata_markdown, run_metadata

from lstcommon.files import write_json


def files(folder):
    return [folder / "gamma.dl1.h5", folder / "proton.dl1.h5"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--target", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=Path("docs"))
    parser.add_argument("--work", type=Path, default=Path("transfer-work"))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--image-shape", type=int, default=56)
    parser.add_argument("--source-model", type=Path, help="a mono model already trained on --source")
    args = parser.parse_args()
    from reconstruction import evaluate, predict, train, transfer

    data = {"image_shape": args.image_shape}
    network = {"attention": "blocks"}
    if args.source_model is not None:
        # every row must share the source model's input and architecture
        _, source_meta = train.load_model(args.source_model)
        data, network = source_meta["data"], source_meta["network"]
    work = args.work

    def score(model_dir, name):
        dl2 = [predict.predict(model_dir, f, work / "dl2" / f"{name}_{f.name}", overwrite=True) for f in files(args.test)]
        return evaluate.metrics_from_events(evaluate.load_events(dl2, level="telescope"))

    rows = {}
    # a rerun into the same --work replaces its models
    full = train.train(files(args.target), work / "full", data=data, network=network, epochs=args.epochs, overwrite=True)
    rows["full training on target (reference)"] = (full.wall_s, score(full.model_dir, "full"))
    if args.source_model is not None:
        meta = source_meta
        sources = {"full": train.TrainResult(args.source_model, meta["history"], meta["train_wall_s"], meta["n_train"],
                                             meta["n_validation"])}
    else:
        sources = {"full": train.train(files(args.source), work / "source_full", data=data, network=network,
                                       epochs=args.epochs, overwrite=True)}
    n_half = sources["full"].n_train // 2
    sources["reduced"] = train.train(files(args.source), work / "source_reduced", data=data, network=network,
                                     epochs=args.epochs, max_examples=n_half, overwrite=True)
    rows["full source as is, no training on target"] = (0.0, score(sources["full"].model_dir, "source_as_is"))
    for source_name, source in sources.items():
        for frozen in (True, False):
            for epochs in (1, args.epochs):
                name = f"{source_name} source, {'frozen' if frozen else 'free'} backbone, {epochs} epoch(s)"
                tag = name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
                result = transfer.transfer(source.model_dir, files(args.target), work / tag,
                                           freeze_backbone=frozen, epochs=epochs, overwrite=True)
                rows[name] = (result.wall_s, score(result.model_dir, tag))

    ref_time, ref = rows["full training on target (reference)"]
    table = {}
    for name, (wall, m) in rows.items():
        o, r = m["overall"], ref["overall"]
        table[name] = {
            "train_s": wall,
            "time_ratio": wall / ref_time,
            "energy_resolution": o["energy_resolution"],
            "angular_resolution_deg": o["angular_resolution_deg"],
            "auc": m["auc"],
            "d_energy_resolution": o["energy_resolution"] / r["energy_resolution"] - 1,
            "d_angular_resolution": o["angular_resolution_deg"] / r["angular_resolution_deg"] - 1,
            "d_auc": m["auc"] / ref["auc"] - 1,
        }
    meta = run_metadata()
    args.output.mkdir(parents=True, exist_ok=True)
    write_json(args.output / "reconstruction_transfer.json", {"meta": meta, "rows": table})
    lines = ["# Transfer learning", "", *metadata_markdown(meta), "",
             "Relative changes are against full training on the target set (positive = larger; for the",
             "resolutions larger is worse, for the AUC larger is better). Mono CNN, evaluated per image on the test set.",
             "", "| variant | time / full | energy res. | Δ energy res. | ang. res. [deg] | Δ ang. res. | AUC | Δ AUC |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, t in table.items():
        lines.append(f"| {name} | {t['time_ratio']:.2f} | {t['energy_resolution']:.3f} | {t['d_energy_resolution']:+.1%} | "
                     f"{t['angular_resolution_deg']:.3f} | {t['d_angular_resolution']:+.1%} | {t['auc']:.3f} | {t['d_auc']:+.1%} |")
    (args.output / "reconstruction_transfer.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
