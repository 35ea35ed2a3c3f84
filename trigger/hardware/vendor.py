"""Vivado / Vitis HLS scripts for users who have the AMD tools (written here, never run here)."""

from pathlib import Path

__all__ = ["write_vendor_scripts"]

VIVADO_RTL = """\
# Out-of-context synthesis, placement and routing of the da4ml trigger core.
# Written by `trigger-synth build`; run from anywhere:
#     vivado -mode batch -source {dir}/vivado_rtl.tcl
# Reports (utilization, timing at {clock_mhz:g} MHz) go to {dir}/reports/rtl/.
set here [file normalize [file dirname [info script]]]
set rtl [file join $here .. rtl]
set part {{{part}}}
set top {top}
set out [file join $here reports rtl]
file mkdir $out

read_verilog [concat [glob [file join $rtl src *.v]] [glob -nocomplain [file join $rtl src static *.v]]]
set mems [glob -nocomplain [file join $rtl src memfiles *.mem]]
if {{[llength $mems] > 0}} {{ read_mem $mems }}
read_xdc -mode out_of_context [file join $rtl src $top.xdc]

synth_design -top $top -part $part -mode out_of_context
report_utilization -file [file join $out post_synth_utilization.rpt]
report_timing_summary -file [file join $out post_synth_timing.rpt]
opt_design
place_design
phys_opt_design
route_design
report_utilization -file [file join $out post_route_utilization.rpt]
report_timing_summary -file [file join $out post_route_timing.rpt]
puts "trigger-synth: reports in $out"
"""

VIVADO_BOARD = """\
# Out-of-context synthesis, placement and routing of the {board} board ({top}) at {clock_mhz:g} MHz
# on {part}, with the reports a firmware engineer checks against the design's rules (docs/hardware.md,
# Timing by construction: at most 4 LUT levels and one carry chain between registers).
# Written by `trigger-synth build` from rtl/boards/boards.json; run from anywhere:
#     vivado -mode batch -source {dir}/vivado_{board}_board.tcl
# Reports go to {dir}/reports/{board}_board/.
set here [file normalize [file dirname [info script]]]
set rtl [file join $here .. rtl]
set part {{{part}}}
set top {top}
set out [file join $here reports {board}_board]
file mkdir $out

set sources {{}}
foreach name {{{sources}}} {{ lappend sources [file join $rtl boards $name] }}
if {{{core}}} {{
    set sources [concat $sources [glob [file join $rtl src *.v]] [glob -nocomplain [file join $rtl src static *.v]]]
    set mems [glob -nocomplain [file join $rtl src memfiles *.mem]]
    if {{[llength $mems] > 0}} {{ read_mem $mems }}
}}
read_verilog $sources

synth_design -top $top -part $part -mode out_of_context -include_dirs [file join $rtl boards] \\
    {generics}
create_clock -name clk -period {period_ns:g} [get_ports clk]
report_utilization -hierarchical -file [file join $out post_synth_utilization.rpt]
opt_design
place_design
phys_opt_design
route_design
report_utilization -hierarchical -file [file join $out post_route_utilization.rpt]
report_timing_summary -max_paths 20 -file [file join $out post_route_timing.rpt]
report_design_analysis -logic_level_distribution -logic_level_dist_paths 5000 -file [file join $out logic_levels.rpt]
puts "trigger-synth: reports in $out"
"""

VITIS_HLS = """\
# Vitis HLS flow of the hls4ml project: C simulation, C synthesis, C/RTL
# co-simulation (with the build's check events as test bench) and validation.
# Written by `trigger-synth build`; choose the steps in ../hls/build_opt.tcl.
#     vitis_hls -f {dir}/vitis_hls.tcl                       (Vitis HLS <= 2024.1)
#     vitis-run --mode hls --tcl {dir}/vitis_hls.tcl         (Vitis >= 2024.2)
# Part {part}, clock {clock_mhz:g} MHz (set in ../hls/project.tcl).
set here [file normalize [file dirname [info script]]]
cd [file join $here .. hls]
source build_prj.tcl
"""

README = """\
Vendor scripts (not run by trigger-synth build; they need AMD Vivado / Vitis):

  vivado -mode batch -source vendor/vivado_rtl.tcl     synthesis + place & route of rtl/ ({top}),
                                                       reports in vendor/reports/rtl/
  vitis_hls -f vendor/vitis_hls.tcl                    HLS of hls/ (csim, csynth, cosim)
  vivado -mode batch -source vendor/vivado_readout_board.tcl
  vivado -mode batch -source vendor/vivado_central_board.tcl
                                                       each board of the partitioned trigger (rtl/boards/,
                                                       the central board with the core of rtl/src) on its
                                                       own device, reports in vendor/reports/<board>_board/

Part {part}, clock {clock_mhz:g} MHz (the boards: each on its own device, rtl/boards/boards.json).
The resource numbers in report.json come from yosys and da4ml and are estimates;
these scripts give the vendor's figures.
da4ml's own full-flow script is rtl/build_vivado_prj.tcl; hls4ml's is hls/build_prj.tcl.
"""


def write_vendor_scripts(out_dir: Path, part: str, clock_mhz: float, top: str, boards: dict | None = None) -> list[str]:
    """The build's ``vendor/`` scripts; ``boards`` (:func:`.board_synth.write_board_sources`) adds one per board."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    values = {"part": part, "clock_mhz": clock_mhz, "top": top, "dir": "vendor"}
    files = {"vivado_rtl.tcl": VIVADO_RTL, "vitis_hls.tcl": VITIS_HLS, "README.txt": README}
    for name, template in files.items():
        (out_dir / name).write_text(template.format(**values))
    for board, run in (boards or {}).get("runs", {}).items():
        name = f"vivado_{board}_board.tcl"
        generics = " ".join(f"-generic {k}={v}" for k, v in run["parameters"].items())
        (out_dir / name).write_text(VIVADO_BOARD.format(
            board=board, top=run["top"], part=run["part"], clock_mhz=clock_mhz, period_ns=round(1000 / clock_mhz, 4),
            sources=" ".join(run["sources"]), core=int(run["core"]), generics=generics, dir="vendor"))
        files[name] = None
    return sorted(files)
