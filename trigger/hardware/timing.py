"""Logic depth between registers of a yosys ``synth_xilinx`` netlist: the timing check of ``trigger-synth build``.

yosys' own ``ltp -noff`` does not cut at the Xilinx flip-flop cells
(``FDRE`` ...) that ``synth_xilinx`` leaves, so it walks around every
register loop; this walks the netlist that ``write_json`` writes instead,
from register outputs and module inputs to register inputs and module
outputs, and counts what lies between:

- ``lut``: LUT1..LUT6 and the asynchronous read of a LUT-RAM (one LUT level each);
- ``carry_chains``: runs of CARRY4/CARRY8 cells (a chain of any length is one);
- ``muxf``: MUXF7/F8/F9 (the slice's wide multiplexers behind LUTs).

``INV`` cells are not counted: Vivado folds them into the LUT or flip-flop
they feed. A submodule without registers (``trigger_or_tree``,
``trigger_at_most``: wide ORs and counts kept apart so that yosys maps them
as trees) counts as its deepest path from its inputs to its outputs. Black
boxes (the network core, the parts of the top estimated on their own),
submodules with registers, and block RAM, DSP, SRL cells are treated as
registered on both sides, so a path that crosses a part boundary is the sum
of its parts.

At 250 MHz on UltraScale+ (-2), 4 ns hold about 4 LUT levels plus one carry
chain with routing: :data:`MAX_LUT_LEVELS`, :data:`MAX_CARRY_CHAINS`.
"""

import json
import re
from pathlib import Path

__all__ = ["MAX_CARRY_CHAINS", "MAX_LUT_LEVELS", "logic_depth", "meets_budget"]

MAX_LUT_LEVELS = 4
MAX_CARRY_CHAINS = 1

_LUT = re.compile(r"^LUT[1-6]$")
_CARRY = re.compile(r"^CARRY(4|8)$")
_MUXF = re.compile(r"^MUXF[789]$")
_LUTRAM = re.compile(r"^(RAM\d+X\d+[SDQ]|RAM\d+M\d*)$")
_PASS = {"INV", "BUFG", "IBUF", "OBUF"}


def _sequential(cell_type: str) -> bool:
    """Cells whose outputs start and whose inputs end a path (registers, block RAM, DSP, SRL, black boxes)."""
    if _LUT.match(cell_type) or _CARRY.match(cell_type) or _MUXF.match(cell_type) or _LUTRAM.match(cell_type):
        return False
    if cell_type in _PASS:
        return False
    return True  # FD*, RAMB*, DSP48*, SRL*, and any cell type yosys did not map (a black box)


def _weight(cell_type: str) -> tuple[int, int]:
    if _LUT.match(cell_type) or _LUTRAM.match(cell_type):
        return 1, 0
    if _MUXF.match(cell_type):
        return 0, 1
    return 0, 0


def _combinational_submodules(modules: dict) -> dict:
    """``{module: (lut, carry_chains)}`` of the netlist's modules with no register inside (their deepest
    input-to-output path), for the paths of the modules that instantiate them."""
    out, seen = {}, set()

    def visit(name):
        if name in seen:
            return out.get(name)
        seen.add(name)
        module = modules.get(name)
        if not module or module.get("attributes", {}).get("blackbox") or not module.get("cells"):
            return None
        for cell in module["cells"].values():
            ctype = cell["type"]
            if _sequential(ctype) and (ctype not in modules or visit(ctype) is None):
                return None
        depth = _logic_depth(modules, name, False, out)["from_inputs"]
        out[name] = (depth["lut"], depth["carry_chains"]) if depth else (0, 0)
        return out[name]

    for name in modules:
        visit(name)
    return out


def logic_depth(netlist, top: str, names: bool = False) -> dict:
    """The deepest register-to-register path of module ``top`` in a yosys JSON netlist (a path or a dict).

    Returns ``{"lut": L, "carry_chains": C, "muxf": M, "levels": L + C, "path": [cell types]}``
    for the path with the most ``levels`` (LUT levels plus carry chains; ties
    broken by LUT levels). LUT-RAM write ports (address, data, enable) end
    paths; their read ports are one LUT level. ``names``: also the cells of
    the path (``path_cells``, yosys' names), to find it in the RTL.
    """
    data = json.loads(Path(netlist).read_text()) if not isinstance(netlist, dict) else netlist
    modules = data["modules"]
    return _logic_depth(modules, top, names, _combinational_submodules(modules))


def _logic_depth(modules: dict, top: str, names: bool, combinational: dict) -> dict:
    module = modules.get(top) or modules.get(f"\\{top}")
    if module is None:
        raise ValueError(f"module {top} not in the netlist ({', '.join(sorted(modules)[:5])} ...)")
    cells = module.get("cells", {})
    driver = {}  # bit -> (cell name, output port)
    for name, cell in cells.items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell.get("connections", {}).items():
            for b in bits:
                if isinstance(b, str):
                    continue  # constant
                if dirs.get(port) == "output":
                    driver[b] = name
    input_bits = {b for port in module.get("ports", {}).values() if port.get("direction") == "input"
                  for b in port.get("bits", []) if not isinstance(b, str)}
    zero = (0, 0, 0, 0, ())

    def is_lutram_read(cell_type, port):
        # RAM32M16 & co.: address ADDRx of the read ports and DIx/WE are synchronous; the read is asynchronous
        return _LUTRAM.match(cell_type) and port.startswith("ADDR") and not port.startswith("ADDRH")

    def depth_from(inputs_only: bool):
        """Depth at a net bit (levels, lut, chains, muxf, path); None for a bit no counted path reaches."""
        memo = {}

        def arrival(bit, stack):
            name = driver.get(bit)
            if name is None:  # a module input or a constant
                return zero if (bit in input_bits or not inputs_only) else None
            cell = cells[name]
            ctype = cell["type"]
            sub = combinational.get(ctype)
            if sub is None and _sequential(ctype):
                return None if inputs_only else zero
            if name in memo:
                return memo[name]
            if name in stack:
                raise ValueError(f"combinational loop through {name} ({ctype}) in {top}")
            stack.add(name)
            best = None
            dirs = cell.get("port_directions", {})
            for port, bits in cell.get("connections", {}).items():
                if dirs.get(port) == "output":
                    continue
                if _LUTRAM.match(ctype) and not is_lutram_read(ctype, port):
                    continue  # write data / enable / write address: a register, no path through
                for b in bits:
                    if isinstance(b, str):
                        continue
                    a = arrival(b, stack)
                    if a is None:
                        continue
                    if _CARRY.match(ctype):
                        # a chain is one carry chain however long: entering it from elsewhere starts one
                        from_carry = driver.get(b) is not None and _CARRY.match(cells[driver[b]]["type"])
                        a = (a[0] + (0 if from_carry else 1), a[1], a[2] + (0 if from_carry else 1), a[3], a[4])
                    if best is None or (a[0], a[1]) > (best[0], best[1]):
                        best = a
            result = None
            if best is not None and sub is not None:  # a combinational submodule: its own deepest path
                result = (best[0] + sub[0] + sub[1], best[1] + sub[0], best[2] + sub[1], best[3],
                          best[4] + ((ctype, name),))
            elif best is not None:
                lut, mux = _weight(ctype)
                result = (best[0] + lut, best[1] + lut, best[2], best[3] + mux, best[4] + ((ctype, name),))
            stack.discard(name)
            memo[name] = result
            return result

        return arrival

    def worst_of(bits, arrival):
        worst = None
        for b in bits:
            a = arrival(b, set())
            if a is not None and (worst is None or (a[0], a[1]) > (worst[0], worst[1])):
                worst = a
        return worst

    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 100_000))
    try:
        outputs = [b for port in module.get("ports", {}).values() if port.get("direction") == "output"
                   for b in port.get("bits", []) if not isinstance(b, str)]
        ends = list(outputs)
        for cell in cells.values():
            ctype = cell["type"]
            dirs = cell.get("port_directions", {})
            for port, bits in cell.get("connections", {}).items():
                if dirs.get(port) == "output":
                    continue
                if _sequential(ctype) or (_LUTRAM.match(ctype) and not is_lutram_read(ctype, port)):
                    ends += [b for b in bits if not isinstance(b, str)]
        every = depth_from(False)
        worst = worst_of(ends, every) or zero
        to_outputs = worst_of(outputs, every)
        from_inputs = worst_of(ends, depth_from(True))
    finally:
        sys.setrecursionlimit(limit)

    def brief(d):
        return None if d is None else {"lut": d[1], "carry_chains": d[2]}

    levels, lut, chains, muxf, path = worst
    return {"levels": levels, "lut": lut, "carry_chains": chains, "muxf": muxf,
            "path": [t for t, _ in path if t not in _PASS],
            **({"path_cells": [n for t, n in path if t not in _PASS]} if names else {}),
            # for paths that cross into a neighbouring part: from this part's inputs, to its outputs
            "from_inputs": brief(from_inputs), "to_outputs": brief(to_outputs)}


def meets_budget(depth: dict) -> bool:
    """At most :data:`MAX_LUT_LEVELS` LUT levels plus :data:`MAX_CARRY_CHAINS` carry chain(s)."""
    return depth["lut"] <= MAX_LUT_LEVELS and depth["carry_chains"] <= MAX_CARRY_CHAINS
