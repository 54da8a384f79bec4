"""Trend classes on constructed monthly series with known answers."""

from __future__ import annotations

import pytest

from cso_geo import hotspots


@pytest.mark.parametrize(
    ("series", "label"),
    [
        ([0] * 12, "none"),
        ([0] * 10 + [3, 5], "new"),
        ([0] * 11 + [1], "new"),
        ([1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 7, 8], "intensifying"),
        ([9, 8, 8, 7, 6, 6, 5, 4, 3, 3, 2, 1], "diminishing"),
        ([9, 8, 8, 7, 6, 6, 5, 4, 3, 2, 0, 0], "diminishing"),  # cooled off at the end
        ([5, 6, 5, 4, 6, 5, 5, 6, 4, 5, 6, 5], "persistent"),
        ([4, 0, 5, 0, 4, 0, 5, 0, 4, 0, 5, 4], "intermittent"),
        ([0, 3, 0, 0, 0, 4, 0, 0, 0, 0, 2, 0], "sporadic"),
    ],
)
def test_trend_classes(series: list[int], label: str) -> None:
    assert hotspots.trend_class(series).label == label


def test_trend_statistics() -> None:
    t = hotspots.trend_class([1, 2, 3, 4, 5, 6])
    assert t.tau == pytest.approx(1.0)
    assert t.p_value < 0.01
    assert t.active_share == 1.0
    flat = hotspots.trend_class([2, 2, 2, 2])
    assert (flat.tau, flat.p_value, flat.label) == (0.0, 1.0, "persistent")
    # a higher bar for "active" changes the answer
    assert hotspots.trend_class([1, 1, 1, 1, 1, 1], min_count=2).label == "none"


@pytest.mark.parametrize("bad", [[1, 2], [1, -1, 2], [1, float("nan"), 2, 3]])
def test_trend_rejects_bad_series(bad: list[float]) -> None:
    with pytest.raises(ValueError, match=r"monthly counts|at least 3"):
        hotspots.trend_class(bad)
