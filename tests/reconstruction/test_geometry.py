"""The geometry of image axes: disp targets, the source a disp gives, and the weighted intersection of axes."""

import astropy.units as u
import numpy as np
import pytest

from reconstruction.geometry import (
    ELONGATION_EDGES,
    INTENSITY_EDGES,
    MIN_IMAGES,
    MIN_POOLED,
    DispErrors,
    combine,
    combine_stereo,
    disp_source,
    disp_targets,
    intersect_axes,
)


def _axes_through(source, n, rng):
    """``n`` image centroids around ``source`` and the angles of axes through it, each flipped by pi or not (an
    axis has no direction)."""
    cog = source + rng.uniform(-1.5, 1.5, (n, 2))
    to_source = source - cog
    psi = np.arctan2(to_source[:, 1], to_source[:, 0]) + np.pi * rng.integers(0, 2, n)
    return cog, psi


def test_axes_through_a_known_source_intersect_at_it():
    rng = np.random.default_rng(1)
    sources = np.array([[0.3, -0.2], [-0.7, 0.5], [0.0, 0.0]])
    cogs, psis, events = [], [], []
    for k, (source, n) in enumerate(zip(sources, (2, 3, 4), strict=True)):
        cog, psi = _axes_through(source, n, rng)
        cogs.append(cog)
        psis.append(psi)
        events.append(np.full(n, 10 + 5 * k))  # event labels need not be 0..n-1
    cog, psi, event = np.concatenate(cogs), np.concatenate(psis), np.concatenate(events)
    np.testing.assert_allclose(intersect_axes(cog, psi, event=event), sources, atol=1e-9)
    # any positive weights: exact axes meet at one point whatever their weights
    np.testing.assert_allclose(intersect_axes(cog, psi, weights=rng.uniform(0.1, 10, len(cog)), event=event), sources,
                               atol=1e-9)
    # astropy angles are taken too
    np.testing.assert_allclose(intersect_axes(cog, np.rad2deg(psi) * u.deg, event=event), sources, atol=1e-9)


def test_intersection_is_the_least_squares_point_of_noisy_axes():
    """With noisy axes the result minimises the weighted squared perpendicular distances: no other point does
    better."""
    rng = np.random.default_rng(2)
    cog, psi = _axes_through(np.array([0.4, 0.1]), 5, rng)
    psi = psi + rng.normal(0, 0.05, len(psi))
    w = rng.uniform(0.5, 2, len(psi))
    x = intersect_axes(cog, psi, weights=w)[0]

    def cost(p):
        return np.sum(w * disp_targets(cog, psi, np.broadcast_to(p, cog.shape))[1] ** 2)

    assert np.linalg.norm(x - [0.4, 0.1]) < 0.2
    for step in rng.normal(0, 0.01, (50, 2)):
        assert cost(x) <= cost(x + step)


def test_one_image_or_parallel_axes_fix_no_point():
    cog = np.array([[0.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    psi = np.array([0.3, 0.3, 1.0])
    out = intersect_axes(cog, psi, event=np.array([0, 0, 1]))
    assert np.isnan(out).all()  # event 0: parallel axes; event 1: a single image


def test_disp_targets_and_source_round_trip():
    rng = np.random.default_rng(3)
    cog = rng.uniform(-1, 1, (20, 2))
    psi = rng.uniform(-np.pi, np.pi, 20)
    disp = rng.uniform(-1.5, 1.5, 20)
    source = disp_source(cog, psi, disp)
    got, miss = disp_targets(cog, psi, source)
    np.testing.assert_allclose(got, disp, atol=1e-12)
    np.testing.assert_allclose(miss, 0, atol=1e-12)
    # flipping the axis by pi flips the sign of disp, not the source
    np.testing.assert_allclose(disp_source(cog, psi + np.pi, -disp), source, atol=1e-12)
    # a point off the axis: its distance from the axis is the miss
    off = source + 0.25 * np.stack([-np.sin(psi), np.cos(psi)], axis=1)
    np.testing.assert_allclose(disp_targets(cog, psi, off)[1], 0.25, atol=1e-12)
    np.testing.assert_allclose(disp_targets(cog, psi, off)[0], disp, atol=1e-12)


def test_combine_between_intersection_and_mean_of_disp_points():
    rng = np.random.default_rng(4)
    cog, psi = _axes_through(np.array([-0.2, 0.3]), 3, rng)
    psi = psi + rng.normal(0, 0.03, 3)
    disp = disp_targets(cog, psi, np.broadcast_to([-0.2, 0.3], cog.shape))[0] + rng.normal(0, 0.2, 3)
    w = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(combine(cog, psi, disp, weights=w, sigma_along=np.inf),
                               intersect_axes(cog, psi, weights=w), atol=1e-12)
    points = disp_source(cog, psi, disp)
    np.testing.assert_allclose(combine(cog, psi, disp, weights=w, sigma_along=1.0, sigma_across=1.0)[0],
                               np.average(points, axis=0, weights=w), atol=1e-12)
    # one image: its disp point, which the axis alone cannot give
    np.testing.assert_allclose(combine(cog[:1], psi[:1], disp[:1], sigma_along=0.3, sigma_across=0.05)[0], points[0],
                               atol=1e-12)


def test_hillas_axes_of_simulated_gammas_point_to_the_source(simulated):
    """The conventions (ctapipe's hillas_psi, TelescopeFrame offsets) on real ctapipe files: the true source lies
    close to each bright gamma image's axis, and the axes intersect near it."""
    from astropy.coordinates import AltAz, SkyCoord
    from ctapipe.coordinates import TelescopeFrame
    from ctapipe.io import TableLoader

    with TableLoader(simulated["gamma"]) as loader:
        t = loader.read_telescope_events(dl1_parameters=True, simulated=True, pointing=True)
    t = t[(t["hillas_intensity"] > 50) & np.isfinite(t["hillas_psi"])]

    def q(name):
        return u.Quantity(t[name])

    pointing = AltAz(alt=q("telescope_pointing_altitude"), az=q("telescope_pointing_azimuth"))
    true = SkyCoord(alt=q("true_alt"), az=q("true_az"), frame=AltAz()).transform_to(
        TelescopeFrame(telescope_pointing=pointing))
    source = np.stack([true.fov_lon.to_value(u.deg), true.fov_lat.to_value(u.deg)], axis=1)
    cog = np.stack([q("hillas_fov_lon").to_value(u.deg), q("hillas_fov_lat").to_value(u.deg)], axis=1)
    assert len(t) > 50

    _, miss = disp_targets(cog, q("hillas_psi"), source)
    _, miss_random = disp_targets(cog, np.random.default_rng(0).uniform(0, np.pi, len(t)), source)
    assert np.median(miss) < 0.1 * np.median(miss_random)  # measured: 0.03 deg against 0.56 deg

    _, event = np.unique(np.stack([t["obs_id"], t["event_id"]], axis=1), axis=0, return_inverse=True)
    x = intersect_axes(cog, q("hillas_psi"), weights=np.asarray(t["hillas_intensity"]), event=event)
    _, first = np.unique(event, return_index=True)
    error = np.hypot(*(x - source[first]).T)
    found = np.isfinite(error)
    assert found.sum() >= 20
    # measured 0.13 deg, as ctapipe's HillasReconstructor on the quick-start set; the images' centroids lie ~1 deg
    # from the source (median |disp|), so the axes, not the centroids, place it
    assert np.percentile(error[found], 68) < 0.25
    assert np.median(np.hypot(*(cog - source).T)) > 0.5


def test_disp_errors_are_the_measured_quantiles_per_bin():
    """Known errors in, the same 68 % quantiles out: along the axis the distance error (not the side), across it
    the miss of the source from the axis; a bin with too few images takes its fainter neighbour's value."""
    rng = np.random.default_rng(5)
    n = 4000
    intensity = rng.choice([70.0, 300.0, 5000.0], n)
    elongation = rng.choice([0.2, 0.7], n)
    cog = rng.uniform(-1, 1, (n, 2))
    psi = rng.uniform(-np.pi, np.pi, n)
    true_disp = rng.uniform(0.3, 1.5, n) * rng.choice([-1, 1], n)
    sigma_along = np.where(intensity > 1000, 0.05, 0.2)
    sigma_across = 0.5 / np.sqrt(intensity) * np.where(elongation > 0.5, 2.0, 1.0)
    u_ = np.stack([np.cos(psi), np.sin(psi)], 1)
    v_ = np.stack([-u_[:, 1], u_[:, 0]], 1)
    source = cog + true_disp[:, None] * u_ + rng.normal(0, 1, n)[:, None] * sigma_across[:, None] * v_
    # a network's disp: the right distance within its error, and the wrong side a third of the time
    disp = (np.abs(true_disp) + rng.normal(0, 1, n) * sigma_along) * np.sign(true_disp) * rng.choice([1, 1, -1], n)
    errors = DispErrors.measure(cog, psi, disp, source, intensity, elongation)
    along, across = errors.sigmas(intensity, elongation)
    gauss68 = 0.994  # the 68 % quantile of |x| for a unit normal
    for value in (70.0, 300.0, 5000.0):
        for e in (0.2, 0.7):
            sel = (intensity == value) & (elongation == e)
            assert along[sel][0] == pytest.approx(gauss68 * sigma_along[sel][0], rel=0.15)
            assert across[sel][0] == pytest.approx(gauss68 * sigma_across[sel][0], rel=0.15)
    # the 100-200 p.e. bin has no images: it takes the 50-100 p.e. bin's errors
    a, c = errors.sigmas(np.array([150.0, 70.0]), np.array([0.2, 0.2]))
    assert a[0] == a[1] and c[0] == c[1]
    assert DispErrors.from_dict(errors.to_dict()) == errors
    assert len(errors.along) == len(INTENSITY_EDGES) + 1
    assert np.shape(errors.across) == (len(INTENSITY_EDGES) + 1, len(ELONGATION_EDGES) + 1)
    # the 0.35-0.55 width / length column is empty: it takes its nearest neighbour's
    assert errors.sigmas(np.array([300.0]), np.array([0.4]))[1][0] == across[(intensity == 300) & (elongation == 0.2)][0]
    # too few images for any bin: one quantile of them all; too few for that: no ellipse at all
    few = DispErrors.measure(cog[:MIN_IMAGES], psi[:MIN_IMAGES], disp[:MIN_IMAGES], source[:MIN_IMAGES],
                             np.linspace(60, 6000, MIN_IMAGES), elongation[:MIN_IMAGES])
    assert len(set(few.along)) == 1 and len({c for row in few.across for c in row}) == 1
    with pytest.raises(ValueError, match="fewer than"):
        DispErrors.measure(cog[:MIN_POOLED - 1], psi[:MIN_POOLED - 1], disp[:MIN_POOLED - 1], source[:MIN_POOLED - 1],
                           intensity[:MIN_POOLED - 1], elongation[:MIN_POOLED - 1])


def test_stereo_combination_takes_the_side_from_the_other_axes():
    """Three images of one shower, one with its disp on the wrong side: the stereo combination puts the source back
    where the axes meet, where the plain weighted combination is pulled away; one image alone keeps its side."""
    rng = np.random.default_rng(6)
    source = np.array([0.2, -0.1])
    cog, psi = _axes_through(source, 3, rng)
    disp = disp_targets(cog, psi, np.broadcast_to(source, cog.shape))[0]
    disp[0] = -disp[0]
    along, across = np.full(3, 0.15), np.full(3, 0.1)  # faint images: the disp points count
    event = np.zeros(3, int)
    plain = combine(cog, psi, disp, event=event, sigma_along=along, sigma_across=across)[0]
    stereo = combine_stereo(cog, psi, disp, event, along, across)[0]
    assert np.hypot(*(plain - source)) > 0.05
    np.testing.assert_allclose(stereo, source, atol=1e-9)
    # a disp the other images contradict by far less than a side (too long by 5 sigmas) counts less
    disp = disp_targets(cog, psi, np.broadcast_to(source, cog.shape))[0]
    psi = psi + rng.normal(0, 0.01, 3)
    long = disp.copy()
    long[1] += 5 * 0.15 * np.sign(long[1])
    robust = combine_stereo(cog, psi, long, event, along, across)[0]
    weighted = combine(cog, psi, long, event=event, sigma_along=along, sigma_across=across)[0]
    assert np.hypot(*(robust - source)) < np.hypot(*(weighted - source))
    # a lone image: no other axis to ask, its own side stays
    one = combine_stereo(cog[:1], psi[:1], -disp[:1], np.zeros(1, int), along[:1], across[:1])[0]
    np.testing.assert_allclose(one, disp_source(cog[:1], psi[:1], -disp[:1])[0], atol=1e-12)
