"""The toy against sim_telarray, shower by shower and telescope by telescope.

Every recorded shower of a real file is re-simulated ``repeats`` times by
:class:`~trigger.simulation.matched.MatchedShowerSource`, so each real LST
image has toy images of the very same shower geometry: the comparison needs
no binning in energy or direction to be fair, and impact-distance and energy
bins only split the result.

Both sides are selected the same way: true-image quantities on images with at
least ``floor`` true p.e. (sim_telarray's STORE_PHOTOELECTRONS: fainter real
images are not stored); cleaned quantities on images that survive ctapipe's
default tailcuts cleaning with at least ``MIN_CLEANED_PE`` p.e., among the LSTs
sim_telarray read out (the toy's repeats of those same telescopes and
showers). The statistic is the ratio of the toy's median to the real median
(a difference for the time gradient and for fractions), with a bootstrap
error that resamples the real (shower, telescope) pairs together with their
toy repeats.
"""

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np

from .matched import EVENT_ID_FACTOR, MatchedShowerSource
from .recorded import RecordedRun, history_number, history_sections, last_setting, read_recorded_run
from .showers import DEFAULT_SHOWER_MODEL, TelescopeView, altaz_to_vector

__all__ = [
    "SimtelThreshold",
    "simtel_threshold",
    "ImageSet",
    "Comparison",
    "IMPACT_BINS",
    "ENERGY_BINS_TEV",
    "MIN_CLEANED_PE",
    "true_hillas",
    "signed_time_gradient",
    "impact_distance",
    "compare",
    "real_images",
    "toy_images",
    "near_showers",
]

IMPACT_BINS = ((0.0, 100.0), (100.0, 200.0), (200.0, 300.0), (300.0, 600.0))
ENERGY_BINS_TEV = (0.0, 0.15, 0.5, 2.0, np.inf)
MIN_CLEANED_PE = 50.0
N_BOOTSTRAP = 1000


@dataclass
class ImageSet:
    """Per LST image columns; ``pair`` = (real event_id, tel_id) keys the shower and telescope it belongs to."""

    event_id: np.ndarray  # the real shower's sim_telarray event id
    tel_id: np.ndarray
    values: dict = field(default_factory=dict)  # name -> array, NaN where not defined

    def __len__(self):
        return len(self.event_id)

    @property
    def pair(self):
        return self.event_id.astype(np.int64) * 1000 + self.tel_id


def impact_distance(alt, az, core_x, core_y, tel_pos):
    """Distance (m) of each telescope from its shower axis (ctapipe's ground frame: x north, y west)."""
    direction = altaz_to_vector(alt, az).reshape(-1, 3)
    rel = np.asarray(tel_pos, float) - np.column_stack([core_x, core_y, np.zeros(len(direction))])
    along = np.sum(rel * direction, axis=1)
    return np.linalg.norm(rel - along[:, None] * direction, axis=1)


def true_hillas(images, lon, lat):
    """Size, width and length (deg) of true images (n, n_pixels) on pixels at (lon, lat) deg, vectorised moments."""
    images = np.asarray(images, float)
    size = images.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = images @ lon / size
        my = images @ lat / size
        dx = lon[None, :] - mx[:, None]
        dy = lat[None, :] - my[:, None]
        sxx = np.sum(images * dx * dx, axis=1) / size
        syy = np.sum(images * dy * dy, axis=1) / size
        sxy = np.sum(images * dx * dy, axis=1) / size
    half_trace = (sxx + syy) / 2
    root = np.sqrt(((sxx - syy) / 2) ** 2 + sxy**2)
    length = np.sqrt(np.maximum(half_trace + root, 0.0))
    width = np.sqrt(np.maximum(half_trace - root, 0.0))
    return size, width, length


def signed_time_gradient(slope, psi_rad, cog_lon, cog_lat, source_lon, source_lat):
    """ctapipe's timing slope signed along the image axis: positive when the end far from the source is later."""
    direction = np.sign(np.cos(psi_rad) * (cog_lon - source_lon) + np.sin(psi_rad) * (cog_lat - source_lat))
    return np.asarray(slope, float) * direction


def _source_position(alt, az, pointing_alt, pointing_az):
    """Camera position (deg, TelescopeFrame) of each shower's arrival direction."""
    view = TelescopeView.from_altaz(np.zeros(3), np.radians(pointing_alt), np.radians(pointing_az))
    return view.project(altaz_to_vector(alt, az).reshape(-1, 3))


def near_showers(run: RecordedRun, max_impact=600.0) -> RecordedRun:
    """The run with only showers that pass within ``max_impact`` m of an LST (far ones image nothing on either side)."""
    keep = []
    positions = np.array([run.subarray.positions[t].to_value("m") for t in run.tel_ids])
    for shower in run.showers:
        n = len(positions)
        impact = impact_distance(np.full(n, shower.alt), np.full(n, shower.az), np.full(n, shower.core_x),
                                 np.full(n, shower.core_y), positions)
        if impact.min() < max_impact:
            keep.append(shower)
    return RecordedRun(**{**run.__dict__, "showers": keep})


def _pair_geometry(run: RecordedRun, event_id, tel_id):
    """Energy (TeV), impact (m) and source position of each (event_id, tel_id) from the recorded shower table."""
    by_id = {s.event_id: s for s in run.showers}
    showers = [by_id[int(e)] for e in event_id]
    alt = np.array([s.alt for s in showers])
    az = np.array([s.az for s in showers])
    pos = np.array([run.subarray.positions[int(t)].to_value("m") for t in tel_id]).reshape(-1, 3)
    impact = impact_distance(alt, az, [s.core_x for s in showers], [s.core_y for s in showers], pos)
    src_lon, src_lat = _source_position(alt, az, run.pointing_alt.to_value("deg"), run.pointing_az.to_value("deg"))
    energy = np.array([s.energy for s in showers]) / 1000.0
    return energy, impact, src_lon, src_lat


def _cleaned_columns(table, src_lon, src_lat):
    """Cleaned intensity, width, length (deg) and signed time gradient (ns/deg) from a DL1 parameter table."""
    intensity = np.asarray(table["hillas_intensity"], float)
    ok = np.isfinite(intensity) & (intensity >= MIN_CLEANED_PE)

    def col(name):
        return np.where(ok, np.asarray(table[name], float), np.nan)

    gradient = signed_time_gradient(
        col("timing_slope"), np.radians(col("hillas_psi")), col("hillas_fov_lon"), col("hillas_fov_lat"), src_lon, src_lat)
    return {
        "cleaned": ok.astype(float),
        "intensity": np.where(ok, intensity, np.nan),
        "width": col("hillas_width"),
        "length": col("hillas_length"),
        "length_over_width": col("hillas_length") / col("hillas_width"),
        "time_gradient": gradient,
    }


def real_images(run: RecordedRun, dl1_path, lon, lat):
    """Real LST images: true quantities of every stored true image (eventio), cleaned ones of the read-out LSTs.

    ``dl1_path``: the file converted by :func:`trigger.io.convert_simtel` (the read-out telescopes' DL1).
    """
    from ctapipe.io import TableLoader
    from eventio import SimTelFile

    keys, images, read_out = [], [], set()
    lst = set(run.tel_ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with SimTelFile(str(run.path), skip_non_triggered=False) as simtel:
            tel_of_index = {i: int(t) for i, t in enumerate(simtel.header["tel_id"])}
            wanted = {s.event_id for s in run.showers}
            for event in simtel:
                if event.get("mc_event") is None or int(event["event_id"]) not in wanted:
                    continue
                event_id = int(event["event_id"])
                for index, pe in event.get("photoelectrons", {}).items():
                    tel_id = tel_of_index[index]
                    if tel_id in lst:
                        keys.append((event_id, tel_id))
                        images.append(np.asarray(pe["photoelectrons"], float))
                read_out.update((event_id, int(t)) for t in event.get("telescope_events", {}) if int(t) in lst)
    event_id = np.array([k[0] for k in keys], dtype=np.int64)
    tel_id = np.array([k[1] for k in keys], dtype=np.int64)
    size, width, length = true_hillas(np.array(images).reshape(len(images), len(lon)), lon, lat)
    energy, impact, src_lon, src_lat = _pair_geometry(run, event_id, tel_id)
    out = ImageSet(event_id, tel_id, {
        "energy": energy, "impact": impact, "true_size": size, "true_width": width, "true_length": length,
        "read_out": np.array([k in read_out for k in keys], dtype=float),
    })

    # cleaned quantities of the read-out telescopes (their true image is stored too: sizes >= the floor)
    with TableLoader(dl1_path, dl1_parameters=True, simulated=False) as loader:
        table = loader.read_telescope_events()
    where = {(int(e), int(t)): i for i, (e, t) in enumerate(zip(table["event_id"], table["tel_id"]))}
    rows = np.array([where.get(k, -1) for k in keys])
    has = rows >= 0
    cleaned = _cleaned_columns(table[rows[has]], src_lon[has], src_lat[has]) if has.any() else {}
    for name in ("cleaned", "intensity", "width", "length", "length_over_width", "time_gradient"):
        column = np.full(len(keys), np.nan)
        if has.any():
            column[has] = cleaned[name]
        out.values[name] = column
    return out


def toy_images(run: RecordedRun, toy_path, lon, lat):
    """Toy LST images of a matched re-simulation file, keyed by the real shower they repeat."""
    from ctapipe.io import TableLoader

    with TableLoader(toy_path, dl1_parameters=True, simulated=True, true_images=True) as loader:
        table = loader.read_telescope_events()
    event_id = np.asarray(table["event_id"], np.int64) // EVENT_ID_FACTOR
    tel_id = np.asarray(table["tel_id"], np.int64)
    size, width, length = true_hillas(np.asarray(table["true_image"], float), lon, lat)
    energy, impact, src_lon, src_lat = _pair_geometry(run, event_id, tel_id)
    values = {"energy": energy, "impact": impact, "true_size": size, "true_width": width, "true_length": length,
              "repeat": np.asarray(table["event_id"], np.int64) % EVENT_ID_FACTOR}
    values |= _cleaned_columns(table, src_lon, src_lat)
    return ImageSet(event_id, tel_id, values)


@dataclass
class Comparison:
    """One quantity in one bin: real and toy medians (means for fractions), their ratio or difference, its error."""

    quantity: str
    bin: str
    n_real: int
    n_toy: int
    real: float
    toy: float
    value: float  # toy / real, or toy - real
    error: float  # bootstrap standard deviation of value
    kind: str  # "ratio" or "difference"

    def holds(self, tolerance):
        """Within ``1 +- tolerance`` (0 +- tolerance for differences), or within two standard errors."""
        centre = 1.0 if self.kind == "ratio" else 0.0
        if not np.isfinite(self.value):
            return False
        return abs(self.value - centre) <= tolerance or abs(self.value - centre) <= 2 * self.error


def compare(quantity, real_pair, real_value, toy_pair, toy_value, bin_label="all", kind="ratio",
            statistic=np.median, rng=None, n_boot=N_BOOTSTRAP, shower_of=None) -> Comparison:
    """Toy against real for one quantity, pairs resampled together with their toy repeats for the error.

    ``real_pair``/``toy_pair`` key each value by its (shower, telescope); only toy values whose pair has a real
    value count, so both sides describe the same showers and telescopes. With ``shower_of`` (pair keys -> shower
    keys) the error resamples showers, each with all its pairs: the images one shower makes in several LSTs share
    its energy and development, and resampling them one by one counts a shower seen by four LSTs as four
    independent measurements.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    real_pair, real_value = np.asarray(real_pair), np.asarray(real_value, float)
    toy_pair, toy_value = np.asarray(toy_pair), np.asarray(toy_value, float)
    ok = np.isfinite(real_value)
    real_pair, real_value = real_pair[ok], real_value[ok]
    ok = np.isfinite(toy_value) & np.isin(toy_pair, real_pair)
    toy_pair, toy_value = toy_pair[ok], toy_value[ok]

    def value_of(r, t):
        if len(r) == 0 or len(t) == 0:
            return np.nan
        a, b = statistic(r), statistic(t)
        return b / a if kind == "ratio" else b - a

    result = value_of(real_value, toy_value)
    error = np.nan
    if shower_of is None:
        groups = [np.array([i]) for i in range(len(real_value))]
    else:
        shower = np.asarray(shower_of(real_pair))
        groups = [np.flatnonzero(shower == k) for k in np.unique(shower)]
    if len(groups) >= 2 and len(toy_value):
        order = np.argsort(toy_pair, kind="stable")
        sorted_pairs = toy_pair[order]
        starts = np.searchsorted(sorted_pairs, real_pair, side="left")
        stops = np.searchsorted(sorted_pairs, real_pair, side="right")
        draws = []
        for _ in range(n_boot):
            pick = np.concatenate([groups[g] for g in rng.integers(0, len(groups), len(groups))])
            toy_index = np.concatenate([order[starts[i]:stops[i]] for i in pick])
            draws.append(value_of(real_value[pick], toy_value[toy_index]))
        draws = np.asarray(draws)
        draws = draws[np.isfinite(draws)]
        if len(draws) > 1:
            error = float(np.std(draws, ddof=1))
    return Comparison(quantity, bin_label, int(len(real_value)), int(len(toy_value)),
                      float(statistic(real_value)) if len(real_value) else np.nan,
                      float(statistic(toy_value)) if len(toy_value) else np.nan,
                      float(result), error, kind)


def matched_run(path, output, repeats=10, seed=1, max_impact=600.0, progress=False, data_path=None, model=None):
    """Read ``path``, re-simulate its showers within ``max_impact`` of an LST ``repeats`` times into ``output``.

    ``model``: a named parameter set (``"v2"``), or ShowerModel parameters to change (name -> value) for
    calibration scans.
    """
    from ..io import process_events

    run = read_recorded_run(path, data_path)
    near = near_showers(run, max_impact)
    # a dict of changes is a calibration scan, relative to the first toy as every scan so far
    named = model if isinstance(model, str) else DEFAULT_SHOWER_MODEL if model is None else "v1"
    source = MatchedShowerSource(near, repeats=repeats, seed=seed, data_dir=data_path, shower_model=named)
    if model and not isinstance(model, str):
        source.model = dataclasses.replace(source.model, **model)
    process_events(source, output, overwrite=True, progress=progress)
    return run, near


@dataclass
class TriggerDecisions:
    """Per LST true image: the project's analog sum on sim_telarray's p.e. vs sim_telarray's list of triggered LSTs.

    sim_telarray lists an LST only when ``multiplicity`` LSTs triggered together (the LSTs' hardware stereo
    trigger): where that is 2 and no LST of the event is listed, a lone LST that triggered looks the same as one
    that did not, so those images are not ``observable`` and stay out of the agreement. ``max_group_sum`` holds
    one column per NSB draw of the project's camera; the agreement averages over them.
    """

    event_id: np.ndarray
    tel_id: np.ndarray
    true_size: np.ndarray
    max_group_sum: np.ndarray  # (images, draws) counts, the project's trigger input (pedestals included)
    simtel_triggered: np.ndarray  # bool: in sim_telarray's list of triggered telescopes
    threshold: np.ndarray  # (images,) counts: each image's telescope's configured threshold in the project's counts
    multiplicity: int = 1

    def __post_init__(self):
        self.threshold = np.broadcast_to(np.asarray(self.threshold, np.int64), self.event_id.shape).copy()

    @property
    def observable(self):
        if self.multiplicity <= 1:
            return np.ones(len(self.event_id), bool)
        _, event = np.unique(self.event_id, return_inverse=True)
        listed_in_event = np.bincount(event, weights=self.simtel_triggered, minlength=event.max(initial=-1) + 1)
        return listed_in_event[event] > 0

    def project_triggered(self, threshold=None, offset=0):
        """(images, draws): a group sum over the threshold (``threshold`` for every image, else each image's own
        plus ``offset`` counts)."""
        limit = self.threshold + offset if threshold is None else np.broadcast_to(threshold, self.threshold.shape)
        return self.max_group_sum > limit[:, None]

    def agreement_per_image(self, threshold=None, offset=0):
        """Fraction of NSB draws in which the project decides as sim_telarray did, observable images only."""
        same = self.project_triggered(threshold, offset) == self.simtel_triggered[:, None]
        return same[self.observable].mean(axis=1)

    def self_agreement(self, threshold=None, offset=0):
        """How often two independent NSB draws of the project agree with each other, observable images only.

        The ceiling for the agreement with sim_telarray's single draw: near the threshold even a perfect
        model disagrees with one realisation of the noise (unbiased over the draws: pairs of distinct draws).
        """
        over = self.project_triggered(threshold, offset)[self.observable]
        n, k = over.shape[1], over.sum(axis=1)
        return float(np.mean((k * (k - 1) + (n - k) * (n - k - 1)) / (n * (n - 1)))) if len(over) else np.nan

    def agreement_at(self, threshold=None, offset=0):
        per_image = self.agreement_per_image(threshold, offset)
        return float(per_image.mean()) if len(per_image) else np.nan

    @property
    def agreement(self):
        return self.agreement_at()


@dataclass(frozen=True)
class SimtelThreshold:
    """sim_telarray's ``asum_threshold`` in the project's trigger-input counts.

    sim_telarray's analog sum is a shaped trigger signal in mV, not the readout pulse the project's module sums
    sample: the scale between the two is measured on an event that carries sim_telarray's own analog-sum traces.
    """

    mv_per_pe_sample: float  # sim_telarray group-sum peak [mV] per project group-sum peak [p.e. per sample]
    error: float  # its spread over the bright groups, standard error
    n_groups: int
    asum_threshold_mv: float
    threshold_pe: float  # p.e. per sample in the project's group sum
    threshold_counts: float  # the same with the trigger input's gain and three pedestals
    discriminator_amplitude_mv: float = 6.5  # the measured event's mV per p.e. of the trigger pulse
    pedestal: float = 16.0  # the trigger input's, per module
    gain: float = 4.0  # counts per p.e. per sample

    @property
    def counts(self) -> int:
        """The integer threshold the project's trigger compares with (``sum > counts``)."""
        return int(np.floor(self.threshold_counts))

    def counts_for(self, asum_threshold_mv, discriminator_amplitude_mv=None) -> int:
        """Another run's configured threshold in counts: its analog sum scales with its p.e. amplitude."""
        amplitude = self.discriminator_amplitude_mv if discriminator_amplitude_mv is None else discriminator_amplitude_mv
        scale = self.mv_per_pe_sample * amplitude / self.discriminator_amplitude_mv
        return int(np.floor(3 * self.pedestal + self.gain * asum_threshold_mv / scale))

    def counts_of(self, run: RecordedRun, tel_id) -> int:
        """The configured threshold of telescope ``tel_id`` of a recorded run in counts (this one's where the
        file's history does not say)."""
        return self.counts_for(run.asum_threshold_mv.get(tel_id, self.asum_threshold_mv),
                               run.discriminator_amplitude_mv.get(tel_id))


def simtel_threshold(aux_path=None, data_path=None, min_peak_noise=5.0, seed=0) -> SimtelThreshold:
    """Translate sim_telarray's configured analog-sum threshold into the project's counts.

    The event of ``aux_traces_2030`` (a bright muon ring) holds sim_telarray's 474 analog-sum traces and its true
    photo-electrons: the same photo-electrons through the project's camera (no NSB, no noise, mean of 20
    amplitude draws) give each group's peak in p.e. per sample; the ratio of sim_telarray's peaks to these, over
    the groups well above sim_telarray's noise, is the scale.
    """
    from eventio import SimTelFile

    from ..analog_sum import read_aux_traces
    from ..inputs import TriggerInput
    from ..instrument import LSTInstrument
    from .camera import CameraResponse
    from .showers import PhotonList

    instrument = LSTInstrument(data_path)
    path = aux_path if aux_path is not None else instrument.data_path / "simtel" / "aux_traces_2030.simtel.zst"
    aux = read_aux_traces(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with SimTelFile(str(path)) as simtel:
            pe = next(iter(simtel))["photoelectrons"][0]
            sections = history_sections(simtel.history)
    amplitude = history_number(last_setting(sections[-1], "DISCRIMINATOR_AMPLITUDE") or last_setting(sections[0], "DISCRIMINATOR_AMPLITUDE"))
    if amplitude is None:  # not in the file's history: the LST production value the dataclass holds
        amplitude = SimtelThreshold.discriminator_amplitude_mv
    pixel, time = np.asarray(pe["pixel_id"], int), np.asarray(pe["time"], float)
    lon, lat = instrument.pixel_fov
    camera = CameraResponse(instrument, 0.0, noise_pe=0.0)
    rng = np.random.default_rng(seed)
    photons = PhotonList(lon[pixel], lat[pixel], time)
    start = float(np.median(time)) - 18.0
    ours = np.mean([camera.respond(photons, start, rng).waveform[0][instrument.group_pixels].sum(axis=1)
                    for _ in range(20)], axis=0).max(axis=1)
    baseline = np.median(aux.group, axis=1)
    theirs = aux.group.max(axis=1) - baseline
    noise = float(np.median(np.std(aux.group, axis=1)))
    bright = theirs > min_peak_noise * noise
    ratio = theirs[bright] / ours[bright]
    scale = float(np.sum(theirs[bright] * ours[bright]) / np.sum(ours[bright] ** 2))
    quantize = TriggerInput(instrument=instrument)
    threshold_mv = float(instrument.asum_threshold)
    threshold_pe = threshold_mv / scale
    return SimtelThreshold(
        mv_per_pe_sample=scale, error=float(np.std(ratio) / np.sqrt(bright.sum())), n_groups=int(bright.sum()),
        asum_threshold_mv=threshold_mv, threshold_pe=threshold_pe,
        threshold_counts=3 * quantize.pedestal + quantize.gain * threshold_pe,
        discriminator_amplitude_mv=float(amplitude), pedestal=float(quantize.pedestal), gain=float(quantize.gain),
    )


def trigger_decisions(run: RecordedRun, threshold, seed=0, data_path=None, draws=5, trace_ns=None) -> TriggerDecisions:
    """sim_telarray's own photo-electrons (pixel, time) through the project's camera and analog-sum trigger.

    ``threshold``: counts for every image, or a :class:`SimtelThreshold`, which gives each LST the run's own
    configured ``asum_threshold`` (the history's, per telescope; productions differ) in counts.

    Only array-triggered events carry the telescopes' decisions (without a trigger block one cannot tell a quiet
    telescope from one sim_telarray never simulated), so only their LSTs with a stored true image count. A run
    whose list ever holds a lone LST had no LST stereo requirement, whatever its history names as array trigger.
    The readout window is placed as the toy places it (median p.e. time 18 ns into the window). ``trace_ns``
    (default: the readout's 40 ns, what the project's trigger sees) lets the analog sum watch a longer trace,
    centred the same way: sim_telarray simulates its discriminator over ``disc_bins`` (68 ns for LSTN-01), and
    images whose light is spread in time can fire there outside the project's 40 ns.
    """
    from eventio import SimTelFile

    from ..analog_sum import AnalogSumTrigger
    from ..inputs import TriggerInput
    from ..instrument import LSTInstrument
    from .camera import CameraResponse
    from .showers import PhotonList

    instrument = LSTInstrument(data_path)
    nsb = run.nsb_rate.to_value("GHz") if run.nsb_rate is not None else instrument.nsb_rate.to_value("1/ns")
    n_samples = None if trace_ns is None else int(round(trace_ns * instrument.sampling_rate.to_value("GHz")))
    camera = CameraResponse(instrument, nsb, n_samples=n_samples)
    # the median p.e. sits as far before the trace's middle as the toy puts it before the readout's
    lead = 18.0 + (camera.n_samples - instrument.n_samples) * camera.sample_ns / 2
    quantize = TriggerInput(instrument=instrument)
    asum = AnalogSumTrigger(instrument=instrument)
    lon, lat = instrument.pixel_fov
    rng = np.random.default_rng(seed)
    rows = []
    lst = set(run.tel_ids)
    lone_lst_listed = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with SimTelFile(str(run.path), skip_non_triggered=False) as simtel:
            tel_of_index = {i: int(t) for i, t in enumerate(simtel.header["tel_id"])}
            for event in simtel:
                info = event.get("trigger_information")
                if event.get("mc_event") is None or info is None:
                    continue
                fired = {int(t) for t in info["triggered_telescopes"]}
                lone_lst_listed |= len(fired & lst) == 1
                for index, pe in event.get("photoelectrons", {}).items():
                    tel_id = tel_of_index[index]
                    if tel_id not in lst or pe["n_pe"] == 0:
                        continue
                    pixel = np.asarray(pe["pixel_id"], int)
                    time = np.asarray(pe["time"], float)
                    photons = PhotonList(lon[pixel], lat[pixel], time)
                    sums = []
                    for _ in range(draws):
                        start = float(np.median(time)) - lead + rng.uniform(-1, 1)
                        counts = quantize(camera.respond(photons, start, rng).waveform[0])
                        sums.append(int(asum.max_group_sum(counts)))
                    rows.append((int(event["event_id"]), tel_id, int(pe["n_pe"]), sums, tel_id in fired))
    columns = list(zip(*rows)) if rows else [[]] * 5
    tel_ids = np.asarray(columns[1], np.int64)
    if isinstance(threshold, SimtelThreshold):
        per_tel = {t: threshold.counts_of(run, t) for t in set(tel_ids.tolist())}
        threshold = np.array([per_tel[t] for t in tel_ids.tolist()], np.int64)
    return TriggerDecisions(
        event_id=np.asarray(columns[0], np.int64), tel_id=np.asarray(columns[1], np.int64),
        true_size=np.asarray(columns[2], float), max_group_sum=np.asarray(columns[3], np.int64).reshape(-1, draws),
        simtel_triggered=np.asarray(columns[4], bool), threshold=threshold,
        multiplicity=1 if lone_lst_listed else run.lst_multiplicity,
    )
