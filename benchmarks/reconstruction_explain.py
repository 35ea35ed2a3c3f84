"""Explanation-map figures for docs/: Grad-CAM and attention maps of a trained mono model, in camera geometry.

    python benchmarks/reconstruction_explain.py --model QUICKSTART/models/mono --input FILE.dl1.h5 [--output docs/]

(the model from `examples/reconstruction_quickstart.py --output QUICKSTART`).
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
    args = parser.parse_args()
    from reconstruction.explain import explain

    work = args.output / ".explain-tmp"
    paths = explain(args.model, args.input, work, n_events=args.n_events, min_intensity=300)
    for i, path in enumerate(paths):
        target = args.output / f"reconstruction_explain_{i + 1}.png"
        shutil.move(path, target)
        print(target, "from", path.name)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
