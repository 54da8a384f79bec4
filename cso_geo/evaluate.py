"""Hotspot accuracy metrics: hit rate, PAI, PEI and RRI at chosen coverage.

A hotspot method ranks spatial units (street segments or grid cells); we flag
the top-ranked units until they cover a share of the study area (or of the
street length) and count how many of the *next* period's incidents fall in
them. The metrics, as defined in the crime-mapping literature (see the
project's domain notes):

- hit rate = n / N, the share of test incidents captured;
- PAI (Chainey et al. 2008) = (n / N) / (a / A), the hit rate per share of
  area flagged;
- PEI = PAI / PAI*, where PAI* is the best PAI any choice of units of the same
  total size could have reached on the test incidents;
- RRI (Levine 2008, recapture rate index) = (n2 / n1) / (N2 / N1): how much
  more of the test period's incidents the flagged units hold than of the
  training period's, relative to the totals. Read it on a log scale; it is
  None (not NaN) where undefined, so a JSON report stays valid.

These are pure functions on arrays, so every method is scored the same way,
plus `recovery`, which scores flagged hotspots against known ones (the
synthetic generator's truth).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import numpy.typing as npt

__all__ = ["best_capture", "hit_rate", "pai", "pei", "recovery", "rri", "select_coverage"]

FloatArray = npt.NDArray[np.float64]


def select_coverage(
    scores: npt.ArrayLike, sizes: npt.ArrayLike, coverage: float
) -> npt.NDArray[np.bool_]:
    """Flag the highest-scoring units until they cover `coverage` of the total size.

    Units are taken in descending score order (ties broken by smaller size,
    then by position, so the result is deterministic) while the running total
    stays within ``coverage * sum(sizes)``; a unit that would overshoot is
    skipped and smaller ones further down may still fit. Units with a score
    of zero or less are never flagged.

    Parameters
    ----------
    scores
        A score per unit; higher is hotter.
    sizes
        Each unit's area (m²) or street length (m).
    coverage
        Share of the total size to flag, in (0, 1].

    Returns
    -------
    flagged
        Boolean mask over the units.
    """
    s = np.asarray(scores, dtype=float)
    z = np.asarray(sizes, dtype=float)
    if s.shape != z.shape:
        msg = f"scores and sizes differ in shape: {s.shape} vs {z.shape}."
        raise ValueError(msg)
    if not 0 < coverage <= 1:
        msg = f"coverage must be in (0, 1], not {coverage}."
        raise ValueError(msg)
    if (z < 0).any() or not np.isfinite(z).all():
        msg = "sizes must be finite and non-negative."
        raise ValueError(msg)
    flagged = np.zeros(len(s), dtype=bool)
    budget = coverage * z.sum()
    order = np.lexsort((np.arange(len(s)), z, -np.nan_to_num(s, nan=-np.inf)))
    used = 0.0
    for i in order:
        if not s[i] > 0:
            break
        if used + z[i] <= budget * (1 + 1e-12):
            flagged[i] = True
            used += z[i]
    return flagged


def hit_rate(counts: npt.ArrayLike, flagged: npt.ArrayLike) -> float:
    """Share of all incidents that fall in the flagged units (0 when there are none)."""
    c = np.asarray(counts, dtype=float)
    total = c.sum()
    return float(c[np.asarray(flagged, dtype=bool)].sum() / total) if total > 0 else 0.0


def pai(counts: npt.ArrayLike, sizes: npt.ArrayLike, flagged: npt.ArrayLike) -> float:
    """Predictive accuracy index: (n / N) / (a / A); 0 when nothing is flagged."""
    z = np.asarray(sizes, dtype=float)
    f = np.asarray(flagged, dtype=bool)
    a_share = z[f].sum() / z.sum() if z.sum() > 0 else 0.0
    return hit_rate(counts, f) / a_share if a_share > 0 else 0.0


def best_capture(counts: npt.ArrayLike, sizes: npt.ArrayLike, budget: float) -> float:
    """Most incidents any set of units with total size <= `budget` can hold.

    A 0/1 knapsack; for the usual case of equal sizes (grid cells) or small
    problems it is solved exactly, otherwise by the density-greedy bound,
    which is within one unit's count of the optimum.
    """
    c = np.asarray(counts, dtype=float)
    z = np.asarray(sizes, dtype=float)
    if len(c) == 0 or budget <= 0:
        return 0.0
    if np.allclose(z, z[0]):
        k = int(np.floor(budget / z[0] + 1e-9)) if z[0] > 0 else len(c)
        return float(np.sort(c)[::-1][:k].sum())
    order = np.lexsort((np.arange(len(c)), -(c / np.where(z > 0, z, np.inf))))
    got, used = 0.0, 0.0
    for i in order:
        if used + z[i] <= budget * (1 + 1e-12):
            got += c[i]
            used += z[i]
    return float(got)


def pei(counts: npt.ArrayLike, sizes: npt.ArrayLike, flagged: npt.ArrayLike) -> float:
    """Predictive efficiency index: PAI / the best PAI reachable with the same size."""
    c = np.asarray(counts, dtype=float)
    z = np.asarray(sizes, dtype=float)
    f = np.asarray(flagged, dtype=bool)
    # the method's own choice is feasible too, so PEI never exceeds 1
    best = max(best_capture(c, z, z[f].sum()), c[f].sum())
    return float(c[f].sum() / best) if best > 0 else 0.0


def rri(
    train_counts: npt.ArrayLike, test_counts: npt.ArrayLike, flagged: npt.ArrayLike
) -> float | None:
    """Recapture rate index (n2 / n1) / (N2 / N1); None when undefined (n1, N1 or N2 is 0)."""
    c1 = np.asarray(train_counts, dtype=float)
    c2 = np.asarray(test_counts, dtype=float)
    f = np.asarray(flagged, dtype=bool)
    n1, n2, big1, big2 = c1[f].sum(), c2[f].sum(), c1.sum(), c2.sum()
    if n1 == 0 or big2 == 0 or big1 == 0:
        return None
    return float((n2 / n1) / (big2 / big1))


def recovery(
    found: gpd.GeoSeries, planted: gpd.GeoSeries, *, tolerance: float = 25.0
) -> dict[str, float | int]:
    """Precision and recall of flagged hotspots against known ones.

    A flagged unit is a true positive when it lies within `tolerance` metres
    of a planted hotspot (on it, or at the corner where its intersection
    calls are geocoded); a planted hotspot is recovered when a flagged unit
    lies that close. Both series must share a projected CRS.

    Returns
    -------
    scores
        ``precision``, ``recall``, ``found`` and ``planted`` (the counts);
        precision or recall is 0.0 (never NaN) when its denominator is empty.
    """
    if found.crs is not None and planted.crs is not None and found.crs != planted.crs:
        msg = f"recovery: found is in {found.crs} but planted in {planted.crs}; project one."
        raise ValueError(msg)
    pairs = planted.sindex.query(found.geometry, predicate="dwithin", distance=tolerance)
    hit_found = np.unique(pairs[0]) if len(found) and len(planted) else np.array([], dtype=int)
    hit_planted = np.unique(pairs[1]) if len(found) and len(planted) else np.array([], dtype=int)
    return {
        "precision": len(hit_found) / len(found) if len(found) else 0.0,
        "recall": len(hit_planted) / len(planted) if len(planted) else 0.0,
        "found": len(found),
        "planted": len(planted),
    }
