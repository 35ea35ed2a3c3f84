"""yosys estimate of the readout-board and central-board RTL: resources and logic depth per module, cached.

Each board is synthesized on its own (``synth_xilinx``, hierarchy kept: each
distinct module mapped once, ``stat -top`` adds the instances up), from the
RTL of ``hdl/`` that the chain testbench checks bit for bit: the readout
board with the most modules and groups (``trigger_readout_board_<b>``, its
tables from the generated ``trigger_readout_boards.v``) and the central board
(``trigger_central_board``, the network core as a black box: the core's own
estimate is the build's ``resources_core``). The deepest register-to-register
path of every module of each netlist is measured by
:func:`trigger.hardware.timing.logic_depth` (modules cut at their boundaries).

This takes minutes on two cores, so it is a cached step
(``~/.cache/lst-nn-trigger/yosys-boards/``, keyed by the sources, the
parameters and the part) run by ``benchmarks/board_estimate.py``;
``trigger-synth build`` only looks the estimate up
(:func:`cached_board_estimate`) and otherwise reports the single top's parts
scaled to a board (:func:`trigger.hardware.links.board_resources`, labelled so).
"""

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from .partition_rtl import BOARDS_SOURCE, CHAIN_SOURCES, PARTITION_HEADER
from .top import HDL_DIR, with_defaults

__all__ = ["board_key", "cached_board_estimate", "estimate_boards", "readout_board_to_estimate", "write_board_sources"]

log = logging.getLogger(__name__)

READOUT_SOURCES = tuple(n for n in CHAIN_SOURCES if n not in ("trigger_chain_top.v", "trigger_central_board.v"))
CENTRAL_SOURCES = ("trigger_central_board.v", "trigger_score.v", "trigger_record_mux.v", "trigger_fifo.v",
                   "trigger_or_tree.v", "trigger_xor_parts.v")
READOUT_PARAMETERS = ("N_BEFORE", "N_AFTER", "CLIP")
CENTRAL_PARAMETERS = ("N_BEFORE", "N_AFTER", "CLIP", "NN_LATENCY", "NN_OUT_W", "NN_OUT_SIGNED")
VERSION = "boards-v3"  # v2: combinational submodules add their depth (timing.logic_depth); v3: names
INCLUDES = ("trigger_crc8.vh",)  # the frames' CRC-8, included by both boards


def _cache_root() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "lst-nn-trigger" / "yosys-boards"


def readout_board_to_estimate(hdl_dir: Path | None = None) -> int:
    """The readout board with the most modules (then groups): the one whose figure a readout device must hold."""
    text = ((Path(hdl_dir) if hdl_dir else HDL_DIR) / BOARDS_SOURCE).read_text()
    sizes = [(int(n), int(g), int(b)) for b, g, n in
             re.findall(r"^// Board (\d+): (\d+) groups, (\d+) modules", text, re.M)]
    if not sizes:
        raise RuntimeError(f"{BOARDS_SOURCE}: no board found (regenerate it: python -m trigger.hardware.partition_rtl)")
    return max(sizes)[2]


def board_key(parameters: dict, part: str, hdl_dir: Path | None = None) -> str:
    """Cache key: the boards' sources and generated tables, the parameters that shape them, the part."""
    from .synth import yosys_family

    hdl_dir = Path(hdl_dir) if hdl_dir else HDL_DIR
    digest = hashlib.sha256()
    for name in sorted({*READOUT_SOURCES, *CENTRAL_SOURCES, PARTITION_HEADER, *INCLUDES}):
        digest.update((hdl_dir / name).read_bytes())
    used = {k: int(parameters[k]) for k in sorted(set(READOUT_PARAMETERS) | set(CENTRAL_PARAMETERS))
            if k in parameters}
    digest.update(json.dumps([used, yosys_family(part), VERSION], sort_keys=True).encode())
    return digest.hexdigest()[:24]


def cached_board_estimate(parameters: dict, part: str, hdl_dir: Path | None = None) -> dict | None:
    """The cached estimate for these parameters and part, or None (nothing is synthesized here)."""
    try:
        path = _cache_root() / board_key(parameters, part, hdl_dir) / "estimate.json"
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError, KeyError):
        return None


def _partition_parameters(hdl_dir: Path) -> dict:
    """``N_BOARDS`` and ``GROUP_ID_BITS`` of the generated partition header, as the chain top passes them on."""
    text = (hdl_dir / PARTITION_HEADER).read_text()
    return {k: int(re.search(rf"localparam integer {k} = (\d+);", text).group(1)) for k in ("N_BOARDS", "GROUP_ID_BITS")}


def write_board_sources(out_dir: Path, parameters: dict, hdl_dir: Path | None = None) -> dict:
    """Copy both boards' RTL into ``out_dir`` and say how each board is built for this trained trigger.

    Per board (``readout``: the one with the most modules,
    :func:`readout_board_to_estimate`; ``central``): its top, part
    (:data:`.links.READOUT_DEVICE`, :data:`.links.CENTRAL_DEVICE`), sources
    and parameters (``parameters`` as for :func:`estimate_boards`), and
    whether it needs the network core (the build's ``rtl/src``). Also written
    to ``out_dir/boards.json``; the build's Vivado scripts are made from it
    (:func:`.vendor.write_vendor_scripts`).
    """
    from lstcommon.files import dumps_json

    from .links import CENTRAL_DEVICE, READOUT_DEVICE

    hdl_dir = Path(hdl_dir) if hdl_dir else HDL_DIR
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in sorted({*READOUT_SOURCES, *CENTRAL_SOURCES, *INCLUDES, PARTITION_HEADER}):
        shutil.copy2(hdl_dir / name, out_dir / name)
    board = readout_board_to_estimate(hdl_dir)
    runs = {
        "readout": {"top": f"trigger_readout_board_{board}", "part": READOUT_DEVICE.part, "core": False,
                    "sources": [n for n in READOUT_SOURCES if n.endswith(".v")],
                    "parameters": {k: int(parameters[k]) for k in READOUT_PARAMETERS if k in parameters}},
        "central": {"top": "trigger_central_board", "part": CENTRAL_DEVICE.part, "core": True,
                    "sources": [n for n in CENTRAL_SOURCES if n.endswith(".v")],
                    "parameters": _partition_parameters(hdl_dir)
                    | {k: int(parameters[k]) for k in CENTRAL_PARAMETERS if k in parameters}},
    }
    info = {"dir": f"rtl/{out_dir.name}", "files": sorted([*(p.name for p in out_dir.iterdir()), "boards.json"]),
            "runs": runs}
    (out_dir / "boards.json").write_text(dumps_json(info))
    return info


def _base_name(module: str) -> str:
    """``$paramod$<hash>\\trigger_word_mux`` and ``$paramod\\trigger_or_tree\\W=...`` -> the module's name."""
    if module.startswith("$paramod\\"):
        return module.split("\\")[1]
    return module.rsplit("\\", 1)[-1].lstrip("\\")


def _synth_hierarchy(sources, top: str, part: str, work_dir: Path, parameters: dict | None, yosys: str | None,
                     include_files=(), blackboxes: str = "", timeout_s: float = 3600) -> dict:
    from .synth import find_yosys, summarize_cells, yosys_family
    from .timing import logic_depth, meets_budget

    work_dir = Path(work_dir)
    (work_dir / "src").mkdir(parents=True, exist_ok=True)
    names = []
    for s in sources:
        shutil.copy2(s, work_dir / "src" / Path(s).name)
        names.append(Path(s).name)
    if blackboxes:
        (work_dir / "src" / "blackboxes.v").write_text(blackboxes)
        names.append("blackboxes.v")
    for m in include_files:
        shutil.copy2(m, work_dir / Path(m).name)
    exe = find_yosys(yosys)
    family = yosys_family(part)
    chparam = "".join(f" -chparam {k} {v}" for k, v in (parameters or {}).items())
    script = "\n".join([
        "read_verilog -defer -I. " + " ".join(f"src/{n}" for n in names),
        f"hierarchy -top {top}{chparam}",
        f"synth_xilinx -top {top} -family {family} -noiopad -noclkbuf",
        "write_json netlist.json",
        f"tee -q -o stat.json stat -json -top {top}",
        "stat",
    ]) + "\n"
    (work_dir / "yosys.ys").write_text(script)
    try:
        proc = subprocess.run([exe, "-q", "-l", "yosys.log", "-s", "yosys.ys"], check=False, cwd=work_dir,
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        raise RuntimeError(f"yosys took longer than {timeout_s:.0f} s on {top}") from err
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout or "").strip().splitlines()[-10:]
        raise RuntimeError(f"yosys exited with {proc.returncode} on {top}:\n" + "\n".join(lines))
    stat = json.loads((work_dir / "stat.json").read_text())
    design = {c: int(n) for c, n in stat.get("design", {}).get("num_cells_by_type", {}).items()
              if not c.startswith("$")}
    netlist = json.loads((work_dir / "netlist.json").read_text())
    modules = {}
    for name, module in stat.get("modules", {}).items():
        base = _base_name(name)
        own = {c: int(n) for c, n in module.get("num_cells_by_type", {}).items() if not c.startswith("$")}
        key = name if name in netlist["modules"] else name.lstrip("\\")
        depth = logic_depth(netlist, key) if key in netlist["modules"] else None
        entry = summarize_cells(own) | {"logic_depth": depth,
                                        "meets_budget": None if depth is None else meets_budget(depth)}
        # a module synthesized for several parameter sets: keep its deepest instance
        if base not in modules or (depth and (modules[base]["logic_depth"] or {}).get("levels", -1) < depth["levels"]):
            modules[base] = entry
    (work_dir / "netlist.json").unlink()
    return summarize_cells(design) | {"cells": design, "modules": modules, "tool": exe}


def estimate_boards(parameters: dict, part: str, work_dir: Path, core_ports: dict | None = None,
                    hdl_dir: Path | None = None, yosys: str | None = None, board: int | None = None) -> dict:
    """yosys estimate of one readout board and of the central board (core as a black box), cached.

    ``parameters``: ``trigger_chain_top``'s (:func:`.partition_rtl.chain_parameters`:
    ``N_BEFORE``, ``N_AFTER``, ``CLIP``, ``NN_LATENCY``, ``NN_OUT_W``,
    ``NN_OUT_SIGNED``); ``core_ports``: widths of the core's ``model_inp`` and
    ``model_out`` (default from the parameters).
    """
    import time

    from lstcommon.files import atomic_folder, dumps_json

    from .synth import SOURCE, yosys_family
    from .top import core_stub

    hdl_dir = Path(hdl_dir) if hdl_dir else HDL_DIR
    key = board_key(parameters, part, hdl_dir)
    cached = _cache_root() / key
    if (cached / "estimate.json").is_file():
        log.info("boards: estimate from the cache %s", cached)
        return json.loads((cached / "estimate.json").read_text()) | {"cached": str(cached)}
    board = readout_board_to_estimate(hdl_dir) if board is None else board
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    out = {"part": part, "parameters": {k: int(v) for k, v in parameters.items()},
           "source": f"{SOURCE} of the board RTL (-family {yosys_family(part)}, hierarchy kept, no place and route)"}
    t0 = time.perf_counter()
    readout_params = {k: int(parameters[k]) for k in READOUT_PARAMETERS if k in parameters}
    readout = _synth_hierarchy([hdl_dir / n for n in READOUT_SOURCES], f"trigger_readout_board_{board}", part,
                               work_dir / "readout", readout_params, yosys,
                               include_files=[hdl_dir / n for n in (*INCLUDES, PARTITION_HEADER)])
    out["readout"] = readout | {"board": board, "top": f"trigger_readout_board_{board}",
                                "wall_s": round(time.perf_counter() - t0, 1)}
    t1 = time.perf_counter()
    ports = core_ports or {"model_inp": 3 * (int(parameters.get("N_BEFORE", 10)) + int(parameters.get("N_AFTER", 6)))
                           * 8, "model_out": int(parameters.get("NN_OUT_W", 23))}
    central_dir = work_dir / "central"
    central_dir.mkdir(parents=True, exist_ok=True)
    # parameters into the copy's defaults: yosys 0.70 fails an assertion when a -chparam top is re-derived
    # after its black boxes are (trigger.hardware.top.estimate_top_logic)
    central_params = {k: int(parameters[k]) for k in CENTRAL_PARAMETERS if k in parameters}
    copy = central_dir / "trigger_central_board.v"
    copy.write_text(with_defaults((hdl_dir / "trigger_central_board.v").read_text(), central_params))
    central = _synth_hierarchy([copy, *(hdl_dir / n for n in CENTRAL_SOURCES[1:])], "trigger_central_board", part,
                               central_dir, None, yosys, include_files=[hdl_dir / n for n in INCLUDES],
                               blackboxes=core_stub({"top": "trigger_nn", "ports": ports}))
    out["central"] = central | {"top": "trigger_central_board", "core": "black box (see resources_core)",
                                "wall_s": round(time.perf_counter() - t1, 1)}
    (work_dir / "estimate.json").write_text(dumps_json(out))
    try:
        with atomic_folder(cached, overwrite=True) as tmp:
            shutil.copy2(work_dir / "estimate.json", Path(tmp) / "estimate.json")
    except OSError as err:
        log.warning("boards: could not cache the estimate in %s: %s", cached, err)
    return out
