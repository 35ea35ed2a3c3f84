"""``trigger-synth``: the trigger toolkit's command line.

Each subcommand is a ctapipe Tool (traitlets configuration, ``--help``,
``--help-all``, provenance); ``trigger-synth SUBCOMMAND --help`` explains it.
"""

import json
import sys
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import tables
from ctapipe.core import Provenance, Tool, ToolConfigurationError
from ctapipe.core.traits import Bool, List, Path as PathTrait, Unicode, classes_with_traits
from ctapipe.io import read_table

from .instrument import InstrumentError
from .io import OutputError, atomic_output, process_events
from .paths import DataFolderError
from .simulation.source import PARTICLES, SimulationError, ToyEventSource

# problems of the user's input: reported in one line, without a traceback
USER_ERRORS = (SimulationError, OutputError, DataFolderError, InstrumentError)

__all__ = ["SimulateTool", "main"]


class SimulateTool(Tool):
    """Simulate LST array events (gamma and proton showers, NSB-only windows).

    Writes one ctapipe HDF5 file per particle, ``OUTPUT/<particle>.dl1.h5``,
    holding R1 waveforms, DL1 images and parameters, true images and the
    simulated shower and trigger tables, then prints a summary.

    Example:

        trigger-synth simulate --particles gamma,proton,nsb --n-events 200 \\
            --energy-min "10 GeV" --energy-max "10 TeV" --seed 1 --output data/
    """

    name = "trigger-synth simulate"
    description = __doc__

    particles = List(
        Unicode(),
        default_value=list(PARTICLES),
        help="Particles to simulate, any of gamma, proton, nsb: --particles gamma,nsb or --particles gamma --particles nsb",
    ).tag(config=True)
    output = PathTrait(default_value=Path("simulated"), directory_ok=True, file_ok=False, help="Output folder").tag(config=True)
    overwrite = Bool(False, help="Replace existing output files").tag(config=True)
    progress = Bool(True, help="Show a progress bar").tag(config=True)

    aliases = {
        ("p", "particles"): "SimulateTool.particles",
        ("n", "n-events"): "ToyEventSource.n_events",
        "energy-min": "ToyEventSource.energy_min",
        "energy-max": "ToyEventSource.energy_max",
        "spectral-index": "ToyEventSource.spectral_index",
        "max-impact": "ToyEventSource.max_impact",
        "viewcone": "ToyEventSource.viewcone",
        "nsb-rate": "ToyEventSource.nsb_rate",
        "n-telescopes": "ToyEventSource.n_telescopes",
        "min-true-pe": "ToyEventSource.min_true_pe",
        "seed": "ToyEventSource.seed",
        "data-dir": "ToyEventSource.data_dir",
        ("o", "output"): "SimulateTool.output",
    }
    flags = {
        "overwrite": ({"SimulateTool": {"overwrite": True}}, "Replace existing output files"),
        "no-progress": ({"SimulateTool": {"progress": False}}, "Do not show progress bars"),
    }
    classes = classes_with_traits(ToyEventSource)

    def setup(self):
        if self.extra_args:
            raise ToolConfigurationError(
                f"unexpected arguments {self.extra_args}; give several particles as "
                "--particles gamma,proton or --particles gamma --particles proton"
            )
        particles = [p.strip().lower() for item in self.particles for p in item.split(",") if p.strip()]
        unknown = sorted(set(particles) - set(PARTICLES))
        if unknown or not particles:
            raise ToolConfigurationError(f"unknown particle(s) {unknown or particles}; choose from {', '.join(PARTICLES)}")
        self.output = Path(self.output)
        try:
            self.sources = [ToyEventSource(parent=self, particle=p) for p in dict.fromkeys(particles)]
        except USER_ERRORS as err:
            raise ToolConfigurationError(str(err)) from err
        self.outputs = [self.output / f"{s.particle}.dl1.h5" for s in self.sources]
        existing = [str(p) for p in self.outputs if p.exists()]
        if existing and not self.overwrite:
            raise ToolConfigurationError(f"output files exist: {', '.join(existing)} (use --overwrite)")

    def start(self):
        try:
            self._simulate()
        except OutputError as err:
            raise ToolConfigurationError(str(err)) from err

    def _simulate(self):
        self.summary = {}
        for source, path in zip(self.sources, self.outputs):
            t0 = time.perf_counter()
            counts = process_events(source, path, overwrite=self.overwrite, progress=self.progress, parent=self)
            wall = time.perf_counter() - t0
            self.summary[source.particle] = summarize_file(path) | counts | {
                "wall_s": round(wall, 2),
                "events_per_s": round(counts["events"] / wall, 2) if wall > 0 else None,
            }
            Provenance().add_output_file(str(path), role="simulated events")

    def finish(self):
        # runs with different settings per particle share one summary
        path = self.output / "summary.json"
        summary = json.loads(path.read_text()) if path.is_file() else {}
        summary.update(self.summary)
        summary = {p: summary[p] for p in PARTICLES if p in summary and Path(summary[p]["file"]).is_file()}
        with atomic_output(path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(summary, indent=2))
        print(format_summary(summary, self.output))


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


SUBCOMMANDS = {
    "simulate": SimulateTool,
}

USAGE = """usage: trigger-synth SUBCOMMAND [options]

Neural-network triggers for the LST camera.

subcommands:
  simulate   simulate LST events (gamma, proton, NSB-only) into ctapipe HDF5 files

Run 'trigger-synth SUBCOMMAND --help' for the options of a subcommand.
"""


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"trigger-synth: unknown subcommand {name!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    tool = SUBCOMMANDS[name]()
    try:
        tool.run(rest)
    except SystemExit as exit_:
        return exit_.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
