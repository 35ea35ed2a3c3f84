"""Prediction: a trained model applied to a DL1 file, written as ctapipe DL2 tables.

The output holds the DL2 tables in ctapipe's layout and column names, and by
default everything of the input except its pixel-wise data (:data:`PIXEL_DATA`:
waveforms, images, true images; over 99 % of a DL1 file): the subarray and
camera description, the simulation configuration, shower and impact tables,
the triggers, the pointing and the DL1 image parameters. That is what
``ctapipe.io.TableLoader`` needs to join the DL2 tables with the simulated
truth (``dl2=True, simulated=True``) and to cut on image parameters.
``full_copy=True`` (``--full-copy``) keeps the pixel-wise data too, e.g. to
apply a second model to the DL2 file in place. The DL2 tables are:

* mono models: ``/dl2/event/telescope/{classification,energy,geometry}/<prefix>/tel_NNN``
  (``<prefix>_tel_prediction``, ``<prefix>_tel_energy``, ``<prefix>_tel_alt/az``)
  and their array-event mean by ctapipe's ``StereoMeanCombiner`` (of log E weighted by intensity for energy) in
  ``/dl2/event/subarray/.../<prefix>`` (the mean-of-mono reference);
* stereo models: ``/dl2/event/subarray/{classification,energy,geometry}/<prefix>``.

A mono model with the ``disp`` task gives the geometry from the image axes
(:mod:`reconstruction.geometry`): per image the point ``|disp|`` along its
Hillas axis on the predicted side, per array event the weighted least-squares
point of those estimates with error ellipses long along each axis and narrow
across it (the intersection of the axes, with the disp points deciding along
them), instead of the mean of the per-image directions. Its ``direction``
output, if it has one too, is then not written.

The file is written under a temporary name in the output folder and renamed
when complete (:func:`lstcommon.files.atomic_output`), so an interrupted
prediction leaves no DL2 file behind and never damages the one that was there.
Everything that can be checked without running the network (the model folder,
the input file, the output) is checked first, by :func:`check_prediction`.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import tables
from astropy.coordinates import AltAz, SkyCoord
from astropy.table import QTable, Table, join, vstack
from ctapipe.coordinates import NominalFrame
from ctapipe.io import read_table, write_table
from ctapipe.reco import ReconstructionProperty
from ctapipe.reco.stereo_combination import StereoMeanCombiner

from lstcommon.files import OutputError, atomic_output
from lstcommon.parallel import run_tasks

from .checks import check_prediction
from .data import DL1Sequence, HillasAxes, InputError, open_readers
from .geometry import DispErrors, combine, combine_stereo, disp_source, signed_disp
from .train import load_model

__all__ = ["DL2_GROUPS", "PIXEL_DATA", "check_prediction", "copy_file", "copy_without_pixels", "disp_array_geometry", "predict",
           "recombine_energy",
           "predict_files"]

SUBARRAY_KEYS = ["obs_id", "event_id"]
TELESCOPE_KEYS = ["obs_id", "event_id", "tel_id"]
DL2_GROUPS = {"type": "classification", "energy": "energy", "direction": "geometry"}
#: the groups of pixel-wise data a DL2 file leaves out unless asked for a full copy
PIXEL_DATA = ("/r0", "/r1", "/dl0", "/dl1/event/telescope/images", "/simulation/event/telescope/images")
#: ctapipe's data-level names of what PIXEL_DATA holds, for the file's "CTA PRODUCT DATA LEVELS"
PIXEL_LEVELS = ("R0", "R1", "DL0", "DL1_IMAGES")
#: the disp combination's error ellipse of one image (degrees) for a network that did not measure its own
#: (trained before 2026-12-08, see reconstruction.geometry.DispErrors): across its axis the Hillas axis error (the
#: true source lies a median 0.03-0.05 deg from a bright gamma image's axis), along it the disp error; the along-axis
#: error grows as the network is less sure of the side (probability p: divided by sqrt(|2p - 1|))
DISP_SIGMA_ACROSS = 0.05
DISP_SIGMA_ALONG = 0.25


def predict(model_dir, input_file, output_file=None, prefix="CNN", batch_size=64, overwrite=False, workers=1,
            full_copy=False) -> Path:
    """Apply the model in ``model_dir`` to ``input_file``; return the DL2 file written.

    ``output_file`` defaults to the input name with ``.dl1.h5`` replaced by
    ``.dl2.h5`` (or ``.dl2.h5`` appended). It holds the DL2 tables and the
    input's tables except the pixel-wise data (:data:`PIXEL_DATA`), or all of
    them with ``full_copy``. Giving the input file itself adds the tables in
    place (still atomically, and keeping everything). Telescopes of the model
    without events in the file are skipped (no DL2 table for them).
    """
    input_file = Path(input_file)
    meta, data, output_file = check_prediction(model_dir, input_file, output_file, prefix, overwrite, batch_size)
    model, meta = load_model(model_dir)
    stereo_slots = meta["example_shape"][0] if data.mode == "stereo" else None

    readers = open_readers([input_file], data, tel_ids=data.tel_ids or None)
    reader = readers[0]
    if reader.cam_name != meta["camera"]:
        raise InputError(f"{input_file}: holds camera {reader.cam_name}, the model was trained on {meta['camera']}")
    # the model's own settings decide its inputs: a model trained with the stereo geometry gets it here too
    seq = DL1Sequence(readers, tasks=meta["tasks"], batch_size=batch_size, with_targets=False, workers=workers,
                      n_slots=stereo_slots, energy_geometry=meta["network"].get("energy_geometry", "none"))
    if list(seq.example_shape) != list(meta["example_shape"]):
        raise InputError(
            f"{input_file}: gives examples of shape {seq.example_shape}, the model expects {tuple(meta['example_shape'])}"
        )

    in_place = output_file.exists() and output_file.resolve() == input_file.resolve()
    # the copy is made first: the partial file stands for the prediction in progress, and goes if it fails
    with atomic_output(output_file, overwrite=overwrite or in_place) as tmp:
        _copy_input(input_file, tmp, full_copy or in_place)
        outputs, ids = {t: [] for t in meta["tasks"]}, []
        for i in range(len(seq)):
            batch = seq.batch(i)
            pred = _predict_on_batch(model, batch.inputs, batch_size)
            for t in meta["tasks"]:
                outputs[t].append(np.asarray(pred[t]))
            ids.append(batch.ids)
        outputs = {t: np.concatenate(v) for t, v in outputs.items()}
        ids = {k: np.concatenate([d[k] for d in ids]) for k in ids[0]}

        pointing = _array_pointing(input_file)
        if data.mode == "mono":
            tel_tables = _telescope_tables(outputs, ids, pointing, prefix)
            # the reader's axes: a disp network's batches have read them already
            axes = HillasAxes.of(reader)
            array_tables = {group: _combine(table, group, prefix, _intensity(axes, table) if group == "energy" else None)
                            for group, table in tel_tables.items()}
            if "disp" in outputs:
                errors = DispErrors.from_dict(meta["disp_errors"]) if meta.get("disp_errors") else None
                array_tables["geometry"] = disp_array_geometry(outputs["disp"], ids, pointing, prefix, errors)
        else:
            tel_tables = {}
            array_tables = _subarray_tables(outputs, ids, pointing, prefix)
        _write_tables(tmp, input_file, tel_tables, array_tables, prefix, overwrite)
    return output_file


def predict_files(model_dir, jobs, client=None, progress=False, **options) -> list[Path]:
    """:func:`predict` for each ``(input_file, output_file)`` of ``jobs``, one task per file on a Dask ``client``
    (:mod:`lstcommon.parallel`; here, one after the other, without one); the DL2 files written, in order.

    A file that fails is named (``TaskFailed``, or ``TaskInputError`` for bad input); the tasks not yet
    started are cancelled, and files already written stay.
    """
    jobs = [(Path(i), None if o is None else Path(o)) for i, o in jobs]
    return run_tasks(client, _PredictOne(model_dir, options), jobs, progress=progress, desc="predict", unit="file",
                     name="file", describe=lambda k: f"file {k + 1} of {len(jobs)} ({jobs[k][0]})")


class _PredictOne:
    """``predict(model_dir, input, output, **options)`` of one job, picklable for the workers."""

    def __init__(self, model_dir, options):
        self.model_dir, self.options = model_dir, options

    def __call__(self, job):
        return predict(self.model_dir, job[0], job[1], **self.options)


def _predict_on_batch(model, inputs, size):
    """``model.predict_on_batch`` on a batch padded to ``size`` examples: one traced graph per model, where each
    shorter last batch would trace a new one (and TensorFlow warn about retracing)."""
    n = len(next(iter(inputs.values()))) if isinstance(inputs, dict) else len(inputs)
    if n < size:
        def pad(a):
            return np.concatenate([a, np.zeros((size - n, *a.shape[1:]), a.dtype)])

        inputs = {k: pad(v) for k, v in inputs.items()} if isinstance(inputs, dict) else pad(inputs)
    return {k: np.asarray(v)[:n] for k, v in model.predict_on_batch(inputs).items()}


def _array_pointing(path) -> Table:
    """Pointing per obs_id, the same one dl1-data-handler used for the training offsets."""
    run = read_table(path, "/configuration/simulation/run")
    return QTable({"obs_id": run["obs_id"], "alt": u.Quantity(run["min_alt"]).to(u.deg), "az": u.Quantity(run["min_az"]).to(u.deg)})


def _to_altaz(fov, obs_ids, pointing):
    """(fov_lon, fov_lat) in degrees around the array pointing -> (alt, az)."""
    alt = np.full(len(fov), np.nan) * u.deg
    az = np.full(len(fov), np.nan) * u.deg
    for row in pointing:
        sel = obs_ids == row["obs_id"]
        if not sel.any():
            continue
        origin = SkyCoord(alt=row["alt"] * np.ones(sel.sum()), az=row["az"] * np.ones(sel.sum()), frame=AltAz())
        nominal = SkyCoord(fov_lon=fov[sel, 0] * u.deg, fov_lat=fov[sel, 1] * u.deg, frame=NominalFrame(origin=origin))
        altaz = nominal.transform_to(AltAz())
        alt[sel], az[sel] = altaz.alt.to(u.deg), altaz.az.wrap_at(360 * u.deg).to(u.deg)
    return alt, az


def disp_array_geometry(disp_output, ids, pointing, prefix, errors: DispErrors | None = None) -> Table:
    """One row per array event: the weighted least-squares direction of its images' disp estimates (alt, az).

    With the error ellipses the network measured (``errors``) the sides come from the other images and
    contradicted disps count less (:func:`~reconstruction.geometry.combine_stereo`); older networks get the fixed
    ellipse and the network's own sides."""
    signed, confidence = signed_disp(disp_output)
    keys = np.stack([ids["obs_id"], ids["event_id"]], axis=1)
    events, index = np.unique(keys, axis=0, return_inverse=True)
    if errors is None:
        fov = combine(ids["cog"], ids["psi"], signed, weights=ids["intensity"], event=index.ravel(),
                      sigma_along=DISP_SIGMA_ALONG / np.sqrt(np.maximum(confidence, 0.01)),
                      sigma_across=DISP_SIGMA_ACROSS)
    else:
        along, across = errors.sigmas(ids["intensity"], ids["elongation"])
        fov = combine_stereo(ids["cog"], ids["psi"], signed, index.ravel(), along, across)
    alt, az = _to_altaz(fov, events[:, 0], pointing)
    table = Table({"obs_id": events[:, 0], "event_id": events[:, 1], f"{prefix}_alt": alt, f"{prefix}_az": az})
    table[f"{prefix}_is_valid"] = np.isfinite(alt.value)
    return table


def _columns(outputs, obs_ids, pointing, name, ids=None):
    cols = {}
    if "type" in outputs:
        cols["classification"] = {f"{name}_prediction": outputs["type"][:, 0].astype(float)}
    if "energy" in outputs:
        cols["energy"] = {f"{name}_energy": (10 ** outputs["energy"][:, 0].astype(float)) * u.TeV}
    if "disp" in outputs:
        fov = disp_source(ids["cog"], ids["psi"], signed_disp(outputs["disp"])[0])
        alt, az = _to_altaz(fov, obs_ids, pointing)
        cols["geometry"] = {f"{name}_alt": alt, f"{name}_az": az}
    elif "direction" in outputs:
        alt, az = _to_altaz(outputs["direction"].astype(float), obs_ids, pointing)
        cols["geometry"] = {f"{name}_alt": alt, f"{name}_az": az}
    for group in cols.values():
        first = next(iter(group.values()))
        group[f"{name}_is_valid"] = np.isfinite(u.Quantity(first).value)
    return cols


def _telescope_tables(outputs, ids, pointing, prefix):
    """One table per DL2 group holding all telescopes (split per tel_id when written)."""
    base = {"obs_id": ids["obs_id"], "event_id": ids["event_id"], "tel_id": ids["tel_id"]}
    tables_ = {}
    for group, cols in _columns(outputs, ids["obs_id"], pointing, f"{prefix}_tel", ids).items():
        t = Table({**base, **cols})
        t.sort(["obs_id", "event_id", "tel_id"])
        tables_[group] = t
    return tables_


def _combine(tel_table, group, prefix, intensity=None):
    """Array-event mean of the mono predictions with ctapipe's StereoMeanCombiner.

    Energy is the mean of log E weighted by the images' ``intensity`` (one per
    row of ``tel_table``) when given: a bright image measures the energy better
    than a faint one (at 0.65-3 TeV the unweighted mean of the CNN's and of the
    forests' estimates is 10-30 % wider, docs/reconstruction.md)."""
    prop = {
        "classification": ReconstructionProperty.PARTICLE_TYPE,
        "energy": ReconstructionProperty.ENERGY,
        "geometry": ReconstructionProperty.GEOMETRY,
    }[group]
    weights = "none"
    if group == "energy" and intensity is not None:
        tel_table = tel_table.copy(copy_data=False)
        tel_table["hillas_intensity"] = np.asarray(intensity, float)
        weights = "intensity"
    combiner = StereoMeanCombiner(prefix=prefix, property=prop, log_target=(group == "energy"), weights=weights)
    table = combiner.predict_table(tel_table)
    # the combiner leaves some unfilled fields (e.g. the telescope list) as Python objects, which HDF5 cannot store
    table.remove_columns([c for c in table.colnames if table[c].dtype == object])
    return table


def _intensity(axes: HillasAxes, tel_table):
    """The DL1 Hillas intensity of each row's image."""
    return axes.lookup(tel_table["obs_id"], tel_table["event_id"], tel_table["tel_id"])[:, 3]


def recombine_energy(dl2_file, output_file, prefix, overwrite=False) -> Path:
    """A copy of ``dl2_file`` whose array-event energies ``prefix`` are recombined from its telescope estimates
    with this version's :func:`_combine` (DL2 files written before the energy mean was weighted by intensity)."""
    dl2_file = Path(dl2_file)
    with tables.open_file(dl2_file, mode="r") as h5:
        nodes = [n._v_pathname for n in h5.get_node(f"/dl2/event/telescope/energy/{prefix}")]
    tel_table = vstack([read_table(dl2_file, n) for n in nodes], metadata_conflicts="silent")
    tel_table.sort(TELESCOPE_KEYS)
    combined = _combine(tel_table, "energy", prefix, _intensity(HillasAxes(dl2_file), tel_table))
    output_file = Path(output_file)
    with atomic_output(output_file, overwrite=overwrite) as tmp:
        shutil.copyfile(dl2_file, tmp)
        _write_tables(tmp, dl2_file, {"energy": tel_table}, {"energy": combined}, prefix, overwrite=True)
    return output_file


def _subarray_tables(outputs, ids, pointing, prefix):
    base = {"obs_id": ids["obs_id"], "event_id": ids["event_id"]}
    tables_ = {}
    for group, cols in _columns(outputs, ids["obs_id"], pointing, prefix).items():
        t = Table({**base, **cols})
        t.sort(["obs_id", "event_id"])
        tables_[group] = t
    return tables_


def _complete(keys, table, key_names):
    """One row per event of ``keys`` in its order (TableLoader requires it); events without prediction invalid."""
    keys = keys.copy()
    keys["_order"] = np.arange(len(keys))
    full = join(keys, table, keys=key_names, join_type="left")
    full.sort("_order")
    full.remove_column("_order")
    for name in full.colnames:
        if name in key_names or not hasattr(full[name], "mask"):
            continue
        column = full[name]
        fill = False if column.dtype == bool else np.nan
        full[name] = Table.Column(column.filled(fill), unit=column.unit, description=column.description)
    return full


def copy_without_pixels(source, destination) -> Path:
    """``source`` copied to a new ``destination`` without the groups of :data:`PIXEL_DATA`.

    Every other table keeps its attributes (units, ctapipe's metadata) and
    compression, so ctapipe reads the copy as it reads the original.
    """
    return copy_file(source, destination, skip=PIXEL_DATA, drop_levels=PIXEL_LEVELS)


def copy_file(source, destination, skip=(), drop_levels=(), telescope_events=None) -> Path:
    """``source`` copied to a new ``destination`` without the groups ``skip`` (ctapipe data levels ``drop_levels``).

    ``telescope_events`` (a collection of ``(obs_id, event_id, tel_id)``)
    keeps only those telescope events, as if no other telescope had
    triggered: every per-telescope table loses the other rows and the array
    events' ``tels_with_trigger`` masks lose the other telescopes. Array
    events left without a telescope stay, with an empty mask, because ctapipe
    reads the shower truth row by row beside the array triggers (and skips
    such events), and the truth of every simulated shower is what an
    effective area is counted against.
    """
    keep = None if telescope_events is None else {tuple(int(v) for v in key) for key in telescope_events}
    with tables.open_file(source, mode="r") as src, tables.open_file(destination, mode="w") as dst, \
            warnings.catch_warnings():
        # ctapipe's metadata names ("CTA PRODUCT ID") have spaces, which PyTables warns about on every copy
        warnings.simplefilter("ignore", tables.NaturalNameWarning)
        src.root._v_attrs._f_copy(dst.root)
        tel_ids = np.sort(src.root.configuration.instrument.subarray.layout.col("tel_id")) if keep is not None else None

        def copy(group, parent):
            for node in group._f_iter_nodes():
                if node._v_pathname in skip:
                    continue
                if isinstance(node, tables.Group):
                    child = dst.create_group(parent, node._v_name)
                    node._v_attrs._f_copy(child)
                    copy(node, child)
                    continue
                rows = _kept_rows(node, keep, tel_ids) if keep is not None and isinstance(node, tables.Table) else None
                if rows is None:
                    node.copy(parent)
                else:  # the table's description and attributes, then only the kept rows: each row written once
                    copied = node.copy(parent, stop=0)
                    copied.append(rows)
                    copied.flush()

        copy(src.root, dst.root)
        _set_data_levels(dst, drop=drop_levels)
    return Path(destination)


def _kept_rows(source, keep, tel_ids):
    """The rows of table ``source`` that belong to the telescope events of ``keep``, or None for a table kept whole."""
    names = source.colnames
    if not {"obs_id", "event_id"} <= set(names) or not {"tel_id", "tels_with_trigger"} & set(names):
        return None  # array-level truth and predictions stay whole
    rows = source.read()
    if "tel_id" in names:
        return rows[np.array([key in keep for key in zip(rows["obs_id"].tolist(), rows["event_id"].tolist(),
                                                         rows["tel_id"].tolist())], dtype=bool)]
    for i, (obs_id, event_id) in enumerate(zip(rows["obs_id"].tolist(), rows["event_id"].tolist())):
        rows["tels_with_trigger"][i] = [(obs_id, event_id, int(t)) in keep for t in tel_ids]
    return rows


def _set_data_levels(h5, drop=(), add=()):
    """Keep ctapipe's "CTA PRODUCT DATA LEVELS" true to what the file holds."""
    attrs, key = h5.root._v_attrs, "CTA PRODUCT DATA LEVELS"
    if key not in attrs._v_attrnames:
        return
    levels = [lvl for lvl in str(attrs[key]).split(",") if lvl and lvl not in drop]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tables.NaturalNameWarning)
        attrs[key] = ",".join(levels + [lvl for lvl in add if lvl not in levels])


def _copy_input(input_file, tmp, full_copy):
    if full_copy:
        shutil.copyfile(input_file, tmp)
    else:
        copy_without_pixels(input_file, tmp)


def _write_atomically(input_file, output_file, tel_tables, array_tables, prefix, overwrite, full_copy=False):
    """The DL2 tables and ``input_file``'s other tables (without its pixel-wise data unless ``full_copy``),
    renamed to ``output_file`` only when complete."""
    input_file, output_file = Path(input_file), Path(output_file)
    in_place = output_file.exists() and output_file.resolve() == input_file.resolve()
    with atomic_output(output_file, overwrite=overwrite or in_place) as tmp:
        _copy_input(input_file, tmp, full_copy or in_place)
        _write_tables(tmp, input_file, tel_tables, array_tables, prefix, overwrite)
    return output_file


def _write_tables(path, input_file, tel_tables, array_tables, prefix, overwrite):
    """The DL2 tables into ``path`` (a copy of ``input_file``), one row per event of the file."""
    with tables.open_file(path, mode="a") as h5:
        _set_data_levels(h5, add=("DL2",))
        for group in {*tel_tables, *array_tables}:
            for node in (f"/dl2/event/telescope/{group}/{prefix}", f"/dl2/event/subarray/{group}/{prefix}"):
                if node in h5:
                    if not overwrite:
                        raise OutputError(f"{input_file}: already holds {node} (use --overwrite to replace it)")
                    h5.remove_node(node, recursive=True)
        events = read_table(h5, "/dl1/event/subarray/trigger")[SUBARRAY_KEYS]
        for group, table in tel_tables.items():
            for node in h5.root.dl1.event.telescope.parameters:
                tel_events = read_table(h5, node._v_pathname)[TELESCOPE_KEYS]
                part = _complete(tel_events, table, TELESCOPE_KEYS)
                write_table(part, h5, f"/dl2/event/telescope/{group}/{prefix}/{node._v_name}")
        for group, table in array_tables.items():
            write_table(_complete(events, table, SUBARRAY_KEYS), h5, f"/dl2/event/subarray/{group}/{prefix}")
