"""Deployment: the driver on the simulated board (the Verilated board wrapper) against the Python model.

A tiny trained trigger (``trigger_model``) is built once with ``--board
zcu104`` (hls4ml and da4ml, no yosys: about a minute); the simulated board
is Verilated from ``hdl/`` and that build's core (about 40 s on 2 cores the
first time, then cached in ``~/.cache/lst-nn-trigger/simboard``).
"""

import copy
import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from ctapipe.core import run_tool

from trigger.deploy import (
    REGISTERS,
    VLNV,
    BoardFormat,
    DeviceClosedError,
    OverlayError,
    TriggerDevice,
    find_trigger_ip,
    open_simulated_board,
    pack_windows,
)
from trigger.deploy.check import compare_with_model
from trigger.deploy.simboard import POLL_CLOCKS, SimulatedBoard
from trigger.events import read_trigger_events
from trigger.hardware import build
from trigger.hardware.board import check_tcl_names, verilog_interface
from trigger.hardware.tool import BuildTool
from trigger.hardware.top import register_values
from trigger.inputs import TriggerInput
from trigger.nn.model import load_trigger, score_function
from trigger.sizes import N_MODULES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def board_build(trigger_model, tmp_path_factory):
    """``trigger-synth build MODEL --board zcu104`` (the command line), without the yosys estimate."""
    out = tmp_path_factory.mktemp("board_build") / "hw"
    code = run_tool(BuildTool(), [str(trigger_model), "--out", str(out), "--n-check", "50", "--no-synth",
                                  "--board", "zcu104"], raises=True)
    assert code == 0
    return out


@pytest.fixture(scope="module")
def trained(trigger_model, board_build):
    model, config = load_trigger(trigger_model)
    report = json.loads((board_build / "report.json").read_text())
    return model, config, report


@pytest.fixture(scope="module")
def windows(simulated, trained):
    _, config, _ = trained
    trigger_input = TriggerInput.from_description(config["input"])
    parts = [read_trigger_events(simulated[p], trigger_input, max_tel_events=n).counts
             for p, n in (("gamma", 30), ("proton", 30), ("nsb", 4))]
    return np.concatenate(parts)


@pytest.fixture(scope="module")
def device(board_build):
    dev = open_simulated_board(board_build)
    yield dev
    dev.close()


@pytest.fixture(scope="module")
def library(device):
    """The Verilated board of this module: later boards reuse it even if hdl/ changes meanwhile."""
    return device.transport.library


def _scores(model, config, counts):
    """Score integers of the model's candidates on ``counts``, from the project's own functions."""
    from trigger.analog_sum import AnalogSumTrigger
    from trigger.nn.roi import RoiGeometry
    from trigger.nn.trigger import nn_candidates

    roi = config["roi"]
    trigger = AnalogSumTrigger(instrument=TriggerInput.from_description(config["input"]).instrument)
    geometry = RoiGeometry(int(roi["gate"]), int(roi["n_before"]), int(roi["n_after"]))
    return nn_candidates(trigger, counts, geometry, score_function(model)).score


def test_decisions_match_the_model_at_the_operating_point(device, trained, windows):
    model, config, report = trained
    values = device.configure_trigger(config, report)
    assert values == register_values(config, report["rtl"]["output_kif"])
    decisions = device.run(windows)
    result = compare_with_model(decisions, windows, model, config, report)
    assert result.windows == len(windows) > 50
    assert result.candidates > 0 and len(decisions.candidates) == result.candidates
    assert result.n_mismatches == 0, result.mismatches[:5]
    # the registers counted what the records say
    counters = decisions.counters
    assert counters["event_count"] == len(windows)
    assert counters["window_count"] == len(decisions.candidates)
    assert counters["nn_count"] == int(decisions.candidates["passed"].sum())
    assert counters["drop_count"] == counters["cand_drop_count"] == 0
    assert decisions.batches[0].beats == windows.size // (N_MODULES * 4)


def test_decisions_match_with_both_outcomes_and_small_batches(device, trained, windows):
    """Thresholds moved to the middle of the data, so that passes and fails, fires and silences all occur."""
    model, config, report = trained
    config = copy.deepcopy(config)
    config["operating_point"]["nn"]["threshold"] = float(np.median(_scores(model, config, windows)))
    config["operating_point"]["analog_sum"]["threshold"] = int(config["roi"]["gate"]) + 10
    device.configure_trigger(config, report)
    decisions = device.run(windows, windows_per_batch=7)
    assert len(decisions.batches) == -(-len(windows) // 7)
    result = compare_with_model(decisions, windows, model, config, report)
    assert result.n_mismatches == 0, result.mismatches[:5]
    passed = decisions.candidates["passed"]
    assert passed.any() and (~passed).any()
    # the comparison is not vacuous: against the operating point's thresholds these decisions differ
    assert compare_with_model(decisions, windows, model, trained[1], report).n_mismatches > 0
    assert (decisions.asum_first >= 0).any() and (decisions.asum_first < 0).any()
    # one batch or many: the same decisions
    again = device.run(windows)
    assert np.array_equal(again.candidates, decisions.candidates)
    assert np.array_equal(again.asum_fired, decisions.asum_fired)


def test_slow_software_loses_nothing(board_build, library, trained, windows):
    """20,000 clocks (80 us at 250 MHz) pass whenever software starts a transfer, as Python takes on a board.

    Records then wait for memory while the DMA could send about 300 beats;
    the wrapper holds the input instead, so nothing is dropped.
    """
    model, config, report = trained
    config = copy.deepcopy(config)
    config["operating_point"]["nn"]["threshold"] = float(np.median(_scores(model, config, windows)))
    config["operating_point"]["analog_sum"]["threshold"] = int(config["roi"]["gate"])
    with open_simulated_board(board_build, library=library, software_clocks=20_000, packet=256) as dev:
        dev.configure_trigger(config, report)
        decisions = dev.run(windows)
        assert len(decisions.candidates) + int((decisions.asum_fired.any(axis=1)).sum()) > 2 * 256  # several packets
        assert decisions.counters["drop_count"] == decisions.counters["cand_drop_count"] == 0
        assert not any(v for k, v in dev.registers.status().items() if k in ("queue_overflow", "record_lost"))
    assert compare_with_model(decisions, windows, model, config, report).n_mismatches == 0


def test_paced_input_waits_and_decides_the_same(device, trained, windows):
    """``pace_windows`` (the soak's pacing) holds the input after each window's last beat, changing no decision."""
    model, config, report = trained
    device.configure_trigger(config, report)
    board = device.transport
    block = windows[:12]
    before = board.cycles
    plain = device.run(block)
    plain_clocks = board.cycles - before
    gaps = np.arange(len(block)) * 500  # long enough to dominate the DMA's polling granularity
    board.pace_windows(gaps)
    before = board.cycles
    paced = device.run(block)
    paced_clocks = board.cycles - before
    # the pause after the last window holds nothing back; the driver sees the end of a transfer up to a poll
    # (POLL_CLOCKS) late on each channel, which the plain run's tail may have spent anyway
    assert paced_clocks >= plain_clocks + gaps[:-1].sum() - 2 * POLL_CLOCKS
    assert np.array_equal(paced.candidates, plain.candidates)
    assert np.array_equal(paced.asum_fired, plain.asum_fired)
    assert compare_with_model(paced, block, model, config, report).n_mismatches == 0
    # the schedule was used up: the next run is not paced
    before = board.cycles
    device.run(block)
    assert board.cycles - before <= plain_clocks + POLL_CLOCKS


def test_register_table_is_the_verilog_map():
    text = (ROOT / "hdl" / "trigger_regs.v").read_text()
    verilog = {name.lower(): (int(addr, 16), access == "RW")
               for addr, name, access in re.findall(r"^//\s+0x([0-9A-F]{2})\s+(\w+)\s+(RO|RW)", text, re.M)}
    assert verilog == {r.name: (r.offset, r.writable) for r in REGISTERS}


def test_registers_by_name(device):
    regs = device.registers
    assert regs["id"] == 0x4C535454 and regs.version >> 16 == 1
    regs["scratch"] = 0xDEADBEEF
    assert regs.scratch == 0xDEADBEEF
    regs.nn_threshold = -5  # signed: the core's output integer may be negative
    assert regs["nn_threshold"] == -5
    regs["gate_threshold"] = 123
    assert regs.dump()["gate_threshold"] == 123
    assert set(regs.status()) >= {"busy", "queue_level", "in_flight"} and not regs.status()["busy"]
    with pytest.raises(ValueError, match="read-only"):
        regs["nn_count"] = 1
    with pytest.raises(KeyError, match="no register 'threshold'.*nn_threshold"):
        regs["threshold"]
    with pytest.raises(ValueError, match="does not fit"):
        regs["scratch"] = 1 << 32
    with pytest.raises(ValueError, match="does not fit"):
        regs["nn_threshold"] = 1 << 31
    with pytest.raises(TypeError, match="integer"):
        regs["scratch"] = 1.5


def test_reset_values_and_counter_clear(board_build, library):
    with open_simulated_board(board_build, library=library) as dev:
        regs = dev.registers
        # reset: never-triggering thresholds, both triggers off
        assert regs["nn_threshold"] == 0x7FFFFFFF and regs["asum_threshold"] == 0xFFFFFFFF
        assert regs["control"] == 0 and all(v == 0 for v in regs.counters().values())
        dev.configure(nn_threshold=0, asum_threshold=0, gate_threshold=0)
        dev.run(np.full((2, N_MODULES, 40), 60, np.uint8))
        assert regs["event_count"] == 2 and regs["asum_count"] > 0
        dev.configure(nn_threshold=0, asum_threshold=0, gate_threshold=0)  # clears the counters
        assert regs["event_count"] == 0 and regs["asum_count"] == 0


def test_status_busy_covers_the_beat_waiting_in_the_wrapper(board_build, library):
    """The driver ends a batch when STATUS.busy reads 0: a read just after the last word must still see it."""
    board = SimulatedBoard(board_build, library=library)
    try:
        fmt = board.format
        buf = board.allocate(fmt.beat_bytes)
        pack_windows(np.zeros((1, N_MODULES, 4), np.uint8), fmt, out=buf)
        board.send(buf, fmt.beat_bytes)
        while not board.send_done():  # stops at the clock that takes the last word
            pass
        assert board.read(0x0C) >> 3 & 1, "busy missed the beat between the wrapper and the top"
        board.run(64)
        assert not board.read(0x0C) >> 3 & 1
    finally:
        board.close()


def test_wrong_overlay_is_refused(board_build, library):
    dma = {"type": "xilinx.com:ip:axi_dma:7.1", "parameters": {"C_SG_LENGTH_WIDTH": "26"}}
    with pytest.raises(OverlayError, match=f"no trigger IP of type {VLNV}.*axi_dma_0"):
        find_trigger_ip({"axi_dma_0": dma})
    other = {"type": "cta-lst:trigger:trigger_board_top:2.0", "parameters": {}}
    with pytest.raises(OverlayError, match="this driver knows"):
        find_trigger_ip({"trigger_board_top_0": other, "axi_dma_0": dma})
    mine = {"type": VLNV, "parameters": {"DMA_W": "128", "PACKET": "256"}}
    with pytest.raises(OverlayError, match="2 AXI DMA.*dma_name"):
        find_trigger_ip({"t": mine, "axi_dma_0": dma, "axi_dma_1": dma})
    assert find_trigger_ip({"t": mine, "axi_dma_0": dma, "axi_dma_1": dma}, dma_name="axi_dma_1")["dma"] == "axi_dma_1"
    with pytest.raises(OverlayError, match="DMA width"):
        find_trigger_ip({"t": {"type": VLNV, "parameters": {"DMA_W": "48"}}, "axi_dma_0": dma})

    class NotTheTrigger(SimulatedBoard):
        """The simulated board behind another design's registers: the ID does not match."""

        def read(self, offset):
            return 0x12345678 if offset == 0 else super().read(offset)

    board = NotTheTrigger(board_build, library=library)
    with pytest.raises(OverlayError, match="ID reads 0x12345678"):
        TriggerDevice(board)
    board.close()
    with pytest.raises(Exception, match="not a trigger-synth build"):
        open_simulated_board(board_build / "rtl")


def test_buffers_too_large_are_refused(device, board_build, library, windows):
    limit = device.batch_limit(40)
    with pytest.raises(ValueError, match="more than one DMA transfer holds"):
        device.run(windows, windows_per_batch=limit + 1)
    with pytest.raises(ValueError, match="at least 1"):
        device.run(windows, windows_per_batch=0)
    small = SimulatedBoard(board_build, length_width=13, library=library)  # 8191-byte transfers: less than one window
    try:
        dev = TriggerDevice(small)
        with pytest.raises(ValueError, match="larger than the DMA's 8191-byte transfer limit"):
            dev.run(windows[:1])
        buf = small.allocate(16384)
        with pytest.raises(ValueError, match="larger than the DMA's limit"):
            small.send(buf, 16384)
    finally:
        small.close()


def test_bad_input_names_the_problem(device):
    with pytest.raises(ValueError, match=rf"\(n_windows, {N_MODULES}, n_samples\)"):
        device.run(np.zeros((3, 264, 40), np.uint8))
    with pytest.raises(ValueError, match="whole beats of 4 samples, got 38"):
        device.run(np.zeros((3, N_MODULES, 38), np.uint8))
    with pytest.raises(ValueError, match="within 0..255"):
        device.run(np.full((1, N_MODULES, 40), 256, np.int32))
    with pytest.raises(ValueError, match="integer counts"):
        device.run(np.zeros((1, N_MODULES, 40), np.float32))


def test_closed_device_refuses_everything(board_build, library):
    dev = open_simulated_board(board_build, library=library)
    dev.close()
    dev.close()  # twice is harmless
    assert dev.closed
    with pytest.raises(DeviceClosedError):
        dev.registers["id"]
    with pytest.raises(DeviceClosedError):
        dev.registers["scratch"] = 1
    with pytest.raises(DeviceClosedError):
        dev.run(np.zeros((1, N_MODULES, 40), np.uint8))
    with pytest.raises(DeviceClosedError):
        dev.configure(0, 0, 0)


def test_packing_is_the_wrappers_byte_layout():
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 256, (2, N_MODULES, 8), dtype=np.uint8)
    fmt = BoardFormat(64)
    raw = pack_windows(counts, fmt).reshape(2, 2, fmt.beat_bytes)
    assert fmt.words_per_beat == 133 and fmt.beat_bytes == 1064
    # sample j of module m of beat b at byte j*N_MODULES + m; flags after the 1060 beat bytes
    assert raw[1, 1, 3 * N_MODULES + 17] == counts[1, 17, 4 + 3]
    assert raw[0, 0, 1060] == 1 and raw[0, 1, 1060] == 2 and not raw[..., 1061:].any()


def test_board_tcl_names_only_ports_of_the_wrapper(board_build):
    board = board_build / "board"
    tcl = (board / "build_board.tcl").read_text()
    wrapper = board / "hdl" / "trigger_board_top.v"
    iface = verilog_interface(wrapper)
    assert {"aclk", "aresetn", "s_axis_tdata", "m_axis_tdata", "s_axil_awaddr"} <= set(iface["ports"])
    assert {"DMA_W", "PACKET", "NN_LATENCY"} <= set(iface["parameters"])
    assert check_tcl_names(tcl, wrapper) == []
    assert check_tcl_names(tcl.replace("$trigger/s_axis]", "$trigger/S_AXIS]"), wrapper) == ["interface S_AXIS"]
    assert check_tcl_names(tcl.replace("-clock aclk", "-clock ap_clk"), wrapper) == ["clock ap_clk"] * 3
    info = json.loads((board / "board.json").read_text())
    assert info["board"]["part"] == "xczu7ev-ffvc1156-2-e" and info["vlnv"] == VLNV
    assert json.loads((board_build / "report.json").read_text())["board"]["dma_width"] == 128


@pytest.mark.parametrize("dma_width", [32])  # 64, 128, 1024 were linted by hand (docs/deployment.md)
def test_wrapper_is_lint_clean(board_build, dma_width):
    """``verilator --lint-only -Wall`` of the wrapper with the top and the build's core (32 bits: the most words per beat)."""
    from trigger.deploy.simboard import _verilator, board_sources, core_sources
    from trigger.hardware.top import verilator_parameters

    exe, root = _verilator()
    sources = [str(p) for p in (*board_sources(), *core_sources(board_build)) if p.suffix == ".v"]
    cmd = [str(exe), "--lint-only", "-Wall", f"-I{ROOT / 'hdl'}", str(ROOT / "testbench" / "trigger_top" / "core.vlt"),
           *sources, "--top-module", "trigger_board_top", f"-GDMA_W={dma_width}",
           *verilator_parameters(board_build / "report.json").split()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={"PATH": f"{exe.parent}:/usr/bin:/bin", "VERILATOR_ROOT": str(root)})
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed")
def test_board_tcl_runs_in_tclsh_with_vivado_stubbed(board_build):
    """Tcl syntax, and every trigger pin as Vivado would get it after substitution, from a dry run."""
    board = board_build / "board"
    script = ("proc unknown {args} { puts \"CALL [join $args { }]\"; return {} }\n"
              "set trigger_board_dry_run 1\n"
              f"source {{{board / 'build_board.tcl'}}}\n"
              "package_ip\nblock_design\nimplement\n")
    proc = subprocess.run(["tclsh"], input=script, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    calls = [line[5:] for line in proc.stdout.splitlines() if line.startswith("CALL ")]
    iface = verilog_interface(board / "hdl" / "trigger_board_top.v")
    buses = {p.rsplit("_", 1)[0] for p in iface["ports"] if p.endswith(("_tdata", "_awaddr"))}
    used = re.findall(r"get_bd_(intf_pins|pins) trigger_board_top_0/(\w+)", "\n".join(calls))
    assert {n for k, n in used if k == "intf_pins"} == buses == {"s_axis", "m_axis", "s_axil"}
    assert {n for k, n in used if k == "pins"} == {"aclk", "aresetn"}
    sources = next(c for c in calls if c.startswith("add_files -norecurse") and "trigger_board_top.v" in c)
    assert "trigger_top.v" in sources and "trigger_nn.v" in sources and "_wrapper.v" not in sources
    assert any(c.startswith("ipx::package_project") and "-vendor cta-lst -library trigger" in c for c in calls)
    assert any(c.startswith(f"create_bd_cell -type ip -vlnv {VLNV}") for c in calls)
    assert any("launch_runs impl_1 -to_step write_bitstream" in c for c in calls)


def test_board_options_are_checked(trigger_model, tmp_path):
    with pytest.raises(ValueError, match="unknown board 'zcu999'.*zcu104"):
        build(trigger_model, tmp_path / "a", board="zcu999")
    with pytest.raises(ValueError, match="board zcu104 carries xczu7ev-ffvc1156-2-e, not xcvu9p"):
        build(trigger_model, tmp_path / "b", board="zcu104", part="xcvu9p-flga2104-2-e")
    with pytest.raises(ValueError, match="DMA width"):
        build(trigger_model, tmp_path / "c", board="zcu104", dma_width=48)


def test_importing_the_package_does_not_import_pynq():
    code = ("import sys, trigger, trigger.deploy, trigger.deploy.driver, trigger.hardware.board\n"
            "assert 'pynq' not in sys.modules, 'pynq imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _fake_pynq(board_dir, library):
    """A stand-in for the pynq package over the simulated board: only what PYNQ's API promises the driver.

    Overlay (ip_dict, one attribute per IP, drivers chosen by ``bindto``),
    DefaultIP (``read``/``write``), ``allocate`` and the AXI DMA's channels
    (``transfer``, ``idle``, ``running``, ``wait``). The board behind it is
    the real Verilated RTL.
    """
    pynq = types.ModuleType("pynq")
    drivers = {}

    class DefaultIP:
        def __init_subclass__(cls, **kwargs):
            super().__init_subclass__(**kwargs)
            for vlnv in getattr(cls, "bindto", []):
                drivers[vlnv] = cls

        def __init__(self, description):
            self._board = description["board"]

        def read(self, offset):
            return self._board.read(offset)

        def write(self, offset, value):
            self._board.write(offset, value)

    class Buffer(np.ndarray):
        def freebuffer(self):
            self.freed = True

    def allocate(shape, dtype):
        return np.zeros(shape, dtype).view(Buffer)

    class Channel:
        def __init__(self, board, send):
            self.board, self.send, self.running = board, send, True

        def transfer(self, array, start=0, nbytes=0):
            if self.send:
                self.board.send(np.asarray(array), nbytes or array.nbytes)
            else:
                self.board.receive(np.asarray(array))

        @property
        def idle(self):
            return self.board.send_done() if self.send else self.board.receive_done()

        def wait(self):
            while not self.idle:
                pass

    class Overlay:
        def __init__(self, bitfile, **kwargs):
            assert Path(bitfile).name == "trigger_board.bit"
            board = SimulatedBoard(board_dir, library=library)
            self.ip_dict = {k: v | {"board": board} for k, v in board.ip_dict.items()}
            for name, desc in self.ip_dict.items():
                if desc["type"].startswith("xilinx.com:ip:axi_dma"):
                    setattr(self, name, types.SimpleNamespace(sendchannel=Channel(board, True),
                                                              recvchannel=Channel(board, False)))
                else:
                    setattr(self, name, drivers.get(desc["type"], DefaultIP)(desc))

    pynq.DefaultIP, pynq.Overlay, pynq.allocate = DefaultIP, Overlay, allocate
    return pynq


def test_pynq_driver_code_on_the_simulated_board(board_build, library, trained, windows, monkeypatch):
    """TriggerOverlay, TriggerIP and PynqTransport (the board path) over the simulated board, against the model."""
    monkeypatch.setitem(sys.modules, "pynq", _fake_pynq(board_build, library))
    monkeypatch.delitem(sys.modules, "trigger.deploy.pynq_overlay", raising=False)
    from trigger.deploy import open_board
    from trigger.deploy.pynq_overlay import TriggerIP

    model, config, report = trained
    with open_board(board_build / "board" / "overlay" / "trigger_board.bit") as dev:
        ip = dev.transport.ip
        assert isinstance(ip, TriggerIP) and ip.registers["id"] == 0x4C535454
        dev.configure_trigger(config, report)
        decisions = dev.run(windows[:20])
        assert compare_with_model(decisions, windows[:20], model, config, report).n_mismatches == 0
    monkeypatch.delitem(sys.modules, "trigger.deploy.pynq_overlay")
