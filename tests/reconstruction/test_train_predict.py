"""Short training, DL2 writing and reading with ctapipe's TableLoader, interrupted writes, wrong cameras."""

import json

import astropy.units as u
import numpy as np
import pytest
import tables
from ctapipe.io import TableLoader
from reco_settings import IMAGE_SHAPE, TINY

import reconstruction.predict as predict_module
from lstcommon.files import OutputError
from reconstruction.data import InputError
from reconstruction.predict import PIXEL_DATA, predict
from reconstruction.train import load_model, train


def test_training_writes_model_and_description(mono_model):
    _model, meta = load_model(mono_model.model_dir)
    assert meta["camera"] == "LSTCam" and meta["example_shape"] == [IMAGE_SHAPE, IMAGE_SHAPE, 2]
    assert len(meta["history"]["loss"]) == 2 and all(np.isfinite(meta["history"]["loss"]))
    assert mono_model.n_train > 0 and mono_model.n_validation > 0


def test_a_model_learns_energy(reco_files, tmp_path):
    """Energy from bright gamma images is an easy task: a small CNN must beat the mean within a few epochs."""
    result = train(reco_files[:1], tmp_path, data={"image_shape": IMAGE_SHAPE, "channels": ["image"]},
                   network={**TINY, "width": 8, "tasks": ["energy"], "learning_rate": 3e-3},
                   epochs=12, batch_size=8, validation_fraction=0.1, seed=3)
    from reconstruction.data import DataSpec, DL1Sequence, open_readers

    seq = DL1Sequence(open_readers(reco_files[:1], DataSpec(image_shape=IMAGE_SHAPE)), tasks=["energy"])
    log_e = np.concatenate([seq.batch(i).targets["energy"][:, 0] for i in range(len(seq))])
    constant_mae = np.mean(np.abs(log_e - np.median(log_e)))  # the best a model blind to the image can do
    assert result.history["loss"][-1] < 0.85 * constant_mae


def test_mono_dl2_readable_by_tableloader(mono_dl2, simulated):
    gamma = mono_dl2[0]
    with TableLoader(gamma) as loader:
        tel = loader.read_telescope_events(dl2=True, simulated=True)
        sub = loader.read_subarray_events(dl2=True, simulated=True)
    with TableLoader(simulated["gamma"]) as loader:
        n_tel_events = len(loader.read_telescope_events())
    assert len(tel) == n_tel_events
    valid = np.isfinite(tel["CNN_tel_energy"])
    assert valid.any() and (tel["CNN_tel_energy"][valid] > 0).all()
    assert ((tel["CNN_tel_prediction"][valid] >= 0) & (tel["CNN_tel_prediction"][valid] <= 1)).all()
    # the mean of the mono predictions per array event is there too, directions near the pointing (70 deg)
    has = np.isfinite(sub["CNN_alt"])
    assert has.any() and np.all(np.abs(sub["CNN_alt"][has] - 70) < 10)
    # the image parameters are kept next to the new tables, the images are not (see test_dl2_is_lean)
    with tables.open_file(gamma) as h5:
        assert "/dl1/event/telescope/parameters/tel_001" in h5 and "/dl2/event/subarray/energy/CNN" in h5


def test_array_energy_is_the_intensity_weighted_mean_of_log_energy(mono_dl2, tmp_path):
    """Each array event's energy is 10 ** (sum_i I_i log10 E_i / sum_i I_i) over its images (I: DL1 Hillas
    intensity), and recombine_energy rebuilds the same table from the telescope estimates."""
    from reconstruction.predict import recombine_energy

    with TableLoader(mono_dl2[0]) as loader:
        tel = loader.read_telescope_events(dl1_parameters=True, dl2=True)
        sub = loader.read_subarray_events(dl2=True)
    tel = tel[np.isfinite(tel["CNN_tel_energy"])]
    expected = {}
    for key in set(zip(tel["obs_id"].tolist(), tel["event_id"].tolist(), strict=True)):
        rows = tel[(tel["obs_id"] == key[0]) & (tel["event_id"] == key[1])]
        weights = np.asarray(rows["hillas_intensity"], float)
        expected[key] = 10 ** np.average(np.log10(u.Quantity(rows["CNN_tel_energy"], u.TeV).value), weights=weights)
    got = {(o, e): v for o, e, v in zip(sub["obs_id"].tolist(), sub["event_id"].tolist(),
                                        u.Quantity(sub["CNN_energy"], u.TeV).value, strict=True) if np.isfinite(v)}
    assert set(got) == set(expected) and len(got) > 10
    np.testing.assert_allclose([got[k] for k in sorted(got)], [expected[k] for k in sorted(got)], rtol=1e-6)
    # and the plain mean differs for events with images of different brightness: the weights are really used
    multi = [k for k in expected if ((tel["obs_id"] == k[0]) & (tel["event_id"] == k[1])).sum() > 1]
    assert multi
    again = recombine_energy(mono_dl2[0], tmp_path / "again.dl2.h5", "CNN")
    with TableLoader(again) as loader:
        rebuilt = loader.read_subarray_events(dl2=True)
    np.testing.assert_allclose(u.Quantity(rebuilt["CNN_energy"], u.TeV).value, u.Quantity(sub["CNN_energy"], u.TeV).value,
                               rtol=1e-9)


def _tables(path):
    with tables.open_file(path) as h5:
        return {node._v_pathname for node in h5.walk_nodes("/", "Leaf")}


def test_dl2_is_lean(mono_model, mono_dl2, reco_files, tmp_path):
    """By default a DL2 file is its DL2 tables and what TableLoader joins them with, a small fraction of its DL1
    file; the same predictions joined with the same truth as in a full copy, and evaluated the same."""
    import stat

    from lstcommon.files import _UMASK
    from reconstruction.evaluate import load_events, metrics_from_events

    full = [predict(mono_model.model_dir, f, tmp_path / f.name.replace(".dl1.h5", ".full.dl2.h5"), full_copy=True)
            for f in reco_files]
    for dl1, lean, copy in zip(reco_files, mono_dl2, full, strict=True):
        assert lean.stat().st_size <= 0.05 * dl1.stat().st_size, (lean.stat().st_size, dl1.stat().st_size)
        assert copy.stat().st_size > dl1.stat().st_size
        # readable by others as any new file here, not a temporary file's 0600
        assert stat.S_IMODE(lean.stat().st_mode) == 0o666 & ~_UMASK
        left_out = _tables(copy) - _tables(lean)
        assert left_out and all(name.startswith(PIXEL_DATA) for name in left_out), left_out
        assert _tables(lean) >= {"/dl1/event/subarray/trigger", "/simulation/event/subarray/shower",
                                 "/configuration/instrument/subarray/layout", "/dl2/event/subarray/energy/CNN"}
        with tables.open_file(lean) as h5:
            assert h5.root._v_attrs["CTA PRODUCT DATA LEVELS"] == "DL1_PARAMETERS,DL2"

        with TableLoader(lean) as a, TableLoader(copy) as b:
            for read in ("read_subarray_events", "read_telescope_events"):
                t_lean, t_full = getattr(a, read)(dl2=True, simulated=True), getattr(b, read)(dl2=True, simulated=True)
                assert t_lean.colnames == t_full.colnames and len(t_lean) == len(t_full) > 0
                for name in ("true_energy", "true_alt", "true_az", "CNN_energy", "CNN_alt", "CNN_tel_energy"):
                    if name in t_lean.colnames:
                        np.testing.assert_array_equal(t_lean[name], t_full[name])
            events = a.read_subarray_events(dl2=True, simulated=True)
        has = np.isfinite(events["CNN_energy"])
        assert has.any() and np.isfinite(events["true_energy"][has]).all() and np.isfinite(events["true_alt"]).all()

    for level in ("subarray", "telescope"):
        assert metrics_from_events(load_events(mono_dl2, level=level)) == metrics_from_events(load_events(full,
                                                                                                         level=level))


def test_stereo_dl2(stereo_model, reco_files, tmp_path):
    out = predict(stereo_model.model_dir, reco_files[1], tmp_path / "proton.dl2.h5", prefix="CNNStereo")
    with TableLoader(out) as loader:
        sub = loader.read_subarray_events(dl2=True, simulated=True)
    valid = np.isfinite(sub["CNNStereo_energy"])
    assert valid.any() and np.isfinite(sub["CNNStereo_prediction"][valid]).all()
    with tables.open_file(out) as h5:
        assert "/dl2/event/telescope" not in h5


def test_interrupted_prediction_leaves_no_file(mono_model, reco_files, tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(predict_module, "write_table", boom)
    with pytest.raises(KeyboardInterrupt):
        predict(mono_model.model_dir, reco_files[0], tmp_path / "out.dl2.h5")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_and_wrong_camera(mono_model, mono_dl2, reco_files, tmp_path):
    with pytest.raises(OutputError, match="output exists .use --overwrite"):
        predict(mono_model.model_dir, reco_files[0], mono_dl2[0])
    other = tmp_path / "flash"
    other.mkdir()
    for name in ("model.keras", "model.json"):
        (other / name).write_bytes((mono_model.model_dir / name).read_bytes())
    meta = json.loads((other / "model.json").read_text())
    meta["camera"] = "FlashCam"
    (other / "model.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="LSTCam.*FlashCam"):
        predict(other, reco_files[0], tmp_path / "x.h5")
    with pytest.raises(InputError, match="model.json: missing .a model folder written by reconstruction-train"):
        predict(tmp_path, reco_files[0], tmp_path / "y.h5")


def test_classifier_needs_background(reco_files, tmp_path):
    with pytest.raises(InputError, match="needs both gamma and background"):
        train(reco_files[:1], tmp_path, data={"image_shape": IMAGE_SHAPE}, network=TINY, epochs=1)
