"""Physics and reproducibility of the toy LST simulation."""

import astropy.units as u
import numpy as np
import pytest
from traitlets import TraitError

from trigger.simulation.camera import CameraResponse
from trigger.simulation.showers import PhotonList, ShowerModel, TelescopeView
from trigger.simulation.source import SimulationError, ToyEventSource

ALT = np.radians(70.0)
AXIS = np.array([np.cos(ALT), 0.0, np.sin(ALT)])


def events(**kwargs):
    return list(ToyEventSource(**kwargs))


def test_seeded_runs_are_identical_bit_for_bit():
    a = events(particle="gamma", n_events=6, seed=3, energy_min=300 * u.GeV)
    b = events(particle="gamma", n_events=6, seed=3, energy_min=300 * u.GeV)
    c = events(particle="gamma", n_events=6, seed=4, energy_min=300 * u.GeV)
    assert [e.simulation.shower.energy for e in a] == [e.simulation.shower.energy for e in b]
    assert any(len(e.r1.tel) for e in a)
    for ea, eb in zip(a, b):
        assert list(ea.r1.tel) == list(eb.r1.tel)
        for tel_id in ea.r1.tel:
            assert np.array_equal(ea.r1.tel[tel_id].waveform, eb.r1.tel[tel_id].waveform)
    assert [e.simulation.shower.energy for e in a] != [e.simulation.shower.energy for e in c]


def test_energy_spectrum_follows_the_power_law():
    source = ToyEventSource(particle="gamma", n_events=1, energy_min=10 * u.GeV, energy_max=10 * u.TeV)
    rng = np.random.default_rng(1)
    energies = np.array([source._energy(rng) for _ in range(20000)])
    assert energies.min() >= 10 and energies.max() <= 10000
    # for E^-2 every decade holds 10x fewer events than the one below
    counts = np.histogram(np.log10(energies), bins=[1, 2, 3, 4])[0]
    assert counts[0] / counts[1] == pytest.approx(10, rel=0.15)
    # maximum-likelihood index of a bounded power law is close to -2
    assert np.median(energies) == pytest.approx(2 * 10 * 10000 / (10 + 10000), rel=0.05)


def test_nsb_only_waveforms_have_zero_mean_and_poisson_noise(instrument):
    rate = 0.233591
    camera = CameraResponse(instrument, rate)
    rng = np.random.default_rng(0)
    waves = np.stack([camera.respond(PhotonList.empty(), 0.0, rng).waveform[0] for _ in range(5)])
    core = waves[:, :, 8:32]  # away from the window edges
    assert abs(core.mean()) < 0.01
    # variance = rate * sum(pulse^2) * <A^2>/<A>^2 + electronic noise^2
    amp, prob = instrument.single_pe_spectrum
    excess = np.sum(amp**2 * prob) / np.sum(amp * prob) ** 2
    pulse_sq = np.sum(camera.kernel[:, 20] ** 2) * 0.25  # fine bins of 0.25 ns
    expected = rate * pulse_sq * excess + camera.noise_pe**2
    assert core.var() == pytest.approx(expected, rel=0.05)


def test_higher_nsb_gives_noisier_waveforms(instrument):
    rng = np.random.default_rng(2)
    low = CameraResponse(instrument, 0.2336).respond(PhotonList.empty(), 0.0, rng).waveform
    high = CameraResponse(instrument, 5 * 0.2336).respond(PhotonList.empty(), 0.0, rng).waveform
    assert high[0, :, 8:32].std() > 1.8 * low[0, :, 8:32].std()


def test_one_photo_electron_integrates_to_one(instrument):
    camera = CameraResponse(instrument, 0.0, noise_pe=0.0)
    photons = PhotonList(np.zeros(1000), np.zeros(1000), np.full(1000, 15.0))
    image = camera.respond(photons, 0.0, np.random.default_rng(0))
    assert image.true_image[0] == 1000
    assert image.waveform[0, 0].sum() / 1000 == pytest.approx(1.0, abs=0.03)
    assert 14 <= np.argmax(image.waveform[0, 0]) <= 18


def test_a_longer_trace_sees_light_after_the_readout(instrument):
    """The validation's analog sum can watch sim_telarray's 68-ns discriminator window instead of the readout."""
    photons = PhotonList(np.zeros(2000), np.zeros(2000), np.full(2000, 55.0))
    readout = CameraResponse(instrument, 0.0, noise_pe=0.0).respond(photons, 0.0, np.random.default_rng(0)).waveform
    longer = CameraResponse(instrument, 0.0, noise_pe=0.0, n_samples=68).respond(photons, 0.0, np.random.default_rng(0)).waveform
    assert readout.shape[-1] == instrument.n_samples and longer.shape[-1] == 68
    assert readout[0, 0].sum() < 1 and longer[0, 0].sum() / 2000 == pytest.approx(1.0, abs=0.03)
    with pytest.raises(ValueError, match="n_samples"):
        CameraResponse(instrument, 0.0, n_samples=0)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_gamma_light_pool_and_energy_scaling(version):
    model = ShowerModel.named(version)
    rng = np.random.default_rng(5)

    def mean_size(energy, distance):
        tel = TelescopeView.from_altaz([0.0, distance, 0.0], ALT, 0.0)
        return np.mean([len(model.photons(model.gamma(energy, AXIS, np.zeros(3), rng), tel, rng)) for _ in range(30)])

    inside, outside = mean_size(1000.0, 60.0), mean_size(1000.0, 300.0)
    assert outside < 0.2 * inside
    # roughly proportional to energy inside the pool (calibrated on a 1.37 TeV sim_telarray event)
    assert mean_size(100.0, 60.0) == pytest.approx(inside / 10, rel=0.5)
    assert 3000 < inside < 12000


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_gamma_image_points_away_from_the_source_and_gets_longer_with_impact(version):
    model = ShowerModel.named(version)
    rng = np.random.default_rng(6)
    shower = model.gamma(500.0, AXIS, np.zeros(3), rng)
    # a telescope west of the core (+y) sees the shower to the east: positive fov_lon
    near = model.photons(shower, TelescopeView.from_altaz([0.0, 80.0, 0.0], ALT, 0.0), rng)
    far = model.photons(shower, TelescopeView.from_altaz([0.0, 200.0, 0.0], ALT, 0.0), rng)
    assert np.median(near.lon) > 0.3 and abs(np.median(near.lat)) < 0.05
    assert np.median(far.lon) > np.median(near.lon)
    assert np.std(far.lon) > np.std(far.lat)
    # far from the core, light from high in the shower (close to the source) arrives first
    slope_far = np.polyfit(far.lon, far.time, 1)[0]
    assert slope_far > 1.0


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_protons_are_broader_than_gammas(version):
    model = ShowerModel.named(version)
    rng = np.random.default_rng(8)
    tel = TelescopeView.from_altaz([0.0, 100.0, 0.0], ALT, 0.0)
    widths = {}
    for particle in ("gamma", "proton"):
        make = getattr(model, particle)
        spread = []
        for _ in range(40):
            p = model.photons(make(1000.0, AXIS, np.zeros(3), rng), tel, rng)
            if len(p) > 50:
                spread.append(np.std(p.lat))
        widths[particle] = np.median(spread)
    assert widths["proton"] > 1.5 * widths["gamma"]
    showers = [model.proton(3000.0, AXIS, np.zeros(3), rng) for _ in range(50)]
    assert np.mean([len(s.subshowers) for s in showers]) > 3
    assert np.mean([len(s.muons) for s in showers]) > 10


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_muon_through_the_mirror_makes_a_ring(version):
    model = ShowerModel.named(version)
    rng = np.random.default_rng(9)
    from trigger.simulation.showers import Muon

    tel = TelescopeView.from_altaz([0.0, 0.0, 0.0], ALT, 0.0)
    muon = Muon(energy=30.0, axis=AXIS, core=np.array([3.0, 0.0, 0.0]))
    ring = model._muon_photons(muon, tel, rng)
    radius = np.hypot(ring.lon, ring.lat)
    assert len(ring) > 1000
    assert np.median(radius) == pytest.approx(1.2 * np.sqrt(1 - (4.5 / 30) ** 2), abs=0.05)


def test_event_containers_are_complete():
    (event,) = events(particle="gamma", n_events=1, seed=11, energy_min=2 * u.TeV, max_impact=50 * u.m)
    assert len(event.trigger.tels_with_trigger) == 4
    for tel_id, r1 in event.r1.tel.items():
        assert r1.waveform.shape == (1, 1855, 40)
        assert r1.waveform.dtype == np.float32
        sim = event.simulation.tel[tel_id]
        assert sim.true_image.sum() == sim.true_image_sum >= 10
        assert np.isfinite(sim.impact.distance)
    assert event.simulation.shower.shower_primary_id == 0
    (nsb,) = events(particle="nsb", n_events=1)
    assert nsb.simulation.shower.shower_primary_id == -1
    assert all(nsb.simulation.tel[t].true_image_sum == 0 for t in nsb.r1.tel)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(energy_min=-5 * u.GeV), "energy range"),
        (dict(energy_min=2 * u.TeV, energy_max=1 * u.TeV), "energy range"),
        (dict(nsb_rate=np.nan * u.GHz), "nsb_rate"),
        (dict(n_events=-1), "n_events"),
        (dict(max_impact=-1 * u.m), "max_impact"),
    ],
)
def test_bad_settings_are_rejected(kwargs, message):
    with pytest.raises(SimulationError, match=message):
        ToyEventSource(**kwargs)


def test_shower_models_are_named_parameter_sets():
    assert ShowerModel.named("v1") == ShowerModel()
    v2 = ShowerModel.named("v2", psf_deg=0.02)
    assert v2.psf_deg == 0.02 and v2.max_age < ShowerModel().max_age
    with pytest.raises(ValueError, match="unknown shower model 'v9'"):
        ShowerModel.named("v9")
    with pytest.raises(TraitError):
        ToyEventSource(shower_model="v9")
    model = ToyEventSource(shower_model="V2", n_events=1).model
    assert model == ShowerModel.named("v2", observation_level=model.observation_level)


def test_unknown_particle_is_rejected():
    with pytest.raises(TraitError, match="muon"):
        ToyEventSource(particle="muon")
    with pytest.raises(TraitError):
        ToyEventSource(energy_min=5 * u.m)
