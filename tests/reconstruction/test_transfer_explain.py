"""Transfer learning from a trained backbone, and explanation maps in camera geometry."""

import numpy as np
import pytest
from PIL import Image

from reconstruction.explain import explain, grad_cam, to_camera
from reconstruction.models import get_backbone
from reconstruction.train import load_model
from reconstruction.transfer import transfer


def test_frozen_backbone_transfer(mono_model, reco_files, tmp_path):
    source, _ = load_model(mono_model.model_dir)
    result = transfer(mono_model.model_dir, reco_files, tmp_path, freeze_backbone=True, epochs=1, batch_size=16)
    target = result.model
    # the frozen backbone still holds the source weights; the heads have learned
    for a, b in zip(get_backbone(source).get_weights(), get_backbone(target).get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(source.get_layer("type").get_weights()[0], target.get_layer("type").get_weights()[0])
    assert not get_backbone(target).trainable


def test_free_backbone_transfer_changes_it(mono_model, reco_files, tmp_path):
    source, _ = load_model(mono_model.model_dir)
    result = transfer(mono_model.model_dir, reco_files, tmp_path, freeze_backbone=False, epochs=1, batch_size=16)
    changed = [not np.allclose(a, b) for a, b in zip(get_backbone(source).get_weights(),
                                                      get_backbone(result.model).get_weights(), strict=True)]
    assert any(changed)


def test_explanation_maps(mono_model, reco_files, tmp_path):
    paths = explain(mono_model.model_dir, reco_files[0], tmp_path, n_events=2, min_intensity=100)
    assert len(paths) == 2
    for path in paths:
        width, height = Image.open(path).size
        assert width > 3 * height  # image, Grad-CAM and two attention maps side by side


def test_grad_cam_and_projection(mono_model):
    model, meta = load_model(mono_model.model_dir)
    shape = meta["example_shape"]
    x = np.zeros((1, *shape), "float32")
    x[0, shape[0] // 2 - 2: shape[0] // 2 + 2, shape[1] // 2 - 2: shape[1] // 2 + 2, 0] = 300
    cam = grad_cam(model, x)
    assert cam.shape == (1, shape[0], shape[1]) and np.isfinite(cam).all() and cam.max() <= 1


def test_to_camera_keeps_a_constant_map():
    from ctapipe.instrument import SubarrayDescription  # noqa: F401  (geometry from the shared instrument files)
    from ctapipe.instrument.camera import CameraGeometry
    from dl1_data_handler.image_mapper import BilinearMapper

    mapper = BilinearMapper(geometry=CameraGeometry.from_name("LSTCam"), interpolation_image_shape=28)
    values = to_camera(np.ones((28, 28)), mapper)
    assert values.shape == (1855,)
    np.testing.assert_allclose(values[values > 0], 1.0, rtol=1e-5)


def test_explain_refuses_unknown_task(mono_model, reco_files, tmp_path):
    with pytest.raises(ValueError, match="no 'charge' output"):
        explain(mono_model.model_dir, reco_files[0], tmp_path, task="charge")


def test_stereo_grad_cam_per_telescope(stereo_model, reco_files, tmp_path):
    from reconstruction.data import DataSpec, DL1Sequence, open_readers

    model, meta = load_model(stereo_model.model_dir)
    batch = DL1Sequence(open_readers(reco_files[:1], DataSpec(**meta["data"])), batch_size=3).batch(0)
    cam = grad_cam(model, batch.inputs, task="energy")
    mask = batch.inputs["mask"]
    assert cam.shape == (3, 4, *meta["example_shape"][1:3]) and np.isfinite(cam).all()
    # absent telescopes get no weight; each event is scaled by its largest value over its telescopes
    assert np.all(cam[mask == 0] == 0) and cam.max() <= 1
    assert np.all((cam.reshape(3, -1).max(axis=1) == 1) | (cam.reshape(3, -1).max(axis=1) == 0))
    paths = explain(stereo_model.model_dir, reco_files[0], tmp_path, n_events=1, task="energy", min_intensity=50)
    assert [p.name.startswith("explain_stereo_") for p in paths] == [True]
    width, height = Image.open(paths[0]).size
    assert height > 0.8 * width / mask[0].sum()  # an image row above a Grad-CAM row per telescope


def test_initial_weights_backbone_always_heads_only_between_models_of_one_kind():
    from reconstruction.models import NetworkSpec, build_mono_model, build_stereo_model
    from reconstruction.train import _copy_backbone

    # 16 backbone features = 2 x 8 array features: the mono and stereo heads have the same shapes
    spec = NetworkSpec(depth=1, width=16, head_units=8)
    source = build_mono_model((16, 16, 2), ["charge", "time"], spec)
    mono = build_mono_model((16, 16, 2), ["charge", "time"], spec)
    stereo = build_stereo_model((4, 16, 16, 2), ["charge", "time"], spec)
    before = stereo.get_layer("type_hidden").get_weights()[0].copy()
    assert before.shape == source.get_layer("type_hidden").get_weights()[0].shape
    _copy_backbone(source, mono)
    _copy_backbone(source, stereo)
    for target in (mono, stereo):
        for a, b in zip(get_backbone(source).get_weights(), get_backbone(target).get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(mono.get_layer("type").get_weights()[0], source.get_layer("type").get_weights()[0])
    # a stereo head reads pooled array features, not one image's: it keeps its own initial weights
    np.testing.assert_array_equal(stereo.get_layer("type_hidden").get_weights()[0], before)
