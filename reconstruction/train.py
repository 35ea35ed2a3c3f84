"""Training: files in, a saved Keras model and its description (``model.keras`` + ``model.json``) out.

The two files are written together into a temporary folder beside the output
and renamed into place when both are complete (:func:`lstcommon.files.atomic_folder`):
an interrupted or failed training never leaves half a model, and never
damages the model that was there.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from lstcommon.errors import one_line
from lstcommon.files import atomic_folder, dumps_json, write_text_atomic

from .checks import META_FILE, MODEL_FILE, check_model, check_train_output, select_telescopes
from .data import GAMMA_ID, DataSpec, DL1Sequence, InputError, open_readers
from .errors import SettingError
from .geometry import DispErrors, signed_disp
from .models import NetworkSpec, build_mono_model, build_stereo_model, compile_model, get_strategy
from .settings import TrainSpec, check_tasks, check_training

__all__ = ["TrainResult", "as_spec", "calibrate_disp", "check_model", "load_model", "measure_disp_errors", "train"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    model_dir: Path
    history: dict
    wall_s: float
    n_train: int
    n_validation: int
    model: keras.Model = field(repr=False, default=None)
    #: what model.json holds: the settings used (data, network, training), camera, history, ...
    meta: dict = field(repr=False, default=None)


def as_spec(cls, value):
    """A DataSpec / NetworkSpec from an instance, a dict of its traits, or None (defaults)."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if isinstance(value, dict):
        unknown = set(value) - set(cls.class_trait_names(config=True))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} setting(s) {sorted(unknown)}")
        return cls(**value)
    raise TypeError(f"expected {cls.__name__} or dict, got {type(value).__name__}")


def build_model(data: DataSpec, network: NetworkSpec, example_shape):
    waveform = data.input_type == "waveform"
    if data.mode == "mono":
        return build_mono_model(example_shape, data.channel_kinds(), network, waveform=waveform)
    return build_stereo_model(example_shape, data.channel_kinds(), network, waveform=waveform)


def train(
    files,
    output_dir,
    data=None,
    network=None,
    epochs=None,
    batch_size=None,
    validation_fraction=None,
    seed=None,
    workers=1,
    strategy=None,
    initial_model=None,
    freeze_backbone=False,
    max_examples=None,
    verbose=0,
    overwrite=False,
    training=None,
) -> TrainResult:
    """Train a mono or stereo network on simulated gamma (and proton) files.

    ``data``, ``network`` and ``training`` are :class:`DataSpec`, :class:`NetworkSpec`
    and :class:`TrainSpec` (or dicts of their settings; None: the defaults, which are
    the command line's and the quick start's). ``epochs``, ``batch_size``,
    ``validation_fraction``, ``seed``, ``strategy`` and ``max_examples``, when
    given, replace ``training``'s. ``initial_model`` (a model folder or a Keras model) starts
    from trained weights: the backbone is copied and, with ``freeze_backbone``,
    kept fixed (transfer learning). ``max_examples`` trains on a random subset.
    Writes ``output_dir/model.keras`` and ``output_dir/model.json`` together; an
    existing model there is replaced only with ``overwrite``.

    The telescopes are ``data.tel_ids`` or, when empty, the LSTs with events in
    every file; model.json keeps the list so that prediction reads the same ones.
    """
    data = as_spec(DataSpec, data).validate()
    network = as_spec(NetworkSpec, network).validate()
    check_tasks(data, network)
    given = {"epochs": epochs, "batch_size": batch_size, "validation_fraction": validation_fraction, "seed": seed,
             "strategy": strategy, "max_examples": max_examples}
    settings = {**as_spec(TrainSpec, training).to_dict(), **{k: v for k, v in given.items() if v is not None}}
    # checked before the traits see them: a wrong type is then one line naming the option, not a TraitError
    check_training(settings["epochs"], settings["batch_size"], settings["validation_fraction"], settings["seed"],
                   settings["max_examples"], workers)
    training = TrainSpec(**settings)
    epochs, batch_size, seed = training.epochs, training.batch_size, training.seed
    validation_fraction, strategy, max_examples = training.validation_fraction, training.strategy, training.max_examples
    if freeze_backbone and initial_model is None:
        raise SettingError("--freeze-backbone needs an --initial-model to take the backbone from")
    output_dir = check_train_output(output_dir, overwrite)
    if isinstance(initial_model, (str, Path)):
        check_model(initial_model)
    files = [files] if isinstance(files, (str, Path)) else list(files)
    keras.utils.set_random_seed(seed)

    tel_ids = select_telescopes(files, data)
    readers = open_readers(files, data, tel_ids=tel_ids)
    if "type" in network.tasks:
        labels = {int(i) for r in readers for i in np.unique(_primary_ids(r))}
        if GAMMA_ID not in labels or len(labels) < 2:
            raise InputError(f"{', '.join(map(str, files))}: the 'type' task needs both gamma and background "
                             "(e.g. proton) files")
    everything, train_idx, val_idx = _split(readers, network.tasks, batch_size, seed, validation_fraction, workers,
                                            network.energy_geometry)
    if max_examples is not None and max_examples < len(train_idx):
        rng = np.random.default_rng(seed)
        train_idx = train_idx[np.sort(rng.choice(len(train_idx), max_examples, replace=False))]
    train_seq = everything.subset(train_idx)
    val_seq = everything.subset(val_idx, shuffle=False)

    # the model and its description appear together, when both are complete
    with atomic_folder(output_dir, overwrite=True) as partial:
        with get_strategy(strategy).scope():
            model = build_model(data, network, everything.example_shape)
            if initial_model is not None:
                _copy_backbone(initial_model, model)
            if freeze_backbone:
                _backbone(model).trainable = False
            compile_model(model, network, decay_steps=epochs * len(train_seq))

        start = time.perf_counter()
        history = model.fit(train_seq, validation_data=val_seq, epochs=epochs, verbose=verbose)
        wall = time.perf_counter() - start
        if not all(np.isfinite(v).all() for v in history.history.values()):
            raise FloatingPointError(f"training diverged (non-finite loss): {history.history}")

        model.save(partial / MODEL_FILE)
        # the disp combination weighs each image by errors measured here, on showers the network never saw
        disp_errors = None
        if "disp" in network.tasks:
            try:
                disp_errors = measure_disp_errors(model, val_seq).to_dict()
            except ValueError as err:  # a validation split too small: prediction falls back to a fixed ellipse
                log.warning("no disp error ellipses measured: %s", err)
        meta = {
            "data": {**data.to_dict(), "tel_ids": list(tel_ids)},
            "network": network.to_dict(),
            "training": training.to_dict(),
            "camera": readers[0].cam_name,
            "example_shape": list(everything.example_shape),
            "tasks": list(network.tasks),
            "epochs": epochs,
            "batch_size": batch_size,
            "n_train": len(train_idx),
            "n_validation": len(val_idx),
            "train_wall_s": wall,
            "files": [str(f) for f in files],
            "history": {k: [float(x) for x in v] for k, v in history.history.items()},
            "initial_model": str(initial_model) if isinstance(initial_model, (str, Path)) else None,
            "freeze_backbone": bool(freeze_backbone),
            **({"disp_errors": disp_errors} if disp_errors else {}),
        }
        (partial / META_FILE).write_text(dumps_json(meta))
    log.info("trained %s model on %d examples in %.1f s", data.mode, len(train_idx), wall)
    return TrainResult(output_dir, meta["history"], wall, len(train_idx), len(val_idx), model, meta)


def measure_disp_errors(model, seq) -> DispErrors:
    """The disp error ellipses (:class:`~reconstruction.geometry.DispErrors`) of ``model`` on the gamma images of
    ``seq`` (a mono sequence with targets, e.g. the validation split)."""
    from .predict import _predict_on_batch

    names = ("cog", "psi", "source", "intensity", "elongation")
    parts = {k: [] for k in (*names, "disp")}
    for i in range(len(seq)):
        batch = seq.batch(i)
        gamma = batch.ids["gamma"]
        for k in names:
            parts[k].append(batch.ids[k][gamma])
        parts["disp"].append(signed_disp(_predict_on_batch(model, batch.inputs, seq.batch_size)["disp"])[0][gamma])
    return DispErrors.measure(**{k: np.concatenate(v) for k, v in parts.items()})


def calibrate_disp(model_dir, files=None, workers=1) -> DispErrors:
    """Measure a trained disp network's error ellipses on its own validation split (the same showers as in
    :func:`train`: same files, settings and seed) and record them in its model.json; for networks trained before
    :func:`train` measured them. ``files``: the training files, if they moved since."""
    model_dir = Path(model_dir)
    model, meta = load_model(model_dir)
    if "disp" not in meta["tasks"]:
        raise SettingError(f"{model_dir}: the model has no disp task")
    data = as_spec(DataSpec, {k: v for k, v in meta["data"].items() if k != "tel_ids"})
    training = meta["training"]
    readers = open_readers([Path(f) for f in (files or meta["files"])], data, tel_ids=meta["data"]["tel_ids"])
    everything, _, val_idx = _split(readers, meta["tasks"], meta["batch_size"], training["seed"],
                                    training["validation_fraction"], workers,
                                    meta["network"].get("energy_geometry", "none"))
    errors = measure_disp_errors(model, everything.subset(val_idx, shuffle=False))
    meta["disp_errors"] = errors.to_dict()
    write_text_atomic(model_dir / META_FILE, dumps_json(meta))
    return errors


def _split(readers, tasks, batch_size, seed, validation_fraction, workers, energy_geometry):
    """All examples as one sequence, and its (training, validation) indices: by whole array events, drawn from
    ``seed``; :func:`calibrate_disp` finds a network's validation showers again through it."""
    everything = DL1Sequence(readers, tasks=tasks, batch_size=batch_size, shuffle=True, seed=seed, workers=workers,
                             energy_geometry=energy_geometry)
    train_idx, val_idx = everything.split(validation_fraction, seed=seed)
    return everything, train_idx, val_idx


def _primary_ids(reader):
    table = reader.example_identifiers if reader.mode == "mono" else reader.unique_example_identifiers
    return np.asarray(table["true_shower_primary_id"])


def _backbone(model):
    from .models import get_backbone

    return get_backbone(model)


def _copy_backbone(source, model):
    """Backbone weights from ``source``; then, between models of one kind (mono or stereo), every other layer
    (heads, array features) whose name and shapes match.

    Starting the heads from the source's too means a frozen-backbone transfer
    adapts a model that already works instead of learning new heads from random
    weights, which one epoch cannot do.
    """
    name = "the initial model"
    if isinstance(source, (str, Path)):
        name = str(source)
        source, _ = load_model(source)
    src, dst = _backbone(source), _backbone(model)
    if [w.shape for w in src.weights] != [w.shape for w in dst.weights]:
        raise InputError(f"{name}: its backbone has a different architecture or input shape than the model trained "
                         "(--initial-model)")
    dst.set_weights(src.get_weights())
    copied = []
    # heads of a mono model read one image's features, a stereo model's the pooled array: only the backbone carries over
    for layer in model.layers if source.name == model.name else []:
        if layer.name in ("backbone", "per_telescope") or not layer.weights:
            continue
        try:
            other = source.get_layer(layer.name)
        except ValueError:
            continue
        if [w.shape for w in other.weights] == [w.shape for w in layer.weights]:
            layer.set_weights(other.get_weights())
            copied.append(layer.name)
    log.info("copied the backbone and the layers %s from the initial model", copied)


def load_model(model_dir):
    """The Keras model and its description saved by :func:`train` (checked first, see :func:`check_model`)."""
    model_dir = Path(model_dir)
    meta = check_model(model_dir)
    from . import models  # noqa: F401  (registers the custom layers)

    path = model_dir / MODEL_FILE
    try:
        model = keras.saving.load_model(path)
    except Exception as err:  # a complete archive Keras still cannot read (another Keras, edited config)
        raise InputError(f"{path}: Keras cannot load the model ({one_line(err)[:300]})") from err
    return model, meta
