"""``trigger-synth build`` on bad input: one line naming the file (or option) and the problem, exit code 2.

Every bad input is refused in ``setup()``, before any work: no traceback, no
output folder, no ``.OUT.partial-*`` left, an earlier build byte for byte as it
was. The build itself writes its output folder under a temporary name and
renames it when complete: SIGTERM mid-build (exit 143) leaves the earlier build
untouched; ``--overwrite`` replaces it whole. A step that fails on good input
is exit code 1 and one error line naming the step.

The model is the tiny example network of ``trigger.hardware.example`` (no
training data needed); one real build (``--no-synth``, about 15 s) is the
only slow part.
"""

import importlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from trigger.cli import main
from trigger.hardware.example import write_example_model

PROGRAM = "trigger-synth build"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return write_example_model(tmp_path_factory.mktemp("model") / "nn", hidden=(4,), n_train=64, epochs=1)


def snapshot(folder: Path) -> dict:
    """Every file and folder under ``folder`` with its bytes (folders: None)."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def fake_earlier_build(out: Path) -> dict:
    """An earlier build's look (what the checks go by), cheap to make: its bytes must survive a refused build."""
    (out / "hls").mkdir(parents=True)
    (out / "hls" / "build_prj.tcl").write_text("# earlier build\n")
    (out / "report.json").write_text('{"earlier": true}\n')
    (out / "stray.txt").write_text("left by the user\n")
    return snapshot(out)


def partials(folder: Path) -> list:
    return sorted(p.name for p in folder.rglob("*") if ".partial-" in p.name or ".old-" in p.name)


def bare_constant(token):
    pytest.fail(f"bare {token} in a JSON output (not strict JSON)")


def run_build(capsys, *args):
    code = main(["build", *map(str, args)])
    return code, capsys.readouterr().err


def assert_one_line_error(code, err, *words, exit_code=2):
    assert code == exit_code, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{PROGRAM}: error: "), err
    for word in words:
        assert str(word) in lines[0], (word, err)
    return lines[0]


def _bad_models(model_dir: Path, root: Path) -> dict:
    keras_bytes, description = (model_dir / "model.keras").read_bytes(), (model_dir / "trigger.json").read_text()

    def folder(name, model=None, trigger=None):
        path = root / name
        path.mkdir()
        if model is not None:
            (path / "model.keras").write_bytes(model)
        if trigger is not None:
            (path / "trigger.json").write_text(trigger)
        return path

    (root / "a_file").write_text("not a folder\n")
    return {
        "missing": (root / "nowhere", ["nowhere", "model folder does not exist"]),
        "not a folder": (root / "a_file", ["a_file", "is not a folder"]),
        "empty": (folder("empty"), ["empty", "model.keras and trigger.json are missing"]),
        "no trigger.json": (folder("no_json", model=keras_bytes), ["no_json", "trigger.json is missing"]),
        "model.keras not a zip": (folder("corrupt", model=b"\x89HDF garbage, not a zip", trigger=description),
                                  ["corrupt/model.keras", "is not a Keras model file"]),
        "model.keras empty": (folder("zero", model=b"", trigger=description), ["zero/model.keras", "empty"]),
        "model.keras truncated": (folder("truncated", model=keras_bytes[: len(keras_bytes) // 2], trigger=description),
                                  ["truncated/model.keras", "Keras model file"]),
        "trigger.json not JSON": (folder("badjson", model=keras_bytes, trigger="{not json"),
                                  ["badjson/trigger.json", "not valid JSON"]),
        "trigger.json without input": (folder("noinput", model=keras_bytes, trigger='{"inputs": {}}'),
                                       ["noinput/trigger.json", "missing the 'input' object"]),
        "trigger.json input incomplete": (folder("nosigned", model=keras_bytes,
                                                 trigger='{"input": {"n_inputs": 48, "bits": 8}}'),
                                          ["nosigned/trigger.json", "lacks signed"]),
        # the top streams 8-bit counts and decides one beat after a candidate's: a model it cannot run is refused
        "trigger.json 6-bit input": (folder("bits6", model=keras_bytes,
                                            trigger='{"input": {"n_inputs": 48, "bits": 6, "signed": false}}'),
                                     ["bits6/trigger.json", "6-bit", "--bits 8"]),
        "trigger.json ROI too long after": (
            folder("after12", model=keras_bytes, trigger='{"input": {"n_inputs": 48, "bits": 8, "signed": false}, '
                   '"roi": {"gate": 70, "n_before": 4, "n_after": 12}}'),
            ["after12/trigger.json", "n_after=12", "n_after <= 9"]),
        "trigger.json ROI not the model's inputs": (
            folder("roi36", model=keras_bytes, trigger='{"input": {"n_inputs": 48, "bits": 8, "signed": false}, '
                   '"roi": {"gate": 70, "n_before": 8, "n_after": 4}}'),
            ["roi36/trigger.json", "48 inputs", "= 36"]),
        "trigger.json disagrees with the model": (
            folder("n47", model=keras_bytes, trigger='{"input": {"n_inputs": 47, "bits": 8, "signed": false}}'),
            ["n47/model.keras", "n_inputs=47"]),
    }


BAD_MODELS = ["missing", "not a folder", "empty", "no trigger.json", "model.keras not a zip", "model.keras empty",
              "model.keras truncated", "trigger.json not JSON", "trigger.json without input",
              "trigger.json input incomplete", "trigger.json disagrees with the model", "trigger.json 6-bit input",
              "trigger.json ROI too long after", "trigger.json ROI not the model's inputs"]


@pytest.mark.parametrize("case", BAD_MODELS)
def test_bad_model_folder_is_one_line_and_exit_2(model_dir, tmp_path, capsys, case):
    bad, words = _bad_models(model_dir, tmp_path)[case]
    out = tmp_path / "out"
    code, err = run_build(capsys, bad, "--out", out, "--no-synth")
    assert_one_line_error(code, err, *words)
    assert not out.exists() and not partials(tmp_path)


def _events(tmp_path: Path, case: str):
    if case == "missing":
        return tmp_path / "missing.npy", ["missing.npy", "does not exist"]
    if case == "folder":
        (tmp_path / "events.npy").mkdir()
        return tmp_path / "events.npy", ["events.npy", "not a file"]
    if case == "text":
        (tmp_path / "events.txt").write_text("1 2 3\n")
        return tmp_path / "events.txt", ["events.txt", "not a .npy file"]
    if case == "npz":
        np.savez(tmp_path / "events.npz", x=np.zeros((2, 48)))
        return tmp_path / "events.npz", ["events.npz", "not a .npy file"]
    if case == "truncated":
        np.save(tmp_path / "events.npy", np.zeros((100, 48), np.uint8))
        data = (tmp_path / "events.npy").read_bytes()
        (tmp_path / "events.npy").write_bytes(data[: len(data) // 2])
        return tmp_path / "events.npy", ["events.npy", "cannot be read"]
    if case == "shape":
        np.save(tmp_path / "events.npy", np.zeros((3, 47), np.uint8))
        return tmp_path / "events.npy", ["events.npy", "expected shape (n, 48)"]
    if case == "range":
        np.save(tmp_path / "events.npy", np.full((3, 48), 300))
        return tmp_path / "events.npy", ["events.npy", "outside the 8-bit unsigned range"]
    if case == "pickled":
        np.save(tmp_path / "events.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        return tmp_path / "events.npy", ["events.npy", "cannot be read"]
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["missing", "folder", "text", "npz", "truncated", "shape", "range", "pickled"])
def test_bad_events_file_is_one_line_and_exit_2(model_dir, tmp_path, capsys, case):
    events, words = _events(tmp_path, case)
    out = tmp_path / "out"
    code, err = run_build(capsys, model_dir, "--out", out, "--events", events, "--no-synth")
    assert_one_line_error(code, err, *words)
    assert not out.exists() and not partials(tmp_path)


@pytest.mark.parametrize(
    "options, words",
    [
        (["--clock-mhz", "0"], ["--clock-mhz", "1..2000"]),
        (["--clock-mhz", "nan"], ["--clock-mhz", "nan"]),
        (["--clock-mhz", "5000"], ["--clock-mhz", "5000"]),
        (["--n-check", "-1"], ["--n-check", "-1"]),
        (["--n-check", "100000000000"], ["--n-check", "100000000000"]),
        (["--dma-width", "100"], ["--dma-width", "power of two"]),
        (["--dma-width", "0"], ["--dma-width", "got 0"]),
        (["--board", "zcu999"], ["--board", "unknown board 'zcu999'", "zcu104"]),
        (["--board", "zcu104", "--part", "xcvu9p-flga2104-2-e"], ["--board", "carries xczu7ev"]),
        (["--part", " "], ["--part", "FPGA part"]),
        (["--latency-cutoff", "-1"], ["--latency-cutoff", "positive"]),
        (["--seed", "-5"], ["--seed", "non-negative"]),
        (["--clock-mhz", "fast"], ["clock_mhz", "fast"]),
        (["--no-such-option", "1"], ["no-such-option"]),
        (["--no-synth", "extra-argument"], ["extra-argument"]),
    ],
)
def test_impossible_options_are_one_line_and_exit_2(model_dir, tmp_path, capsys, options, words):
    out = tmp_path / "out"
    code, err = run_build(capsys, model_dir, "--out", out, "--no-synth", *options)
    assert_one_line_error(code, err, *words)
    assert not out.exists() and not partials(tmp_path)


def test_unexpected_arguments_are_one_line(model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code, err = run_build(capsys, model_dir, "extra-argument", "--out", out)
    assert_one_line_error(code, err, "unexpected arguments", "extra-argument")
    assert not out.exists() and not partials(tmp_path)


def test_missing_arguments_are_one_line(model_dir, tmp_path, capsys):
    assert_one_line_error(*run_build(capsys, "--out", tmp_path / "out"), "no model given")
    assert_one_line_error(*run_build(capsys, model_dir), "no output folder")


def test_output_that_must_not_be_replaced(model_dir, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me\n")
    assert_one_line_error(*run_build(capsys, model_dir, "--out", a_file, "--overwrite"),
                          "a_file", "not a folder")
    assert a_file.read_text() == "keep me\n"
    # the model folder, or a folder holding it, would be deleted by the replacement
    before = snapshot(model_dir)
    assert_one_line_error(*run_build(capsys, model_dir, "--out", model_dir, "--overwrite"), "model")
    assert_one_line_error(*run_build(capsys, model_dir, "--out", model_dir.parent, "--overwrite"), "model")
    assert snapshot(model_dir) == before
    # a folder of other things is never replaced, even with --overwrite (a mistyped --out .)
    other = tmp_path / "papers"
    other.mkdir()
    (other / "thesis.tex").write_text("years of work\n")
    assert_one_line_error(*run_build(capsys, model_dir, "--out", other, "--overwrite"), "papers", "no earlier build")
    assert (other / "thesis.tex").read_text() == "years of work\n"
    # a parent that is a file
    assert_one_line_error(*run_build(capsys, model_dir, "--out", a_file / "sub"), "a_file", "not a folder")
    assert not partials(tmp_path)


def test_existing_output_without_overwrite_is_refused_and_untouched(model_dir, tmp_path, capsys):
    out = tmp_path / "hw"
    before = fake_earlier_build(out)
    mtime = out.stat().st_mtime_ns
    code, err = run_build(capsys, model_dir, "--out", out, "--no-synth")
    assert_one_line_error(code, err, str(out), "--overwrite")
    assert snapshot(out) == before and out.stat().st_mtime_ns == mtime
    assert not partials(tmp_path)


def test_bad_input_as_a_real_command(model_dir, tmp_path):
    """The installed entry point's module, in its own process: one stderr line, nothing on stdout."""
    bad = tmp_path / "corrupt"
    bad.mkdir()
    (bad / "trigger.json").write_text((model_dir / "trigger.json").read_text())
    (bad / "model.keras").write_bytes(b"PK\x03\x04 a zip header and then nothing")
    out = tmp_path / "hw"
    before = fake_earlier_build(out)
    result = subprocess.run([sys.executable, "-m", "trigger.cli", "build", str(bad), "--out", str(out), "--overwrite"],
                            capture_output=True, text=True, timeout=300, cwd=REPO)
    assert_one_line_error(result.returncode, result.stderr, "corrupt/model.keras", "Keras model file")
    assert result.stdout == ""
    assert snapshot(out) == before and not partials(tmp_path)


def _takes_ctrl_c():
    # a test run started in the background inherits an ignored SIGINT: the build takes it as a user's Ctrl-C
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signum, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_signal_mid_build_leaves_the_earlier_build(signum, code, word, model_dir, tmp_path):
    out = tmp_path / "hw"
    before = fake_earlier_build(out)
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "trigger.cli", "build", str(model_dir), "--out", str(out),
                             "--overwrite", "--no-synth", "--n-check", "10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
                            preexec_fn=_takes_ctrl_c)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".hw.partial-*")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the staged output never appeared"
            time.sleep(0.05)
        time.sleep(0.5)  # well inside the build: its log file is open, a step is running
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, stderr[-3000:]
    assert "Traceback" not in stderr
    assert f"{PROGRAM}: {word}" in stderr
    assert not partials(tmp_path)
    assert snapshot(out) == before


def test_failed_step_is_one_line_naming_it_and_exit_1(model_dir, tmp_path, capsys, monkeypatch):
    build_module = importlib.import_module("trigger.hardware.build")  # the package's `build` is the function

    def broken(*args, **kwargs):
        raise RuntimeError("hls4ml exploded\nwith a second line of detail")

    monkeypatch.setattr(build_module, "write_hls_project", broken)
    out = tmp_path / "hw"
    code, err = run_build(capsys, model_dir, "--out", out, "--no-synth", "--n-check", "5")
    assert code == 1 and "Traceback" not in err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith(f"{PROGRAM}: error: build step 'hls' failed: hls4ml exploded")
    # the build's folder is kept for debugging, with the earlier step's outputs and the whole message in build.log
    assert (out / "checks" / "inputs.npy").is_file() and not (out / "hls").exists()
    assert not (out / "report.json").exists()
    assert "second line of detail" in (out / "build.log").read_text()
    assert not partials(tmp_path)


def test_overwrite_replaces_the_earlier_build_whole(model_dir, tmp_path, capsys):
    out = tmp_path / "hw"
    fake_earlier_build(out)
    code, err = run_build(capsys, model_dir, "--out", out, "--overwrite", "--no-synth", "--n-check", "10")
    assert code == 0, err
    assert "Traceback" not in err and "error" not in err.lower()
    report = json.loads((out / "report.json").read_text(), parse_constant=bare_constant)
    assert report["bit_exact"]["verilog"]["mismatches"] == 0
    assert not (out / "stray.txt").exists() and "earlier" not in report
    assert (out / "hls" / "build_prj.tcl").read_text() != "# earlier build\n"
    assert not partials(tmp_path)
    # folders get the mode any new folder gets here, not mkdtemp's 0700
    mask = os.umask(0o022)
    os.umask(mask)
    for folder in (out, out / "hls", out / "rtl", out / "checks", out / "vendor", out / "logs"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~mask, folder
    # JSON outputs are strict JSON
    json.loads((out / "rtl" / "hdl" / "top.json").read_text(), parse_constant=bare_constant)
