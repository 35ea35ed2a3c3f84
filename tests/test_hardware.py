"""trigger-synth build: hls4ml C-sim and da4ml Verilog bit-exact against Keras, estimates, report, errors.

One tiny HGQ2 model is trained and built once per session (hls4ml compile and
the Verilator build dominate, about a minute on 2 cores).
"""

import importlib
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from ctapipe.core import run_tool

from trigger.hardware import (
    BuildError,
    ModelError,
    build,
    format_report,
    load_trigger_model,
)
from trigger.hardware.example import write_example_model
from trigger.hardware.model import InputSpec
from trigger.hardware.report import REQUIRED_KEYS
from trigger.hardware.stimulus import check_inputs, compare, corner_cases
from trigger.hardware.synth import summarize_cells, yosys_family
from trigger.hardware.tool import BuildTool
from trigger.sizes import N_MODULES

N_CHECK = 300


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return write_example_model(tmp_path_factory.mktemp("model") / "nn", hidden=(8,), n_train=256, epochs=1)


@pytest.fixture(scope="session")
def built(model_dir, tmp_path_factory):
    """The whole build, once, through the command-line tool (which calls ``build``)."""
    out = tmp_path_factory.mktemp("build") / "out"
    t0 = time.perf_counter()
    # the top's own yosys estimate takes tens of minutes (make demo runs it); the core's is enough here
    code = run_tool(BuildTool(), [str(model_dir), "--out", str(out), "--n-check", str(N_CHECK), "--no-synth-top"],
                    raises=True)
    wall = time.perf_counter() - t0
    assert code == 0
    return out, json.loads((out / "report.json").read_text()), wall


def test_report_has_the_contract_keys_and_types(built):
    _, report, _ = built
    for key in REQUIRED_KEYS:
        assert key in report, key
    assert report["clock_mhz"] == 250.0
    assert isinstance(report["latency_cycles"], int) and report["latency_cycles"] >= 1
    assert report["latency_ns"] == pytest.approx(report["latency_cycles"] * 4.0)
    assert report["initiation_interval"] == 1
    assert report["part"] == "xczu7ev-ffvc1156-2-e"
    assert set(report["resources"]) >= {"lut", "ff", "dsp", "bram", "source"}
    for check in ("hls_csim", "verilog"):
        assert set(report["bit_exact"][check]) >= {"events", "mismatches"}
        assert all(isinstance(report["bit_exact"][check][k], int) for k in ("events", "mismatches"))


def test_report_has_timing_links_and_latency_budget(built):
    """max_logic_levels of the core (measured on its netlist), the partitioned trigger's links and latency."""
    _, report, _ = built
    core = report["max_logic_levels"][report["rtl"]["top"]]
    assert core["lut"] >= 1 and isinstance(core["meets_budget"], bool) and core["path"]
    links = report["links"]
    assert [lk["count"] for lk in links["links"]] == [12, 12]
    up = links["links"][-1]
    assert 0 < up["utilisation"] < 1 and up["gbps_per_link"] > 1.0  # the analog-sum bits alone are 1.024 Gbit/s
    assert links["bits_per_candidate"]["frame_bits"] % 64 == 0 and links["transceivers"]["fits"]
    assert sum(b["groups"] for b in report["partition"]["readout_boards"]) == 474
    assert sum(b["modules"] for b in report["partition"]["readout_boards"]) == N_MODULES
    lat = report["latency_budget"]
    assert lat["end_to_end_ns"] > lat["on_chip_ns"] > 0 and lat["assumed"]
    # per-board resources need the top's part estimate, which this build skipped (--no-synth-top)
    # (unless the boards' own RTL estimate is cached for these parameters: benchmarks/board_estimate.py)
    assert (report["boards"]["readout"] is None and "no-synth-top" in report["boards"]["note"]) \
        or report["boards"]["method"] == "rtl"
    assert json.loads(json.dumps(report)) == report  # strict JSON


def test_max_logic_levels_names_each_board_module():
    """With the boards' own RTL synthesized (the default with the top estimate), every board module is listed."""
    from trigger.hardware.build import _max_logic_levels

    depth = {"lut": 4, "carry_chains": 1, "path": ["a", "b"]}
    core = {"logic_depth": depth}
    boards = {"method": "rtl",
              "readout": {"max_logic_levels": {"trigger_first_level": depth | {"meets_budget": True}}},
              "central": {"max_logic_levels": {"trigger_central_board": depth | {"meets_budget": True}}}}
    top = {"max_logic_levels": {"trigger_cand_picker": depth | {"meets_budget": False}, "budget": {"lut": 4}}}
    out = _max_logic_levels(core, top, "trigger_nn", boards)
    assert set(out) == {"trigger_nn", "single_top/trigger_cand_picker", "budget", "readout_board/trigger_first_level",
                        "central_board/trigger_central_board"}
    # a scaled estimate has no modules of its own to list
    assert set(_max_logic_levels(core, None, "trigger_nn", boards | {"method": "scaled"})) == {"trigger_nn"}


def test_csim_and_verilog_are_bit_exact(built):
    out, report, _ = built
    x = np.load(out / "checks" / "inputs.npy")
    assert x.dtype == np.uint8 and x.shape[1] == 48
    assert len(x) == N_CHECK + len(corner_cases(InputSpec(48, 8, False)))
    for check in ("hls_csim", "verilog", "da4ml_trace"):
        assert report["bit_exact"][check] == {"events": len(x), "mismatches": 0}, check
    keras = np.load(out / "checks" / "keras.npy")
    for name in ("hls_csim", "verilog"):
        assert np.array_equal(np.load(out / "checks" / f"{name}.npy"), keras)
    # the check set covers saturated and all-zero events, and the outputs are not trivially constant
    assert (x == 255).all(axis=1).any() and (x == 0).all(axis=1).any()
    assert len(np.unique(keras)) > 10


def test_resources_are_positive_estimates(built):
    _, report, _ = built
    res = report["resources"]
    assert res["lut"] > 0 and res["ff"] > 0 and res["dsp"] >= 0 and res["bram"] >= 0
    assert "yosys synth_xilinx estimate" in res["source"]
    assert report["resources_da4ml"]["lut"] > 0 and report["resources_da4ml"]["ff"] > 0
    assert "estimate" in report["resources_da4ml"]["source"]
    # the registers yosys keeps are the pipeline registers da4ml counted
    assert res["ff"] == pytest.approx(report["resources_da4ml"]["ff"], rel=0.2)


def test_outputs_are_complete_and_consistent(built):
    out, report, wall = built
    assert (out / "hls" / "build_prj.tcl").is_file()
    assert (out / "hls" / "firmware" / "trigger_nn.cpp").is_file()
    assert "xczu7ev-ffvc1156-2-e" in (out / "hls" / "project.tcl").read_text()
    assert f"OutputDir: {(out / 'hls').resolve()}" in (out / "hls" / "hls4ml_config.yml").read_text()
    stages = sorted((out / "rtl" / "src").glob("trigger_nn_stage*.v"))
    assert len(stages) == report["rtl"]["stages"] == report["latency_cycles"]
    assert (out / "synth" / "yosys.log").is_file() and (out / "synth" / "stat.json").is_file()
    for script in ("vivado_rtl.tcl", "vitis_hls.tcl"):
        assert "xczu7ev-ffvc1156-2-e" in (out / "vendor" / script).read_text()
    assert "vivado_readout_board.tcl" in (out / "vendor" / "README.txt").read_text()
    assert not [p.name for p in out.iterdir() if ".partial-" in p.name or ".old-" in p.name]
    summary = (out / "summary.txt").read_text()
    assert summary.strip() == format_report(report)
    assert "ESTIMATE" in summary and "0/" in summary
    assert "[6/6] report done" in (out / "build.log").read_text()
    assert report["timings_s"]["total"] < wall + 1


def test_failed_step_is_named_and_earlier_outputs_kept(model_dir, tmp_path, monkeypatch):
    build_module = importlib.import_module("trigger.hardware.build")  # the package's `build` is the function

    def broken(*args, **kwargs):
        raise RuntimeError("da4ml exploded")

    monkeypatch.setattr(build_module, "write_verilog", broken)
    out = tmp_path / "out"
    with pytest.raises(BuildError, match="'rtl' failed: da4ml exploded") as info:
        build(model_dir, out, n_check=10, synth=False)
    assert info.value.step == "rtl"
    assert (out / "hls" / "build_prj.tcl").is_file()
    assert not (out / "rtl").exists() and not (out / "report.json").exists()
    assert not [p.name for p in [*out.iterdir(), *tmp_path.iterdir()] if ".partial-" in p.name]
    # a rerun refuses to overwrite unless asked
    with pytest.raises(FileExistsError, match="overwrite"):
        build(model_dir, out, n_check=10)


def test_missing_model_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="nowhere: model folder does not exist"):
        build(tmp_path / "nowhere", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_corrupt_model_file_is_a_clear_error(model_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "trigger.json").write_text((model_dir / "trigger.json").read_text())
    (bad / "model.keras").write_bytes(b"this is not a keras file")
    with pytest.raises(ModelError, match="model.keras: is not a Keras model file"):
        load_trigger_model(bad)
    (bad / "model.keras").unlink()
    with pytest.raises(ModelError, match="model.keras is missing"):
        load_trigger_model(bad)


@pytest.mark.parametrize(
    "description, message",
    [
        ("{not json", "not valid JSON"),
        ('{"input": {"n_inputs": 48, "bits": 8}}', "lacks signed"),
        ('{"input": {"n_inputs": 48, "bits": 0, "signed": false}}', "input.bits"),
        ('{"input": {"n_inputs": 47, "bits": 8, "signed": false}}', "n_inputs=47"),
        ('{"inputs": {}}', "missing the 'input' object"),
    ],
)
def test_bad_trigger_json_is_a_clear_error(model_dir, tmp_path, description, message):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.keras").write_bytes((model_dir / "model.keras").read_bytes())
    (bad / "trigger.json").write_text(description)
    with pytest.raises(ModelError, match=re.escape(message)):
        load_trigger_model(bad)


def test_input_quantizer_is_checked_against_the_declared_range(model_dir, built):
    assert load_trigger_model(model_dir).input_values_changed() == 0
    assert built[1]["model"]["input_values_changed_by_quantizer"] == 0
    import keras
    from hgq.layers import QDense

    # HGQ2's default input quantizer (2 integer bits, wrapping) would fold the counts
    model = keras.Sequential([keras.Input((48,)), QDense(2)])
    trigger = load_trigger_model(model_dir)
    trigger.keras_model = model
    assert trigger.input_values_changed() > 0


def test_unknown_trigger_json_keys_are_ignored(model_dir):
    description = json.loads((model_dir / "trigger.json").read_text())
    assert "note" in description
    assert load_trigger_model(model_dir).input == InputSpec(48, 8, False)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"clock_mhz": 0}, ValueError, "clock_mhz"),
        ({"clock_mhz": "fast"}, ValueError, "clock_mhz"),
        ({"n_check": -1}, ValueError, "n_check"),
        ({"part": ""}, ValueError, "part"),
    ],
)
def test_bad_arguments_are_clear_errors(model_dir, tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        build(model_dir, tmp_path / "out", **kwargs)


def test_given_events_are_validated_and_used():
    spec = InputSpec(48, 8, False)
    events = np.arange(2 * 48).reshape(2, 3, 16) % 256
    x = check_inputs(spec, 5, events=events)
    assert len(x) == len(corner_cases(spec)) + 2 + 5
    assert np.array_equal(x[len(corner_cases(spec)):][:2], events.reshape(2, 48))
    with pytest.raises(ModelError, match="outside the 8-bit unsigned range"):
        check_inputs(spec, 0, events=np.full((1, 48), 256))
    with pytest.raises(ModelError, match="shape"):
        check_inputs(spec, 0, events=np.zeros((1, 47)))
    with pytest.raises(ModelError, match="fractional"):
        check_inputs(spec, 0, events=np.full((1, 48), 0.5))


def test_compare_counts_events_not_outputs():
    ref = np.zeros((4, 2))
    other = ref.copy()
    other[1, :] = 1
    other[3, 0] = 2**-12
    assert compare(ref, other) == {"events": 4, "mismatches": 2, "first_mismatch": 1, "max_abs_diff": 1.0}


def test_yosys_cells_to_resources():
    cells = {"LUT2": 10, "LUT6": 5, "INV": 1, "SRLC32E": 2, "FDRE": 7, "FDSE": 1, "DSP48E2": 3,
             "RAMB36E2": 1, "RAMB18E2": 1, "CARRY8": 4}
    r = summarize_cells(cells)
    assert (r["lut"], r["ff"], r["dsp"], r["bram"]) == (18, 8, 3, 1.5)
    assert (yosys_family("xczu7ev-ffvc1156-2-e"), yosys_family("xcku040-ffva1156-2-e"),
            yosys_family("xc7a35tcpg236-1")) == ("xcup", "xcu", "xc7")


def test_tool_reports_user_errors_without_traceback(tmp_path, capsys):
    code = run_tool(BuildTool(), [str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")], raises=False)
    assert code == 2
    err = capsys.readouterr().err
    assert "nowhere: model folder does not exist" in err and "Traceback" not in err
    assert run_tool(BuildTool(), ["--out", str(tmp_path / "out")], raises=False) == 2


REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_register_block_is_lint_clean_and_passes_its_cocotb_bench():
    """hdl/trigger_regs.v: Verilator -Wall lint and the cocotb + cocotbext-axi testbench."""
    # only the register bench: the full top runs in tests/test_sim.py
    lint = subprocess.run(["verilator", "--lint-only", "-Wall", str(REPO / "hdl/trigger_regs.v"), "--top-module", "trigger_regs"],
                          check=False, capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    result = subprocess.run(["make", "-C", str(REPO / "testbench"), "trigger_regs"], check=False, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "FAIL=0" in result.stdout and "PASS=5" in result.stdout


def test_build_carries_the_hand_written_top(built):
    from trigger.hardware.top import GROUP_TABLE, TOP_SOURCES, core_parameters

    out, report, _ = built
    for name in (*TOP_SOURCES, GROUP_TABLE, "top.json"):
        assert (out / "rtl" / "hdl" / name).is_file(), name
    top = json.loads((out / "rtl" / "hdl" / "top.json").read_text())
    assert top["top"] == report["top"]["top"] == "trigger_top"
    assert top["parameters"] == core_parameters(report)
    assert top["parameters"]["NN_LATENCY"] == report["latency_cycles"]
    assert report["resources_core"] == report["resources"]  # --no-synth-top: the core alone
    assert report["resources_top_logic"] is None and report["budget"] is None


def test_build_carries_both_boards_with_their_vivado_scripts(built):
    """rtl/boards/ holds each board's RTL and the build's vendor/ a Vivado run per board; Verilator elaborates
    each board from the build's own files with the script's generics (the central board with the build's core)."""
    from trigger.hardware.links import CENTRAL_DEVICE, READOUT_DEVICE

    out, report, _ = built
    boards = report["top"]["boards"]
    assert json.loads((out / "rtl" / "boards" / "boards.json").read_text()) == boards
    assert sorted(p.name for p in (out / "rtl" / "boards").iterdir()) == boards["files"]
    assert boards["runs"]["readout"]["part"] == READOUT_DEVICE.part
    assert boards["runs"]["central"]["part"] == CENTRAL_DEVICE.part
    assert boards["runs"]["central"]["parameters"]["NN_LATENCY"] == report["latency_cycles"]
    core = sorted((out / "rtl" / "src").glob("*.v")) + sorted((out / "rtl" / "src" / "static").glob("*.v"))
    for name, run in boards["runs"].items():
        script = (out / "vendor" / f"vivado_{name}_board.tcl").read_text()
        assert f"set top {run['top']}" in script and f"set part {{{run['part']}}}" in script
        assert all(f"-generic {k}={v}" in script for k, v in run["parameters"].items())
        sources = [out / "rtl" / "boards" / n for n in run["sources"]] + (core if run["core"] else [])
        lint = subprocess.run(["verilator", "--lint-only", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                               f"-I{out / 'rtl' / 'boards'}", "--top-module", run["top"],
                               *(f"-G{k}={v}" for k, v in run["parameters"].items()), *map(str, sources)],
                              check=False, capture_output=True, text=True, timeout=600)
        assert lint.returncode == 0, (name, lint.stderr[-3000:])


def test_group_table_in_hdl_is_current(instrument):
    from trigger.hardware.top import GROUP_TABLE, HDL_DIR, group_table_verilog

    assert (HDL_DIR / GROUP_TABLE).read_text() == group_table_verilog(instrument.group_modules)


def test_register_values_and_budget():
    from trigger.hardware.build import _whole_top
    from trigger.hardware.top import LUT_BUDGET, budget, register_values

    config = {"operating_point": {"nn": {"threshold": 5.65234375}, "analog_sum": {"threshold": 95}},
              "roi": {"gate": 69}}
    regs = register_values(config, [1, 10, 12])
    # score > 5.65234375 iff score * 4096 > 23152 on the 2**-12 grid
    assert regs == {"nn_threshold": 23152, "asum_threshold": 95, "gate_threshold": 69}
    assert register_values(config | {"operating_point": {"nn": {"threshold": -0.3}, "analog_sum": {"threshold": 9}}},
                           [[1, 3, 2]])["nn_threshold"] == -2  # floor(-1.2)
    whole = _whole_top({"lut": 10, "ff": 5, "dsp": 0, "bram": 0, "source": "yosys"},
                       {"lut": 100, "ff": 50, "dsp": 0, "bram": 1.5}, "trigger_top")
    assert (whole["lut"], whole["ff"], whole["bram"]) == (110, 55, 1.5)
    b = budget(whole, "xczu7ev-ffvc1156-2-e")
    assert b["fits"] and b["lut_budget"] == LUT_BUDGET == 115_000 and b["part_luts"] == 230_400
    assert not budget({"lut": 120_000}, "xczu7ev-ffvc1156-2-e")["fits"]


def test_module_colouring_and_slice_plan(instrument):
    import re

    from trigger.hardware.top import (
        HDL_DIR,
        TOP,
        TOP_INLINE,
        TOP_REST,
        TOP_SOURCES,
        module_colours,
        pair_cover,
        slice_plan,
    )

    gm = np.asarray(instrument.group_modules)
    colour = module_colours(gm)
    # every group takes one module of each colour: the ROI gathering selects each slot from one class
    assert all(sorted(colour[row]) == [0, 1, 2] for row in gm)
    # every group sum is one shared pair sum plus its third module; a pair serves at most two groups
    pairs, group_pair, third = pair_cover(gm)
    for g, row in enumerate(gm):
        assert sorted([*pairs[group_pair[g]], third[g]]) == sorted(int(m) for m in row)
    assert len(gm) / 2 <= len(pairs) <= 0.52 * len(gm)
    plan = slice_plan()
    by_module = {}
    for p in plan:
        by_module.setdefault(p["module"], []).append(p)
    assert sum(p["count"] for p in by_module["trigger_group_cmp"]) == 4 * len(gm)
    assert sum(p["count"] for p in by_module["trigger_pair_sum"]) == 4 * len(pairs)
    assert sum(p["parameters"].get("N", 0) for p in by_module["trigger_word_mux"]) == gm.max() + 1
    # the estimate is of the whole top: every module trigger_top instantiates is a part of the plan
    # (the network core is estimated on its own), and the top itself is the last part
    top_text = (HDL_DIR / "trigger_top.v").read_text()
    instantiated = {m for m in re.findall(r"^\s*(trigger_\w+)\s*(?:#\s*\(|\w+\s*\()", top_text, re.M)
                    if m != "trigger_nn" and not m.startswith("trigger_top_")}  # trigger_top_*: parameter checks
    # the shared glue (first level, network stage, output) is estimated with the rest of trigger_top
    inline = {n.removesuffix(".v") for n in TOP_INLINE}
    for name in inline:
        instantiated |= {m for m in re.findall(r"^\s*(trigger_\w+)\s*(?:#\s*\(|\w+\s*\()", (HDL_DIR / f"{name}.v").read_text(), re.M)
                         if m != "trigger_nn" and not m.startswith(f"{name}_")}
    instantiated -= inline
    assert instantiated and instantiated <= set(by_module), instantiated - set(by_module)
    assert plan[-1]["module"] == TOP and plan[-1]["name"] == TOP_REST
    assert {p["module"] + ".v" for p in plan if p["module"] != TOP} <= set(TOP_SOURCES)


def test_top_parameters_go_into_the_copy_defaults():
    from trigger.hardware.top import HDL_DIR, with_defaults

    text = with_defaults((HDL_DIR / "trigger_top.v").read_text(), {"NN_LATENCY": 7, "NN_OUT_W": 19})
    assert "parameter integer NN_LATENCY = 7," in text and "parameter integer NN_OUT_W = 19," in text
    with pytest.raises(ValueError, match="NO_SUCH"):
        with_defaults(text, {"NO_SUCH": 1})
    # a default that calls a function is replaced whole (the parts are synthesized from such copies)
    mux = with_defaults((HDL_DIR / "trigger_word_mux.v").read_text(), {"N": 85, "SW": 7})
    assert "parameter integer N = 85," in mux and "parameter integer SW = 7\n)" in mux


def test_blackbox_stubs_keep_ports_and_drop_bodies():
    from trigger.hardware.top import HDL_DIR, blackbox_stubs

    stub = blackbox_stubs([HDL_DIR / "trigger_group_cmp.v", HDL_DIR / "trigger_fifo.v"])
    assert stub.count("(* blackbox *)") == 2 and stub.count("endmodule") == 2
    assert "output wire       above_asum" in stub and "parameter integer DEPTH = 16" in stub
    assert "assign" not in stub and "always" not in stub


def test_top_slice_synthesizes(tmp_path):
    # one slice of the top's estimate (about 30 s); the whole slice set runs in trigger-synth build (cached)
    from trigger.hardware.synth import yosys_estimate
    from trigger.hardware.top import HDL_DIR

    res = yosys_estimate([HDL_DIR / "trigger_group_cmp.v"], "trigger_group_cmp", "xczu7ev-ffvc1156-2-e", tmp_path,
                         depth=True)
    assert 10 <= res["lut"] <= 60 and res["ff"] == 10  # the registered group sum (stage B of the top)
    # timing by construction: one carry chain and few LUTs between registers (trigger.hardware.timing)
    depth = res["logic_depth"]
    assert depth["carry_chains"] == 1 and 1 <= depth["lut"] <= 4, depth
    assert "CARRY4" in depth["path"] or "CARRY8" in depth["path"]
