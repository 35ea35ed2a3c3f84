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
import zipfile
from pathlib import Path

import numpy as np

from lstcommon import UserError
from lstcommon.files import atomic_output, dumps_json

__all__ = ["build_model", "save_trigger", "load_trigger", "read_config", "check_config", "score_function", "TriggerModelError", "MODEL_FILE", "CONFIG_FILE"]

MODEL_FILE = "model.keras"
CONFIG_FILE = "trigger.json"
FORMAT_VERSION = 1


class TriggerModelError(UserError):
    """A saved trigger model is missing, incomplete or inconsistent."""


def build_model(
    n_inputs, input_bits=8, hidden=(16,), beta0=1e-6, seed=0, module_features=0, n_modules=3, clip_bits=None
):
    """Input (n_inputs unsigned ``input_bits`` integers) -> quantized ReLU layers -> one logit.

    With ``module_features`` > 0 the first layer is one small dense layer
    shared by the ROI's modules (a kernel-1 convolution over modules), each
    module's samples mapped to that many features: per-module shaping and
    clipping are then one layer away, which lets the network learn that
    light spread over modules is a shower and light piled into one module is
    an afterpulse.
    """
    import hgq  # noqa: F401  (registers the layers)
    import keras
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


def save_trigger(folder, model, config: dict, overwrite=True):
    """Write ``model.keras`` and ``trigger.json`` into ``folder``, both complete before either is renamed."""
    folder = Path(folder)
    config = {"format_version": FORMAT_VERSION, **config}
    with atomic_output(folder / MODEL_FILE, overwrite) as model_tmp, atomic_output(folder / CONFIG_FILE, overwrite) as config_tmp:
        # Keras picks the format from the suffix
        keras_tmp = model_tmp.with_name(model_tmp.name + ".keras")
        try:
            model.save(keras_tmp)
            os.replace(keras_tmp, model_tmp)
        finally:
            keras_tmp.unlink(missing_ok=True)
        config_tmp.write_text(dumps_json(config))


# what every reader of trigger.json relies on: (section, keys)
REQUIRED = {
    "input": ("bits", "gain", "pedestal", "n_inputs"),
    "roi": ("gate", "n_before", "n_after"),
    "operating_point": ("nsb_rate_ghz", "target_rate_hz", "analog_sum", "nn"),
}


def check_config(config, path) -> dict:
    """Refuse a trigger.json that lacks what the commands read, naming the first missing key."""
    if not isinstance(config, dict):
        raise TriggerModelError(f"{path}: not a trigger description (a JSON object expected)")
    if config.get("format_version") != FORMAT_VERSION:
        raise TriggerModelError(f"{path}: format_version {config.get('format_version')!r}, expected {FORMAT_VERSION}")
    for section, keys in REQUIRED.items():
        if not isinstance(config.get(section), dict):
            raise TriggerModelError(f"{path}: no {section!r} section; is this a folder written by `trigger-synth train`?")
        missing = [k for k in keys if k not in config[section]]
        if missing:
            raise TriggerModelError(f"{path}: {section!r} has no {missing[0]!r}")
    for name in ("analog_sum", "nn"):
        point = config["operating_point"][name]
        if not isinstance(point, dict) or not isinstance(point.get("threshold"), (int, float)):
            raise TriggerModelError(f"{path}: operating_point {name!r} has no numeric 'threshold'")
    return config


def read_config(folder) -> dict:
    """trigger.json of a trigger folder, checked (cheap: no TensorFlow)."""
    folder = Path(folder)
    if not folder.exists():
        raise TriggerModelError(f"{folder}: trigger model folder does not exist")
    if not folder.is_dir():
        raise TriggerModelError(f"{folder}: not a folder (a trigger model is a folder written by `trigger-synth train`)")
    for name in (MODEL_FILE, CONFIG_FILE):
        if not (folder / name).is_file():
            raise TriggerModelError(f"{folder}: missing {name}; is this a folder written by `trigger-synth train`?")
    path = folder / CONFIG_FILE
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise TriggerModelError(f"{path}: not valid JSON ({err})") from err
    check_config(config, path)
    if not zipfile.is_zipfile(folder / MODEL_FILE):
        raise TriggerModelError(f"{folder / MODEL_FILE}: not a Keras model archive (damaged or truncated)")
    return config


def load_trigger(folder):
    """(model, config) of a saved trigger folder, with clear errors for what is missing or broken."""
    import hgq  # noqa: F401  (registers the layers for deserialisation)
    import keras

    folder = Path(folder)
    config = read_config(folder)
    try:
        model = keras.models.load_model(folder / MODEL_FILE, compile=False)
    except Exception as err:  # keras raises many types for a damaged archive
        raise TriggerModelError(f"{folder / MODEL_FILE}: cannot load the Keras model ({type(err).__name__}: {err})") from err
    n_inputs = config["input"]["n_inputs"]
    if tuple(model.input_shape[1:]) != (n_inputs,):
        raise TriggerModelError(f"{folder}: model input shape {model.input_shape[1:]} does not match n_inputs={n_inputs}")
    return model, config
