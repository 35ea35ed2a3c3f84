"""Peer comparison: CTLearn 0.10.4, trained and applied with its own command-line tools on the quick start's files,
scored with the project's definitions on the same array events as the project's networks and Hillas + RF.

    python benchmarks/reconstruction_ctlearn.py --quickstart QS [--seeds 0 1] [--epochs N] [--venv DIR]
        [--work DIR] [--output docs/]

``QS`` is a quick-start output folder (``examples/reconstruction_quickstart.py --output QS``): its training and test
files (``QS/data/<set>/{train,test}``) feed CTLearn, its DL2 files (``QS/dl2/{gamma,proton}.{mono,stereo,hillas_rf}
.dl2.h5``) are the project's rows.

CTLearn runs in a virtual environment of its own (``--venv``, default ``.venv-ctlearn`` in the repository, created
with pip when missing: ctlearn 0.10.4, dl1-data-handler 0.14.10 (0.14.11 renamed a method CTLearn calls) and the
project's ctapipe), never in the project's. Per seed, ``ctlearn-train-model`` trains CTLearn's ``SingleCNN``
(its defaults: architecture, Adam at 1e-4, batch 64, learning rate halved on plateaus, best validation checkpoint
kept, 10 % validation) twice, as CTLearn trains a classifier (class weights, which Keras takes for one output only):
``--reco type`` on gammas and protons, and ``--reco energy --reco cameradirection`` on gammas. It sees the images the
project's mono network sees (the same dl1-data-handler reader settings: the package's ``DataSpec`` defaults and the
quick-start model's telescopes), for ``--epochs`` epochs (default: the project's mono training's). Then
``ctlearn-predict-mono-model`` writes its DL2 for the test files.

Scoring: CTLearn's telescope tables are read with ctapipe's ``read_table``, combined per array event by the same
``StereoMeanCombiner`` as the project's mono network (``predict._combine``) and written in the project's DL2 layout
under the prefix ``CTLearn``; then every row goes through ``evaluate.load_events``, ``evaluate.common_events`` (the
events every row reconstructs) and ``evaluate.bootstrap_metrics`` (errors: standard deviation over resamplings of
those events). Writes reconstruction_ctlearn.json/.md in ``--output``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, git, metadata_markdown, run_metadata

from lstcommon.files import write_json, write_text_atomic

#: what CTLearn needs, pinned: dl1-data-handler 0.14.11 renamed a method ctlearn 0.10.4 calls
PINS = {"ctlearn": "0.10.4", "dl1-data-handler": "0.14.10"}
PREFIX = "CTLearn"
REFERENCES = {"cnn_mono": ("mono", "CNN"), "cnn_stereo": ("stereo", "CNN"), "baseline": ("hillas_rf", "HillasRF")}
LABELS = {"cnn_mono": "project CNN mono (mean per event)", "cnn_stereo": "project CNN stereo",
          "baseline": "Hillas + RF"}
PARTICLES = ("gamma", "proton")


def fail(message):
    """Refused input: one line, exit code 2."""
    print(f"reconstruction_ctlearn: error: {message}", file=sys.stderr)
    raise SystemExit(2)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage + message
        fail(message)


def parse_args(argv=None):
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quickstart", type=Path, required=True, help="a quick-start output folder")
    parser.add_argument("--data-set", default="default", help="the quick start's data set (default, full, small)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one pair of CTLearn models per seed")
    parser.add_argument("--epochs", type=int, help="CTLearn's epochs (default: the project's mono training's)")
    parser.add_argument("--venv", type=Path, default=REPO / ".venv-ctlearn", help="CTLearn's virtual environment")
    parser.add_argument("--work", type=Path, default=Path("ctlearn-work"))
    parser.add_argument("--output", type=Path, default=Path("docs"))
    parser.add_argument("--resamplings", type=int, default=200, help="bootstrap resamplings of the events")
    args = parser.parse_args(argv)
    check_args(args)
    return args


def check_args(args):
    """Everything that can be refused before any installation, training or reading."""
    data = args.quickstart / "data" / args.data_set
    for split in ("train", "test"):
        for particle in PARTICLES:
            path = data / split / f"{particle}.dl1.h5"
            if not path.is_file() or path.stat().st_size == 0:
                fail(f"{path}: missing or empty (--quickstart needs a quick-start output folder)")
    for kind, _ in REFERENCES.values():
        for particle in PARTICLES:
            path = args.quickstart / "dl2" / f"{particle}.{kind}.dl2.h5"
            if not path.is_file():
                fail(f"{path}: missing (--quickstart needs the quick start's DL2 files)")
    model = args.quickstart / "models" / "mono" / "model.json"
    if not model.is_file():
        fail(f"{model}: missing (--quickstart needs the quick start's mono model)")
    if args.epochs is not None and args.epochs < 1:
        fail(f"--epochs must be at least 1, got {args.epochs}")
    if any(s < 0 for s in args.seeds) or len(set(args.seeds)) != len(args.seeds):
        fail(f"--seeds must be distinct integers 0 or more, got {args.seeds}")
    if args.resamplings < 2:
        fail(f"--resamplings must be at least 2, got {args.resamplings}")
    if args.venv.exists() and not (args.venv / "bin" / "python").exists():
        fail(f"{args.venv}: exists but is not a virtual environment (--venv)")


def ensure_venv(venv: Path) -> dict:
    """CTLearn's own virtual environment (made with pip when missing); its package versions."""
    import ctapipe

    python = venv / "bin" / "python"
    if not (venv / "bin" / "ctlearn-train-model").exists():
        print(f"creating {venv} (ctlearn {PINS['ctlearn']}, dl1-data-handler {PINS['dl1-data-handler']})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pins = [f"{k}=={v}" for k, v in PINS.items()] + [f"ctapipe=={ctapipe.__version__}"]
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], capture_output=True, text=True)
        if done.returncode != 0:
            tail = " ".join(done.stderr.split())[-300:]
            raise SystemExit(f"reconstruction_ctlearn: pip could not install {' '.join(pins)} into {venv} "
                             f"(is PyPI reachable?): {tail}")
    probe = ("import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in "
             "('ctlearn', 'dl1_data_handler', 'ctapipe', 'tensorflow', 'keras', 'numpy', 'astropy')}))")
    versions = json.loads(subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout)
    if versions["ctlearn"] != PINS["ctlearn"] or versions["dl1_data_handler"] != PINS["dl1-data-handler"]:
        raise SystemExit(f"reconstruction_ctlearn: {venv} holds ctlearn {versions['ctlearn']} and dl1-data-handler "
                         f"{versions['dl1_data_handler']}, not {PINS['ctlearn']} and {PINS['dl1-data-handler']}")
    return versions


def reader_config(tel_ids) -> dict:
    """dl1-data-handler reader settings of the project's mono network (DataSpec defaults), as CTLearn config."""
    from reconstruction.settings import DataSpec

    config = DataSpec().reader_config()
    plain = json.loads(json.dumps(config, default=list))
    plain["DLImageReader"]["allowed_tels"] = sorted(tel_ids)
    return plain


def run_ctlearn(venv, tool, argv, log_path):
    """One CTLearn console script; its output to ``log_path``; the wall time."""
    start = time.perf_counter()
    with open(log_path, "w") as log:
        done = subprocess.run([str(venv / "bin" / tool), *argv], stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if done.returncode != 0:
        tail = " ".join(Path(log_path).read_text().split())[-400:]
        raise SystemExit(f"reconstruction_ctlearn: {tool} failed ({done.returncode}), log {log_path}: {tail}")
    return time.perf_counter() - start


def ctlearn_tel_tables(path) -> dict:
    """CTLearn's per-image predictions of one file, by the project's DL2 group names and column names."""
    import numpy as np
    import tables
    from astropy.table import vstack
    from ctapipe.io import read_table

    wanted = {"_tel_prediction": "classification", "_tel_energy": "energy", "_tel_alt": "geometry", "_tel_az": "geometry"}
    pieces = {}
    with tables.open_file(path) as h5:
        nodes = [n._v_pathname for n in h5.walk_nodes("/dl2/event/telescope", "Table")]
    for node in nodes:
        table = read_table(path, node)
        renamed = {c: (f"{PREFIX}{suffix}", group) for c in table.colnames for suffix, group in wanted.items()
                   if c.endswith(suffix)}
        for group in {g for _, g in renamed.values()}:
            part = table[["obs_id", "event_id", "tel_id"]]
            for column, (new, g) in renamed.items():
                if g == group:
                    part[new] = table[column]
            pieces.setdefault(group, []).append(part)
    out = {}
    for group in ("classification", "energy", "geometry"):
        if group not in pieces:
            raise SystemExit(f"reconstruction_ctlearn: {path}: CTLearn wrote no telescope {group} table")
        table = vstack(pieces[group], metadata_conflicts="silent")
        first = table[next(c for c in table.colnames if c.startswith(f"{PREFIX}_tel_"))]
        table[f"{PREFIX}_tel_is_valid"] = np.isfinite(np.asarray(getattr(first, "value", first), dtype=float))
        table.sort(["obs_id", "event_id", "tel_id"])
        out[group] = table
    return out


def rescore_ctlearn(ctlearn_file, dl1_file, output):
    """CTLearn's images combined per array event as the project combines its mono network's, in the project's
    DL2 layout (the DL1 file's tables without its pixel data, as any of the project's DL2 files)."""
    from reconstruction import predict

    tel = ctlearn_tel_tables(ctlearn_file)
    array = {group: predict._combine(table, group, PREFIX) for group, table in tel.items()}
    return predict._write_atomically(dl1_file, output, tel, array, PREFIX, overwrite=True)


def main(argv=None):
    args = parse_args(argv)
    import numpy as np

    from reconstruction import evaluate
    from reconstruction.settings import TrainSpec

    versions = ensure_venv(args.venv)
    meta = run_metadata()
    meta["reconstruction_commit"] = git("log", "-1", "--format=%H", "--", "reconstruction").strip()
    meta["ctlearn_environment"] = versions
    data = args.quickstart / "data" / args.data_set
    mono_meta = json.loads((args.quickstart / "models" / "mono" / "model.json").read_text())
    epochs = args.epochs or TrainSpec().epochs
    args.work.mkdir(parents=True, exist_ok=True)
    config_path = args.work / "ctlearn_reader.json"
    config = reader_config(mono_meta["data"]["tel_ids"])
    config_path.write_text(json.dumps(config, indent=1))

    events, labels, runs = {}, dict(LABELS), {}
    for seed in args.seeds:
        folder = args.work / f"seed{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        common = ["--config", str(config_path), "--TrainCTLearnModel.model_type=SingleCNN",
                  f"--TrainCTLearnModel.n_epochs={epochs}", f"--TrainCTLearnModel.random_seed={seed}",
                  "--signal", str(data / "train"), "--pattern-signal", "gamma.dl1.h5"]
        models, timing = {}, {}
        for name, extra in (("type", ["--background", str(data / "train"), "--pattern-background", "proton.dl1.h5",
                                      "--reco", "type"]),
                            ("energy_direction", ["--reco", "energy", "--reco", "cameradirection"])):
            out = folder / name
            if out.exists():  # CTLearn refuses an existing output folder
                import shutil

                shutil.rmtree(out)
            timing[f"train_{name}_s"] = run_ctlearn(args.venv, "ctlearn-train-model", [*common, *extra, "--output", str(out)],
                                                    folder / f"train_{name}.log")
            models[name] = out / "ctlearn_model.keras"
            print(f"seed {seed}: trained CTLearn {name} in {timing[f'train_{name}_s']:.0f} s", flush=True)
        dl2 = []
        for particle in PARTICLES:
            raw = folder / f"{particle}.ctlearn.dl2.h5"
            timing[f"predict_{particle}_s"] = run_ctlearn(
                args.venv, "ctlearn-predict-mono-model",
                ["--config", str(config_path), "--input_url", str(data / "test" / f"{particle}.dl1.h5"),
                 "--type_model", str(models["type"]), "--energy_model", str(models["energy_direction"]),
                 "--cameradirection_model", str(models["energy_direction"]), "--output", str(raw),
                 "--PredictCTLearnModel.keras_verbose=0", "--overwrite", "--no-r0-waveforms", "--no-r1-waveforms",
                 "--no-dl1-images", "--no-true-images"],
                folder / f"predict_{particle}.log")
            dl2.append(rescore_ctlearn(raw, data / "test" / f"{particle}.dl1.h5",
                                       folder / f"{particle}.ctlearn_rescored.dl2.h5"))
        name = f"ctlearn_seed{seed}"
        events[name] = evaluate.load_events(dl2, prefix=PREFIX, level="subarray")
        labels[name] = f"CTLearn 0.10.4 SingleCNN mono, seed {seed} (same combiner)"
        runs[name] = {"timings": timing, "epochs": epochs,
                      "history": {k: _history(folder / k / "training_log.csv") for k in models}}
    for name, (kind, prefix) in REFERENCES.items():
        files = [args.quickstart / "dl2" / f"{p}.{kind}.dl2.h5" for p in PARTICLES]
        events[name] = evaluate.load_events(files, prefix=prefix, level="subarray")
    common_events = evaluate.common_events(events)
    bins = evaluate.default_energy_bins()
    rows = {name: {"label": labels[name], **evaluate.bootstrap_metrics(e, bins, n=args.resamplings)}
            for name, e in common_events.items()}
    n_events = len(next(iter(common_events.values())))
    n_gamma = int(np.sum(next(iter(common_events.values()))["true_shower_primary_id"] == 0))
    result = {"metadata": meta, "quickstart": str(args.quickstart), "data_set": args.data_set,
              "ctlearn_reader_config": config, "ctlearn_runs": runs, "n_events": n_events, "n_gamma": n_gamma,
              "energy_bins_gev": bins.to_value("GeV").tolist(), "rows": rows}
    write_json(args.output / "reconstruction_ctlearn.json", result)
    text = "\n".join(markdown(result, args))
    write_text_atomic(args.output / "reconstruction_ctlearn.md", text)
    print(text)


def _history(csv_path):
    """CTLearn's training log (Keras' CSVLogger) as lists per column."""
    import csv

    if not Path(csv_path).is_file():
        return None
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in rows[0]} if rows else None


def _fmt(value, error, digits=3, unit=""):
    if value is None:
        return ""
    return f"{value:.{digits}f}{unit}" + (f" ± {error:.{digits}f}{unit}" if error is not None else "")


def markdown(result, args):
    meta, rows = result["metadata"], result["rows"]
    v = meta["ctlearn_environment"]
    edges = result["energy_bins_gev"]
    shown = [i for i in range(len(edges) - 1) if rows["baseline"]["n_gamma_energy"][i] >= 10]
    lines = ["# CTLearn 0.10.4 (its own tools) against the project's networks and Hillas + RF", "",
             *metadata_markdown(meta), f"- reconstruction/ at commit `{meta['reconstruction_commit'][:10]}`",
             f"- CTLearn environment `{args.venv}`: ctlearn {v['ctlearn']}, dl1-data-handler {v['dl1_data_handler']}, "
             f"ctapipe {v['ctapipe']}, tensorflow {v['tensorflow']}, keras {v['keras']}",
             f"- files and project rows: quick start `{result['quickstart']}` (data set `{result['data_set']}`)",
             "- CTLearn training wall time (type / energy + direction): " + ", ".join(
                 f"{r['timings']['train_type_s']:.0f} s / {r['timings']['train_energy_direction_s']:.0f} s"
                 for r in result["ctlearn_runs"].values()), "",
             f"Per array event, on the {result['n_events']} events every row reconstructs ({result['n_gamma']} gammas); "
             f"± the standard deviation over {rows['baseline']['errors']['n_resamplings']} bootstrap resamplings of "
             "those events (one training per row). Energy resolution: half the 68 % inter-quantile range of "
             "E_reco/E_true - 1 (pyirf); angular resolution: 68 % containment.", "",
             "| per array event | AUC | energy res., all | 68 % ang. res., all |",
             "|---|---:|---:|---:|"]
    for r in rows.values():
        o, e = r["overall"], r["errors"]["overall"]
        lines.append(f"| {r['label']} | {_fmt(r['auc'], r['errors']['auc'])} | "
                     f"{_fmt(o['energy_resolution'], e['energy_resolution'])} | "
                     f"{_fmt(o['angular_resolution_deg'], e['angular_resolution_deg'], unit='°')} |")
    for key, title in (("energy_resolution", "Energy resolution"), ("angular_resolution_deg", "68 % angular resolution (deg)")):
        lines += ["", f"{title} per bin of true energy (bins with at least 10 gammas):", "",
                  "| | " + " | ".join(f"{edges[i]:.0f}-{edges[i + 1]:.0f} GeV ({rows['baseline']['n_gamma_energy'][i]})"
                                     for i in shown) + " |",
                  "|---|" + "---:|" * len(shown)]
        for r in rows.values():
            lines.append(f"| {r['label']} | " + " | ".join(_fmt(r[key][i], r["errors"][key][i]) for i in shown) + " |")
    lines.append("")
    return lines


if __name__ == "__main__":
    main()
