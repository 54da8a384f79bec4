"""HDBSCAN hotspots on seeded blobs and Gi* on grids with known answers."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
import shapely
from scipy import stats

from cso_geo import clusters

# --------------------------------------------------------------------------- #
# HDBSCAN
# --------------------------------------------------------------------------- #
CENTRES = ((0.0, 0.0), (1500.0, 0.0), (0.0, 1500.0))
SIZES = (300, 200, 100)


def _blobs(seed: int = 42) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Three Gaussian blobs (sd 40 m) plus 150 uniform noise points; truth -1 = noise."""
    rng = np.random.default_rng(seed)
    parts = [rng.normal(c, 40.0, size=(m, 2)) for c, m in zip(CENTRES, SIZES, strict=True)]
    parts.append(rng.uniform(-750.0, 2250.0, size=(150, 2)))
    truth = np.concatenate([np.repeat(np.arange(3), SIZES), np.full(150, -1)])
    pts = np.vstack(parts)
    perm = rng.permutation(len(pts))  # input order must not matter for the test's truth
    return pts[perm], truth[perm]


@pytest.fixture(scope="module")
def blobs() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    return _blobs()


def _check_three_blobs(
    result: clusters.ClusterResult, pts: npt.NDArray[np.float64], truth: npt.NDArray[np.int64]
) -> None:
    poly = result.polygons
    assert list(poly.columns) == list(clusters.CLUSTER_COLUMNS)
    assert poly.crs is None
    assert len(poly) == 3
    assert poly["cluster_id"].tolist() == [0, 1, 2]
    for row, size in zip(poly.itertuples(), SIZES, strict=True):
        assert abs(row.members - size) <= 0.1 * size
    assert poly["members"].tolist() == [int((result.labels == c).sum()) for c in range(3)]
    # the biggest cluster is the 300-point blob, and so on
    for cid, centre in enumerate(CENTRES):
        assert poly.geometry.iloc[cid].contains(shapely.Point(centre))
        inside = shapely.contains_xy(
            poly.geometry.iloc[cid], pts[truth == cid, 0], pts[truth == cid, 1]
        )
        assert inside.mean() >= 0.95
    geoms = poly.geometry.to_list()
    for i in range(3):
        for j in range(i + 1, 3):
            assert not geoms[i].intersects(geoms[j])
    assert np.allclose(poly["area_m2"], shapely.area(geoms))
    assert poly["weight"].tolist() == poly["members"].astype(float).tolist()


def test_three_blobs(blobs: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]) -> None:
    pts, truth = blobs
    result = clusters.hdbscan_hotspots(pts[:, 0], pts[:, 1])
    _check_three_blobs(result, pts, truth)
    assert result.polygons.attrs["subsampled"] is False
    assert result.labels.shape == (len(pts),)
    assert result.polygons.attrs["n_noise"] == int((result.labels == -1).sum())
    # no blob is split or merged; HDBSCAN absorbs some nearby background points
    for cid in range(3):
        assert set(truth[result.labels == cid]) == {cid, -1}
        assert (result.labels[truth == cid] == cid).mean() >= 0.95


def test_weights_only_sum(blobs: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]) -> None:
    pts, _ = blobs
    minutes = np.where(pts[:, 0] > 750, 30.0, 10.0)  # the 200-point blob is costlier
    plain = clusters.hdbscan_hotspots(pts[:, 0], pts[:, 1])
    weighted = clusters.hdbscan_hotspots(pts[:, 0], pts[:, 1], weights=minutes)
    np.testing.assert_array_equal(plain.labels, weighted.labels)
    expected = [minutes[weighted.labels == c].sum() for c in range(3)]
    assert weighted.polygons["weight"].tolist() == pytest.approx(expected)
    assert weighted.polygons["weight"].iloc[1] == pytest.approx(
        30.0 * weighted.polygons["members"].iloc[1]
    )


def test_same_seed_same_output(
    blobs: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]],
) -> None:
    pts, _ = blobs
    runs = [
        clusters.hdbscan_hotspots(pts[:, 0], pts[:, 1], max_points=450, seed=7) for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].labels, runs[1].labels)
    assert runs[0].polygons.to_wkb().equals(runs[1].polygons.to_wkb())
    other = clusters.hdbscan_hotspots(pts[:, 0], pts[:, 1], max_points=450, seed=8)
    assert not np.array_equal(runs[0].labels, other.labels)  # the seed does drive the sample


def test_subsample_finds_same_clusters(
    blobs: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]],
) -> None:
    pts, truth = blobs
    full = clusters.hdbscan_hotspots(pts[:, 0], pts[:, 1])
    sub = clusters.hdbscan_hotspots(pts[:, 0], pts[:, 1], max_points=400, seed=3)
    assert sub.polygons.attrs["subsampled"] is True
    assert sub.polygons.attrs["sample_size"] == 400
    _check_three_blobs(sub, pts, truth)
    # points outside the sample were assigned: labels agree with the full run almost everywhere
    assert (sub.labels == full.labels).mean() >= 0.95


def test_small_sample_warns_and_keeps_big_clusters() -> None:
    rng = np.random.default_rng(11)
    big = rng.normal((0.0, 0.0), 30.0, size=(2000, 2))
    small = rng.normal((3000.0, 0.0), 10.0, size=(30, 2))  # 30 incidents: 2.6 in the sample
    noise = rng.uniform(-1000.0, 4000.0, size=(300, 2))
    pts = np.vstack([big, small, noise])
    with pytest.warns(UserWarning, match=r"only resolves clusters of about 58\+ incidents"):
        result = clusters.hdbscan_hotspots(pts[:, 0], pts[:, 1], max_points=200, seed=0)
    assert result.polygons.attrs["subsampled"] is True
    assert result.polygons.geometry.iloc[0].contains(shapely.Point(0.0, 0.0))
    assert (result.labels[:2000] == 0).mean() >= 0.99
    # the 30-incident blob is below what the sample resolves: not a cluster of its own
    small_labels = result.labels[2000:2030]
    for cid in set(small_labels[small_labels >= 0].tolist()):
        assert (small_labels == cid).sum() < 0.5 * (result.labels == cid).sum()


def test_ties_order_by_weight_then_x() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal((0.0, 0.0), 20.0, size=(40, 2))
    b = a + np.array([1000.0, 0.0])
    c = a - np.array([1000.0, 0.0])
    pts = np.vstack([a, b, c])
    w = np.concatenate([np.ones(40), np.ones(40), np.full(40, 2.0)])
    result = clusters.hdbscan_hotspots(pts[:, 0], pts[:, 1], weights=w, min_cluster_size=10)
    cx = result.polygons.geometry.centroid.x.round(-2).tolist()
    assert result.polygons["members"].tolist() == [40, 40, 40]
    assert cx == [-1000.0, 0.0, 1000.0]  # heavier first, then smaller x


def test_stacked_points_get_buffered_disc() -> None:
    # block-level geocoding stacks incidents on one intersection
    x = np.concatenate([np.full(30, 100.0), np.full(30, 5000.0), [100.0, 5000.0] * 10])
    y = np.concatenate([np.full(30, 200.0), np.full(30, 200.0), [200.0, 200.0] * 10])
    result = clusters.hdbscan_hotspots(x, y, buffer_m=25.0)
    assert result.polygons["members"].tolist() == [40, 40]
    assert result.polygons["area_m2"].to_numpy() == pytest.approx(np.pi * 25.0**2, rel=0.02)


@pytest.mark.parametrize("n", [0, 1, 24])
def test_too_few_points_give_empty_frame(n: int) -> None:
    rng = np.random.default_rng(0)
    result = clusters.hdbscan_hotspots(rng.normal(size=n), rng.normal(size=n))
    assert list(result.polygons.columns) == list(clusters.CLUSTER_COLUMNS)
    assert len(result.polygons) == 0
    assert result.polygons["members"].dtype == np.int64
    assert result.polygons.crs is None
    assert result.labels.tolist() == [-1] * n
    assert result.polygons.attrs["subsampled"] is False
    assert result.polygons.attrs["sample_size"] == 0


def test_nan_coordinates_rejected() -> None:
    x = np.arange(50.0)
    y = np.arange(50.0)
    x[[3, 9]] = np.nan
    y[20] = np.inf
    with pytest.raises(ValueError, match=r"3 of 50 rows have NaN or infinite coordinates.*row 3"):
        clusters.hdbscan_hotspots(x, y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_cluster_size": 1}, "min_cluster_size must be at least 2"),
        ({"buffer_m": 0.0}, "buffer_m must be a positive"),
        ({"max_points": 10}, "max_points"),
        ({"weights": -np.ones(50)}, "weights are NaN, infinite or negative"),
        ({"weights": np.ones(3)}, "weights has 3 values for 50 points"),
    ],
)
def test_bad_options_rejected(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        clusters.hdbscan_hotspots(np.arange(50.0), np.arange(50.0), **kwargs)  # type: ignore[arg-type]


def test_non_integer_cluster_size_rejected() -> None:
    with pytest.raises(TypeError, match="min_cluster_size must be an integer"):
        clusters.hdbscan_hotspots(np.arange(50.0), np.arange(50.0), min_cluster_size=2.5)  # type: ignore[arg-type]


def test_length_mismatch_rejected() -> None:
    with pytest.raises(ValueError, match="x has 5 values but y has 4"):
        clusters.hdbscan_hotspots(np.zeros(5), np.zeros(4))


# --------------------------------------------------------------------------- #
# Gi*
# --------------------------------------------------------------------------- #
def _gi_star_loop(
    grid: npt.NDArray[np.float64],
    cell_size: float,
    band: float,
    mask: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.float64]:
    """Ord & Getis (1995) Gi* cell by cell, straight from the formula."""
    rows, cols = grid.shape
    inside = np.ones(grid.shape, dtype=bool) if mask is None else mask
    centres = np.array([(r * cell_size, c * cell_size) for r in range(rows) for c in range(cols)])
    xs = grid.ravel()[inside.ravel()]
    pts = centres[inside.ravel()]
    n = len(xs)
    mean = xs.sum() / n
    s = np.sqrt((xs**2).sum() / n - mean**2)
    z = np.zeros(grid.size)
    for i, ok in enumerate(inside.ravel()):
        if not ok:
            continue
        w = (np.hypot(*(pts - centres[i]).T) <= band + 1e-9).astype(float)
        num = (w * xs).sum() - mean * w.sum()
        den = s * np.sqrt((n * (w**2).sum() - w.sum() ** 2) / (n - 1))
        z[i] = num / den if den > 0 else 0.0
    return z.reshape(grid.shape)


@pytest.fixture(scope="module")
def hot_block() -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(5)
    grid = rng.poisson(3.0, size=(30, 40)).astype(float)
    grid[9:12, 9:12] += 15.0  # one hot 3 x 3 block centred on (10, 10)
    return grid


def test_hot_block_centre_is_hot_99(hot_block: npt.NDArray[np.float64]) -> None:
    res = clusters.gi_star(hot_block, cell_size=100.0)
    for arr in (res.z, res.p, res.p_fdr, res.gi_bin, res.significant_hot_mask):
        assert arr.shape == hot_block.shape
    assert res.gi_bin[10, 10] == 3
    assert res.labels[10, 10] == "hot_99"
    assert res.significant_hot_mask[10, 10]
    assert res.z[10, 10] == res.z.max()
    # far from the block nothing is significant
    far = np.ones(hot_block.shape, dtype=bool)
    far[5:16, 5:16] = False
    assert (res.gi_bin[far] == 0).all()
    assert not res.significant_hot_mask[far].any()
    assert set(res.labels[far].ravel()) == {"not_significant"}
    assert res.p[10, 10] == pytest.approx(2 * (1 - stats.norm.cdf(res.z[10, 10])))


def test_fdr_is_stricter(hot_block: npt.NDArray[np.float64]) -> None:
    corrected = clusters.gi_star(hot_block, cell_size=100.0, alpha=0.1)
    raw = clusters.gi_star(hot_block, cell_size=100.0, alpha=0.1, fdr=False)
    np.testing.assert_array_equal(corrected.z, raw.z)
    assert (corrected.p_fdr >= corrected.p).all()
    assert corrected.significant_hot_mask.sum() <= raw.significant_hot_mask.sum()
    assert (corrected.gi_bin != 0).sum() < (raw.gi_bin != 0).sum()  # noise flags some raw cells
    assert (np.abs(corrected.gi_bin) <= np.abs(raw.gi_bin)).all()


def test_sparse_counts_warn() -> None:
    # no pattern at all, yet the normal approximation flags cells on sparse counts
    grid = np.random.default_rng(2).poisson(0.2, size=(300, 300))
    with pytest.warns(UserWarning, match=r"only 1\.\d incidents per neighbourhood"):
        sparse = clusters.gi_star(grid, cell_size=50.0)
    dense = clusters.gi_star(grid, cell_size=50.0, distance_band=600.0)  # ~90 per neighbourhood
    assert (sparse.gi_bin != 0).sum() > (dense.gi_bin != 0).sum() == 0


@pytest.mark.parametrize("value", [0.0, 4.0, 0.1])
def test_constant_grid_is_not_significant(value: float) -> None:
    res = clusters.gi_star(np.full((20, 25), value), cell_size=50.0)
    assert (res.z == 0).all()
    assert (res.p == 1).all()
    assert (res.p_fdr == 1).all()
    assert (res.gi_bin == 0).all()
    assert not res.significant_hot_mask.any()


def test_single_cell() -> None:
    res = clusters.gi_star([[7.0]], cell_size=100.0)
    assert (res.z.tolist(), res.p.tolist(), res.gi_bin.tolist()) == ([[0.0]], [[1.0]], [[0]])


@pytest.mark.filterwarnings("ignore:gi_star. only")
@pytest.mark.parametrize("band_cells", [None, 0.5, 2.5, 12.0])
def test_matches_direct_loop(hot_block: npt.NDArray[np.float64], band_cells: float | None) -> None:
    band = None if band_cells is None else band_cells * 100.0
    res = clusters.gi_star(hot_block, cell_size=100.0, distance_band=band)
    expected = _gi_star_loop(hot_block, 100.0, 150.0 if band is None else band)
    np.testing.assert_allclose(res.z, expected, rtol=0, atol=1e-9)


def test_fft_path_on_non_integer_values() -> None:
    grid = np.random.default_rng(9).gamma(2.0, 1.5, size=(25, 30))
    res = clusters.gi_star(grid, cell_size=10.0, distance_band=130.0)  # 529-cell footprint: FFT
    np.testing.assert_allclose(res.z, _gi_star_loop(grid, 10.0, 130.0), rtol=0, atol=1e-9)


def test_mask_excludes_cells(hot_block: npt.NDArray[np.float64]) -> None:
    mask = np.ones(hot_block.shape, dtype=bool)
    mask[:, 30:] = False  # e.g. a river
    grid = hot_block.copy()
    grid[:, 30:] = np.nan  # masked cells may hold anything
    res = clusters.gi_star(grid, cell_size=100.0, mask=mask)
    np.testing.assert_allclose(res.z, _gi_star_loop(hot_block, 100.0, 150.0, mask), atol=1e-9)
    assert (res.p[~mask] == 1).all()
    assert (res.gi_bin[~mask] == 0).all()
    assert res.gi_bin[10, 10] == 3


def test_matches_esda(hot_block: npt.NDArray[np.float64]) -> None:
    esda = pytest.importorskip("esda")
    weights = pytest.importorskip("libpysal.weights")
    rows, cols = hot_block.shape
    rr, cc = np.mgrid[0:rows, 0:cols]
    centres = np.column_stack([cc.ravel() * 100.0, rr.ravel() * 100.0])
    for band in (150.0, 250.0):
        w = weights.DistanceBand(centres, threshold=band, binary=True, silence_warnings=True)
        ref = esda.G_Local(hot_block.ravel(), w, star=True, transform="B", permutations=0)
        res = clusters.gi_star(hot_block, cell_size=100.0, distance_band=band)
        np.testing.assert_allclose(res.z.ravel(), ref.Zs, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (np.zeros(5), {"cell_size": 1.0}, "2-D grid"),
        (np.zeros((2, 2)), {"cell_size": 0.0}, "cell_size"),
        (np.zeros((2, 2)), {"cell_size": 1.0, "alpha": 1.5}, "alpha"),
        (np.zeros((2, 2)), {"cell_size": 1.0, "distance_band": -1.0}, "distance_band"),
        (
            np.array([[1.0, np.nan], [np.nan, 2.0]]),
            {"cell_size": 1.0},
            "2 cells are NaN.*row 0, column 1",
        ),
        (np.zeros((2, 2)), {"cell_size": 1.0, "mask": np.ones((2, 3), bool)}, "mask"),
    ],
)
def test_gi_star_rejects_bad_input(args: object, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        clusters.gi_star(args, **kwargs)  # type: ignore[arg-type]
