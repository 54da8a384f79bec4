"""Quality-of-life hotspots and how they change over time.

This module grows stage by stage; today it holds the trend classes every
hotspot carries, in the spirit of emerging-hot-spot analysis (a Mann-Kendall
test on monthly counts, see the project's domain notes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["TREND_CLASSES", "Trend", "trend_class"]

#: Every trend class, from most to least urgent for a supervisor.
TREND_CLASSES: tuple[str, ...] = (
    "new",
    "intensifying",
    "persistent",
    "diminishing",
    "intermittent",
    "sporadic",
    "none",
)


@dataclass(frozen=True)
class Trend:
    """A unit's trend class with the Mann-Kendall statistics behind it."""

    label: str
    tau: float
    p_value: float
    active_share: float


def trend_class(
    monthly_counts: npt.ArrayLike,
    *,
    min_count: float = 1.0,
    alpha: float = 0.05,
    recent: int = 2,
) -> Trend:
    """Classify a unit's monthly counts (oldest first).

    A month is *active* when its count reaches `min_count`. The Mann-Kendall
    test is Kendall's tau between month index and count (scipy), significant
    at `alpha`. Classes, first match wins:

    - ``none``: never active;
    - ``new``: active only in the last `recent` months;
    - ``intensifying``: significant upward trend, active in at least half the months;
    - ``diminishing``: significant downward trend, active in at least half the months;
    - ``persistent``: active in at least 80% of the months, no significant trend;
    - ``intermittent``: active in at least half the months, with gaps;
    - ``sporadic``: active in fewer than half the months.

    Parameters
    ----------
    monthly_counts
        One count (or weighted score) per month, oldest first; at least 3 months.
    min_count
        Count at which a month counts as active.
    alpha
        Significance level of the trend test.
    recent
        How many final months make a hotspot ``new``.
    """
    c = np.asarray(monthly_counts, dtype=float)
    if c.ndim != 1 or len(c) < 3:
        msg = f"trend_class needs at least 3 monthly counts, got {c.shape}."
        raise ValueError(msg)
    if not np.isfinite(c).all() or (c < 0).any():
        msg = "monthly counts must be finite and non-negative."
        raise ValueError(msg)
    active = c >= min_count
    share = float(active.mean())
    if np.ptp(c) > 0:
        result = stats.kendalltau(np.arange(len(c)), c)
        tau, p = float(result.statistic), float(result.pvalue)
    else:
        tau, p = 0.0, 1.0
    if not active.any():
        label = "none"
    elif not active[: len(c) - recent].any():
        label = "new"
    elif p < alpha and tau > 0 and share >= 0.5:
        label = "intensifying"
    elif p < alpha and tau < 0 and share >= 0.5:
        label = "diminishing"
    elif share >= 0.8:
        label = "persistent"
    elif share >= 0.5:
        label = "intermittent"
    else:
        label = "sporadic"
    return Trend(label, tau, p, share)
