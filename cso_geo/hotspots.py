"""Quality-of-life hotspots and how they change over time.

Street-segment hotspots (incidents snapped to street units, weighted by
service minutes and recency, smoothed along the network) and grid hotspots (a
binned Gaussian KDE), each beside a naive baseline of plain counts on the same
units, with a rolling-origin backtest, and the trend classes every hotspot
carries (a Mann-Kendall test on monthly counts, in the spirit of
emerging-hot-spot analysis; see the project's domain notes).
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
import shapely
import shapely.ops
from scipy import ndimage, stats
from scipy.sparse import csgraph

from cso_geo import clusters, evaluate
from cso_geo.network import street_segments
from cso_geo.snapping import EdgeIndex
from cso_geo.taxonomy import CATEGORIES

log = logging.getLogger(__name__)

__all__ = [
    "DAMPING",
    "GRID_METHODS",
    "HOTSPOT_COLUMNS",
    "SEGMENT_METHODS",
    "TREND_CLASSES",
    "TUNED_SETTINGS",
    "TUNING_GRID",
    "GridUnits",
    "MethodParams",
    "StreetUnits",
    "Trend",
    "backtest",
    "find_hotspots",
    "grid_scores",
    "grid_units",
    "incident_weights",
    "parse_shift",
    "parse_weekdays",
    "segment_scores",
    "select_incidents",
    "street_units",
    "trend_class",
    "tune",
    "tuned_params",
]

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


# --------------------------------------------------------------------------- #
# incidents: selection and weights
# --------------------------------------------------------------------------- #
def parse_shift(text: str) -> tuple[int, int]:
    """``"08:00-16:00"`` -> minutes after midnight ``(480, 960)``; may wrap midnight."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(text))
    if not m:
        msg = f"A shift is written HH:MM-HH:MM (e.g. 08:00-16:00 or 22:00-06:00), not {text!r}."
        raise ValueError(msg)
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        msg = f"Shift {text!r} has an hour above 24 or minutes above 59."
        raise ValueError(msg)
    start, end = (h1 * 60 + m1) % 1440, (h2 * 60 + m2) % 1440
    if start == end:
        msg = f"Shift {text!r} has zero length."
        raise ValueError(msg)
    return start, end


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_weekdays(texts: Sequence[str]) -> list[int]:
    """Day names to weekday numbers (Monday = 0), for `select_incidents`.

    Each text may hold several names separated by commas: ``mon``/``monday``,
    ``0``-``6``, ``weekdays`` (Monday-Friday) or ``weekend``.
    """
    days: set[int] = set()
    for text in texts:
        for part in str(text).split(","):
            word = part.strip().lower()
            if word in {"weekday", "weekdays"}:
                days.update(range(5))
            elif word in {"weekend", "weekends"}:
                days.update((5, 6))
            elif word.isdigit() and int(word) < 7:
                days.add(int(word))
            elif len(word) >= 3 and word[:3] in _WEEKDAYS:
                days.add(_WEEKDAYS.index(word[:3]))
            else:
                msg = (
                    f"Unknown day {part.strip()!r}; use mon, tue, wed, thu, fri, sat, sun, "
                    "weekdays or weekend (or 0-6, Monday = 0)."
                )
                raise ValueError(msg)
    return sorted(days)


def select_incidents(
    incidents: gpd.GeoDataFrame,
    *,
    categories: Sequence[str] | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    shift: str | None = None,
    days: Sequence[int] | None = None,
) -> gpd.GeoDataFrame:
    """Geocoded incidents that match the filters (and were placed at all).

    Parameters
    ----------
    incidents
        Output of `cso_geo.geocode.geocode` (needs ``received_at``; ``category``
        for `categories`).
    categories
        Quality-of-life categories to keep (see `cso_geo.taxonomy.CATEGORIES`).
    start, end
        Keep ``start <= received_at < end``.
    shift
        ``HH:MM-HH:MM`` time-of-day window; may wrap past midnight.
    days
        Days of the week to keep, Monday = 0.
    """
    keep = incidents.geometry.notna() & ~incidents.geometry.is_empty
    if "match_type" in incidents.columns:
        keep &= incidents["match_type"] != "unmatched"
    t = pd.to_datetime(incidents["received_at"])
    if categories:
        unknown = sorted(set(categories) - set(CATEGORIES) - {"unmapped"})
        if unknown:
            msg = f"Unknown categories {unknown}; use any of {', '.join(CATEGORIES)}."
            raise ValueError(msg)
        keep &= incidents["category"].isin(list(categories))
    if start is not None:
        keep &= t >= pd.Timestamp(start)
    if end is not None:
        keep &= t < pd.Timestamp(end)
    if shift is not None:
        s, e = parse_shift(shift)
        minute = t.dt.hour * 60 + t.dt.minute
        keep &= (minute >= s) & (minute < e) if s < e else (minute >= s) | (minute < e)
    if days is not None:
        keep &= t.dt.day_of_week.isin(list(days))
    return incidents.loc[keep.to_numpy()]


def incident_weights(
    incidents: pd.DataFrame,
    *,
    at: pd.Timestamp,
    half_life_days: float | None = 90.0,
    by: str | None = "service_minutes",
) -> npt.NDArray[np.float64]:
    """Weight of each incident: its service minutes (or 1) times a recency decay.

    An incident `half_life_days` before `at` counts half as much as one at
    `at`; None switches decay off.
    """
    if by and by not in incidents.columns:
        numeric = [c for c in incidents.columns if pd.api.types.is_numeric_dtype(incidents[c])]
        msg = (
            f"Cannot weigh calls by {by!r}: the incidents have no such column. Use 'calls' "
            f"(one each) or one of the numeric columns {numeric}."
        )
        raise ValueError(msg)
    w = (
        pd.to_numeric(incidents[by], errors="coerce").fillna(1.0).to_numpy(dtype=float)
        if by
        else np.ones(len(incidents))
    )
    if half_life_days:
        age = (at - pd.to_datetime(incidents["received_at"])).dt.total_seconds() / 86400.0
        w = w * np.power(0.5, np.clip(age.to_numpy(dtype=float), 0, None) / half_life_days)
    return np.asarray(w, dtype=float)


# --------------------------------------------------------------------------- #
# street-segment units and the network-smoothed method
# --------------------------------------------------------------------------- #
@dataclass
class StreetUnits:
    """Street segments cut into pieces of at most `unit_length` metres.

    ``units`` has ``unit_id``, ``u``, ``v``, ``key``, ``name``, ``highway``,
    ``length`` and the piece ``geometry``; ``kernel`` (built lazily) holds
    the network distances between piece midpoints within a bandwidth.
    """

    units: gpd.GeoDataFrame
    index: EdgeIndex
    unit_length: float
    _kernels: dict[float, sp.csr_matrix] = field(default_factory=dict)

    @property
    def lengths(self) -> npt.NDArray[np.float64]:
        """Length of each unit in metres."""
        return np.asarray(self.units["length"].to_numpy(), dtype=float)

    def assign(self, points: gpd.GeoSeries, *, max_dist: float = 100.0) -> npt.NDArray[np.int64]:
        """Unit of each point (nearest street piece), or -1 beyond `max_dist` metres."""
        snapped = self.index.snap(points.x.to_numpy(), points.y.to_numpy())
        edge = snapped["edge"].to_numpy().copy()
        edge[~(snapped["dist"].to_numpy() <= max_dist)] = -1
        return np.asarray(edge, dtype=np.int64)

    def kernel(self, bandwidth: float) -> sp.csr_matrix:
        """Triangular network kernel ``max(0, 1 - d / bandwidth)`` between units."""
        if bandwidth not in self._kernels:
            self._kernels[bandwidth] = _network_kernel(self.units, bandwidth)
        return self._kernels[bandwidth]


def street_units(G: nx.MultiDiGraph, *, unit_length: float = 100.0) -> StreetUnits:
    """Cut the streets of a walk graph into units of at most `unit_length` metres.

    Every street edge (named or not, of the classes where CSO calls happen)
    is split into equal pieces no longer than `unit_length`.
    """
    if unit_length <= 0:
        msg = f"unit_length must be positive, not {unit_length}."
        raise ValueError(msg)
    segments = street_segments(G, named_only=False)
    rows = []
    for u, v, k, name, hwy, line in zip(
        segments["u"],
        segments["v"],
        segments["key"],
        segments["name"],
        segments["highway"],
        segments.geometry,
        strict=True,
    ):
        n = max(1, math.ceil(line.length / unit_length))
        for i in range(n):
            piece = shapely.ops.substring(line, i / n, (i + 1) / n, normalized=True)
            rows.append((u, v, k, i, name, hwy, piece.length, piece))
    units = gpd.GeoDataFrame(
        rows,
        columns=["u", "v", "key", "part", "name", "highway", "length", "geometry"],
        geometry="geometry",
        crs=G.graph["crs"],
    )
    units.insert(0, "unit_id", np.arange(len(units)))
    index = EdgeIndex.from_lines(units.geometry.to_numpy(), max_piece=min(10.0, unit_length))
    return StreetUnits(units, index, unit_length)


def _network_kernel(units: gpd.GeoDataFrame, bandwidth: float) -> sp.csr_matrix:
    """Sparse triangular kernel over network distance between unit midpoints."""
    n = len(units)
    # a graph whose nodes are unit end points and unit midpoints
    ends = shapely.get_coordinates(units.geometry.boundary.explode(index_parts=False))
    start_xy = shapely.get_coordinates(shapely.get_point(units.geometry, 0))
    end_xy = shapely.get_coordinates(shapely.get_point(units.geometry, -1))
    del ends
    key = np.round(np.vstack([start_xy, end_xy]), 2)
    _, node = np.unique(key, axis=0, return_inverse=True)
    node = node.ravel()
    n_ends = int(node.max()) + 1
    s_node, e_node = node[:n], node[n:]
    mid = n_ends + np.arange(n)
    half = units["length"].to_numpy() / 2.0
    rows = np.concatenate([mid, s_node, mid, e_node])
    cols = np.concatenate([s_node, mid, e_node, mid])
    w = np.concatenate([half, half, half, half])
    size = n_ends + n
    graph = sp.csr_matrix((np.maximum(w, 1e-6), (rows, cols)), shape=(size, size))
    out_rows, out_cols, out_vals = [], [], []
    for chunk in np.array_split(np.arange(n), max(1, n // 2000)):
        dist = csgraph.dijkstra(graph, directed=False, indices=mid[chunk], limit=bandwidth)
        d = dist[:, n_ends:]
        r, c = np.nonzero(np.isfinite(d))
        out_rows.append(chunk[r])
        out_cols.append(c)
        out_vals.append(np.clip(1.0 - d[r, c] / bandwidth, 0.0, 1.0))
    return sp.csr_matrix(
        (np.concatenate(out_vals), (np.concatenate(out_rows), np.concatenate(out_cols))),
        shape=(n, n),
    )


# --------------------------------------------------------------------------- #
# grid units
# --------------------------------------------------------------------------- #
@dataclass
class GridUnits:
    """Square cells of `cell` metres from an origin, restricted to cells with streets."""

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int
    active: npt.NDArray[np.int64]  # flat indices of the cells that hold streets
    crs: str
    #: metres of street in each active cell (None for a grid over incident points)
    street_length: npt.NDArray[np.float64] | None = None

    @property
    def sizes(self) -> npt.NDArray[np.float64]:
        """Area of each active cell (m²)."""
        return np.full(len(self.active), self.cell**2)

    def flat(self, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Flat cell index of points (-1 outside the grid)."""
        col = np.floor((np.asarray(x, dtype=float) - self.x0) / self.cell)
        row = np.floor((np.asarray(y, dtype=float) - self.y0) / self.cell)
        ok = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        out = np.full(len(col), -1, dtype=np.int64)
        out[ok] = (row[ok] * self.nx + col[ok]).astype(np.int64)
        return out

    def assign(self, points: gpd.GeoSeries) -> npt.NDArray[np.int64]:
        """Active-cell position of each point, or -1 outside the active cells."""
        flat = self.flat(points.x.to_numpy(), points.y.to_numpy())
        pos = np.full(self.nx * self.ny, -1, dtype=np.int64)
        pos[self.active] = np.arange(len(self.active))
        return np.where(flat >= 0, pos[np.maximum(flat, 0)], -1)

    def raster(
        self, cells: npt.NDArray[np.int64], weights: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """Sum weights of points (given by active-cell position) into an (ny, nx) raster."""
        grid = np.zeros(self.nx * self.ny)
        ok = cells >= 0
        np.add.at(grid, self.active[cells[ok]], np.asarray(weights, dtype=float)[ok])
        return grid.reshape(self.ny, self.nx)

    def cells(self) -> gpd.GeoDataFrame:
        """The active cells as polygons."""
        row, col = np.divmod(self.active, self.nx)
        x = self.x0 + col * self.cell
        y = self.y0 + row * self.cell
        return gpd.GeoDataFrame(
            {"unit_id": np.arange(len(self.active)), "area": self.sizes},
            geometry=shapely.box(x, y, x + self.cell, y + self.cell),
            crs=self.crs,
        )


def grid_units(
    streets: StreetUnits | gpd.GeoSeries,
    *,
    cell_size: float = 150.0,
    offset: tuple[float, float] = (0.0, 0.0),
) -> GridUnits:
    """A grid over the street units' extent; only cells holding a street count as area.

    Without a street network (`streets` a series of incident points, as for
    an agency's export alone), the cells holding any incident stand in for
    the built-up area; every method is then scored against the same area.
    """
    if cell_size <= 0:
        msg = f"cell_size must be positive, not {cell_size}."
        raise ValueError(msg)
    geoms = streets if isinstance(streets, gpd.GeoSeries) else streets.units.geometry
    if geoms.crs is None or not geoms.crs.is_projected:
        msg = f"grid_units needs projected geometries (metres), not CRS {geoms.crs}."
        raise ValueError(msg)
    geoms = geoms[~(geoms.isna() | geoms.is_empty)]
    if geoms.empty:
        msg = "grid_units: no streets or incidents to lay a grid over."
        raise ValueError(msg)
    xmin, ymin, xmax, ymax = geoms.total_bounds
    x0 = xmin - cell_size + offset[0]
    y0 = ymin - cell_size + offset[1]
    nx_ = int(np.ceil((xmax - x0) / cell_size)) + 1
    ny_ = int(np.ceil((ymax - y0) / cell_size)) + 1
    probe = GridUnits(x0, y0, cell_size, nx_, ny_, np.zeros(0, dtype=np.int64), str(geoms.crs))
    # a cell holds a street if any point every few metres along a street falls in it
    pts = (
        geoms.to_numpy()
        if (geoms.geom_type == "Point").all()
        else shapely.line_interpolate_point(
            np.repeat(geoms.to_numpy(), 5),
            np.tile(np.linspace(0, 1, 5), len(geoms)),
            normalized=True,
        )
    )
    flat = probe.flat(shapely.get_x(pts), shapely.get_y(pts))
    probe.active = np.unique(flat[flat >= 0])
    if not isinstance(streets, gpd.GeoSeries):
        # street metres per cell, from points every <= 5 m along each unit, so grid
        # methods can also be scored by street length, on the segment methods' basis
        lengths = streets.units["length"].to_numpy(dtype=float)
        steps = np.maximum(1, np.ceil(lengths / 5.0)).astype(int)
        owner = np.repeat(np.arange(len(lengths)), steps)
        frac = (np.arange(steps.sum()) - np.repeat(np.cumsum(steps) - steps, steps) + 0.5) / (
            np.repeat(steps, steps)
        )
        mids = shapely.line_interpolate_point(geoms.to_numpy()[owner], frac, normalized=True)
        cell = probe.flat(shapely.get_x(mids), shapely.get_y(mids))
        pos = np.full(probe.nx * probe.ny, -1, dtype=np.int64)
        pos[probe.active] = np.arange(len(probe.active))
        at = pos[np.maximum(cell, 0)]
        ok = (cell >= 0) & (at >= 0)
        probe.street_length = np.asarray(
            np.bincount(at[ok], weights=(lengths / steps)[owner][ok], minlength=len(probe.active)),
            dtype=float,
        )
    return probe


# --------------------------------------------------------------------------- #
# methods: one score per unit from training incidents
# --------------------------------------------------------------------------- #
#: Street-segment methods (coverage by street length) and grid methods (by area).
#: ``naive`` / ``naive_grid`` are the baselines: counts of the prior period (as
#: long as the test horizon) on the same units; ``counts`` is the plain count
#: over the whole training window, a second, stronger reference.
SEGMENT_METHODS: tuple[str, ...] = ("segment", "naive", "counts")
GRID_METHODS: tuple[str, ...] = ("kde", "naive_grid", "gistar", "hdbscan")


#: How a unit's weight in each period enters its segment score (see `segment_scores`).
DAMPING: tuple[str, ...] = ("sqrt", "log1p", "none")


@dataclass(frozen=True)
class MethodParams:
    """Settings of the hotspot methods (all distances in metres).

    ``damping`` and ``period_days`` shape the segment method: each unit's
    weight is summed per period of ``period_days`` and passed through
    ``sqrt`` (default), ``log1p`` or nothing (``none``) before the periods are
    added, so a street troubled month after month outranks one with the same
    number of calls in a single burst (a party house, a week of graffiti).
    """

    bandwidth: float = 0.0
    half_life_days: float | None = 180.0
    weight_by: str | None = None
    kde_bandwidth: float = 150.0
    cell_size: float = 150.0
    damping: str = "sqrt"
    period_days: float = 30.0

    def __post_init__(self) -> None:
        if self.damping not in DAMPING:
            msg = f"damping must be one of {', '.join(DAMPING)}, not {self.damping!r}."
            raise ValueError(msg)
        if self.period_days <= 0:
            msg = f"period_days must be positive, not {self.period_days}."
            raise ValueError(msg)
        if self.bandwidth < 0:
            msg = f"bandwidth must not be negative, not {self.bandwidth}."
            raise ValueError(msg)


def segment_scores(
    train: gpd.GeoDataFrame,
    streets: StreetUnits,
    *,
    method: str = "segment",
    at: pd.Timestamp,
    params: MethodParams = MethodParams(),
    assigned: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.float64]:
    """Risk per metre of each street unit from training incidents.

    ``segment``: each incident weighs its service minutes (relative to the
    training mean, so a weight of 1 is an average call) times a recency decay
    of ``params.half_life_days``; a unit's weights are summed per period of
    ``params.period_days`` before the cut and damped (``params.damping``,
    ``sqrt`` by default) before the periods are added, which keeps one
    month's burst from outranking a street troubled every month. With
    ``params.bandwidth`` > 0 the damped weights are smoothed along the network
    with a triangular kernel and divided by the kernel-weighted street length
    (a Nadaraya-Watson rate), so the score stays a risk per metre.
    ``naive`` and ``counts``: plain counts per unit of the incidents given
    (the backtest passes the prior period for ``naive``). `assigned` (the
    unit of each row, from `StreetUnits.assign`) saves snapping them again.
    """
    unit = streets.assign(train.geometry) if assigned is None else assigned
    ok = unit >= 0
    n = len(streets.units)
    if method in {"naive", "counts"}:
        counts = np.bincount(unit[ok], minlength=n).astype(float)
        return counts / streets.lengths
    if method != "segment":
        msg = f"Unknown street method {method!r}; use one of {SEGMENT_METHODS}."
        raise ValueError(msg)
    w = incident_weights(train, at=at, half_life_days=params.half_life_days, by=params.weight_by)
    if not ok.any():
        return np.zeros(n)
    w = w / max(float(np.mean(w[ok])), 1e-12)
    if params.damping == "none":
        mass = np.bincount(unit[ok], weights=w[ok], minlength=n)
    else:
        age = (at - pd.to_datetime(train["received_at"])).dt.total_seconds().to_numpy()
        period = np.floor(np.clip(age[ok], 0, None) / 86400.0 / params.period_days).astype(np.int64)
        # one (period, unit) sum per pair that has calls; sparse, so years of history stay cheap
        per_pair = sp.coo_matrix(
            (w[ok], (period, unit[ok])), shape=(int(period.max()) + 1, n)
        ).tocsr()
        per_pair.sum_duplicates()
        per_pair.data = (
            np.log1p(per_pair.data) if params.damping == "log1p" else np.sqrt(per_pair.data)
        )
        mass = np.asarray(per_pair.sum(axis=0), dtype=float).ravel()
    if params.bandwidth <= 0:
        return np.asarray(mass / streets.lengths, dtype=float)
    kernel = streets.kernel(params.bandwidth)
    return np.asarray((kernel @ mass) / (kernel @ streets.lengths), dtype=float)


def cluster_incidents(incidents: gpd.GeoDataFrame, *, seed: int = 0) -> clusters.ClusterResult:
    """HDBSCAN clusters of incidents, as polygons in the incidents' CRS."""
    res = clusters.hdbscan_hotspots(
        incidents.geometry.x.to_numpy(), incidents.geometry.y.to_numpy(), seed=seed
    )
    res.polygons.set_crs(incidents.crs, inplace=True, allow_override=True)
    return res


def grid_scores(
    train: gpd.GeoDataFrame,
    grid: GridUnits,
    *,
    method: str = "kde",
    at: pd.Timestamp,
    params: MethodParams = MethodParams(),
    clustered: clusters.ClusterResult | None = None,
) -> npt.NDArray[np.float64]:
    """Score of each active grid cell.

    ``kde``: a binned Gaussian KDE of weighted incidents. ``naive_grid``: plain
    counts. ``gistar``: the count of cells that are significant Getis-Ord Gi*
    hot spots after false-discovery-rate correction (0 elsewhere). ``hdbscan``:
    the incident density of the HDBSCAN cluster polygon holding the cell's
    centre (0 outside clusters); pass `clustered` to reuse one clustering.
    """
    cells = grid.assign(train.geometry)
    if method == "gistar":
        counts = grid.raster(cells, np.ones(len(cells)))
        mask = np.zeros(grid.nx * grid.ny, dtype=bool)
        mask[grid.active] = True
        with warnings.catch_warnings():
            # sparse counts are reported by the backtest itself, not per call
            warnings.simplefilter("ignore", UserWarning)
            gi = clusters.gi_star(counts, cell_size=grid.cell, mask=mask.reshape(counts.shape))
        # every neighbour of a hot cell shares its high z; among the significant
        # cells, rank by the cell's own count
        hot = gi.significant_hot_mask.ravel()[grid.active]
        return np.where(hot, counts.ravel()[grid.active], 0.0)
    if method == "hdbscan":
        polys = (clustered or cluster_incidents(train)).polygons
        if polys.empty:
            return np.zeros(len(grid.active))
        row, col = np.divmod(grid.active, grid.nx)
        centres = shapely.points(
            grid.x0 + (col + 0.5) * grid.cell, grid.y0 + (row + 0.5) * grid.cell
        )
        tree = shapely.STRtree(polys.geometry.to_numpy())
        inside_cell, inside_poly = tree.query(centres, predicate="within")
        density = (polys["members"] / polys["area_m2"].clip(lower=1.0)).to_numpy()
        scores = np.zeros(len(grid.active))
        np.maximum.at(scores, inside_cell, density[inside_poly])
        return scores
    if method == "naive_grid":
        return np.bincount(cells[cells >= 0], minlength=len(grid.active)).astype(float)
    if method != "kde":
        msg = f"Unknown grid method {method!r}; use one of {GRID_METHODS}."
        raise ValueError(msg)
    w = incident_weights(train, at=at, half_life_days=params.half_life_days, by=params.weight_by)
    # binned KDE: weights on a fine grid, Gaussian smoothing, then summed per cell
    fine = max(10.0, grid.cell / 5.0)
    factor = max(1, round(grid.cell / fine))
    fine = grid.cell / factor
    fx = np.floor((train.geometry.x.to_numpy() - grid.x0) / fine).astype(np.int64)
    fy = np.floor((train.geometry.y.to_numpy() - grid.y0) / fine).astype(np.int64)
    nfx, nfy = grid.nx * factor, grid.ny * factor
    ok = (fx >= 0) & (fx < nfx) & (fy >= 0) & (fy < nfy)
    raster = np.zeros((nfy, nfx))
    np.add.at(raster, (fy[ok], fx[ok]), w[ok])
    dens = ndimage.gaussian_filter(raster, sigma=params.kde_bandwidth / fine, mode="constant")
    coarse = dens.reshape(grid.ny, factor, grid.nx, factor).sum(axis=(1, 3)).ravel()
    return np.asarray(coarse[grid.active], dtype=float)


# --------------------------------------------------------------------------- #
# rolling-origin backtest
# --------------------------------------------------------------------------- #
def backtest(
    incidents: gpd.GeoDataFrame,
    streets: StreetUnits | None,
    *,
    cut: str | pd.Timestamp,
    cuts: int = 3,
    horizon_days: int = 30,
    train_days: int = 365,
    coverages: Sequence[float] = (0.01, 0.05, 0.10),
    methods: Sequence[str] = ("segment", "naive", "counts", "kde", "naive_grid"),
    params: MethodParams = MethodParams(),
    grid_origins: int = 4,
    seed: int = 0,
    tuning_units: Mapping[float, StreetUnits] | None = None,
) -> dict[str, Any]:
    """Rolling-origin evaluation of hotspot methods against the naive baseline.

    For each of `cuts` cut dates (the last is `cut`, earlier ones step back by
    `horizon_days`), every method is fitted on the `train_days` before the
    cut (the naive baselines on the `horizon_days` before it: the prior
    period) and scored on the `horizon_days` after it: hit rate, PAI and PEI at
    each coverage (street length for street methods, area for grid methods,
    averaged over `grid_origins` seeded grid origins), and RRI of the flagged
    units. Figures are averaged over cuts.

    The method ``tuned`` runs `tune` at every cut on the incidents before it
    only (nested: the test period is never seen) and scores the winner; it
    needs `tuning_units`, street units for every unit length tuning tries.

    With `streets` None (an export with coordinates but no street network)
    only grid methods run, on a grid over the incidents (see `grid_units`).

    Returns
    -------
    report
        ``{"methods": {name: {"pai@0.05": ..., "hit@0.05": ..., "pei@0.05":
        ..., "rri": ..., "basis": "street_length" | "area"}}, "cuts": [...], ...}``.
        Each grid method run with street units also appears as
        ``<method>_by_length``: the same cell scores, ranked by score per metre
        of street in the cell and flagged until the cells hold the coverage
        share of street length, so grids and street units compare on one
        basis. With ``tuned``, ``methods`` also holds ``naive_tuned_units``: the naive
        baseline on the unit length tuning chose at each cut, the fair
        comparison for it (finer units alone raise PAI).
    """
    unknown = [m for m in methods if m not in (*SEGMENT_METHODS, *GRID_METHODS, "tuned")]
    if unknown:
        msg = f"Unknown methods {unknown}; use any of {(*SEGMENT_METHODS, *GRID_METHODS, 'tuned')}."
        raise ValueError(msg)
    if "tuned" in methods and not tuning_units:
        msg = "backtest: the 'tuned' method needs tuning_units (street units by unit length)."
        raise ValueError(msg)
    if streets is None and set(methods) - set(GRID_METHODS):
        msg = (
            f"Without a street network only grid methods can run ({', '.join(GRID_METHODS)}), "
            f"not {sorted(set(methods) - set(GRID_METHODS))}; give a network for the others."
        )
        raise ValueError(msg)
    last = pd.Timestamp(cut)
    cut_dates = [last - pd.Timedelta(days=horizon_days * i) for i in range(cuts)][::-1]
    rng = np.random.default_rng(seed)
    offsets = [(0.0, 0.0)] + [
        tuple(rng.uniform(0, params.cell_size, 2)) for _ in range(max(0, grid_origins - 1))
    ]
    area = streets if streets is not None else incidents.geometry
    grids = [grid_units(area, cell_size=params.cell_size, offset=o) for o in offsets]
    t = pd.to_datetime(incidents["received_at"])
    # snap every incident once per unit system; each cut takes its slice
    on_streets = (
        streets.assign(incidents.geometry)
        if streets is not None
        else np.full(len(incidents), -1, dtype=np.int64)
    )
    if streets is not None and len(incidents):
        _check_placed(on_streets, len(incidents))
    on_tuning: dict[float, npt.NDArray[np.int64]] = {}
    runs: dict[str, list[dict[str, float | None]]] = {m: [] for m in methods}
    choices: list[dict[str, Any]] = []
    used_cuts = []
    for c in cut_dates:
        in_train = ((t >= c - pd.Timedelta(days=train_days)) & (t < c)).to_numpy()
        in_test = ((t >= c) & (t < c + pd.Timedelta(days=horizon_days))).to_numpy()
        in_prior = ((t >= c - pd.Timedelta(days=horizon_days)) & (t < c)).to_numpy()
        train, test = incidents.loc[in_train], incidents.loc[in_test]
        if len(train) == 0 or len(test) == 0:
            log.warning(
                "cut %s: %d training and %d test incidents; skipped",
                c.date(),
                len(train),
                len(test),
            )
            continue
        used_cuts.append(str(c.date()))
        tr_units, te_units = on_streets[in_train], on_streets[in_test]
        n = len(streets.units) if streets is not None else 0
        tr_counts = np.bincount(tr_units[tr_units >= 0], minlength=n)
        te_counts = np.bincount(te_units[te_units >= 0], minlength=n)
        prior = incidents.loc[in_prior]
        for m in methods:
            fit_on = prior if m in {"naive", "naive_grid"} else train
            fit_mask = in_prior if m in {"naive", "naive_grid"} else in_train
            if m == "tuned":
                assert tuning_units is not None
                history = incidents.loc[(t < c).to_numpy()]
                choice = tune(
                    history,
                    tuning_units,
                    cut=c - pd.Timedelta(days=horizon_days),
                    horizon_days=horizon_days,
                    train_days=train_days,
                    coverage=0.05 if 0.05 in coverages else coverages[0],
                )["chosen"]
                ul = float(choice["unit_length"])
                st = tuning_units[ul]
                if ul not in on_tuning:
                    on_tuning[ul] = st.assign(incidents.geometry)
                snapped = on_tuning[ul]
                if choice["method"] == "naive":
                    scores = segment_scores(
                        prior, st, method="naive", at=c, assigned=snapped[in_prior]
                    )
                else:
                    p = tuned_params(choice, params)
                    scores = segment_scores(train, st, at=c, params=p, assigned=snapped[in_train])
                a_tr, a_te = snapped[in_train], snapped[in_test]
                k = len(st.units)
                tr_k = np.bincount(a_tr[a_tr >= 0], minlength=k)
                te_k = np.bincount(a_te[a_te >= 0], minlength=k)
                runs[m].append(_metrics(scores, st.lengths, tr_k, te_k, coverages))
                # finer units alone raise PAI: the fair baseline for the tuned
                # method is the naive one on the units it chose
                naive_here = segment_scores(
                    prior, st, method="naive", at=c, assigned=snapped[in_prior]
                )
                runs.setdefault("naive_tuned_units", []).append(
                    _metrics(naive_here, st.lengths, tr_k, te_k, coverages)
                )
                choices.append({"cut": str(c.date()), **choice})
            elif m in SEGMENT_METHODS:
                assert streets is not None
                scores = segment_scores(
                    fit_on, streets, method=m, at=c, params=params, assigned=on_streets[fit_mask]
                )
                runs[m].append(_metrics(scores, streets.lengths, tr_counts, te_counts, coverages))
            else:
                per_origin, by_length = [], []
                # one clustering per cut, whatever the grid origin
                clustered = cluster_incidents(fit_on, seed=seed) if m == "hdbscan" else None
                for g in grids:
                    scores = grid_scores(
                        fit_on, g, method=m, at=c, params=params, clustered=clustered
                    )
                    gtr, gte = g.assign(train.geometry), g.assign(test.geometry)
                    k = len(g.active)
                    gtr_k = np.bincount(gtr[gtr >= 0], minlength=k)
                    gte_k = np.bincount(gte[gte >= 0], minlength=k)
                    per_origin.append(_metrics(scores, g.sizes, gtr_k, gte_k, coverages))
                    if g.street_length is not None:
                        # the same cells, flagged until they hold the share of street
                        # length: comparable with the street methods
                        by_length.append(
                            _metrics(
                                scores / np.maximum(g.street_length, 1.0),
                                g.street_length,
                                gtr_k,
                                gte_k,
                                coverages,
                            )
                        )
                runs[m].append(_mean(per_origin))
                if by_length:
                    runs.setdefault(f"{m}_by_length", []).append(_mean(by_length))
    if not used_cuts:
        msg = (
            "No cut date has both training and test incidents: check --cut, --cuts and "
            "--horizon against the incidents' dates."
        )
        raise ValueError(msg)
    out: dict[str, Any] = {
        "cuts": used_cuts,
        "horizon_days": horizon_days,
        "train_days": train_days,
        "coverages": list(coverages),
        "params": asdict(params),
        "grid_origins": len(grids),
        "methods": {},
    }
    for m, rows in runs.items():
        summary = _mean(rows)
        summary["basis"] = "area" if m in GRID_METHODS else "street_length"  # type: ignore[assignment]
        if m.endswith("_by_length"):
            summary["basis"] = "street_length_in_cells"  # type: ignore[assignment]
        out["methods"][m] = summary
    if choices:
        out["tuned_choices"] = choices
    return out


def _metrics(
    scores: npt.NDArray[np.float64],
    sizes: npt.NDArray[np.float64],
    train_counts: npt.NDArray[np.int64],
    test_counts: npt.NDArray[np.int64],
    coverages: Sequence[float],
) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for c in coverages:
        flagged = evaluate.select_coverage(scores, sizes, c)
        out[f"hit@{c:g}"] = evaluate.hit_rate(test_counts, flagged)
        out[f"pai@{c:g}"] = evaluate.pai(test_counts, sizes, flagged)
        out[f"pei@{c:g}"] = evaluate.pei(test_counts, sizes, flagged)
        out[f"rri@{c:g}"] = evaluate.rri(train_counts, test_counts, flagged)
    key = 0.05 if 0.05 in coverages else coverages[len(coverages) // 2]
    out["rri"] = out[f"rri@{key:g}"]
    return out


def _mean(rows: Sequence[dict[str, float | None]]) -> dict[str, float | None]:
    if not rows:
        return {}
    out: dict[str, float | None] = {}
    for k in rows[0]:
        vals = [float(v) for r in rows if (v := r.get(k)) is not None]
        out[k] = round(float(np.mean(vals)), 5) if vals else None
    return out


# --------------------------------------------------------------------------- #
# the hotspot table
# --------------------------------------------------------------------------- #
#: Columns every hotspot table has, whatever the method (``count_<category>``
#: columns follow for the categories present).
HOTSPOT_COLUMNS: tuple[str, ...] = (
    "rank",
    "score",
    "method",
    "unit_id",
    "size",
    "risk",
    "count",
    "service_minutes",
    "top_call_types",
    "peak_hours",
    "profile",
    "first_seen",
    "last_seen",
    "trend",
    "trend_tau",
    "trend_p",
)


def find_hotspots(
    incidents: gpd.GeoDataFrame,
    streets: StreetUnits,
    *,
    method: str = "segment",
    params: MethodParams = MethodParams(),
    coverage: float = 0.05,
    at: str | pd.Timestamp | None = None,
    trend_months: int = 12,
    min_count: int = 1,
    rank_by: str = "metre",
) -> gpd.GeoDataFrame:
    """Rank units with a method and describe the hottest ones.

    Parameters
    ----------
    incidents
        Selected, geocoded incidents (see `select_incidents`).
    streets
        Street units of the area (grid methods build their grid over them).
    method
        ``segment``, ``naive``/``counts`` (street units), ``kde``/``naive_grid``/
        ``gistar`` (grid cells) or ``hdbscan`` (every cluster polygon).
    coverage
        Flag the top units covering this share of street length (street
        methods) or of the area with streets (grid methods).
    at
        Scoring date for recency weights; by default the day after the last incident.
    trend_months
        Months of counts behind each hotspot's trend class.
    min_count
        Units flagged by their neighbours' risk but holding fewer incidents
        than this are left out of the table (a CSO cannot act on them).
    rank_by
        ``"metre"`` (default): rank by risk per metre of street (or per m² of
        a cell), the ranking that catches the most calls for the street length
        flagged; ``"segment"``: by each unit's whole risk, so longer troubled
        stretches come first. The table carries both (``score`` per metre,
        ``risk`` per unit).

    Returns
    -------
    hotspots
        One row per hotspot, hottest first: `HOTSPOT_COLUMNS`, ``count_<category>``
        and the unit geometry (street piece or grid cell). ``size`` is metres
        of street or m² of area. Empty (with these columns) when no unit scores.
    """
    if rank_by not in {"metre", "segment"}:
        msg = f"rank_by must be 'metre' or 'segment', not {rank_by!r}."
        raise ValueError(msg)
    if incidents.empty:
        msg = (
            "No incidents match the selection (category, shift or dates): there is nothing "
            "to find hotspots in. Widen the filters."
        )
        raise ValueError(msg)
    t = pd.to_datetime(incidents["received_at"])
    when = pd.Timestamp(at) if at is not None else t.max().normalize() + pd.Timedelta(days=1)
    if method in SEGMENT_METHODS:
        scores = segment_scores(incidents, streets, method=method, at=when, params=params)
        unit_of = streets.assign(incidents.geometry)
        sizes = streets.lengths
        frame = streets.units[["unit_id", "u", "v", "key", "name", "geometry"]].copy()
    elif method == "hdbscan":
        # the clusters themselves are the hotspots, densest first
        clustered = cluster_incidents(incidents)
        polys = clustered.polygons.reset_index(drop=True)
        scores = (polys["members"] / polys["area_m2"].clip(lower=1.0)).to_numpy(dtype=float)
        unit_of = np.asarray(clustered.labels, dtype=np.int64)
        sizes = polys["area_m2"].to_numpy(dtype=float)
        frame = polys[["cluster_id", "geometry"]].rename(columns={"cluster_id": "unit_id"})
        coverage = 1.0
    elif method in GRID_METHODS:
        grid = grid_units(streets, cell_size=params.cell_size)
        scores = grid_scores(incidents, grid, method=method, at=when, params=params)
        unit_of = grid.assign(incidents.geometry)
        sizes = grid.sizes
        frame = grid.cells()[["unit_id", "geometry"]]
    else:
        msg = f"Unknown method {method!r}; use one of {SEGMENT_METHODS + GRID_METHODS}."
        raise ValueError(msg)
    if method != "hdbscan":
        _check_placed(unit_of, len(incidents))
    ranking = scores if rank_by == "metre" else scores * sizes
    flagged = np.flatnonzero(evaluate.select_coverage(ranking, sizes, coverage))
    order = flagged[np.lexsort((flagged, -ranking[flagged]))]
    out = frame.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(order) + 1))
    out.insert(1, "score", np.round(scores[order], 6))
    out.insert(2, "method", method)
    out["size"] = np.round(sizes[order], 1)
    out["risk"] = np.round(scores[order] * sizes[order], 6)
    months = pd.period_range(
        end=(when - pd.Timedelta(days=1)).to_period("M"), periods=trend_months, freq="M"
    )
    cats = sorted(incidents["category"].dropna().unique()) if "category" in incidents else []
    # group the incidents by unit once, then describe each flagged unit's slice
    by_unit = np.argsort(unit_of, kind="stable")
    sorted_units = unit_of[by_unit]
    lo = np.searchsorted(sorted_units, order, side="left")
    hi = np.searchsorted(sorted_units, order, side="right")
    described = [
        _describe(incidents.iloc[by_unit[a:b]], t.iloc[by_unit[a:b]], months, cats)
        for a, b in zip(lo, hi, strict=True)
    ]
    if not described:
        empty = gpd.GeoDataFrame(
            columns=[*HOTSPOT_COLUMNS, "geometry"], geometry="geometry", crs=streets.units.crs
        )
        empty.attrs.update(
            rank_by=rank_by,
            method=method,
            params=asdict(params),
            coverage=coverage,
            unit_length=streets.unit_length if method in SEGMENT_METHODS else None,
        )
        log.info("%s hotspots: no unit scores above zero", method)
        return empty
    stats_frame = pd.DataFrame(described, index=out.index)
    out = pd.concat([out, stats_frame], axis=1)
    out = out.loc[out["count"] >= min_count].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=streets.units.crs)
    out.attrs["method"] = method
    out.attrs["params"] = asdict(params)
    out.attrs["coverage"] = coverage
    out.attrs["rank_by"] = rank_by
    # the street units the hotspots are pieces of, so later stages can rebuild them
    out.attrs["unit_length"] = streets.unit_length if method in SEGMENT_METHODS else None
    log.info("%s hotspots: %d units flagged at %.0f%% coverage", method, len(out), coverage * 100)
    return out


def _check_placed(unit_of: npt.NDArray[np.int64], n: int) -> None:
    """Raise when no incident falls on the units; warn when some do not."""
    placed = int((unit_of >= 0).sum())
    if placed == 0:
        msg = (
            f"None of the {n:,} incidents lies on this network's streets (within 100 m) or "
            "in its grid: check that the network covers the incidents' area (same city)."
        )
        raise ValueError(msg)
    if placed < n:
        log.warning("%d of %d incidents lie off this network's streets; left out", n - placed, n)


def _describe(
    rows: pd.DataFrame, times: pd.Series, months: pd.PeriodIndex, categories: Sequence[str]
) -> dict[str, Any]:
    """Counts, call types, hour x weekday profile, first/last seen and trend of one unit."""
    out: dict[str, Any] = {"count": len(rows)}
    out["service_minutes"] = (
        round(float(pd.to_numeric(rows["service_minutes"], errors="coerce").fillna(0.0).sum()), 1)
        if "service_minutes" in rows
        else 0.0
    )
    for c in categories:
        out[f"count_{c}"] = int((rows["category"] == c).sum())
    if "call_type_code" in rows and len(rows):
        top = rows["call_type_code"].value_counts().head(3)
        out["top_call_types"] = ";".join(f"{k}:{v}" for k, v in top.items())
    else:
        out["top_call_types"] = ""
    profile = np.zeros((7, 24), dtype=int)
    if len(rows):
        np.add.at(profile, (times.dt.day_of_week.to_numpy(), times.dt.hour.to_numpy()), 1)
    by_hour = profile.sum(axis=0)
    # the busiest 3-hour window of the day, wrapping past midnight
    window = np.array([by_hour[[h, (h + 1) % 24, (h + 2) % 24]].sum() for h in range(24)])
    start = int(window.argmax())
    out["peak_hours"] = f"{start:02d}:00-{(start + 3) % 24:02d}:00" if len(rows) else ""
    out["profile"] = json.dumps(profile.tolist(), separators=(",", ":"))
    out["first_seen"] = times.min() if len(rows) else pd.NaT
    out["last_seen"] = times.max() if len(rows) else pd.NaT
    monthly = times.dt.to_period("M").value_counts().reindex(months, fill_value=0)
    trend = trend_class(monthly.to_numpy()) if len(months) >= 3 else Trend("none", 0.0, 1.0, 0.0)
    out["trend"] = trend.label
    out["trend_tau"] = round(trend.tau, 4)
    out["trend_p"] = round(trend.p_value, 4)
    return out


# --------------------------------------------------------------------------- #
# letting the agency's own history choose
# --------------------------------------------------------------------------- #
#: Settings `tune` tries for the segment method.
TUNING_GRID: dict[str, tuple[Any, ...]] = {
    "unit_length": (50.0, 100.0),
    "bandwidth": (0.0, 50.0, 150.0),
    "half_life_days": (None, 90.0, 180.0),
    "damping": ("sqrt", "none"),
    "weight_by": (None, "service_minutes"),
}

#: The settings a tuning choice holds beside its method and unit length.
TUNED_SETTINGS: tuple[str, ...] = ("bandwidth", "half_life_days", "damping", "weight_by")


def tuned_params(choice: Mapping[str, Any], base: MethodParams | None = None) -> MethodParams:
    """The `MethodParams` of a `tune` choice (``choice["chosen"]``), over `base`."""
    base = base or MethodParams()
    kw: dict[str, Any] = {k: choice[k] for k in TUNED_SETTINGS if k in choice}
    if kw.get("bandwidth") is None:
        kw["bandwidth"] = 0.0
    if kw.get("damping") is None:
        kw.pop("damping", None)
    return replace(base, **kw)


def tune(
    incidents: gpd.GeoDataFrame,
    units: Mapping[float, StreetUnits],
    *,
    cut: str | pd.Timestamp,
    cuts: int = 3,
    horizon_days: int = 30,
    train_days: int = 365,
    coverage: float = 0.05,
    grid: Mapping[str, Sequence[float | None]] | None = None,
) -> dict[str, Any]:
    """Choose the segment method's settings by rolling-origin backtest on history.

    Every combination in `grid` (unit length, bandwidth, recency half-life,
    damping and weighting; `TUNING_GRID` by default) and the naive baseline
    are scored by mean PAI at `coverage` over `cuts` cut dates ending at `cut`,
    using only incidents before ``cut + horizon``; pass a `cut` one horizon
    before the period you will predict so it is never seen.
    When no setting beats the naive baseline, the baseline is chosen, and the
    result says so.

    Parameters
    ----------
    units
        Street units keyed by unit length (every length in the grid).

    Returns
    -------
    tuning
        ``chosen`` (``method`` and settings), ``score`` (its mean PAI),
        ``naive_score``, ``beats_naive`` and every ``candidates`` row.
    """
    space = dict(grid or TUNING_GRID)
    missing = [u for u in space["unit_length"] if u not in units]
    if missing:
        msg = f"tune: no street units of length {missing}; build them with street_units()."
        raise ValueError(msg)
    last = pd.Timestamp(cut)
    cut_dates = [last - pd.Timedelta(days=horizon_days * i) for i in range(cuts)][::-1]
    t = pd.to_datetime(incidents["received_at"])
    candidates: list[dict[str, Any]] = []
    for ul in space["unit_length"]:
        st = units[float(ul)]
        assigned = st.assign(incidents.geometry)
        n = len(st.units)
        folds = []
        for c in cut_dates:
            tr = ((t >= c - pd.Timedelta(days=train_days)) & (t < c)).to_numpy()
            pr = ((t >= c - pd.Timedelta(days=horizon_days)) & (t < c)).to_numpy()
            te = ((t >= c) & (t < c + pd.Timedelta(days=horizon_days))).to_numpy()
            if tr.any() and te.any():
                test_counts = np.bincount(assigned[te & (assigned >= 0)], minlength=n)
                folds.append((c, tr, pr, test_counts))
        if not folds:
            continue
        naive = [
            evaluate.pai(
                tc,
                st.lengths,
                evaluate.select_coverage(
                    np.bincount(assigned[pr & (assigned >= 0)], minlength=n) / st.lengths,
                    st.lengths,
                    coverage,
                ),
            )
            for _, _, pr, tc in folds
        ]
        candidates.append(
            {
                "method": "naive",
                "unit_length": ul,
                **dict.fromkeys(TUNED_SETTINGS),
                "pai": float(np.mean(naive)),
            }
        )
        keys = [k for k in TUNED_SETTINGS if k in space]
        for combo in itertools.product(*(space[k] for k in keys)):
            setting = dict(zip(keys, combo, strict=True))
            params = tuned_params(setting)
            pais = []
            for c, tr, _, tc in folds:
                scores = segment_scores(
                    incidents.loc[tr], st, at=c, params=params, assigned=assigned[tr]
                )
                flagged = evaluate.select_coverage(scores, st.lengths, coverage)
                pais.append(evaluate.pai(tc, st.lengths, flagged))
            candidates.append(
                {
                    "method": "segment",
                    "unit_length": ul,
                    **{k: getattr(params, k) for k in TUNED_SETTINGS},
                    "pai": float(np.mean(pais)),
                }
            )
    if not candidates:
        msg = (
            "tune: no cut date has both history and a test period; give more months of "
            "incidents or fewer cuts."
        )
        raise ValueError(msg)
    # deterministic choice: best PAI, then the simpler (naive, shorter bandwidth) on ties
    ranked = sorted(
        candidates,
        key=lambda r: (
            -round(r["pai"], 9),
            r["method"] != "naive",
            r["bandwidth"] or 0.0,
            r["half_life_days"] or 0.0,
            r["damping"] != "none",
            r["weight_by"] is not None,
            r["unit_length"],
        ),
    )
    best_naive = max(r["pai"] for r in candidates if r["method"] == "naive")
    chosen = ranked[0]
    return {
        "chosen": {k: chosen[k] for k in ("method", "unit_length", *TUNED_SETTINGS)},
        "score": round(chosen["pai"], 5),
        "naive_score": round(best_naive, 5),
        "beats_naive": chosen["method"] != "naive" and chosen["pai"] > best_naive,
        "coverage": coverage,
        "cuts": [str(c.date()) for c in cut_dates],
        "candidates": candidates,
    }
