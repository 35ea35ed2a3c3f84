"""An isothermal exponential atmosphere, enough for shower geometry and timing.

Vertical depth X(H) = X_sea * exp(-H / h_s) with H the height above sea level.
The numbers are the textbook ones (e.g. PDG "Passage of particles through
matter", Gaisser "Cosmic rays and particle physics"): X_sea = 1030 g/cm2,
h_s = 8.4 km, sea-level density 1.225e-3 g/cm3 and refractivity n - 1 = 2.9e-4.
"""

import numpy as np

__all__ = [
    "SCALE_HEIGHT_M",
    "SEA_LEVEL_DEPTH",
    "density",
    "height_of_slant_depth",
    "mean_refractivity",
    "slant_depth",
]

SEA_LEVEL_DEPTH = 1030.0  # g / cm2
SCALE_HEIGHT_M = 8400.0
SEA_LEVEL_DENSITY = 1.225e-3  # g / cm3
SEA_LEVEL_REFRACTIVITY = 2.9e-4


def slant_depth(height_asl, cos_zenith):
    """Slant depth (g/cm2) from the top of the atmosphere to ``height_asl`` (m)."""
    return SEA_LEVEL_DEPTH * np.exp(-np.asarray(height_asl) / SCALE_HEIGHT_M) / cos_zenith


def height_of_slant_depth(depth, cos_zenith):
    """Height above sea level (m) where the slant depth reaches ``depth`` (g/cm2)."""
    return -SCALE_HEIGHT_M * np.log(np.asarray(depth) * cos_zenith / SEA_LEVEL_DEPTH)


def density(height_asl):
    """Air density (g/cm3) at ``height_asl`` (m)."""
    return SEA_LEVEL_DENSITY * np.exp(-np.asarray(height_asl) / SCALE_HEIGHT_M)


def mean_refractivity(h_low, h_high):
    """Mean of n - 1 along a straight path between heights ``h_low`` and ``h_high`` (m)."""
    h_low, h_high = np.asarray(h_low, float), np.asarray(h_high, float)
    dh = np.maximum(h_high - h_low, 1e-3)
    integral = SCALE_HEIGHT_M * (np.exp(-h_low / SCALE_HEIGHT_M) - np.exp(-h_high / SCALE_HEIGHT_M))
    return SEA_LEVEL_REFRACTIVITY * integral / dh
