"""Training the second-level network and setting both triggers' operating points.

One call does what the hardware needs: choose the gate from its NSB rate,
build signal (gamma) and background (importance-sampled NSB) ROIs at the
gate, train the HGQ2 network with the EBOPs penalty ramped up over the
epochs, then set the baseline threshold (importance sampling) and the NN
threshold (subset simulation) at the same accidental rate, on NSB windows the
network never saw. With several candidates, the network kept is the one
that keeps most held-out gamma ROIs at its own threshold.
"""

import logging
import time
from functools import cached_property

import astropy.units as u
import numpy as np
from ctapipe.core import Component
from ctapipe.core.traits import CaselessStrEnum, Float, Int, List, Unicode

from lstcommon import UserError
from lstcommon.progress import Steps

from ..analog_sum import AnalogSumTrigger
from ..events import TriggerEvents
from ..inputs import TriggerInput
from ..operating_point import analog_sum_threshold, gate_threshold, nn_subset_threshold
from ..rates import NSBRateEstimator
from ..subset_simulation import MIN_WINDOWS, N_PER_LEVEL, SubsetSimulation
from .dataset import Examples, accepted_nsb_examples, gamma_examples, nsb_examples
from .model import build_model, ebops, score_function
from .roi import VIEWS, RoiGeometry

__all__ = ["TriggerTraining", "TrainedTrigger", "TrainingFailedError", "TrainingSettingsError"]

log = logging.getLogger(__name__)


class TrainedTrigger:
    """A trained network with everything needed to run it: saved as one folder."""

    def __init__(self, model, config):
        self.model = model
        self.config = config

    @property
    def geometry(self) -> RoiGeometry:
        return RoiGeometry(**self.config["roi"])

    @cached_property
    def score(self):
        # one traced graph per network: tracing it anew on every use made TensorFlow warn of excessive retracing
        return score_function(self.model)


class TrainingSettingsError(UserError, ValueError):
    """Training settings that cannot work (no epochs, negative seed, an impossible rate)."""


class TrainingFailedError(UserError, RuntimeError):
    """Every training run ended at chance (a dead network): nothing to calibrate or save."""


class TriggerTraining(Component):
    """Train an ROI network behind an analog-sum gate and calibrate it to an accidental rate."""

    hidden = List(Int(), default_value=[8], help="Units of the hidden ReLU layers after the module layer").tag(config=True)
    module_features = Int(
        4, help="Features per module of a first layer shared by the ROI's modules (0: plain dense first layer)"
    ).tag(config=True)
    clip_bits = Int(
        5,
        help="The network sees min(count, 2**clip_bits - 1): with the pedestal at 16 counts, 5 bits keep 15 counts "
        "(3.75 p.e.) of excess per module sample; 0: the full input range",
    ).tag(config=True)
    epochs = Int(40, help="Training epochs").tag(config=True)
    batch_size = Int(256, help="Batch size").tag(config=True)
    learning_rate = Float(3e-3, help="Adam learning rate").tag(config=True)
    beta_start = Float(1e-7, help="EBOPs penalty at the first epoch").tag(config=True)
    beta_end = Float(1e-5, help="EBOPs penalty at the last epoch (ramped geometrically)").tag(config=True)
    gate_rate = Float(1e7, help="NSB rate of the gate (first level), Hz per telescope").tag(config=True)
    accidental_rate = Float(1e3, help="Operating point: NSB accidental rate per telescope, Hz").tag(config=True)
    n_before = Int(10, help="ROI samples before the gate candidate").tag(config=True)
    n_after = Int(6, help="ROI samples from the gate candidate on").tag(config=True)
    view = CaselessStrEnum(
        list(VIEWS), default_value="group",
        help="Modules the network sees per candidate: 'group' (the group's 3) or 'ring' (those and the 9 around them)",
    ).tag(config=True)
    min_true_pe = Int(10, help="Signal: gate candidates whose 21 pixels hold at least this many true p.e.").tag(config=True)
    n_nsb_examples = Int(
        400_000, help="Importance samples drawn for NSB (background) examples (~9 % open the gate; their weights' effective size ~1 %)"
    ).tag(config=True)
    n_calibration = Int(100_000, help="Importance samples for the gate and analog-sum operating points").tag(config=True)
    calibration_runs = Int(4, help="Independent subset simulations setting the NN threshold (their scatter is the error)").tag(
        config=True
    )
    calibration_windows = Int(N_PER_LEVEL, help="NSB windows per level of each subset simulation").tag(config=True)
    nsb_weighting = Unicode(
        "true", help="'tilted': NSB examples as sampled (weights the tail the threshold cuts into); 'true': NSB distribution"
    ).tag(config=True)
    hard_negative_rounds = Int(
        0, help="Rounds of fine-tuning on the NSB windows the network accepts at the operating point (subset simulation)"
    ).tag(config=True)
    hard_negative_epochs = Int(10, help="Epochs of each hard-negative round").tag(config=True)
    hard_negative_weight = Float(
        1.0, help="Total weight of the accepted NSB windows, relative to the other NSB training examples"
    ).tag(config=True)
    candidates = Int(
        1, help="Networks trained from consecutive seeds; the one that keeps most held-out gamma ROIs at its own "
        "calibrated threshold is saved (trainings differ far more than their rates' errors: docs/trigger.md)"
    ).tag(config=True)
    seed = Int(0, help="Seed of sampling and training (candidate i uses seed + i)").tag(config=True)
    restarts = Int(2, help="Retrainings from the next seeds when a run ends below min_val_accuracy").tag(config=True)
    min_val_accuracy = Float(0.6, help="Weighted validation accuracy below which a training run counts as failed").tag(
        config=True
    )

    def __init__(self, config=None, parent=None, trigger_input=None, nsb_rate=None, **kwargs):
        super().__init__(config=config, parent=parent, **kwargs)
        self.trigger_input = trigger_input if trigger_input is not None else TriggerInput(parent=self)
        self._validate()
        # p.e./ns per pixel; the instrument gives it as a Quantity
        nsb = nsb_rate if nsb_rate is not None else self.trigger_input.instrument.nsb_rate
        self.nsb_rate = float(u.Quantity(nsb, 1 / u.ns).to_value(1 / u.ns))
        if not (np.isfinite(self.nsb_rate) and self.nsb_rate > 0):
            raise TrainingSettingsError(f"--nsb-rate must be a finite rate > 0 p.e./ns, got {nsb}")
        self.estimator = NSBRateEstimator(self.trigger_input, self.nsb_rate)
        self.analog_sum = AnalogSumTrigger(parent=self, instrument=self.trigger_input.instrument)

    def _validate(self):
        """Refuse impossible settings before minutes of sampling and training."""
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "n_nsb_examples": self.n_nsb_examples,
                    "n_calibration": self.n_calibration, "candidates": self.candidates}
        for name, value in positive.items():
            if value < 1:
                raise TrainingSettingsError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if not self.hidden or min(self.hidden) < 1:
            raise TrainingSettingsError(f"--hidden needs at least one layer of at least 1 unit, got {list(self.hidden)}")
        if self.seed < 0:
            raise TrainingSettingsError(f"--seed must be >= 0, got {self.seed}")
        if self.nsb_weighting not in ("tilted", "true"):
            raise TrainingSettingsError(f"--nsb-weighting must be 'tilted' or 'true', got {self.nsb_weighting!r}")
        if self.calibration_runs < 1 or self.calibration_windows < MIN_WINDOWS:
            raise TrainingSettingsError(f"need --calibration-runs >= 1 and --calibration-windows >= {MIN_WINDOWS}, got "
                                        f"{self.calibration_runs} and {self.calibration_windows}")
        if self.hard_negative_rounds < 0 or (self.hard_negative_rounds and self.hard_negative_epochs < 1):
            raise TrainingSettingsError(f"need --hard-negative-rounds >= 0 and --hard-negative-epochs >= 1, got "
                                        f"{self.hard_negative_rounds} and {self.hard_negative_epochs}")
        if not 0 < self.accidental_rate < self.gate_rate:
            raise TrainingSettingsError(f"need 0 < --rate ({self.accidental_rate}) < --gate-rate ({self.gate_rate})")
        if self.module_features < 0:
            raise TrainingSettingsError(f"--module-features must be >= 0, got {self.module_features}")
        if self.clip_bits and not self.trigger_input.pedestal < 2**self.clip_bits - 1 <= 2**self.trigger_input.bits - 1:
            raise TrainingSettingsError(
                f"--clip-bits {self.clip_bits} clips at {2**self.clip_bits - 1} counts: it must lie above the pedestal "
                f"({self.trigger_input.pedestal}) and within the {self.trigger_input.bits}-bit input"
            )

    def operating_points(self, rng, n_samples):
        """Gate and baseline threshold from one set of importance samples spanning both."""
        samples = self.estimator.sample(n_samples, self.estimator.thetas_for([50, 120], n_components=8), rng)
        gate = gate_threshold(self.estimator, samples, self.gate_rate)
        baseline = analog_sum_threshold(self.estimator, samples, self.accidental_rate)
        return gate, baseline

    def examples(self, gamma: TriggerEvents, geometry, rng) -> Examples:
        signal = gamma_examples(gamma, geometry, self.analog_sum, self.min_true_pe, pedestal=self.trigger_input.pedestal)
        background = nsb_examples(self.estimator, geometry, self.n_nsb_examples, rng)
        if len(signal) == 0 or len(background) == 0:
            raise ValueError(f"no training examples: {len(signal)} gamma and {len(background)} NSB ROIs at gate {geometry.gate}")
        if self.nsb_weighting == "tilted":
            background.weights = np.ones(len(background))
        # equal total weight per class
        signal.weights = signal.weights * (len(signal) + len(background)) / (2 * signal.weights.sum())
        background.weights = background.weights * (len(signal) + len(background)) / (2 * background.weights.sum())
        return Examples.concatenate([signal, background])

    def _fit(self, geometry, x, y, weights, train, val, seed, progress):
        import keras
        from hgq.utils.sugar import BetaScheduler

        model = build_model(
            geometry.n_inputs, self.trigger_input.bits, tuple(self.hidden), self.beta_start, seed, self.module_features,
            clip_bits=self.clip_bits or None, n_modules=geometry.n_modules,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
            weighted_metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
        )
        ratio = self.beta_end / self.beta_start
        schedule = BetaScheduler(lambda epoch: self.beta_start * ratio ** (epoch / max(self.epochs - 1, 1)))
        return model, self._epochs(model, x[train], y[train], weights[train], (x[val], y[val], weights[val]), self.epochs,
                                   schedule, progress)

    def _epochs(self, model, x, y, weights, validation, epochs, schedule, progress):
        from hgq.utils.sugar import FreeEBOPs

        return model.fit(x, y, sample_weight=weights, validation_data=validation, epochs=epochs, batch_size=self.batch_size,
                         verbose=2 if progress else 0, callbacks=[schedule, FreeEBOPs()])

    def _hard_negative_rounds(self, model, geometry, x, y, weights, validation, rate_hz, rng, progress):
        """Fine-tune on the NSB windows the network accepts at ``rate_hz``, found anew after each round (the
        network's accepted tail moves as it learns to reject it); every round's windows are kept."""
        from hgq.utils.sugar import BetaScheduler

        background_weight = weights[y[:, 0] == 0].sum()
        found, rounds, history = [], [], None
        for r in range(self.hard_negative_rounds):
            t0 = time.perf_counter()
            simulation = SubsetSimulation(self.estimator, geometry, score_function(model), n_per_level=self.calibration_windows)
            found.append(accepted_nsb_examples(simulation, rate_hz, rng))
            for part in found:  # each round's windows an equal share of the hard-negative weight
                part.weights = part.weights / part.weights.sum() * self.hard_negative_weight * background_weight / len(found)
            hard = Examples.concatenate(found)
            history = self._epochs(
                model, np.concatenate([x, hard.rois.astype(np.float32)]), np.concatenate([y, hard.labels.astype(np.float32)[:, None]]),
                np.concatenate([weights, hard.weights]), validation, self.hard_negative_epochs,
                BetaScheduler(lambda epoch: self.beta_end), progress,
            )
            rounds.append({"accepted_windows": len(found[-1]), "seconds": time.perf_counter() - t0})
            log.info("hard-negative round %d: %d accepted NSB windows (%.0f s)", r + 1, len(found[-1]), rounds[-1]["seconds"])
        return history, rounds

    def _networks(self, geometry, x, y, weights, train, val, progress):
        """``candidates`` trained networks (model, history, seed), from consecutive seeds.

        A ReLU network can die in training (every unit off for every ROI, one
        constant score): such a run ends near chance on the validation set and
        is replaced by one from the next seed, up to ``restarts`` times. Also
        returns every run's seed and validation accuracy.
        """
        attempts, networks, failed = [], [], 0
        seed = self.seed
        while len(networks) < self.candidates:
            model, history = self._fit(geometry, x, y, weights, train, val, seed, progress)
            accuracy = float(history.history["val_binary_accuracy"][-1])
            attempts.append({"seed": seed, "val_binary_accuracy": accuracy})
            if accuracy >= self.min_val_accuracy:
                networks.append((model, history, seed))
            else:
                failed += 1
                log.warning("training with seed %d ended at validation accuracy %.2f (< %.2f)%s", seed, accuracy,
                            self.min_val_accuracy, ": retrying with another seed" if failed <= self.restarts else "")
                if failed > self.restarts:
                    break
            seed += 1
        if not networks:
            # a network at chance has no threshold with a meaningful rate: a model saved anyway would trigger never or always
            raise TrainingFailedError(
                f"every training run ended below {self.min_val_accuracy:.2f} weighted validation accuracy "
                f"({', '.join(f'seed {a['seed']}: {a['val_binary_accuracy']:.2f}' for a in attempts)}); "
                "try other --seed, more --epochs or more --n-nsb-examples"
            )
        return networks, attempts

    def train(self, gamma: TriggerEvents, progress=True) -> TrainedTrigger:
        rng = np.random.default_rng(self.seed)
        t0 = time.perf_counter()
        n_steps = 3 + self.candidates + (self.candidates > 1)
        with Steps(n_steps, "train", progress, log) as steps:
            steps.start("gate and baseline thresholds (importance sampling)")
            gate, baseline = self.operating_points(rng, self.n_calibration)
            geometry = RoiGeometry(gate, self.n_before, self.n_after, self.view)
            log.info("gate %d counts (%.3g Hz), baseline threshold %d counts (%.3g Hz)", gate, self.gate_rate,
                     baseline.threshold, baseline.rate_hz)
            steps.done()
            steps.start("training examples")
            data = self.examples(gamma, geometry, rng)
            log.info("%d gamma and %d NSB training ROIs (%.0f s)", (data.labels == 1).sum(), (data.labels == 0).sum(),
                     time.perf_counter() - t0)
            order = rng.permutation(len(data))
            n_val = max(len(data) // 5, 1)
            val, train = order[:n_val], order[n_val:]
            x = data.rois.astype(np.float32)
            y = data.labels.astype(np.float32)[:, None]
            steps.done()
            steps.start(f"{self.candidates} network(s), {self.epochs} epochs each")
            networks, attempts = self._networks(geometry, x, y, data.weights, train, val, progress)
            steps.done()
            candidates = []
            for model, history, seed in networks:
                steps.start(f"seed {seed}: {'hard negatives and ' if self.hard_negative_rounds else ''}threshold "
                            "(subset simulation)")
                rounds = []
                if self.hard_negative_rounds:
                    history, rounds = self._hard_negative_rounds(model, geometry, x[train], y[train], data.weights[train],
                                                                 (x[val], y[val], data.weights[val]), baseline.rate_hz,
                                                                 rng, progress)
                log.info("network of seed %d trained (%.0f s); calibrating its threshold", seed, time.perf_counter() - t0)
                # the same rate as the baseline achieves, on NSB windows the network has not seen
                nn, _ = nn_subset_threshold(self.estimator, geometry, score_function(model), baseline.rate_hz, rng,
                                            n_runs=self.calibration_runs, n_per_level=self.calibration_windows)
                # at equal rate, the network that keeps more held-out gamma ROIs triggers more showers
                signal = val[data.labels[val] == 1]
                efficiency = float(np.mean(score_function(model)(x[signal]) > nn.threshold))
                candidates.append((model, history, nn, {
                    "seed": seed, "ebops": ebops(model), "threshold": float(nn.threshold), "rate_hz": nn.rate_hz,
                    "validation_gamma_efficiency": efficiency, "hard_negative_rounds": rounds,
                }))
                log.info("seed %d: threshold %.2f, %.0f%% of held-out gamma ROIs above it", seed, nn.threshold,
                         100 * efficiency)
                steps.done()
            model, history, nn, chosen = max(candidates, key=lambda c: c[3]["validation_gamma_efficiency"])
            if len(candidates) > 1:
                steps.start(f"threshold of the kept network (seed {chosen['seed']}) set again")
                # the best of several noisy calibrations tends to be one that read low: set the threshold anew
                nn, _ = nn_subset_threshold(self.estimator, geometry, score_function(model), baseline.rate_hz, rng,
                                            n_runs=self.calibration_runs, n_per_level=self.calibration_windows)
                steps.done()
        config = {
            "input": {
                **self.trigger_input.describe(), "n_inputs": geometry.n_inputs, "signed": False,
                "clip": 2**self.clip_bits - 1 if self.clip_bits else None,
            },
            "roi": geometry.describe(),
            "operating_point": {
                "nsb_rate_ghz": self.nsb_rate,
                "target_rate_hz": self.accidental_rate,
                "gate_rate_hz": self.gate_rate,
                "analog_sum": {"threshold": int(baseline.threshold), "rate_hz": baseline.rate_hz, "rate_error_hz": baseline.rate_error_hz},
                "nn": {"threshold": float(nn.threshold), "rate_hz": nn.rate_hz, "rate_error_hz": nn.rate_error_hz,
                       "method": "subset simulation"},
            },
            "architecture": {
                "hidden": list(self.hidden), "module_features": self.module_features, "clip_bits": self.clip_bits,
                "ebops": ebops(model),
            },
            "training": {
                "n_signal": int((data.labels == 1).sum()),
                "n_background": int((data.labels == 0).sum()),
                "epochs": self.epochs,
                "seed": self.seed,
                "attempts": attempts,
                "candidates": [c[3] for c in candidates],
                "chosen_seed": chosen["seed"],
                "nsb_weighting": self.nsb_weighting,
                "final": {k: float(v[-1]) for k, v in history.history.items()},
                "seconds": time.perf_counter() - t0,
            },
        }
        return TrainedTrigger(model, config)
