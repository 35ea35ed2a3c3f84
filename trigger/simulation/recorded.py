"""The showers a real sim_telarray file recorded, as the toy needs them to re-simulate them.

A sim_telarray file stores every simulated shower (energy, arrival direction,
core position) whether or not it triggered, the telescope positions, the
pointing, the observation level and its own configuration history (NSB,
true-image storage threshold). :func:`read_recorded_run` collects these, so
that :class:`~trigger.simulation.matched.MatchedShowerSource` can put the toy's
showers exactly where sim_telarray put its own, and the validation can compare
the two shower by shower.
"""

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from ctapipe.instrument import SubarrayDescription

from lstcommon import UserError

__all__ = ["RecordedShower", "RecordedRun", "RecordedRunError", "read_recorded_run", "history_sections", "last_setting", "history_setting", "history_number"]

# sim_telarray's primary codes (CORSIKA's for gammas, 100 A + Z for nuclei)
PARTICLE_OF_PRIMARY = {0: "gamma", 101: "proton"}
PRIMARY_NAMES = {0: "gamma", 1: "electron", 2: "muon", 3: "neutrino", 101: "proton", 402: "helium"}


class RecordedRunError(UserError, ValueError):
    """The file cannot be re-simulated: unreadable, no LST, or a primary the toy does not simulate."""


@dataclass(frozen=True)
class RecordedShower:
    """One simulated shower (one core position of a CORSIKA shower) as sim_telarray stored it."""

    event_id: int  # sim_telarray's: 100 x CORSIKA shower number + reuse index
    shower: int  # CORSIKA shower number
    energy: float  # GeV
    alt: float  # rad, arrival direction
    az: float  # rad
    core_x: float  # m, ground frame of the file's array
    core_y: float  # m


@dataclass
class RecordedRun:
    """What the toy needs from one sim_telarray run to re-simulate its showers."""

    path: Path
    obs_id: int
    particle: str
    subarray: SubarrayDescription  # the file's LSTs only, at their positions
    pointing_alt: u.Quantity
    pointing_az: u.Quantity
    observation_level: u.Quantity
    energy_range: tuple  # (min, max) of the simulated spectrum, TeV quantities
    spectral_index: float
    max_scatter: u.Quantity
    viewcone: u.Quantity
    nsb_rate: u.Quantity | None  # the LSTs' NIGHTSKY_BACKGROUND, when the history has it
    store_pe: float  # sim_telarray's STORE_PHOTOELECTRONS for the LSTs (true images below are not stored)
    showers: list = field(default_factory=list)
    # how many LSTs must trigger together for any of them to be read out (sim_telarray's LST "hardstereo" rule),
    # 1 where the run had no array trigger and one telescope was enough
    lst_multiplicity: int = 1
    # per LST: sim_telarray's ASUM_THRESHOLD and DISCRIMINATOR_AMPLITUDE (mV), where the history has them; they
    # differ between productions (200 mV in the 7.0.0 North Alpha run, 260.7 in 6.0.0, 270 in prod5)
    asum_threshold_mv: dict = field(default_factory=dict)
    discriminator_amplitude_mv: dict = field(default_factory=dict)

    @property
    def tel_ids(self):
        return list(self.subarray.tel_ids)


def history_sections(history):
    """sim_telarray's configuration history: the global section, then one per telescope (index order)."""
    sections = [[]]
    for _, line in history:
        text = line.decode("utf-8", "replace").strip()
        if text.startswith("# Telescope-specific configuration follows"):
            sections.append([])
        sections[-1].append(text.split("%", 1)[0].strip())
    return sections


def last_setting(lines, key):
    """Value of the last line whose keyword starts like ``key`` (sim_telarray abbreviates keywords)."""
    value = None
    for text in lines:
        fields = text.split(None, 1)
        # the history writes e.g. "ARRAY_TRIGGERs": the lower-case letters are optional
        if len(fields) == 2 and fields[0].upper().startswith(key.upper()):
            value = fields[1].strip()
    return value


def history_setting(sections, tel_index, key):
    """A telescope's setting (index in the file's telescope list): its own section's last value, else the global one."""
    value = last_setting(sections[tel_index + 1], key) if tel_index + 1 < len(sections) else None
    return value if value is not None else last_setting(sections[0], key)


def read_recorded_run(path, data_path=None) -> RecordedRun:
    """Read the run conditions and every stored shower of a sim_telarray file (LSTs only)."""
    from eventio import SimTelFile

    from ..instrument import LSTInstrument
    from ..io import _open_simtel, lst_tel_ids

    path = Path(path)
    if not path.is_file():
        raise RecordedRunError(f"{path}: sim_telarray file does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _open_simtel(path, max_events=1) as probe:
                subarray = probe.subarray
                obs_id, config = next(iter(probe.simulation_config.items()))
    except UserError:
        raise
    except Exception as err:
        raise RecordedRunError(f"{path}: cannot read as a sim_telarray file ({type(err).__name__}: {err})") from err
    lsts = lst_tel_ids(subarray)
    if not lsts:
        raise RecordedRunError(f"{path}: holds no LST with the 1855-pixel LSTCam")
    if not np.isclose(config.max_alt, config.min_alt) or not np.isclose(config.max_az, config.min_az):
        raise RecordedRunError(f"{path}: the pointing changes within the run ({config.min_alt:.2f}..{config.max_alt:.2f}); "
                               "the toy points all showers the same way")

    # the project's camera on the file's LST positions, as the toy images with it
    instrument = LSTInstrument(data_path)
    positions = {int(tel_id): subarray.positions[tel_id] for tel_id in lsts}
    lst_array = SubarrayDescription(
        name=f"{path.name} LSTs",
        tel_positions=positions,
        tel_descriptions={tel_id: instrument.telescope for tel_id in positions},
        reference_location=subarray.reference_location,
    )

    showers, primaries = [], set()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with SimTelFile(str(path), skip_non_triggered=False) as simtel:
                for event in simtel:
                    shower, mc_event = event.get("mc_shower"), event.get("mc_event")
                    if shower is None or mc_event is None:
                        continue
                    primaries.add(int(shower["primary_id"]))
                    showers.append(RecordedShower(
                        event_id=int(event["event_id"]),
                        shower=int(shower["shower"]),
                        energy=float(shower["energy"]) * 1000.0,
                        # sim_telarray writes vertical showers a float epsilon above 90 deg
                        alt=min(float(shower["altitude"]), np.pi / 2),
                        az=float(shower["azimuth"]) % (2 * np.pi),
                        core_x=float(mc_event["xcore"]),
                        core_y=float(mc_event["ycore"]),
                    ))
                sections = history_sections(simtel.history)
                index_of = {int(t): i for i, t in enumerate(simtel.header["tel_id"])}
    except Exception as err:
        raise RecordedRunError(f"{path}: cannot read its showers ({type(err).__name__}: {err})") from err
    if not showers:
        raise RecordedRunError(f"{path}: stores no simulated shower")
    if len(primaries) != 1 or next(iter(primaries)) not in PARTICLE_OF_PRIMARY:
        names = sorted(PRIMARY_NAMES.get(p, f"code {p}") for p in primaries)
        raise RecordedRunError(f"{path}: primary {', '.join(names)}; the toy re-simulates gamma or proton runs only")

    nsb = [history_setting(sections, index_of[t], "NIGHTSKY_BACKGROUND") for t in lsts if t in index_of]
    nsb = [re.search(r"all\s*:\s*([0-9.eE+-]+)", v) for v in nsb if v]
    nsb = [float(m.group(1)) for m in nsb if m]
    store = [history_setting(sections, index_of[t], "STORE_PHOTOELECTRONS") for t in lsts if t in index_of]
    store = [float(v.split()[0]) for v in store if v]
    asum, amplitude = {}, {}
    for t in lsts:
        if t in index_of:
            for key, out in (("ASUM_THRESHOLD", asum), ("DISCRIMINATOR_AMPLITUDE", amplitude)):
                value = history_number(history_setting(sections, index_of[t], key))
                if value is not None and value > 0:
                    out[int(t)] = value
    array_trigger = (last_setting(sections[0], "ARRAY_TRIGGER") or "none").split()[0]
    if array_trigger.lower() == "none":
        multiplicity = int(float((last_setting(sections[0], "TRIGGER_TELESCOPES") or "1").split()[0]))
    else:
        # the run names its array-trigger file but the history does not hold it: the shared model's LST rule
        # (2 of the LSTs, hardstereo) is the one of every CTAO-North production since prod5
        multiplicity = instrument.array_trigger(tuple(range(1, 5))).min_telescopes

    azimuth = config.max_az.to_value(u.deg) % 360.0
    return RecordedRun(
        path=path,
        obs_id=int(obs_id),
        particle=PARTICLE_OF_PRIMARY[next(iter(primaries))],
        subarray=lst_array,
        pointing_alt=config.max_alt.to(u.deg),
        pointing_az=(0.0 if np.isclose(azimuth, 360.0) else azimuth) * u.deg,
        observation_level=config.prod_site_alt.to(u.m),
        energy_range=(config.energy_range_min.to(u.TeV), config.energy_range_max.to(u.TeV)),
        spectral_index=float(config.spectral_index),
        max_scatter=config.max_scatter_range.to(u.m),
        viewcone=(config.max_viewcone_radius.to(u.deg) if config.diffuse else 0 * u.deg),
        nsb_rate=(float(np.mean(nsb)) * u.GHz if nsb else None),
        store_pe=max(store) if store else 0.0,
        showers=showers,
        lst_multiplicity=multiplicity,
        asum_threshold_mv=asum,
        discriminator_amplitude_mv=amplitude,
    )


def history_number(value):
    """The leading number of a history value ("200.0", "6.5 % mV ..."), or None."""
    match = re.match(r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)", value or "")
    return float(match.group(1)) if match else None
