"""The partitioned trigger: readout boards with the first level, a central board with the network, the links between.

The camera's N_MODULES module sums (8 bit at 1.024 GS/s, 2.17 Tbit/s) do not fit
the transceivers of one FPGA, so the first level runs where the data are:

- **readout boards** (:data:`READOUT_DEVICE`), each owning a sector of the
  camera (:func:`partition`): the group sums, gate and analog-sum comparators
  of the groups it owns, a history of its modules, and the candidate ROIs
  gathered there. A group whose three modules lie on two boards is owned by
  one of them; the modules it lacks (its *halo*) reach it over a neighbour
  link (:func:`partition` counts them), so every group sum is exact;
- **links** from each readout board to the central board carry candidates:
  group, time stamp and the ROI as the network sees it (``min(count, clip)``,
  :func:`candidate_bits`), plus the analog-sum fires of the beat;
- the **central board** (:data:`CENTRAL_DEVICE`) merges the candidates and
  runs the network (one a clock) and the decision.

Everything here is computed from :class:`~trigger.hardware.spec.TopSpec`, the
trained trigger's :class:`~trigger.hardware.spec.TriggerSpec` and the
instrument's group table; the NSB rates from :mod:`trigger.rates` (counted in
plain NSB windows, :func:`candidate_rates`). Device figures are the vendor's
product tables (cited in :data:`DEVICES`); the assumed latencies are named in
:func:`latency_budget`.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .spec import TopSpec

__all__ = ["CENTRAL_DEVICE", "DEVICES", "READOUT_DEVICE", "Device", "Link", "board_resources", "board_rtl_resources",
           "candidate_bits",
           "candidate_rates", "group_owners", "latency_budget", "link_budget", "link_pacing", "module_boards", "partition",
           "partitioned_report"]


@dataclass(frozen=True)
class Device:
    name: str
    part: str
    lut: int
    ff: int
    dsp: int
    bram36: int
    uram: int
    transceivers: int
    line_rate_gbps: float  # highest line rate of those transceivers at this speed grade
    transceiver_kind: str
    source: str


DEVICES = {
    # AMD DS890 "UltraScale Architecture and Product Data Sheet: Overview", Kintex UltraScale+ product table
    "xcku5p": Device("Kintex UltraScale+ KU5P", "xcku5p-ffvb676-2-e", lut=216_960, ff=433_920, dsp=1_824,
                     bram36=480, uram=64, transceivers=16, line_rate_gbps=32.75, transceiver_kind="GTY",
                     source="AMD DS890, Kintex UltraScale+ table (16 GTY, family maximum 32.75 Gb/s; the package "
                            "and speed-grade limit is in DS922 and must be checked: the budget uses 25.78 Gb/s)"),
    # AMD DS891 "Zynq UltraScale+ MPSoC Data Sheet: Overview", EV device table (the project's ZCU104 part)
    "xczu7ev": Device("Zynq UltraScale+ ZU7EV", "xczu7ev-ffvc1156-2-e", lut=230_400, ff=460_800, dsp=1_728,
                      bram36=312, uram=96, transceivers=20, line_rate_gbps=16.3, transceiver_kind="GTH",
                      source="AMD DS891, Zynq UltraScale+ EV table (20 GTH 16.3 Gb/s in FFVC1156)"),
}
READOUT_DEVICE = DEVICES["xcku5p"]
CENTRAL_DEVICE = DEVICES["xczu7ev"]
N_READOUT_BOARDS = 12
LINK_ENCODING_RATIO = Fraction(64, 66)  # Aurora 64B/66B
LINK_ENCODING = float(LINK_ENCODING_RATIO)
LINK_LINE_RATE_GBPS = 10.3125  # readout -> central: one lane at the 10GBASE-R rate, within GTH (16.3) and GTY
MODULE_LINE_RATE_GBPS = 25.78125  # module streams into the readout boards and between neighbours (25GBASE-R rate, GTY)
FRAME_WORD_BITS = 64
FRAME_TYPE_BITS = 4  # candidate frames are type 2 (trigger_readout_board.v)
CRC_BITS = 8


def link_pacing(clock_mhz: float) -> tuple[int, int]:
    """A readout -> central link's payload rate in 64-bit words per clock, as ``(slots, period)``: ``slots``
    words every ``period`` clocks (trigger_chain_top's LINK_SLOTS, LINK_PERIOD; 5 of 8 at 250 MHz).

    The chain simulates the link at this rate so that its frames take the
    clocks they would on a 64B/66B lane; a rate that is not an exact small
    fraction of the clock is rounded down (the link is never faster than the lane).
    """
    exact = Fraction(LINK_LINE_RATE_GBPS) * 1000 * LINK_ENCODING_RATIO / FRAME_WORD_BITS / Fraction(clock_mhz)
    rate = exact.limit_denominator(255)  # trigger_chain_top's slot counter is 8 bits
    if rate > exact:
        rate = Fraction(math.floor(exact * rate.denominator), rate.denominator)
    if not 0 < rate <= 1:
        raise ValueError(f"a {LINK_LINE_RATE_GBPS} Gb/s link at a {clock_mhz} MHz clock moves {float(exact):.3f} "
                         "words a clock; the chain's link moves at most one")
    return rate.numerator, rate.denominator


def module_boards(instrument, n_boards: int = N_READOUT_BOARDS) -> np.ndarray:
    """Readout board of each module: azimuthal sectors around the camera centre, equal numbers of modules."""
    pos = instrument.module_positions
    order = np.argsort(np.arctan2(pos[:, 1], pos[:, 0]), kind="stable")
    board_of = np.empty(len(pos), dtype=int)
    for b, part in enumerate(np.array_split(order, n_boards)):
        board_of[part] = b
    return board_of


def group_owners(instrument, n_boards: int = N_READOUT_BOARDS) -> np.ndarray:
    """Readout board of each group: the one holding most of its modules (the lowest board on a tie)."""
    board_of = module_boards(instrument, n_boards)
    return np.array([np.bincount(board_of[row], minlength=n_boards).argmax()
                     for row in np.asarray(instrument.group_modules)])


def partition(instrument, n_boards: int = N_READOUT_BOARDS) -> list[dict]:
    """Sectors of the camera, one a readout board: the modules, the groups it owns and its halo modules.

    Modules go to boards by azimuth around the camera centre, equal numbers
    each (:func:`module_boards`); a group belongs to the board holding most of
    its modules (:func:`group_owners`), and the modules of its groups on other
    boards are its halo, which it receives too (overlap, :func:`link_budget`).
    """
    board_of = module_boards(instrument, n_boards)
    owner = group_owners(instrument, n_boards)
    gm = np.asarray(instrument.group_modules)
    boards = []
    for b in range(n_boards):
        modules = np.flatnonzero(board_of == b)
        groups = np.flatnonzero(owner == b)
        used = np.unique(gm[groups].ravel()) if len(groups) else np.zeros(0, int)
        halo = np.setdiff1d(used, modules)
        boards.append({"board": b, "modules": len(modules), "groups": len(groups), "halo_modules": len(halo),
                       "halo_from": sorted({int(board_of[m]) for m in halo})})
    return boards


def candidate_bits(top: TopSpec, clip: int | None, time_bits: int = 32) -> dict:
    """Bits of one candidate on the link: group, time stamp, the ROI as the network sees it, framed in 64-bit words.

    The frame layout of ``hdl/trigger_readout_board.v`` (bit ``i`` of the
    frame is bit ``i mod 64`` of word ``i // 64``, word 0 first): frame type
    (4 bits) at 0, the camera group at ``off_group``, the time stamp at
    ``off_time``, the ROI at ``off_roi`` (input ``k`` at ``off_roi + k *
    bits_per_count``), zeros, and in the top 8 bits the CRC-8 (polynomial
    0x07, initial 0) of the first ``payload_w`` bits, bit 0 first.
    """
    roi_bits_each = top.bits if clip is None or clip >= 2**top.bits - 1 else max(1, math.ceil(math.log2(clip + 1)))
    group_bits = math.ceil(math.log2(top.n_groups))
    payload = group_bits + time_bits + top.n_nn_inputs * roi_bits_each
    words = math.ceil((payload + FRAME_TYPE_BITS + CRC_BITS) / FRAME_WORD_BITS)
    return {"group_bits": group_bits, "time_bits": time_bits, "roi_bits": top.n_nn_inputs * roi_bits_each,
            "bits_per_count": roi_bits_each, "payload_bits": payload, "frame_bits": words * FRAME_WORD_BITS,
            "type_bits": FRAME_TYPE_BITS, "crc_bits": CRC_BITS, "off_group": FRAME_TYPE_BITS,
            "off_time": FRAME_TYPE_BITS + group_bits, "off_roi": FRAME_TYPE_BITS + group_bits + time_bits,
            "payload_w": FRAME_TYPE_BITS + payload,
            "note": "the network sees min(count, clip): the ROI travels at that width, exact"}


def candidate_rates(trigger_input, nsb_rate_ghz: float, gates, n_windows: int, rng, boards=None, instrument=None):
    """Gate candidates per second (rising edges of group sums above each gate) in plain NSB windows, counted.

    Returns ``(rate_hz, error_hz, per_board_max_fraction)`` per gate; the
    last is the largest share of a camera's candidates one readout board sees
    (its groups), from the same windows.
    """
    from ..analog_sum import AnalogSumTrigger
    from ..rates import HISTORY_SAMPLES, plain_nsb_windows

    trigger = AnalogSumTrigger(instrument=trigger_input.instrument)
    gates = np.atleast_1d(gates)
    first, last = HISTORY_SAMPLES, trigger_input.instrument.n_samples
    n_groups = len(trigger.group_modules)
    per_group = np.zeros((len(gates), n_groups))
    for block in plain_nsb_windows(trigger_input, nsb_rate_ghz, n_windows, rng):
        g = trigger.group_sums(block)
        for i, u in enumerate(gates):
            above = g > u
            per_group[i] += (above[..., first:last] & ~above[..., first - 1 : last - 1]).sum(axis=(0, 2))
    live = n_windows * (last - first) / 1.024e9
    counts = per_group.sum(axis=1)
    share = None
    if boards is not None:
        owner = np.asarray(boards)
        share = [float(max(per_group[i][owner == b].sum() for b in np.unique(owner)) / max(counts[i], 1))
                 for i in range(len(gates))]
    return counts / live, np.sqrt(np.maximum(counts, 1)) / live, share


@dataclass(frozen=True)
class Link:
    name: str
    gbps_needed: float   # payload per link
    line_rate_gbps: float
    count: int           # links of this kind in the whole trigger

    @property
    def lanes(self) -> int:
        return max(1, math.ceil(self.gbps_needed / self.lane_payload_gbps))

    @property
    def lane_payload_gbps(self) -> float:
        return self.line_rate_gbps * LINK_ENCODING

    @property
    def utilisation(self) -> float:
        return self.gbps_needed / (self.lanes * self.lane_payload_gbps)

    def describe(self) -> dict:
        return {"name": self.name, "count": self.count, "gbps_per_link": round(self.gbps_needed, 4),
                "line_rate_gbps": self.line_rate_gbps, "lanes_per_link": self.lanes,
                "payload_gbps_per_link": round(self.lanes * self.lane_payload_gbps, 3),
                "utilisation": round(self.utilisation, 4), "headroom": round(1 - self.utilisation, 4)}


def link_budget(top: TopSpec, clip: int | None, accept_rate_hz: float, boards: list[dict],
                board_share: float | None = None, sampling_ghz: float = 1.024) -> dict:
    """Links of the partitioned trigger at a first-level accept rate (candidates per second, whole camera).

    ``board_share``: the busiest board's share of the candidates (measured,
    :func:`candidate_rates`); without it, its share of the groups.
    """
    bits = candidate_bits(top, clip)
    n_boards = len(boards)
    share = board_share if board_share is not None else max(b["groups"] for b in boards) / top.n_groups
    # each beat also tells the central board which of its samples fired the analog sum: 1 bit a sample
    asum_gbps = sampling_ghz
    cand_gbps = accept_rate_hz * share * bits["frame_bits"] / 1e9
    module_gbps = top.bits * sampling_ghz
    most_in = max(b["modules"] + b["halo_modules"] for b in boards)
    most_modules = max(b["modules"] for b in boards)
    most_halo = max(b["halo_modules"] for b in boards)
    # overlap: a border module's fibre is split (passive 1:2) to both boards that need it, so every board
    # receives its own and its halo modules' streams and computes its groups' sums exactly, nothing forwarded
    links = [
        Link("module streams -> readout board (own + halo modules, overlap)", most_in * module_gbps,
             MODULE_LINE_RATE_GBPS, n_boards),
        Link("readout board -> central board (candidates + analog-sum fires)", cand_gbps + asum_gbps,
             LINK_LINE_RATE_GBPS, n_boards),
    ]
    readout_lanes = links[0].lanes + links[1].lanes
    central_lanes = n_boards * links[1].lanes
    # the alternative, neighbour exchange: each board forwards its border modules' streams itself
    own, halo = (Link("", n * module_gbps, MODULE_LINE_RATE_GBPS, n_boards) for n in (most_modules, most_halo))
    exchange_lanes = own.lanes + 2 * halo.lanes + links[1].lanes
    return {"bits_per_candidate": bits, "accept_rate_hz": accept_rate_hz, "busiest_board_share": round(share, 4),
            "candidate_gbps_per_board": round(cand_gbps, 4), "links": [lk.describe() for lk in links],
            "border": "overlap (border modules' fibres split 1:2 to both boards)",
            "transceivers": {"readout_board": readout_lanes, "readout_device": READOUT_DEVICE.transceivers,
                             "central_board": central_lanes, "central_device": CENTRAL_DEVICE.transceivers,
                             "fits": readout_lanes <= READOUT_DEVICE.transceivers
                             and central_lanes <= CENTRAL_DEVICE.transceivers,
                             "neighbour_exchange_instead": exchange_lanes}}


# assumed latencies (ns), each named; the on-chip clocks come from simulation
ASSUMED_LATENCY_NS = {
    "photon to module trigger sum (PMT, preamplifier, analog sum, shaping)": 10.0,
    "module digitiser and serialiser to the readout board (ADC pipeline + 64B/66B TX)": 60.0,
    "fibre, module to readout board (5 m at 5 ns/m)": 25.0,
    "readout board transceiver RX, elastic buffer and alignment": 80.0,
    "readout to central link: TX + fibre (5 m) + RX + alignment (Aurora 64B/66B)": 180.0,
}
SERIALISATION = "candidate frame serialisation at the link rate"
READOUT_PART = "readout board first level (group sums, gate, ROI gather), on chip"
CENTRAL_PART = "central board network and decision, on chip"


def latency_budget(top: TopSpec, core_latency_clocks: int, clock_mhz: float, frame_bits: int) -> dict:
    """Photon to decision: named assumptions plus the partitioned trigger's clocks on chip.

    The on-chip clocks are those of ``hdl/trigger_chain_top.v`` (readout
    board, the frame's words at the link's pacing, central board), from
    :class:`~trigger.hardware.spec.TopSpec` and asserted by its cocotb bench
    with idle links; the frame's serialisation counts the worst phase of
    the link's slots (a frame offered just after a free slot waits longest).
    """
    period = 1000.0 / clock_mhz
    slots, link_period = link_pacing(clock_mhz)
    words = frame_bits // FRAME_WORD_BITS
    link = max(top.link_clocks(words, slots, link_period, p) for p in range(link_period))
    clocks = {"readout_board": top.chain_readout_latency_clocks, "link_serialisation": link,
              "central_board": top.chain_central_latency_clocks(core_latency_clocks)}
    network = top.chain_latency_clocks(core_latency_clocks, words, slots, link_period)
    parts = dict(ASSUMED_LATENCY_NS)
    parts[READOUT_PART] = round(clocks["readout_board"] * period, 1)
    parts[SERIALISATION] = round(link * period, 1)
    parts[CENTRAL_PART] = round(clocks["central_board"] * period, 1)
    total = sum(parts.values())
    return {"parts_ns": parts, "on_chip_ns": round(network * period, 1), "end_to_end_ns": round(total, 1),
            "assumed": list(ASSUMED_LATENCY_NS), "simulated": [READOUT_PART, SERIALISATION, CENTRAL_PART],
            "on_chip_clocks": clocks | {"network_path": network,
                                        "network_path_best_phase": top.chain_latency_clocks(
                                            core_latency_clocks, words, slots, link_period, phase=0),
                                        "analog_sum_path": top.chain_asum_latency_clocks},
            "link_pacing": {"words": words, "slots": slots, "period": link_period},
            "note": "on-chip parts: the partitioned trigger (trigger_chain_top, cocotb: beat taken to record out, "
                    "links idle; the frame's serialisation at the worst phase of the link's "
                    f"{slots} of {link_period} slots); others assumed"}


# which share of a readout board's camera sector each part of trigger_top scales with
_BY_GROUPS = ("trigger_pair_sum", "trigger_group_cmp", "trigger_cand_picker")
_BY_MODULES = ("trigger_hist_bank", "trigger_word_mux")
# parts whose width is the history's bits a count (a readout board keeps what the network sees, min(count, clip))
_BY_HISTORY_BITS = ("trigger_hist_bank", "trigger_word_mux", "trigger_roi_window")
RESOURCE_KEYS = ("lut", "ff", "dsp", "bram")


def _device_block(res: dict, device: Device) -> dict:
    res = {k: round(res.get(k, 0)) if k != "bram" else round(res.get(k, 0), 1) for k in RESOURCE_KEYS}
    return res | {"device": device.name, "part": device.part,
                  "fraction": {"lut": round(res["lut"] / device.lut, 3), "ff": round(res["ff"] / device.ff, 3),
                               "dsp": round(res["dsp"] / device.dsp, 3),
                               "bram": round(res["bram"] / device.bram36, 3)},
                  "fits_70_percent_lut": res["lut"] <= 0.7 * device.lut, "device_source": device.source}


def board_rtl_resources(board_rtl: dict, core: dict | None, boards: list[dict]) -> dict:
    """Per-board resources from the yosys estimate of the boards' own RTL (:mod:`.board_synth`).

    The readout figure is the board with the most modules (the others are
    smaller); the central board's is its RTL plus the network core's own
    estimate (``core``, the build's ``resources_core``) where there is one.
    """
    def depth(modules):
        return {name: (m["logic_depth"] or {}) | {"meets_budget": m["meets_budget"]}
                for name, m in modules.items() if m.get("logic_depth")}

    readout, central = board_rtl["readout"], board_rtl["central"]
    central_res = {k: central.get(k, 0) + (core or {}).get(k, 0) for k in RESOURCE_KEYS}
    return {
        "readout": _device_block(readout, READOUT_DEVICE) | {
            "count": len(boards), "board": readout.get("board"), "max_logic_levels": depth(readout["modules"])},
        "central": _device_block(central_res, CENTRAL_DEVICE) | {
            "count": 1, "core_included": bool(core and core.get("lut")),
            "max_logic_levels": depth(central["modules"])},
        "source": board_rtl["source"] + ("; central board + the network core's own estimate" if core and core.get("lut")
                                         else "; central board without the network core (not estimated in this "
                                              "build)"),
        "method": "rtl",
    }


def board_resources(top_logic: dict | None, core: dict | None, boards: list[dict], n_modules: int,
                    n_groups: int, board_rtl: dict | None = None, history_bits_share: float = 1.0) -> dict:
    """Per-board resource estimates from the yosys estimate of the single-board top's parts.

    A readout board holds its sector's part of the group stage (groups it owns),
    history and module selects (its own and halo modules), one picker and ROI
    window, the output FIFO and registers; the central board the network core,
    one receive FIFO per readout board, the output FIFO and registers. Each part
    is the single-board top's (``resources_top_logic.slices``) scaled by that
    share, and the history, its selects and the ROI window by
    ``history_bits_share`` (the board's bits a count over the top's 8). With ``board_rtl`` (the cached yosys estimate of the boards' own RTL,
    :func:`.board_synth.cached_board_estimate`) that estimate instead.
    """
    if board_rtl:
        return board_rtl_resources(board_rtl, core, boards)
    if not top_logic or not top_logic.get("slices") or core is None:
        return {"readout": None, "central": None,
                "note": "needs the top's part estimate (trigger-synth build without --no-synth-top)"}
    groups = max(b["groups"] for b in boards) / n_groups
    modules = max(b["modules"] + b["halo_modules"] for b in boards) / n_modules
    readout = dict.fromkeys(RESOURCE_KEYS, 0.0)
    central = {k: float(core.get(k, 0)) for k in RESOURCE_KEYS}
    for part in top_logic["slices"]:
        each, times = part["each"], part["count"] * part["scale"]
        module = part["module"]
        share = groups if module in _BY_GROUPS else modules if module in _BY_MODULES else 1.0
        share *= history_bits_share if module in _BY_HISTORY_BITS else 1.0
        for k in RESOURCE_KEYS:
            readout[k] += each.get(k, 0) * times * share
            if module in ("trigger_fifo", "trigger_regs"):
                # central: the output FIFO, a receive FIFO per readout board, the register block
                central[k] += each.get(k, 0) * (1 + len(boards) if module == "trigger_fifo" else 1)

    return {"readout": _device_block(readout, READOUT_DEVICE) | {"count": len(boards)},
            "central": _device_block(central, CENTRAL_DEVICE) | {"count": 1},
            "source": "SCALED ESTIMATE: yosys synth_xilinx of trigger_top's parts, scaled by the busiest board's "
                      f"share of groups ({groups:.3f}) and of modules with its halo ({modules:.3f}), the history's parts "
                      f"by its bits a count ({history_bits_share:.3f}); the boards' own "
                      "RTL (hdl/trigger_readout_board.v, trigger_central_board.v) was not synthesized for this build "
                      "(benchmarks/board_estimate.py does, and caches it)",
            "method": "scaled"}


def partitioned_report(top: TopSpec, clip: int | None, accept_rate_hz: float, instrument, clock_mhz: float,
                       core_latency_clocks: int, top_logic: dict | None = None, core: dict | None = None,
                       board_rtl: dict | None = None) -> dict:
    """``report.json``'s ``partition``, ``links`` and ``latency_budget`` of a build, from the one spec."""
    boards = partition(instrument)
    links = link_budget(top, clip, accept_rate_hz, boards)
    return {
        "partition": {"readout_boards": boards, "central_boards": 1,
                      "rule": "azimuthal sectors of equal module count; a group belongs to the board with most of "
                              "its modules; its other modules are that board's halo"},
        "links": links,
        "boards": board_resources(top_logic, core, boards, top.n_modules, top.n_groups, board_rtl,
                                  links["bits_per_candidate"]["bits_per_count"] / top.bits),
        "latency_budget": latency_budget(top, core_latency_clocks, clock_mhz,
                                         links["bits_per_candidate"]["frame_bits"]),
    }
