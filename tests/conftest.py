"""Shared fixtures: the instrument, and one small simulated data set per test session."""

import os
import sys
from pathlib import Path

import astropy.units as u
import pytest

from trigger.paths import data_dir

DATA = data_dir()
# ctapipe's *.from_name() must find the real files instead of downloading
os.environ.setdefault("CTAPIPE_SVC_PATH", str(DATA / "instrument"))

SIMTEL = DATA / "simtel"
REAL_GAMMA = SIMTEL / "gamma_run000007_za40deg_azm180deg_South_subsystem_lsts_7.0.0_test.simtel.zst"


@pytest.fixture(scope="session", autouse=True)
def absl_keeps_the_capture_open():
    """absl's log handler (imported with TensorFlow) writes to the stderr of that moment, pytest's
    capture file, and closes it when logging shuts its handlers down unless it is the current sys.stderr: ctapipe's
    Tool reconfigures logging, so a first Tool run inside ``capsys`` closed the capture and failed the test when
    run alone. Its stream becomes the process's own stderr, which it never closes."""
    import absl.logging  # TensorFlow is imported lazily now: set the stream before any test imports it

    absl.logging.get_absl_handler().python_handler.stream = sys.__stderr__


@pytest.fixture(scope="session")
def instrument():
    from trigger.instrument import LSTInstrument

    return LSTInstrument()


@pytest.fixture(scope="session")
def simulated(tmp_path_factory):
    """Small gamma, proton and NSB-only files written by the full ctapipe chain."""
    from trigger.io import process_events
    from trigger.simulation.source import ToyEventSource

    folder = tmp_path_factory.mktemp("simulated")
    settings = {
        "gamma": dict(n_events=40, energy_min=100 * u.GeV, max_impact=250 * u.m),
        "proton": dict(n_events=40, energy_min=300 * u.GeV, viewcone=2 * u.deg, max_impact=250 * u.m),
        "nsb": dict(n_events=4),
    }
    files = {}
    for particle, kwargs in settings.items():
        source = ToyEventSource(particle=particle, seed=7, **kwargs)
        path = folder / f"{particle}.dl1.h5"
        process_events(source, path, progress=False)
        files[particle] = path
    return files


@pytest.fixture(scope="session")
def real_gamma_file(tmp_path_factory):
    """The real 100 GeV sim_telarray gamma file, converted by ctapipe into the project's format."""
    from trigger.io import convert_simtel

    path = tmp_path_factory.mktemp("real") / "gamma_run000007.dl1.h5"
    convert_simtel(REAL_GAMMA, path, progress=False)
    return Path(path)


@pytest.fixture(scope="session")
def simtel_dir():
    return SIMTEL


@pytest.fixture(scope="session")
def trigger_model(simulated, tmp_path_factory):
    """A tiny NN trigger trained by ``trigger-synth train`` on the session's gammas (seconds, not physics): two
    candidate networks, each fine-tuned for one round on the NSB windows it accepts."""
    from trigger.cli import main

    folder = tmp_path_factory.mktemp("model")
    code = main([
        "train", "--gamma", str(simulated["gamma"]), "--output", str(folder), "--epochs", "5", "--hidden", "8",
        "--n-nsb-examples", "20000", "--n-calibration", "6000", "--calibration-runs", "2", "--calibration-windows", "200",
        "--candidates", "2", "--hard-negative-rounds", "1", "--hard-negative-epochs", "2", "--no-progress", "--seed", "3",
    ])
    assert code == 0
    return folder
