"""The second-level network: an HGQ2 quantized MLP on one ROI, and how it is saved.

The network sees a gate candidate's ROI, the trigger-input counts of three
modules over ``window`` samples (unsigned integers), and returns one logit.
Every tensor is fixed-point: the input quantizer is fixed to the input's own
unsigned integer format, so the model, hls4ml's C simulation and da4ml's
Verilog all see exactly the integers of :class:`trigger.inputs.TriggerInput`.
Weight and activation bit widths are trained with HGQ2, with a penalty on the
estimated bit operations (EBOPs) so that the core fits the logic budget.

A saved trigger is a folder: ``model.keras`` (the Keras model with its
quantizers) and ``trigger.json`` (input definition, ROI geometry, gate and
score thresholds, training provenance).
"""

import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

__all__ = ["build_model", "save_trigger", "load_trigger", "score_function", "TriggerModelError", "MODEL_FILE", "CONFIG_FILE"]

MODEL_FILE = "model.keras"
CONFIG_FILE = "trigger.json"
FORMAT_VERSION = 1


class TriggerModelError(Exception):
    """A saved trigger model is missing, incomplete or inconsistent."""


def build_model(
    n_inputs, input_bits=8, hidden=(16,), beta0=1e-6, seed=0, module_features=0, n_modules=3, clip_bits=None
) -> keras.Model:
    """Input (n_inputs unsigned ``input_bits`` integers) -> quantized ReLU layers -> one logit.

    With ``module_features`` > 0 the first layer is one small dense layer
    shared by the ROI's modules (a kernel-1 convolution over modules), each
    module's samples mapped to that many features: per-module shaping and
    clipping are then one layer away, which lets the network learn that
    light spread over modules is a shower and light piled into one module is
    an afterpulse.
    """
    import hgq  # noqa: F401  (registers the layers)
    from hgq.config import LayerConfigScope, QuantizerConfig, QuantizerConfigScope
    from hgq.layers import QConv1D, QDense

    keras.utils.set_random_seed(seed)
    # the input is what the hardware receives: fixed, unsigned, integer, saturating; with clip_bits the
    # network sees min(count, 2**clip_bits - 1), so one bright module sample cannot outweigh spread light
    input_q = QuantizerConfig(
        "kif", "datalane", k0=False, i0=clip_bits or input_bits, f0=0, trainable=False, round_mode="TRN", overflow_mode="SAT"
    )
    # first-layer weights act on counts of ~16-100: start with fine fractional bits
    first_kq = QuantizerConfig("kbi", "weight", b0=8, i0=0)
    with QuantizerConfigScope(place="datalane", round_mode="RND", overflow_mode="WRAP"), LayerConfigScope(
        enable_ebops=True, beta0=beta0
    ):
        inputs = keras.Input(shape=(n_inputs,), name="roi")
        if module_features:
            x = keras.layers.Reshape((n_modules, n_inputs // n_modules), name="modules")(inputs)
            x = QConv1D(module_features, 1, activation="relu", iq_conf=input_q, kq_conf=first_kq, name="module_features")(x)
            x = keras.layers.Flatten(name="features")(x)
            layers = hidden
        else:
            x = QDense(hidden[0], activation="relu", iq_conf=input_q, kq_conf=first_kq, name="dense_0")(inputs)
            layers = hidden[1:]
        for i, units in enumerate(layers, start=1):
            x = QDense(units, activation="relu", name=f"dense_{i}")(x)
        logit = QDense(1, name="logit")(x)
    return keras.Model(inputs, logit, name="roi_trigger")


def ebops(model) -> float:
    """HGQ2's estimate of the model's bit operations (a proxy for LUTs)."""
    return float(sum(float(np.sum(layer.ebops)) for layer in model.layers if hasattr(layer, "ebops")))


def score_function(model, batch_size=65536):
    """ROIs (m, n_inputs) integer counts -> logits (m,), in float64 (exact for fixed-point outputs).

    The model runs as one traced graph: called eagerly, each HGQ2 quantizer is
    hundreds of small operations, and the rate estimators call the network on
    a few hundred ROIs thousands of times (eager calls were 3/4 of their time).
    """
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False),
                          input_signature=[tf.TensorSpec([None, model.input_shape[1]], tf.float32)])

    def score(rois):
        rois = np.asarray(rois, dtype=np.float32)
        if len(rois) == 0:
            return np.zeros(0)
        out = [forward(rois[i : i + batch_size]).numpy() for i in range(0, len(rois), batch_size)]
        return np.concatenate(out)[:, 0].astype(np.float64)

    return score


def _atomic_write(path: Path, write):
    # keep the suffix: Keras picks the format from it
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_trigger(folder, model, config: dict):
    """Write ``model.keras`` and ``trigger.json`` into ``folder`` (each file replaced atomically)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {"format_version": FORMAT_VERSION, **config}
    _atomic_write(folder / MODEL_FILE, model.save)
    _atomic_write(folder / CONFIG_FILE, lambda p: p.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n"))


def load_trigger(folder):
    """(model, config) of a saved trigger folder, with clear errors for what is missing or broken."""
    import hgq  # noqa: F401  (registers the layers for deserialisation)

    folder = Path(folder)
    if not folder.is_dir():
        raise TriggerModelError(f"trigger model folder {str(folder)!r} does not exist")
    for name in (MODEL_FILE, CONFIG_FILE):
        if not (folder / name).is_file():
            raise TriggerModelError(f"{folder}: missing {name}; is this a folder written by `trigger-synth train`?")
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
    except json.JSONDecodeError as err:
        raise TriggerModelError(f"{folder / CONFIG_FILE}: not valid JSON ({err})") from err
    if config.get("format_version") != FORMAT_VERSION:
        raise TriggerModelError(f"{folder / CONFIG_FILE}: format_version {config.get('format_version')!r}, expected {FORMAT_VERSION}")
    try:
        model = keras.models.load_model(folder / MODEL_FILE, compile=False)
    except Exception as err:  # keras raises many types for a damaged archive
        raise TriggerModelError(f"{folder / MODEL_FILE}: cannot load the Keras model ({type(err).__name__}: {err})") from err
    n_inputs = config["input"]["n_inputs"]
    if tuple(model.input_shape[1:]) != (n_inputs,):
        raise TriggerModelError(f"{folder}: model input shape {model.input_shape[1:]} does not match n_inputs={n_inputs}")
    return model, config
