"""Logic depth between registers (trigger.hardware.timing) on small netlists in yosys' JSON form."""

import pytest

from trigger.hardware.timing import logic_depth, meets_budget


def cell(ctype, inputs, outputs):
    conns = {**{p: b for p, b in inputs.items()}, **{p: b for p, b in outputs.items()}}
    dirs = {**dict.fromkeys(inputs, "input"), **dict.fromkeys(outputs, "output")}
    return {"type": ctype, "connections": conns, "port_directions": dirs}


def netlist(cells, ports=None):
    return {"modules": {"m": {"ports": ports or {}, "cells": cells}}}


def test_registers_cut_paths_and_a_carry_chain_counts_once():
    # FF -> LUT -> CARRY -> CARRY -> LUT -> FF, and a loop through the FF (a counter)
    cells = {
        "q": cell("FDRE", {"D": [10], "C": [1], "CE": ["1"]}, {"Q": [2]}),
        "l1": cell("LUT2", {"I0": [2], "I1": [3]}, {"O": [4]}),
        "c1": cell("CARRY4", {"S": [4], "CI": ["0"]}, {"CO": [5]}),
        "c2": cell("CARRY4", {"S": [3], "CI": [5]}, {"CO": [6]}),
        "l2": cell("LUT3", {"I0": [6], "I1": [2], "I2": [3]}, {"O": [10]}),
    }
    depth = logic_depth(netlist(cells, {"a": {"direction": "input", "bits": [3]}}), "m")
    assert (depth["lut"], depth["carry_chains"], depth["levels"]) == (2, 1, 3)
    assert depth["path"] == ["LUT2", "CARRY4", "CARRY4", "LUT3"]
    assert meets_budget(depth)


def test_two_chains_and_deep_luts_break_the_budget_and_inverters_are_free():
    cells = {"i": cell("INV", {"I": [1]}, {"O": [2]})}
    bit = 2
    for k, ctype in enumerate(["LUT6", "CARRY8", "LUT2", "CARRY8", "LUT6", "LUT6", "LUT6"]):
        port = "S" if ctype.startswith("CARRY") else "I0"
        out = "CO" if ctype.startswith("CARRY") else "O"
        cells[f"c{k}"] = cell(ctype, {port: [bit]}, {out: [bit + 1]})
        bit += 1
    depth = logic_depth(netlist(cells, {"a": {"direction": "input", "bits": [1]},
                                        "y": {"direction": "output", "bits": [bit]}}), "m")
    assert (depth["lut"], depth["carry_chains"]) == (5, 2) and "INV" not in depth["path"]
    assert not meets_budget(depth)


def test_lut_ram_read_is_a_level_its_write_a_register():
    cells = {
        "r": cell("RAM32M16", {"ADDRA": [1], "DIA": [2], "WE": [3], "ADDRH": [4]}, {"DOA": [5]}),
        "l": cell("LUT6", {"I0": [5]}, {"O": [6]}),
        "f": cell("FDRE", {"D": [6]}, {"Q": [2]}),
    }
    depth = logic_depth(netlist(cells, {"a": {"direction": "input", "bits": [1, 3, 4]}}), "m")
    assert depth["lut"] == 2 and depth["path"] == ["RAM32M16", "LUT6"]


def test_a_combinational_loop_is_an_error():
    cells = {"a": cell("LUT2", {"I0": [1]}, {"O": [2]}), "b": cell("LUT2", {"I0": [2]}, {"O": [1]})}
    with pytest.raises(ValueError, match="combinational loop"):
        logic_depth(netlist(cells, {"y": {"direction": "output", "bits": [2]}}), "m")


def test_a_submodule_without_registers_adds_its_depth_one_with_registers_cuts():
    # m: FF -> tree (2 LUTs inside, no register) -> LUT -> FF; and FF -> reg_sub (has a register) -> LUT -> FF
    tree = {"ports": {"x": {"direction": "input", "bits": [1]}, "y": {"direction": "output", "bits": [3]}},
            "cells": {"a": cell("LUT6", {"I0": [1]}, {"O": [2]}), "b": cell("LUT6", {"I0": [2]}, {"O": [3]})}}
    reg_sub = {"ports": {"x": {"direction": "input", "bits": [1]}, "y": {"direction": "output", "bits": [3]}},
               "cells": {"a": cell("LUT6", {"I0": [1]}, {"O": [2]}), "r": cell("FDRE", {"D": [2]}, {"Q": [3]}),
                         "b": cell("LUT6", {"I0": [3]}, {"O": [4]})}}
    top = {"ports": {}, "cells": {
        "q": cell("FDRE", {"D": [20]}, {"Q": [10]}),
        "t": cell("tree", {"x": [10]}, {"y": [11]}),
        "l": cell("LUT3", {"I0": [11]}, {"O": [12]}),
        "q2": cell("FDRE", {"D": [12]}, {"Q": [20]}),
        "s": cell("reg_sub", {"x": [10]}, {"y": [13]}),
        "l2": cell("LUT2", {"I0": [13]}, {"O": [14]}),
        "q3": cell("FDRE", {"D": [14]}, {"Q": [15]}),
    }}
    depth = logic_depth({"modules": {"m": top, "tree": tree, "reg_sub": reg_sub}}, "m")
    assert (depth["lut"], depth["carry_chains"]) == (3, 0) and depth["path"] == ["tree", "LUT3"]
    # the submodule's own paths are measured on it
    assert logic_depth({"modules": {"tree": tree}}, "tree")["from_inputs"] == {"lut": 2, "carry_chains": 0}
