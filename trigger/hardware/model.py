"""A saved trigger model: ``model.keras`` (HGQ2 layers) plus ``trigger.json`` (its digital input).

The directory is the contract with the training code: the Keras file holds the
quantized network, ``trigger.json`` at least ``{"input": {"n_inputs", "bits",
"signed"}}``. Unknown keys are kept but not interpreted here.
"""

import json
import logging
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lstcommon.errors import one_line

from .errors import ModelError

__all__ = ["InputSpec", "TriggerModel", "load_trigger_model"]

log = logging.getLogger(__name__)

_SHAPE_ONLY_LAYERS = {"InputLayer", "Reshape", "Flatten", "Permute"}

MODEL_FILE = "model.keras"
DESCRIPTION_FILE = "trigger.json"
# the emulators of hls4ml and da4ml pass integers through int32
MAX_INPUT_BITS = 24


@dataclass(frozen=True)
class InputSpec:
    """The integers the network sees, one per input, as the hardware delivers them."""

    n_inputs: int
    bits: int
    signed: bool
    # the network saturates its inputs here on purpose (trigger.json "clip"); None: it sees the full range
    clip: int | None = None

    @property
    def low(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def high(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def kif(self) -> tuple[int, int, int]:
        """da4ml's (keep sign, integer bits, fractional bits) of one input."""
        return (1, self.bits - 1, 0) if self.signed else (0, self.bits, 0)

    @property
    def dtype(self):
        return np.dtype(f"{'int' if self.signed else 'uint'}{8 if self.bits <= 8 else 16 if self.bits <= 16 else 32}")

    @classmethod
    def from_description(cls, description: dict, source="trigger.json") -> "InputSpec":
        spec = description.get("input") if isinstance(description, dict) else None
        if not isinstance(spec, dict):
            raise ModelError(f"{source}: missing the 'input' object ({{\"n_inputs\": ..., \"bits\": ..., \"signed\": ...}})")
        missing = [k for k in ("n_inputs", "bits", "signed") if k not in spec]
        if missing:
            raise ModelError(f"{source}: 'input' lacks {', '.join(missing)}")
        n_inputs, bits, signed = spec["n_inputs"], spec["bits"], spec["signed"]
        if isinstance(n_inputs, bool) or not isinstance(n_inputs, int) or n_inputs < 1:
            raise ModelError(f"{source}: input.n_inputs must be a positive integer, got {n_inputs!r}")
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= MAX_INPUT_BITS:
            raise ModelError(f"{source}: input.bits must be an integer within 1..{MAX_INPUT_BITS}, got {bits!r}")
        if not isinstance(signed, bool):
            raise ModelError(f"{source}: input.signed must be true or false, got {signed!r}")
        if signed and bits < 2:
            raise ModelError(f"{source}: a signed input needs at least 2 bits, got {bits}")
        clip = spec.get("clip")
        low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if clip is not None and (isinstance(clip, bool) or not isinstance(clip, int) or not low < clip <= high):
            raise ModelError(f"{source}: input.clip must be null or an integer within {low + 1}..{high}, got {clip!r}")
        return cls(n_inputs=n_inputs, bits=bits, signed=signed, clip=clip)

    def validate(self, x, what="events") -> np.ndarray:
        """``x`` as an (n, n_inputs) float32 array of in-range integers, or a clear error."""
        x = np.asarray(x)
        if x.ndim >= 2 and x.shape[0] > 0 and int(np.prod(x.shape[1:])) == self.n_inputs:
            x = x.reshape(len(x), self.n_inputs)
        else:
            raise ModelError(f"{what}: expected shape (n, {self.n_inputs}) (or (n, ...) with {self.n_inputs} values "
                             f"per event), got {x.shape}")
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise ModelError(f"{what}: expected numbers, got dtype {x.dtype}")
        if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
            raise ModelError(f"{what}: contains NaN or infinite values")
        if np.any(x != np.round(x)):
            raise ModelError(f"{what}: the trigger input is integer counts, got fractional values")
        if x.min() < self.low or x.max() > self.high:
            raise ModelError(f"{what}: values {x.min():g}..{x.max():g} outside the {self.bits}-bit "
                             f"{'signed' if self.signed else 'unsigned'} range {self.low}..{self.high}")
        return x.astype(np.float32)


@dataclass
class TriggerModel:
    """A loaded trigger model directory."""

    path: Path
    keras_model: object
    input: InputSpec
    description: dict = field(default_factory=dict)

    @property
    def n_outputs(self) -> int:
        return int(np.prod(self.keras_model.outputs[0].shape[1:]))

    def input_values_changed(self) -> int | None:
        """How many (input, value) pairs of the declared range the model's first quantizer alters.

        Non-zero means the network does not see the counts the hardware
        delivers, or the declared clip (e.g. a trainable input quantizer that
        learned too few integer bits and wraps): still bit-exact, but most
        likely a training mistake. None when the first layer has no input
        quantizer to ask.
        """
        # the first layer that quantizes: shape-only layers before it (Reshape of the 48 counts into
        # (modules, samples) for the shared kernel-1 convolution) pass the counts through unchanged
        quantizer = first = None
        for layer in self.keras_model.layers:
            name = type(layer).__name__
            if name == "Quantizer":
                quantizer = first = layer
            elif getattr(layer, "enable_iq", False):
                quantizer, first = layer.iq, layer
            elif name in _SHAPE_ONLY_LAYERS:
                continue
            break
        if quantizer is None:
            return None
        values = np.arange(self.input.low, self.input.high + 1, dtype=np.float32)
        if len(values) > 1 << 16:
            values = np.unique(np.r_[values[:256], values[-256:], np.random.default_rng(0).choice(values, 4096)])
        grid = np.repeat(values[:, None], self.input.n_inputs, axis=1)
        try:
            shape = tuple(first.input.shape[1:]) if first is not None and hasattr(first, "input") else ()
            layer_grid = grid.reshape((-1, *shape)) if shape and None not in shape else grid
            quantized = np.asarray(quantizer(layer_grid, training=False)).reshape(grid.shape)
        except Exception as err:  # noqa: BLE001  (an unusual quantizer must not block the build; the checks still run)
            log.debug("cannot evaluate the input quantizer alone: %s", err)
            return None
        expected = grid if self.input.clip is None else np.minimum(grid, self.input.clip)
        return int(np.count_nonzero(quantized != expected))

    def predict(self, x) -> np.ndarray:
        """Keras outputs, (n, n_outputs) float64: the reference every generated code must match bit for bit."""
        y = self.keras_model.predict(np.asarray(x, dtype=np.float32), batch_size=4096, verbose=0)
        return np.asarray(y, dtype=np.float64).reshape(len(x), -1)


def load_trigger_model(model_dir) -> TriggerModel:
    """Load ``model_dir/model.keras`` and ``model_dir/trigger.json``, checking that they agree.

    Every problem is a :class:`ModelError` whose one-line message starts with
    the file (or folder) it is about.
    """
    path = Path(model_dir)
    if not path.is_dir():
        raise ModelError(f"{path}: model folder does not exist" if not path.exists()
                         else f"{path}: is not a folder (a model folder holds {MODEL_FILE} and {DESCRIPTION_FILE})")
    model_file, desc_file = path / MODEL_FILE, path / DESCRIPTION_FILE
    missing = [f.name for f in (model_file, desc_file) if not f.is_file()]
    if missing:
        raise ModelError(f"{path}: not a trigger model folder: {' and '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} missing "
                         f"(a model folder holds {MODEL_FILE} and {DESCRIPTION_FILE})")
    try:
        description = json.loads(desc_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{desc_file}: not valid JSON ({one_line(err)})") from err
    except OSError as err:
        raise ModelError(f"{desc_file}: cannot be read ({err.strerror or err})") from err
    spec = InputSpec.from_description(description, source=str(desc_file))
    _check_keras_file(model_file)

    import hgq  # noqa: F401  (registers the HGQ2 layers with Keras' deserializer)
    import keras

    try:
        model = keras.models.load_model(model_file, compile=False)
    except Exception as err:  # Keras raises many types (zip, h5, value, type errors) for a bad file
        raise ModelError(f"{model_file}: cannot be loaded as a Keras model "
                         f"({type(err).__name__}: {one_line(err)[:300]})") from err

    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"{model_file}: expected one input and one output, got "
                         f"{len(model.inputs)} inputs and {len(model.outputs)} outputs")
    in_shape = tuple(model.inputs[0].shape[1:])
    if None in in_shape or int(np.prod(in_shape)) != spec.n_inputs:
        raise ModelError(f"{model_file}: takes inputs of shape {in_shape}, but {DESCRIPTION_FILE} "
                         f"declares n_inputs={spec.n_inputs}")
    if len(in_shape) != 1:
        raise ModelError(f"{model_file}: the hardware feeds a flat vector of {spec.n_inputs} inputs, "
                         f"the model takes shape {in_shape}; add a Reshape inside the model instead")
    if not any(type(layer).__module__.startswith("hgq") for layer in model.layers):
        raise ModelError(f"{model_file}: has no HGQ2 layers: only quantized (HGQ2) models can be made bit-exact")
    log.info("model %s: %d inputs (%d-bit %s), %d output(s), %d layers", path, spec.n_inputs, spec.bits,
             "signed" if spec.signed else "unsigned", int(np.prod(model.outputs[0].shape[1:])), len(model.layers))
    return TriggerModel(path=path, keras_model=model, input=spec, description=description)


def _check_keras_file(model_file: Path):
    """A ``.keras`` file is a zip archive: refuse anything else before Keras sees it (its errors are long)."""
    if not os.access(model_file, os.R_OK):
        raise ModelError(f"{model_file}: cannot be read (permission denied)")
    if model_file.stat().st_size == 0:
        raise ModelError(f"{model_file}: is empty (0 bytes); save the model again")
    if not zipfile.is_zipfile(model_file):
        raise ModelError(f"{model_file}: is not a Keras model file (a .keras file is a zip archive; "
                         "this one is damaged or of another kind); save the model again")
    try:
        with zipfile.ZipFile(model_file) as archive:
            names = set(archive.namelist())
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ModelError(f"{model_file}: is a damaged zip archive ({one_line(err)}); save the model again") from err
    if damaged is not None:
        raise ModelError(f"{model_file}: is a damaged zip archive ({damaged} fails its checksum); save the model again")
    if "config.json" not in names:
        raise ModelError(f"{model_file}: is a zip archive but not a Keras model (no config.json inside)")
