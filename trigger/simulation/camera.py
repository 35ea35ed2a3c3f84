"""From photo-electrons in the camera to LST R1 waveforms.

Each p.e. (shower or night-sky background) lands in a pixel at a time, with
an amplitude drawn from the measured LST single-p.e. spectrum. Amplitudes are
histogrammed per pixel on a fine time grid and turned into samples by one
matrix product with the real reference pulse, sampled at 1.024 GHz. The
electronics add Gaussian noise; AC coupling removes the mean NSB level, as in
the R1 waveforms of sim_telarray files read by ctapipe (p.e. per sample, a
single p.e. pulse sums to about 1 over the readout window).
"""

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..instrument import LSTInstrument
from .showers import PhotonList

__all__ = ["CameraResponse", "TelescopeImage"]

FINE_BIN_NS = 0.25


@dataclass
class TelescopeImage:
    """What one telescope recorded: true image (p.e. per pixel) and R1 waveform (1, n_pix, n_samples)."""

    true_image: np.ndarray
    waveform: np.ndarray
    window_start: float  # ns, time of sample 0 on the event's clock


class CameraResponse:
    """LSTCam optics-to-R1 response.

    Parameters
    ----------
    instrument : LSTInstrument
    nsb_rate : float
        Night-sky background in p.e. per ns per pixel.
    noise_pe : float, optional
        Electronic noise per sample in p.e.; default from LSTN-01's
        ``fadc_noise / fadc_amplitude`` times the pulse peak.
    n_samples : int, optional
        Samples to simulate; default the readout's. A longer trace stands for a
        trigger that watches the signal for longer than the readout keeps.
    """

    def __init__(self, instrument: LSTInstrument, nsb_rate: float, noise_pe=None, n_samples=None):
        self.n_samples = instrument.n_samples if n_samples is None else int(n_samples)
        if self.n_samples < 1:
            raise ValueError(f"n_samples must be at least 1, got {n_samples}")
        self.sample_ns = 1.0 / instrument.sampling_rate.to_value("GHz")
        lon, lat = instrument.pixel_fov
        self.n_pixels = len(lon)
        self._tree = cKDTree(np.column_stack([lon, lat]))
        spacing = self._tree.query(np.column_stack([lon, lat]), k=2)[0][:, 1]
        self._max_distance = 0.6 * np.median(spacing)
        self.nsb_rate = float(nsb_rate)
        if not np.isfinite(self.nsb_rate) or self.nsb_rate < 0:
            raise ValueError(f"NSB rate must be a finite rate >= 0 p.e./ns, got {nsb_rate}")

        pulse, pulse_dt = instrument.reference_pulse
        self.pulse_peak_ns = float(np.argmax(pulse) * pulse_dt)
        pulse_t = np.arange(len(pulse)) * pulse_dt - self.pulse_peak_ns
        # a p.e. (time = its pulse peak) shapes the samples from `peak` ns before
        # to `tail` ns after it: the fine grid covers every p.e. that reaches the window
        self.lead_ns = float(pulse_t[-1])
        trail_ns = self.pulse_peak_ns
        n_fine = int(np.ceil((self.lead_ns + self.n_samples * self.sample_ns + trail_ns) / FINE_BIN_NS))
        self.n_fine = n_fine
        fine_t = np.arange(n_fine) * FINE_BIN_NS - self.lead_ns + FINE_BIN_NS / 2
        sample_t = (np.arange(self.n_samples) + 0.5) * self.sample_ns
        lag = sample_t[None, :] - fine_t[:, None]
        kernel = np.interp(lag, pulse_t, pulse, left=0.0, right=0.0) * self.sample_ns
        self.kernel = kernel.astype(np.float32)
        self.window_ns = n_fine * FINE_BIN_NS
        # the mean NSB level that AC coupling removes, per sample
        self.nsb_baseline = (self.nsb_rate * FINE_BIN_NS * kernel.sum(axis=0)).astype(np.float32)

        amp, prob = instrument.single_pe_spectrum
        # amplitudes in units of the mean single-p.e. charge, so that 1 p.e. is 1 on average
        self.spe_amplitudes = amp / float(np.sum(amp * prob))
        self.spe_probabilities = prob
        self._spe_cdf = np.cumsum(prob)
        if noise_pe is None:
            # fadc_amplitude is the peak of a 1 p.e. pulse in ADC counts
            ratio = instrument.setting("fadc_noise") / instrument.setting("fadc_amplitude")
            noise_pe = ratio * pulse.max() * self.sample_ns
        self.noise_pe = float(noise_pe)

    def _amplitudes(self, n, rng):
        """Single-p.e. amplitudes, normalised so their mean is 1 p.e."""
        idx = np.searchsorted(self._spe_cdf, rng.uniform(size=n) * self._spe_cdf[-1])
        return self.spe_amplitudes[np.minimum(idx, len(self.spe_amplitudes) - 1)]

    def pixel_of(self, photons: PhotonList) -> np.ndarray:
        """Pixel index of each photon, -1 outside the camera."""
        if len(photons) == 0:
            return np.empty(0, dtype=int)
        dist, idx = self._tree.query(np.column_stack([photons.lon, photons.lat]))
        return np.where(dist <= self._max_distance, idx, -1)

    def respond(self, photons: PhotonList, window_start: float, rng) -> TelescopeImage:
        """True image and R1 waveform for the photons, read out from ``window_start`` (ns)."""
        pixel = self.pixel_of(photons)
        inside = pixel >= 0
        pixel, time = pixel[inside], photons.time[inside]
        true_image = np.bincount(pixel, minlength=self.n_pixels).astype(np.int32)

        n_nsb = rng.poisson(self.nsb_rate * self.window_ns * self.n_pixels)
        nsb_pixel = rng.integers(0, self.n_pixels, n_nsb)
        nsb_bin = rng.integers(0, self.n_fine, n_nsb)

        fine = np.floor((time - window_start + self.lead_ns) / FINE_BIN_NS).astype(np.int64)
        keep = (fine >= 0) & (fine < self.n_fine)
        flat = np.concatenate([pixel[keep] * self.n_fine + fine[keep], nsb_pixel * self.n_fine + nsb_bin])
        weights = self._amplitudes(len(flat), rng)
        hist = np.bincount(flat, weights=weights, minlength=self.n_pixels * self.n_fine)
        hist = hist.reshape(self.n_pixels, self.n_fine).astype(np.float32)

        waveform = hist @ self.kernel
        waveform -= self.nsb_baseline
        waveform += rng.normal(0, self.noise_pe, waveform.shape).astype(np.float32)
        return TelescopeImage(true_image, waveform[np.newaxis].astype(np.float32), window_start)
