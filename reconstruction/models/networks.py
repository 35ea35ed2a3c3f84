"""Backbones (small CNN, ResNet-style), attention placement, task heads, mono and stereo networks."""

import keras
from keras import layers

from ..impact import GEOMETRY_FEATURES
from ..settings import TASK_OUTPUTS, NetworkSpec
from .layers import CameraCoordinates, ChannelAttention, InputScaling, MaskedTelescopePooling, SpatialAttentionMap

__all__ = [
    "TASK_OUTPUTS", "NetworkSpec", "build_backbone", "build_mono_model", "build_stereo_model", "compile_model", "disp_loss",
]



@keras.saving.register_keras_serializable(package="reconstruction")
def disp_loss(y_true, y_pred):
    """|disp| by mean absolute error (degrees) plus the side by binary cross-entropy on its logit.

    The side is a classification, not the sign of one regression: a regressed
    signed disp would average head and tail of a symmetric image into zero.
    """
    distance = keras.ops.abs(y_true[:, 0] - y_pred[:, 0])
    side = keras.ops.binary_crossentropy(y_true[:, 1], y_pred[:, 1], from_logits=True)
    return distance + side


LOSSES = {"type": "binary_crossentropy", "energy": "mean_absolute_error", "direction": "mean_absolute_error",
          "disp": disp_loss}


def _conv(x, filters, name, spec, strides=1, activation="relu"):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=not spec.batch_norm, name=f"{name}_conv")(x)
    if spec.batch_norm:
        # momentum 0.9: the short trainings used here (a few hundred steps) must still settle the moving statistics
        x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.Activation(activation, name=f"{name}_act")(x) if activation else x


def _cbam(x, name, spec):
    x = ChannelAttention(spec.attention_ratio, name=f"{name}_channel_attention")(x)
    attention_map = SpatialAttentionMap(spec.attention_kernel, name=f"{name}_spatial_map")(x)
    return layers.Multiply(name=f"{name}_spatial_attention")([x, attention_map])


def build_backbone(input_shape, channel_kinds, spec: NetworkSpec, waveform=False) -> keras.Model:
    """Camera image (H, W, C) -> feature vector. Includes the input scaling, so it can be shared and saved alone."""
    spec.validate()
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = InputScaling(channel_kinds, name="input_scaling")(inputs)
    if waveform and spec.waveform_frontend == "time_conv":
        h, w, t = input_shape
        x = layers.Reshape((h, w, t, 1), name="samples_as_depth")(x)
        x = layers.Conv3D(spec.width, (1, 1, 3), padding="same", activation="relu", name="time_conv")(x)
        x = layers.MaxPooling3D((1, 1, t), name="time_max")(x)
        x = layers.Reshape((h, w, spec.width), name="time_features")(x)
    if spec.coordinates:
        x = CameraCoordinates(name="camera_coordinates")(x)
    if spec.attention in ("input", "both"):
        x = _cbam(x, "input", spec)
    for i in range(spec.depth):
        filters = spec.width * 2 ** min(i, 2)
        name = f"block{i + 1}"
        if spec.backbone == "cnn":
            x = _conv(x, filters, name, spec)
            x = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
        else:
            x = _residual(x, filters, name, spec, strides=1 if i == 0 else 2)
        if spec.attention in ("blocks", "both"):
            x = _cbam(x, name, spec)
    if spec.pooling == "average":
        x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    else:
        x = layers.Flatten(name="global_pool")(x)
    return keras.Model(inputs, x, name="backbone")


def _residual(x, filters, name, spec, strides):
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_proj")(x)
    y = _conv(x, filters, f"{name}_a", spec, strides=strides)
    y = _conv(y, filters, f"{name}_b", spec, activation=None)
    return layers.Activation("relu", name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))


def _heads(features, spec, prefix="", energy_extra=None):
    """One small dense head per task on ``features``; the energy head also reads ``energy_extra`` (the stereo
    geometry of ``NetworkSpec.energy_geometry``) when given."""
    outputs = {}
    for task in spec.tasks:
        units, activation = TASK_OUTPUTS[task]
        x = features
        if task == "energy" and energy_extra is not None:
            x = layers.Concatenate(name=f"{prefix}energy_inputs")([features, energy_extra])
        h = layers.Dense(spec.head_units, activation="relu", name=f"{prefix}{task}_hidden")(x)
        outputs[task] = layers.Dense(units, activation=activation, name=task)(h)
    return outputs


def build_mono_model(input_shape, channel_kinds, spec: NetworkSpec, waveform=False) -> keras.Model:
    """One telescope image -> one output per task (a dict keyed by task).

    With ``spec.energy_geometry == "impact"`` the model takes ``{"image": ..., "geometry": (3,)}``
    (:data:`reconstruction.impact.GEOMETRY_FEATURES`) and the geometry goes to the energy head only.
    """
    backbone = build_backbone(input_shape, channel_kinds, spec, waveform=waveform)
    image = keras.Input(shape=tuple(input_shape), name="image")
    features = backbone(image)
    if spec.energy_geometry == "impact":
        geometry = keras.Input(shape=(len(GEOMETRY_FEATURES),), name="geometry")
        return keras.Model({"image": image, "geometry": geometry}, _heads(features, spec, energy_extra=geometry),
                           name="mono")
    return keras.Model(image, _heads(features, spec), name="mono")


def build_stereo_model(input_shape, channel_kinds, spec: NetworkSpec, waveform=False, backbone=None) -> keras.Model:
    """(n_tel, H, W, C) images and an (n_tel,) presence mask -> array-level outputs.

    The same backbone (shared weights) sees every telescope; features are pooled
    over the telescopes present, then array-level heads predict.
    """
    n_tel, *image_shape = input_shape
    backbone = backbone or build_backbone(image_shape, channel_kinds, spec, waveform=waveform)
    images = keras.Input(shape=tuple(input_shape), name="images")
    mask = keras.Input(shape=(n_tel,), name="mask")
    per_tel = layers.TimeDistributed(backbone, name="per_telescope")(images)
    pooled = MaskedTelescopePooling(name="telescope_pooling")(per_tel, mask)
    array_features = layers.Dense(spec.head_units * 2, activation="relu", name="array_features")(pooled)
    if spec.energy_geometry == "impact":
        # each telescope's impact distance (and the event's h_max), pooled over the telescopes present as the
        # image features are, for the energy head only
        geometry = keras.Input(shape=(n_tel, len(GEOMETRY_FEATURES)), name="geometry")
        pooled_geometry = MaskedTelescopePooling(name="geometry_pooling")(geometry, mask)
        return keras.Model({"images": images, "mask": mask, "geometry": geometry},
                           _heads(array_features, spec, energy_extra=pooled_geometry), name="stereo")
    return keras.Model({"images": images, "mask": mask}, _heads(array_features, spec), name="stereo")


def compile_model(model, spec: NetworkSpec, learning_rate=None, decay_steps=None):
    """Adam with the losses per task; ``decay_steps`` (the training's total steps) enables the cosine schedule.

    The decay matters on small sets: with a constant rate the weights, and the
    batch-norm statistics, still move a lot in the last epoch, so the saved
    model's energy scale depends on where the last batches happened to land.
    """
    tasks = list(model.output.keys()) if isinstance(model.output, dict) else list(spec.tasks)
    metrics = {t: ([keras.metrics.AUC(name="auc")] if t == "type" else []) for t in tasks}
    rate = learning_rate or spec.learning_rate
    if spec.lr_schedule == "cosine" and decay_steps:
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=int(decay_steps))
    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss={t: LOSSES[t] for t in tasks},
        metrics=metrics,
    )
    return model


def get_backbone(model) -> keras.Model:
    """The shared backbone inside a mono or stereo model."""
    for layer in model.layers:
        if layer.name == "backbone":
            return layer
        if isinstance(layer, layers.TimeDistributed) and layer.layer.name == "backbone":
            return layer.layer
    raise ValueError(f"model {model.name!r} has no layer named 'backbone'")
