"""A DL1 copy with only the telescope events a trigger reads out, as the after-cuts comparison feeds the baseline."""

from types import SimpleNamespace

import astropy.units as u
import numpy as np
import tables
from ctapipe.io import EventSource, TableLoader, read_table

from reconstruction.baseline import hillas_geometry
from reconstruction.predict import copy_file
from trigger.performance import read_out

WAVEFORMS = ("/r0", "/r1", "/dl0")


def _telescope_events(path):
    with TableLoader(path) as loader:
        table = loader.read_telescope_events(dl1_parameters=True, simulated=False, instrument=False)
    return [tuple(int(v) for v in row) for row in zip(table["obs_id"], table["event_id"], table["tel_id"])]


def _subset(all_events):
    """Two telescopes of every array event that has them, so every kept event can still have a stereo geometry."""
    by_event = {}
    for obs_id, event_id, tel_id in all_events:
        by_event.setdefault((obs_id, event_id), []).append(tel_id)
    return {(*key, t) for key, tels in by_event.items() if len(tels) >= 3 for t in sorted(tels)[:2]}


def test_copy_keeps_only_the_given_telescope_events_and_every_shower(simulated, tmp_path):
    source = simulated["gamma"]
    keep = _subset(_telescope_events(source))
    assert 0 < len(keep) < len(_telescope_events(source))
    subset = copy_file(source, tmp_path / "subset.h5", skip=WAVEFORMS, drop_levels=("R0", "R1", "DL0"),
                       telescope_events=keep)

    assert set(_telescope_events(subset)) == keep
    with tables.open_file(subset) as h5:
        assert "/r1" not in h5 and "/dl1/event/telescope/images" in h5
    # the shower truth stays whole (an effective area counts against it), and each event keeps its own shower:
    # ctapipe reads it row by row beside the array triggers
    showers = read_table(source, "/simulation/event/subarray/shower")
    assert len(read_table(subset, "/simulation/event/subarray/shower")) == len(showers)
    energy = {(int(o), int(e)): float(x) for o, e, x in zip(showers["obs_id"], showers["event_id"],
                                                            u.Quantity(showers["true_energy"]).to_value(u.TeV))}
    seen = set()
    with EventSource(subset) as events:
        for event in events:
            key = (event.index.obs_id, event.index.event_id)
            assert np.isclose(event.simulation.shower.energy.to_value("TeV"), energy[key])
            assert set(event.dl1.tel) == {t for o, e, t in keep if (o, e) == key}
            seen.add(key)
    assert seen == {(o, e) for o, e, _ in keep}


def test_the_baseline_geometry_uses_only_the_kept_telescopes(simulated, tmp_path):
    source = simulated["gamma"]
    keep = _subset(_telescope_events(source))
    subset = copy_file(source, tmp_path / "subset.h5", skip=WAVEFORMS, drop_levels=("R0", "R1", "DL0"),
                       telescope_events=keep)
    processed = hillas_geometry(subset, tmp_path / "subset.hillas.h5")
    geometry = read_table(processed, "/dl2/event/subarray/geometry/HillasReconstructor")
    layout = np.sort(read_table(source, "/configuration/instrument/subarray/layout")["tel_id"])
    valid = np.asarray(geometry["HillasReconstructor_is_valid"], bool)
    assert valid.any()
    for row in geometry[valid]:
        used = {int(t) for t in layout[np.asarray(row["HillasReconstructor_telescopes"], bool)]}
        assert used <= {t for o, e, t in keep if (o, e) == (row["obs_id"], row["event_id"])}


def test_read_out_is_the_fired_telescopes_of_accepted_showers():
    result = SimpleNamespace(
        run=SimpleNamespace(keys=lambda: [(1, 1), (1, 2), (1, 3)]),
        events=SimpleNamespace(obs_id=np.array([1, 1, 1, 1, 1, 1]), event_id=np.array([1, 1, 1, 2, 2, 3]),
                               tel_id=np.array([1, 2, 3, 1, 2, 4])),
    )
    first = np.array([5, -1, 7, 3, 4, 9])
    # shower 2 fired two telescopes but its coincidence failed; shower 3's one telescope cannot make an array trigger
    assert read_out(result, first, np.array([True, False, False])) == [(1, 1, 1), (1, 1, 3)]
    assert read_out(result, np.full(6, -1), np.array([True, True, True])) == []
