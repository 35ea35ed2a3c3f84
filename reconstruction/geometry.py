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

How long and how narrow each ellipse is was measured, not assumed
(:class:`DispErrors`): across the axis the miss of the true source grows as
the image gets fainter and rounder; along it, a network's disp error stops
shrinking at a floor set by the network. Each trained network measures both on
its own validation images, and the combination reads them per image.

Pure numpy, no Keras: the heads of a network can be trained on
:func:`disp_targets` and their outputs combined here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["DispErrors", "axis_unit", "combine", "combine_stereo", "disp_source", "disp_targets", "intersect_axes",
           "signed_disp"]

#: image intensity (p.e.) and width / length bins of the measured error ellipses
INTENSITY_EDGES = (50.0, 100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0)
ELONGATION_EDGES = (0.35, 0.55)
#: fewest validation images whose 68 % quantile a bin trusts; a sparser bin takes its fainter neighbour's value
MIN_IMAGES = 20
#: fewest images for one quantile over all bins, when no bin has MIN_IMAGES (a small training set)
MIN_POOLED = 5


@dataclass(frozen=True)
class DispErrors:
    """The error ellipse of one image's source estimate (degrees, 68 % quantiles), per bin of its intensity
    (``along``: the disp error) and of intensity and width / length (``across``: the miss of the true source from
    the Hillas axis), measured on gamma images the network did not train on (:meth:`measure`)."""

    along: tuple  # (len(INTENSITY_EDGES) + 1,)
    across: tuple  # (len(INTENSITY_EDGES) + 1, len(ELONGATION_EDGES) + 1)
    n_images: int

    @classmethod
    def measure(cls, cog, psi, disp, source, intensity, elongation) -> DispErrors:
        """From per-image centroids, axes, signed disp estimates, true sources, intensities and width / length."""
        u = axis_unit(psi)
        v = np.stack([-u[:, 1], u[:, 0]], axis=-1)
        offset = np.asarray(source, float) - np.asarray(cog, float)
        # the side is the stereo combination's to decide (combine_stereo): along the axis only the distance counts
        along_miss = np.abs(np.abs(np.sum(offset * u, axis=-1)) - np.abs(np.asarray(disp, float)))
        across_miss = np.abs(np.sum(offset * v, axis=-1))
        ok = np.isfinite(along_miss) & np.isfinite(across_miss)
        i_bin, e_bin = _bins(intensity, elongation)
        n_i, n_e = len(INTENSITY_EDGES) + 1, len(ELONGATION_EDGES) + 1
        along = _fill_columns([_quantiles([along_miss[ok & (i_bin == b)] for b in range(n_i)])], along_miss[ok])[0]
        across = np.array(_fill_columns([_quantiles([across_miss[ok & (i_bin == b) & (e_bin == e)] for b in range(n_i)])
                                         for e in range(n_e)], across_miss[ok])).T
        return cls(tuple(along), tuple(map(tuple, across)), int(ok.sum()))

    def sigmas(self, intensity, elongation):
        """(sigma_along, sigma_across) per image, in degrees: the error of the disp distance, and of the axis."""
        i_bin, e_bin = _bins(intensity, elongation)
        return np.asarray(self.along)[i_bin], np.asarray(self.across)[i_bin, e_bin]

    def to_dict(self) -> dict:
        return {**asdict(self), "intensity_edges": list(INTENSITY_EDGES), "elongation_edges": list(ELONGATION_EDGES)}

    @classmethod
    def from_dict(cls, d) -> DispErrors:
        if list(d["intensity_edges"]) != list(INTENSITY_EDGES) or list(d["elongation_edges"]) != list(ELONGATION_EDGES):
            raise ValueError("disp errors measured in other bins than this version's")
        return cls(tuple(d["along"]), tuple(map(tuple, d["across"])), int(d["n_images"]))


def _bins(intensity, elongation):
    intensity = np.nan_to_num(np.asarray(intensity, float), nan=0.0)
    # an image without a width / length counts as round: its axis is the least sure
    elongation = np.nan_to_num(np.asarray(elongation, float), nan=1.0, posinf=1.0)
    return np.searchsorted(INTENSITY_EDGES, intensity, side="right"), np.searchsorted(ELONGATION_EDGES, elongation,
                                                                                       side="right")


def _quantiles(samples):
    """68 % quantile per bin, fainter bins first, or None for each when no bin has enough images. A bin with too
    few images takes the previous (fainter) bin's value, the first populated one for leading empty bins (errors
    only shrink with intensity)."""
    values = [float(np.quantile(s, 0.68)) if len(s) >= MIN_IMAGES else None for s in samples]
    known = [v for v in values if v is not None]
    if not known:
        return [None] * len(values)
    last = known[0]
    out = []
    for v in values:
        last = v if v is not None else last
        out.append(last)
    return out


def _fill_columns(columns, pooled):
    """Per-bin quantiles of each width / length column; an empty column takes the nearest populated one, and with
    no populated column at all every bin takes the quantile of all images (at least MIN_POOLED of them)."""
    known = [i for i, c in enumerate(columns) if c[0] is not None]
    if not known:
        if len(pooled) < MIN_POOLED:
            raise ValueError(f"fewer than {MIN_POOLED} gamma images with a disp: no error ellipse can be measured")
        return [[float(np.quantile(pooled, 0.68))] * len(columns[0]) for _ in columns]
    return [columns[min(known, key=lambda k: abs(k - i))] for i in range(len(columns))]


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


def signed_disp(output):
    """Signed disp (deg) and the confidence ``|2p - 1|`` in its side, from a network's (|disp|, side logit)."""
    output = np.asarray(output, float)
    p = 0.5 * (1.0 + np.tanh(output[:, 1] / 2))  # the logistic function, without overflow
    return np.abs(output[:, 0]) * np.where(p >= 0.5, 1.0, -1.0), np.abs(2 * p - 1)


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


def combine_stereo(cog, psi, disp, event, sigma_along, sigma_across, outlier=2.0, iterations=2):
    """The array's direction from per-image disp estimates, with the side of each taken from the other images.

    A network's side (head or tail) is its least sure output, and one wrong
    side moves the least-squares point by twice the disp. Where the axes of an
    event fix a point (:func:`intersect_axes`), each image takes the side
    nearer to it, as LST and MAGIC's stereo disp methods do; events the axes
    do not fix (one image, parallel axes) keep the network's sides. Then, for
    ``iterations`` rounds, an image whose disp point lies more than
    ``outlier`` sigmas along its axis from the current point has its
    ``sigma_along`` widened by that factor (Huber weights): a disp the other
    images contradict counts less, its axis as much as before.
    """
    cog = np.asarray(cog, float).reshape(-1, 2)
    disp = np.asarray(disp, float)
    sigma_along = np.broadcast_to(np.asarray(sigma_along, float), disp.shape)
    sigma_across = np.broadcast_to(np.asarray(sigma_across, float), disp.shape)
    _, index = np.unique(np.asarray(event), return_inverse=True)
    index = index.ravel()
    u = axis_unit(np.broadcast_to(_radians(psi), disp.shape))
    axes = combine(cog, psi, np.zeros_like(disp), event=index, sigma_along=np.full(disp.shape, np.inf),
                   sigma_across=sigma_across)
    point = np.where(np.isfinite(axes), axes, combine(cog, psi, disp, event=index, sigma_along=sigma_along,
                                                       sigma_across=sigma_across))
    position = np.sum((point[index] - cog) * u, axis=-1)  # where the point lies along each image's axis
    fixed = np.isfinite(axes[index, 0])
    disp = np.where(fixed & (np.abs(position + disp) < np.abs(position - disp)), -disp, disp)
    along = sigma_along
    for _ in range(iterations):
        point = combine(cog, psi, disp, event=index, sigma_along=along, sigma_across=sigma_across)
        pull = np.abs(np.sum((point[index] - cog) * u, axis=-1) - disp) / sigma_along
        along = sigma_along * np.where(pull > outlier, pull / outlier, 1.0)
    return combine(cog, psi, disp, event=index, sigma_along=along, sigma_across=sigma_across)
