"""Training: files in, a saved Keras model and its description (``model.keras`` + ``model.json``) out."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from .data import GAMMA_ID, DataSpec, DL1Sequence, InputError, open_readers
from .models import NetworkSpec, build_mono_model, build_stereo_model, compile_model, get_strategy

__all__ = ["TrainResult", "as_spec", "load_model", "train"]

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
META_FILE = "model.json"


@dataclass
class TrainResult:
    model_dir: Path
    history: dict
    wall_s: float
    n_train: int
    n_validation: int
    model: keras.Model = field(repr=False, default=None)


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
    epochs=5,
    batch_size=32,
    validation_fraction=0.2,
    seed=0,
    workers=1,
    strategy="default",
    initial_model=None,
    freeze_backbone=False,
    max_examples=None,
    verbose=0,
) -> TrainResult:
    """Train a mono or stereo network on simulated gamma (and proton) files.

    ``data`` and ``network`` are :class:`DataSpec` / :class:`NetworkSpec` (or dicts
    of their settings). ``initial_model`` (a model folder or a Keras model) starts
    from trained weights: the backbone is copied and, with ``freeze_backbone``,
    kept fixed (transfer learning). ``max_examples`` trains on a random subset.
    Writes ``output_dir/model.keras`` and ``output_dir/model.json``.
    """
    data = as_spec(DataSpec, data)
    network = as_spec(NetworkSpec, network)
    network.validate()
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)

    readers = open_readers(files, data)
    everything = DL1Sequence(readers, tasks=network.tasks, batch_size=batch_size, shuffle=True, seed=seed, workers=workers)
    if "type" in network.tasks:
        labels = {int(i) for r in readers for i in np.unique(_primary_ids(r))}
        if GAMMA_ID not in labels or len(labels) < 2:
            raise InputError("the 'type' task needs both gamma and background (e.g. proton) files")
    train_idx, val_idx = everything.split(validation_fraction, seed=seed)
    if max_examples is not None and max_examples < len(train_idx):
        rng = np.random.default_rng(seed)
        train_idx = train_idx[np.sort(rng.choice(len(train_idx), max_examples, replace=False))]
    train_seq = everything.subset(train_idx)
    val_seq = everything.subset(val_idx, shuffle=False)

    with get_strategy(strategy).scope():
        model = build_model(data, network, everything.example_shape)
        if initial_model is not None:
            _copy_backbone(initial_model, model)
        if freeze_backbone:
            if initial_model is None:
                raise ValueError("freeze_backbone needs an initial_model to take the backbone from")
            _backbone(model).trainable = False
        compile_model(model, network, decay_steps=epochs * len(train_seq))

    start = time.perf_counter()
    history = model.fit(train_seq, validation_data=val_seq, epochs=epochs, verbose=verbose)
    wall = time.perf_counter() - start
    if not all(np.isfinite(v).all() for v in history.history.values()):
        raise FloatingPointError(f"training diverged (non-finite loss): {history.history}")

    model.save(output_dir / MODEL_FILE)
    meta = {
        "data": data.to_dict(),
        "network": network.to_dict(),
        "camera": readers[0].cam_name,
        "example_shape": list(everything.example_shape),
        "tasks": list(network.tasks),
        "epochs": epochs,
        "batch_size": batch_size,
        "n_train": len(train_idx),
        "n_validation": len(val_idx),
        "train_wall_s": wall,
        "files": [str(f) for f in ([files] if isinstance(files, (str, Path)) else files)],
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
        "initial_model": str(initial_model) if isinstance(initial_model, (str, Path)) else None,
        "freeze_backbone": bool(freeze_backbone),
    }
    (output_dir / META_FILE).write_text(json.dumps(meta, indent=2))
    log.info("trained %s model on %d examples in %.1f s", data.mode, len(train_idx), wall)
    return TrainResult(output_dir, meta["history"], wall, len(train_idx), len(val_idx), model)


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
    if isinstance(source, (str, Path)):
        source, _ = load_model(source)
    src, dst = _backbone(source), _backbone(model)
    if [w.shape for w in src.weights] != [w.shape for w in dst.weights]:
        raise ValueError("the initial model's backbone has a different architecture or input shape")
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
    """The Keras model and its description saved by :func:`train`."""
    model_dir = Path(model_dir)
    path, meta_path = model_dir / MODEL_FILE, model_dir / META_FILE
    for p in (path, meta_path):
        if not p.exists():
            raise FileNotFoundError(f"{p} not found: {model_dir} is not a folder written by reconstruction.train")
    from . import models  # noqa: F401  (registers the custom layers)

    return keras.saving.load_model(path), json.loads(meta_path.read_text())
