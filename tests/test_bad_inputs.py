"""Every trigger-synth command against bad input: refused up front, in one line, with nothing lost or half-written.

The contract (lstcommon.tool): exit code 2 and one line on stderr naming the
file (or option) and the problem, no traceback, no output created, an
existing output byte-identical afterwards; SIGINT and SIGTERM mid-write leave
no partial file and the old output intact. `trigger-synth build` has its own
module (test_bad_inputs_build.py); the reconstruction commands theirs
(tests/reconstruction/test_bad_inputs.py).
"""

import hashlib
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

from trigger.cli import main


def strict_json(text):
    def refuse(constant):
        raise ValueError(f"bare {constant} in JSON")

    return json.loads(text, parse_constant=refuse)


def digest(folder: Path) -> dict:
    """Every file below ``folder`` (hidden ones too) with the hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, argv, *fragments):
    """Run ``trigger-synth argv`` in-process; assert exit 2 and one stderr line holding every fragment."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert str(fragment) in lines[0], (fragment, lines[0])
    return lines[0]


# -- bad event files -------------------------------------------------------------------------------------------------
NAN_VALUE = -2147483647  # what ctapipe's fixed-point transform writes for NaN (its CTAFIELD_*_NAN_VALUE)


def _edit_waveforms(src, dst, edit):
    shutil.copyfile(src, dst)
    with tables.open_file(dst, "a") as h5:
        node = h5.get_node("/r1/event/telescope/tel_001")
        rows = node.read()
        edit(rows["waveform"])
        node.modify_rows(start=0, rows=rows)
    return dst


@pytest.fixture(scope="module")
def bad_files(simulated, tmp_path_factory):
    """name -> (path, what the refusal must say besides the path)."""
    folder = tmp_path_factory.mktemp("bad")
    gamma = simulated["gamma"]
    files = {}
    files["missing"] = (folder / "missing.dl1.h5", "does not exist")
    (folder / "empty.dl1.h5").write_bytes(b"")
    files["empty"] = (folder / "empty.dl1.h5", "empty")
    data = gamma.read_bytes()
    (folder / "truncated.dl1.h5").write_bytes(data[: len(data) // 2])
    files["truncated"] = (folder / "truncated.dl1.h5", "truncated")
    (folder / "text.dl1.h5").write_text("obs_id,event_id\n1,1\n")
    files["not_hdf5"] = (folder / "text.dl1.h5", "not an HDF5 file")
    files["folder"] = (folder, "not a file")

    camera = folder / "nectarcam.dl1.h5"
    shutil.copyfile(gamma, camera)
    with tables.open_file(camera, "a") as h5:
        h5.get_node("/configuration/instrument/telescope/camera/geometry_0").attrs["CAM_ID"] = "NectarCam"
        readout = h5.get_node("/configuration/instrument/telescope/camera/readout_0")
        readout.attrs["CAM_ID"], readout.attrs["SAMPFREQ"], readout.attrs["NSAMPLES"] = "NectarCam", 1.0, 60
    files["wrong_camera"] = (camera, "NectarCam")

    sampling = folder / "sampling.dl1.h5"
    shutil.copyfile(gamma, sampling)
    with tables.open_file(sampling, "a") as h5:
        h5.get_node("/configuration/instrument/telescope/camera/readout_0").attrs["SAMPFREQ"] = 1.0
    files["wrong_sampling"] = (sampling, "sampled at 1 GHz")

    no_r1 = folder / "no_r1.dl1.h5"
    shutil.copyfile(gamma, no_r1)
    with tables.open_file(no_r1, "a") as h5:
        h5.remove_node("/r1", recursive=True)
    files["no_tables"] = (no_r1, "has no /r1/event/telescope")

    def nan(w):
        w[0, ..., 5:9] = NAN_VALUE

    def saturated(w):
        w[:] = 5000 * 100  # 5000 p.e. in every sample, stored in units of 0.01 p.e.

    files["nan"] = (_edit_waveforms(gamma, folder / "nan.dl1.h5", nan), "NaN")
    files["saturated"] = (_edit_waveforms(gamma, folder / "saturated.dl1.h5", saturated), "saturated")
    files["protons"] = (simulated["proton"], "holds protons, not gammas")
    return files


BAD = ["missing", "empty", "truncated", "not_hdf5", "folder", "wrong_camera", "wrong_sampling", "no_tables", "nan",
       "saturated", "protons"]


@pytest.mark.parametrize("name", BAD)
def test_train_refuses_a_bad_gamma_file(name, bad_files, tmp_path, capsys):
    path, message = bad_files[name]
    refused(capsys, ["train", "--gamma", path, "--output", tmp_path / "model"], path, message)
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("name", BAD)
def test_evaluate_refuses_a_bad_gamma_file(name, bad_files, trigger_model, tmp_path, capsys):
    path, message = bad_files[name]
    refused(capsys, ["evaluate", "--model", trigger_model, "--gamma", path, "--output", tmp_path / "eval"], path, message)
    assert not (tmp_path / "eval").exists()


def test_evaluate_refuses_gammas_as_protons(simulated, trigger_model, tmp_path, capsys):
    refused(capsys, ["evaluate", "--model", trigger_model, "--gamma", simulated["gamma"], "--proton", simulated["gamma"],
                     "--output", tmp_path / "eval"], simulated["gamma"], "holds gammas, not protons")


# -- bad model folders -----------------------------------------------------------------------------------------------
def _model_variant(trigger_model, folder, change):
    shutil.copytree(trigger_model, folder)
    change(folder)
    return folder


MODEL_DAMAGE = {
    "missing": (lambda f: shutil.rmtree(f), "does not exist"),
    "empty": (lambda f: [p.unlink() for p in f.iterdir()], "missing model.keras"),
    "no_config": (lambda f: (f / "trigger.json").unlink(), "missing trigger.json"),
    "bad_zip": (lambda f: (f / "model.keras").write_bytes(b"PK\x03\x04 truncated"), "not a Keras model archive"),
    "bad_json": (lambda f: (f / "trigger.json").write_text("{\"input\": "), "not valid JSON"),
    "no_input": (lambda f: (f / "trigger.json").write_text(json.dumps(
        {k: v for k, v in json.loads((f / "trigger.json").read_text()).items() if k != "input"})), "no 'input' section"),
}


@pytest.mark.parametrize("damage", list(MODEL_DAMAGE))
def test_evaluate_refuses_a_damaged_model_folder(damage, trigger_model, simulated, tmp_path, capsys):
    change, message = MODEL_DAMAGE[damage]
    model = _model_variant(trigger_model, tmp_path / "model", change)
    refused(capsys, ["evaluate", "--model", model, "--gamma", simulated["gamma"], "--output", tmp_path / "eval"],
            model.name, message)
    assert not (tmp_path / "eval").exists()


# -- impossible options ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--seed", "-1"], "--seed must be >= 0"),
        (["--n-nsb-examples", "0"], "--n-nsb-examples must be at least 1"),
        (["--nsb-rate", "nan"], "--nsb-rate must be a finite rate"),
        (["--bits", "1"], "--bits must be within 2..16"),
        (["--hidden", "0"], "--hidden needs at least one layer"),
    ],
)
def test_train_refuses_impossible_options(args, message, simulated, tmp_path, capsys):
    refused(capsys, ["train", "--gamma", simulated["gamma"], "--output", tmp_path / "model", *args], message)
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rate", "-5"], "--rate must be a finite rate > 0 Hz"),
        (["--nsb-rate", "nan"], "--nsb-rate must be a finite rate > 0"),
        (["--rate-runs", "0"], "--rate-runs must be at least 1"),
        (["--rate-precision", "1.5"], "--rate-precision must be a relative error in [0, 1)"),
        (["--rate-precision", "nan"], "--rate-precision must be a relative error in [0, 1)"),
        (["--rate-runs", "8", "--rate-max-runs", "4"], "--rate-max-runs must be at least --rate-runs (8)"),
        (["--seed", "-3"], "--seed must be >= 0"),
        (["--bins-per-decade", "0"], "--bins-per-decade must be at least 1"),
    ],
)
def test_evaluate_refuses_impossible_options(args, message, trigger_model, simulated, tmp_path, capsys):
    refused(capsys, ["evaluate", "--model", trigger_model, "--gamma", simulated["gamma"], "--output", tmp_path / "eval",
                     *args], message)


@pytest.mark.parametrize(
    "args, message",
    [
        (["-n", "0"], "(--n-events) must be at least 1"),
        (["--seed", "-1"], "(--seed) must be >= 0"),
        (["--n-telescopes", "7"], "(--n-telescopes) must be within 1..4"),
        (["--max-impact", "inf m"], "(--max-impact) must be finite"),
        (["-p", "muon"], "unknown particle"),
        (["--n-events", "many"], "many"),
        (["--n-evnts", "5"], "unrecognized arguments: --n-evnts"),
    ],
)
def test_simulate_refuses_impossible_options(args, message, tmp_path, capsys):
    refused(capsys, ["simulate", "-p", "gamma", "--output", tmp_path / "out", "--no-progress", *args], message)
    assert not (tmp_path / "out").exists()


def test_outputs_that_cannot_be_made(tmp_path, simulated, trigger_model, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    refused(capsys, ["simulate", "-p", "nsb", "-n", "1", "--output", blocker / "sub"], "cannot create output folder")
    refused(capsys, ["simulate", "-p", "nsb", "-n", "1", "--output", blocker], blocker, "is a file")
    refused(capsys, ["train", "--gamma", simulated["gamma"], "--output", blocker], blocker, "is a file")
    refused(capsys, ["evaluate", "--model", trigger_model, "--gamma", simulated["gamma"], "--output", blocker / "x"],
            "cannot create output folder")
    assert blocker.read_text() == ""


# -- existing outputs ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def simulated_folder(tmp_path_factory):
    """A folder written by `trigger-synth simulate`: two small files and summary.json."""
    folder = tmp_path_factory.mktemp("existing") / "data"
    assert main(["simulate", "-p", "gamma,nsb", "-n", "2", "--energy-min", "1 TeV", "--seed", "4", "--output", str(folder),
                 "--no-progress"]) == 0
    return folder


def test_simulate_never_loses_an_existing_output(simulated_folder, capsys):
    before = digest(simulated_folder)
    capsys.readouterr()
    refused(capsys, ["simulate", "-p", "gamma", "-n", "2", "--output", simulated_folder], "gamma.dl1.h5", "--overwrite")
    # -n 0 --overwrite once replaced a 6 MB file with an empty one and left summary.json describing it
    refused(capsys, ["simulate", "-p", "gamma", "-n", "0", "--overwrite", "--output", simulated_folder], "--n-events")
    assert digest(simulated_folder) == before
    summary = strict_json((simulated_folder / "summary.json").read_text())
    assert summary["gamma"]["showers"] == 2


def test_simulate_overwrite_replaces_and_summary_follows(tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["simulate", "-p", "nsb", "-n", "1", "--output", str(out), "--no-progress"]) == 0
    # a partial file of a process killed with SIGKILL (no cleanup possible) is removed by the next write
    stale = out / ".nsb.dl1.h5.partial-999999999"
    stale.write_bytes(b"half")
    assert main(["simulate", "-p", "nsb", "-n", "2", "--output", str(out), "--no-progress", "--overwrite"]) == 0
    assert not stale.exists()
    assert strict_json((out / "summary.json").read_text())["nsb"]["telescope_events"] == 8
    assert sorted(p.name for p in out.iterdir()) == ["nsb.dl1.h5", "summary.json"]
    assert (out / "nsb.dl1.h5").stat().st_mode & 0o044 == 0o044  # readable by colleagues


def test_train_and_evaluate_never_replace_without_overwrite(trigger_model, simulated, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(trigger_model, model)
    before = digest(model)
    refused(capsys, ["train", "--gamma", simulated["gamma"], "--output", model], "model.keras", "--overwrite")
    assert digest(model) == before
    evaluation = tmp_path / "eval"
    evaluation.mkdir()
    (evaluation / "summary.json").write_text("{}\n")
    refused(capsys, ["evaluate", "--model", model, "--gamma", simulated["gamma"], "--output", evaluation],
            "summary.json", "--overwrite")
    assert (evaluation / "summary.json").read_text() == "{}\n"


def test_evaluate_summary_is_strict_json_with_one_rate_run(trigger_model, simulated, tmp_path):
    # one subset-simulation run has no scatter: its error was a bare NaN in 26 places of summary.json
    out = tmp_path / "eval"
    code = main(["evaluate", "--model", str(trigger_model), "--gamma", str(simulated["gamma"]), "--output", str(out),
                 "--n-rate-samples", "3000", "--rate-runs", "1", "--rate-precision", "0", "--rate-windows", "200", "--no-real",
                 "--no-progress"])
    assert code == 0
    summary = strict_json((out / "summary.json").read_text())
    assert summary["nn"]["rate_error_hz"] is None
    assert not (out / "real_events.json").exists()


# -- the command line itself -----------------------------------------------------------------------------------------
def _env():
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def _takes_ctrl_c():
    # a test run started in the background inherits an ignored SIGINT: the command under test takes it as a user would
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_help_is_quick_and_quiet():
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "trigger.cli", "--help"], capture_output=True, text=True, env=_env())
    elapsed = time.perf_counter() - start
    assert result.returncode == 0 and "simulate" in result.stdout
    assert result.stderr == ""
    assert elapsed < 2.0, elapsed


@pytest.mark.parametrize("command", ["simulate", "train", "evaluate"])
def test_subcommand_help_does_not_load_tensorflow(command):
    code = (f"import sys; from trigger.cli import main; code = main([{command!r}, '--help']); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow loaded'; sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert result.returncode == 0, result.stderr
    assert "--output" in result.stdout
    assert "oneDNN" not in result.stderr and "absl" not in result.stderr


def test_tensorflow_start_up_chatter_is_silenced():
    result = subprocess.run([sys.executable, "-c", "import trigger, keras; print(keras.__version__)"],
                            capture_output=True, text=True, env=_env())
    assert result.returncode == 0
    assert result.stderr == ""


# -- signals mid-write -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_write_keeps_the_old_file(signum, code, tmp_path):
    out = tmp_path / "data"
    assert main(["simulate", "-p", "gamma", "-n", "1", "--energy-min", "1 TeV", "--output", str(out), "--no-progress"]) == 0
    before = digest(out)
    process = subprocess.Popen(
        [sys.executable, "-m", "trigger.cli", "simulate", "-p", "gamma", "-n", "5000", "--energy-min", "1 TeV",
         "--output", str(out), "--overwrite", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), preexec_fn=_takes_ctrl_c,
    )
    deadline = time.monotonic() + 120
    while not list(out.glob(".gamma.dl1.h5.partial-*")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.1)
    time.sleep(1.0)  # well inside the writing loop
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.strip()][-1].endswith("outputs in progress were removed")
    assert digest(out) == before
    assert not list(out.glob(".*"))


def test_saturated_and_nan_waveforms_are_refused_while_reading(bad_files, instrument):
    # the up-front check reads each telescope's first chunk; the reader checks every chunk it converts
    from lstcommon import UserError
    from trigger.events import read_trigger_events
    from trigger.inputs import TriggerInput

    for name in ("nan", "saturated"):
        with pytest.raises(UserError, match=bad_files[name][1]):
            read_trigger_events(bad_files[name][0], TriggerInput(instrument=instrument))
    assert np.isfinite(instrument.saturation_pe) and 500 < instrument.saturation_pe < 2000


def _signal_when(process, log: Path, text, signum, timeout=240):
    """Send ``signum`` once ``text`` shows in the process's stderr (written to ``log``)."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.2)
    process.send_signal(signum)
    process.wait(timeout=240)
    return log.read_text(errors="replace")


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_train_and_evaluate_keeps_earlier_outputs(signum, code, trigger_model, simulated, tmp_path):
    model, evaluation = tmp_path / "model", tmp_path / "eval"
    shutil.copytree(trigger_model, model)
    evaluation.mkdir()
    (evaluation / "summary.json").write_text("{}\n")
    before = {"model": digest(model), "eval": digest(evaluation)}
    commands = {
        "model": (["train", "--gamma", str(simulated["gamma"]), "--output", str(model), "--overwrite", "--epochs", "50",
                   "--n-nsb-examples", "20000", "--n-calibration", "6000"], "train: training examples"),
        "eval": (["evaluate", "--model", str(trigger_model), "--gamma", str(simulated["gamma"]), "--output",
                  str(evaluation), "--overwrite", "--n-rate-samples", "3000", "--rate-windows", "200", "--no-real"],
                 "evaluate: rates"),
    }
    for name, (args, text) in commands.items():
        log = tmp_path / f"{name}.err"
        with open(log, "w") as err:
            process = subprocess.Popen([sys.executable, "-m", "trigger.cli", *args], stdout=subprocess.DEVNULL,
                                       stderr=err, env=_env(), preexec_fn=_takes_ctrl_c)
            printed = _signal_when(process, log, text, signum)
        assert process.returncode == code, printed
        assert "Traceback" not in printed
    assert {"model": digest(model), "eval": digest(evaluation)} == before
    assert not list(model.glob(".*")) and not list(evaluation.glob(".*"))
