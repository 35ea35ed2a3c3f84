"""A parametric model of air-shower Cherenkov images, photon by photon.

A shower is a set of electromagnetic cascades ("sub-showers"): one for a gamma
ray, several for a proton, plus muons for a proton. Each cascade has an axis,
a core on the ground, a starting depth and an energy. For each telescope the
model decides how many photo-electrons (p.e.) the cascade delivers, then draws
that many emission points along the axis (Greisen longitudinal profile) with
a lateral spread (a fraction of the local Moliere radius). Every photon's
position in the camera is the direction from the telescope to its emission
point (plus the optical point-spread function) and its arrival time is the
geometric light travel time including the refractive index: image shape,
orientation, the time gradient along the image and its change with impact
distance all follow from geometry. The p.e. yield is a light-pool model whose
density scales as E / L^k (L the distance of the emitter) with an
exponential fall-off beyond the pool radius L tan(theta_c).

All parameters and their sources are in docs/simulation.md.
"""

from dataclasses import dataclass, field

import numpy as np

from . import atmosphere as atm

__all__ = [
    "SHOWER_MODELS",
    "ShowerModel",
    "Shower",
    "SubShower",
    "Muon",
    "TelescopeView",
    "PhotonList",
    "C_M_PER_NS",
    "altaz_to_vector",
]

C_M_PER_NS = 0.299792458
RADIATION_LENGTH = 36.7  # g/cm2 in air (PDG)
CRITICAL_ENERGY_GEV = 0.0851  # in air (PDG)
PROTON_INTERACTION_LENGTH = 80.0  # g/cm2 near 1 TeV (PDG inelastic p-air)
MOLIERE_DEPTH = 9.6  # g/cm2: Moliere radius times density, air (PDG)


@dataclass
class SubShower:
    """One electromagnetic cascade: energy (GeV), axis (unit vector to the sky), core (m), start depth."""

    energy: float
    axis: np.ndarray
    core: np.ndarray
    start_depth: float
    hadronic: bool = False  # a pi0 cascade of a hadron shower


@dataclass
class Muon:
    """A muon reaching the ground at ``core`` (m) along ``axis`` with energy (GeV)."""

    energy: float
    axis: np.ndarray
    core: np.ndarray


@dataclass
class Shower:
    """A primary particle and what the model made of it."""

    particle: str
    energy: float  # GeV
    axis: np.ndarray  # unit vector from the ground towards the source, ground frame
    core: np.ndarray  # (x, y, 0) in m, ground frame
    first_depth: float  # g/cm2, slant
    x_max: float  # g/cm2, slant, of the most energetic cascade
    light_scale: float  # shower-to-shower fluctuation of the light yield
    subshowers: list = field(default_factory=list)
    muons: list = field(default_factory=list)


def altaz_to_vector(alt, az):
    """Unit vector(s) towards (alt, az) in rad, shape (..., 3), in ctapipe's ground frame (x north, y west, z up)."""
    alt, az = np.asarray(alt, float), np.asarray(az, float)
    return np.stack([np.cos(alt) * np.cos(az), -np.cos(alt) * np.sin(az), np.sin(alt)], axis=-1)


@dataclass
class TelescopeView:
    """Where a telescope is and where it looks: position (m) and camera basis vectors."""

    position: np.ndarray
    pointing: np.ndarray
    e_lon: np.ndarray
    e_lat: np.ndarray

    @classmethod
    def from_altaz(cls, position, alt, az):
        """Basis of ctapipe's TelescopeFrame (fov_lon along azimuth, fov_lat along altitude)."""
        ca, sa, cz, sz = np.cos(alt), np.sin(alt), np.cos(az), np.sin(az)
        return cls(
            position=np.asarray(position, float),
            pointing=altaz_to_vector(alt, az),
            e_lon=np.array([-sz, -cz, 0.0]),
            e_lat=np.array([-sa * cz, sa * sz, ca]),
        )

    def project(self, vectors):
        """fov_lon, fov_lat (deg) of direction vectors of shape (n, 3)."""
        depth = vectors @ self.pointing
        lon = np.degrees(np.arctan2(vectors @ self.e_lon, depth))
        lat = np.degrees(np.arctan2(vectors @ self.e_lat, depth))
        return lon, lat


@dataclass
class PhotonList:
    """Photo-electrons of one telescope: camera position (deg, telescope frame) and time (ns)."""

    lon: np.ndarray
    lat: np.ndarray
    time: np.ndarray

    @classmethod
    def empty(cls):
        return cls(np.empty(0), np.empty(0), np.empty(0))

    @classmethod
    def concatenate(cls, lists):
        lists = list(lists)
        if not lists:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, k) for p in lists]) for k in ("lon", "lat", "time")))

    def __len__(self):
        return len(self.time)


def _orthonormal_basis(axis):
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(axis, e1)


def _tilt(axis, angle, rng):
    """Rotate ``axis`` by ``angle`` (rad) towards a random azimuth."""
    e1, e2 = _orthonormal_basis(axis)
    phi = rng.uniform(0, 2 * np.pi)
    tilted = np.cos(angle) * axis + np.sin(angle) * (np.cos(phi) * e1 + np.sin(phi) * e2)
    return tilted / np.linalg.norm(tilted)


# Named parameter sets of the image model, as changes to the defaults below. v1 is the first toy, every physics
# figure made before the recalibration; v2 is calibrated shower by shower against sim_telarray on the shared files
# (docs/simulation.md, benchmarks/validate_simulation_matched.py --model v2): the image core and wings, a
# two-component PSF, the wide-angle Cherenkov tail, shorter emission (age cut), proton cascades with a harder
# transverse momentum and a stronger, laterally spread wide-angle tail, and the muon-ring yield of lst_muons.
SHOWER_MODELS = {
    "v1": {},
    "v2": {
        "lateral_fraction": 0.028, "halo_fraction": 0.25, "halo_scale": 4.5,
        "psf_deg": 0.016, "psf_tail_deg": 0.045, "psf_tail_fraction": 0.22,
        "pool_falloff": 0.3, "angular_tail": 0.3, "angular_tail_deg": 10.0, "max_age": 1.05,
        "proton_light_fraction": 0.65, "proton_subshowers_per_decade": 3.0, "proton_energy_sharing": 0.7,
        "transverse_momentum_gev": 1.5, "proton_angular_tail": 0.45, "proton_tail_lateral_fraction": 0.14,
        "muon_pe_per_deg": 2850.0, "muon_visible_radius": 60.0,
    },
}
# What simulations use unless told otherwise: the calibrated set, so that a new figure rests on images that match
# sim_telarray; v1 stays for before/after comparisons with the figures made on it.
DEFAULT_SHOWER_MODEL = "v2"


@dataclass
class ShowerModel:
    """Parameters of the image model, the first toy's (v1) by default, explained in docs/simulation.md.

    :meth:`named` gives the named sets, the calibrated default (v2) among them."""

    observation_level: float = 2147.0  # m a.s.l., CTAO-North reference height
    pe_per_gev: float = 5.6  # p.e. per GeV inside the light pool at the reference distance
    reference_distance: float = 6650.0  # m, distance to shower maximum for pe_per_gev
    pool_angle_deg: float = 0.95  # effective Cherenkov angle setting the light-pool radius
    pool_falloff: float = 0.45  # e-folding distance beyond the pool, in pool radii
    angular_tail: float = 0.0  # light density of the wide-angle tail at the pool's edge, relative to the pool
    angular_tail_deg: float = 4.4  # its e-folding angle (Hillas 1982: 0.83 E_thr^-0.67 rad, E_thr ~ 35 MeV)
    # hadron showers: their cascades start from pions produced at wide angles and scattered far from the axis
    proton_angular_tail: float | None = None  # the wide-angle tail of their cascades (None: angular_tail)
    proton_tail_lateral_fraction: float = 0.0  # lateral spread of that tail's emitters, Moliere radii (0: as the rest)
    max_age: float = 1.3  # Cherenkov emission is cut beyond this shower age
    min_distance: float = 3000.0  # m, floor of the light-density scaling with distance
    distance_index: float = 1.0  # light density in the pool scales as L^-distance_index
    lateral_fraction: float = 0.045  # lateral spread of the emitters, in Moliere radii
    halo_fraction: float = 0.2  # share of photons from low-energy electrons far from the axis
    halo_scale: float = 3.0  # their lateral spread, in units of the core spread
    psf_deg: float = 0.035  # optical point-spread function: core Gaussian sigma per axis
    psf_tail_deg: float = 0.0  # sigma per axis of the PSF's second component (0: none)
    psf_tail_fraction: float = 0.0  # share of photons in that component
    time_jitter_ns: float = 0.7  # PMT transit-time jitter (LSTN-01 transit_time_jitter)
    gamma_fluctuation: float = 0.15  # log-normal sigma of the gamma light yield at 1 TeV
    proton_light_fraction: float = 0.33  # electromagnetic share of a proton's energy
    proton_fluctuation: float = 0.45  # log-normal sigma of a proton's light yield
    proton_subshowers_per_decade: float = 1.5  # mean extra cascades per decade of energy above 10 GeV
    proton_energy_sharing: float = 1.0  # Dirichlet concentration of the cascades' energy shares (small: unequal)
    transverse_momentum_gev: float = 0.35  # mean pT of the pi0s that start the cascades
    muons_per_gev: float = 0.015  # muons reaching the ground per GeV of primary energy
    muon_lateral_radius: float = 250.0  # m, radius over which those muons land
    muon_visible_radius: float = 40.0  # m, muons landing closer than this image in the camera
    mirror_radius: float = 11.5  # m, LST dish radius: muons inside give full rings
    muon_pe_per_deg: float = 1800.0  # p.e. of a full ring per degree of ring radius

    # -- primaries ---------------------------------------------------------

    @classmethod
    def named(cls, name=DEFAULT_SHOWER_MODEL, **changes):
        """The parameter set ``name`` of :data:`SHOWER_MODELS`, with ``changes`` on top."""
        if name not in SHOWER_MODELS:
            raise ValueError(f"unknown shower model {name!r}; known: {', '.join(SHOWER_MODELS)}")
        return cls(**{**SHOWER_MODELS[name], **changes})

    def gamma(self, energy, axis, core, rng) -> Shower:
        cos_z = axis[2]
        first = rng.exponential(RADIATION_LENGTH * 9 / 7)
        fluct = self.gamma_fluctuation * (1 + 0.5 * np.log10(1000.0 / max(energy, 1.0)))
        shower = Shower(
            particle="gamma",
            energy=energy,
            axis=axis,
            core=core,
            first_depth=first,
            x_max=first + RADIATION_LENGTH * np.log(energy / CRITICAL_ENERGY_GEV),
            light_scale=float(np.exp(rng.normal(0, max(fluct, 0.05)))),
        )
        shower.subshowers.append(SubShower(energy, axis, core, first))
        self._check_depth(shower, cos_z)
        return shower

    def proton(self, energy, axis, core, rng) -> Shower:
        cos_z = axis[2]
        first = rng.exponential(PROTON_INTERACTION_LENGTH)
        em_energy = energy * self.proton_light_fraction
        n_sub = 1 + rng.poisson(self.proton_subshowers_per_decade * max(np.log10(energy / 10.0), 0.0))
        fractions = rng.dirichlet(np.full(n_sub, self.proton_energy_sharing))
        starts = first + np.cumsum(rng.exponential(PROTON_INTERACTION_LENGTH, n_sub)) - PROTON_INTERACTION_LENGTH / 2
        shower = Shower(
            particle="proton",
            energy=energy,
            axis=axis,
            core=core,
            first_depth=first,
            x_max=np.nan,
            light_scale=float(np.exp(rng.normal(0, self.proton_fluctuation))),
        )
        h_first = atm.height_of_slant_depth(max(first, 1.0), cos_z) - self.observation_level
        for frac, start in zip(fractions, np.maximum(starts, first)):
            e_sub = em_energy * frac
            if e_sub < 0.5:
                continue
            # transverse momentum ~0.35 GeV gives the sub-cascade angle
            angle = min(abs(rng.normal(0, self.transverse_momentum_gev / max(e_sub, self.transverse_momentum_gev))),
                        np.radians(6))
            sub_axis = _tilt(axis, angle, rng)
            h_start = atm.height_of_slant_depth(max(start, 1.0), cos_z) - self.observation_level
            lever = max(h_start, 0.0) / cos_z
            sub_core = core + lever * (sub_axis - axis) * np.array([1, 1, 0])
            shower.subshowers.append(SubShower(e_sub, sub_axis, sub_core, start, hadronic=True))
        if shower.subshowers:
            biggest = max(shower.subshowers, key=lambda s: s.energy)
            shower.x_max = biggest.start_depth + RADIATION_LENGTH * np.log(biggest.energy / CRITICAL_ENERGY_GEV)
        n_mu = rng.poisson(self.muons_per_gev * energy)
        for _ in range(n_mu):
            r = self.muon_lateral_radius * np.sqrt(rng.uniform())
            phi = rng.uniform(0, 2 * np.pi)
            mu_core = core + np.array([r * np.cos(phi), r * np.sin(phi), 0.0])
            lever = max(h_first, 1000.0) / cos_z
            mu_axis = axis - np.array([r * np.cos(phi), r * np.sin(phi), 0.0]) / lever
            mu_axis /= np.linalg.norm(mu_axis)
            shower.muons.append(Muon(float(rng.uniform(5.0, 40.0)), mu_axis, mu_core))
        return shower

    def _check_depth(self, shower, cos_z):
        ground = atm.slant_depth(self.observation_level, cos_z)
        shower.x_max = min(shower.x_max, ground)

    # -- light yield and photons --------------------------------------------
    def _emitters(self, sub: SubShower, cos_z, n, rng):
        """Emission depths (slant g/cm2) drawn from Greisen's profile, with their heights and distances."""
        beta0 = np.log(max(sub.energy, 0.2) / CRITICAL_ENERGY_GEV)
        ground = atm.slant_depth(self.observation_level, cos_z)
        # beyond shower age max_age few electrons are above the Cherenkov threshold
        t_age = 2 * beta0 * self.max_age / (3 - self.max_age)
        t_max = max(min((ground - sub.start_depth) / RADIATION_LENGTH, t_age), 0.05)
        t = np.linspace(1e-3, t_max, 256)
        s = 3 * t / (t + 2 * beta0)
        cdf = np.cumsum(np.exp(t * (1 - 1.5 * np.log(s))))
        cdf /= cdf[-1]
        depth = sub.start_depth + RADIATION_LENGTH * np.interp(rng.uniform(size=n), cdf, t)
        height = atm.height_of_slant_depth(depth, cos_z)
        along = np.maximum((height - self.observation_level) / sub.axis[2], 50.0)
        return height, along

    def _tail_amplitude(self, sub: SubShower) -> float:
        if sub.hadronic and self.proton_angular_tail is not None:
            return self.proton_angular_tail
        return self.angular_tail

    def _acceptance(self, along, r_axis, tail_share=False, amplitude=None):
        """Relative light density at axis distance ``r_axis`` from emitters at distance ``along``.

        Light from an emitter at distance L lands within the pool radius
        L tan(theta) (density falling as 1/L^2), with an exponential tail.
        With ``tail_share`` also the share of it that comes from the wide-angle tail.
        """
        pool = along * np.tan(np.radians(self.pool_angle_deg))
        falloff = np.exp(-np.maximum(r_axis - pool, 0.0) / (self.pool_falloff * pool))
        share = np.zeros_like(falloff)
        amplitude = self.angular_tail if amplitude is None else amplitude
        if amplitude > 0:
            # electrons scattered far from the axis send light at angles well beyond the Cherenkov angle:
            # dN/dOmega ~ exp(-theta / theta0) / sin(theta) (Hillas 1982), which reaches far beyond the pool
            theta = np.degrees(np.arctan2(r_axis, along))
            edge = self.pool_angle_deg
            tail = (edge / np.maximum(theta, edge)) * np.exp(-np.maximum(theta - edge, 0.0) / self.angular_tail_deg)
            mixed = (1 - amplitude) * falloff + amplitude * tail
            share = amplitude * tail / np.maximum(mixed, 1e-300)
            falloff = mixed
        scale = (self.reference_distance / np.maximum(along, self.min_distance)) ** self.distance_index
        return (scale * falloff, share) if tail_share else scale * falloff

    def _axis_distance(self, sub: SubShower, tel: TelescopeView):
        rel = tel.position - sub.core
        return np.linalg.norm(rel - (rel @ sub.axis) * sub.axis)

    def expected_pe(self, sub: SubShower, tel: TelescopeView, cos_z, rng, n_probe=512) -> float:
        """Mean photo-electrons a cascade gives a telescope (Monte Carlo over the profile)."""
        _, along = self._emitters(sub, cos_z, n_probe, rng)
        weight = self._acceptance(along, self._axis_distance(sub, tel), amplitude=self._tail_amplitude(sub))
        return self.pe_per_gev * sub.energy * float(weight.mean())

    def _emit(self, sub: SubShower, tel: TelescopeView, mean_pe, cos_z, rng) -> PhotonList:
        """Draw the cascade's photo-electrons for one telescope, emitters weighted by acceptance."""
        r_axis = self._axis_distance(sub, tel)
        n_pool = 4096
        height, along = self._emitters(sub, cos_z, n_pool, rng)
        weight, tail_share = self._acceptance(along, r_axis, tail_share=True, amplitude=self._tail_amplitude(sub))
        expected = mean_pe * float(weight.mean())
        n = rng.poisson(expected)
        if n == 0:
            return PhotonList.empty()
        pick = rng.choice(n_pool, size=n, p=weight / weight.sum())
        # smear the picked depths so repeated picks do not stack on one point
        along = along[pick] * np.exp(rng.normal(0, 0.02, n))
        height = self.observation_level + along * sub.axis[2]
        moliere = MOLIERE_DEPTH / atm.density(height) / 100.0  # m
        sigma = self.lateral_fraction * moliere
        sigma = np.where(rng.uniform(size=n) < self.halo_fraction, self.halo_scale * sigma, sigma)
        if sub.hadronic and self.proton_tail_lateral_fraction > 0:
            # a hadron shower's wide-angle light comes from secondaries spread far from the axis
            from_tail = rng.uniform(size=n) < tail_share[pick]
            sigma = np.where(from_tail, self.proton_tail_lateral_fraction * moliere, sigma)
        e1, e2 = _orthonormal_basis(sub.axis)
        off1, off2 = rng.normal(size=(2, n)) * sigma
        points = sub.core + along[:, None] * sub.axis + off1[:, None] * e1 + off2[:, None] * e2
        return self._photons_from_points(points, along, height, tel, rng)

    def _photons_from_points(self, points, along, height, tel, rng) -> PhotonList:
        vec = points - tel.position
        dist = np.linalg.norm(vec, axis=1)
        lon, lat = tel.project(vec)
        sigma = self._psf_sigma(len(lon), rng)
        lon = lon + rng.normal(0, 1, len(lon)) * sigma
        lat = lat + rng.normal(0, 1, len(lat)) * sigma
        n_minus_1 = atm.mean_refractivity(self.observation_level + tel.position[2], height)
        # particles travel down the axis at c; the light then travels to the telescope
        time = (-along + dist * (1 + n_minus_1)) / C_M_PER_NS
        time = time + rng.normal(0, self.time_jitter_ns, len(time))
        return PhotonList(lon, lat, time)

    def _psf_sigma(self, n, rng):
        """Per-photon PSF sigma: mirror facets scatter most rays little and a fraction more (two Gaussians)."""
        if self.psf_tail_fraction <= 0:
            return np.full(n, self.psf_deg)
        return np.where(rng.uniform(size=n) < self.psf_tail_fraction, self.psf_tail_deg, self.psf_deg)

    def _muon_photons(self, muon: Muon, tel: TelescopeView, rng) -> PhotonList:
        rel = tel.position - muon.core
        b = np.linalg.norm(rel - (rel @ muon.axis) * muon.axis)
        if b > self.muon_visible_radius:
            return PhotonList.empty()
        threshold = 4.5  # GeV, Cherenkov threshold of muons at the telescope altitude
        radius = 1.2 * np.sqrt(max(1 - (threshold / muon.energy) ** 2, 0.0))
        if radius < 0.2:
            return PhotonList.empty()
        if b < self.mirror_radius:
            arc, fraction = np.pi, 1.0
        else:
            arc = np.arcsin(self.mirror_radius / b)
            fraction = arc / np.pi * self.mirror_radius / b
        n = rng.poisson(self.muon_pe_per_deg * radius * fraction)
        if n == 0:
            return PhotonList.empty()
        centre_lon, centre_lat = tel.project(muon.axis[None, :])
        # the arc faces the direction of the muon's impact point as seen in the camera
        tip = np.arctan2(rel @ tel.e_lat, rel @ tel.e_lon) + np.pi
        phi = tip + rng.uniform(-arc, arc, n)
        r = radius + rng.normal(0, 0.04, n)
        lon = centre_lon[0] + r * np.cos(phi) + rng.normal(0, self.psf_deg, n)
        lat = centre_lat[0] + r * np.sin(phi) + rng.normal(0, self.psf_deg, n)
        # muon light is emitted in the last few hundred metres: it arrives first
        time = (rel @ muon.axis) / C_M_PER_NS + rng.normal(0, 0.5, n)
        return PhotonList(lon, lat, time)

    def photons(self, shower: Shower, tel: TelescopeView, rng) -> PhotonList:
        """All photo-electrons a shower produces in one telescope's camera."""
        cos_z = shower.axis[2]
        lists = []
        for sub in shower.subshowers:
            mean = self.pe_per_gev * sub.energy * shower.light_scale
            lists.append(self._emit(sub, tel, mean, cos_z, rng))
        lists.extend(self._muon_photons(mu, tel, rng) for mu in shower.muons)
        return PhotonList.concatenate(lists)
