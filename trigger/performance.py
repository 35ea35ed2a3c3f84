"""Both triggers on the same events at the same accidental rate: efficiencies, thresholds, rates.

This is what ``trigger-synth evaluate`` computes: the operating points are
re-measured on importance samples independent of training, gamma and proton
showers go through both telescope triggers and the 2-of-4 array trigger, and
real sim_telarray events get both decisions. Results are plain dictionaries
(``summary.json``) and tables; plots are in :mod:`trigger.plots`.
"""

import logging
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from lstcommon.progress import Steps

from .analog_sum import AnalogSumTrigger
from .evaluation import (
    CRAB_INDEX,
    CRAB_NORM,
    PROTON_INDEX,
    PROTON_NORM,
    THRESHOLD_RESAMPLES,
    SimulationRun,
    array_decisions,
    bootstrap_error,
    efficiency,
    energy_threshold,
    plane_front_delays,
    spectrum_rate,
    threshold_bootstrap,
)
from .events import TriggerEvents, read_trigger_events
from .inputs import TriggerInput
from .instrument import LSTInstrument
from .io import convert_simtel
from .nn.model import score_function
from .nn.roi import RoiGeometry
from .nn.trigger import analog_sum_first, nn_candidates, nn_first
from .operating_point import analog_sum_threshold, nn_subset_threshold, relative_error, subset_rates
from .rates import NSBRateEstimator
from .subset_simulation import N_PER_LEVEL, RATE_MAX_RUNS, RATE_MIN_RUNS, RATE_PRECISION

__all__ = ["TriggerPair", "ShowerResult", "Evaluation", "evaluate", "evaluate_showers", "measure_rates",
           "telescope_decisions", "analog_sum_at", "analog_sum_first_at", "array_triggered", "read_out", "real_files",
           "real_events_check"]

log = logging.getLogger(__name__)
TRIGGERS = ("analog_sum", "nn")
# real events this far over the analog-sum threshold are unambiguous showers: the NN should keep nearly all of them
REAL_MARGIN = 10
REAL_GOAL = 0.95


@dataclass
class TriggerPair:
    """The two triggers at one operating point, ready to run on trigger input."""

    analog_sum: AnalogSumTrigger
    threshold: int
    model: object
    geometry: RoiGeometry
    nn_threshold: float
    pedestal: int  # the trigger input's: what a wide view reads outside the camera

    @classmethod
    def at_operating_point(cls, model, config: dict) -> "TriggerPair":
        """Both triggers of a trained model (:func:`trigger.nn.model.load_trigger`) at its own thresholds."""
        point = config["operating_point"]
        trigger_input = TriggerInput.from_description(config["input"])
        return cls(AnalogSumTrigger(instrument=trigger_input.instrument), point["analog_sum"]["threshold"], model,
                   RoiGeometry(**config["roi"]), point["nn"]["threshold"], trigger_input.pedestal)

    @cached_property
    def score(self):
        # one traced graph per network: tracing it anew on every use made TensorFlow warn of excessive retracing
        return score_function(self.model)


def telescope_decisions(pair: TriggerPair, events: TriggerEvents) -> dict:
    """First trigger sample of each telescope event for both triggers (-1: none)."""
    decision_range = pair.geometry.decision_range(events.counts.shape[-1])
    candidates = nn_candidates(pair.analog_sum, events.counts, pair.geometry, pair.score, pedestal=pair.pedestal)
    return {
        "analog_sum": analog_sum_first(pair.analog_sum, events.counts, pair.threshold, decision_range),
        "nn": nn_first(candidates, len(events), pair.nn_threshold),
    }


def measure_rates(estimator: NSBRateEstimator, pair: TriggerPair, n_samples, rng, nn_thresholds=None, as_thresholds=None,
                  n_runs=4, n_per_level=N_PER_LEVEL, precision=None, max_runs=None) -> dict:
    """Rates of both triggers at their thresholds and along threshold scans, on fresh NSB samples.

    The analog sum's and the gate's from ``n_samples`` importance samples;
    the NN's from ``n_runs`` independent subset simulations of
    ``n_per_level`` windows per level (their scatter is the error; each
    run's rate at the threshold is in ``runs_hz``), and with ``precision``
    more runs, up to ``max_runs``, until the NN's rate at its threshold has
    that relative standard error (``nn.precision`` says whether it got there).
    """
    upper = pair.threshold + 12
    samples = estimator.sample(n_samples, estimator.thetas_for([pair.geometry.gate, upper], n_components=8), rng,
                               single_module=True)  # the analog sum and the gate read the groups alone
    as_scan = np.arange(pair.geometry.gate - 6, upper + 1) if as_thresholds is None else np.asarray(as_thresholds)
    # the scan, the operating point and the gate in one pass over the samples
    as_rates, as_errors = estimator.analog_sum_rates(samples, np.append(as_scan, [pair.threshold, pair.geometry.gate]))
    nn_scan = np.linspace(pair.nn_threshold - 6, pair.nn_threshold + 6, 25) if nn_thresholds is None else np.asarray(nn_thresholds)
    wall, cpu = time.perf_counter(), time.process_time()
    nn = subset_rates(estimator, pair.geometry, pair.score, np.append(nn_scan, pair.nn_threshold), rng, n_runs=n_runs,
                      n_per_level=n_per_level, min_rate_hz=_subset_floor(as_rates[-2]), precision=precision, max_runs=max_runs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    (base_rate, gate_rate), (base_err, gate_err) = as_rates[-2:], as_errors[-2:]
    achieved = relative_error(nn)
    return {
        "analog_sum": {"rate_hz": float(base_rate), "rate_error_hz": float(base_err)},
        "nn": {"rate_hz": float(nn.rate_hz[-1]), "rate_error_hz": float(nn.error_hz[-1]), "runs_hz": nn.per_run[:, -1].tolist(),
               "precision": {"goal": precision, "relative_error": achieved if np.isfinite(achieved) else None,
                             "runs": len(nn.runs), "min_runs": n_runs, "max_runs": max(n_runs, max_runs or n_runs),
                             "met": None if precision is None else bool(achieved <= precision),
                             "wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}},
        "gate": {"threshold": pair.geometry.gate, "rate_hz": float(gate_rate), "rate_error_hz": float(gate_err)},
        "scan": {
            "analog_sum": {"threshold": as_scan.tolist(), "rate_hz": as_rates[:-2].tolist(), "rate_error_hz": as_errors[:-2].tolist()},
            "nn": {"threshold": nn_scan.tolist(), "rate_hz": nn.rate_hz[:-1].tolist(), "rate_error_hz": nn.error_hz[:-1].tolist()},
        },
    }


def _subset_floor(baseline_rate_hz) -> float:
    """Where a subset simulation's levels may stop: a tenth of the rates of interest (the baseline's), at least 10 Hz."""
    return max(float(baseline_rate_hz) / 10, 10.0)


def recalibrate(estimator, pair: TriggerPair, target_hz, n_samples, rng, n_runs=4, n_per_level=N_PER_LEVEL) -> TriggerPair:
    """Both thresholds for another accidental rate (or NSB level), the NN at the baseline's achieved rate."""
    samples = estimator.sample(n_samples, estimator.thetas_for([pair.geometry.gate, 130], n_components=8), rng)
    base = analog_sum_threshold(estimator, samples, target_hz)
    nn, _ = nn_subset_threshold(estimator, pair.geometry, pair.score, base.rate_hz, rng, n_runs=n_runs, n_per_level=n_per_level)
    return replace(pair, threshold=int(base.threshold), nn_threshold=float(nn.threshold))


@dataclass
class ShowerResult:
    """Array-trigger decisions of both triggers for every simulated shower of one file."""

    path: Path
    run: SimulationRun
    triggered: dict  # trigger name -> bool per shower (all showers of the file)
    telescope: dict = field(default_factory=dict)  # trigger name -> first sample per telescope event
    events: TriggerEvents | None = None


def evaluate_showers(path, pair: TriggerPair, trigger_input, instrument: LSTInstrument, min_telescopes=2) -> ShowerResult:
    """Both triggers on every telescope event of a simulated file, then the array trigger per shower."""
    run = SimulationRun(path)
    events = read_trigger_events(path, trigger_input)
    first = telescope_decisions(pair, events)
    triggered = {name: array_triggered(run, events, first[name], instrument, min_telescopes) for name in TRIGGERS}
    return ShowerResult(Path(path), run, triggered, first, events)


def array_triggered(run: SimulationRun, events: TriggerEvents, first, instrument: LSTInstrument, min_telescopes=2):
    """The array decision per shower of ``run`` from its telescope events' first trigger samples."""
    delays = plane_front_delays(instrument.subarray(4), run.pointing_alt, run.pointing_az)
    decided = array_decisions(events, first, delays, min_telescopes)
    return np.array([decided.get(k, False) for k in run.keys()])


def analog_sum_first_at(result: ShowerResult, pair: TriggerPair, threshold):
    """First trigger sample of each telescope event of ``result`` for the analog sum at another threshold."""
    events = result.events
    return analog_sum_first(pair.analog_sum, events.counts, threshold, pair.geometry.decision_range(events.counts.shape[-1]))


def analog_sum_at(result: ShowerResult, pair: TriggerPair, threshold, instrument: LSTInstrument, min_telescopes=2):
    """Array decisions per shower of the analog sum alone at another threshold, on the same telescope events."""
    return array_triggered(result.run, result.events, analog_sum_first_at(result, pair, threshold), instrument,
                            min_telescopes)


def read_out(result: ShowerResult, first, triggered) -> list[tuple[int, int, int]]:
    """``(obs_id, event_id, tel_id)`` of the telescope events a trigger reads out: those that fired, in the showers
    whose array trigger it accepted (``first`` per telescope event, ``triggered`` per shower)."""
    accepted = {key for key, ok in zip(result.run.keys(), triggered) if ok}
    ev = result.events
    return [(int(o), int(e), int(t)) for o, e, t, f in zip(ev.obs_id, ev.event_id, ev.tel_id, first)
            if f >= 0 and (o, e) in accepted]


def rate_matched_baseline(rates: dict) -> tuple[int, float, float] | None:
    """The analog-sum threshold whose measured rate is closest to the NN's measured rate: (threshold, rate, error).

    The NN threshold is set on importance samples whose estimate of the
    gated rate is heavy-tailed, so the independent measurement may find
    the NN at a rate other than the baseline's; comparing with the baseline
    at the NN's measured rate keeps the comparison fair either way.
    """
    scan = rates["scan"]["analog_sum"]
    nn = rates["nn"]["rate_hz"]
    if not nn > 0:
        return None
    thresholds, values, errors = (np.asarray(scan[k]) for k in ("threshold", "rate_hz", "rate_error_hz"))
    ok = values > 0
    if not ok.any():
        return None
    i = np.flatnonzero(ok)[np.argmin(np.abs(np.log(values[ok] / nn)))]
    return int(thresholds[i]), float(values[i]), float(errors[i])


def gamma_summary(result: ShowerResult, bins_tev, triggered=None) -> dict:
    """Efficiency per energy bin and energy threshold of each trigger (the summary.json fields).

    ``triggered`` (name -> decision per shower) replaces the triggers of ``result``.
    """
    out = {}
    for name, decided in (triggered or result.triggered).items():
        eff, err, total = efficiency(result.run.energy, decided, bins_tev)
        threshold, params = energy_threshold(result.run, decided, CRAB_INDEX)
        rate, rate_err = spectrum_rate(result.run, decided, CRAB_NORM, CRAB_INDEX)
        out[name] = {
            "energy_threshold_gev": threshold * 1e3 if np.isfinite(threshold) else None,
            "efficiency": [None if not np.isfinite(e) else float(e) for e in eff],
            "efficiency_error": [float(e) for e in err],
            "n_showers": [int(t) for t in total],
            "crab_rate_hz": rate,
            "crab_rate_error_hz": rate_err,
            "fit": None if params is None else dict(zip(("plateau", "log10_e50_tev", "width_dex"), map(float, params))),
        }
    return out


def discordant_showers(result: ShowerResult, bins_tev, first, second) -> dict:
    """Per energy bin, the showers only ``first`` triggers and those only ``second`` triggers.

    Both triggers see the same showers, so their difference is measured by
    these discordant counts alone (McNemar): the variance of
    (``first`` triggered - ``second`` triggered) is their sum.
    """
    energy = result.run.energy
    first, second = np.asarray(first, bool), np.asarray(second, bool)
    only = lambda a, b: np.histogram(energy[a & ~b], bins=bins_tev)[0].astype(int).tolist()  # noqa: E731
    return {"first_only": only(first, second), "second_only": only(second, first)}


def proton_summary(result: ShowerResult) -> dict:
    out = {}
    for name in TRIGGERS:
        rate, err = spectrum_rate(result.run, result.triggered[name], PROTON_NORM, PROTON_INDEX, per_steradian=True)
        out[name] = {
            "array_rate_hz": rate,
            "array_rate_error_hz": err,
            "triggered_showers": int(result.triggered[name].sum()),
            "telescope_triggers": int((result.telescope[name] >= 0).sum()),
        }
    out["showers"] = result.run.n_showers
    out["energy_range_tev"] = [result.run.energy_min, result.run.energy_max]
    out["viewcone_deg"] = float(np.degrees(result.run.viewcone))
    out["note"] = "cosmic-ray protons only (no helium or heavier nuclei, no electrons): a lower bound on the hadron rate"
    return out


def real_event_decisions(path, pair: TriggerPair, trigger_input) -> list[dict]:
    """Per telescope event of a converted sim_telarray file: truth, largest group sums and both decisions.

    ``max_group_sum`` is over the whole readout, ``max_group_sum_in_window``
    over the samples where both triggers decide (the analog sum fires iff it
    is above its threshold): a shower at the readout's edge is no test of either.
    Two things say why the NN may miss a bright event: ``gate_before_window``,
    a group already over the gate at the sample before the decision range
    (that group's rising edge lies where the file holds no full ROI, which a
    streaming trigger would have), and ``brightest_module_share``, the share
    of the brightest group's excess (over the pedestals, at its peak) in its
    brightest module (near 1: light in one module, which the input clip
    makes look like NSB).
    """
    events = read_trigger_events(path, trigger_input)
    first = telescope_decisions(pair, events)
    sums = pair.analog_sum.group_sums(events.counts)
    start, stop = pair.geometry.decision_range(events.counts.shape[-1])
    max_sum = sums.max(axis=(-2, -1))
    in_window = sums[..., start:stop].max(axis=(-2, -1))
    gate_before = (sums[..., start - 1] > pair.geometry.gate).any(axis=-1)
    rows = []
    for i in range(len(events)):
        rows.append({
            "obs_id": int(events.obs_id[i]),
            "event_id": int(events.event_id[i]),
            "tel_id": int(events.tel_id[i]),
            "true_energy_tev": None if not np.isfinite(events.true_energy[i]) else float(events.true_energy[i]),
            "true_image_sum_pe": float(events.true_image_sum[i]),
            "max_group_sum": int(max_sum[i]),
            "max_group_sum_in_window": int(in_window[i]),
            "gate_before_window": bool(gate_before[i]),
            "brightest_module_share": _brightest_module_share(events.counts[i], sums[i], start, stop, pair.analog_sum,
                                                              trigger_input.pedestal),
            "analog_sum": bool(first["analog_sum"][i] >= 0),
            "nn": bool(first["nn"][i] >= 0),
        })
    return rows


def _brightest_module_share(counts, sums, start, stop, analog_sum: AnalogSumTrigger, pedestal) -> float | None:
    """Share of the brightest group's excess at its peak (in the decision range) carried by its brightest module."""
    group, sample = np.unravel_index(sums[:, start:stop].argmax(), (sums.shape[0], stop - start))
    # a module below its pedestal carries no light: without the clip the share could exceed 1
    excess = np.clip(counts[analog_sum.group_modules[group], start + sample].astype(float) - pedestal, 0, None)
    total = excess.sum()
    return round(float(excess.max() / total), 3) if total > 0 else None


def real_files(instrument: LSTInstrument) -> list[Path]:
    """The real sim_telarray files of the data folder, which evaluate runs both triggers on."""
    return sorted((Path(instrument.data_path) / "simtel").glob("*.simtel*"))


def real_events(pair: TriggerPair, trigger_input, files) -> dict:
    """Both triggers on the LST events of each real sim_telarray file: per file, counts and per-event rows.

    A file the project cannot convert (no LST, another camera) is kept in the
    result with its reason, so the comparison says what it left out.
    """
    result = {}
    with tempfile.TemporaryDirectory(prefix="trigger-real-") as work:
        for path in files:
            target = Path(work) / (path.name.split(".simtel")[0] + ".dl1.h5")
            try:
                with warnings.catch_warnings():
                    # the shared test files end without sim_telarray's histograms ("truncated"): known, not news
                    warnings.filterwarnings("ignore", category=UserWarning, module=r"(eventio|ctapipe\.io)\.")
                    convert_simtel(path, target, progress=False)
                rows = real_event_decisions(target, pair, trigger_input)
            except (ValueError, OSError, KeyError) as err:
                log.warning("real file %s skipped: %s", path.name, err)
                result[path.name] = {"error": str(err)}
                continue
            result[path.name] = {
                "telescope_events": len(rows),
                "analog_sum_triggers": sum(r["analog_sum"] for r in rows),
                "nn_triggers": sum(r["nn"] for r in rows),
                "events": rows,
            }
    return result


def real_events_check(real: dict, threshold, margin=REAL_MARGIN) -> dict:
    """Does the NN keep the real telescope events that are clearly showers? (the summary.json field)

    Counts the events of :func:`real_events` whose largest group sum in the
    decision window is at least ``margin`` counts over the analog-sum
    ``threshold``, those the NN triggers (goal: at least 95 %), and lists
    the ones it misses with their largest group sums and why they may have
    been missed (see :func:`real_event_decisions`); the same counts over the
    events with no group over the gate at the sample before the decision
    range (``gate_in_window``: every rising edge has its full ROI in the
    file). Files that were skipped add nothing.
    """
    minimum = int(threshold) + margin
    n_events, n_nn, n_inside, n_nn_inside, misses = 0, 0, 0, 0, []
    for name, result in real.items():
        for row in result.get("events", []):
            if row["max_group_sum_in_window"] < minimum:
                continue
            inside = not row["gate_before_window"]
            n_events += 1
            n_inside += inside
            if row["nn"]:
                n_nn += 1
                n_nn_inside += inside
            else:
                misses.append({"file": name, **{k: row[k] for k in ("obs_id", "event_id", "tel_id", "max_group_sum",
                                                                     "max_group_sum_in_window", "gate_before_window",
                                                                     "brightest_module_share", "analog_sum")}})
    return {
        "analog_sum_threshold": int(threshold),
        "min_group_sum": minimum,
        "n_events": n_events,
        "n_nn_triggered": n_nn,
        "fraction": n_nn / n_events if n_events else None,
        "gate_in_window": {"n_events": n_inside, "n_nn_triggered": n_nn_inside,
                           "fraction": n_nn_inside / n_inside if n_inside else None},
        "goal": REAL_GOAL,
        "misses": misses,
    }


@dataclass
class Evaluation:
    """What ``trigger-synth evaluate`` measures.

    ``summary`` is summary.json (its fields are a contract: docs/architecture.md),
    ``rates`` the threshold scans behind rates.png, ``real_events`` the
    per-event rows of the real files (real_events.json; None when not run).
    """

    summary: dict
    rates: dict
    real_events: dict | None = None


def energy_bins(run: SimulationRun, bins_per_decade) -> np.ndarray:
    """Log-spaced bins (TeV) over a run's simulated energy range, about ``bins_per_decade`` per decade."""
    decades = np.log10(run.energy_max / run.energy_min)
    n_bins = max(int(round(decades * bins_per_decade)), 1)
    return np.logspace(np.log10(run.energy_min), np.log10(run.energy_max), n_bins + 1)


def evaluate(model, config: dict, gamma, proton=None, *, target_hz=None, nsb_ghz=None, nn_threshold=None,
             n_rate_samples=100_000, rate_runs=RATE_MIN_RUNS, rate_windows=N_PER_LEVEL, rate_precision=RATE_PRECISION,
             rate_max_runs=RATE_MAX_RUNS, bins_per_decade=5, seed=12345, threshold_resamples=THRESHOLD_RESAMPLES, real=True,
             progress=False) -> Evaluation:
    """Both triggers at equal accidental rate on independent NSB samples, then on gamma (and proton) showers.

    ``model`` and ``config`` are a trained trigger (:func:`trigger.nn.model.load_trigger`).
    The operating point is the model's unless ``target_hz`` or ``nsb_ghz``
    differ from it (both thresholds are then set again); ``nn_threshold``
    replaces the NN's threshold (e.g. one whose rate was counted).
    ``threshold_resamples`` bootstrap resamples of the gamma showers give the
    energy thresholds' errors (seeded from ``seed``: the same run gives the same errors).
    The NN's rate is measured to ``rate_precision`` (relative standard error;
    None: ``rate_runs`` runs and no more), with ``rate_runs`` to ``rate_max_runs``
    subset simulations.
    """
    point = config["operating_point"]
    nsb = point["nsb_rate_ghz"] if nsb_ghz is None else nsb_ghz
    target = point["target_rate_hz"] if target_hz is None else target_hz
    trigger_input = TriggerInput.from_description(config["input"])
    instrument = trigger_input.instrument
    rng = np.random.default_rng(seed)
    pair = TriggerPair.at_operating_point(model, config)
    estimator = NSBRateEstimator(trigger_input, nsb)
    steps = ["rates", "gamma showers"] + (["proton showers"] if proton is not None else []) + (["real events"] if real else [])
    if not (np.isclose(nsb, point["nsb_rate_ghz"]) and np.isclose(target, point["target_rate_hz"])):
        steps.insert(0, "thresholds")
    with Steps(len(steps), "evaluate", progress, log) as bar:
        if "thresholds" in steps:
            bar.start(f"setting both thresholds for {target:.4g} Hz at NSB {nsb:.4g} p.e./ns")
            pair = recalibrate(estimator, pair, target, n_rate_samples, rng, rate_runs, rate_windows)
            bar.done()
        if nn_threshold is not None:
            pair = replace(pair, nn_threshold=nn_threshold)
        runs = f"{rate_runs} subset simulations" if rate_precision is None else \
            f"{rate_runs}-{max(rate_runs, rate_max_runs)} subset simulations to ±{rate_precision:.0%}"
        bar.start(f"rates: {n_rate_samples} importance samples, {runs}")
        rates = measure_rates(estimator, pair, n_rate_samples, rng, n_runs=rate_runs, n_per_level=rate_windows,
                              precision=rate_precision, max_runs=rate_max_runs)
        rates["analog_sum"]["threshold"], rates["nn"]["threshold"] = pair.threshold, pair.nn_threshold
        rates["nsb_rate_ghz"] = nsb
        bar.done()

        bar.start(f"gamma showers ({Path(gamma).name})")
        showers = evaluate_showers(gamma, pair, trigger_input, instrument)
        bins = energy_bins(showers.run, bins_per_decade)
        # its own stream: the resamples do not depend on how many draws the rates took
        resampling = {"n_resamples": threshold_resamples, "seed": [seed, 1]}
        summary = _gamma_comparison(showers, pair, rates, bins, instrument, resampling)
        summary.update({"target_rate_hz": target, "nsb_rate_ghz": nsb, "gamma_file": str(gamma),
                        "array_trigger": "2 of 4 LSTs within 120 ns (plane-front corrected)"})
        bar.done()
        if proton is not None:
            bar.start(f"proton showers ({Path(proton).name})")
            summary["proton"] = proton_summary(evaluate_showers(proton, pair, trigger_input, instrument))
            bar.done()
        rows = None
        if real:
            bar.start("real sim_telarray events")
            rows = real_events(pair, trigger_input, real_files(instrument))
            summary["real_events"] = {k: {kk: vv for kk, vv in v.items() if kk != "events"} for k, v in rows.items()}
            summary["real_events_check"] = real_events_check(rows, pair.threshold)
            bar.done()
    summary["rates"] = rates["scan"]
    return Evaluation(summary, rates, rows)


def _gamma_comparison(showers: ShowerResult, pair: TriggerPair, rates, bins, instrument, resampling=None) -> dict:
    """summary.json's fields from the gamma showers: both triggers' efficiencies and energy thresholds, and the
    analog sum again at the NN's measured rate, with the showers only one of the two triggers; the thresholds' and
    their ratios' errors from one paired bootstrap of the showers (``resampling``: n_resamples and seed)."""
    per_trigger = gamma_summary(showers, bins)
    summary = {
        "accidental_rate_hz": float(rates["analog_sum"]["rate_hz"]),
        "energy_bins_gev": (bins * 1e3).tolist(),
        "gate": rates["gate"],
    }
    for name in TRIGGERS:
        summary[name] = {
            "threshold": rates[name]["threshold"],
            "rate_hz": rates[name]["rate_hz"],
            "rate_error_hz": rates[name]["rate_error_hz"],
            **({"rate_runs_hz": rates[name]["runs_hz"]} if "runs_hz" in rates[name] else {}),
            **({"rate_precision": rates[name]["precision"]} if "precision" in rates[name] else {}),
            "energy_bins_gev": summary["energy_bins_gev"],
            **per_trigger[name],
        }
    a, n = summary["analog_sum"]["energy_threshold_gev"], summary["nn"]["energy_threshold_gev"]
    summary["threshold_ratio"] = n / a if a and n else None
    matched = rate_matched_baseline(rates)
    if matched is not None:
        threshold, rate, error = matched
        decided = analog_sum_at(showers, pair, threshold, instrument)
        at = gamma_summary(showers, bins, {"matched": decided})["matched"]
        paired = discordant_showers(showers, bins, showers.triggered["nn"], decided)
        summary["analog_sum_at_nn_rate"] = {
            "threshold": threshold, "rate_hz": rate, "rate_error_hz": error, **at,
            "showers_nn_only": paired["first_only"], "showers_analog_sum_only": paired["second_only"],
        }
        m = at["energy_threshold_gev"]
        summary["threshold_ratio_at_nn_rate"] = n / m if m and n else None
    _threshold_errors(summary, showers, decided if matched is not None else None, **(resampling or {}))
    return summary


def _threshold_errors(summary, showers: ShowerResult, matched_decided, n_resamples=THRESHOLD_RESAMPLES, seed=0):
    """Adds each energy threshold's and each ratio's bootstrap error to ``summary`` (None where there is no value)."""
    decided = dict(showers.triggered)
    entries = {name: summary[name] for name in TRIGGERS}
    if matched_decided is not None:
        decided["matched"], entries["matched"] = matched_decided, summary["analog_sum_at_nn_rate"]
    boot = threshold_bootstrap(showers.run, decided, n_resamples, seed)
    for name, entry in entries.items():
        error = bootstrap_error(boot[name]) if entry["energy_threshold_gev"] is not None else None
        entry["energy_threshold_error_gev"] = None if error is None else error * 1e3
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = {"threshold_ratio": boot["nn"] / boot["analog_sum"]}
        if matched_decided is not None:
            ratios["threshold_ratio_at_nn_rate"] = boot["nn"] / boot["matched"]
    for key, values in ratios.items():
        summary[f"{key}_error"] = bootstrap_error(values) if summary.get(key) is not None else None
    summary["threshold_error_method"] = {
        "n_resamples": n_resamples, "seed": seed,
        "error": "half the 16-84 % interval of a paired bootstrap over the test gamma showers (same showers for "
                 "every trigger), thresholds recomputed as the nominal ones",
    }
