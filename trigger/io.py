"""Writing events into ctapipe HDF5 files, the one file format of the project.

Simulated and real (sim_telarray) events go through the same ctapipe chain:
R1 waveforms -> CameraCalibrator (DL1 images) -> ImageProcessor (cleaning,
Hillas and friends, true-image parameters) -> DataWriter. Outputs are written
under a temporary name and renamed at the end, so an interrupted run never
leaves a half-written file behind.
"""

import copy
from pathlib import Path

import numpy as np
from ctapipe import fitting
from ctapipe.calib import CameraCalibrator
from ctapipe.core import Provenance
from ctapipe.image import ImageProcessor
from ctapipe.instrument import SizeType
from ctapipe.io import DataWriter, EventSource
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from lstcommon.files import OutputError, atomic_output

__all__ = ["OutputError", "atomic_output", "process_events", "convert_simtel", "reseed_fits", "WRITER_CONFIG"]

# R1 waveforms are stored as int32 in units of 0.01 p.e. (ctapipe's column
# transform, undone by ctapipe's and dl1-data-handler's readers): a resolution
# far below the electronic noise, and a 4-5x smaller file than float32.
# zstd level 1 writes 3x faster than ctapipe's default level 5 for files only
# ~13% larger (measured on NSB windows).
WRITER_CONFIG = dict(
    compression_level=1,
    write_r1_waveforms=True,
    write_dl1_images=True,
    write_dl1_parameters=True,
    transform_waveform=True,
    waveform_dtype="int32",
    waveform_scale=100.0,
    waveform_offset=0,
)


def process_events(source: EventSource, output_path, overwrite=False, progress=True, parent=None):
    """Calibrate, parametrise and write all events of ``source`` to ``output_path``.

    Returns a dict with the number of array events and telescope events written.
    """
    subarray = source.subarray
    calibrator = CameraCalibrator(subarray=subarray, parent=parent)
    image_processor = ImageProcessor(subarray=subarray, parent=parent)
    n_events = n_tel_events = 0
    provenance = Provenance()
    # a ctapipe Tool has an activity open; library callers get one here
    own_activity = provenance.current_activity is None
    if own_activity:
        provenance.start_activity(f"process_events {Path(output_path).name}")
    try:
        # BLAS in one thread: a float32 product's rounding depends on how many threads share it (the toy
        # camera's waveforms, hist @ kernel), and a file must not depend on the machine's cores; a sharded run's
        # workers have one thread each and write the file of one process
        with (threadpool_limits(limits=1, user_api="blas"), atomic_output(output_path, overwrite=overwrite) as tmp):
            with DataWriter(event_source=source, output_path=tmp, overwrite=True, parent=parent, **WRITER_CONFIG) as writer:
                total = getattr(source, "n_events", None)
                for event in tqdm(source, total=total, disable=not progress, unit="ev", desc=Path(output_path).name):
                    calibrator(event)
                    reseed_fits(event)
                    image_processor(event)
                    writer(event)
                    n_events += 1
                    n_tel_events += len(event.trigger.tels_with_trigger)
                distributions = source.simulated_shower_distributions if source.is_simulation else {}
                if distributions:
                    writer.write_simulated_shower_distributions(distributions)
    except BaseException:
        if own_activity:
            provenance.finish_activity(status="error", exit_code=1)
        raise
    if own_activity:
        provenance.finish_activity()
    return {"events": n_events, "telescope_events": n_tel_events}


def reseed_fits(event):
    """Key the random draws of ctapipe's timing fit to the event, so that its parameters depend on nothing else.

    ctapipe's robust timing fit (``lts_linear_regression``) starts from random
    pairs of pixels drawn from one generator per process (``FIT_RNG``), so an
    image's timing parameters depended on every image fitted before it in the
    process: on the particles simulated before in the same command, and on
    where a shard of the run starts. Reset from (obs_id, event_id) before each
    event, the same event gets the same fit in one process or in any shard.
    """
    fitting.FIT_RNG.bit_generator.state = np.random.PCG64(
        [int(event.index.obs_id), int(event.index.event_id)]).state


def lst_tel_ids(subarray):
    """Telescope ids of the LSTs in a subarray (NectarCam has 1855 pixels too: check the size type)."""
    return [
        tel_id
        for tel_id, tel in subarray.tel.items()
        if tel.optics.size_type == SizeType.LST and tel.camera.geometry.n_pixels == 1855
    ]


def _open_simtel(input_path, parent=None, **kwargs):
    """SimTelEventSource with the effective focal length, or the equivalent one for older files."""
    from ctapipe.io import SimTelEventSource

    try:
        return SimTelEventSource(input_path, focal_length_choice="EFFECTIVE", parent=parent, **kwargs)
    except RuntimeError:
        return SimTelEventSource(input_path, focal_length_choice="EQUIVALENT", parent=parent, **kwargs)


def _use_project_camera(subarray, tel_ids, instrument):
    """Give the LSTs of a sim_telarray file the project's LSTCam geometry.

    ctapipe builds the camera from sim_telarray's pixel table, with model
    dependent names (LSTN-design, LSTS-design) and a pixel rotation of 40.89
    deg, where LSTCam.camgeom says 100.89 deg (the same hexagons: 60 deg
    apart). Image mappers would then grid real and simulated images
    differently. After checking that the pixels are the same, the real file
    gets the project's geometry, keeping its own focal length.
    """
    reference = instrument.geometry
    for tel_id in tel_ids:
        camera = subarray.tel[tel_id].camera
        geom = camera.geometry
        offset = np.hypot(
            (geom.pix_x - reference.pix_x).to_value("m"), (geom.pix_y - reference.pix_y).to_value("m")
        )
        if offset.max() > 1e-4:
            raise ValueError(
                f"telescope {tel_id}: camera {geom.name} differs from LSTCam by up to {offset.max() * 1e3:.2f} mm"
            )
        replacement = copy.deepcopy(reference)
        replacement.frame = geom.frame
        camera.geometry = replacement
        camera.name = reference.name


def convert_simtel(input_path, output_path, overwrite=False, progress=True, max_events=None, data_path=None, parent=None):
    """Process a real sim_telarray file into the project's HDF5 format (LSTs only).

    The file is read with ctapipe's SimTelEventSource and goes through
    :func:`process_events` like the simulated events. The LST cameras are
    given the project's LSTCam geometry (see :func:`_use_project_camera`).
    """
    from .instrument import LSTInstrument

    input_path = Path(input_path)
    if not input_path.is_file():
        raise FileNotFoundError(f"sim_telarray file {str(input_path)!r} does not exist")
    try:
        probe = _open_simtel(input_path, parent=parent, max_events=1)
    except Exception as err:
        raise ValueError(f"cannot read {str(input_path)!r} as a sim_telarray file: {err}") from err
    lsts = lst_tel_ids(probe.subarray)
    probe.close()
    if not lsts:
        raise ValueError(f"{str(input_path)!r} holds no LST")
    source = _open_simtel(input_path, parent=parent, allowed_tels=set(lsts), max_events=max_events)
    _use_project_camera(source.subarray, lsts, LSTInstrument(data_path))
    with source:
        return process_events(source, output_path, overwrite=overwrite, progress=progress, parent=parent)
