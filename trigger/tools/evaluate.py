"""``trigger-synth evaluate``: the NN trigger against the analog-sum baseline at equal accidental rate."""

from pathlib import Path

import numpy as np
from ctapipe.core import Provenance, ToolConfigurationError
from ctapipe.core.traits import Bool, Float, Int
from ctapipe.core.traits import Path as PathTrait

from lstcommon.files import OutputError, check_output_folder, write_json
from lstcommon.tool import CommandTool

from ..evaluation import THRESHOLD_RESAMPLES
from ..events import check_event_file
from ..instrument import LSTInstrument
from ..nn.model import read_config
from ..reports import format_evaluation
from ..simulation.source import PRIMARY_ID
from ..subset_simulation import MIN_WINDOWS, N_PER_LEVEL, RATE_MAX_RUNS, RATE_MIN_RUNS, RATE_PRECISION

__all__ = ["EvaluateTool"]

OUTPUTS = ("summary.json", "real_events.json", "efficiency.png", "rates.png")


class EvaluateTool(CommandTool):
    """Evaluate the NN trigger against the analog-sum baseline at equal accidental rate.

    Re-measures both operating points on NSB samples independent of
    training, runs both triggers and the 2-of-4 array trigger on simulated
    gamma (and proton) showers and on the real sim_telarray LST events, and
    writes OUTPUT/summary.json, OUTPUT/efficiency.png, OUTPUT/rates.png and
    OUTPUT/real_events.json. The energy thresholds' errors come from a paired
    bootstrap over the gamma showers; the real events are checked for the
    clear showers (10 counts over the analog-sum threshold) the NN misses.

    Example:

        trigger-synth evaluate --model model/ --gamma test/gamma.dl1.h5 --proton test/proton.dl1.h5 -o eval/
    """

    name = "trigger-synth evaluate"
    description = __doc__

    model = PathTrait(None, allow_none=True, help="Trigger model folder (trigger-synth train)").tag(config=True)
    gamma = PathTrait(None, allow_none=True, help="Simulated gamma file, not the training one").tag(config=True)
    proton = PathTrait(None, allow_none=True, help="Simulated proton file (optional)").tag(config=True)
    output = PathTrait(default_value=Path("trigger-evaluation"), directory_ok=True, file_ok=False, help="Output folder").tag(config=True)
    overwrite = Bool(False, help="Replace an earlier evaluation in the output folder").tag(config=True)
    progress = Bool(True, help="Show a progress bar over the evaluation's steps").tag(config=True)
    rate = Float(None, allow_none=True, help="Accidental rate per telescope, Hz (default: the model's operating point)").tag(config=True)
    nsb_rate = Float(None, allow_none=True, help="NSB per pixel in p.e./ns (default: the model's)").tag(config=True)
    nn_threshold = Float(
        None, allow_none=True, help="NN score threshold instead of the model's (e.g. one whose rate was counted: benchmarks/nn_rate_check.py)"
    ).tag(config=True)
    n_rate_samples = Int(100_000, help="Importance samples for the analog sum's and the gate's rates").tag(config=True)
    rate_runs = Int(
        RATE_MIN_RUNS, help="Independent subset simulations for the NN's rate (their scatter is the error); with "
                            "--rate-precision the least number, more are added until the precision is reached"
    ).tag(config=True)
    rate_precision = Float(
        RATE_PRECISION, help="Relative standard error the NN's rate is measured to (0: exactly --rate-runs runs)"
    ).tag(config=True)
    rate_max_runs = Int(RATE_MAX_RUNS, help="Most subset simulations --rate-precision may take").tag(config=True)
    rate_windows = Int(N_PER_LEVEL, help="NSB windows per level of each subset simulation").tag(config=True)
    real = Bool(True, help="Run both triggers on the real sim_telarray files of the data folder").tag(config=True)
    bins_per_decade = Int(5, help="Energy bins per decade for the efficiency").tag(config=True)
    seed = Int(12345, help="Seed of the rate samples and of the bootstrap (independent of training)").tag(config=True)
    threshold_resamples = Int(
        THRESHOLD_RESAMPLES, help="Bootstrap resamples of the gamma showers for the energy thresholds' errors"
    ).tag(config=True)

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
        "rate-precision": "EvaluateTool.rate_precision",
        "rate-max-runs": "EvaluateTool.rate_max_runs",
        "rate-windows": "EvaluateTool.rate_windows",
        "bins-per-decade": "EvaluateTool.bins_per_decade",
        "seed": "EvaluateTool.seed",
        "threshold-resamples": "EvaluateTool.threshold_resamples",
    }
    flags = {
        "no-real": ({"EvaluateTool": {"real": False}}, "Skip the real sim_telarray events"),
        "overwrite": ({"EvaluateTool": {"overwrite": True}}, "Replace an earlier evaluation in the output folder"),
        "no-progress": ({"EvaluateTool": {"progress": False}}, "Do not show the progress bar"),
    }

    def setup(self):
        self.refuse_extra_arguments()
        if self.model is None or self.gamma is None:
            raise ToolConfigurationError("give --model FOLDER and --gamma FILE")
        read_config(self.model)  # the model folder is complete and readable, before any work
        positive = lambda v: v is None or (np.isfinite(v) and v > 0)  # noqa: E731
        checks = [  # option, value, valid, what it must be
            ("--rate", self.rate, positive(self.rate), "a finite rate > 0 Hz"),
            ("--nsb-rate", self.nsb_rate, positive(self.nsb_rate), "a finite rate > 0 p.e./ns"),
            ("--nn-threshold", self.nn_threshold, self.nn_threshold is None or np.isfinite(self.nn_threshold), "finite"),
            ("--n-rate-samples", self.n_rate_samples, self.n_rate_samples >= 1000, "at least 1000"),
            ("--rate-runs", self.rate_runs, self.rate_runs >= 1, "at least 1"),
            ("--rate-precision", self.rate_precision, np.isfinite(self.rate_precision) and 0 <= self.rate_precision < 1,
             "a relative error in [0, 1) (0: no more runs than --rate-runs)"),
            ("--rate-max-runs", self.rate_max_runs, self.rate_max_runs >= self.rate_runs, f"at least --rate-runs ({self.rate_runs})"),
            ("--rate-windows", self.rate_windows, self.rate_windows >= MIN_WINDOWS, f"at least {MIN_WINDOWS}"),
            ("--bins-per-decade", self.bins_per_decade, self.bins_per_decade >= 1, "at least 1"),
            ("--seed", self.seed, self.seed >= 0, ">= 0"),
            # fewer leave a 16-84 % interval that is mostly its own noise
            ("--threshold-resamples", self.threshold_resamples, self.threshold_resamples >= 20, "at least 20"),
        ]
        for option, value, valid, requirement in checks:
            if not valid:
                raise ToolConfigurationError(f"{option} must be {requirement}, got {value}")
        self.output = Path(self.output)
        check_output_folder(self.output)
        existing = [self.output / name for name in OUTPUTS if (self.output / name).exists()]
        if existing and not self.overwrite:
            raise OutputError(f"{existing[0]}: an evaluation exists (use --overwrite to replace it)")
        instrument = LSTInstrument()
        check_event_file(self.gamma, instrument, "--gamma file", PRIMARY_ID["gamma"])
        if self.proton is not None:
            check_event_file(self.proton, instrument, "--proton file", PRIMARY_ID["proton"])

    def start(self):
        from ..nn.model import load_trigger
        from ..performance import evaluate

        model, config = load_trigger(self.model)
        self.result = evaluate(
            model, config, self.gamma, self.proton, target_hz=self.rate, nsb_ghz=self.nsb_rate,
            nn_threshold=self.nn_threshold, n_rate_samples=self.n_rate_samples, rate_runs=self.rate_runs,
            rate_windows=self.rate_windows, rate_precision=self.rate_precision or None, rate_max_runs=self.rate_max_runs, bins_per_decade=self.bins_per_decade, seed=self.seed,
            threshold_resamples=self.threshold_resamples, real=self.real, progress=self.progress,
        )
        self.result.summary["model"] = str(self.model)

    def finish(self):
        from ..plots import plot_efficiency, plot_rates

        summary = self.result.summary
        if self.result.real_events is not None:
            write_json(self.output / "real_events.json", self.result.real_events)
        else:  # an earlier evaluation's (--overwrite): it would not describe this one
            (self.output / "real_events.json").unlink(missing_ok=True)
        plot_efficiency(summary, self.output / "efficiency.png")
        plot_rates(self.result.rates, self.output / "rates.png")
        # last: summary.json is what scripts wait for
        write_json(self.output / "summary.json", summary)
        Provenance().add_input_file(str(self.gamma), role="gamma events")
        Provenance().add_output_file(str(self.output / "summary.json"), role="trigger evaluation")
        print(format_evaluation(summary, self.output))
