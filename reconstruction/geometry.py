"""Arrival directions from image axes: the "disp" method of LST's standard analysis and the weighted
intersection of image axes across telescopes.

Positions are field-of-view offsets ``(fov_lon, fov_lat)`` in degrees, in the
frame of the images' Hillas parameters (ctapipe's ``TelescopeFrame``; with the
parallel pointing of the simulated arrays it is the nominal frame of the array
pointing that :mod:`reconstruction.predict` converts back to alt/az). ``psi``
is ctapipe's ``hillas_psi``: the angle of the image's major axis from the
``fov_lon`` axis.

A gamma's image points back to the source: the source lies on the image's
major axis, at a distance ``|disp|`` from its centroid, on the side the sign of
``disp`` says (head or tail). One telescope gives the axis well and ``disp``
poorly; several telescopes give the source as the intersection of their axes.
:func:`combine` does both at once: each telescope's estimate ``cog + disp * u``
is weighted by an error ellipse that is long along its axis
(``sigma_along``, the disp error) and narrow across it (``sigma_across``, the
axis error), and the weighted least-squares point of all of them is the
array's direction. With ``sigma_along`` large it is the plain intersection of
the axes (:func:`intersect_axes`), with equal sigmas the mean of the per-image
disp estimates.

Pure numpy, no Keras: the heads of a network can be trained on
:func:`disp_targets` and their outputs combined here.
"""

from __future__ import annotations

import numpy as np

__all__ = ["axis_unit", "combine", "disp_source", "disp_targets", "intersect_axes"]


def axis_unit(psi) -> np.ndarray:
    """Unit vectors (n, 2) along the image axes of angles ``psi`` (radians, or an astropy angle)."""
    psi = _radians(psi)
    return np.stack([np.cos(psi), np.sin(psi)], axis=-1)


def disp_targets(cog, psi, source):
    """The signed distance along the axis from the centroid to the source (deg), and the source's distance from
    the axis (deg, the part no disp can reach).

    ``cog`` and ``source``: (n, 2) offsets in degrees; ``psi``: (n,) axis angles.
    A positive disp means the source lies in the direction ``psi`` from the
    centroid, a negative one in the opposite direction.
    """
    cog, source = np.asarray(cog, float), np.asarray(source, float)
    u = axis_unit(psi)
    d = source - cog
    disp = np.sum(d * u, axis=-1)
    miss = np.abs(d[..., 0] * u[..., 1] - d[..., 1] * u[..., 0])
    return disp, miss


def disp_source(cog, psi, disp) -> np.ndarray:
    """The source position (n, 2) that a signed ``disp`` (deg) along the axis ``psi`` from ``cog`` gives."""
    return np.asarray(cog, float) + np.asarray(disp, float)[..., None] * axis_unit(psi)


def intersect_axes(cog, psi, weights=None, event=None):
    """The weighted least-squares intersection of image axes, per array event.

    Minimises the weighted sum of squared perpendicular distances to the axes
    (a line through each ``cog`` along ``psi``). ``event``: (n,) array-event
    index of each image (default: all one event). Returns (events, 2); NaN for
    an event whose axes do not fix a point (one image, or parallel axes).
    """
    cog = np.asarray(cog, float)
    ones = np.ones(len(cog))
    return combine(cog, psi, np.zeros(len(cog)), weights=weights, event=event, sigma_along=np.inf * ones,
                   sigma_across=ones)


def combine(cog, psi, disp, weights=None, event=None, sigma_along=1.0, sigma_across=1.0, min_det=1e-9):
    """The array's direction from per-image disp estimates, weighted by their error ellipses; (events, 2).

    Each image ``i`` gives ``s_i = cog_i + disp_i * u_i`` with an error
    ``sigma_along`` along its axis ``u_i`` and ``sigma_across`` across it; the
    result minimises ``sum_i w_i (x - s_i)^T C_i^-1 (x - s_i)`` with
    ``C_i^-1 = u u^T / sigma_along^2 + v v^T / sigma_across^2``. Scalars or
    (n,) arrays; ``sigma_along=inf`` drops the disp and leaves the axis
    intersection. An event whose weighted ellipses do not fix a point
    (determinant below ``min_det`` of its largest possible value) is NaN.
    """
    cog = np.asarray(cog, float).reshape(-1, 2)
    n = len(cog)
    u = axis_unit(np.broadcast_to(_radians(psi), (n,)))
    v = np.stack([-u[:, 1], u[:, 0]], axis=-1)
    source = cog + np.broadcast_to(np.asarray(disp, float), (n,))[:, None] * u
    w = np.ones(n) if weights is None else np.broadcast_to(np.asarray(weights, float), (n,))
    along = 1.0 / np.broadcast_to(np.asarray(sigma_along, float), (n,)) ** 2
    across = 1.0 / np.broadcast_to(np.asarray(sigma_across, float), (n,)) ** 2
    precision = w[:, None, None] * (along[:, None, None] * u[:, :, None] * u[:, None, :]
                                    + across[:, None, None] * v[:, :, None] * v[:, None, :])
    event = np.zeros(n, dtype=int) if event is None else np.asarray(event)
    _, index = np.unique(event, return_inverse=True)
    n_events = index.max() + 1 if n else 0
    a = np.zeros((n_events, 2, 2))
    b = np.zeros((n_events, 2))
    np.add.at(a, index, precision)
    np.add.at(b, index, np.einsum("nij,nj->ni", precision, source))
    # how much the ellipses could at most fix: the determinant if they were all circles of the larger precision
    scale = np.zeros(n_events)
    np.add.at(scale, index, w * np.maximum(along, across))
    det = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
    fixed = det > min_det * scale**2
    out = np.full((n_events, 2), np.nan)
    out[fixed] = np.linalg.solve(a[fixed], b[fixed][..., None])[..., 0]
    return out


def _radians(psi):
    return np.asarray(psi.to_value("rad") if hasattr(psi, "to_value") else psi, dtype=float)
