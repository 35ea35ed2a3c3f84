"""``trigger-synth simulate``: simulated LST events into ctapipe HDF5 files."""

import json
import time
from pathlib import Path

from ctapipe.core import Provenance, ToolConfigurationError
from ctapipe.core.traits import Bool, Int, List, Unicode
from ctapipe.core.traits import Path as PathTrait

from lstcommon.files import OutputError, check_output_folder, dumps_json, write_text_atomic
from lstcommon.parallel import check_engine_options, engine, n_workers
from lstcommon.tool import CommandTool

from ..io import process_events
from ..parallel import SHARDS_PER_WORKER, simulate_sharded
from ..simulation.matched import MatchedShowerSource
from ..simulation.recorded import read_recorded_run
from ..simulation.source import PARTICLES, ToyEventSource
from ..simulation.summary import format_summary, summarize_file

__all__ = ["SimulateTool"]


class SimulateTool(CommandTool):
    """Simulate LST array events (gamma and proton showers, NSB-only windows).

    Writes one ctapipe HDF5 file per particle, ``OUTPUT/<particle>.dl1.h5``,
    holding R1 waveforms, DL1 images and parameters, true images and the
    simulated shower and trigger tables, then prints a summary.

    With ``--showers-from FILE`` it re-simulates instead every shower stored
    in a real sim_telarray file, ``--repeats`` times, at the file's energies,
    directions, cores, LST positions, pointing, observation level and NSB
    (``OUTPUT/<particle>.dl1.h5``, ``obs_id`` the file's run,
    ``event_id = 1000 x real event_id + repeat``).

    With ``--workers N`` the events are simulated in shards on a Dask
    ``LocalCluster`` of N processes, with ``--scheduler ADDRESS`` on an
    existing Dask cluster (docs/parallel.md), and merged into the same file,
    table for table, that one process writes for the same seed.

    Examples:

        trigger-synth simulate --particles gamma,proton,nsb --n-events 200 \\
            --energy-min "10 GeV" --energy-max "10 TeV" --seed 1 --output data/
        trigger-synth simulate --showers-from run.simtel.zst --repeats 10 --output matched/
        trigger-synth simulate --particles nsb --n-events 10000 --workers 8 --output data/
    """

    name = "trigger-synth simulate"
    description = __doc__

    particles = List(
        Unicode(),
        default_value=list(PARTICLES),
        help="Particles to simulate, any of gamma, proton, nsb: --particles gamma,nsb or --particles gamma --particles nsb",
    ).tag(config=True)
    output = PathTrait(default_value=Path("simulated"), directory_ok=True, file_ok=False, help="Output folder").tag(config=True)
    showers_from = PathTrait(
        default_value=None, allow_none=True, exists=None, directory_ok=False,
        help="Re-simulate every shower stored in this sim_telarray file (.simtel, .simtel.zst, .simtel.gz) instead",
    ).tag(config=True)
    repeats = Int(None, allow_none=True, help="With --showers-from: toy showers per recorded shower (default 1)").tag(config=True)
    overwrite = Bool(False, help="Replace existing output files").tag(config=True)
    progress = Bool(True, help="Show a progress bar").tag(config=True)
    workers = Int(
        None, allow_none=True,
        help="Simulate in shards on this many Dask workers: a LocalCluster of as many processes, or with --scheduler "
        "the shards for that many of the cluster's workers (default: 1 here, in this process; with --scheduler, the "
        "cluster's workers). Any number of workers writes the same events as one",
    ).tag(config=True)
    scheduler = Unicode(
        None, allow_none=True,
        help="Address of a running Dask scheduler (tcp://host:8786) to simulate on its cluster; Dask's own "
        "configuration (DASK_SCHEDULER_ADDRESS) is used when not given",
    ).tag(config=True)

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
        "shower-model": "ToyEventSource.shower_model",
        "data-dir": "ToyEventSource.data_dir",
        "showers-from": "SimulateTool.showers_from",
        "repeats": "SimulateTool.repeats",
        ("j", "workers"): "SimulateTool.workers",
        "scheduler": "SimulateTool.scheduler",
        ("o", "output"): "SimulateTool.output",
    }
    flags = {
        "overwrite": ({"SimulateTool": {"overwrite": True}}, "Replace existing output files"),
        "no-progress": ({"SimulateTool": {"progress": False}}, "Do not show progress bars"),
    }
    # not classes_with_traits: it adds MatchedShowerSource, and traitlets would then send
    # ToyEventSource's aliases (--n-events, --seed, ...) to that subclass alone
    classes = [ToyEventSource]

    def setup(self):
        self.refuse_extra_arguments("give several particles as --particles gamma,proton or --particles gamma --particles proton")
        particles = [p.strip().lower() for item in self.particles for p in item.split(",") if p.strip()]
        unknown = sorted(set(particles) - set(PARTICLES))
        if unknown or not particles:
            raise ToolConfigurationError(f"unknown particle(s) {unknown or particles}; choose from {', '.join(PARTICLES)}")
        self.output = Path(self.output)
        check_output_folder(self.output)
        self.scheduler_address = check_engine_options(self.workers, self.scheduler)
        if self.showers_from is None and self.repeats is not None:
            raise ToolConfigurationError("--repeats needs --showers-from FILE (the showers to repeat)")
        if self.showers_from is not None:
            recorded = read_recorded_run(self.showers_from, self.config.ToyEventSource.get("data_dir"))
            if particles != list(PARTICLES) and particles != [recorded.particle]:
                raise ToolConfigurationError(
                    f"--particles {','.join(particles)} contradicts {self.showers_from}, a {recorded.particle} run "
                    "(with --showers-from the file decides the particle)")
            self.sources = [MatchedShowerSource(recorded, repeats=1 if self.repeats is None else self.repeats, parent=self)]
        else:
            self.sources = [ToyEventSource(parent=self, particle=p) for p in dict.fromkeys(particles)]
        self.outputs = [self.output / f"{s.particle}.dl1.h5" for s in self.sources]
        existing = [str(p) for p in self.outputs if p.exists()]
        if existing and not self.overwrite:
            raise OutputError(f"{', '.join(existing)}: output exists (use --overwrite to replace it)")

    def start(self):
        self.summary = {}
        if self.scheduler_address is None and (self.workers or 1) == 1:
            self._simulate(None)
            return
        with engine(self.workers, self.scheduler_address) as client:
            self._simulate(client)

    def _simulate(self, client):
        """Each particle's file, in this process (``client`` None) or in shards on the Dask cluster."""
        for source, path in zip(self.sources, self.outputs):
            t0 = time.perf_counter()
            if client is None:
                counts = process_events(source, path, overwrite=self.overwrite, progress=self.progress, parent=self)
            else:
                n_shards = SHARDS_PER_WORKER * (self.workers or n_workers(client))
                run = simulate_sharded(source, path, client, n_shards=n_shards, overwrite=self.overwrite,
                                       progress=self.progress)
                counts = {"events": run.events, "telescope_events": run.telescope_events}
            wall = time.perf_counter() - t0
            self.summary[source.particle] = summarize_file(path) | counts | {
                "wall_s": round(wall, 2),
                "events_per_s": round(counts["events"] / wall, 2) if wall > 0 else None,
            }
            Provenance().add_output_file(str(path), role="simulated events")
            # after every file, so that summary.json never describes a file that was replaced since
            self.written = self._write_summary()

    def _write_summary(self) -> dict:
        """summary.json: this run's particles, and those of earlier runs into the folder whose files are still there."""
        path = self.output / "summary.json"
        try:
            summary = json.loads(path.read_text()) if path.is_file() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.log.warning("%s was not valid JSON: replaced", path)
            summary = {}
        summary.update(self.summary)
        summary = {p: summary[p] for p in PARTICLES
                   if isinstance(summary.get(p), dict) and Path(summary[p].get("file", "")).is_file()}
        write_text_atomic(path, dumps_json(summary))
        return summary

    def finish(self):
        print(format_summary(self.written, self.output))
