"""The text a trained trigger and an evaluation print: formatting only, from trigger.json and summary.json."""

from .nn.roi import VIEWS

__all__ = ["format_comparison", "format_model", "format_evaluation", "with_error"]


def with_error(value, error, fmt="{:.1f}", unit="") -> str:
    """``value ± error unit``; the value alone where it has no error, 'n/a' where there is none."""
    if value is None:
        return "n/a"
    text = fmt.format(value) + ("" if error is None else f" ± {fmt.format(error)}")
    return f"{text} {unit}" if unit else text


def format_model(config, output) -> str:
    point = config["operating_point"]
    a, n = point["analog_sum"], point["nn"]
    return "\n".join([
        f"Trigger model in {output}/",
        f"  input: {config['input']['bits']}-bit module sums, gain {config['input']['gain']} counts/p.e., "
        f"ROI {config['roi']['n_before'] + config['roi']['n_after']} samples x {VIEWS[config['roi'].get('view', 'group')]} modules",
        f"  gate: group sum > {config['roi']['gate']} counts ({point['gate_rate_hz']:.3g} Hz NSB)",
        f"  network: inputs clipped at {config['input'].get('clip') or 'no'} counts, "
        f"{config['architecture'].get('module_features', 0)} features per module, hidden "
        f"{config['architecture']['hidden']}, {config['architecture']['ebops']:.0f} EBOPs",
        f"  analog sum: threshold {a['threshold']} counts, {a['rate_hz']:.3g} ± {a['rate_error_hz']:.2g} Hz",
        f"  NN:         threshold {n['threshold']:.5g}, {n['rate_hz']:.3g} ± {n['rate_error_hz']:.2g} Hz",
        *[f"  candidate seed {c['seed']}: {100 * c['validation_gamma_efficiency']:.1f} % of held-out gamma ROIs at "
          f"threshold {c['threshold']:.5g}{' (kept)' if c['seed'] == config['training']['chosen_seed'] else ''}"
          for c in config["training"].get("candidates", []) if len(config["training"]["candidates"]) > 1],
        f"  at NSB {point['nsb_rate_ghz']:.4g} p.e./ns per pixel, target {point['target_rate_hz']:.3g} Hz per telescope",
    ])


def format_evaluation(summary, output) -> str:
    bins = summary["energy_bins_gev"]
    lines = [f"Trigger evaluation in {output}/ (summary.json, efficiency.png, rates.png)", ""]
    for name in ("analog_sum", "nn"):
        s = summary[name]
        e = with_error(s["energy_threshold_gev"], s.get("energy_threshold_error_gev"), unit="GeV")
        lines.append(
            f"{name:10} threshold {s['threshold']:<10.5g} NSB rate {s['rate_hz']:8.3g} ± {s['rate_error_hz']:.2g} Hz   "
            f"energy threshold {e}"
        )
    ratio = with_error(summary["threshold_ratio"], summary.get("threshold_ratio_error"), "{:.3f}")
    lines.append(f"threshold_ratio (NN / analog sum) = {ratio}")
    method = summary.get("threshold_error_method")
    if method:
        lines.append(f"  (errors: {method['n_resamples']} bootstrap resamples of the test showers, 16-84 % half-width)")
    runs = summary["nn"].get("rate_runs_hz")
    if runs:
        lines.append(f"NN rate: mean of {len(runs)} independent subset simulations, from {min(runs):.3g} to {max(runs):.3g} Hz "
                     "(the error is their scatter)")
    matched = summary.get("analog_sum_at_nn_rate")
    if matched:
        e = with_error(matched["energy_threshold_gev"], matched.get("energy_threshold_error_gev"), unit="GeV")
        r = with_error(summary.get("threshold_ratio_at_nn_rate"), summary.get("threshold_ratio_at_nn_rate_error"), "{:.3f}")
        lines.append(
            f"analog sum at the NN's measured rate: threshold {matched['threshold']}, {matched['rate_hz']:.3g} ± "
            f"{matched['rate_error_hz']:.2g} Hz, energy threshold {e}, ratio {r}"
        )
    header = (f"{'E [GeV]':>16} {'showers':>8} {'analog sum':>11} {'NN':>8}"
              + (f" {'asum@NN rate':>13} {'only NN / only asum@NN':>23}" if matched else ""))
    lines += ["", "array efficiency per true-energy bin:", header]
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for i in range(len(bins) - 1):
        a, n = summary["analog_sum"]["efficiency"][i], summary["nn"]["efficiency"][i]
        row = f"{bins[i]:7.1f}-{bins[i + 1]:7.1f} {summary['nn']['n_showers'][i]:>8} {fmt(a):>11} {fmt(n):>8}"
        if matched:
            row += (f" {fmt(matched['efficiency'][i]):>13} {matched['showers_nn_only'][i]:>11} / "
                    f"{matched['showers_analog_sum_only'][i]:<9}")
        lines.append(row)
    if "proton" in summary:
        p = summary["proton"]
        lines.append("")
        lines.append(f"protons ({p['showers']} showers): array rate analog sum {p['analog_sum']['array_rate_hz']:.3g} Hz, "
                     f"NN {p['nn']['array_rate_hz']:.3g} Hz")
    if "real_events" in summary:
        lines.append("")
        lines.append("real sim_telarray LST telescope events (analog sum / NN triggers):")
        for name, r in summary["real_events"].items():
            if "error" in r:
                lines.append(f"  {name}: skipped ({r['error']})")
            else:
                lines.append(f"  {name}: {r['telescope_events']} events, {r['analog_sum_triggers']} / {r['nn_triggers']}")
    if "real_events_check" in summary:
        lines += format_real_events_check(summary["real_events_check"])
    return "\n".join(lines)


def format_real_events_check(check) -> list[str]:
    """The lines on the real events the NN should keep (summary.json's ``real_events_check``)."""
    fraction = "n/a (none)" if check["fraction"] is None else f"{check['fraction']:.3f}"
    threshold, minimum = check["analog_sum_threshold"], check["min_group_sum"]
    lines = [f"real events with a group sum >= {minimum} counts (analog-sum threshold {threshold} + {minimum - threshold}): "
             f"NN triggers {check['n_nn_triggered']} of {check['n_events']} = {fraction} (goal >= {check['goal']})"]
    inside = gate_in_window_text(check)
    if inside:
        lines.append(f"  {inside}")
    lines += [f"  missed: {m['file']} event {m['event_id']} tel {m['tel_id']}, largest group sum "
              f"{m['max_group_sum_in_window']} ({m['max_group_sum']} over the whole readout){_miss_reason(m)}"
              for m in check["misses"]]
    return lines


def gate_in_window_text(check) -> str | None:
    """The count over the clear real events with a full ROI in the file (``real_events_check``'s ``gate_in_window``)."""
    inside = check.get("gate_in_window")
    if not inside or not inside["n_events"]:
        return None
    return (f"of them with no group over the gate at the sample before the decision range (a full ROI in the file): "
            f"NN triggers {inside['n_nn_triggered']} of {inside['n_events']} = {inside['fraction']:.3f}")


def _miss_reason(miss) -> str:
    """Why a clear real event may have been missed, from the diagnostics of trigger.performance.real_event_decisions."""
    reasons = []
    if miss.get("gate_before_window"):
        reasons.append("over the gate at the sample before the first full ROI")
    share = miss.get("brightest_module_share")
    if share is not None:
        reasons.append(f"{share:.0%} of the brightest group's excess in one module")
    return f"; {', '.join(reasons)}" if reasons else ""


def format_comparison(evaluations) -> str:
    """One block of lines per ``(label, summary)``: the ratios of two or more evaluations on the same showers."""
    lines = []
    for label, summary in evaluations:
        ratio = with_error(summary["threshold_ratio"], summary.get("threshold_ratio_error"), "{:.3f}")
        at_rate = with_error(summary.get("threshold_ratio_at_nn_rate"), summary.get("threshold_ratio_at_nn_rate_error"),
                             "{:.3f}")
        nn = summary["nn"]
        lines += [f"{label} ({summary.get('model', '?')}):",
                  f"  threshold_ratio {ratio}; at the NN's measured rate ({nn['rate_hz']:.3g} ± "
                  f"{nn['rate_error_hz']:.2g} Hz) {at_rate}"]
        check = summary.get("real_events_check")
        if check and check["fraction"] is not None:
            lines.append(f"  real events: NN triggers {check['n_nn_triggered']} of {check['n_events']} clear ones")
    return "\n".join(lines)


if __name__ == "__main__":
    # make demo: python -m trigger.reports LABEL EVALUATION_FOLDER [LABEL FOLDER ...]
    import json
    import sys
    from pathlib import Path

    pairs = list(zip(sys.argv[1::2], sys.argv[2::2]))
    print(format_comparison([(label, json.loads((Path(folder) / "summary.json").read_text())) for label, folder in pairs]))
