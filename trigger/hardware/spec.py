"""One typed description of the trained trigger and of the top built for it.

:class:`TriggerSpec` is what a trained trigger folder says (``trigger.json``:
the digital input, the ROI and gate, both thresholds, the network's inputs),
read once and checked; :class:`TopSpec` is what the hand-written top
(``hdl/trigger_top.v``) is built for (input bits, samples per beat, ROI
geometry, history depth, record fields). Everything that used to repeat these
numbers reads them here: the top's Verilog parameters (:meth:`TopSpec.verilog_parameters`),
the register values (:meth:`TriggerSpec.registers`), the build's refusal of a
model the top cannot run (:meth:`TopSpec.for_trigger`), the testbench's sizes
and the link budget (:mod:`trigger.hardware.links`).

``TriggerSpec`` reads ``trigger.json`` only (no TensorFlow): cheap enough for
a command's ``setup()``. The network itself is loaded by whoever runs it.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..instrument import N_GROUPS, N_MODULES
from ..nn.roi import RoiGeometry
from .errors import ModelError

__all__ = ["TopSpec", "TriggerSpec", "TOP_BITS", "SAMPLE_FIELD_BITS", "RECORD_BITS"]

TOP_BITS = 8              # width of one module count on the top's input stream (trigger_top.v's BITS)
SAMPLES_PER_BEAT = 4      # trigger_top.v's SPB: 4 x N_MODULES x 8 bit per clock at 250 MHz = 1.024 GS/s
SAMPLE_FIELD_BITS = 16    # the records' sample-in-window field (it wraps in longer windows)
RECORD_BITS = 128
MAX_LOOKAHEAD_BEATS = 2   # the hold stage looks one beat ahead: the ROI may end at most 2 beats on


@dataclass(frozen=True)
class TopSpec:
    """What ``trigger_top`` is built for; the defaults are the top's own parameter defaults."""

    n_before: int = 10
    n_after: int = 6
    bits: int = TOP_BITS
    spb: int = SAMPLES_PER_BEAT
    n_modules: int = N_MODULES
    n_groups: int = N_GROUPS
    hist_depth: int = 32

    @property
    def window(self) -> int:
        return self.n_before + self.n_after

    @property
    def n_nn_inputs(self) -> int:
        """Network inputs: the group's three modules over the ROI's samples."""
        return 3 * self.window

    @property
    def nn_input_bits(self) -> int:
        return self.n_nn_inputs * self.bits

    @property
    def beat_bits(self) -> int:
        return self.spb * self.n_modules * self.bits

    @property
    def span(self) -> int:
        """History banks: the beats one ROI can touch, whatever its offset in a beat (trigger_top.v's SPAN)."""
        return (self.window + 2 * self.spb - 2) // self.spb

    @property
    def lookahead(self) -> int:
        """Beats the ROI reaches after its candidate's beat, worst sample (trigger_top.v's LOOKAHEAD)."""
        return (self.spb - 1 + self.n_after - 1) // self.spb

    # Clocks from taking the beat to its record on m_axis, tready high, nothing queued (checked by the cocotb
    # bench's minimum latencies): S0, A, B, S1, H (and the next beat), R, FIFO, output register for the analog
    # sum; for a candidate, that plus the picker (F, chunk FIFO, S, P, candidate FIFO, C), G1, G2, G2b, G3, G4,
    # the core and its result FIFO.
    ASUM_LATENCY_CLOCKS = 7
    PICKER_CLOCKS = 7
    GATHER_CLOCKS = 5

    # The split between the two below was checked only as their sum (the single top's bench) until the chain's
    # bench measured the readout board's part on its own: R is 2 clocks before the analog-sum record (its FIFO,
    # the output register), and trigger_score registers the candidate's time stamp and group beside the core's
    # first stage (nn_meta[0]), so the ROI at G4 is 17 clocks after the beat and its record core + 3 after that.
    @property
    def readout_latency_clocks(self) -> int:
        """Beat taken to its candidate's ROI at G4, the network's input (what a readout board does)."""
        return self.ASUM_LATENCY_CLOCKS - 2 + self.PICKER_CLOCKS + self.GATHER_CLOCKS

    def central_latency_clocks(self, core_latency: int) -> int:
        """ROI at the network's input to the record out: trigger_score's input register, the core, the result
        FIFO and the output register."""
        return core_latency + 3

    def nn_latency_clocks(self, core_latency: int) -> int:
        return self.readout_latency_clocks + self.central_latency_clocks(core_latency)

    # The partitioned trigger (hdl/trigger_chain_top.v) puts the links between the single top's G4 and its network,
    # and a side band between its R and the analog-sum FIFO; the clocks they add, stage by stage, are checked by
    # testbench/trigger_chain's idle-link test. Readout board: K, K2, K3, the frame FIFO (the frame offered on the
    # link the clock after). Central board, after the last word crossed the link: the receive FIFO (popped into
    # the assembly register, D), V, the registered CRC compare, H, P, M (then trigger_score as in the single top).
    # Fire bits: the board's fire register and the central board's OR (F).
    FRAME_CLOCKS = 4
    RECEIVE_CLOCKS = 6
    FIRE_SIDEBAND_CLOCKS = 2

    @property
    def chain_asum_latency_clocks(self) -> int:
        """Beat taken to its analog-sum record on the central board's m_axis (nothing else at the output)."""
        return self.ASUM_LATENCY_CLOCKS + self.FIRE_SIDEBAND_CLOCKS

    @property
    def chain_readout_latency_clocks(self) -> int:
        """Beat taken to its candidate's frame offered on the readout board's link."""
        return self.readout_latency_clocks + self.FRAME_CLOCKS

    @staticmethod
    def link_clocks(words: int, slots: int, period: int, phase: int) -> int:
        """Clocks for a frame of ``words`` to cross a link that moves a word in the first ``slots`` of every
        ``period`` clocks (trigger_chain_top's LINK_SLOTS, LINK_PERIOD), offered first at slot counter ``phase``.

        The phase matters because a frame waits for the link's free slots: a
        5-word frame at 5 of 8 takes 5 clocks from phase 0 and 8 from phases 1 .. 5.
        """
        if not 0 < slots <= period or words < 1:
            raise ValueError(f"a link of {slots} slots in {period} clocks cannot carry {words} words")
        clocks = moved = 0
        while moved < words:
            moved += (phase + clocks) % period < slots
            clocks += 1
        return clocks

    def chain_central_latency_clocks(self, core_latency: int) -> int:
        """The frame's last word across the link to the network's record on the central board's m_axis."""
        return self.RECEIVE_CLOCKS + self.central_latency_clocks(core_latency)

    def chain_latency_clocks(self, core_latency: int, words: int, slots: int, period: int,
                             phase: int | None = None) -> int:
        """Beat taken to its network record at the chain's output, with idle links and nothing queued.

        ``phase`` is the link's slot counter when the frame is first offered;
        without it, the worst phase (the latency budget's figure).
        """
        link = (max(self.link_clocks(words, slots, period, p) for p in range(period)) if phase is None
                else self.link_clocks(words, slots, period, phase))
        return self.chain_readout_latency_clocks + link + self.chain_central_latency_clocks(core_latency)

    def verilog_parameters(self) -> dict:
        """``trigger_top`` parameters that follow the camera and the trained trigger (the others keep their defaults).

        ``N_CAMERA_MODULES`` (the input stream's width) has no usable default
        in the Verilog: the camera's module count comes from here, and the top
        checks it against its generated group table.
        """
        return {"N_CAMERA_MODULES": self.n_modules, "N_BEFORE": self.n_before, "N_AFTER": self.n_after}

    @classmethod
    def for_trigger(cls, description: dict, n_inputs: int | None = None, source="trigger.json") -> "TopSpec":
        """The top for a trained trigger's ``trigger.json``, or a :class:`ModelError` saying why none fits.

        A different ROI (n_before, n_after) builds a matching top (they are
        parameters of ``trigger_top``) as long as the hold stage sees where its
        window ends; a different input width does not: the top's input stream,
        group sums and comparators are 8-bit counts.
        """
        description = description if isinstance(description, dict) else {}
        spec = description.get("input") or {}
        bits = spec.get("bits", TOP_BITS)
        if bits != TOP_BITS or spec.get("signed", False):
            raise ModelError(f"{source}: the model takes {bits}-bit {'signed' if spec.get('signed') else 'unsigned'} "
                             f"inputs, but the trigger top streams {TOP_BITS}-bit unsigned module counts; train with "
                             f"--bits {TOP_BITS} (the top has no other input width)")
        roi = description.get("roi")
        if isinstance(roi, dict) and roi.get("view", "group") != "group":
            raise ModelError(f"{source}: the network reads the {roi['view']!r} view; the trigger top sends it the "
                             "candidate group's 3 modules only (a wider view is not built in RTL)")
        top = cls() if not isinstance(roi, dict) else cls(n_before=roi.get("n_before"), n_after=roi.get("n_after"))
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (top.n_before, top.n_after)) \
                or top.n_before < 1 or top.n_after < 1:
            raise ModelError(f"{source}: roi.n_before and roi.n_after must be positive integers, got "
                             f"{top.n_before!r} and {top.n_after!r}")
        if top.lookahead > MAX_LOOKAHEAD_BEATS:
            most = MAX_LOOKAHEAD_BEATS * top.spb + 1
            raise ModelError(f"{source}: roi.n_after={top.n_after} reaches {top.lookahead} beats past the candidate; "
                             f"the trigger top decides one beat later and supports n_after <= {most}")
        n = spec.get("n_inputs") if n_inputs is None else n_inputs
        if n != top.n_nn_inputs:
            raise ModelError(f"{source}: the model takes {n} inputs, but the trigger top feeds the network 3 modules x "
                             f"{top.window} samples (n_before={top.n_before}, n_after={top.n_after}) = "
                             f"{top.n_nn_inputs}")
        return top


@dataclass(frozen=True)
class TriggerSpec:
    """A trained trigger as ``trigger.json`` describes it: input, ROI and gate, operating point, network inputs."""

    bits: int
    n_inputs: int
    gain: float | None = None          # counts per photo-electron
    pedestal: int | None = None        # counts
    clip: int | None = None            # the network sees min(count, clip)
    signed: bool = False
    geometry: RoiGeometry | None = None
    asum_threshold: int | None = None  # counts, group sum > threshold
    nn_threshold: float | None = None  # network score > threshold
    nsb_rate_ghz: float | None = None
    target_rate_hz: float | None = None
    source: str = "trigger.json"
    config: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, folder) -> "TriggerSpec":
        path = Path(folder) / "trigger.json"
        try:
            config = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelError(f"{path}: missing (a trigger model folder holds trigger.json)") from None
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise ModelError(f"{path}: cannot be read as JSON ({err})") from err
        return cls.from_config(config, source=str(path))

    @classmethod
    def from_config(cls, config: dict, source="trigger.json") -> "TriggerSpec":
        if not isinstance(config, dict) or not isinstance(config.get("input"), dict):
            raise ModelError(f"{source}: missing the 'input' object")
        inp = config["input"]
        roi = config.get("roi")
        geometry = None
        if isinstance(roi, dict):
            try:
                geometry = RoiGeometry(int(roi["gate"]), int(roi["n_before"]), int(roi["n_after"]), roi.get("view", "group"))
            except (KeyError, TypeError, ValueError) as err:
                raise ModelError(f"{source}: 'roi' needs integer gate, n_before and n_after ({err})") from err
        op = config.get("operating_point") if isinstance(config.get("operating_point"), dict) else {}

        def threshold(name):
            value = (op.get(name) or {}).get("threshold") if isinstance(op.get(name), dict) else None
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ModelError(f"{source}: operating_point.{name}.threshold must be a finite number, got {value!r}")
            return value

        asum = threshold("analog_sum")
        return cls(bits=inp.get("bits"), n_inputs=inp.get("n_inputs"), gain=inp.get("gain"),
                   pedestal=inp.get("pedestal"), clip=inp.get("clip"), signed=bool(inp.get("signed", False)),
                   geometry=geometry, asum_threshold=None if asum is None else int(asum),
                   nn_threshold=threshold("nn"), nsb_rate_ghz=op.get("nsb_rate_ghz"),
                   target_rate_hz=op.get("target_rate_hz"), source=source, config=config)

    @property
    def top(self) -> TopSpec:
        """The top this trigger runs on (a :class:`ModelError` when none fits)."""
        return TopSpec.for_trigger(self.config, self.n_inputs, self.source)

    def registers(self, output_kif) -> dict:
        """Register values that make the top decide as the Python model (``register_values``)."""
        from .top import register_values

        return register_values(self.config, output_kif)
