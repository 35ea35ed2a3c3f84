"""The energy head's stereo geometry (NetworkSpec.energy_geometry = "impact"): reconstructed impact distances and
shower-maximum heights from the DL1 parameters, never the simulated truth, fed to the energy head in training and
prediction alike."""

import shutil

import numpy as np
import pytest
import tables
from reco_settings import IMAGE_SHAPE, TINY

from reconstruction.errors import SettingError
from reconstruction.impact import GEOMETRY_FEATURES, IMPACT_SCALE_M, StereoGeometry
from reconstruction.settings import NetworkSpec

IMPACT = {**TINY, "energy_geometry": "impact"}


def _true_impacts(path):
    from astropy.table import vstack
    from ctapipe.io import read_table

    with tables.open_file(path) as h5:
        names = [n._v_pathname for n in h5.get_node("/simulation/event/telescope/impact")]
    return vstack([read_table(path, n) for n in names])


def test_impact_is_the_stereo_reconstruction(simulated):
    """Images of events with two or more images get the HillasReconstructor's impact distance, close to the true
    one; images it cannot use get zeros and valid 0."""
    path = simulated["gamma"]
    geometry = StereoGeometry(path)
    truth = _true_impacts(path)
    features = geometry.lookup(truth["obs_id"], truth["event_id"], truth["tel_id"])
    assert features.shape == (len(truth), len(GEOMETRY_FEATURES)) and features.dtype == np.float32
    valid = features[:, 2] == 1
    assert valid.sum() >= 20, "too few stereo images in the test file"
    error = np.abs(features[valid, 0] * IMPACT_SCALE_M - np.asarray(truth["true_impact_distance"])[valid])
    assert np.median(error) < 40, f"median impact error {np.median(error):.0f} m"
    assert np.all(features[valid, 1] > 0.2)  # h_max above 2 km
    assert np.all(features[~valid] == 0)
    # an image the file does not hold: zeros, not an error
    assert np.all(geometry.lookup([999], [1], [1]) == 0)


def test_impact_never_reads_the_truth(simulated, tmp_path):
    """The same features from a copy whose true impacts and shower cores are scrambled."""
    copy = tmp_path / "scrambled.dl1.h5"
    shutil.copyfile(simulated["gamma"], copy)
    with tables.open_file(copy, mode="a") as h5:
        for node in h5.get_node("/simulation/event/telescope/impact"):
            data = node.read()
            data["true_impact_distance"] = 1234.5
            node.modify_rows(0, len(data), 1, data)
        shower = h5.get_node("/simulation/event/subarray/shower")
        data = shower.read()
        for name in ("true_core_x", "true_core_y"):
            data[name] = -777.0
        shower.modify_rows(0, len(data), 1, data)
    truth = _true_impacts(simulated["gamma"])
    keys = (truth["obs_id"], truth["event_id"], truth["tel_id"])
    assert np.array_equal(StereoGeometry(copy).lookup(*keys), StereoGeometry(simulated["gamma"]).lookup(*keys))


def test_energy_geometry_needs_the_energy_task():
    with pytest.raises(SettingError, match="energy_geometry"):
        NetworkSpec(tasks=["type"], energy_geometry="impact").validate()
    from traitlets import TraitError

    with pytest.raises(TraitError):
        NetworkSpec(energy_geometry="core")


@pytest.fixture(scope="module")
def impact_model(reco_files, tmp_path_factory):
    from reconstruction.train import train

    return train(reco_files, tmp_path_factory.mktemp("impact_model"), data={"image_shape": IMAGE_SHAPE},
                 network=IMPACT, epochs=1, batch_size=16)


def test_mono_model_with_impact_trains_and_predicts(impact_model, reco_files, tmp_path):
    """model.json records the setting; predict gives the model the same input; only the energy head reads it."""
    from reconstruction.evaluate import load_events
    from reconstruction.predict import predict

    assert impact_model.meta["network"]["energy_geometry"] == "impact"
    model = impact_model.model
    assert set(model.input.keys()) == {"image", "geometry"}
    dl2 = [predict(impact_model.model_dir, f, tmp_path / f.name.replace(".dl1.h5", ".dl2.h5")) for f in reco_files]
    events = load_events(dl2)
    assert np.isfinite(events["reco_energy"]).sum() > 10

    rng = np.random.default_rng(0)
    image = rng.random((4, *impact_model.meta["example_shape"])).astype("float32")
    near = np.tile(np.array([[0.5, 1.0, 1.0]], "float32"), (4, 1))
    far = np.tile(np.array([[2.5, 1.0, 1.0]], "float32"), (4, 1))
    a = model.predict_on_batch({"image": image, "geometry": near})
    b = model.predict_on_batch({"image": image, "geometry": far})
    assert not np.allclose(a["energy"], b["energy"])
    for task in ("type", "direction"):
        assert np.allclose(a[task], b[task])


def test_stereo_model_with_impact(reco_files, tmp_path):
    """The stereo network pools the telescopes' geometry as it pools their features; predict feeds it."""
    from reconstruction.evaluate import load_events
    from reconstruction.predict import predict
    from reconstruction.train import train

    result = train(reco_files, tmp_path / "stereo", data={"image_shape": IMAGE_SHAPE, "mode": "stereo"}, network=IMPACT,
                   epochs=1, batch_size=4)
    assert set(result.model.input.keys()) == {"images", "mask", "geometry"}
    dl2 = predict(result.model_dir, reco_files[0], tmp_path / "gamma.dl2.h5")
    assert np.isfinite(load_events([dl2])["reco_energy"]).sum() > 5


def test_grad_cam_of_a_model_with_impact(impact_model, reco_files, tmp_path):
    from reconstruction.explain import explain

    pngs = explain(impact_model.model_dir, reco_files[0], tmp_path, n_events=1, task="energy", min_intensity=50)
    assert pngs and all(p.stat().st_size > 0 for p in pngs)


def test_command_line_refuses_a_bad_energy_geometry(reco_files, tmp_path):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "reconstruction.tools", "train", "--input", str(reco_files[0]), "--input",
           str(reco_files[1]), "--output", str(tmp_path / "m"), "--NetworkSpec.energy_geometry=core"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "energy_geometry" in done.stderr
    cmd[-1:] = ["--NetworkSpec.energy_geometry=impact", "--NetworkSpec.tasks=type"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "energy task" in done.stderr
    assert not (tmp_path / "m").exists()
