"""Examples per second of the reconstruction input pipeline and of training, as ratios in the same run.

    python benchmarks/reconstruction_speed.py --data DIR [--output docs/]

DIR holds gamma.dl1.h5 and proton.dl1.h5 (e.g. `trigger-synth simulate`). Measures, on this machine:
dl1-data-handler batches through the PyDataset with 1 and 2 workers and several image mappers, and one
epoch of training of the quick-start CNN; the reference is ctapipe's TableLoader reading the same DL1
images (no mapping) in the same process. Writes reconstruction_speed.md/.json/.png.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import metadata_markdown, run_metadata

from lstcommon.files import write_json


def rate(fn, n_examples, repeat=2):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return n_examples / best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=Path("docs"))
    args = parser.parse_args()
    import keras
    from ctapipe.io import TableLoader

    from reconstruction.data import DataSpec, DL1Sequence, open_readers
    from reconstruction.models import NetworkSpec, build_mono_model, compile_model

    files = [args.data / "gamma.dl1.h5", args.data / "proton.dl1.h5"]
    results = {}

    def tableloader():
        for f in files:
            with TableLoader(f) as loader:
                loader.read_telescope_events(dl1_images=True)

    n_images = 0
    for f in files:
        with TableLoader(f) as loader:
            n_images += len(loader.read_telescope_events())
    results["ctapipe TableLoader (DL1 images, unmapped)"] = rate(tableloader, n_images)

    def iterate(seq):
        def run():
            # the PyDataset machinery: workers threads filling a queue, as model.fit uses it
            adapter = keras.src.trainers.data_adapters.py_dataset_adapter.PyDatasetAdapter(seq, shuffle=False)
            for _ in adapter.get_numpy_iterator():
                pass
        return run

    for mapper, shape in (("BilinearMapper", None), ("BilinearMapper", 56), ("ShiftingMapper", None),
                          ("NearestNeighborMapper", None)):
        readers = open_readers(files, DataSpec(image_mapper=mapper, image_shape=shape))
        for workers in (1, 2):
            seq = DL1Sequence(readers, batch_size=32, workers=workers, with_targets=True)
            label = f"dl1dh {mapper}{'' if shape is None else f' {shape}x{shape}'} ({seq.example_shape[0]} px), {workers} worker(s)"
            results[label] = rate(iterate(seq), seq.n_examples)

    readers = open_readers(files, DataSpec(image_shape=56))
    seq = DL1Sequence(readers, batch_size=32, workers=2)
    # the quick-start network, and the same without the batch normalisation and coordinate channels it lacked
    # before they were found necessary: what the fixes cost in training speed
    for label, settings in (("quick-start CNN 56x56", {}), ("same, no batch norm, no coordinates",
                                                          {"batch_norm": False, "coordinates": False})):
        spec = NetworkSpec(attention="blocks", **settings)
        model = compile_model(build_mono_model(seq.example_shape, ["charge", "time"], spec), spec)
        model.fit(seq, epochs=1, verbose=0)  # compile and warm up
        results[f"training, {label}, 2 workers"] = rate(lambda m=model: m.fit(seq, epochs=1, verbose=0), seq.n_examples)

    reference = results["ctapipe TableLoader (DL1 images, unmapped)"]
    meta = run_metadata()
    args.output.mkdir(parents=True, exist_ok=True)
    write_json(args.output / "reconstruction_speed.json", {"meta": meta, "examples_per_s": results})
    lines = ["# Reconstruction speed", "", *metadata_markdown(meta), "",
             "| what | examples/s | ratio to ctapipe TableLoader |", "|---|---:|---:|"]
    lines += [f"| {k} | {v:.0f} | {v / reference:.3f} |" for k, v in results.items()]
    lines += ["", "![speed](reconstruction_speed.png)", ""]
    (args.output / "reconstruction_speed.md").write_text("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 0.5 * len(results) + 1.5), layout="constrained")
    ax.barh(list(results), list(results.values()))
    ax.set(xscale="log", xlabel="examples / s (images)", title=f"{meta['nproc']} cores, {meta['cpu_model']}")
    ax.invert_yaxis()
    fig.savefig(args.output / "reconstruction_speed.png", dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
