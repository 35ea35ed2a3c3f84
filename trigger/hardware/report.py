"""``report.json`` of a build and its readable summary."""

__all__ = ["REQUIRED_KEYS", "format_report"]

REQUIRED_KEYS = ("clock_mhz", "latency_cycles", "latency_ns", "initiation_interval", "resources", "bit_exact")

CHECK_NAMES = {"hls_csim": "hls4ml C-sim", "verilog": "Verilog (Verilator)", "da4ml_trace": "da4ml trace"}


def _num(v, fmt="{:,.0f}"):
    return "-" if v is None else fmt.format(v)


def format_report(report: dict) -> str:
    """A few lines for a terminal: timing, resources (marked as estimates), bit-exact checks, outputs."""
    r = report
    res, da = r.get("resources") or {}, r.get("resources_da4ml") or {}
    lines = [
        f"trigger-synth build: {r.get('model', {}).get('dir', '?')} -> {r.get('out_dir', '?')}",
        (f"  target       {r.get('part')} at {_num(r.get('clock_mhz'), '{:g}')} MHz "
        f"({_num(r.get('clock_period_ns'), '{:g}')} ns)"),
        (f"  latency      {_num(r.get('latency_cycles'))} cycles = {_num(r.get('latency_ns'), '{:g}')} ns, "
        f"initiation interval {_num(r.get('initiation_interval'))} (da4ml Verilog, counted registers)"),
    ]
    if res:
        lines.append(f"  resources    LUT {_num(res.get('lut'))}  FF {_num(res.get('ff'))}  DSP {_num(res.get('dsp'))}  "
                     f"BRAM {_num(res.get('bram'), '{:g}')}   ESTIMATE: {res.get('source')}")
    else:
        lines.append("  resources    not estimated (synthesis skipped)")
    core, logic, bud = r.get("resources_core"), r.get("resources_top_logic"), r.get("budget")
    if logic and core:
        lines.append(f"    of which  network core LUT {_num(core.get('lut'))} FF {_num(core.get('ff'))}; "
                     f"hand-written top LUT {_num(logic.get('lut'))} FF {_num(logic.get('ff'))} "
                     f"BRAM {_num(logic.get('bram'), '{:g}')}")
    if bud and bud.get("lut") is not None:
        lines.append(f"  budget       {_num(bud['lut'])} of {_num(bud['lut_budget'])} LUT "
                     f"({100 * bud['fraction_of_budget']:.0f}%, half an XCZU7EV): "
                     f"{'fits' if bud['fits'] else 'DOES NOT FIT'} (estimate)")
    if da:
        lines.append(f"  da4ml        LUT ~{_num(da.get('lut'))}  FF {_num(da.get('ff'))}   ESTIMATE: {da.get('source')}")
    levels = {k: v for k, v in (r.get("max_logic_levels") or {}).items() if isinstance(v, dict) and "lut" in v}
    if levels:
        over = [k for k, v in levels.items() if not v.get("meets_budget")]
        worst = max(levels.items(), key=lambda kv: (kv[1]["lut"], kv[1]["carry_chains"]))
        lines.append(f"  timing       deepest path {worst[1]['lut']} LUT + {worst[1]['carry_chains']} carry chain(s) "
                     f"({worst[0]}); over 4 LUT + 1 chain: {', '.join(over) if over else 'none'} (yosys netlist)")
    links = r.get("links") or {}
    if links.get("links"):
        up = links["links"][-1]
        lines.append(f"  links        {len(links['links'])} kinds; readout -> central {up['gbps_per_link']:.2f} Gbit/s "
                     f"per link x {up['count']} ({100 * up['utilisation']:.0f}% of {up['payload_gbps_per_link']:g}) "
                     f"at {links['accept_rate_hz']:.3g} candidates/s")
    lat = r.get("latency_budget") or {}
    if lat:
        lines.append(f"  latency      on chip {lat['on_chip_ns']:g} ns, photon to decision {lat['end_to_end_ns']:g} ns "
                     f"({len(lat['assumed'])} assumed parts, docs/hardware.md)")
    checks = []
    for name, c in (r.get("bit_exact") or {}).items():
        if c is None:
            continue
        checks.append(f"{CHECK_NAMES.get(name, name)} {c['mismatches']}/{c['events']}")
    lines.append("  bit-exact    " + ("; ".join(checks) + " events differ from Keras" if checks else "no checks run"))
    outputs = r.get("outputs") or {}
    if outputs:
        lines.append("  outputs      " + "  ".join(f"{v}" for v in outputs.values()))
    lines.append("  Vendor figures (Vivado/Vitis) come from the scripts in vendor/; they were not run.")
    return "\n".join(lines)
