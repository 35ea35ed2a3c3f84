"""The ctapipe-style command-line tools: train, predict and evaluate chained through their files."""

import json
from pathlib import Path

import pytest
from ctapipe.core import run_tool
from reco_settings import IMAGE_SHAPE, TINY

from reconstruction.settings import STEREO_FROM_MONO, DataSpec, NetworkSpec, TrainSpec
from reconstruction.tools import EvaluateTool, PredictTool, TrainTool
from reconstruction.train import load_model


def test_train_predict_evaluate_tools(reco_files, tmp_path):
    model_dir = tmp_path / "model"
    argv = [f"--input={f}" for f in reco_files] + [
        f"--output={model_dir}", "--epochs=1", "--batch-size=16", "--mode=mono", "--no-progress",
        f"--DataSpec.image_shape={IMAGE_SHAPE}", "--NetworkSpec.depth=1", "--NetworkSpec.width=4",
        "--NetworkSpec.head_units=4", "--NetworkSpec.tasks=type", "--NetworkSpec.tasks=energy",
        "--NetworkSpec.tasks=direction",
    ]
    assert run_tool(TrainTool(), argv=argv, cwd=tmp_path) == 0
    _, meta = load_model(model_dir)
    # settings given as component traits reach the saved description
    assert meta["network"]["depth"] == 1 and meta["data"]["image_shape"] == IMAGE_SHAPE and meta["epochs"] == 1

    dl2_dir = tmp_path / "dl2"
    argv = [f"--model={model_dir}", f"--output-dir={dl2_dir}"] + [f"--input={f}" for f in reco_files]
    assert run_tool(PredictTool(), argv=argv, cwd=tmp_path) == 0
    dl2 = sorted(dl2_dir.glob("*.dl2.h5"))
    assert [p.name for p in dl2] == ["gamma.dl2.h5", "proton.dl2.h5"]
    # a second run refuses to replace them unless told to
    assert run_tool(PredictTool(), argv=argv, cwd=tmp_path, raises=False) != 0
    assert run_tool(PredictTool(), argv=[*argv, "--overwrite"], cwd=tmp_path) == 0

    out = tmp_path / "eval"
    argv = [f"--input={p}" for p in dl2] + [f"--output-dir={out}", "--level=telescope", "--label=mono"]
    assert run_tool(EvaluateTool(), argv=argv, cwd=tmp_path) == 0
    metrics = json.loads((out / "mono.json").read_text())
    assert 0 <= metrics["auc"] <= 1 and (out / "mono.png").exists()


def test_waveform_disp_network_through_the_tools(reco_files, tmp_path):
    """Waveforms in, the disp task out, through the console tools: the network measures its disp errors, and
    the DL2 files hold an array direction from the image axes."""
    import astropy.units as u
    import numpy as np
    from ctapipe.io import TableLoader

    model_dir = tmp_path / "model"
    argv = [f"--input={f}" for f in reco_files] + [
        f"--output={model_dir}", "--epochs=1", "--batch-size=16", "--mode=mono", "--no-progress",
        f"--DataSpec.image_shape={IMAGE_SHAPE}", "--DataSpec.input_type=waveform", "--DataSpec.sequence_length=4",
        "--NetworkSpec.depth=1", "--NetworkSpec.width=4", "--NetworkSpec.head_units=4", "--NetworkSpec.attention=none",
        "--NetworkSpec.tasks=type", "--NetworkSpec.tasks=energy", "--NetworkSpec.tasks=disp",
    ]
    assert run_tool(TrainTool(), argv=argv, cwd=tmp_path) == 0
    _, meta = load_model(model_dir)
    assert meta["data"]["input_type"] == "waveform" and meta["example_shape"][-1] == 4
    assert "disp_errors" in meta
    dl2_dir = tmp_path / "dl2"
    argv = [f"--model={model_dir}", f"--output-dir={dl2_dir}", f"--input={reco_files[0]}"]
    assert run_tool(PredictTool(), argv=argv, cwd=tmp_path) == 0
    with TableLoader(dl2_dir / "gamma.dl2.h5") as loader:
        events = loader.read_subarray_events(dl2=True, simulated=True)
    alt = u.Quantity(events["CNN_alt"]).to_value(u.deg)
    assert np.isfinite(alt).any() and (np.abs(alt[np.isfinite(alt)] - 70) < 10).all()


def test_train_tool_needs_inputs(tmp_path):
    with pytest.raises(ValueError, match="give --input"):
        run_tool(TrainTool(), argv=[f"--output={tmp_path}"], cwd=tmp_path, raises=True)



def _quickstart():
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "examples" / "reconstruction_quickstart.py"
    spec = importlib.util.spec_from_file_location("reconstruction_quickstart", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_set_of_defaults(reco_files, mono_model, tmp_path):
    """The command line without options, the Python API without settings and the quick start's default set train
    the same model: the settings' defaults, defined once in reconstruction.settings."""
    defaults = {"data": DataSpec().to_dict(), "network": NetworkSpec().to_dict(), "training": TrainSpec().to_dict()}
    # the quick start's mono network (the numbers the docs report) is what the defaults are
    assert defaults["data"]["image_shape"] == 40 and defaults["network"]["attention"] == "blocks"
    assert defaults["network"]["learning_rate"] == 3e-3 and defaults["training"]["epochs"] == 15

    tool = TrainTool()
    tool.parse_command_line([f"--input={f}" for f in reco_files] + [f"--output={tmp_path / 'model'}"])
    tool.setup()
    assert {"data": tool.data.to_dict(), "network": tool.network.to_dict(), "training": tool.training.to_dict()} \
        == defaults

    # the Python API fills what it is not given from the same defaults (the fixture gives only these)
    meta = mono_model.meta
    assert meta["training"] == {**defaults["training"], "epochs": 2, "batch_size": 16}
    assert meta["network"] == {**defaults["network"], **TINY, "attention": "blocks", "attention_kernel": 4}
    assert meta["data"] == {**defaults["data"], "image_shape": IMAGE_SHAPE, "tel_ids": meta["data"]["tel_ids"]}

    quickstart = _quickstart()
    assert quickstart.settings({}, "mono") == {"data": {"mode": "mono"}, "network": {}, "training": {}}
    stereo = quickstart.settings({}, "stereo", tmp_path / "mono")
    assert stereo["training"] == STEREO_FROM_MONO and stereo["initial_model"] == tmp_path / "mono"
    assert quickstart.SETS["default"]["changes"] == {}
    # the stereo command the docs show is the quick start's stereo step
    docs = (Path(__file__).resolve().parents[2] / "docs" / "reconstruction.md").read_text()
    assert (f"--mode stereo --initial-model models/mono --epochs {STEREO_FROM_MONO['epochs']} "
            f"--batch-size {STEREO_FROM_MONO['batch_size']}") in " ".join(docs.split())
