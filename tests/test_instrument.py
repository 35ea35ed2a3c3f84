"""The LST description built from the real instrument files."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from trigger.instrument import N_GROUPS, N_MODULES, N_PIXELS, LSTInstrument
from trigger.paths import ENV_VAR, DataFolderError, data_dir


def test_camera_geometry_and_readout(instrument):
    assert instrument.geometry.n_pixels == N_PIXELS
    assert instrument.sampling_rate == 1.024 * u.GHz
    assert instrument.n_samples == 40
    pulse, width = instrument.reference_pulse
    assert width == pytest.approx(1 / 1.024 / 40, rel=1e-6)
    assert pulse.sum() * width == pytest.approx(1.0)
    # the LST pulse is a few ns wide
    above_half = np.count_nonzero(pulse > pulse.max() / 2) * width
    assert 2.0 < above_half < 4.0


def test_modules_are_seven_neighbouring_pixels(instrument):
    modules = instrument.module_pixels
    assert modules.shape == (N_MODULES, 7)
    assert sorted(modules.ravel()) == list(range(N_PIXELS))
    neighbors = instrument.geometry.neighbor_matrix
    for pixels in modules:
        # a 7-pixel hexagonal module: every pixel touches at least 3 others of the module
        assert np.all(neighbors[np.ix_(pixels, pixels)].sum(axis=1) >= 3)


def test_cluster_file_agrees_with_camera_definition(instrument):
    ij = instrument.module_cluster_ij
    assert len({tuple(x) for x in ij}) == N_MODULES


def test_analog_sum_groups_are_three_adjacent_modules(instrument):
    groups = instrument.group_pixels
    assert groups.shape == (N_GROUPS, 21)
    triplets = instrument.group_modules
    assert triplets.shape == (N_GROUPS, 3)
    assert len({tuple(t) for t in triplets}) == N_GROUPS
    # every module belongs to at least one trigger group
    assert set(triplets.ravel()) == set(range(N_MODULES))
    neighbors = instrument.geometry.neighbor_matrix
    for a, b, c in triplets[:50]:
        pa, pb, pc = (instrument.module_pixels[m] for m in (a, b, c))
        touching = [neighbors[np.ix_(x, y)].any() for x, y in ((pa, pb), (pb, pc), (pa, pc))]
        assert sum(touching) >= 2


def test_trigger_settings_from_lstn01_config(instrument):
    assert instrument.nsb_rate.to_value(1 / u.ns) == pytest.approx(0.233591)
    assert instrument.asum_threshold == pytest.approx(260.7)
    assert instrument.telescope_config["default_trigger"] == "AnalogSum"
    trigger = instrument.array_trigger()
    assert trigger.min_telescopes == 2
    assert trigger.tel_ids == (1, 2, 3, 4)
    assert trigger.window == 120 * u.ns


def test_four_lsts_at_ctao_north(instrument):
    subarray = instrument.subarray(4)
    assert list(subarray.tel_ids) == [1, 2, 3, 4]
    assert [str(t) for t in subarray.telescope_types] == ["LST_LST_LSTCam"]
    assert subarray.tel[1].optics.mirror_area.to_value(u.m**2) == pytest.approx(386.73, rel=1e-3)
    # ground distances between LSTs agree with the UTM coordinates of the position file
    table = Table.read(data_dir() / "instrument/array_element_positions_ctao_n.ecsv")
    utm = {row["ae_id"]: np.array([row["utm_east"], row["utm_north"]]) for row in table[:4]}
    pos = subarray.tel_coords
    for i in range(4):
        for j in range(i + 1, 4):
            ground = np.hypot((pos.x[i] - pos.x[j]).to_value(u.m), (pos.y[i] - pos.y[j]).to_value(u.m))
            assert ground == pytest.approx(np.linalg.norm(utm[i + 1] - utm[j + 1]), abs=1.0)
    with pytest.raises(ValueError, match="LSTs requested"):
        instrument.subarray(7)


def test_missing_data_folder_is_named(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataFolderError, match="nowhere"):
        LSTInstrument(missing)
    monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(DataFolderError, match="nowhere"):
        data_dir()


def test_missing_instrument_file_is_named(tmp_path):
    (tmp_path / "instrument").mkdir()
    instrument = LSTInstrument(tmp_path)
    with pytest.raises(DataFolderError, match="LSTCam.camgeom.fits.gz"):
        _ = instrument.geometry
