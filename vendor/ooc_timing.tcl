# Out-of-context synthesis, placement and routing of the trigger top at 250 MHz, with the timing and
# logic-level reports a firmware engineer checks (needs AMD Vivado 2022.2 or later; not run in CI).
#
#   vivado -mode batch -source vendor/ooc_timing.tcl -tclargs BUILD_DIR PART [CLOCK_MHZ] [TOP]
#
# BUILD_DIR is a `trigger-synth build` folder (rtl/hdl: the hand-written single top and top.json; rtl/src:
# the generated network core); this script times that single top (or TOP) on PART. The partitioned
# trigger's two boards each have their own script in the build, made for that trained trigger and the
# board's device (vendor/vivado_readout_board.tcl and vendor/vivado_central_board.tcl, sources in
# rtl/boards/); use those for the readout board (xcku5p-ffvb676-2-e) and the central board
# (xczu7ev-ffvc1156-2-e).
# Writes BUILD_DIR/vendor/ooc_<part>/: timing_summary.rpt, logic_levels.rpt, utilization.rpt.

set build [file normalize [lindex $argv 0]]
set part [lindex $argv 1]
set clock_mhz [expr {[llength $argv] > 2 ? [lindex $argv 2] : 250.0}]
set top [expr {[llength $argv] > 3 ? [lindex $argv 3] : "trigger_top"}]
set out [file join $build vendor "ooc_$part"]
file mkdir $out

read_verilog [glob [file join $build rtl hdl *.v]] [glob [file join $build rtl src *.v]] \
    [glob -nocomplain [file join $build rtl src static *.v]]
# the top's parameters for this core (NN_LATENCY, NN_OUT_W, N_BEFORE, ...) from the build
set fp [open [file join $build rtl hdl top.json]]
set json [read $fp]
close $fp
set generics {}
foreach {all name value} [regexp -all -inline {"([A-Z_]+)": (-?[0-9]+)} $json] {
    lappend generics -generic "$name=$value"
}
synth_design -top $top -part $part -mode out_of_context -include_dirs [file join $build rtl hdl] \
    {*}$generics -flatten_hierarchy rebuilt
create_clock -name clk -period [expr {1000.0 / $clock_mhz}] [get_ports clk]
opt_design
place_design
route_design
report_timing_summary -max_paths 20 -file [file join $out timing_summary.rpt]
report_design_analysis -logic_level_distribution -logic_level_dist_paths 5000 -file [file join $out logic_levels.rpt]
report_utilization -hierarchical -file [file join $out utilization.rpt]
