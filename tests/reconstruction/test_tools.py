"""The ctapipe-style command-line tools: train, predict and evaluate chained through their files."""

import json

import pytest
from ctapipe.core import run_tool
from reco_settings import IMAGE_SHAPE

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


def test_train_tool_needs_inputs(tmp_path):
    with pytest.raises(ValueError, match="give --input"):
        run_tool(TrainTool(), argv=[f"--output={tmp_path}"], cwd=tmp_path, raises=True)
