"""Re-simulating the showers of a real sim_telarray file: geometry carried over exactly, seeded, labelled."""

import warnings

import astropy.units as u
import numpy as np
import pytest
from ctapipe.instrument import SubarrayDescription
from ctapipe.io import read_table
from eventio import SimTelFile

from trigger.cli import main
from trigger.paths import data_dir
from trigger.simulation.matched import EVENT_ID_FACTOR, MatchedShowerSource, real_event_id
from trigger.simulation.recorded import RecordedRunError, read_recorded_run
from trigger.simulation.source import ToyEventSource, default_obs_id

SIMTEL = data_dir() / "simtel"
REAL_GAMMA = SIMTEL / "gamma_run000007_za40deg_azm180deg_South_subsystem_lsts_7.0.0_test.simtel.zst"
PROTON = SIMTEL / "proton_run000001_za20deg_azm180deg_North_CTAO-North-Alpha_7.0.0_test.simtel.zst"


@pytest.fixture(scope="module")
def recorded_gamma():
    return read_recorded_run(REAL_GAMMA)


def _eventio_showers(path):
    """(event_id -> energy GeV, alt, az, core x, core y) straight from eventio, independently of the reader."""
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with SimTelFile(str(path), skip_non_triggered=False) as simtel:
            for event in simtel:
                if event.get("mc_event") is None:
                    continue
                shower, mc = event["mc_shower"], event["mc_event"]
                out[int(event["event_id"])] = (
                    shower["energy"] * 1000, shower["altitude"], shower["azimuth"], mc["xcore"], mc["ycore"])
    return out


def test_every_stored_shower_is_read_with_the_run_conditions(recorded_gamma):
    run = recorded_gamma
    truth = _eventio_showers(REAL_GAMMA)
    assert [s.event_id for s in run.showers] == list(truth)
    for shower in run.showers:
        energy, alt, az, x, y = truth[shower.event_id]
        assert shower.energy == pytest.approx(energy, rel=1e-6)
        assert (shower.alt, shower.core_x, shower.core_y) == pytest.approx((min(alt, np.pi / 2), x, y), abs=1e-6)
    assert run.particle == "gamma" and run.obs_id == 7
    assert run.pointing_alt.to_value(u.deg) == pytest.approx(50.0)
    assert run.observation_level.to_value(u.m) == pytest.approx(2147.0)
    assert run.nsb_rate.to_value(u.GHz) == pytest.approx(0.244637)
    assert run.tel_ids == [1, 2, 3, 4]


def test_resimulated_showers_keep_the_real_geometry(recorded_gamma, tmp_path):
    from trigger.io import process_events

    repeats = 2
    path = tmp_path / "matched.dl1.h5"
    source = MatchedShowerSource(recorded_gamma, repeats=repeats, seed=5, max_events=12)
    process_events(source, path, progress=False)

    shower = read_table(path, "/simulation/event/subarray/shower")
    truth = _eventio_showers(REAL_GAMMA)
    assert len(shower) == 12 and set(shower["obs_id"]) == {7}
    ids = np.asarray(shower["event_id"])
    assert list(ids % EVENT_ID_FACTOR) == [0, 1] * 6
    for row, real_id in zip(shower, real_event_id(ids)):
        energy, alt, az, x, y = truth[int(real_id)]
        assert row["true_energy"] * 1000 == pytest.approx(energy, rel=1e-6)
        assert row["true_alt"] == pytest.approx(np.degrees(min(alt, np.pi / 2)), abs=1e-5)
        assert row["true_az"] == pytest.approx(np.degrees(az), abs=1e-5)
        assert (row["true_core_x"], row["true_core_y"]) == pytest.approx((x, y), abs=1e-3)

    # the file's LSTs where sim_telarray put them, the file's observation level and pointing
    written = SubarrayDescription.from_hdf(path)
    for tel_id in recorded_gamma.tel_ids:
        assert np.allclose(written.positions[tel_id].to_value(u.m),
                           recorded_gamma.subarray.positions[tel_id].to_value(u.m), atol=1e-3)
    assert written.reference_location.height.to_value(u.m) == pytest.approx(2147.0, abs=1e-3)
    assert source.model.observation_level == pytest.approx(2147.0, abs=1e-3)
    pointing = read_table(path, "/configuration/simulation/run")
    assert pointing["max_alt"][0] == pytest.approx(np.radians(50.0))


def test_resimulation_is_seeded(recorded_gamma):
    def waveforms(seed):
        source = MatchedShowerSource(recorded_gamma, repeats=1, seed=seed, max_events=8)
        return {(e.index.event_id, t): e.r1.tel[t].waveform.copy() for e in source for t in e.r1.tel}

    a, b, c = waveforms(3), waveforms(3), waveforms(4)
    assert a and a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert a.keys() != c.keys() or any(not np.array_equal(a[k], c[k]) for k in a)


def test_proton_runs_take_the_file_particle_and_view_cone():
    run = read_recorded_run(PROTON)
    source = MatchedShowerSource(run, repeats=1, max_events=2)
    assert source.particle == "proton" and source.viewcone_radius.to_value(u.deg) == pytest.approx(5.0)
    assert source.nsb_rate_ghz == pytest.approx(0.239552)


def test_command_line(tmp_path, capsys):
    out = tmp_path / "matched"
    assert main(["simulate", "--showers-from", str(REAL_GAMMA), "--repeats", "1",
                 "--no-progress", "-o", str(out)]) == 0
    shower = read_table(out / "gamma.dl1.h5", "/simulation/event/subarray/shower")
    assert list(shower["event_id"]) == [1000 * e for e in _eventio_showers(REAL_GAMMA)]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--showers-from", str(SIMTEL / "lst_muons.simtel.zst")], "primary muon"),
        (["--showers-from", "/nonexistent.simtel.zst"], "does not exist"),
        (["--repeats", "3"], "needs --showers-from"),
        (["--showers-from", str(REAL_GAMMA), "--repeats", "0"], "repeats"),
        (["--showers-from", str(REAL_GAMMA), "--particles", "proton"], "contradicts"),
    ],
)
def test_bad_requests_are_refused_in_one_line(argv, message, tmp_path, capsys):
    assert main(["simulate", *argv, "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "out" / "gamma.dl1.h5").exists()


def test_default_observation_ids_differ_by_seed_and_particle():
    ids = {default_obs_id(p, s) for p in ("gamma", "proton", "nsb") for s in range(50)}
    assert len(ids) == 150
    assert ToyEventSource(particle="gamma", seed=2, n_events=1).obs_id == default_obs_id("gamma", 2)


def test_observation_id_only_labels_the_run():
    """Changing obs_id must not change the simulated events (results of seed N stay those of seed N)."""
    a = list(ToyEventSource(particle="gamma", seed=9, n_events=3, energy_min=500 * u.GeV))
    b = list(ToyEventSource(particle="gamma", seed=9, n_events=3, energy_min=500 * u.GeV, obs_id=77))
    assert [e.simulation.shower.energy for e in a] == [e.simulation.shower.energy for e in b]
    assert {e.index.obs_id for e in b} == {77}


def test_refuses_files_without_showers(tmp_path):
    bad = tmp_path / "bad.simtel.zst"
    bad.write_bytes(b"not a sim_telarray file")
    with pytest.raises(RecordedRunError, match="bad.simtel.zst"):
        read_recorded_run(bad)
