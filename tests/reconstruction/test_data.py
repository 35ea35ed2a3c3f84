"""dl1-data-handler readers as Keras inputs: shapes, labels, stereo masks, waveforms, bad input."""

import numpy as np
import pytest
import tables
from reco_settings import IMAGE_SHAPE

from reconstruction.data import DataSpec, DL1Sequence, InputError, open_readers


def test_mono_batches(reco_files):
    spec = DataSpec(image_shape=IMAGE_SHAPE)
    readers = open_readers(reco_files, spec)
    seq = DL1Sequence(readers, batch_size=8, shuffle=True, workers=2)
    x, y, w = seq[0]
    assert x.shape == (8, IMAGE_SHAPE, IMAGE_SHAPE, 2) and np.isfinite(x).all() and x[..., 0].max() > 0
    assert y["type"].shape == (8, 1) and y["energy"].shape == (8, 1) and y["direction"].shape == (8, 2)
    # protons only train the classifier
    np.testing.assert_array_equal(w["energy"], y["type"][:, 0])
    total = sum(len(seq.batch(i).ids["event_id"]) for i in range(len(seq)))
    assert total == seq.n_examples == sum(r.get_n_events() for r in readers)
    labels = np.concatenate([seq.batch(i).targets["type"][:, 0] for i in range(len(seq))])
    assert set(np.unique(labels)) == {0.0, 1.0}


def test_train_validation_split_keeps_showers_apart(reco_files):
    seq = DL1Sequence(open_readers(reco_files, DataSpec(image_shape=IMAGE_SHAPE)))
    train, val = seq.split(0.3)

    def key(idx):
        return {(int(r), *seq._event_key(r, i)) for r, i in idx}

    assert len(train) + len(val) == seq.n_examples
    assert not key(train) & key(val)


def test_one_stereo_reader_over_two_gamma_runs_keeps_them_apart(simulated, tmp_path):
    """Two simulated runs that differ in seed get different obs_ids (event_id counts from 1 in both), so one
    dl1-data-handler stereo reader over both, grouping by (obs_id, event_id), merges no showers: it gives as many
    array events as two readers, one per file."""
    import astropy.units as u
    from ctapipe.io import read_table
    from dl1_data_handler.reader import DLImageReader

    from reconstruction.checks import select_telescopes
    from trigger.io import process_events
    from trigger.simulation.source import ToyEventSource

    other = tmp_path / "gamma_seed8.dl1.h5"
    process_events(ToyEventSource(particle="gamma", seed=8, n_events=40, energy_min=100 * u.GeV,
                                  max_impact=250 * u.m), other, progress=False)
    files = [simulated["gamma"], other]
    obs_ids = [set(np.asarray(read_table(f, "/dl1/event/subarray/trigger")["obs_id"]).tolist()) for f in files]
    assert obs_ids[0].isdisjoint(obs_ids[1]), obs_ids
    events = [set(np.asarray(read_table(f, "/dl1/event/subarray/trigger")["event_id"]).tolist()) for f in files]
    assert events[0] & events[1]  # the same event_ids: only the obs_id tells the runs apart

    spec = DataSpec(mode="stereo", image_shape=IMAGE_SHAPE, min_telescopes=2)
    separate = sum(open_readers([f], spec)[0].get_n_events() for f in files)
    config = spec.reader_config()
    config["DLImageReader"]["allowed_tels"] = set(select_telescopes(files, spec))
    joint = DLImageReader(input_url_signal=[str(f) for f in files], config=config)
    assert joint.get_n_events() == separate > 0
    ids = joint.unique_example_identifiers
    assert len({(int(o), int(e)) for o, e in zip(ids["obs_id"], ids["event_id"], strict=True)}) == len(ids)


def test_stereo_batches_mask_missing_telescopes(reco_files):
    spec = DataSpec(mode="stereo", image_shape=IMAGE_SHAPE, min_telescopes=2)
    seq = DL1Sequence(open_readers(reco_files, spec), batch_size=5)
    batch = seq.batch(0)
    images, mask = batch.inputs["images"], batch.inputs["mask"]
    assert images.shape == (5, 4, IMAGE_SHAPE, IMAGE_SHAPE, 2) and mask.shape == (5, 4)
    assert (mask.sum(axis=1) >= 2).all()
    # absent telescopes are zero-filled by dl1-data-handler
    assert np.all(images[mask == 0] == 0)
    assert batch.targets["energy"].shape == (5, 1)


def test_waveform_input(reco_files):
    spec = DataSpec(input_type="waveform", sequence_length=6, image_shape=IMAGE_SHAPE)
    batch = DL1Sequence(open_readers(reco_files[:1], spec), batch_size=3).batch(0)
    assert batch.inputs.shape == (3, IMAGE_SHAPE, IMAGE_SHAPE, 6)
    assert spec.channel_kinds() == ["charge"] * 6


def test_image_mapper_is_a_parameter(reco_files):
    seq = DL1Sequence(open_readers(reco_files[:1], DataSpec(image_mapper="ShiftingMapper")), batch_size=2)
    assert seq.batch(0).inputs.shape[1:] == (57, 57, 2)


def test_missing_corrupt_and_incomplete_files(reco_files, tmp_path):
    spec = DataSpec(image_shape=IMAGE_SHAPE)
    with pytest.raises(InputError, match="nothere.h5: input file does not exist"):
        open_readers([tmp_path / "nothere.h5"], spec)
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"not hdf5 at all")
    with pytest.raises(InputError, match="corrupt.h5: input file is not an HDF5 file"):
        open_readers([corrupt], spec)
    incomplete = tmp_path / "no_images.h5"
    with tables.open_file(reco_files[0]) as src:
        src.copy_file(str(incomplete))
    with tables.open_file(incomplete, "a") as h5:
        h5.remove_node("/dl1/event/telescope/images", recursive=True)
    with pytest.raises(InputError, match="no_images.h5: input file has no /dl1/event/telescope/images"):
        open_readers([incomplete], spec)


def test_empty_selection_is_an_error(reco_files):
    with pytest.raises(InputError, match="no mono examples pass"):
        open_readers(reco_files[:1], DataSpec(min_intensity=1e9))
    with pytest.raises(ValueError, match="unknown task"):
        DL1Sequence(open_readers(reco_files[:1], DataSpec(image_shape=IMAGE_SHAPE)), tasks=["charge"])


@pytest.mark.parametrize("peak, first", [(1, 0), (20, 17), (38, 32)])
def test_waveform_sequence_stays_inside_the_window(peak, first):
    """dl1-data-handler clips a sequence near either end of the window (fewer samples, batches that fail to
    stack); the project's cut moves it inside the window instead, and elsewhere cuts where dl1-data-handler does."""
    from dl1_data_handler import reader

    from reconstruction.data import _keep_sequences_in_window, _sequence_in_window

    _keep_sequences_in_window()
    waveform = np.random.default_rng(peak).normal(0, 0.1, (1, 7, 40)).astype("float32")
    waveform[0, :, peak] += 10
    event = {"waveform": waveform, "selected_gain_channel": np.zeros(7, int)}
    settings = {"waveform_scale": 0.0, "waveform_offset": 0, "cleaning_type": None, "seq_length": 8,
                "readout_length": 40, "seq_position": "maximum"}
    cut = _sequence_in_window(event, settings)
    assert cut.shape == (7, 8)
    np.testing.assert_array_equal(cut, waveform[0, :, first:first + 8])
    upstream = reader._project_uncut_waveform(event, settings)
    if upstream.shape[1] == 8:
        np.testing.assert_array_equal(cut, upstream)
    else:
        assert peak in (1, 38) and upstream.shape[1] < 8  # the upstream clips this works around
