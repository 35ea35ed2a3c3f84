"""The ctapipe HDF5 files: tables, readers (ctapipe and dl1-data-handler), real data, atomic writes."""

import astropy.units as u
import numpy as np
import pytest
import tables
from ctapipe.io import TableLoader, read_table
from dl1_data_handler.reader import DLImageReader, DLWaveformReader

from trigger.io import OutputError, atomic_output, convert_simtel, process_events
from trigger.simulation.source import ToyEventSource

REQUIRED = [
    "/configuration/simulation/run",
    "/configuration/telescope/pointing/tel_001",
    "/simulation/event/subarray/shower",
    "/simulation/event/telescope/images/tel_001",
    "/simulation/event/telescope/impact/tel_001",
    "/dl1/event/subarray/trigger",
    "/dl1/event/telescope/trigger",
    "/dl1/event/telescope/images/tel_001",
    "/dl1/event/telescope/parameters/tel_001",
    "/r1/event/telescope/tel_001",
]


@pytest.mark.parametrize("particle", ["gamma", "nsb"])
def test_simulated_file_has_all_tables(simulated, particle):
    with tables.open_file(simulated[particle]) as h5:
        missing = [node for node in REQUIRED if node not in h5]
    assert not missing


def test_every_shower_is_recorded(simulated):
    shower = read_table(simulated["gamma"], "/simulation/event/subarray/shower")
    assert len(shower) == 40
    energy = u.Quantity(shower["true_energy"]).to_value(u.GeV)
    assert np.all((energy >= 100) & (energy <= 10000))
    hist = read_table(simulated["gamma"], "/simulation/service/shower_distribution")
    assert hist["n_entries"][0] == 40
    assert hist["histogram"][0].sum() == 40


def test_stored_waveforms_match_the_simulation(simulated, tmp_path):
    source = ToyEventSource(particle="gamma", seed=7, n_events=40, energy_min=100 * u.GeV, max_impact=250 * u.m)
    first = next(e for e in source if 1 in e.r1.tel)
    r1 = read_table(simulated["gamma"], "/r1/event/telescope/tel_001")
    row = r1[r1["event_id"] == first.index.event_id][0]
    stored = np.asarray(row["waveform"])
    # stored as int32 in 0.01 p.e., undone by the reader
    np.testing.assert_allclose(stored.reshape(first.r1.tel[1].waveform.shape), first.r1.tel[1].waveform, atol=0.0051)


def test_true_image_and_dl1_image_agree(simulated):
    with TableLoader(simulated["gamma"], dl1_images=True, true_images=True, dl1_parameters=True) as loader:
        events = loader.read_telescope_events()
    bright = events[events["true_image_sum"] > 500]
    assert len(bright) > 0
    for row in bright:
        # charge extraction recovers the true light within the calibration accuracy of ctapipe's extractor
        assert row["image"][row["true_image"] > 5].sum() == pytest.approx(row["true_image"][row["true_image"] > 5].sum(), rel=0.2)
    assert np.all(events["true_image_sum"] >= 10)


def test_dl1dh_image_reader_mono(simulated):
    reader = DLImageReader(input_url_signal=[str(simulated["gamma"])], input_url_background=[str(simulated["proton"])], mode="mono")
    n = reader.get_n_events()
    assert n > 0
    batch = reader.generate_mono_batch(list(range(min(n, 4))))
    assert batch["features"].shape[1:] == (114, 114, 2)
    assert np.isfinite(batch["features"]).all()
    assert set(np.unique(reader.example_identifiers["true_shower_primary_class"])) <= {0, 1}


def test_dl1dh_image_reader_stereo(simulated):
    reader = DLImageReader(input_url_signal=[str(simulated["gamma"])], mode="stereo")
    n = reader.get_n_events()
    assert n > 0
    n_batch = min(n, 3)
    batch = reader.generate_stereo_batch(list(range(n_batch)))
    # one row per LST and event; telescopes without an image are zero-filled
    assert len(batch) == 4 * n_batch
    assert batch["features"].shape[1:] == (114, 114, 2)
    assert len(np.unique(np.asarray(batch["event_id"]))) == n_batch
    assert np.all(np.isfinite(batch["true_energy"]))


def test_dl1dh_waveform_reader(simulated):
    reader = DLWaveformReader(input_url_signal=[str(simulated["gamma"])], mode="mono", sequence_length=20)
    batch = reader.generate_mono_batch([0, 1])
    assert batch["features"].shape[1:] == (114, 114, 20)
    # the reader crops around the shower maximum: bright pixels carry several p.e. per sample
    assert batch["features"].max() > 2


def test_real_simtel_file_in_the_same_format(real_gamma_file):
    with tables.open_file(real_gamma_file) as h5:
        missing = [node for node in REQUIRED if node not in h5]
    assert not missing
    shower = read_table(real_gamma_file, "/simulation/event/subarray/shower")
    assert len(shower) >= 3
    assert np.allclose(u.Quantity(shower["true_energy"]).to_value(u.GeV), 100, rtol=1e-3)
    reader = DLImageReader(input_url_signal=[str(real_gamma_file)], mode="mono")
    assert reader.get_n_events() > 0
    batch = reader.generate_mono_batch([0])
    assert batch["features"].shape[1:] == (114, 114, 2)
    wave = DLWaveformReader(input_url_signal=[str(real_gamma_file)], mode="mono", sequence_length=20)
    assert wave.generate_mono_batch([0])["features"].shape[1:] == (114, 114, 20)


def test_failed_run_leaves_no_file(tmp_path):
    class Boom(Exception):
        pass

    source = ToyEventSource(particle="nsb", n_events=3)
    original = source._generator

    def failing():
        yield next(original())
        raise Boom("interrupted")

    source._generator = failing
    out = tmp_path / "out.h5"
    with pytest.raises(Boom):
        process_events(source, out, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_not_replaced_without_overwrite(tmp_path):
    out = tmp_path / "keep.h5"
    out.write_text("precious")
    with pytest.raises(OutputError, match="exists"):
        with atomic_output(out):
            pass
    assert out.read_text() == "precious"


def test_unwritable_output_is_reported(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if (locked / "probe").parent.stat().st_mode & 0o200 or __import__("os").geteuid() == 0:
            # root ignores permissions: a path below a regular file is unwritable for everyone
            target = tmp_path / "a_file"
            target.write_text("")
            bad = target / "out.h5"
        else:
            bad = locked / "out.h5"
        with pytest.raises(OutputError):
            process_events(ToyEventSource(particle="nsb", n_events=1), bad, progress=False)
    finally:
        locked.chmod(0o700)


def test_missing_and_corrupt_simtel_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere"):
        convert_simtel(tmp_path / "nothere.simtel.zst", tmp_path / "x.h5")
    corrupt = tmp_path / "corrupt.simtel.gz"
    corrupt.write_bytes(b"\x1f\x8b not a real file")
    with pytest.raises(ValueError, match="corrupt.simtel.gz"):
        convert_simtel(corrupt, tmp_path / "y.h5")
    assert not (tmp_path / "x.h5").exists() and not (tmp_path / "y.h5").exists()


def test_folder_swap_interrupted_puts_the_older_output_back(tmp_path, monkeypatch):
    """A signal between moving the old folder aside and renaming the new one must not lose the old folder."""
    import os

    from lstcommon.files import atomic_folder

    target = tmp_path / "model"
    target.mkdir()
    (target / "weights").write_text("old")
    real_replace, calls = os.replace, []

    def interrupted(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the new folder's rename, right after the old one moved aside
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr("lstcommon.files.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(target, overwrite=True) as tmp:
            (tmp / "weights").write_text("new")
    assert (target / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("signum, exception", [("SIGTERM", "Terminated"), ("SIGINT", "KeyboardInterrupt")])
def test_signal_a_library_swallows_still_stops_the_commit(tmp_path, signum, exception):
    """Keras's load_model catches everything with a bare ``except:``; the signal must still keep the output out."""
    import signal

    from lstcommon import signals
    from lstcommon.files import atomic_folder, atomic_output

    target, single = tmp_path / "model", tmp_path / "summary.json"
    target.mkdir()
    (target / "weights").write_text("old")
    writers = ((atomic_folder, target, lambda tmp: (tmp / "weights").write_text("new")),
               (atomic_output, single, lambda tmp: tmp.write_text("new")))
    # a test run started in the background inherits an ignored SIGINT, which interrupts_raise leaves ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _swallow_and_commit(signals, writers, signum, exception)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (target / "weights").read_text() == "old" and not single.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def _swallow_and_commit(signals, writers, signum, exception):
    import os
    import signal

    for make, path, write in writers:
        with signals.interrupts_raise():
            with pytest.raises(KeyboardInterrupt) as raised:
                with make(path, overwrite=True) as tmp:
                    try:
                        os.kill(os.getpid(), getattr(signal, signum))  # the handler runs here, inside the try
                    except:  # noqa: E722  (what the library does)
                        pass
                    write(tmp)
            assert type(raised.value).__name__ == exception


@pytest.mark.parametrize("signum, code, word", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_signal_a_compiled_function_rewraps_ends_as_interrupted(signum, code, word, capsys):
    """numba's dispatcher re-raises a signal that lands in compiled code as ``SystemError`` (seen in CI, ctapipe's
    ``lts_linear_regression``): the command must still end as interrupted, not as a crash with exit 1."""
    import os
    import signal

    from lstcommon.tool import CommandTool

    class Rewraps(CommandTool):
        name = "rewraps"

        def start(self):
            try:
                os.kill(os.getpid(), getattr(signal, signum))
            except KeyboardInterrupt:
                raise SystemError("CPUDispatcher(...) returned a result with an exception set") from None

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(SystemExit) as ended:
            Rewraps().run([])
    finally:
        signal.signal(signal.SIGINT, previous)
    err = capsys.readouterr().err
    assert ended.value.code == code
    assert err.strip().endswith(f"rewraps: {word}; outputs in progress were removed")
    assert "Traceback" not in err and "unexpected exception" not in err
