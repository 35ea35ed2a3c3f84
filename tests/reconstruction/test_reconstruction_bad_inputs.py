"""reconstruction-train, -predict and -evaluate on bad input: one line, exit code 2, nothing written, nothing damaged.

Every command is run in-process through ``reconstruction.tools.main`` and, for
the console scripts and the signals, as a real subprocess. A refusal must be
one line on stderr, ``PROGRAM: error: FILE: problem``, without a traceback,
and leave no output (an older one byte-identical); SIGTERM and SIGINT in the
middle of writing remove the output in progress. Every JSON written must be
strict (no NaN or Infinity tokens).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tables
from ctapipe.io import TableLoader

from reconstruction.tools import main

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = {"train": "reconstruction-train", "predict": "reconstruction-predict", "evaluate": "reconstruction-evaluate"}
#: a model that trains in seconds (for the runs that must get past setup)
TINY = ["--batch-size", "16", "--max-examples", "32", "--no-progress", "--DataSpec.image_shape=28",
        "--NetworkSpec.depth=1", "--NetworkSpec.width=4", "--NetworkSpec.head_units=4"]
TINY_TRAINING = ["--epochs", "1", *TINY]


def _no_constants(name):
    raise AssertionError(f"non-standard JSON constant {name}")


def strict_json(text):
    return json.loads(text, parse_constant=_no_constants)


def run(capsys, command, *args):
    code = main([command, *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code, err, command, *words):
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{PROGRAMS[command]}: error: "), err
    for word in words:
        assert str(word) in lines[0], (word, err)


def hidden(folder):
    """Partial outputs (and anything hidden) under ``folder``."""
    return sorted(str(p) for p in Path(folder).rglob(".*"))


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Successful runs write their provenance log into the working folder: not the repository's."""
    monkeypatch.chdir(tmp_path)


def _copy_h5(src, dst):
    with tables.open_file(src) as h5:
        h5.copy_file(str(dst), overwrite=True)
    return dst


@pytest.fixture(scope="session")
def bad_files(reco_files, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_inputs")
    gamma = reco_files[0]
    files = {"missing": folder / "missing.dl1.h5", "empty": folder / "empty.dl1.h5"}
    files["empty"].touch()
    files["truncated"] = folder / "truncated.dl1.h5"
    files["truncated"].write_bytes(gamma.read_bytes()[: gamma.stat().st_size // 3])
    files["not_hdf5"] = folder / "notes.dl1.h5"
    files["not_hdf5"].write_text("gamma run 7, see the logbook\n")
    files["wrong_camera"] = _copy_h5(gamma, folder / "chec.dl1.h5")
    with tables.open_file(files["wrong_camera"], "a") as h5:
        layout = h5.root.configuration.instrument.subarray.layout
        layout.modify_column(colname="camera_name", column=np.full(layout.nrows, b"CHEC"))
        h5.root.configuration.instrument.telescope.camera.geometry_0.attrs.CAM_ID = "CHEC"
    files["no_tables"] = _copy_h5(gamma, folder / "no_images.dl1.h5")
    with tables.open_file(files["no_tables"], "a") as h5:
        h5.remove_node("/dl1/event/telescope/images", recursive=True)
    for kind, value in (("nan", np.nan), ("saturated", 5000.0)):
        files[kind] = _copy_h5(gamma, folder / f"{kind}.dl1.h5")
        with tables.open_file(files[kind], "a") as h5:
            node = h5.get_node("/dl1/event/telescope/images/tel_001")
            rows = node.read()
            rows["image"][0] = value  # every pixel of the first image
            node.modify_rows(start=0, rows=rows)
    return files


def _drop_telescope(src, dst, tel_id):
    """A copy of ``src`` in which telescope ``tel_id`` never triggered: none of its event tables, no trigger flag."""
    _copy_h5(src, dst)
    name = f"tel_{tel_id:03d}"
    with tables.open_file(dst, "a") as h5:
        for node in list(h5.walk_nodes("/", "Leaf")):
            if node._v_name == name and not node._v_pathname.startswith("/configuration"):
                h5.remove_node(node._v_pathname)
        triggers = h5.root.dl1.event.telescope.trigger
        kept = triggers.read_where(f"tel_id != {tel_id}")
        triggers.remove_rows(0, triggers.nrows)
        triggers.append(kept)
        subarray = h5.root.dl1.event.subarray.trigger
        flags = subarray.col("tels_with_trigger")
        flags[:, tel_id - 1] = False
        subarray.modify_column(colname="tels_with_trigger", column=flags)
    return dst


@pytest.fixture(scope="session")
def without_tel2(reco_files, tmp_path_factory):
    """The session's gamma and proton files as if LST 2 had never triggered."""
    folder = tmp_path_factory.mktemp("without_tel2")
    return [_drop_telescope(f, folder / f.name, 2) for f in reco_files]


def _argv(command, bad, reco_files, mono_model, mono_dl2, out):
    if command == "train":
        return ["--input", bad, "--input", reco_files[1], "--output", out, "--epochs", "1"]
    if command == "predict":
        return ["--model", mono_model.model_dir, "--input", bad, "--output-dir", out]
    return ["--input", bad, "--input", mono_dl2[1], "--output-dir", out]


WORDS = {
    "missing": {"all": ["missing.dl1.h5", "does not exist"]},
    "empty": {"all": ["empty.dl1.h5", "is empty"]},
    "truncated": {"all": ["truncated.dl1.h5", "truncated HDF5 file"]},
    "not_hdf5": {"all": ["notes.dl1.h5", "not an HDF5 file"]},
    "wrong_camera": {"train": ["chec.dl1.h5", "no LSTCam telescope", "CHEC"],
                     "predict": ["chec.dl1.h5", "no LSTCam telescope", "CHEC"],
                     "evaluate": ["chec.dl1.h5", "has no /dl2/event/subarray/classification/CNN"]},
    "nan": {"train": ["nan.dl1.h5", "images of tel_001 hold NaN"],
            "predict": ["nan.dl1.h5", "images of tel_001 hold NaN"],
            "evaluate": ["nan.dl1.h5", "has no /dl2/event/subarray/classification/CNN"]},
    "saturated": {"train": ["saturated.dl1.h5", "1 images of tel_001 are saturated"],
                  "predict": ["saturated.dl1.h5", "1 images of tel_001 are saturated"],
                  "evaluate": ["saturated.dl1.h5", "has no /dl2/event/subarray/classification/CNN"]},
    "no_tables": {"train": ["no_images.dl1.h5", "has no /dl1/event/telescope/images"],
                  "predict": ["no_images.dl1.h5", "has no /dl1/event/telescope/images"],
                  "evaluate": ["no_images.dl1.h5", "has no /dl2/event/subarray/classification/CNN"]},
}


@pytest.mark.parametrize("kind", list(WORDS))
@pytest.mark.parametrize("command", list(PROGRAMS))
def test_bad_input_file(command, kind, bad_files, reco_files, mono_model, mono_dl2, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run(capsys, command, *_argv(command, bad_files[kind], reco_files, mono_model, mono_dl2, out))
    words = WORDS[kind].get(command, WORDS[kind].get("all"))
    assert_refused(code, err, command, *words)
    assert not out.exists()


@pytest.mark.parametrize(
    ("command", "options", "words"),
    [
        ("train", ["--epochs", "0"], ["--epochs", "at least 1", "got 0"]),
        ("train", ["--epochs", "-2"], ["--epochs", "got -2"]),
        ("train", ["--epochs", "many"], ["epochs", "many"]),
        ("train", ["--epochs", "1", "--epochs", "2"], ["epochs only accepts one value"]),
        ("train", ["--epoch=3"], ["unknown option --epoch"]),
        ("train", ["--seed", "-1"], ["--seed", "0 or more"]),
        ("train", ["--validation-fraction", "0"], ["--validation-fraction", "between 0 and 1"]),
        ("train", ["--validation-fraction", "1"], ["--validation-fraction", "got 1.0"]),
        ("train", ["--batch-size", "0"], ["--batch-size", "at least 1"]),
        ("train", ["--max-examples", "0"], ["--max-examples", "at least 1"]),
        ("train", ["--freeze-backbone"], ["--freeze-backbone needs an --initial-model"]),
        ("train", ["--NetworkSpec.depth=0"], ["--NetworkSpec.depth", "positive"]),
        ("train", ["--DataSpec.image_shape=4"], ["--DataSpec.image_shape", "at least 8"]),
        ("train", ["--DataSpec.tel_ids=9"], ["gamma.dl1.h5", "has no telescope 9"]),
        ("train", ["--DataSpec.min_intensity=1e9"], ["gamma.dl1.h5", "no mono examples pass"]),
        ("train", ["stray-argument"], ["unexpected argument", "stray-argument"]),
        ("predict", ["--prefix", "two words"], ["--prefix", "plain identifier"]),
        ("predict", ["--batch-size", "0"], ["--batch-size", "at least 1"]),
        ("evaluate", ["--level", "camera"], ["level", "camera"]),
        ("evaluate", ["--label", "../up"], ["--label", "plain file name"]),
    ],
)
def test_impossible_options(command, options, words, reco_files, mono_model, mono_dl2, tmp_path, capsys):
    out = tmp_path / "out"
    if command == "train":
        argv = ["--input", reco_files[0], "--input", reco_files[1], "--output", out]
    elif command == "predict":
        argv = ["--model", mono_model.model_dir, "--input", reco_files[0], "--output-dir", out]
    else:
        argv = ["--input", mono_dl2[0], "--output-dir", out]
    code, _, err = run(capsys, command, *argv, *options)
    assert_refused(code, err, command, *words)
    assert not out.exists()


def test_train_refuses_an_existing_model_without_overwrite(mono_model, reco_files, tmp_path, capsys):
    model = shutil.copytree(mono_model.model_dir, tmp_path / "model")
    before = snapshot(model)
    argv = ["--input", reco_files[0], "--input", reco_files[1], "--output", model, *TINY_TRAINING]
    code, _, err = run(capsys, "train", *argv)
    assert_refused(code, err, "train", str(model), "output exists", "--overwrite")
    assert snapshot(model) == before

    code, _, err = run(capsys, "train", *argv, "--overwrite")
    assert code == 0, err
    after = snapshot(model)
    assert sorted(after) == ["model.json", "model.keras"] and after != before
    meta = strict_json(after["model.json"].decode())
    assert meta["epochs"] == 1 and meta["data"]["tel_ids"] == [1, 2, 3, 4]
    assert hidden(tmp_path) == []


def test_train_never_replaces_a_folder_of_other_files(reco_files, tmp_path, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    argv = ["--input", reco_files[0], "--input", reco_files[1], "--output", folder, *TINY_TRAINING, "--overwrite"]
    code, _, err = run(capsys, "train", *argv)
    assert_refused(code, err, "train", str(folder), "other files than a model", "notes.txt")
    assert snapshot(folder) == {"notes.txt": b"keep me"}


def test_predict_refuses_an_existing_output_without_overwrite(mono_model, mono_dl2, reco_files, tmp_path, capsys):
    out = tmp_path / "dl2"
    out.mkdir()
    shutil.copy(mono_dl2[0], out / "gamma.dl2.h5")
    before = snapshot(out)
    argv = ["--model", mono_model.model_dir, "--input", reco_files[0], "--output-dir", out]
    code, _, err = run(capsys, "predict", *argv)
    assert_refused(code, err, "predict", out / "gamma.dl2.h5", "output exists", "--overwrite")
    assert snapshot(out) == before

    code, _, err = run(capsys, "predict", *argv, "--overwrite")
    assert code == 0, err
    written = out / "gamma.dl2.h5"
    umask = os.umask(0)
    os.umask(umask)
    # the output is as readable as any new file here (a temporary file's 0600 would keep colleagues out)
    assert written.stat().st_mode & 0o777 == 0o666 & ~umask
    assert hidden(tmp_path) == []
    with TableLoader(written) as loader:
        assert len(loader.read_subarray_events(dl2=True)) > 0


def test_evaluate_refuses_an_existing_output_and_writes_strict_json(mono_dl2, tmp_path, capsys):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "mono.json").write_text("{}\n")
    argv = ["--input", mono_dl2[0], "--input", mono_dl2[1], "--output-dir", out, "--label", "mono"]
    code, _, err = run(capsys, "evaluate", *argv)
    assert_refused(code, err, "evaluate", out / "mono.json", "output exists", "--overwrite")
    assert snapshot(out) == {"mono.json": b"{}\n"}

    code, _, err = run(capsys, "evaluate", *argv, "--overwrite")
    assert code == 0, err
    metrics = strict_json((out / "mono.json").read_text())
    assert 0 <= metrics["auc"] <= 1 and (out / "mono.png").stat().st_size > 0
    assert hidden(tmp_path) == []


def test_evaluate_gammas_only_writes_null_not_nan(mono_dl2, tmp_path, capsys):
    """With one class the AUC is undefined: null in the JSON on stdout and in the file, never a bare NaN."""
    code, out, err = run(capsys, "evaluate", "--input", mono_dl2[0])
    assert code == 0, err
    assert strict_json(out)["auc"] is None
    code, _, err = run(capsys, "evaluate", "--input", mono_dl2[0], "--output-dir", tmp_path / "eval")
    assert code == 0, err
    assert strict_json((tmp_path / "eval" / "CNN_subarray.json").read_text())["auc"] is None


def _damage(model_dir, kind):
    keras_file, meta_file = model_dir / "model.keras", model_dir / "model.json"
    if kind == "bad_zip":
        keras_file.write_bytes(keras_file.read_bytes()[: keras_file.stat().st_size // 2])
        return keras_file, "not a Keras model archive"
    if kind == "not_zip":
        keras_file.write_text("weights were here")
        return keras_file, "not a Keras model archive"
    if kind == "no_model_json":
        meta_file.unlink()
        return meta_file, "missing"
    if kind == "no_model_keras":
        keras_file.unlink()
        return keras_file, "missing"
    if kind == "invalid_json":
        meta_file.write_text(meta_file.read_text()[:-40])
        return meta_file, "not valid JSON"
    if kind == "not_a_description":
        meta_file.write_text('{"epochs": 1}')
        return meta_file, "not a model description"
    shutil.rmtree(model_dir)
    return model_dir, "model folder does not exist"


@pytest.mark.parametrize(
    "kind", ["bad_zip", "not_zip", "no_model_json", "no_model_keras", "invalid_json", "not_a_description", "gone"]
)
def test_predict_refuses_a_damaged_model_folder(kind, mono_model, reco_files, tmp_path, capsys):
    model = shutil.copytree(mono_model.model_dir, tmp_path / "model")
    path, words = _damage(model, kind)
    out = tmp_path / "dl2"
    code, _, err = run(capsys, "predict", "--model", model, "--input", reco_files[0], "--output-dir", out)
    assert_refused(code, err, "predict", path, words)
    assert not out.exists()


@pytest.mark.parametrize("kind", ["bad_zip", "invalid_json"])
def test_train_refuses_a_damaged_initial_model(kind, mono_model, reco_files, tmp_path, capsys):
    model = shutil.copytree(mono_model.model_dir, tmp_path / "initial")
    path, words = _damage(model, kind)
    out = tmp_path / "model"
    argv = ["--input", reco_files[0], "--input", reco_files[1], "--output", out, "--initial-model", model]
    code, _, err = run(capsys, "train", *argv, *TINY_TRAINING)
    assert_refused(code, err, "train", path, words)
    assert not out.exists()


def test_a_telescope_without_events_is_skipped(without_tel2, mono_model, stereo_model, tmp_path, capsys):
    """dl1-data-handler fails on a telescope of the subarray that never triggered; it is left out instead."""
    model = tmp_path / "stereo"
    code, _, err = run(capsys, "train", "--input", without_tel2[0], "--input", without_tel2[1], "--output", model,
                       "--mode", "stereo", *TINY_TRAINING)
    assert code == 0, err
    meta = strict_json((model / "model.json").read_text())
    assert meta["data"]["tel_ids"] == [1, 3, 4] and meta["example_shape"][0] == 3

    out = tmp_path / "dl2"
    # a four-slot stereo model leaves LST 2's slot empty (masked) where it has no image
    code, _, err = run(capsys, "predict", "--model", stereo_model.model_dir, "--input", without_tel2[0],
                       "--output-dir", out / "stereo", "--prefix", "Stereo")
    assert code == 0, err
    with TableLoader(out / "stereo" / "gamma.dl2.h5") as loader:
        events = loader.read_subarray_events(dl2=True)
    assert np.isfinite(events["Stereo_energy"]).any()

    code, _, err = run(capsys, "predict", "--model", mono_model.model_dir, "--input", without_tel2[0],
                       "--output-dir", out / "mono")
    assert code == 0, err
    with tables.open_file(out / "mono" / "gamma.dl2.h5") as h5:
        assert "/dl2/event/telescope/energy/CNN/tel_001" in h5 and "/dl2/event/telescope/energy/CNN/tel_002" not in h5


def _env():
    # the repository first: a development install made before lstcommon existed does not know it
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def _script(command):
    script = Path(sys.executable).with_name(PROGRAMS[command])
    return [str(script)] if script.exists() else [sys.executable, "-m", "reconstruction.tools", command]


@pytest.mark.parametrize("command", list(PROGRAMS))
def test_console_scripts_exit_2_in_one_line(command, bad_files, tmp_path):
    argv, words = {
        "train": (["--input", bad_files["truncated"], "--output", tmp_path / "model"], ["truncated HDF5 file"]),
        "predict": (["--model", tmp_path / "no-model", "--input", bad_files["truncated"]],
                    ["no-model", "model folder does not exist"]),
        "evaluate": (["--input", bad_files["empty"]], ["empty.dl1.h5", "is empty"]),
    }[command]
    done = subprocess.run([*_script(command), *map(str, argv)], capture_output=True, text=True, env=_env(),
                          cwd=tmp_path, timeout=120)
    assert_refused(done.returncode, done.stderr, command, *words)
    assert done.stdout == ""
    assert not (tmp_path / "model").exists()


def _interrupt(argv, partial_glob, folder, signum, tmp_path):
    """Run ``python -m reconstruction.tools ARGV``; send ``signum`` once ``folder/partial_glob`` appears."""
    # a Python started in the background may inherit an ignored SIGINT: the child takes Ctrl-C as usual
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from reconstruction.tools import main; sys.exit(main(sys.argv[1:]))")
    child = subprocess.Popen([sys.executable, "-c", code, *map(str, argv)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=_env(), cwd=tmp_path)
    deadline = time.monotonic() + 240
    try:
        while not list(folder.glob(partial_glob)):
            assert child.poll() is None, f"finished before its output appeared: {child.communicate()}"
            assert time.monotonic() < deadline, "the output in progress never appeared"
            time.sleep(0.01)
        child.send_signal(signum)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return child.returncode, out, err


def test_sigterm_while_training_keeps_the_older_model(mono_model, reco_files, tmp_path):
    model = shutil.copytree(mono_model.model_dir, tmp_path / "model")
    before = snapshot(model)
    # one file and one task: the quickest training to get to
    argv = ["train", "--input", reco_files[0], "--NetworkSpec.tasks=energy", "--output", model, "--overwrite",
            *TINY, "--epochs", "200"]
    code, _, err = _interrupt(argv, ".model.partial-*", tmp_path, signal.SIGTERM, tmp_path)
    assert code == 143, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("reconstruction-train: terminated")
    assert snapshot(model) == before
    assert hidden(tmp_path) == []


def test_sigint_while_predicting_keeps_the_older_output(mono_model, mono_dl2, reco_files, tmp_path):
    out = tmp_path / "dl2"
    out.mkdir()
    shutil.copy(mono_dl2[0], out / "gamma.dl2.h5")
    before = snapshot(out)
    argv = ["predict", "--model", mono_model.model_dir, "--input", reco_files[0], "--output-dir", out, "--overwrite",
            "--batch-size", "1"]
    code, _, err = _interrupt(argv, ".gamma.dl2.h5.partial-*", out, signal.SIGINT, tmp_path)
    assert code == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("reconstruction-predict: interrupted")
    assert snapshot(out) == before
    assert hidden(tmp_path) == []
