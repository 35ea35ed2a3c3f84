"""DL2 file size against DL1 file size: what ``reconstruction-predict`` writes by default (lean) and with
``--full-copy``.

    python benchmarks/reconstruction_dl2_size.py --data QS/data/default/test --model QS/models/mono \\
        --model QS/models/stereo [--full-copy] [--output docs/]

``--data`` holds gamma.dl1.h5 and proton.dl1.h5 (e.g. the quick start's test set); every ``--model`` is
applied to both, the DL2 files go to ``--work``. Each row is one DL2 file: its size, its DL1 file's size
and their ratio, and that ctapipe's TableLoader joins its DL2 tables with the simulated truth (events
with a valid prediction and a finite true energy). With ``--full-copy`` the full copies are measured too.
Writes reconstruction_dl2_size.json/.md in ``--output``.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import git, metadata_markdown, run_metadata

from lstcommon.files import write_json, write_text_atomic


def joined_events(path, prefix="CNN"):
    """Array events of ``path`` with a valid prediction and its true energy, read back by TableLoader."""
    import numpy as np
    from ctapipe.io import TableLoader

    with TableLoader(path) as loader:
        events = loader.read_subarray_events(dl2=True, simulated=True)
    valid = np.asarray(events[f"{prefix}_is_valid"] if f"{prefix}_is_valid" in events.colnames
                       else np.isfinite(events[f"{prefix}_energy"]))
    return int(np.sum(valid & np.isfinite(np.asarray(events["true_energy"]))))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with gamma.dl1.h5 and proton.dl1.h5")
    parser.add_argument("--model", type=Path, action="append", required=True, help="model folder (repeatable)")
    parser.add_argument("--work", type=Path, default=Path("dl2-size-work"))
    parser.add_argument("--output", type=Path, default=Path("docs"))
    parser.add_argument("--full-copy", action="store_true", help="measure the --full-copy files too")
    args = parser.parse_args()
    from reconstruction.predict import predict

    meta = run_metadata()
    meta["reconstruction_commit"] = git("log", "-1", "--format=%H", "--", "reconstruction").strip()
    rows = []
    for model in args.model:
        for particle in ("gamma", "proton"):
            dl1 = args.data / f"{particle}.dl1.h5"
            for full in (False, True) if args.full_copy else (False,):
                kind = "full" if full else "lean"
                out = args.work / f"{model.name}.{particle}.{kind}.dl2.h5"
                predict(model, dl1, out, overwrite=True, full_copy=full)
                rows.append({"model": str(model), "file": dl1.name, "kind": kind, "dl1_bytes": dl1.stat().st_size,
                             "dl2_bytes": out.stat().st_size, "ratio": out.stat().st_size / dl1.stat().st_size,
                             "joined_events": joined_events(out)})
                print(f"{model.name:10s} {dl1.name:15s} {kind:5s} DL2 {rows[-1]['dl2_bytes'] / 1e6:8.2f} MB  "
                      f"DL1 {rows[-1]['dl1_bytes'] / 1e6:8.2f} MB  ratio {rows[-1]['ratio']:.4f}  "
                      f"({rows[-1]['joined_events']} events joined with the truth)")
    lean = [r for r in rows if r["kind"] == "lean"]
    summary = {"max_lean_ratio": max(r["ratio"] for r in lean),
               "lean_bytes_total": sum(r["dl2_bytes"] for r in lean),
               "dl1_bytes_total": sum(r["dl1_bytes"] for r in lean)}
    write_json(args.output / "reconstruction_dl2_size.json", {"metadata": meta, "rows": rows, "summary": summary})
    lines = ["# DL2 size against DL1 size", "", *metadata_markdown(meta),
             f"- reconstruction/ at commit `{meta['reconstruction_commit'][:10]}`", "",
             "| model | file | DL2 kind | DL1 MB | DL2 MB | DL2 / DL1 | events joined with truth |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {Path(r['model']).name} | {r['file']} | {r['kind']} | {r['dl1_bytes'] / 1e6:.2f} | "
                     f"{r['dl2_bytes'] / 1e6:.3f} | {r['ratio']:.4f} | {r['joined_events']} |")
    lines += ["", f"Largest lean ratio: {summary['max_lean_ratio']:.4f}; all lean DL2 files together "
              f"{summary['lean_bytes_total'] / 1e6:.2f} MB for {summary['dl1_bytes_total'] / 1e6:.1f} MB of DL1 "
              "(counted once per model).", ""]
    write_text_atomic(args.output / "reconstruction_dl2_size.md", "\n".join(lines))


if __name__ == "__main__":
    main()
