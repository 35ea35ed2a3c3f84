"""Everything a command refuses before any expensive step, without Keras: input files, model folders,
outputs and settings, each in one line naming the file or the option (:mod:`reconstruction.errors`).
"""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path

import numpy as np
import tables

from lstcommon import UserError
from lstcommon.errors import one_line
from lstcommon.files import OutputError, check_hdf5

from .errors import InputError, SettingError
from .settings import DataSpec, check_training

__all__ = [
    "CAMERA", "META_FILE", "MODEL_FILE", "check_dl2", "check_file", "check_model", "check_outputs",
    "check_prediction", "check_settings", "check_train_output", "default_output", "select_telescopes",
    "telescopes_with_events",
]

log = logging.getLogger(__name__)

IMAGE_TABLES = ("/dl1/event/telescope/images", "/dl1/event/telescope/parameters", "/dl1/event/subarray/trigger")
WAVEFORM_TABLES = ("/r1/event/telescope", "/dl1/event/telescope/parameters", "/dl1/event/subarray/trigger")
SIMULATION_TABLES = ("/simulation/event/subarray/shower", "/configuration/simulation/run")
LAYOUT_TABLE = "/configuration/instrument/subarray/layout"
#: the only camera the networks and the image mappers here are made for
CAMERA = "LSTCam"

MODEL_FILE = "model.keras"
META_FILE = "model.json"
#: what model.json must hold for predict, transfer and explain
META_KEYS = ("data", "network", "camera", "example_shape", "tasks")

DL2_LEVELS = ("subarray", "telescope")
DL2_GROUPS = ("classification", "energy", "geometry")


def needed_tables(spec: DataSpec) -> tuple:
    return (IMAGE_TABLES if spec.input_type == "image" else WAVEFORM_TABLES) + SIMULATION_TABLES + (LAYOUT_TABLE,)


def check_file(path, spec: DataSpec) -> Path:
    """Fail early, in one line naming the file and the problem, when a file cannot feed the readers.

    Missing, empty, truncated or non-HDF5 files, files without the tables the
    input type needs, and files without LST cameras are refused.
    """
    path = Path(path)
    hint = f"a simulated DL1 file with {'DL1 images' if spec.input_type == 'image' else 'R1 waveforms'} is needed"
    try:
        check_hdf5(path, what="input file", nodes=needed_tables(spec), hint=hint)
    except InputError:
        raise
    except UserError as err:
        raise InputError(str(err)) from None
    cameras = _cameras(path)
    if not any(name == CAMERA for name in cameras.values()):
        found = ", ".join(sorted(set(cameras.values()))) or "none"
        raise InputError(f"{path}: input file holds no {CAMERA} telescope (cameras: {found}); only LST images are supported")
    _check_values(path, spec, [t for t, name in cameras.items() if name == CAMERA])
    return path


#: the LST low gain's range: about 3000 p.e. per pixel (sim_telarray's fadc_lg_max_signal), ~800 p.e. in a sample
SATURATED_CHARGE_PE = 3000.0
SATURATED_SAMPLE_PE = 800.0
#: a shower saturates a few pixels at most; a tenth of the camera at the ceiling is a broken file
SATURATED_FRACTION = 0.1


def _check_values(path, spec: DataSpec, tel_ids, n_rows=256):
    """Refuse NaN or infinite images or waveforms, and saturated ones, from the first rows of each LST."""
    from ctapipe.io import read_table

    group, column = (("/dl1/event/telescope/images", "image") if spec.input_type == "image"
                     else ("/r1/event/telescope", "waveform"))
    with tables.open_file(path, mode="r") as h5:
        names = [f"tel_{t:03d}" for t in tel_ids if f"{group}/tel_{t:03d}" in h5]
    what = "images" if spec.input_type == "image" else "waveforms"
    for name in names:
        values = np.asarray(read_table(path, f"{group}/{name}", stop=n_rows)[column], dtype=np.float32)
        if not np.all(np.isfinite(values)):
            raise InputError(f"{path}: {what} of {name} hold NaN or infinite values")
        if spec.input_type == "image":
            saturated = np.mean(values >= SATURATED_CHARGE_PE, axis=-1) > SATURATED_FRACTION
        else:  # (n, gains, pixels, samples): a pixel at the ceiling over the whole window
            pixels = np.all(values >= SATURATED_SAMPLE_PE, axis=-1).reshape(len(values), -1)
            saturated = pixels.mean(axis=-1) > SATURATED_FRACTION
        if saturated.any():
            raise InputError(f"{path}: {int(saturated.sum())} {what} of {name} are saturated (over a tenth of the "
                             f"pixels at the LST low gain's ceiling)")


def _cameras(path) -> dict:
    """tel_id -> camera name, from the subarray layout table (no geometry is read)."""
    with tables.open_file(path, mode="r") as h5:
        layout = h5.get_node(LAYOUT_TABLE).read()
    names = layout["camera_name"] if "camera_name" in layout.dtype.names else ["unknown"] * len(layout)
    return {int(t): (n.decode() if isinstance(n, bytes) else str(n)) for t, n in zip(layout["tel_id"], names, strict=True)}


def telescopes_with_events(path, spec: DataSpec) -> list[int]:
    """The telescopes of ``path`` with at least one image passing the intensity cut (and the tables to read it)."""
    data_group = "/dl1/event/telescope/images" if spec.input_type == "image" else "/r1/event/telescope"
    out = []
    with tables.open_file(path, mode="r") as h5:
        params = h5.get_node("/dl1/event/telescope/parameters")
        data = h5.get_node(data_group)
        for node in params:
            name = node._v_name
            if not name.startswith("tel_") or name not in data or node.nrows == 0:
                continue
            if (node.col("hillas_intensity") > spec.min_intensity).any():
                out.append(int(name[4:]))
    return sorted(out)


def select_telescopes(files, spec: DataSpec, strict=True) -> list[int]:
    """``spec.tel_ids`` checked against the files, or (when empty) the LSTs with events in every file.

    ``strict``: a telescope of ``spec.tel_ids`` that a file does not hold is an
    error (a typo on the command line); otherwise it counts as one without
    events (a model's telescopes applied to a smaller array).
    """
    files = [files] if isinstance(files, (str, Path)) else list(files)
    if not files:
        raise InputError("no input files given")
    selected = None
    for path in files:
        cameras = _cameras(path)
        with_events = set(telescopes_with_events(path, spec))
        if spec.tel_ids:
            unknown = [t for t in spec.tel_ids if t not in cameras]
            if unknown and strict:
                raise InputError(f"{path}: input file has no telescope {unknown[0]} (--DataSpec.tel_ids; it holds "
                                 f"{sorted(cameras)})")
            other = [t for t in spec.tel_ids if t in cameras and cameras[t] != CAMERA]
            if other:
                raise InputError(f"{path}: telescope {other[0]} has camera {cameras[other[0]]}, not {CAMERA} "
                                 "(--DataSpec.tel_ids); only LST images are supported")
            if not with_events & set(spec.tel_ids):
                raise InputError(f"{path}: no {spec.mode} examples pass the selection (none of the telescopes "
                                 f"{list(spec.tel_ids)} has an image above {spec.min_intensity} p.e.)")
            continue
        lsts = {t for t in with_events if cameras.get(t) == CAMERA}
        if not lsts:
            raise InputError(f"{path}: no {spec.mode} examples pass the selection (no LST has an image above "
                             f"{spec.min_intensity} p.e.)")
        if selected is not None and not selected & lsts:
            raise InputError(f"{path}: its LSTs with images {sorted(lsts)} share none with those of the other input "
                             f"files {sorted(selected)}")
        selected = lsts if selected is None else selected & lsts
    return sorted(spec.tel_ids) if spec.tel_ids else sorted(selected)


#: the training settings' checks live with their defaults (:class:`~reconstruction.settings.TrainSpec`)
check_settings = check_training


def check_train_output(output_dir, overwrite=False) -> Path:
    """The model folder may be new, empty, or (with ``overwrite``) a model folder; anything else is refused.

    A folder holding other files is refused even with ``overwrite``: the whole
    folder is replaced, and those files would be lost.
    """
    output_dir = Path(output_dir)
    if not output_dir.exists():
        return output_dir
    if not output_dir.is_dir():
        raise OutputError(f"{output_dir}: output must be a model folder, and this is a file")
    content = sorted(p.name for p in output_dir.iterdir())
    other = [name for name in content if name not in (MODEL_FILE, META_FILE)]
    if other:
        raise OutputError(f"{output_dir}: output folder holds other files than a model ({', '.join(other[:3])}"
                          f"{', ...' if len(other) > 3 else ''}); give a new or empty folder")
    if content and not overwrite:
        raise OutputError(f"{output_dir}: output exists (use --overwrite to replace the model)")
    return output_dir


def check_model(model_dir) -> dict:
    """A model folder written by :func:`train`, checked without loading Keras; returns its description.

    A missing folder or file, a model.json that is not valid JSON or lacks
    what prediction needs, and a model.keras that is not a complete Keras
    archive (a zip) are refused in one line naming the file (Keras itself
    says "File not found" for a damaged archive).
    """
    model_dir = Path(model_dir)
    hint = "a model folder written by reconstruction-train is needed"
    if not model_dir.exists():
        raise InputError(f"{model_dir}: model folder does not exist")
    if not model_dir.is_dir():
        raise InputError(f"{model_dir}: model must be a folder ({hint})")
    path, meta_path = model_dir / MODEL_FILE, model_dir / META_FILE
    for p in (meta_path, path):
        if not p.is_file():
            raise InputError(f"{p}: missing ({hint})")
    try:
        meta = json.loads(meta_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{meta_path}: not valid JSON ({one_line(err)})") from None
    missing = [k for k in META_KEYS if k not in meta] if isinstance(meta, dict) else list(META_KEYS)
    if missing:
        raise InputError(f"{meta_path}: not a model description (no {', '.join(missing)}; {hint})")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise InputError(f"{path}: not a Keras model archive, damaged or truncated ({one_line(err)})") from None
    if damaged is not None:
        raise InputError(f"{path}: damaged Keras model archive (bad CRC in {damaged})")
    if "config.json" not in names:
        raise InputError(f"{path}: not a Keras model archive (no config.json inside)")
    return meta


def default_output(path) -> Path:
    """``NAME.dl1.h5`` -> ``NAME.dl2.h5`` beside it (or ``.dl2.h5`` appended)."""
    path = Path(path)
    name = path.name
    return path.with_name(name.replace(".dl1.h5", ".dl2.h5") if ".dl1.h5" in name else name + ".dl2.h5")


def existing_dl2(path, prefix) -> list[str]:
    """The DL2 tables of ``prefix`` that ``path`` already holds."""
    with tables.open_file(path, mode="r") as h5:
        return [node for group in DL2_GROUPS for level in DL2_LEVELS
                if (node := f"/dl2/event/{level}/{group}/{prefix}") in h5]


def check_prediction(model_dir, input_file, output_file=None, prefix="CNN", overwrite=False, batch_size=64):
    """Everything about one prediction that can be refused without Keras; returns (meta, data spec, output file).

    The model folder (:func:`~reconstruction.train.check_model`), the input file
    (tables, camera, telescopes with events), the prefix and the output (an
    existing file, or DL2 tables of this prefix already in the input when
    writing in place, need ``overwrite``).
    """
    if not str(prefix).isidentifier():
        raise SettingError(f"--prefix must be a plain identifier (it becomes a column prefix), got {prefix!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise SettingError(f"--batch-size must be an integer at least 1, got {batch_size!r}")
    meta = check_model(model_dir)
    try:
        data = DataSpec(**meta["data"]).validate()
    except Exception as err:  # unknown or invalid settings: an edited or foreign model.json
        raise InputError(f"{Path(model_dir) / 'model.json'}: its data settings are not valid ({err})") from None
    input_file = check_file(input_file, data)
    output_file = Path(output_file) if output_file is not None else default_output(input_file)
    in_place = output_file.exists() and output_file.resolve() == input_file.resolve()
    if output_file.exists() and not in_place and not overwrite:
        raise OutputError(f"{output_file}: output exists (use --overwrite to replace it)")
    if output_file.exists() and not output_file.is_file():
        raise OutputError(f"{output_file}: output must be a file, and this is a folder")
    if in_place and not overwrite:
        held = existing_dl2(input_file, prefix)
        if held:
            raise OutputError(f"{input_file}: already holds {held[0]} (use --overwrite to replace it)")
    select_telescopes([input_file], data, strict=False)
    return meta, data, output_file


def check_dl2(path, prefix="CNN", level="subarray") -> Path:
    """Refuse, in one line naming the file, a DL2 file that cannot be evaluated (damaged, or no tables of ``prefix``)."""
    if level not in DL2_LEVELS:
        raise SettingError(f"--level must be 'subarray' or 'telescope', got {level!r}")
    nodes = [f"/dl2/event/{level}/{group}/{prefix}" for group in DL2_GROUPS] + ["/simulation/event/subarray/shower"]
    hint = f"DL2 of prefix {prefix!r} from simulated events is needed: run reconstruction-predict --prefix {prefix} first"
    try:
        check_hdf5(path, what="DL2 file", nodes=nodes, hint=hint)
    except UserError as err:
        if level == "telescope" and "has no /dl2/" in str(err):
            with tables.open_file(path, mode="r") as h5:
                if f"/dl2/event/subarray/classification/{prefix}" in h5:
                    raise InputError(f"{path}: DL2 file has array-level tables of prefix {prefix!r} only (a stereo "
                                     "model's): use --level subarray") from None
        raise InputError(str(err)) from None
    return Path(path)


def check_outputs(output_dir, label, overwrite=False) -> list[Path]:
    """The JSON and PNG of ``label`` in ``output_dir``; refused if either exists, unless ``overwrite``."""
    if not label or "/" in label or label.startswith("."):
        raise SettingError(f"--label must be a plain file name (no '/', not hidden), got {label!r}")
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputError(f"{output_dir}: output must be a folder, and this is a file")
    paths = [output_dir / f"{label}.json", output_dir / f"{label}.png"]
    for path in paths:
        if path.exists() and not overwrite:
            raise OutputError(f"{path}: output exists (use --overwrite to replace it)")
    return paths
