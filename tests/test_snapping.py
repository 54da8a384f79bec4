"""Snapping points to street edges: exact against a brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from cso_geo import network
from cso_geo.snapping import EdgeIndex


@pytest.fixture(scope="module")
def points(helsinki_net: network.StreetNetwork) -> np.ndarray:
    """Incident-like points: on random streets, jittered 0-40 m, plus a few far away."""
    segs = network.street_segments(helsinki_net.walk, classes=None)
    rng = np.random.default_rng(3)
    pick = rng.integers(len(segs), size=3000)
    on = shapely.line_interpolate_point(
        segs.geometry.to_numpy()[pick], rng.random(3000), normalized=True
    )
    xy = shapely.get_coordinates(on) + rng.normal(0, 15, (3000, 2))
    lo, hi = xy.min(axis=0) - 500, xy.max(axis=0) + 500
    far = rng.uniform(lo, hi, (300, 2))
    return np.vstack([xy, far])


def test_snap_is_exact(helsinki_net: network.StreetNetwork, points: np.ndarray) -> None:
    G = helsinki_net.walk
    index = EdgeIndex.from_graph(G)
    got = index.snap(points[:, 0], points[:, 1])
    # brute force: distance to every street edge
    keys, geoms = [], []
    for u, v, k, d in G.edges(keys=True, data=True):
        if not d.get("reversed"):
            keys.append((u, v, k))
            geoms.append(d["geometry"])
    geoms_arr = np.asarray(geoms, dtype=object)
    pts = shapely.points(points)
    dist = np.array([shapely.distance(geoms_arr, p).min() for p in pts])
    np.testing.assert_allclose(got["dist"], dist, atol=1e-6)
    # the snapped point lies on the chosen edge, `along` metres from its start
    for row in got.sample(200, random_state=1).itertuples():
        line = G.edges[row.u, row.v, row.key]["geometry"]
        snapped = shapely.Point(row.snap_x, row.snap_y)
        assert line.distance(snapped) < 1e-6
        assert line.project(snapped) == pytest.approx(row.along, abs=1e-6)
        assert snapped.distance(shapely.Point(points[row.Index])) == pytest.approx(row.dist)


def test_snap_handles_missing_coordinates(helsinki_net: network.StreetNetwork) -> None:
    index = EdgeIndex.from_graph(helsinki_net.walk)
    got = index.snap([np.nan, 385_500.0], [6_672_000.0, np.nan])
    assert (got["u"] == -1).all()
    assert got["dist"].isna().all()
    assert index.snap([], []).empty


def test_piece_length_does_not_change_answers(
    helsinki_net: network.StreetNetwork, points: np.ndarray
) -> None:
    a = EdgeIndex.from_graph(helsinki_net.walk, max_piece=5).snap(points[:, 0], points[:, 1], k=2)
    b = EdgeIndex.from_graph(helsinki_net.walk, max_piece=40).snap(points[:, 0], points[:, 1])
    np.testing.assert_allclose(a["dist"], b["dist"], atol=1e-6)
