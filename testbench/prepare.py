"""What the trigger-top testbench needs, made once and cached: events, a trained model and its hardware build.

    python testbench/prepare.py --out testbench/build [--model DIR --hardware DIR]

Writes (each step skipped when its output exists, so a clean clone pays once):

- ``OUT/events/{gamma,proton,nsb}.dl1.h5``: small simulated sets (``ToyEventSource``
  through the full ctapipe chain, seeded);
- ``OUT/events/{gamma,proton}_real.dl1.h5``: the real sim_telarray LST files of
  ``$LST_TRIGGER_DATA/simtel`` converted with ``trigger.io.convert_simtel``;
- ``OUT/model``: a tiny network trained by ``trigger-synth train`` on the gammas
  (skipped when ``--model`` names an existing one, e.g. ``demo-output/model``);
- ``OUT/hardware``: ``trigger.hardware.build`` of it without the yosys estimate
  (skipped likewise with ``--hardware``).
"""

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

import astropy.units as u

log = logging.getLogger("prepare")

REAL_FILES = {
    "gamma_real": "gamma_run000007_za40deg_azm180deg_South_subsystem_lsts_7.0.0_test.simtel.zst",
    "proton_real": "proton_run000001_za20deg_azm180deg_North_CTAO-North-Alpha_7.0.0_test.simtel.zst",
}
SIMULATED = {
    "gamma": dict(n_events=60, energy_min=100 * u.GeV, max_impact=250 * u.m),
    "proton": dict(n_events=60, energy_min=300 * u.GeV, viewcone=2 * u.deg, max_impact=250 * u.m),
    "nsb": dict(n_events=4),
}


def _staged(path: Path, write):
    """Write through a temporary name so that an interrupted run leaves nothing that looks finished."""
    from lstcommon.files import atomic_output

    with atomic_output(path, overwrite=True) as tmp:
        write(tmp)


def events(out: Path):
    from trigger.io import convert_simtel, process_events
    from trigger.paths import data_dir
    from trigger.simulation.source import ToyEventSource

    folder = out / "events"
    folder.mkdir(parents=True, exist_ok=True)
    for particle, kwargs in SIMULATED.items():
        path = folder / f"{particle}.dl1.h5"
        if not path.exists():
            t0 = time.perf_counter()
            _staged(path, lambda p, particle=particle, kwargs=kwargs: process_events(
                ToyEventSource(particle=particle, seed=11, **kwargs), p, progress=False))
            log.info("simulated %s in %.0f s", path, time.perf_counter() - t0)
    for name, simtel in REAL_FILES.items():
        path = folder / f"{name}.dl1.h5"
        if not path.exists():
            _staged(path, lambda p, simtel=simtel: convert_simtel(data_dir() / "simtel" / simtel, p, progress=False))
            log.info("converted %s", path)


def model(out: Path) -> Path:
    folder = out / "model"
    if (folder / "trigger.json").exists():
        return folder
    exe = Path(sys.executable).parent / "trigger-synth"
    cmd = [str(exe), "train", "--gamma", str(out / "events" / "gamma.dl1.h5"), "--output", str(folder),
           "--epochs", "3", "--hidden", "8", "--n-nsb-examples", "6000", "--n-calibration", "6000",
           "--no-progress", "--overwrite"]
    log.info("training a tiny model: %s", " ".join(cmd))
    subprocess.run(cmd, check=True)
    return folder


def hardware(model_dir: Path, out: Path) -> Path:
    from trigger.hardware import build

    folder = out / "hardware"
    if (folder / "report.json").exists():
        return folder
    build(model_dir, folder, n_check=200, synth=False, overwrite=True)
    return folder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None, help="use this trained model instead of a tiny one")
    parser.add_argument("--hardware", type=Path, default=None, help="use this build of --model")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="prepare: %(message)s")
    from lstcommon import UserError
    from lstcommon.errors import one_line

    try:
        # the given model and build are checked before minutes of simulation
        if args.model is not None:
            from trigger.hardware.model import load_trigger_model

            load_trigger_model(args.model)
        if args.hardware is not None and not (args.hardware / "report.json").is_file():
            raise UserError(f"{args.hardware}: not a trigger-synth build (report.json is missing)")
        args.out.mkdir(parents=True, exist_ok=True)
        events(args.out)
        model_dir = args.model if args.model is not None else model(args.out)
        if args.hardware is None:
            hardware(model_dir, args.out)
    except UserError as err:  # bad input (a model folder, an output): one line, as the commands do
        parser.exit(2, f"{parser.prog}: error: {one_line(err)}\n")
    except subprocess.CalledProcessError as err:  # trigger-synth train said why on its own stderr
        parser.exit(err.returncode or 1, f"{parser.prog}: error: {' '.join(map(str, err.cmd[:2]))} failed "
                    f"with exit code {err.returncode}\n")
    except FileExistsError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")


if __name__ == "__main__":
    main()
