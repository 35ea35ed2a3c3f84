"""What a simulated file holds, in numbers and as the table ``trigger-synth simulate`` prints."""

from pathlib import Path

import astropy.units as u
import numpy as np
import tables
from ctapipe.io import read_table

__all__ = ["summarize_file", "format_summary"]


def summarize_file(path) -> dict:
    """Counts and image statistics of one simulated file."""
    path = Path(path)
    shower = read_table(path, "/simulation/event/subarray/shower")
    trigger = read_table(path, "/dl1/event/subarray/trigger")
    n_tels = np.asarray(trigger["tels_with_trigger"]).sum(axis=1) if len(trigger) else np.empty(0)
    true_sizes, cleaned = [], 0
    with tables.open_file(path) as h5:
        group = "/simulation/event/telescope/images"
        names = list(h5.get_node(group)._v_children) if group in h5 else []
    for name in names:
        true_sizes.append(np.asarray(read_table(path, f"{group}/{name}")["true_image_sum"]))
        params = read_table(path, f"/dl1/event/telescope/parameters/{name}")
        cleaned += int(np.count_nonzero(np.isfinite(params["hillas_intensity"])))
    true_sizes = np.concatenate(true_sizes) if true_sizes else np.empty(0)
    energy = u.Quantity(shower["true_energy"]).to_value(u.TeV)
    finite = energy[np.isfinite(energy)]
    return {
        "file": str(path),
        "size_mb": round(path.stat().st_size / 1e6, 2),
        "showers": len(shower),
        "events_with_telescopes": int(np.count_nonzero(n_tels)),
        "mean_multiplicity": round(float(n_tels[n_tels > 0].mean()), 2) if np.any(n_tels) else 0.0,
        "energy_tev": [float(finite.min()), float(finite.max())] if len(finite) else None,
        "median_true_size_pe": float(np.median(true_sizes)) if len(true_sizes) else None,
        "images_surviving_cleaning": cleaned,
    }


def format_summary(summary, output) -> str:
    lines = [f"Simulated LST events in {output}/", ""]
    header = (
        f"{'particle':8} {'events':>7} {'w/ tels':>7} {'tel-ev':>7} {'mult':>5} {'cleaned':>7} "
        f"{'med. true p.e.':>14} {'E range [TeV]':>15} {'MB':>7} {'ev/s':>6}"
    )
    lines += [header, "-" * len(header)]
    for particle, s in summary.items():
        e = s["energy_tev"]
        erange = f"{e[0]:.3g}-{e[1]:.3g}" if e else "-"
        size = f"{s['median_true_size_pe']:.0f}" if s["median_true_size_pe"] is not None else "-"
        lines.append(
            f"{particle:8} {s['events']:>7} {s['events_with_telescopes']:>7} {s['telescope_events']:>7} "
            f"{s['mean_multiplicity']:>5} {s['images_surviving_cleaning']:>7} {size:>14} {erange:>15} "
            f"{s['size_mb']:>7} {s['events_per_s']:>6}"
        )
    lines += ["", "w/ tels: events with at least one telescope read out; mult: telescopes per such event;",
              "cleaned: telescope images that survive tailcuts cleaning (ctapipe defaults)."]
    return "\n".join(lines)
