"""Explanation-map figures for docs/: Grad-CAM and attention maps of a trained mono model, in camera geometry.

    python benchmarks/reconstruction_explain.py --model QUICKSTART/models/mono --input FILE.dl1.h5 [--output docs/] \
        [--stereo-model QUICKSTART/models/stereo]

(the models from `examples/reconstruction_quickstart.py --output QUICKSTART`). With ``--stereo-model``
also reconstruction_explain_stereo.png: Grad-CAM of the stereo gammaness on every telescope of one event.
"""

import argparse
import shutil
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=Path("docs"))
    parser.add_argument("--n-events", type=int, default=2)
    parser.add_argument("--stereo-model", type=Path)
    args = parser.parse_args()
    from reconstruction.explain import explain

    work = args.output / ".explain-tmp"
    paths = explain(args.model, args.input, work, n_events=args.n_events, min_intensity=300)
    for i, path in enumerate(paths):
        target = args.output / f"reconstruction_explain_{i + 1}.png"
        shutil.move(path, target)
        print(target, "from", path.name)
    if args.stereo_model is not None:
        path = explain(args.stereo_model, args.input, work, n_events=1, min_intensity=300)[0]
        shutil.move(path, args.output / "reconstruction_explain_stereo.png")
        print(args.output / "reconstruction_explain_stereo.png", "from", path.name)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
