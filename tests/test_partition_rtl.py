"""The partitioned trigger's RTL tables (hdl/trigger_partition.vh, hdl/trigger_readout_boards.v) and its report."""

import numpy as np
import pytest

from trigger.hardware.links import (
    board_resources,
    candidate_bits,
    group_owners,
    latency_budget,
    link_pacing,
    module_boards,
    partition,
    partitioned_report,
)
from trigger.hardware.partition_rtl import (
    BOARDS_SOURCE,
    CHAIN_SOURCES,
    PARTITION_HEADER,
    board_tables,
    chain_parameters,
    generated,
)
from trigger.hardware.spec import TopSpec, TriggerSpec
from trigger.hardware.top import HDL_DIR
from trigger.sizes import N_GROUPS, N_MODULES


def test_generated_board_tables_in_hdl_are_current(instrument):
    for name, text in generated(instrument).items():
        assert (HDL_DIR / name).read_text() == text, f"{name} is stale: python -m trigger.hardware.partition_rtl"
    assert {BOARDS_SOURCE, "trigger_readout_board.v", "trigger_central_board.v"} <= set(CHAIN_SOURCES)
    assert all((HDL_DIR / n).is_file() for n in (*CHAIN_SOURCES, PARTITION_HEADER))


def test_board_tables_cover_every_group_once_in_the_camera_order(instrument):
    gm = np.asarray(instrument.group_modules)
    tables = board_tables(gm, module_boards(instrument))
    owners = group_owners(instrument)
    groups = np.concatenate([t.groups for t in tables])
    assert sorted(groups.tolist()) == list(range(len(gm)))
    for t, b in zip(tables, partition(instrument), strict=True):
        assert np.all(owners[t.groups] == t.board) and len(t.groups) == b["groups"]
        # local numbers keep the camera's order: the ROI's slot order and the picker's group order hold
        assert np.all(np.diff(t.modules) > 0) and np.all(np.diff(t.groups) > 0)
        assert np.array_equal(t.modules[t.group_modules], gm[t.groups])
        assert np.all(np.diff(t.group_modules, axis=1) > 0)
        # a board receives its own sector's modules that its groups use, and its halo
        assert len(t.modules) <= b["modules"] + b["halo_modules"]


def test_frame_layout_and_chain_parameters(tmp_path):
    bits = candidate_bits(TopSpec(), clip=31)
    assert bits["bits_per_count"] == 5 and bits["frame_bits"] == 320  # 5 words of 64 bit, as the budget says
    assert bits["off_roi"] + bits["roi_bits"] == bits["payload_w"] <= bits["frame_bits"] - bits["crc_bits"]
    assert candidate_bits(TopSpec(), clip=None)["bits_per_count"] == 8
    assert candidate_bits(TopSpec(), clip=255)["bits_per_count"] == 8
    report = {"latency_cycles": 5, "rtl": {"output_kif": [1, 8, 10]}}
    spec = TriggerSpec.from_config({"input": {"bits": 8, "n_inputs": 48, "clip": 31}})
    assert chain_parameters(report, spec) == {"NN_LATENCY": 5, "NN_OUT_W": 19, "NN_OUT_SIGNED": 1,
                                              "N_CAMERA_MODULES": N_MODULES, "CLIP": 31}
    assert chain_parameters(report, TriggerSpec.from_config({"input": {"bits": 8, "n_inputs": 48}}))["CLIP"] == 255
    # the links' pacing follows the build's clock: 10.3125 Gb/s 64B/66B = 156.25 Mword/s, 5 words in 8 clocks at 250 MHz
    paced = chain_parameters(report | {"clock_mhz": 250.0}, spec)
    assert (paced["LINK_SLOTS"], paced["LINK_PERIOD"]) == (5, 8) and link_pacing(312.5) == (1, 2)
    # a frame waits for the link's free slots: 5 words take 5 clocks from phase 0, 8 from phases 1 .. 5
    assert [TopSpec.link_clocks(5, 5, 8, p) for p in range(8)] == [5, 8, 8, 8, 8, 8, 7, 6]


def test_board_resources_from_the_board_rtl_or_labelled_scaled(instrument):
    boards = partition(instrument)
    module = {"lut": 10, "ff": 5, "dsp": 0, "bram": 0, "logic_depth": {"lut": 3, "carry_chains": 1, "levels": 4},
              "meets_budget": True}
    rtl = {"source": "yosys", "readout": {"lut": 20000, "ff": 30000, "dsp": 0, "bram": 5, "board": 1,
                                          "modules": {"trigger_first_level": module}},
           "central": {"lut": 3000, "ff": 2000, "dsp": 0, "bram": 0, "modules": {"trigger_central_board": module}}}
    out = board_resources(None, {"lut": 5000, "ff": 1000, "dsp": 0, "bram": 0}, boards, N_MODULES, N_GROUPS, rtl)
    assert out["method"] == "rtl" and out["readout"]["lut"] == 20000 and out["central"]["lut"] == 8000
    assert out["readout"]["fits_70_percent_lut"] and out["readout"]["max_logic_levels"]["trigger_first_level"]["lut"] == 3
    slices = [{"module": "trigger_group_cmp", "count": 1896, "scale": 1, "each": {"lut": 22, "ff": 10}},
              {"module": "trigger_regs", "count": 1, "scale": 1, "each": {"lut": 300, "ff": 350}}]
    scaled = board_resources({"slices": slices}, {"lut": 0}, boards, N_MODULES, N_GROUPS)
    assert scaled["method"] == "scaled" and scaled["source"].startswith("SCALED ESTIMATE")
    report = partitioned_report(TopSpec(), 31, 1e7, instrument, 250.0, 5, board_rtl=rtl)
    assert report["boards"]["method"] == "rtl"


@pytest.mark.parametrize("clip", [31, None])
def test_link_words_per_candidate_match_the_rtl_formula(clip):
    top = TopSpec()
    bits = candidate_bits(top, clip)
    roi_bits = 8 if clip is None else int(np.ceil(np.log2(clip + 1)))
    payload_w = 4 + 9 + 32 + top.n_nn_inputs * roi_bits  # trigger_readout_board.v's PAYLOAD_W
    assert bits["payload_w"] == payload_w and bits["frame_bits"] == (payload_w + 8 + 63) // 64 * 64


def test_latency_budget_counts_the_partitioned_trigger():
    """The budget's on-chip rows are the chain's clocks, those testbench/trigger_chain asserts with idle links."""
    top = TopSpec()
    lat = latency_budget(top, 5, 250.0, candidate_bits(top, clip=31)["frame_bits"])
    # chain_latency_with_idle_links measured these for the testbench core (NN_LATENCY 5, 5-word frames, 5 of 8)
    assert lat["on_chip_clocks"] == {"readout_board": 21, "link_serialisation": 8, "central_board": 14,
                                     "network_path": 43, "network_path_best_phase": 40, "analog_sum_path": 9}
    assert lat["on_chip_ns"] == 172.0 and lat["end_to_end_ns"] == pytest.approx(sum(lat["parts_ns"].values()))
    assert not set(lat["simulated"]) & set(lat["assumed"])
    assert set(lat["simulated"]) | set(lat["assumed"]) == set(lat["parts_ns"])
