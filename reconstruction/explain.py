"""Explanation maps: Grad-CAM and the CBAM spatial attention maps, drawn in camera geometry.

Maps live on the square grid of dl1-data-handler's image mapper; they are
brought back to the hexagonal pixels through the mapper's own mapping table
(each camera pixel takes the weighted mean of the grid cells it was spread
over) and drawn with ctapipe's ``CameraDisplay`` next to the DL1 image.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from ctapipe.instrument import SubarrayDescription
from ctapipe.io import read_table

from .data import DataSpec, DL1Sequence, InputError, open_readers
from .errors import SettingError
from .models import get_backbone
from .train import load_model

__all__ = ["attention_maps", "explain", "grad_cam", "to_camera"]


def _last_feature_map(backbone):
    names = [layer.name for layer in backbone.layers]
    return backbone.layers[names.index("global_pool") - 1].output


def grad_cam(model, images, task="type", output_index=0) -> np.ndarray:
    """Grad-CAM for one output of ``task``, as maps in [0, 1] on the input grid.

    Mono models: ``images`` (n, H, W, C) -> (n, H, W). Stereo models: ``images``
    is the ``{"images": (n, T, H, W, C), "mask": (n, T)}`` input -> (n, T, H, W):
    the gradient of the array-level output flows back through the telescope
    pooling into the shared backbone of each telescope, and the maps are scaled
    by the largest value over all telescopes of the event, so they also show which
    telescope mattered most. Absent telescopes get zero maps. A model with
    ``NetworkSpec.energy_geometry`` takes its input dict as given (mono:
    ``{"image", "geometry"}``); the geometry enters the energy head as in the model.
    """
    geometry = None
    if isinstance(images, dict) and "images" in images:
        return _stereo_grad_cam(model, images, task, output_index)
    if isinstance(images, dict):
        images, geometry = images["image"], images.get("geometry")
    import tensorflow as tf

    backbone = get_backbone(model)
    features_model = keras.Model(backbone.input, [_last_feature_map(backbone), backbone.output])
    hidden, head = model.get_layer(f"{task}_hidden"), model.get_layer(task)
    x = tf.convert_to_tensor(images, dtype="float32")
    with tf.GradientTape() as tape:
        conv, pooled = features_model(x, training=False)
        tape.watch(conv)
        score = head(hidden(_head_input(model, task, pooled, geometry)))[:, output_index]
    grads = tape.gradient(score, conv)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * conv, axis=-1))
    cam = tf.image.resize(cam[..., None], images.shape[1:3], method="bilinear")[..., 0].numpy()
    peak = cam.reshape(len(cam), -1).max(axis=1)
    return cam / np.where(peak > 0, peak, 1)[:, None, None]


def _stereo_grad_cam(model, inputs, task, output_index):
    import tensorflow as tf

    images = np.asarray(inputs["images"], dtype="float32")
    mask = tf.convert_to_tensor(inputs["mask"], dtype="float32")
    n, n_tel, height, width = images.shape[:4]
    backbone = get_backbone(model)
    # the backbone's own layers after the last feature map, so the gradient is taken at that map
    feature_layer = _last_feature_map(backbone)
    head_of_backbone = keras.Model(backbone.input, feature_layer)
    pool = backbone.get_layer("global_pool")
    with tf.GradientTape() as tape:
        conv = head_of_backbone(images.reshape(n * n_tel, *images.shape[2:]), training=False)
        tape.watch(conv)
        features = tf.reshape(pool(conv), (n, n_tel, -1))
        pooled = model.get_layer("telescope_pooling")(features, mask)
        array = model.get_layer("array_features")(pooled)
        geometry = None
        if "geometry" in inputs:
            geometry = model.get_layer("geometry_pooling")(tf.convert_to_tensor(inputs["geometry"], "float32"), mask)
        head_input = _head_input(model, task, array, geometry)
        score = model.get_layer(task)(model.get_layer(f"{task}_hidden")(head_input))[:, output_index]
    grads = tape.gradient(score, conv)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * conv, axis=-1))
    cam = tf.image.resize(cam[..., None], (height, width), method="bilinear")[..., 0].numpy()
    cam = cam.reshape(n, n_tel, height, width) * np.asarray(inputs["mask"], dtype="float32")[:, :, None, None]
    peak = cam.reshape(n, -1).max(axis=1)
    return cam / np.where(peak > 0, peak, 1)[:, None, None, None]


def _head_input(model, task, features, geometry):
    """What a task's hidden layer reads: the features, and for the energy head of a model with
    ``energy_geometry`` the geometry too (its ``energy_inputs`` concatenation)."""
    if task == "energy" and geometry is not None:
        return model.get_layer("energy_inputs")([features, keras.ops.convert_to_tensor(geometry, "float32")])
    return features


def attention_maps(model, images) -> dict:
    """The spatial attention map of every CBAM block, resized to the input grid: name -> (n, H, W)."""
    import tensorflow as tf

    if isinstance(images, dict):
        images = images["image"]
    backbone = get_backbone(model)
    layers_ = [layer for layer in backbone.layers if layer.name.endswith("_spatial_map")]
    if not layers_:
        return {}
    probe = keras.Model(backbone.input, [layer.output for layer in layers_])
    outputs = probe(np.asarray(images, dtype="float32"), training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return {
        layer.name.removesuffix("_spatial_map"): tf.image.resize(out, images.shape[1:3], method="bilinear")[..., 0].numpy()
        for layer, out in zip(layers_, outputs, strict=True)
    }


def to_camera(grid_map, mapper) -> np.ndarray:
    """A (H, W) map on the mapper's square grid -> one value per camera pixel."""
    table = mapper.mapping_table
    weight = np.asarray(table.sum(axis=1)).ravel()
    values = table @ np.asarray(grid_map, dtype=np.float64).ravel()
    return np.where(weight > 0, values / np.where(weight > 0, weight, 1), 0.0)


def explain(model_dir, input_file, output_dir, n_events=3, task="type", min_intensity=200.0) -> list[Path]:
    """PNGs in camera geometry: the DL1 images with Grad-CAM for ``task`` (and, mono, the attention maps).

    Mono models: one PNG per image, for the first ``n_events`` images above
    ``min_intensity`` p.e. Stereo models: one PNG per array event (the first
    ``n_events``), a column per telescope present.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ctapipe.visualization import CameraDisplay

    model, meta = load_model(model_dir)
    if task not in meta["tasks"]:
        raise SettingError(f"the model has no {task!r} output; it has {meta['tasks']}")
    data = DataSpec(**{**meta["data"], "min_intensity": max(min_intensity, meta["data"]["min_intensity"])})
    reader = open_readers([input_file], data, tel_ids=data.tel_ids or None)[0]
    if reader.cam_name != meta["camera"]:
        raise InputError(f"{input_file}: holds camera {reader.cam_name}, the model was trained on {meta['camera']}")
    seq = DL1Sequence([reader], tasks=meta["tasks"], batch_size=n_events, with_targets=False,
                      n_slots=meta["example_shape"][0] if data.mode == "stereo" else None,
                      energy_geometry=meta["network"].get("energy_geometry", "none"))
    batch = seq.batch(0)
    cams = grad_cam(model, batch.inputs, task=task)
    mapper = reader.image_mappers[reader.cam_name]
    subarray = SubarrayDescription.from_hdf(input_file)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    score = model.predict_on_batch(batch.inputs)[task]
    if data.mode == "stereo":
        return _explain_stereo(batch, cams, score, task, mapper, subarray, input_file, output_dir, plt, CameraDisplay)
    attention = attention_maps(model, batch.inputs)
    geometry = subarray.tel[int(batch.ids["tel_id"][0])].camera.geometry

    written = []
    for k in range(len(cams)):
        obs, event, tel = (int(batch.ids[c][k]) for c in ("obs_id", "event_id", "tel_id"))
        panels = [("DL1 image [p.e.]", _dl1_image(input_file, obs, event, tel), "viridis"),
                  (f"Grad-CAM ({task})", to_camera(cams[k], mapper), "inferno")]
        panels += [(f"attention {name}", to_camera(m[k], mapper), "magma") for name, m in attention.items()]
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.6), layout="constrained")
        for ax, (title, values, cmap) in zip(np.atleast_1d(axes), panels, strict=True):
            _draw(CameraDisplay, geometry, values, ax, cmap, title)
        fig.suptitle(f"obs {obs} event {event} tel {tel}: {task} output {float(np.ravel(score[k])[0]):.3f}")
        path = output_dir / f"explain_obs{obs}_event{event}_tel{tel}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def _dl1_image(input_file, obs, event, tel):
    images = read_table(input_file, f"/dl1/event/telescope/images/tel_{tel:03d}")
    return np.asarray(images[(images["obs_id"] == obs) & (images["event_id"] == event)][0]["image"])


def _draw(CameraDisplay, geometry, values, ax, cmap, title):
    display = CameraDisplay(geometry, image=values, ax=ax, cmap=cmap, title=title)
    display.add_colorbar(ax=ax)
    ax.set_xlabel("")
    ax.set_ylabel("")


def _explain_stereo(batch, cams, score, task, mapper, subarray, input_file, output_dir, plt, CameraDisplay):
    """One PNG per array event: a column per telescope present, its image above its Grad-CAM."""
    written = []
    mask = batch.inputs["mask"]
    for k in range(len(cams)):
        obs, event = int(batch.ids["obs_id"][k]), int(batch.ids["event_id"][k])
        present = np.flatnonzero(mask[k] > 0)
        fig, axes = plt.subplots(2, len(present), figsize=(5 * len(present), 9), layout="constrained", squeeze=False)
        for column, slot in enumerate(present):
            tel = int(batch.ids["tel_id"][k][slot])
            geometry = subarray.tel[tel].camera.geometry
            _draw(CameraDisplay, geometry, _dl1_image(input_file, obs, event, tel), axes[0, column], "viridis",
                  f"tel {tel}: DL1 image [p.e.]")
            _draw(CameraDisplay, geometry, to_camera(cams[k, slot], mapper), axes[1, column], "inferno",
                  f"tel {tel}: Grad-CAM ({task})")
        fig.suptitle(f"obs {obs} event {event}: stereo {task} output {float(np.ravel(score[k])[0]):.3f} "
                     "(Grad-CAM scaled to the event's largest value)")
        path = output_dir / f"explain_stereo_obs{obs}_event{event}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)
    return written
