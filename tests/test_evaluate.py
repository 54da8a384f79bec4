"""Hotspot metrics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from cso_geo import evaluate as ev

# Five grid cells of 100 m x 100 m; ten test incidents: 6, 2, 1, 1, 0.
CELLS = np.full(5, 10_000.0)
TEST = np.array([6, 2, 1, 1, 0])
TRAIN = np.array([4, 4, 1, 1, 0])


def test_select_coverage_takes_the_top_scores() -> None:
    scores = np.array([0.9, 0.1, 0.5, 0.3, 0.0])
    assert ev.select_coverage(scores, CELLS, 0.4).tolist() == [True, False, True, False, False]
    # 50% of 5 cells: 2.5 cells fit, so 2 are flagged
    assert ev.select_coverage(scores, CELLS, 0.5).sum() == 2
    # a unit with no score is never flagged, however much room is left
    assert ev.select_coverage(scores, CELLS, 1.0).tolist() == [True, True, True, True, False]


def test_select_coverage_skips_a_unit_that_overshoots() -> None:
    # by street length: the 2nd-best segment is too long, the 3rd still fits
    scores = np.array([3.0, 2.0, 1.0])
    lengths = np.array([100.0, 500.0, 50.0])
    assert ev.select_coverage(scores, lengths, 0.25).tolist() == [True, False, True]


def test_hit_rate_pai_pei_by_hand() -> None:
    flagged = np.array([True, False, False, True, False])  # cells 1 and 4: 6 + 1 = 7 of 10
    assert ev.hit_rate(TEST, flagged) == pytest.approx(0.7)
    # PAI = (7/10) / (2/5) = 1.75
    assert ev.pai(TEST, CELLS, flagged) == pytest.approx(1.75)
    # best two cells hold 6 + 2 = 8: PAI* = (8/10)/(2/5) = 2.0, PEI = 1.75 / 2.0
    assert ev.pei(TEST, CELLS, flagged) == pytest.approx(0.875)
    best = np.array([True, True, False, False, False])
    assert ev.pei(TEST, CELLS, best) == pytest.approx(1.0)


def test_rri_by_hand() -> None:
    flagged = np.array([True, True, False, False, False])
    # n1 = 8 of N1 = 10, n2 = 8 of N2 = 10: RRI = (8/8)/(10/10) = 1
    assert ev.rri(TRAIN, TEST, flagged) == pytest.approx(1.0)
    only_first = np.array([True, False, False, False, False])
    # n1 = 4, n2 = 6: (6/4)/(10/10) = 1.5
    assert ev.rri(TRAIN, TEST, only_first) == pytest.approx(1.5)
    assert ev.rri(TRAIN, TEST, np.zeros(5, dtype=bool)) is None  # undefined, not NaN


def test_best_capture_with_unequal_sizes() -> None:
    counts = np.array([10, 9, 9])
    lengths = np.array([100.0, 50.0, 50.0])
    assert ev.best_capture(counts, lengths, 100.0) == 18  # the two short ones
    assert ev.best_capture(counts, lengths, 0.0) == 0


def test_empty_and_degenerate_inputs_give_zeros_not_nan() -> None:
    none = np.zeros(5, dtype=bool)
    zero = np.zeros(5)
    assert ev.hit_rate(zero, none) == 0.0
    assert ev.pai(zero, CELLS, none) == 0.0
    assert ev.pei(zero, CELLS, none) == 0.0
    assert ev.select_coverage(zero, CELLS, 0.05).sum() == 0
    single = np.array([1, 0, 0, 0, 0])
    flagged = ev.select_coverage(single, CELLS, 0.2)
    assert ev.pai(single, CELLS, flagged) == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("scores", "sizes", "coverage", "match"),
    [
        ([1.0], [1.0, 2.0], 0.1, "shape"),
        ([1.0], [1.0], 0.0, "coverage"),
        ([1.0], [1.0], 1.5, "coverage"),
        ([1.0], [-1.0], 0.5, "non-negative"),
    ],
)
def test_select_coverage_rejects_bad_arguments(
    scores: list[float], sizes: list[float], coverage: float, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        ev.select_coverage(scores, sizes, coverage)


def test_recovery_of_planted_hotspots() -> None:
    import geopandas as gpd  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    crs = "EPSG:32635"
    planted = gpd.GeoSeries(
        [shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(0, 500), (100, 500)])],
        crs=crs,
    )
    found = gpd.GeoSeries(
        [
            shapely.LineString([(20, 0), (60, 0)]),  # on the first
            shapely.LineString([(100, 0), (100, 40)]),  # touches its corner
            shapely.LineString([(0, 300), (100, 300)]),  # 200 m from both
        ],
        crs=crs,
    )
    got = ev.recovery(found, planted, tolerance=1.0)
    assert got == {"precision": 2 / 3, "recall": 0.5, "found": 3, "planted": 2}
    assert ev.recovery(found, planted, tolerance=200.0)["recall"] == 1.0
    empty = ev.recovery(found.iloc[:0], planted)
    assert (empty["precision"], empty["recall"]) == (0.0, 0.0)
    with pytest.raises(ValueError, match="project one"):
        ev.recovery(found.to_crs(4326), planted)
