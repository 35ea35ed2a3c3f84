"""``trigger-synth``: the trigger toolkit's command line.

Each subcommand is a ctapipe Tool (traitlets configuration, ``--help``,
``--help-all``, provenance); ``trigger-synth SUBCOMMAND --help`` explains it.
"""

import json
import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import tables
from ctapipe.core import Provenance, Tool, ToolConfigurationError
from ctapipe.core.traits import Bool, Float, Int, List, Unicode, classes_with_traits
from ctapipe.core.traits import Path as PathTrait
from ctapipe.io import read_table

from .analog_sum import AnalogSumTrigger
from .events import read_trigger_events
from .hardware.tool import BuildTool
from .inputs import TriggerInput
from .instrument import InstrumentError
from .io import OutputError, atomic_output, convert_simtel, process_events
from .nn.model import CONFIG_FILE, TriggerModelError, load_trigger, save_trigger
from .nn.roi import RoiGeometry
from .nn.train import TrainingFailedError, TriggerTraining
from .paths import DataFolderError
from .performance import (
    TriggerPair,
    analog_sum_at,
    discordant_showers,
    evaluate_showers,
    gamma_summary,
    measure_rates,
    proton_summary,
    rate_matched_baseline,
    real_event_decisions,
    recalibrate,
)
from .plots import plot_efficiency, plot_rates
from .rates import NSBRateEstimator
from .simulation.source import PARTICLES, SimulationError, ToyEventSource
from .subset_simulation import MIN_WINDOWS, N_PER_LEVEL

# problems of the user's input: reported in one line, without a traceback
USER_ERRORS = (SimulationError, OutputError, DataFolderError, InstrumentError)

__all__ = ["SimulateTool", "TrainTool", "EvaluateTool", "main"]


class SimulateTool(Tool):
    """Simulate LST array events (gamma and proton showers, NSB-only windows).

    Writes one ctapipe HDF5 file per particle, ``OUTPUT/<particle>.dl1.h5``,
    holding R1 waveforms, DL1 images and parameters, true images and the
    simulated shower and trigger tables, then prints a summary.

    Example:

        trigger-synth simulate --particles gamma,proton,nsb --n-events 200 \\
            --energy-min "10 GeV" --energy-max "10 TeV" --seed 1 --output data/
    """

    name = "trigger-synth simulate"
    description = __doc__

    particles = List(
        Unicode(),
        default_value=list(PARTICLES),
        help="Particles to simulate, any of gamma, proton, nsb: --particles gamma,nsb or --particles gamma --particles nsb",
    ).tag(config=True)
    output = PathTrait(default_value=Path("simulated"), directory_ok=True, file_ok=False, help="Output folder").tag(config=True)
    overwrite = Bool(False, help="Replace existing output files").tag(config=True)
    progress = Bool(True, help="Show a progress bar").tag(config=True)

    aliases = {
        ("p", "particles"): "SimulateTool.particles",
        ("n", "n-events"): "ToyEventSource.n_events",
        "energy-min": "ToyEventSource.energy_min",
        "energy-max": "ToyEventSource.energy_max",
        "spectral-index": "ToyEventSource.spectral_index",
        "max-impact": "ToyEventSource.max_impact",
        "viewcone": "ToyEventSource.viewcone",
        "nsb-rate": "ToyEventSource.nsb_rate",
        "n-telescopes": "ToyEventSource.n_telescopes",
        "min-true-pe": "ToyEventSource.min_true_pe",
        "seed": "ToyEventSource.seed",
        "data-dir": "ToyEventSource.data_dir",
        ("o", "output"): "SimulateTool.output",
    }
    flags = {
        "overwrite": ({"SimulateTool": {"overwrite": True}}, "Replace existing output files"),
        "no-progress": ({"SimulateTool": {"progress": False}}, "Do not show progress bars"),
    }
    classes = classes_with_traits(ToyEventSource)

    def setup(self):
        if self.extra_args:
            raise ToolConfigurationError(
                f"unexpected arguments {self.extra_args}; give several particles as "
                "--particles gamma,proton or --particles gamma --particles proton"
            )
        particles = [p.strip().lower() for item in self.particles for p in item.split(",") if p.strip()]
        unknown = sorted(set(particles) - set(PARTICLES))
        if unknown or not particles:
            raise ToolConfigurationError(f"unknown particle(s) {unknown or particles}; choose from {', '.join(PARTICLES)}")
        self.output = Path(self.output)
        try:
            self.sources = [ToyEventSource(parent=self, particle=p) for p in dict.fromkeys(particles)]
        except USER_ERRORS as err:
            raise ToolConfigurationError(str(err)) from err
        self.outputs = [self.output / f"{s.particle}.dl1.h5" for s in self.sources]
        existing = [str(p) for p in self.outputs if p.exists()]
        if existing and not self.overwrite:
            raise ToolConfigurationError(f"output files exist: {', '.join(existing)} (use --overwrite)")

    def start(self):
        try:
            self._simulate()
        except OutputError as err:
            raise ToolConfigurationError(str(err)) from err

    def _simulate(self):
        self.summary = {}
        for source, path in zip(self.sources, self.outputs):
            t0 = time.perf_counter()
            counts = process_events(source, path, overwrite=self.overwrite, progress=self.progress, parent=self)
            wall = time.perf_counter() - t0
            self.summary[source.particle] = summarize_file(path) | counts | {
                "wall_s": round(wall, 2),
                "events_per_s": round(counts["events"] / wall, 2) if wall > 0 else None,
            }
            Provenance().add_output_file(str(path), role="simulated events")

    def finish(self):
        # runs with different settings per particle share one summary
        path = self.output / "summary.json"
        summary = json.loads(path.read_text()) if path.is_file() else {}
        summary.update(self.summary)
        summary = {p: summary[p] for p in PARTICLES if p in summary and Path(summary[p]["file"]).is_file()}
        with atomic_output(path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(summary, indent=2))
        print(format_summary(summary, self.output))


def summarize_file(path) -> dict:
    """Counts and image statistics of one simulated file."""
    path = Path(path)
    shower = read_table(path, "/simulation/event/subarray/shower")
    trigger = read_table(path, "/dl1/event/subarray/trigger")
    n_tels = np.asarray(trigger["tels_with_trigger"]).sum(axis=1) if len(trigger) else np.empty(0)
    true_sizes, cleaned = [], 0
    with tables.open_file(path) as h5:
        group = "/simulation/event/telescope/images"
        names = list(h5.get_node(group)._v_children) if group in h5 else []
    for name in names:
        true_sizes.append(np.asarray(read_table(path, f"{group}/{name}")["true_image_sum"]))
        params = read_table(path, f"/dl1/event/telescope/parameters/{name}")
        cleaned += int(np.count_nonzero(np.isfinite(params["hillas_intensity"])))
    true_sizes = np.concatenate(true_sizes) if true_sizes else np.empty(0)
    energy = u.Quantity(shower["true_energy"]).to_value(u.TeV)
    finite = energy[np.isfinite(energy)]
    return {
        "file": str(path),
        "size_mb": round(path.stat().st_size / 1e6, 2),
        "showers": len(shower),
        "events_with_telescopes": int(np.count_nonzero(n_tels)),
        "mean_multiplicity": round(float(n_tels[n_tels > 0].mean()), 2) if np.any(n_tels) else 0.0,
        "energy_tev": [float(finite.min()), float(finite.max())] if len(finite) else None,
        "median_true_size_pe": float(np.median(true_sizes)) if len(true_sizes) else None,
        "images_surviving_cleaning": cleaned,
    }


def format_summary(summary, output) -> str:
    lines = [f"Simulated LST events in {output}/", ""]
    header = (
        f"{'particle':8} {'events':>7} {'w/ tels':>7} {'tel-ev':>7} {'mult':>5} {'cleaned':>7} "
        f"{'med. true p.e.':>14} {'E range [TeV]':>15} {'MB':>7} {'ev/s':>6}"
    )
    lines += [header, "-" * len(header)]
    for particle, s in summary.items():
        e = s["energy_tev"]
        erange = f"{e[0]:.3g}-{e[1]:.3g}" if e else "-"
        size = f"{s['median_true_size_pe']:.0f}" if s["median_true_size_pe"] is not None else "-"
        lines.append(
            f"{particle:8} {s['events']:>7} {s['events_with_telescopes']:>7} {s['telescope_events']:>7} "
            f"{s['mean_multiplicity']:>5} {s['images_surviving_cleaning']:>7} {size:>14} {erange:>15} "
            f"{s['size_mb']:>7} {s['events_per_s']:>6}"
        )
    lines += ["", "w/ tels: events with at least one telescope read out; mult: telescopes per such event;",
              "cleaned: telescope images that survive tailcuts cleaning (ctapipe defaults)."]
    return "\n".join(lines)


class TrainTool(Tool):
    """Train the NN trigger on simulated gammas and set both triggers' operating points.

    Chooses the analog-sum gate from its NSB rate, trains a quantized (HGQ2)
    network on the gate candidates' ROIs (gammas versus importance-sampled
    NSB), and sets the baseline and NN thresholds at the same accidental rate.
    Writes OUTPUT/model.keras and OUTPUT/trigger.json.

    Example:

        trigger-synth simulate --particles gamma --n-events 1500 --energy-max "1 TeV" -o data/
        trigger-synth train --gamma data/gamma.dl1.h5 --output model/
    """

    name = "trigger-synth train"
    description = __doc__

    gamma = PathTrait(exists=True, directory_ok=False, help="Simulated gamma file (trigger-synth simulate)").tag(config=True)
    output = PathTrait(default_value=Path("trigger-model"), directory_ok=True, file_ok=False, help="Model folder").tag(config=True)
    nsb_rate = Float(None, allow_none=True, help="NSB per pixel in p.e./ns (default: LSTN-01 dark sky)").tag(config=True)
    overwrite = Bool(False, help="Replace an existing model folder's files").tag(config=True)
    progress = Bool(True, help="Show training progress").tag(config=True)

    aliases = {
        "gamma": "TrainTool.gamma",
        ("o", "output"): "TrainTool.output",
        "nsb-rate": "TrainTool.nsb_rate",
        "rate": "TriggerTraining.accidental_rate",
        "gate-rate": "TriggerTraining.gate_rate",
        "epochs": "TriggerTraining.epochs",
        "hidden": "TriggerTraining.hidden",
        "module-features": "TriggerTraining.module_features",
        "clip-bits": "TriggerTraining.clip_bits",
        "nsb-weighting": "TriggerTraining.nsb_weighting",
        "n-nsb-examples": "TriggerTraining.n_nsb_examples",
        "n-calibration": "TriggerTraining.n_calibration",
        "calibration-runs": "TriggerTraining.calibration_runs",
        "calibration-windows": "TriggerTraining.calibration_windows",
        "hard-negative-rounds": "TriggerTraining.hard_negative_rounds",
        "hard-negative-epochs": "TriggerTraining.hard_negative_epochs",
        "hard-negative-weight": "TriggerTraining.hard_negative_weight",
        "candidates": "TriggerTraining.candidates",
        "seed": "TriggerTraining.seed",
        "bits": "TriggerInput.bits",
        "gain": "TriggerInput.gain",
    }
    flags = {
        "overwrite": ({"TrainTool": {"overwrite": True}}, "Replace existing model files"),
        "no-progress": ({"TrainTool": {"progress": False}}, "Do not print training progress"),
    }
    classes = [TriggerTraining, TriggerInput]

    def setup(self):
        _no_extra(self)
        if self.gamma is None:
            raise ToolConfigurationError("give the simulated gamma file with --gamma FILE")
        self.output = Path(self.output)
        if (self.output / CONFIG_FILE).exists() and not self.overwrite:
            raise ToolConfigurationError(f"{self.output} already holds a trigger model (use --overwrite)")
        try:
            self.trigger_input = TriggerInput(parent=self)
            self.training = TriggerTraining(parent=self, trigger_input=self.trigger_input, nsb_rate=self.nsb_rate)
        except (ValueError, *USER_ERRORS) as err:
            raise ToolConfigurationError(str(err)) from err

    def start(self):
        try:
            events = read_trigger_events(self.gamma, self.trigger_input, with_true_image=True)
            self.trained = self.training.train(events, progress=self.progress)
        except (ValueError, OSError, TrainingFailedError) as err:
            raise ToolConfigurationError(f"training failed: {err}") from err
        self.trained.config["training"]["gamma_file"] = str(self.gamma)
        save_trigger(self.output, self.trained.model, self.trained.config)
        Provenance().add_input_file(str(self.gamma), role="gamma events")
        Provenance().add_output_file(str(self.output / CONFIG_FILE), role="trigger model")

    def finish(self):
        print(format_model(self.trained.config, self.output))


class EvaluateTool(Tool):
    """Evaluate the NN trigger against the analog-sum baseline at equal accidental rate.

    Re-measures both operating points on NSB samples independent of
    training, runs both triggers and the 2-of-4 array trigger on simulated
    gamma (and proton) showers and on the real sim_telarray LST events, and
    writes OUTPUT/summary.json, OUTPUT/efficiency.png, OUTPUT/rates.png and
    OUTPUT/real_events.json.

    Example:

        trigger-synth evaluate --model model/ --gamma test/gamma.dl1.h5 --proton test/proton.dl1.h5 -o eval/
    """

    name = "trigger-synth evaluate"
    description = __doc__

    model = PathTrait(exists=True, file_ok=False, directory_ok=True, help="Trigger model folder (trigger-synth train)").tag(config=True)
    gamma = PathTrait(exists=True, directory_ok=False, help="Simulated gamma file, not the training one").tag(config=True)
    proton = PathTrait(None, allow_none=True, exists=True, directory_ok=False, help="Simulated proton file (optional)").tag(config=True)
    output = PathTrait(default_value=Path("trigger-evaluation"), directory_ok=True, file_ok=False, help="Output folder").tag(config=True)
    rate = Float(None, allow_none=True, help="Accidental rate per telescope, Hz (default: the model's operating point)").tag(config=True)
    nsb_rate = Float(None, allow_none=True, help="NSB per pixel in p.e./ns (default: the model's)").tag(config=True)
    nn_threshold = Float(
        None, allow_none=True, help="NN score threshold instead of the model's (e.g. one whose rate was counted: benchmarks/nn_rate_check.py)"
    ).tag(config=True)
    n_rate_samples = Int(100_000, help="Importance samples for the analog sum's and the gate's rates").tag(config=True)
    rate_runs = Int(4, help="Independent subset simulations for the NN's rate (their scatter is the error)").tag(config=True)
    rate_windows = Int(N_PER_LEVEL, help="NSB windows per level of each subset simulation").tag(config=True)
    real = Bool(True, help="Run both triggers on the real sim_telarray files of the data folder").tag(config=True)
    bins_per_decade = Int(5, help="Energy bins per decade for the efficiency").tag(config=True)
    seed = Int(12345, help="Seed of the rate samples (independent of training)").tag(config=True)

    aliases = {
        "model": "EvaluateTool.model",
        "gamma": "EvaluateTool.gamma",
        "proton": "EvaluateTool.proton",
        ("o", "output"): "EvaluateTool.output",
        "rate": "EvaluateTool.rate",
        "nsb-rate": "EvaluateTool.nsb_rate",
        "nn-threshold": "EvaluateTool.nn_threshold",
        "n-rate-samples": "EvaluateTool.n_rate_samples",
        "rate-runs": "EvaluateTool.rate_runs",
        "rate-windows": "EvaluateTool.rate_windows",
        "seed": "EvaluateTool.seed",
    }
    flags = {
        "no-real": ({"EvaluateTool": {"real": False}}, "Skip the real sim_telarray events"),
    }

    def setup(self):
        _no_extra(self)
        if self.model is None or self.gamma is None:
            raise ToolConfigurationError("give --model FOLDER and --gamma FILE")
        try:
            self.nn_model, self.model_config = load_trigger(self.model)
        except TriggerModelError as err:
            raise ToolConfigurationError(str(err)) from err
        self.trigger_input = TriggerInput.from_description(self.model_config["input"])
        self.instrument = self.trigger_input.instrument
        point = self.model_config["operating_point"]
        self.nsb = point["nsb_rate_ghz"] if self.nsb_rate is None else self.nsb_rate
        self.target = point["target_rate_hz"] if self.rate is None else self.rate
        if self.rate_runs < 1 or self.rate_windows < MIN_WINDOWS:
            raise ToolConfigurationError(f"need --rate-runs >= 1 and --rate-windows >= {MIN_WINDOWS}, got "
                                         f"{self.rate_runs} and {self.rate_windows}")
        self.output = Path(self.output)
        self.output.mkdir(parents=True, exist_ok=True)

    def start(self):
        rng = np.random.default_rng(self.seed)
        asum = AnalogSumTrigger(parent=self, instrument=self.instrument)
        geometry = RoiGeometry(**self.model_config["roi"])
        point = self.model_config["operating_point"]
        pair = TriggerPair(asum, point["analog_sum"]["threshold"], self.nn_model, geometry, point["nn"]["threshold"])
        estimator = NSBRateEstimator(self.trigger_input, self.nsb)
        same_point = np.isclose(self.nsb, point["nsb_rate_ghz"]) and np.isclose(self.target, point["target_rate_hz"])
        if not same_point:
            self.log.info("recalibrating both thresholds for %.4g Hz at NSB %.4g p.e./ns", self.target, self.nsb)
            pair = recalibrate(estimator, pair, self.target, self.n_rate_samples, rng, self.rate_runs, self.rate_windows)
        if self.nn_threshold is not None:
            pair = TriggerPair(asum, pair.threshold, self.nn_model, geometry, self.nn_threshold)
        self.log.info("measuring rates: %d importance samples, %d subset simulations", self.n_rate_samples, self.rate_runs)
        rates = measure_rates(estimator, pair, self.n_rate_samples, rng, n_runs=self.rate_runs, n_per_level=self.rate_windows)
        rates["analog_sum"]["threshold"], rates["nn"]["threshold"] = pair.threshold, pair.nn_threshold
        rates["nsb_rate_ghz"] = self.nsb

        self.log.info("gamma showers: %s", self.gamma)
        gamma = evaluate_showers(self.gamma, pair, self.trigger_input, self.instrument)
        run = gamma.run
        decades = np.log10(run.energy_max / run.energy_min)
        bins = np.logspace(np.log10(run.energy_min), np.log10(run.energy_max), max(int(round(decades * self.bins_per_decade)), 1) + 1)
        per_trigger = gamma_summary(gamma, bins)
        summary = {
            "accidental_rate_hz": float(rates["analog_sum"]["rate_hz"]),
            "target_rate_hz": self.target,
            "nsb_rate_ghz": self.nsb,
            "energy_bins_gev": (bins * 1e3).tolist(),
            "gate": rates["gate"],
            "model": str(self.model),
            "gamma_file": str(self.gamma),
            "array_trigger": "2 of 4 LSTs within 120 ns (plane-front corrected)",
        }
        for name in ("analog_sum", "nn"):
            summary[name] = {
                "threshold": rates[name]["threshold"],
                "rate_hz": rates[name]["rate_hz"],
                "rate_error_hz": rates[name]["rate_error_hz"],
                **({"rate_runs_hz": rates[name]["runs_hz"]} if "runs_hz" in rates[name] else {}),
                "energy_bins_gev": summary["energy_bins_gev"],
                **per_trigger[name],
            }
        a, n = summary["analog_sum"]["energy_threshold_gev"], summary["nn"]["energy_threshold_gev"]
        summary["threshold_ratio"] = n / a if a and n else None
        matched = rate_matched_baseline(rates)
        if matched is not None:
            threshold, rate, error = matched
            decided = analog_sum_at(gamma, pair, threshold, self.instrument)
            at = gamma_summary(gamma, bins, {"matched": decided})["matched"]
            paired = discordant_showers(gamma, bins, gamma.triggered["nn"], decided)
            summary["analog_sum_at_nn_rate"] = {
                "threshold": threshold, "rate_hz": rate, "rate_error_hz": error, **at,
                "showers_nn_only": paired["first_only"], "showers_analog_sum_only": paired["second_only"],
            }
            m = at["energy_threshold_gev"]
            summary["threshold_ratio_at_nn_rate"] = n / m if m and n else None
        if self.proton is not None:
            self.log.info("proton showers: %s", self.proton)
            summary["proton"] = proton_summary(evaluate_showers(self.proton, pair, self.trigger_input, self.instrument))
        if self.real:
            summary["real_events"] = self._real_events(pair)
        summary["rates"] = rates["scan"]
        self.summary = summary
        with atomic_output(self.output / "summary.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps(summary, indent=2) + "\n")
        plot_efficiency(summary, self.output / "efficiency.png")
        plot_rates(rates, self.output / "rates.png")
        Provenance().add_output_file(str(self.output / "summary.json"), role="trigger evaluation")

    def _real_events(self, pair):
        """Both triggers on the LST events of every real sim_telarray file that has them."""
        folder = Path(self.instrument.data_path) / "simtel"
        converted = self.output / "real"
        converted.mkdir(exist_ok=True)
        result = {}
        for path in sorted(folder.glob("*.simtel*")):
            target = converted / (path.name.split(".simtel")[0] + ".dl1.h5")
            try:
                if not target.exists():
                    convert_simtel(path, target, progress=False)
                rows = real_event_decisions(target, pair, self.trigger_input)
            except (ValueError, OSError, KeyError) as err:
                self.log.warning("real file %s skipped: %s", path.name, err)
                result[path.name] = {"error": str(err)}
                continue
            result[path.name] = {
                "telescope_events": len(rows),
                "analog_sum_triggers": sum(r["analog_sum"] for r in rows),
                "nn_triggers": sum(r["nn"] for r in rows),
                "events": rows,
            }
        with atomic_output(self.output / "real_events.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps(result, indent=2) + "\n")
        return {k: {kk: vv for kk, vv in v.items() if kk != "events"} for k, v in result.items()}

    def finish(self):
        print(format_evaluation(self.summary, self.output))


def _no_extra(tool):
    if tool.extra_args:
        raise ToolConfigurationError(f"unexpected arguments {tool.extra_args}")


def format_model(config, output) -> str:
    point = config["operating_point"]
    a, n = point["analog_sum"], point["nn"]
    return "\n".join([
        f"Trigger model in {output}/",
        f"  input: {config['input']['bits']}-bit module sums, gain {config['input']['gain']} counts/p.e., "
        f"ROI {config['roi']['n_before'] + config['roi']['n_after']} samples x 3 modules",
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
        e = s["energy_threshold_gev"]
        lines.append(
            f"{name:10} threshold {s['threshold']:<10.5g} NSB rate {s['rate_hz']:8.3g} ± {s['rate_error_hz']:.2g} Hz   "
            f"energy threshold {f'{e:.1f} GeV' if e else 'n/a'}"
        )
    ratio = summary["threshold_ratio"]
    lines.append(f"threshold_ratio (NN / analog sum) = {ratio:.3f}" if ratio else "threshold_ratio: n/a")
    runs = summary["nn"].get("rate_runs_hz")
    if runs:
        lines.append(f"NN rate: mean of {len(runs)} independent subset simulations, from {min(runs):.3g} to {max(runs):.3g} Hz "
                     "(the error is their scatter)")
    matched = summary.get("analog_sum_at_nn_rate")
    if matched:
        e, r = matched["energy_threshold_gev"], summary.get("threshold_ratio_at_nn_rate")
        lines.append(
            f"analog sum at the NN's measured rate: threshold {matched['threshold']}, {matched['rate_hz']:.3g} ± "
            f"{matched['rate_error_hz']:.2g} Hz, energy threshold {f'{e:.1f} GeV' if e else 'n/a'}, "
            f"ratio {f'{r:.3f}' if r else 'n/a'}"
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
    return "\n".join(lines)


SUBCOMMANDS = {
    "simulate": SimulateTool,
    "train": TrainTool,
    "evaluate": EvaluateTool,
    "build": BuildTool,
}

USAGE = """usage: trigger-synth SUBCOMMAND [options]

Neural-network triggers for the LST camera.

subcommands:
  simulate   simulate LST events (gamma, proton, NSB-only) into ctapipe HDF5 files
  train      train the NN trigger and set both triggers' thresholds at equal NSB rate
  evaluate   compare the NN trigger with the analog-sum baseline (efficiency, energy threshold, rates)
  build      hls4ml project, da4ml Verilog, bit-exact checks, estimates and report.json of a trained trigger model

Run 'trigger-synth SUBCOMMAND --help' for the options of a subcommand.
"""


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"trigger-synth: unknown subcommand {name!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    tool = SUBCOMMANDS[name]()
    try:
        tool.run(rest)
    except SystemExit as exit_:
        return exit_.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
