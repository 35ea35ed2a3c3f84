"""The trigger-synth command line."""

import json
import subprocess
import sys

import pytest

from trigger.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "trigger.cli", *args], capture_output=True, text=True, timeout=600)


def test_usage_lists_subcommands(capsys):
    assert main([]) == 0
    assert "simulate" in capsys.readouterr().out
    assert main(["bogus"]) == 2


def test_simulate_help_names_the_options():
    result = run("simulate", "--help")
    assert result.returncode == 0
    for option in ("--particles", "--n-events", "--energy-min", "--energy-max", "--nsb-rate", "--seed", "--output"):
        assert option in result.stdout


def test_simulate_writes_files_and_summary(tmp_path, capsys):
    out = tmp_path / "sim"
    code = main(["simulate", "-p", "gamma,nsb", "-n", "3", "--energy-min", "1 TeV", "--seed", "2", "-o", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "gamma" in printed and "nsb" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"gamma", "nsb"}
    assert summary["gamma"]["showers"] == 3
    assert summary["nsb"]["telescope_events"] == 12
    assert sorted(p.name for p in out.iterdir()) == ["gamma.dl1.h5", "nsb.dl1.h5", "summary.json"]
    # a second run refuses to overwrite, a third with --overwrite succeeds
    assert main(["simulate", "-p", "nsb", "-n", "1", "-o", str(out), "--no-progress"]) == 2
    assert main(["simulate", "-p", "nsb", "-n", "1", "-o", str(out), "--no-progress", "--overwrite"]) == 0
    assert json.loads((out / "summary.json").read_text())["nsb"]["telescope_events"] == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["-p", "muon"], "muon"),
        (["--energy-min", "-5 GeV"], "energy range"),
        (["--nsb-rate", "nan GHz"], "nsb_rate"),
        (["--data-dir", "/nonexistent/data"], "/nonexistent/data"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, args, message):
    result = run("simulate", "-n", "1", "-o", str(tmp_path / "out"), *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("simulate", "-p", "nsb", "-n", "1", "-o", str(blocker / "sub"))
    assert result.returncode != 0
    assert "cannot create output folder" in result.stderr
