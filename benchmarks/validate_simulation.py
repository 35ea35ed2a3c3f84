#!/usr/bin/env python
"""Compare the toy LST simulation with real sim_telarray events, per telescope event, versus true impact distance.

For each real sim_telarray file (100 GeV gammas at zenith 40 deg, the 1.37 TeV
gamma of test_lasercal_v3, 0.2-0.5 TeV protons at zenith 20 deg) the script

1. reads the simulated conditions from the file (energy, spectral index,
   pointing, observation level, scatter radius, view cone, NSB, sim_telarray's
   true-image storage threshold and array trigger) and converts it with
   ``trigger.io.convert_simtel`` (SimTelEventSource + CameraCalibrator +
   ImageProcessor + DataWriter);
2. simulates a matching set of showers with ``ToyEventSource`` through
   ``trigger.io.process_events`` (the same chain);
3. compares, against the true impact distance of each telescope,
   - sample A (no trigger bias): the true image size of *every* LST for
     *every* stored shower, triggered or not. sim_telarray stores the true
     image of each telescope with at least STORE_PHOTOELECTRONS p.e. even for
     showers that did not trigger; ctapipe skips those showers, so they are
     read with eventio directly. On both sides: the fraction of LSTs with at
     least that many p.e. (the "floor") and the size of those above it;
   - sample B (trigger-like): telescope events with a true size of at least
     the smallest true size among the real file's triggered LST telescope
     events, in events where at least as many telescopes pass that cut as the
     real file's array trigger needs (toy); the real sample is the triggered
     telescope events themselves. On sample B: true Hillas width and length,
     cleaned-image intensity, width, length, the fraction of images that
     survive cleaning, and the time gradient.

Outputs: OUTPUT/simulation_validation.png and OUTPUT/simulation_validation.md.

    CTAPIPE_SVC_PATH=../shared/data/instrument \\
        python benchmarks/validate_simulation.py --output docs/ [--n-showers N] [--seed S]
"""

import argparse
import itertools
import logging
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np

# benchmarks/ is sys.path[0] when this file runs as a script
from _common import metadata_markdown, run_metadata
from astropy.coordinates import AltAz, SkyCoord
from ctapipe.coordinates import TelescopeFrame
from ctapipe.io import SimTelEventSource, TableLoader, read_table
from eventio import SimTelFile

from trigger.instrument import LSTInstrument
from trigger.io import convert_simtel, lst_tel_ids, process_events
from trigger.paths import data_dir
from trigger.simulation.recorded import history_sections, history_setting, last_setting
from trigger.simulation.source import PRIMARY_ID, ToyEventSource
from trigger.simulation.validation import impact_distance

REAL_FILES = (
    ("gamma_run000007_za40deg_azm180deg_South_subsystem_lsts_7.0.0_test.simtel.zst", "tab:blue"),
    ("test_lasercal_v3.simtel.gz", "tab:orange"),
    ("proton_run000001_za20deg_azm180deg_North_CTAO-North-Alpha_7.0.0_test.simtel.zst", "tab:green"),
)
PARTICLE_OF_ID = {v: k for k, v in PRIMARY_ID.items()}
IMPACT_EDGES = np.array([0.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0, 1000.0])
SUMMARY_RANGES = ((0.0, 150.0), (150.0, 250.0), (250.0, 400.0), (400.0, np.inf), (0.0, np.inf))
FIXED_ENERGY_TOLERANCE = 1e-3  # a file has a fixed energy when all its showers agree within 0.1 %
MIN_TOY_POINTS = 15  # toy points needed for a local toy median at a real point's impact
TOY_WINDOWS_M = (15.0, 30.0, 60.0, 100.0)  # half-widths tried, in turn, for that local median

log = logging.getLogger("validate_simulation")


# --------------------------------------------------------------------------
# what the real file says about its simulation
# --------------------------------------------------------------------------
@dataclass
class RealFile:
    """One real sim_telarray file and the conditions read from it."""

    path: Path
    color: str
    run: int = 0
    particle: str = ""
    label: str = ""
    energy_fixed_tev: float | None = None
    energy_range_tev: tuple = (np.nan, np.nan)
    spectral_index: float = np.nan
    alt_deg: float = np.nan
    az_deg: float = np.nan
    obs_level_m: float = np.nan
    scatter_m: float = np.nan
    core_pos_mode: int = -1
    viewcone_deg: float = 0.0
    nsb_ghz: float = np.nan
    store_pe: float = np.nan
    array_multiplicity: int = 1
    array_trigger_text: str = ""
    n_showers_config: int = 0
    lst_ids: list = field(default_factory=list)
    lst_positions: np.ndarray | None = None  # (n_lst, 3) m, ground frame
    floor_pe: float = 0.0  # sample A: sizes are compared above this, and the fraction above it
    showers: dict = field(default_factory=dict)  # sample A columns
    dl1: object = None  # astropy Table of triggered LST telescope events
    conversion: dict = field(default_factory=dict)


def describe_real(path, color):
    real = RealFile(path=Path(path), color=color)
    with SimTelEventSource(real.path, focal_length_choice="EQUIVALENT", max_events=1) as source:
        run, cfg = next(iter(source.simulation_config.items()))
        subarray = source.subarray
        real.lst_ids = lst_tel_ids(subarray)
        lsts = subarray.select_subarray(real.lst_ids)
        real.lst_positions = lsts.tel_coords.cartesian.xyz.to_value(u.m).T
    real.run = int(run)
    real.energy_range_tev = (cfg.energy_range_min.to_value(u.TeV), cfg.energy_range_max.to_value(u.TeV))
    real.spectral_index = float(cfg.spectral_index)
    if not np.isclose(cfg.max_alt, cfg.min_alt) or not np.isclose(cfg.max_az, cfg.min_az):
        raise ValueError(f"{path}: pointing is not fixed ({cfg.min_alt}..{cfg.max_alt}, {cfg.min_az}..{cfg.max_az})")
    real.alt_deg = float(cfg.max_alt.to_value(u.deg))
    real.az_deg = float(cfg.max_az.to_value(u.deg)) % 360.0
    real.obs_level_m = float(cfg.prod_site_alt.to_value(u.m))
    real.scatter_m = float(cfg.max_scatter_range.to_value(u.m))
    real.core_pos_mode = int(cfg.core_pos_mode)
    real.viewcone_deg = float(cfg.max_viewcone_radius.to_value(u.deg)) if cfg.diffuse else 0.0
    real.n_showers_config = int(cfg.n_showers) * int(cfg.shower_reuse)
    return real


def scan_all_showers(real: RealFile, progress=True):
    """Sample A: true size and impact of every LST for every shower stored in the file (eventio).

    Also reads the configuration history (NSB, true-image storage threshold,
    array trigger).
    """
    from tqdm.auto import tqdm

    rows = {k: [] for k in ("event_id", "tel_id", "energy", "alt", "az", "core_x", "core_y", "size", "stored", "read_out")}
    with SimTelFile(str(real.path), skip_non_triggered=False) as simtel:
        index_of = None
        for event in tqdm(simtel, desc=f"scan {real.path.name[:28]}", unit="ev", disable=not progress, leave=False):
            if index_of is None:
                index_of = {int(t): i for i, t in enumerate(simtel.header["tel_id"])}
            shower, mc_event = event.get("mc_shower"), event.get("mc_event")
            if shower is None or mc_event is None:
                continue
            images = event.get("photoelectrons", {})
            read_out = set(event.get("telescope_events", {}))
            for tel_id in real.lst_ids:
                image = images.get(index_of[tel_id])
                stored = image is not None
                rows["event_id"].append(int(event["event_id"]))
                rows["tel_id"].append(tel_id)
                rows["energy"].append(float(shower["energy"]))
                rows["alt"].append(min(float(shower["altitude"]), np.pi / 2))
                rows["az"].append(float(shower["azimuth"]))
                rows["core_x"].append(float(mc_event["xcore"]))
                rows["core_y"].append(float(mc_event["ycore"]))
                rows["size"].append(float(np.sum(image["photoelectrons"])) if stored else 0.0)
                rows["stored"].append(stored)
                rows["read_out"].append(tel_id in read_out)
        sections = history_sections(simtel.history)
    showers = {k: np.asarray(v) for k, v in rows.items()}
    positions = dict(zip(real.lst_ids, real.lst_positions))
    pos = np.array([positions[t] for t in showers["tel_id"]]) if len(showers["tel_id"]) else np.empty((0, 3))
    showers["impact"] = impact_distance(showers["alt"], showers["az"], showers["core_x"], showers["core_y"], pos)
    real.showers = showers

    indices = [index_of[t] for t in real.lst_ids]
    nsb = [history_setting(sections, i, "NIGHTSKY_BACKGROUND") for i in indices]
    nsb = [float(re.search(r"all\s*:\s*([0-9.eE+-]+)", v).group(1)) for v in nsb if v and "all" in v]
    real.nsb_ghz = float(np.mean(nsb)) if nsb else np.nan
    store = [history_setting(sections, i, "STORE_PHOTOELECTRONS") for i in indices]
    store = [float(v.split()[0]) for v in store if v]
    real.store_pe = max(store) if store else 0.0
    array_trigger = last_setting(sections[0], "ARRAY_TRIGGER") or "none"
    if array_trigger.split()[0].lower() == "none":
        real.array_multiplicity = int(float((last_setting(sections[0], "TRIGGER_TELESCOPES") or "1").split()[0]))
        real.array_trigger_text = f"none (TRIGGER_TELESCOPES {real.array_multiplicity})"
    else:
        # sim_telarray's array_triggers.dat is not in the history; the project's copy is the same model
        rule = LSTInstrument().array_trigger(tuple(range(1, len(real.lst_ids) + 1)))
        real.array_multiplicity = rule.min_telescopes
        real.array_trigger_text = f"{array_trigger.split()[0]}: {rule.min_telescopes} of LSTs {rule.tel_ids}"


def conditions_from_showers(real: RealFile):
    """Particle and energy from the shower table (all stored showers)."""
    event_energy = {}
    for event_id, energy in zip(real.showers["event_id"], real.showers["energy"]):
        event_energy[event_id] = energy
    energies = np.array(list(event_energy.values()))
    ids = set(np.asarray(real.dl1["true_shower_primary_id"]).tolist())
    if len(ids) != 1:
        raise ValueError(f"{real.path}: several primaries {ids}")
    real.particle = PARTICLE_OF_ID[int(ids.pop())]
    if energies.max() <= energies.min() * (1 + FIXED_ENERGY_TOLERANCE):
        real.energy_fixed_tev = float(np.median(energies))
        energy = f"{real.energy_fixed_tev * 1000:.0f} GeV" if real.energy_fixed_tev < 1 else f"{real.energy_fixed_tev:.2f} TeV"
    else:
        energy = f"{real.energy_range_tev[0]:.2g}-{real.energy_range_tev[1]:.2g} TeV"
    real.label = f"{real.particle} {energy}, zenith {90 - real.alt_deg:.0f} deg"


# --------------------------------------------------------------------------
# data loading
# --------------------------------------------------------------------------
def load_telescope_events(path):
    with TableLoader(path, dl1_parameters=True, simulated=True, true_images=True, true_parameters=True, pointing=True) as loader:
        table = loader.read_telescope_events()
    table.remove_column("true_image")  # the per-pixel images are not needed below
    return table


def add_derived_columns(table):
    """Signed time gradient along the image axis (positive: later away from the true source), ratios."""
    table["true_image_sum"] = np.asarray(table["true_image_sum"], dtype=float)
    pointing = SkyCoord(
        alt=u.Quantity(table["telescope_pointing_altitude"]), az=u.Quantity(table["telescope_pointing_azimuth"]), frame=AltAz()
    )
    source = SkyCoord(alt=u.Quantity(table["true_alt"]), az=u.Quantity(table["true_az"]), frame=AltAz())
    source = source.transform_to(TelescopeFrame(telescope_pointing=pointing))
    psi = u.Quantity(table["hillas_psi"]).to_value(u.rad)
    d_lon = u.Quantity(table["hillas_fov_lon"]).to_value(u.deg) - source.fov_lon.to_value(u.deg)
    d_lat = u.Quantity(table["hillas_fov_lat"]).to_value(u.deg) - source.fov_lat.to_value(u.deg)
    direction = np.sign(np.cos(psi) * d_lon + np.sin(psi) * d_lat)
    table["time_gradient"] = np.asarray(table["timing_slope"], float) * direction
    table["intensity_ratio"] = np.asarray(table["hillas_intensity"], float) / table["true_image_sum"]
    table["cleaned"] = np.isfinite(np.asarray(table["hillas_intensity"], float)).astype(float)
    return table


def toy_all_showers(path, table, positions):
    """Sample A for the toy: every simulated shower x every LST, sizes from the read-out telescopes (else 0)."""
    shower = read_table(path, "/simulation/event/subarray/shower")
    tel_ids = sorted(positions)
    n = len(shower)
    event_id = np.repeat(np.asarray(shower["event_id"]), len(tel_ids))
    tel_id = np.tile(tel_ids, n)

    def rep(col, unit):
        return np.repeat(u.Quantity(shower[col]).to_value(unit), len(tel_ids))

    alt, az = rep("true_alt", u.rad), rep("true_az", u.rad)
    core_x, core_y = rep("true_core_x", u.m), rep("true_core_y", u.m)
    pos = np.array([positions[t] for t in tel_id]) if n else np.empty((0, 3))
    size_of = {(int(e), int(t)): float(s) for e, t, s in zip(table["event_id"], table["tel_id"], table["true_image_sum"])}
    size = np.array([size_of.get((int(e), int(t)), 0.0) for e, t in zip(event_id, tel_id)])
    return {
        "event_id": event_id,
        "tel_id": tel_id,
        "impact": impact_distance(alt, az, core_x, core_y, pos),
        "size": size,
        "read_out": size > 0,
    }


def trigger_like(table, size_cut, multiplicity):
    """Telescope events with true size >= size_cut in events with >= multiplicity such telescopes."""
    passed = np.asarray(table["true_image_sum"], float) >= size_cut
    event_ids = np.asarray(table["event_id"])[passed]
    ids, counts = np.unique(event_ids, return_counts=True)
    good = set(ids[counts >= multiplicity].tolist())
    keep = passed & np.isin(np.asarray(table["event_id"]), list(good))
    return table[keep]


# --------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------
def quantiles(values):
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return np.nan, np.nan, np.nan
    return tuple(np.percentile(values, [50, 16, 84]))


def local_toy(toy_x, toy_y, x, fraction=False):
    """Median and 16/84 % quantiles of the toy at impact x (narrowest window with enough points).

    For a 0/1 quantity (``fraction``) the mean replaces the median.
    """
    ok = np.isfinite(toy_y)
    toy_x, toy_y = toy_x[ok], toy_y[ok]
    for half in TOY_WINDOWS_M:
        near = np.abs(toy_x - x) <= half
        if np.count_nonzero(near) >= MIN_TOY_POINTS:
            if fraction:
                return float(np.mean(toy_y[near])), np.nan, np.nan
            return quantiles(toy_y[near])
    return np.nan, np.nan, np.nan


def bootstrap(values, rng, statistic=np.median, n_boot=2000):
    """The statistic (median by default) and its 68 % bootstrap interval."""
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return np.nan, np.nan, np.nan
    if len(values) == 1:
        return values[0], np.nan, np.nan
    boots = statistic(rng.choice(values, size=(n_boot, len(values))), axis=1)
    return float(statistic(values)), float(np.percentile(boots, 16)), float(np.percentile(boots, 84))


@dataclass
class Quantity_:
    key: str
    title: str
    unit: str
    sample: str  # "A" (all showers) or "B" (trigger-like)
    cleaned: bool = False  # only images that survive cleaning
    compare: str = "ratio"  # "ratio" toy/real, or "difference" toy - real
    log: bool = False
    fraction: bool = False  # a 0/1 quantity: means instead of medians


QUANTITIES = (
    Quantity_("detected", "fraction of LSTs with true size >= floor (sample A)", "", "A", compare="difference", fraction=True),
    Quantity_("size", "true image size >= floor, all showers (sample A)", "p.e.", "A", log=True),
    Quantity_("true_image_sum", "true image size, trigger-like (sample B)", "p.e.", "B", log=True),
    Quantity_("true_hillas_width", "true Hillas width", "deg", "B"),
    Quantity_("true_hillas_length", "true Hillas length", "deg", "B"),
    Quantity_("hillas_intensity", "cleaned image intensity", "p.e.", "B", cleaned=True, log=True),
    Quantity_("hillas_width", "cleaned Hillas width", "deg", "B", cleaned=True),
    Quantity_("hillas_length", "cleaned Hillas length", "deg", "B", cleaned=True),
    Quantity_("time_gradient", "time gradient (signed, + = later away from the source)", "ns/deg", "B", cleaned=True, compare="difference"),
    Quantity_("intensity_ratio", "cleaned intensity / true size", "", "B", cleaned=True),
    Quantity_("cleaned", "fraction surviving cleaning (sample B)", "", "B", compare="difference", fraction=True),
)


def sample_values(q, data, floor=None):
    """(impact, values) of quantity q for one data set (dict of sample A arrays and sample B table).

    Sample A sizes are kept only at or above ``floor`` (sim_telarray's storage threshold); the fraction that
    is above it is the quantity "detected".
    """
    if q.sample == "A":
        x, size = data["A"]["impact"], data["A"]["size"]
        if q.key == "detected":
            return x, (size >= floor).astype(float)
        return x[size >= floor], size[size >= floor]
    table = data["B"]
    x = np.asarray(table["true_impact_distance"], float)
    y = np.asarray(table[q.key], float)
    if q.cleaned:
        ok = np.isfinite(np.asarray(table["hillas_intensity"], float))
        x, y = x[ok], y[ok]
    return x, y


def binned(q, x, y):
    """Per impact bin: n, median, 16 %, 84 % (for a fraction: n, mean, binomial error band)."""
    rows = []
    for lo, hi in itertools.pairwise(IMPACT_EDGES):
        sel = (x >= lo) & (x < hi) & np.isfinite(y)
        vals = y[sel]
        if q.fraction:
            p = float(np.mean(vals)) if len(vals) else np.nan
            err = np.sqrt(p * (1 - p) / len(vals)) if len(vals) else np.nan
            rows.append((lo, hi, len(vals), p, p - err, p + err))
        else:
            rows.append((lo, hi, len(vals), *quantiles(vals)))
    return rows


def per_point(q, real_x, real_y, toy_x, toy_y):
    """For each real point: the local toy median (mean for a fraction) and the toy/real ratio (or toy - real)."""
    out = []
    for x, y in zip(real_x, real_y):
        med, _, _ = local_toy(toy_x, toy_y, x, fraction=q.fraction)
        if not (np.isfinite(med) and np.isfinite(y)):
            continue
        if q.compare == "ratio":
            if y <= 0:
                continue
            out.append((x, med / y))
        else:
            out.append((x, med - y))
    return np.array(out).reshape(-1, 2)


def toy_band(x, y, fraction=False, width=20.0, min_points=8):
    """Running median and 16-84 % band of the toy, in impact bins of ``width`` m (mean +- error for a fraction)."""
    if len(x) == 0:
        return np.empty((0, 4))
    edges = np.arange(0, np.nanmax(x) + width, width)
    rows = []
    for lo in edges[:-1]:
        sel = (x >= lo) & (x < lo + width) & np.isfinite(y)
        if np.count_nonzero(sel) >= min_points:
            if fraction:
                p = y[sel].mean()
                err = np.sqrt(p * (1 - p) / np.count_nonzero(sel))
                rows.append((lo + width / 2, p, p - err, p + err))
            else:
                rows.append((lo + width / 2, *quantiles(y[sel])))
    return np.array(rows).reshape(-1, 4)


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------
def fmt(value, unit=""):
    if value is None or not np.isfinite(value):
        return "-"
    a = abs(value)
    if unit == "p.e." or a >= 100:
        text = f"{value:.0f}"
    elif a >= 10:
        text = f"{value:.1f}"
    elif a >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return text


def plot(results, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(3, 4, figsize=(22, 15), constrained_layout=True)
    for ax in axes.flat[len(QUANTITIES):]:
        ax.axis("off")
    for ax, q in zip(axes.flat, QUANTITIES):
        for res in results:
            real, toy = res["real"], res["toy"]
            floor = real.floor_pe
            tx, ty = sample_values(q, toy, floor)
            band = toy_band(tx, ty, fraction=q.fraction)
            if len(band):
                ax.plot(band[:, 0], band[:, 1], color=real.color, lw=1.8)
                ax.fill_between(band[:, 0], band[:, 2], band[:, 3], color=real.color, alpha=0.18, lw=0)
            rx, ry = sample_values(q, real.data, floor)
            if q.key == "size":
                shown = real.data["A"]["size"] >= floor
                read = real.data["A"]["read_out"][shown]
                ax.scatter(rx[read], ry[read], s=34, color=real.color, edgecolor="k", lw=0.7, zorder=3)
                ax.scatter(rx[~read], ry[~read], s=34, facecolor="none", edgecolor=real.color, lw=1.2, zorder=3)
                ax.axhline(floor, color="grey", lw=0.8, ls=":")
            elif q.fraction:
                rows = np.array([r for r in binned(q, rx, ry) if r[2] > 0])
                centres = np.array([min((lo + hi) / 2, lo + 50) for lo, hi in rows[:, :2]])
                ax.errorbar(centres, rows[:, 3], yerr=[rows[:, 3] - rows[:, 4], rows[:, 5] - rows[:, 3]], fmt="o",
                            color=real.color, mec="k", ms=6, capsize=2, zorder=3)
            else:
                ax.scatter(rx, ry, s=34, color=real.color, edgecolor="k", lw=0.7, zorder=3)
        ax.set_title(q.title, fontsize=11)
        ax.set_xlabel("true impact distance [m]")
        ax.set_ylabel(f"{q.key} [{q.unit}]" if q.unit else q.key)
        if q.log:
            ax.set_yscale("log")
        if q.key == "time_gradient":
            ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlim(0, 600 if q.sample == "A" else 450)
        if q.fraction:
            ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=r["real"].color, lw=6, alpha=0.4, label=f"toy: {r['real'].label}") for r in results]
    handles += [
        Line2D([], [], ls="", marker="o", color=r["real"].color, mec="k", label=f"sim_telarray: {r['real'].path.name[:34]}")
        for r in results
    ]
    handles += [
        Line2D([], [], ls="", marker="o", mfc="none", mec="grey", label="sim_telarray, telescope not triggered (sample A)"),
        Line2D([], [], ls=":", color="grey", label="true-image storage floor (sample A)"),
        Line2D([], [], ls="", marker="o", color="grey", mec="k", label="fractions: sim_telarray per impact bin, binomial errors"),
    ]
    axes.flat[-1].legend(handles=handles, loc="center", fontsize=10, frameon=False)
    fig.suptitle(
        "Toy LST simulation (lines: median, bands: 16-84 %) vs sim_telarray (points), per telescope event\n"
        "sample A: every LST x every stored shower, no trigger; sample B: trigger-like (see simulation_validation.md)",
        fontsize=12,
    )
    fig.savefig(output, dpi=110)
    plt.close(fig)


def describe_difference(q, ratio, lo, hi, n):
    """One plain sentence fragment for a summary cell, or None when the data cannot tell."""
    if n < 3 or not np.isfinite(ratio):
        return None
    if q.compare == "ratio":
        pct = (ratio - 1) * 100
        sure = np.isfinite(lo) and np.isfinite(hi) and (lo > 1 or hi < 1)
        if abs(pct) < 10:
            return f"agrees within 10 % (toy/real {ratio:.2f})"
        word = "too high" if pct > 0 else "too low"
        return f"{word} by {abs(pct):.0f} % (toy/real {ratio:.2f}, 68 % interval {lo:.2f}-{hi:.2f}{'' if sure else ', compatible with 1'})"
    unit = f" {q.unit}" if q.unit else ""
    tolerance = 0.05 if q.fraction else 0.5
    if abs(ratio) < tolerance:
        return f"agrees within {tolerance}{unit} (toy - real {ratio:+.2f}{unit})"
    sure = np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0)
    return f"toy - real = {ratio:+.2f}{unit} (68 % interval {lo:+.2f} to {hi:+.2f}{'' if sure else ', compatible with 0'})"


def write_markdown(results, meta, args, output, runtime):
    lines = ["# Toy simulation vs sim_telarray: LST telescope events versus true impact distance", ""]
    lines += [
        "Generated by `benchmarks/validate_simulation.py`; every number below is computed by the script.",
        "",
    ]
    lines += metadata_markdown(meta)
    lines += [
        (
            f"- settings: {args.n_showers} toy showers per file ({args.n_showers * args.diffuse_factor} for files with"
            f" a view cone), seed {args.seed}; run time {runtime:.0f} s"
        ),
        "",
    ]
    lines += ["![validation plots](simulation_validation.png)", ""]

    lines += ["## Simulated conditions (read from each sim_telarray file) and the matching toy set", ""]
    lines += [
        "| | " + " | ".join(f"`{r['real'].path.name}`" for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]

    def row(name, fn):
        lines.append(f"| {name} | " + " | ".join(fn(r) for r in results) + " |")

    row("particle", lambda r: r["real"].particle)
    row("energy (real)", lambda r: (f"{r['real'].energy_fixed_tev:.4g} TeV (all showers)" if r["real"].energy_fixed_tev
                                    else f"{r['real'].energy_range_tev[0]:.3g}-{r['real'].energy_range_tev[1]:.3g} TeV, "
                                    f"index {r['real'].spectral_index:.1f}"))
    row("energy (toy)", lambda r: f"{r['toy_cfg']['energy_min']:.4g}-{r['toy_cfg']['energy_max']:.4g} GeV, index {r['toy_cfg']['spectral_index']:.1f}")
    row("pointing alt / az [deg]", lambda r: f"{r['real'].alt_deg:.1f} / {r['real'].az_deg:.1f} (toy same)")
    row("observation level [m]: real / toy", lambda r: f"{r['real'].obs_level_m:.0f} / {r['toy_cfg']['obs_level']:.0f}")
    row("scatter radius [m] (core_pos_mode) -> toy max_impact", lambda r: f"{r['real'].scatter_m:.0f} ({r['real'].core_pos_mode}) -> {r['toy_cfg']['max_impact']:.0f}")
    row("view cone [deg]", lambda r: f"{r['real'].viewcone_deg:.1f} (toy same)")
    row("NSB per pixel [p.e./ns] (LSTs, history)", lambda r: f"{r['real'].nsb_ghz:.4f} (toy same)")
    row("true-image storage threshold (STORE_PHOTOELECTRONS)", lambda r: f"{r['real'].store_pe:.0f} p.e.")
    row("array trigger (real) -> toy telescopes required", lambda r: f"{r['real'].array_trigger_text} -> {r['real'].array_multiplicity}")
    row("showers: real stored (distinct CORSIKA showers) / simulated; toy",
        lambda r: f"{len(np.unique(r['real'].showers['event_id']))} ({len(np.unique(r['real'].showers['event_id'] // 100))})"
        f" / {r['real'].n_showers_config}; {r['toy_counts']['events']}")
    row("LST telescope events: real triggered; toy read out", lambda r: f"{len(r['real'].dl1)}; {r['toy_counts']['telescope_events']}")
    row("sample A (LST x shower) real / toy", lambda r: f"{len(r['real'].data['A']['size'])} / {len(r['toy']['A']['size'])}")
    row("sample B true-size cut [p.e.]", lambda r: f"{r['size_cut']:.0f}")
    row("sample B telescope events real / toy", lambda r: f"{len(r['real'].data['B'])} / {len(r['toy']['B'])}")
    row("cross-check: max abs impact(eventio) - impact(ctapipe) [m]", lambda r: f"{r['impact_check']:.3f}")
    lines.append("")

    lines += [
        "## How the samples are selected",
        "",
        "The real files contain only the telescopes that triggered (and ctapipe only the showers that triggered the array):",
        "a selection bias towards bright, compact images that the toy does not have (the toy reads out every LST with",
        "at least `min_true_pe` true p.e.). Two samples make the comparison fair:",
        "",
        "- **Sample A (no trigger at all)**: every LST for every shower stored in the file, read with eventio,",
        "  including showers that did not trigger: sim_telarray stores the true image of each telescope with at least",
        "  STORE_PHOTOELECTRONS p.e. (`photoelectrons`) even then. With floor = max(STORE_PHOTOELECTRONS, the toy's",
        "  `min_true_pe`), both sides are compared on the fraction of LSTs with a true size >= floor ('detected') and",
        "  on the true size of those. The toy side is every simulated shower x every LST (impacts computed from the",
        "  shower table the same way; the cross-check row above compares the script's impact with the one ctapipe",
        "  wrote for the triggered telescopes).",
        "- **Sample B (trigger-like)**: real = the triggered LST telescope events of the converted file; toy = telescope",
        "  events whose true size is at least the smallest true size among the real triggered LST telescope events of",
        "  that file (the row 'sample B true-size cut'), in events where at least the real file's array-trigger",
        "  multiplicity of LSTs pass that cut. Cleaned-image quantities use only images that survive ctapipe's default",
        "  tailcuts cleaning, on both sides. The time gradient is ctapipe's `timing_slope` signed along the image axis",
        "  pointing away from the true source position (positive: the far end of the image arrives later).",
        "",
        "Toy/real per point: for each real telescope event, the toy median of the same quantity within +-15 m of its",
        f"impact (widened to +-30, +-60 m until at least {MIN_TOY_POINTS} toy points), divided by the real value",
        "(difference for the time gradient; for the cleaning fraction the toy's local mean minus the real 0/1); the",
        "table gives the median of these ratios (mean for the cleaning fraction) over the real points in each impact",
        "range and its 68 % bootstrap interval (sample A sizes: real and toy telescope events above the floor only).",
        "",
    ]

    rng = np.random.default_rng(12345)
    headline = [q for q in QUANTITIES if q.key != "intensity_ratio"]
    lines += [
        "## Headline: toy compared with sim_telarray, all impact distances",
        "",
        "Median over the real telescope events of (toy at the same impact) / (real value); for the time gradient and",
        "the fractions toy - real. Details per impact range, with 68 % intervals, in the next section.",
        "",
        "| file | " + " | ".join(f"{q.title} ({'toy/real' if q.compare == 'ratio' else 'toy - real'})" for q in headline) + " |",
        "|---|" + "---|" * len(headline),
    ]
    for res in results:
        cells = []
        for q in headline:
            values = res["points"][q.key][:, 1]
            value, _, _ = bootstrap(values, rng, np.mean if q.fraction else np.median, n_boot=1)
            value = 0.0 if abs(value) < 0.005 else value
            sign = "+" if q.compare == "difference" and value >= 0 else ""
            cells.append(f"{sign}{value:.2f} (n={np.count_nonzero(np.isfinite(values))})" if np.isfinite(value) else "-")
        lines.append(f"| {res['real'].label} | " + " | ".join(cells) + " |")
    lines.append("")

    lines += ["## Summary: toy / real per real telescope event", ""]
    range_names = [f"{lo:.0f}-{hi:.0f} m" if np.isfinite(hi) else f">= {lo:.0f} m" if lo > 0 else "all" for lo, hi in SUMMARY_RANGES]
    range_names[-1] = "all impacts"
    lines += ["| file | quantity | " + " | ".join(range_names) + " |", "|---|---|" + "---|" * len(range_names)]
    findings = []
    for res in results:
        real = res["real"]
        for q in QUANTITIES:
            points = res["points"][q.key]
            cells = []
            for lo, hi in SUMMARY_RANGES:
                sel = (points[:, 0] >= lo) & (points[:, 0] < hi)
                med, blo, bhi = bootstrap(points[sel, 1], rng, np.mean if q.fraction else np.median)
                n = int(np.count_nonzero(sel))
                if n == 0:
                    cells.append("-")
                    continue
                sign = "" if q.compare == "ratio" else "+" if med >= 0 else ""
                interval = f" [{blo:.2f}, {bhi:.2f}]" if np.isfinite(blo) else ""
                cells.append(f"{sign}{med:.2f}{interval} (n={n})")
                text = describe_difference(q, med, blo, bhi, n)
                if text and (lo, hi) != (0.0, np.inf):
                    findings.append((real.label, q, f"{range_names[SUMMARY_RANGES.index((lo, hi))]}", text))
                elif text:
                    findings.append((real.label, q, "all impacts", text))
            kind = "toy/real" if q.compare == "ratio" else "toy - real"
            lines.append(f"| {real.label} | {q.title} ({kind}) | " + " | ".join(cells) + " |")
    lines.append("")

    lines += ["## Where the toy differs from sim_telarray (generated from the summary table)", ""]
    lines += [
        "Statements need at least 3 real telescope events in the impact range; 'compatible with 1 (0)' means the",
        "68 % bootstrap interval of the median ratio (difference) includes 1 (0): the few real events cannot tell.",
        "",
    ]
    for label in dict.fromkeys(f[0] for f in findings):
        lines.append(f"- **{label}**")
        for _, q, rng_name, text in (f for f in findings if f[0] == label):
            lines.append(f"  - {q.title}, {rng_name}: {text}")
    lines.append("")

    lines += ["## Medians and spreads in impact bins", ""]
    lines += [
        "Median and half the 16-84 % range (`med +- spread`) per impact bin; n = telescope events (sample A: LST x",
        "shower, for the size only those above the floor). For the fractions: mean +- binomial error. Ratio = toy",
        "median / real median (difference for the time gradient and the fractions). Real bins with fewer than 3",
        "events give the median only.",
        "",
    ]
    for res in results:
        real, toy = res["real"], res["toy"]
        lines += [f"### {real.label} (`{real.path.name}`)", ""]
        lines += ["| quantity | impact [m] | n real | real | n toy | toy | toy/real (or toy - real) |", "|---|---|---|---|---|---|---|"]
        for q in QUANTITIES:
            rbins = binned(q, *sample_values(q, real.data, real.floor_pe))
            tbins = binned(q, *sample_values(q, toy, real.floor_pe))
            for (lo, hi, nr, mr, r16, r84), (_, _, nt, mt, t16, t84) in zip(rbins, tbins):
                if nr == 0 and nt == 0:
                    continue

                def cell(n, m, p16, p84, min_n, q=q):
                    if n == 0:
                        return "-"
                    if q.fraction:
                        return f"{m:.2f} +- {(p84 - p16) / 2:.2f}"
                    spread = f" +- {fmt((p84 - p16) / 2, q.unit)}" if n >= min_n and np.isfinite(p16) else ""
                    return fmt(m, q.unit) + spread

                if nr and nt and np.isfinite(mr) and np.isfinite(mt):
                    cmp = f"{mt / mr:.2f}" if q.compare == "ratio" and mr != 0 else f"{mt - mr:+.2f}"
                else:
                    cmp = "-"
                unit = f" [{q.unit}]" if q.unit else ""
                lines.append(
                    f"| {q.key}{unit} | {lo:.0f}-{hi:.0f} | {nr} | {cell(nr, mr, r16, r84, 3)} | {nt} | {cell(nt, mt, t16, t84, 3)} | {cmp} |"
                )
        lines.append("")

    lines += [
        "## Caveats",
        "",
        "- The real files hold few showers (see the conditions table; sim_telarray reuses each CORSIKA shower several",
        "  times with new cores, event_id = 100 x shower + reuse, so the distinct showers are fewer still): per-bin",
        "  real medians rest on a handful of telescope events, and the bootstrap intervals in the summary (which treat",
        "  the telescope events as independent) are the most they can tell.",
        "- The toy always uses the CTAO-North LSTN-01..04 positions and its isothermal atmosphere at its own",
        "  observation level (row 'observation level'); the real files use their own layouts, atmosphere profiles and",
        "  heights. Comparing versus impact distance removes the layout, not the height or the atmosphere.",
        "- sim_telarray scatters cores in the shower plane (core_pos_mode 1); the toy scatters them uniformly on the",
        "  ground within max_impact. Only the range of impact distances covered matters for these per-impact",
        "  comparisons, and both cover at least 0-400 m.",
        "- Sample B mimics the trigger with a true-size cut: it cannot reproduce the real trigger's preference for",
        "  compact images near threshold (the LST trigger sums 21 pixels). The proton file's array trigger also",
        "  includes 9 NectarCam MSTs (LSTs read out only with 2 LSTs in the stereo trigger, 'hardstereo'), which the",
        "  4-LST toy does not simulate.",
        "",
    ]
    output.write_text("\n".join(lines))


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def run_file(real_path, color, args, work):
    real = describe_real(real_path, color)
    real_h5 = work / f"real_{real.run}_{real_path.name.split('.')[0]}.dl1.h5"
    log.info("converting %s", real_path.name)
    real.conversion = convert_simtel(real_path, real_h5, overwrite=True, progress=not args.no_progress)
    real.dl1 = add_derived_columns(load_telescope_events(real_h5))
    scan_all_showers(real, progress=not args.no_progress)
    conditions_from_showers(real)

    # the impact computed here must equal ctapipe's for the triggered telescopes
    key = {(int(e), int(t)): i for i, (e, t) in enumerate(zip(real.showers["event_id"], real.showers["tel_id"]))}
    diffs = [
        abs(real.showers["impact"][key[(int(e), int(t))]] - d)
        for e, t, d in zip(real.dl1["event_id"], real.dl1["tel_id"], np.asarray(real.dl1["true_impact_distance"], float))
        if (int(e), int(t)) in key
    ]
    impact_check = float(np.max(diffs)) if diffs else np.nan
    if not impact_check < 1.0:
        raise RuntimeError(f"{real_path.name}: impact distances disagree with ctapipe's by {impact_check} m")

    # toy configuration from the file's conditions
    n_showers = args.n_showers * (args.diffuse_factor if real.viewcone_deg > 0 else 1)
    if real.energy_fixed_tev:
        e = real.energy_fixed_tev * 1000
        e_min, e_max = e * (1 - FIXED_ENERGY_TOLERANCE), e * (1 + FIXED_ENERGY_TOLERANCE)
    else:
        e_min, e_max = (v * 1000 for v in real.energy_range_tev)
    toy_kwargs = {
        "particle": real.particle,
        "n_events": n_showers,
        "energy_min": e_min * u.GeV,
        "energy_max": e_max * u.GeV,
        "spectral_index": real.spectral_index,
        "pointing_altitude": real.alt_deg * u.deg,
        "pointing_azimuth": real.az_deg * u.deg,
        "max_impact": real.scatter_m * u.m,
        "viewcone": real.viewcone_deg * u.deg,
        "nsb_rate": real.nsb_ghz * u.GHz,
        "seed": args.seed,
        "obs_id": real.run,
    }
    source = ToyEventSource(**toy_kwargs)
    toy_h5 = work / f"toy_{real.run}_{real.particle}.dl1.h5"
    log.info("simulating %d %s showers", n_showers, real.particle)
    toy_counts = process_events(source, toy_h5, overwrite=True, progress=not args.no_progress)
    toy_table = add_derived_columns(load_telescope_events(toy_h5))
    positions = dict(zip(source.subarray.tel_ids, source.subarray.tel_coords.cartesian.xyz.to_value(u.m).T))
    toy_cfg = {
        "energy_min": e_min,
        "energy_max": e_max,
        "spectral_index": real.spectral_index,
        "obs_level": source.model.observation_level,
        "max_impact": real.scatter_m,
        "min_true_pe": source.min_true_pe,
    }

    # samples
    real.floor_pe = max(real.store_pe, source.min_true_pe)
    real_b = real.dl1[np.asarray(real.dl1["true_image_sum"], float) > 0]
    size_cut = float(np.min(real_b["true_image_sum"])) if len(real_b) else 0.0
    real.data = {"A": real.showers, "B": real_b}
    toy = {"A": toy_all_showers(toy_h5, toy_table, positions), "B": trigger_like(toy_table, size_cut, real.array_multiplicity)}

    points = {}
    for q in QUANTITIES:
        points[q.key] = per_point(q, *sample_values(q, real.data, real.floor_pe), *sample_values(q, toy, real.floor_pe))
    return {
        "real": real,
        "toy": toy,
        "toy_cfg": toy_cfg,
        "toy_counts": toy_counts,
        "size_cut": size_cut,
        "points": points,
        "impact_check": impact_check,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path("docs"), help="folder for the PNG and the markdown")
    parser.add_argument("--n-showers", type=int, default=400, help="toy showers per real file (default 400)")
    parser.add_argument("--seed", type=int, default=1, help="toy random seed (default 1)")
    parser.add_argument(
        "--diffuse-factor", type=int, default=5,
        help="files with a view cone (protons) get this many times --n-showers: most diffuse showers miss the camera (default 5)",
    )
    parser.add_argument("--work", type=Path, default=None, help="folder for the HDF5 files (default: a temporary one)")
    parser.add_argument("--data-dir", type=Path, default=None, help="shared data folder (default: trigger.paths.data_dir())")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.n_showers < 20:
        parser.error("--n-showers must be at least 20")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for name in ("ctapipe", "eventio", "traitlets", "trigger", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="ctapipe")
    warnings.filterwarnings("ignore", module="eventio")
    warnings.filterwarnings("ignore", category=RuntimeWarning)

    start = time.perf_counter()
    meta = run_metadata()
    simtel_dir = data_dir(args.data_dir) / "simtel"
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="validate_simulation_") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = [run_file(simtel_dir / name, color, args, work) for name, color in REAL_FILES]
        plot(results, args.output / "simulation_validation.png")
        runtime = time.perf_counter() - start
        write_markdown(results, meta, args, args.output / "simulation_validation.md", runtime)
    log.info("wrote %s and %s in %.0f s", args.output / "simulation_validation.png", args.output / "simulation_validation.md", runtime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
