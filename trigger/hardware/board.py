"""The board build: Vivado tcl that packages the board wrapper as an IP and makes a PYNQ overlay of it.

``trigger-synth build ... --board zcu104`` writes ``board/`` beside
``rtl/``: the wrapper ``hdl/trigger_board_top.v`` (AXI DMA packing of the
top's 8480-bit beats, see its header), ``build_board.tcl`` and
``board.json``. The tcl (run by ``make bitstream`` or ``vivado -mode batch
-source board/build_board.tcl``; never run here) packages the wrapper with
the top and the network core as the IP ``VLNV``, builds a block design
(Zynq UltraScale+ PS with the board preset, AXI DMA to and from the
trigger's streams, SmartConnects, AXI-Lite to its registers, ``pl_clk0`` at
the build's clock, a processor reset), validates it, implements it and
copies ``trigger_board.bit`` and ``trigger_board.hwh`` side by side into
``board/overlay/``, as PYNQ wants them.

Before the tcl is written, every pin, bus interface and parameter it names
on the trigger is checked against the wrapper's Verilog
(:func:`check_tcl_names`), so a renamed port fails the build here rather
than an hour into Vivado.
"""

import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from lstcommon.files import dumps_json

from .top import HDL_DIR

__all__ = ["BOARDS", "BOARD_TOP", "VLNV", "BoardSpec", "board_spec", "check_tcl_names", "verilog_interface",
           "write_board_project"]

BOARD_TOP = "trigger_board_top"
BOARD_SOURCE = "trigger_board_top.v"
VLNV = "cta-lst:trigger:trigger_board_top:1.0"  # trigger.deploy.driver binds to it
CELL = "trigger_board_top_0"
DEFAULT_DMA_WIDTH = 128
DEFAULT_PACKET = 256
LENGTH_WIDTH = 26  # AXI DMA buffer length register: transfers up to 64 MiB


@dataclass(frozen=True)
class BoardSpec:
    name: str
    part: str
    board_part: str
    note: str = ""


# Boards as Vivado knows them (board files: Vivado's own or the vendor's board store).
BOARDS = {
    "zcu104": BoardSpec("zcu104", "xczu7ev-ffvc1156-2-e", "xilinx.com:zcu104:part0:1.1", "default target"),
    "zcu102": BoardSpec("zcu102", "xczu9eg-ffvb1156-2-e", "xilinx.com:zcu102:part0:3.4"),
    "zcu106": BoardSpec("zcu106", "xczu7ev-ffvc1156-2-e", "xilinx.com:zcu106:part0:2.6"),
    "kv260": BoardSpec("kv260", "xck26-sfvc784-2lv-c", "xilinx.com:kv260_som:part0:1.4"),
    "ultra96v2": BoardSpec("ultra96v2", "xczu3eg-sbva484-1-i", "avnet.com:ultra96v2:part0:1.2"),
}


def board_spec(board: str) -> BoardSpec:
    """The board called ``board`` (case-insensitive); a ``ValueError`` lists those known."""
    key = str(board).strip().lower()
    if key not in BOARDS:
        raise ValueError(f"unknown board {board!r}; known boards: {', '.join(sorted(BOARDS))} "
                         "(add one to trigger.hardware.board.BOARDS: name, part, Vivado board_part)")
    return BOARDS[key]


_PORT = re.compile(r"^\s*(input|output|inout)\s+(?:wire|reg)?\s*(?:\[[^\]]+\]\s*)?(\w+)\s*,?\s*(?://.*)?$")
_PARAM = re.compile(r"^\s*parameter\s+(?:integer\s+|\[[^\]]+\]\s*)?(\w+)\s*=")


def verilog_interface(path: Path, module: str = BOARD_TOP) -> dict:
    """Ports and parameters of ``module`` in a Verilog-2005 file with an ANSI header (one port per line)."""
    text = Path(path).read_text()
    match = re.search(rf"\bmodule\s+{module}\b(.*?)\);", text, re.S)
    if not match:
        raise ValueError(f"module {module} not found in {path}")
    ports, params = {}, []
    for line in match.group(1).splitlines():
        if m := _PORT.match(line):
            ports[m.group(2)] = m.group(1)
        elif m := _PARAM.match(line):
            params.append(m.group(1))
    return {"ports": ports, "parameters": params}


def interfaces(ports) -> set:
    """AXI bus interfaces Vivado infers from port names (``<bus>_tdata``, ``<bus>_awaddr`` ...)."""
    buses = set()
    for name in ports:
        if m := re.match(r"(\w+?)_(tdata|awaddr|araddr)$", name):
            buses.add(m.group(1))
    return buses


def check_tcl_names(tcl: str, wrapper: Path) -> list[str]:
    """Names the tcl uses on the trigger (pins, bus interfaces, parameters) that the wrapper lacks."""
    iface = verilog_interface(wrapper)
    ports, params = set(iface["ports"]), set(iface["parameters"])
    buses = interfaces(ports)
    bad = []
    for kind, name in re.findall(r"get_bd_(intf_pins|pins)\s+\$trigger/(\w+)", tcl) + \
            re.findall(rf"get_bd_(intf_pins|pins)\s+{CELL}/(\w+)", tcl):
        known = buses if kind == "intf_pins" else ports
        if name not in known:
            bad.append(f"{'interface' if kind == 'intf_pins' else 'pin'} {name}")
    for name in re.findall(r"-busif\s+(\w+)", tcl) + re.findall(r"ipx::get_bus_interfaces\s+(\w+)", tcl):
        if name not in buses and name not in ports:
            bad.append(f"bus interface {name}")
    for name in re.findall(r"-clock\s+(\w+)", tcl):
        if name not in ports:
            bad.append(f"clock {name}")
    for block in re.findall(r"set_property\s+-dict\s+\[list\s+([^\[\]]*)\]\s+\[get_bd_cells\s+\$trigger\]", tcl):
        for name in re.findall(r"CONFIG\.(\w+)", block):
            if name not in params:
                bad.append(f"parameter {name}")
    for name in re.findall(r"(\w+)=", (re.search(r"set generics \{([^}]*)\}", tcl) or [None, ""])[1]):
        if name not in params:
            bad.append(f"parameter {name}")
    return bad


def write_board_project(out_dir: Path, board: str, part: str, clock_mhz: float, core_params: dict,
                        dma_width: int = DEFAULT_DMA_WIDTH, packet: int = DEFAULT_PACKET) -> dict:
    """``board/`` of a build: the wrapper, ``build_board.tcl`` (checked against the wrapper), ``board.json``."""
    spec = board_spec(board)
    if part.lower() != spec.part:
        raise ValueError(f"board {spec.name} carries {spec.part}, but the build is for {part}; "
                         f"build with --part {spec.part} or choose another board")
    from ..deploy.packing import BoardFormat

    fmt = BoardFormat(dma_width, packet)  # the same checks as the driver's
    out_dir = Path(out_dir)
    (out_dir / "hdl").mkdir(parents=True, exist_ok=True)
    wrapper = out_dir / "hdl" / BOARD_SOURCE
    shutil.copy2(HDL_DIR / BOARD_SOURCE, wrapper)
    generics = core_params | {"DMA_W": fmt.dma_width, "PACKET": fmt.packet}
    tcl = BOARD_TCL.format(
        board=spec.name, part=spec.part, board_part=spec.board_part, clock_mhz=f"{clock_mhz:g}", top=BOARD_TOP,
        cell=CELL, vendor=VLNV.split(":")[0], library=VLNV.split(":")[1], version=VLNV.split(":")[3],
        generics=" ".join(f"{k}={v}" for k, v in generics.items()),
        config=" ".join(f"CONFIG.{k} {{{v}}}" for k, v in generics.items()),
        dma_width=fmt.dma_width, s2mm_width=128, length_width=LENGTH_WIDTH,
    )
    bad = check_tcl_names(tcl, wrapper)
    if bad:
        raise RuntimeError(f"the board tcl names what {BOARD_SOURCE} does not have: {', '.join(bad)}")
    (out_dir / "build_board.tcl").write_text(tcl)
    info = {"board": asdict(spec), "vlnv": VLNV, "top": BOARD_TOP, "cell": CELL, "dma_width": fmt.dma_width,
            "packet": fmt.packet, "words_per_beat": fmt.words_per_beat, "beat_bytes": fmt.beat_bytes,
            "dma_length_width": LENGTH_WIDTH, "clock_mhz": clock_mhz, "parameters": generics,
            "tcl": "board/build_board.tcl", "overlay": "board/overlay/trigger_board.bit (+ .hwh)",
            "run": "make bitstream BUILD=<this build>  or  vivado -mode batch -source board/build_board.tcl"}
    (out_dir / "board.json").write_text(dumps_json(info))
    return info


BOARD_TCL = """\
# PYNQ overlay of the LST trigger for the {board} ({part}), written by
# `trigger-synth build --board {board}`; needs AMD Vivado (2022.2 or later):
#     vivado -mode batch -source board/build_board.tcl
# (or `make bitstream BUILD=<build folder>`). Steps: package
# {top} (board/hdl) with the trigger top (rtl/hdl) and the network core
# (rtl/src) as the IP {vendor}:{library}:{top}:{version}; block design
# with the Zynq UltraScale+ PS (board preset), AXI DMA (MM2S -> s_axis,
# m_axis -> S2MM), SmartConnects, AXI-Lite to the registers, pl_clk0 at
# {clock_mhz} MHz and a processor reset; implementation; then
# board/overlay/trigger_board.bit and .hwh side by side (what pynq.Overlay loads).
set here [file normalize [file dirname [info script]]]
set build [file normalize [file join $here ..]]
set part {{{part}}}
set board_part {{{board_part}}}
set clock_mhz {clock_mhz}
set trigger {cell}
set generics {{{generics}}}
set ip_dir [file join $here ip]
set proj_dir [file join $here vivado]
set out_dir [file join $here overlay]

proc trigger_sources {{build here}} {{
    set files [concat [glob [file join $here hdl *.v]] [glob [file join $build rtl hdl *.v]] \\
        [glob [file join $build rtl src trigger_nn*.v]] [glob -nocomplain [file join $build rtl src static *.v]]]
    # da4ml writes an optional wrapper of the core that the top does not use
    return [lsearch -all -inline -not -glob $files *_wrapper.v]
}}

proc package_ip {{}} {{
    global here build part ip_dir generics
    create_project -force trigger_ip [file join $here ip_project] -part $part
    add_files -norecurse [trigger_sources $build $here]
    add_files -norecurse [file join $build rtl hdl trigger_groups.vh]
    set_property file_type {{Verilog Header}} [get_files trigger_groups.vh]
    set_property include_dirs [list [file join $build rtl hdl]] [current_fileset]
    set_property top {top} [current_fileset]
    set_property generic $generics [current_fileset]
    update_compile_order -fileset sources_1
    ipx::package_project -root_dir $ip_dir -vendor {vendor} -library {library} -taxonomy /UserIP \\
        -import_files -set_current true
    set core [ipx::current_core]
    set_property name {top} $core
    set_property version {version} $core
    set_property display_name {{LST trigger (board wrapper)}} $core
    set_property supported_families {{zynquplus Production}} $core
    ipx::infer_bus_interfaces xilinx.com:interface:axis_rtl:1.0 $core
    ipx::infer_bus_interfaces xilinx.com:interface:aximm_rtl:1.0 $core
    ipx::associate_bus_interfaces -busif s_axis -clock aclk $core
    ipx::associate_bus_interfaces -busif m_axis -clock aclk $core
    ipx::associate_bus_interfaces -busif s_axil -clock aclk $core
    set_property value ACTIVE_LOW [ipx::get_bus_parameters POLARITY -of_objects \\
        [ipx::get_bus_interfaces aresetn -of_objects $core]]
    ipx::create_xgui_files $core
    ipx::update_checksums $core
    ipx::check_integrity $core
    ipx::save_core $core
    close_project
}}

proc block_design {{}} {{
    global here proj_dir part board_part clock_mhz ip_dir trigger
    create_project -force trigger_board $proj_dir -part $part
    if {{[llength [get_board_parts -quiet $board_part]] > 0}} {{
        set_property board_part $board_part [current_project]
    }} else {{
        puts "trigger-synth: board files for $board_part not installed; using the part alone"
    }}
    set_property ip_repo_paths [list $ip_dir] [current_project]
    update_ip_catalog
    create_bd_design trigger_board

    create_bd_cell -type ip -vlnv xilinx.com:ip:zynq_ultra_ps_e zynq_ultra_ps_e_0
    apply_bd_automation -rule xilinx.com:bd_rule:zynq_ultra_ps_e -config {{apply_board_preset 1}} \\
        [get_bd_cells zynq_ultra_ps_e_0]
    set_property -dict [list CONFIG.PSU__USE__M_AXI_GP0 {{1}} CONFIG.PSU__USE__M_AXI_GP1 {{0}} \\
        CONFIG.PSU__USE__S_AXI_GP2 {{1}} CONFIG.PSU__SAXIGP2__DATA_WIDTH {{128}} \\
        CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $clock_mhz] [get_bd_cells zynq_ultra_ps_e_0]

    create_bd_cell -type ip -vlnv {vendor}:{library}:{top}:{version} $trigger
    set_property -dict [list {config}] [get_bd_cells $trigger]

    create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma axi_dma_0
    set_property -dict [list CONFIG.c_include_sg {{0}} CONFIG.c_sg_length_width {{{length_width}}} \\
        CONFIG.c_addr_width {{64}} CONFIG.c_m_axis_mm2s_tdata_width {{{dma_width}}} \\
        CONFIG.c_m_axi_mm2s_data_width {{{dma_width}}} CONFIG.c_m_axi_s2mm_data_width {{{s2mm_width}}} \\
        CONFIG.c_mm2s_burst_size {{64}} CONFIG.c_s2mm_burst_size {{64}}] [get_bd_cells axi_dma_0]

    create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect smartconnect_ctrl
    set_property -dict [list CONFIG.NUM_SI {{1}} CONFIG.NUM_MI {{2}}] [get_bd_cells smartconnect_ctrl]
    create_bd_cell -type ip -vlnv xilinx.com:ip:smartconnect smartconnect_mem
    set_property -dict [list CONFIG.NUM_SI {{2}} CONFIG.NUM_MI {{1}}] [get_bd_cells smartconnect_mem]
    create_bd_cell -type ip -vlnv xilinx.com:ip:proc_sys_reset proc_sys_reset_0

    # control: PS -> registers of the trigger and of the DMA
    connect_bd_intf_net [get_bd_intf_pins zynq_ultra_ps_e_0/M_AXI_HPM0_FPD] [get_bd_intf_pins smartconnect_ctrl/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins smartconnect_ctrl/M00_AXI] [get_bd_intf_pins $trigger/s_axil]
    connect_bd_intf_net [get_bd_intf_pins smartconnect_ctrl/M01_AXI] [get_bd_intf_pins axi_dma_0/S_AXI_LITE]
    # data: memory -> DMA -> trigger -> DMA -> memory
    connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXIS_MM2S] [get_bd_intf_pins $trigger/s_axis]
    connect_bd_intf_net [get_bd_intf_pins $trigger/m_axis] [get_bd_intf_pins axi_dma_0/S_AXIS_S2MM]
    connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXI_MM2S] [get_bd_intf_pins smartconnect_mem/S00_AXI]
    connect_bd_intf_net [get_bd_intf_pins axi_dma_0/M_AXI_S2MM] [get_bd_intf_pins smartconnect_mem/S01_AXI]
    connect_bd_intf_net [get_bd_intf_pins smartconnect_mem/M00_AXI] [get_bd_intf_pins zynq_ultra_ps_e_0/S_AXI_HP0_FPD]

    # one clock (pl_clk0) and one reset for the whole PL
    set clk [get_bd_pins zynq_ultra_ps_e_0/pl_clk0]
    foreach pin [list zynq_ultra_ps_e_0/maxihpm0_fpd_aclk zynq_ultra_ps_e_0/saxihp0_fpd_aclk \\
                 axi_dma_0/s_axi_lite_aclk axi_dma_0/m_axi_mm2s_aclk axi_dma_0/m_axi_s2mm_aclk \\
                 smartconnect_ctrl/aclk smartconnect_mem/aclk proc_sys_reset_0/slowest_sync_clk] {{
        connect_bd_net $clk [get_bd_pins $pin]
    }}
    connect_bd_net $clk [get_bd_pins $trigger/aclk]
    connect_bd_net [get_bd_pins zynq_ultra_ps_e_0/pl_resetn0] [get_bd_pins proc_sys_reset_0/ext_reset_in]
    set rstn [get_bd_pins proc_sys_reset_0/peripheral_aresetn]
    foreach pin [list axi_dma_0/axi_resetn smartconnect_ctrl/aresetn smartconnect_mem/aresetn] {{
        connect_bd_net $rstn [get_bd_pins $pin]
    }}
    connect_bd_net $rstn [get_bd_pins $trigger/aresetn]

    assign_bd_address
    validate_bd_design
    save_bd_design
    set wrapper [make_wrapper -files [get_files trigger_board.bd] -top]
    add_files -norecurse $wrapper
    set_property top trigger_board_wrapper [current_fileset]
    update_compile_order -fileset sources_1
}}

proc implement {{}} {{
    launch_runs impl_1 -to_step write_bitstream -jobs 4
    wait_on_run impl_1
    if {{[get_property PROGRESS [get_runs impl_1]] ne "100%"}} {{
        error "trigger-synth: implementation did not finish (see the impl_1 run log)"
    }}
}}

proc export_overlay {{}} {{
    global proj_dir out_dir
    file mkdir $out_dir
    set bit [lindex [glob -nocomplain [file join $proj_dir trigger_board.runs impl_1 *.bit]] 0]
    set hwh [lindex [glob -nocomplain [file join $proj_dir trigger_board.gen sources_1 bd trigger_board hw_handoff \\
        trigger_board.hwh] [file join $proj_dir trigger_board.srcs sources_1 bd trigger_board hw_handoff \\
        trigger_board.hwh]] 0]
    if {{$bit eq "" || $hwh eq ""}} {{
        error "trigger-synth: bitstream or hardware handoff not found under $proj_dir"
    }}
    file copy -force $bit [file join $out_dir trigger_board.bit]
    file copy -force $hwh [file join $out_dir trigger_board.hwh]
    puts "trigger-synth: overlay in $out_dir (trigger_board.bit, trigger_board.hwh)"
}}

# a dry run (tests: tclsh with the Vivado commands stubbed) sources the procs only
if {{![info exists trigger_board_dry_run]}} {{
    package_ip
    block_design
    implement
    export_overlay
}}
"""
