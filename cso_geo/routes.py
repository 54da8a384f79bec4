"""Foot and vehicle patrol routes: hotspot tours, street-coverage walks, GPX and route sheets.

What a CSO takes into the shift: where to go, in what order, how long to stay
and why.

* `hotspot_tour` picks and orders the hotspots of a beat to visit between a
  start and an end point within the shift's patrol time (an orienteering
  problem): an exact dynamic programme for up to `EXACT_MAX` candidate visits,
  OR-Tools routing with guided local search above that. Travel times come from
  `TravelGraph` (one CSR matrix per graph, multi-source Dijkstra from
  `scipy.sparse.csgraph`); the drive graph keeps its one-ways.
* `postman_route` walks every street of a beat at least once (rural postman:
  components joined by a minimum spanning tree of shortest connections, odd
  nodes paired by minimum-weight matching, then an Eulerian path) and folds in
  hotspot dwells where it passes them.
* `route_geojson`, `route_gpx`, `route_sheet` and `write_route` write the
  outputs: GeoJSON, GPX 1.1 (track and waypoints) and a printable HTML sheet
  with an inline SVG map.

Times are local wall-clock times of the shift (no time zone).
"""

from __future__ import annotations

import html
import itertools
import json
import logging
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import gpxpy
import gpxpy.gpx
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import Transformer
from scipy.sparse import csgraph
from shapely.geometry.base import BaseGeometry

from cso_geo._errors import InfeasibleError
from cso_geo._io import atomic_write_text
from cso_geo.network import STREET_CLASSES, StreetNetwork
from cso_geo.snapping import EdgeIndex

log = logging.getLogger(__name__)

__all__ = [
    "DWELL_BOUNDS",
    "EXACT_MAX",
    "Break",
    "Route",
    "Shift",
    "Stop",
    "TravelGraph",
    "beat_hotspots",
    "hotspot_tour",
    "parse_route_shift",
    "postman_route",
    "route_geojson",
    "route_gpx",
    "route_id",
    "route_sheet",
    "solve_orienteering",
    "write_route",
]

#: Allowed dwell at a hotspot in minutes (Koper: 10-16 minutes is the best stay).
DWELL_BOUNDS = (10.0, 16.0)
#: Largest number of candidate visits solved exactly (bitmask dynamic programme).
EXACT_MAX = 12
#: Farthest a start/end point may lie from the mode's graph, in metres.
MAX_SNAP_M = 250.0
#: Farthest a hotspot's midpoint may lie from the mode's graph to be visited, in metres.
MAX_STOP_SNAP_M = 150.0


# --------------------------------------------------------------------------- #
# shifts and breaks
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Shift:
    """One shift: local start and end (the end may be on the next day)."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def minutes(self) -> float:
        """Shift length in minutes."""
        return float((self.end - self.start).total_seconds() / 60.0)

    @property
    def label(self) -> str:
        """``2025-12-01_0800-1600``, as used in route ids."""
        return f"{self.start:%Y-%m-%d}_{self.start:%H%M}-{self.end:%H%M}"

    def hours(self) -> list[int]:
        """Hours of the day the shift touches, in order (wrapping past midnight)."""
        out: list[int] = []
        t = self.start.floor("h")
        while t < self.end:
            if t.hour not in out:
                out.append(t.hour)
            t += pd.Timedelta(hours=1)
        return out


@dataclass(frozen=True)
class Break:
    """A break of `minutes` taken at the first stop reached at or after local time `at`."""

    at: str
    minutes: float = 30.0

    def offset(self, shift: Shift) -> float:
        """Minutes after the shift's start at which the break is due."""
        m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", self.at)
        if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
            msg = f"A break time is written HH:MM (e.g. 12:00), not {self.at!r}."
            raise InfeasibleError(msg)
        t = shift.start.normalize() + pd.Timedelta(hours=int(m.group(1)), minutes=int(m.group(2)))
        if t < shift.start:
            t += pd.Timedelta(days=1)
        off = (t - shift.start).total_seconds() / 60.0
        if off >= shift.minutes:
            msg = (
                f"Break at {self.at} is outside the shift {shift.start:%Y-%m-%d %H:%M}-"
                f"{shift.end:%H:%M}; give a time within the shift."
            )
            raise InfeasibleError(msg)
        return float(off)


def parse_route_shift(text: str) -> Shift:
    """``"2025-12-01 08:00-16:00"`` -> `Shift`; an end at or before the start is the next day.

    Raises `InfeasibleError` for a malformed text or a shift of zero length.
    """
    m = re.fullmatch(
        r"\s*(\d{4}-\d{2}-\d{2})[ T]+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text
    )
    if not m:
        msg = (
            f"A route shift is written 'YYYY-MM-DD HH:MM-HH:MM' (e.g. '2025-12-01 08:00-16:00' "
            f"or '2025-12-01 22:00-06:00'), not {text!r}."
        )
        raise InfeasibleError(msg)
    day, h1, m1, h2, m2 = m.group(1), *(int(g) for g in m.groups()[1:])
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
        msg = f"Shift {text!r} has an hour above 23 or minutes above 59."
        raise InfeasibleError(msg)
    try:
        base = pd.Timestamp(day)
    except ValueError as exc:
        msg = f"Shift {text!r} has an invalid date {day!r}."
        raise InfeasibleError(msg) from exc
    start = base + pd.Timedelta(hours=h1, minutes=m1)
    end = base + pd.Timedelta(hours=h2, minutes=m2)
    if end == start:
        msg = f"Shift {text!r} has zero length: give an end time different from the start."
        raise InfeasibleError(msg)
    if end < start:
        end += pd.Timedelta(days=1)
    return Shift(start, end)


def route_id(beat_id: Any, shift: Shift, mode: str, *, kind: str = "tour") -> str:
    """``beat-3_2025-12-01_0800-1600_foot`` (``..._foot-streets`` for a street-coverage walk)."""
    suffix = "-streets" if kind == "postman" else ""
    return f"beat-{beat_id}_{shift.label}_{_mode(mode)}{suffix}"


def _mode(mode: str) -> str:
    if mode in {"foot", "walk"}:
        return "foot"
    if mode in {"drive", "vehicle"}:
        return "drive"
    msg = f"Unknown patrol mode {mode!r}; use 'foot' or 'drive' ('walk'/'vehicle' also work)."
    raise InfeasibleError(msg)


# --------------------------------------------------------------------------- #
# travel times
# --------------------------------------------------------------------------- #
class TravelGraph:
    """A street graph as one CSR matrix for fast multi-source shortest paths.

    Parallel edges keep the quickest; edges on avoided streets or crossing
    avoided areas are dropped before the matrix is built. Directed graphs keep
    their direction (one-ways on the drive graph).

    Parameters
    ----------
    G
        A projected osmnx-style ``MultiDiGraph`` with ``travel_time``,
        ``length``, ``geometry``, ``name`` and ``highway`` on every edge.
    weight
        Edge attribute to minimise (``travel_time`` in seconds, or ``length``).
    avoid_streets
        Street names to leave out (case-insensitive).
    avoid_areas
        Polygons (projected CRS) whose streets are left out.
    """

    def __init__(
        self,
        G: nx.MultiDiGraph,
        *,
        weight: str = "travel_time",
        avoid_streets: Iterable[str] = (),
        avoid_areas: BaseGeometry | None = None,
    ) -> None:
        t0 = time.perf_counter()
        self.G = G
        self.weight = weight
        self.nodes: list[Any] = list(G.nodes)
        self.index: dict[Any, int] = {n: i for i, n in enumerate(self.nodes)}
        self.xy = np.array([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in self.nodes], dtype=float)
        avoid = {s.strip().casefold() for s in avoid_streets if s.strip()}
        rows = []
        for u, v, k, d in G.edges(keys=True, data=True):
            if avoid and _name_text(d.get("name")).casefold() in avoid:
                continue
            rows.append((self.index[u], self.index[v], k, float(d[weight]), d["geometry"]))
        if avoid_areas is not None and rows:
            hit = shapely.intersects(np.array([r[4] for r in rows], dtype=object), avoid_areas)
            rows = [r for r, h in zip(rows, hit, strict=True) if not h]
        self.dropped = G.number_of_edges() - len(rows)
        # the quickest of parallel edges wins; ties go to the lower key
        rows.sort(key=lambda r: (r[0], r[1], r[3], r[2]))
        best: dict[tuple[int, int], tuple[int, int, Any, float]] = {}
        for ui, vi, k, w, _ in rows:
            best.setdefault((ui, vi), (ui, vi, k, w))
        kept = [r for r in best.values() if r[0] != r[1]]
        n = len(self.nodes)
        ui_ = np.array([r[0] for r in kept], dtype=np.int64)
        vi_ = np.array([r[1] for r in kept], dtype=np.int64)
        # csgraph reads a stored zero as "no edge": keep zero-cost edges a hair above zero
        w_ = np.maximum(np.array([r[3] for r in kept], dtype=float), 1e-6)
        self.matrix = sp.csr_matrix((w_, (ui_, vi_)), shape=(n, n))
        self.edge_key: dict[tuple[int, int], Any] = {(r[0], r[1]): r[2] for r in kept}
        self.directed = bool(G.is_directed())
        self._index: EdgeIndex | None = None
        log.info(
            "travel graph: %d nodes, %d edges (%d avoided) in %.2fs",
            n,
            len(kept),
            self.dropped,
            time.perf_counter() - t0,
        )

    @property
    def edge_index(self) -> EdgeIndex:
        """The `EdgeIndex` of the kept edges, built on first use."""
        if self._index is None:
            keys, geoms = [], []
            for (ui, vi), k in self.edge_key.items():
                keys.append((self.nodes[ui], self.nodes[vi], k))
                geoms.append(self.G.edges[self.nodes[ui], self.nodes[vi], k]["geometry"])
            self._index = EdgeIndex.from_lines(geoms, keys)
        return self._index

    def shortest(
        self, sources: Sequence[int]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32]]:
        """Costs and predecessors from each source (node positions) to every node."""
        dist, pred = csgraph.dijkstra(
            self.matrix, directed=True, indices=np.asarray(sources), return_predecessors=True
        )
        return np.atleast_2d(dist), np.atleast_2d(pred)

    @staticmethod
    def path(pred_row: npt.NDArray[np.int32], source: int, target: int) -> list[int]:
        """Node positions from `source` to `target` read off one predecessor row."""
        out = [target]
        while out[-1] != source:
            p = int(pred_row[out[-1]])
            if p < 0:
                msg = f"node {target} is not reachable from node {source}"
                raise ValueError(msg)
            out.append(p)
        return out[::-1]

    def snap(self, x: float, y: float) -> tuple[int, float, float, float]:
        """Nearest kept edge to a point: (node position, distance m, snap x, snap y).

        The node is the nearer end of that edge.
        """
        s = self.edge_index.snap([x], [y]).iloc[0]
        if int(s["edge"]) < 0:
            msg = f"Point ({x:.1f}, {y:.1f}) is not a finite coordinate."
            raise InfeasibleError(msg)
        u, v, k = int(s["u"]), int(s["v"]), int(s["key"])
        length = float(self.G.edges[u, v, k]["geometry"].length)
        node = u if float(s["along"]) <= length / 2.0 else v
        return self.index[node], float(s["dist"]), float(s["snap_x"]), float(s["snap_y"])


def _name_text(name: Any) -> str:
    if isinstance(name, list | tuple):
        return " / ".join(str(x) for x in name if x)
    if name is None or (isinstance(name, float) and math.isnan(name)):
        return ""
    return str(name)


def _highway_text(hw: Any) -> str:
    if isinstance(hw, list | tuple):
        return str(hw[0]) if hw else "way"
    return str(hw) if hw else "way"


# --------------------------------------------------------------------------- #
# orienteering
# --------------------------------------------------------------------------- #
def solve_orienteering(
    travel: npt.ArrayLike,
    risk: npt.ArrayLike,
    service: npt.ArrayLike,
    budget: float,
    *,
    windows: npt.ArrayLike | None = None,
    required: npt.ArrayLike | None = None,
    method: str = "auto",
    time_limit: float = 5.0,
    solution_limit: int = 250,
) -> list[int] | None:
    """Choose and order visits to maximise risk within a time budget.

    Parameters
    ----------
    travel
        ``(n + 2, n + 2)`` travel times: row/column 0 is the start, 1..n the
        candidate visits, n + 1 the end. ``inf`` where unreachable.
    risk, service
        Value and service (dwell) time of each of the n candidates.
    budget
        Time available from leaving the start to reaching the end.
    windows
        ``(n, 2)`` earliest and latest arrival at each candidate (waiting
        allowed), in the units of `travel`; default no window.
    required
        Boolean mask of candidates that must be visited.
    method
        ``"exact"`` (bitmask dynamic programme, n <= 20), ``"ortools"``
        (routing with guided local search), or ``"auto"`` (exact for
        n <= `EXACT_MAX`).
    time_limit, solution_limit
        OR-Tools search limits; the search is deterministic when it stops at
        the solution limit (the time limit is a safety net).

    Returns
    -------
    order
        Candidate indices (0-based) in visiting order, or None when not even
        the required visits fit (or the end cannot be reached in time).
    """
    T = np.asarray(travel, dtype=float)
    r = np.asarray(risk, dtype=float)
    s = np.asarray(service, dtype=float)
    n = len(r)
    if T.shape != (n + 2, n + 2) or s.shape != (n,):
        msg = f"travel must be ({n + 2}, {n + 2}) and service ({n},); got {T.shape}, {s.shape}"
        raise ValueError(msg)
    win = np.asarray(windows, dtype=float) if windows is not None else None
    if win is None:
        win = np.column_stack([np.zeros(n), np.full(n, np.inf)])
    req = np.zeros(n, dtype=bool) if required is None else np.asarray(required, dtype=bool)
    if method == "auto":
        method = "exact" if n <= EXACT_MAX else "ortools"
    if method == "exact":
        return _exact_orienteering(T, r, s, float(budget), win=win, req=req)
    if method == "ortools":
        return _ortools_orienteering(
            T,
            r,
            s,
            float(budget),
            win=win,
            req=req,
            time_limit=time_limit,
            solution_limit=solution_limit,
        )
    msg = f"Unknown orienteering method {method!r}; use 'auto', 'exact' or 'ortools'."
    raise ValueError(msg)


def _exact_orienteering(
    T: npt.NDArray[np.float64],
    r: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    budget: float,
    *,
    win: npt.NDArray[np.float64],
    req: npt.NDArray[np.bool_],
) -> list[int] | None:
    """Bitmask DP over (visited set, last visit) keeping the earliest finish (exact)."""
    n = len(r)
    if n > 20:
        msg = f"The exact solver handles at most 20 candidates, not {n}."
        raise ValueError(msg)
    end = n + 1
    eps = 1e-9
    if T[0, end] > budget + eps:
        return None
    if n == 0:
        return []
    full = 1 << n
    best = np.full((full, n), np.inf)  # earliest departure from `last` after its service
    parent = np.full((full, n), -1, dtype=np.int64)  # previous visit, -2 = the start
    Tc = T[1 : n + 1, 1 : n + 1]
    to_end = T[1 : n + 1, end]
    lo, hi = win[:, 0], win[:, 1]
    bits = 1 << np.arange(n)
    arr0 = np.maximum(T[0, 1 : n + 1], lo)
    ok0 = (arr0 <= hi + eps) & (arr0 + s + to_end <= budget + eps)
    for j in np.flatnonzero(ok0):
        best[bits[j], j] = arr0[j] + s[j]
        parent[bits[j], j] = -2
    for mask in range(1, full):
        row = best[mask]
        if not np.isfinite(row).any():
            continue
        cand = row[:, None] + Tc  # from i (rows) to j (columns)
        i_best = cand.argmin(axis=0)
        arr = np.maximum(cand[i_best, np.arange(n)], lo)
        ok = ((mask & bits) == 0) & (arr <= hi + eps) & (arr + s + to_end <= budget + eps)
        for j in np.flatnonzero(ok):
            nm = mask | int(bits[j])
            dep = arr[j] + s[j]
            if dep < best[nm, j] - eps:
                best[nm, j] = dep
                parent[nm, j] = i_best[j]
    finish = best + to_end[None, :]
    finish[best == np.inf] = np.inf
    masks = np.arange(full)
    req_mask = int(bits[req].sum()) if req.any() else 0
    value = ((masks[:, None] & bits[None, :]) > 0) @ r
    feasible: npt.NDArray[np.bool_] = np.asarray((finish <= budget + eps).any(axis=1))
    feasible[0] = T[0, end] <= budget + eps
    feasible &= (masks & req_mask) == req_mask
    if not feasible.any():
        return None
    best_finish = np.where(np.isfinite(finish).any(axis=1), finish.min(axis=1), np.inf)
    best_finish[0] = T[0, end]
    # most risk; then the quickest; then the lowest mask (deterministic)
    order = np.lexsort((masks, best_finish, -np.round(value, 9)))
    chosen = int(next(m for m in order if feasible[m]))
    if chosen == 0:
        return []
    last = int(finish[chosen].argmin())
    seq = []
    mask = chosen
    while last >= 0:
        seq.append(last)
        prev = int(parent[mask, last])
        mask &= ~int(bits[last])
        last = prev
    return seq[::-1]


#: OR-Tools first-solution strategy and risk-penalty scale, chosen on random instances
#: against brute force (the best of the strategies and scales tried).
_FIRST = "PATH_CHEAPEST_ARC"
_SCALE = 20.0


def _ortools_orienteering(
    T: npt.NDArray[np.float64],
    r: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    budget: float,
    *,
    win: npt.NDArray[np.float64],
    req: npt.NDArray[np.bool_],
    time_limit: float,
    solution_limit: int,
) -> list[int] | None:
    """Prize-collecting routing: dropped visits cost a penalty proportional to risk."""
    from ortools.constraint_solver import (  # noqa: PLC0415
        pywrapcp,
        routing_enums_pb2,
    )
    from ortools.util import optional_boolean_pb2  # noqa: PLC0415

    n = len(r)
    end = n + 1
    if T[0, end] > budget:
        return None
    big = math.ceil(budget) * 10 + 1
    # whole seconds, rounded up so the integer plan also fits in real time
    Ti = np.where(np.isfinite(T), np.ceil(T), big).astype(np.int64)
    si = np.concatenate([[0], np.ceil(s), [0]]).astype(np.int64)
    manager = pywrapcp.RoutingIndexManager(n + 2, 1, [0], [end])
    routing = pywrapcp.RoutingModel(manager)

    # a transit matrix is evaluated in C++, far faster than a Python callback
    cb = routing.RegisterTransitMatrix((Ti + si[:, None]).tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cb)
    cap = math.floor(budget)
    routing.AddDimension(cb, cap, cap, True, "time")
    tdim = routing.GetDimensionOrDie("time")
    total = float(r.sum()) or 1.0
    for j in range(n):
        idx = manager.NodeToIndex(j + 1)
        lo = math.ceil(win[j, 0])
        hi = int(min(math.floor(win[j, 1]) if np.isfinite(win[j, 1]) else cap, cap))
        if lo > hi:
            if req[j]:
                return None
            routing.AddDisjunction([idx], 0)
            routing.solver().Add(routing.ActiveVar(idx) == 0)
            continue
        tdim.CumulVar(idx).SetRange(lo, hi)
        if not req[j]:
            # leaving out all the risk costs _SCALE budgets of travel: risk dominates, while
            # travel still guides the search (with a 1e12 scale it stalls); `_polish` then
            # re-inserts any visit that still fits
            routing.AddDisjunction([idx], round(r[j] / total * _SCALE * budget))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, _FIRST)
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    # moves that trade visited for unvisited stops, off by default, are what a
    # prize-collecting tour needs to leave local optima
    ops = params.local_search_operators
    on = optional_boolean_pb2.BOOL_TRUE
    for name in (
        "use_extended_swap_active",
        "use_relocate_and_make_active",
        "use_exchange_and_make_active",
    ):
        setattr(ops, name, on)
    params.time_limit.FromMilliseconds(int(time_limit * 1000))
    params.solution_limit = solution_limit
    params.log_search = False
    sol = routing.SolveWithParameters(params)
    if sol is None:
        return None
    order = []
    idx = routing.Start(0)
    while not routing.IsEnd(idx):
        node = manager.IndexToNode(idx)
        if 1 <= node <= n:
            order.append(node - 1)
        idx = sol.Value(routing.NextVar(idx))
    return _polish(order, T, r, s, budget, win=win)


def _finish(
    seq: Sequence[int],
    T: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    win: npt.NDArray[np.float64],
) -> float:
    """Time at the end after visiting `seq` (waiting at windows), inf if a window is missed."""
    t, prev = 0.0, 0
    for j in seq:
        t = max(t + T[prev, j + 1], win[j, 0])
        if t > win[j, 1] + 1e-9:
            return math.inf
        t += s[j]
        prev = j + 1
    return float(t + T[prev, len(s) + 1])


def _polish(
    order: list[int],
    T: npt.NDArray[np.float64],
    r: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    budget: float,
    *,
    win: npt.NDArray[np.float64],
    max_rounds: int = 50,
) -> list[int]:
    """Insert left-out visits that still fit, and swap a visit for a riskier one.

    Guided local search stalls on some prize-collecting instances (a gap of a
    few per cent on 8-visit instances against brute force); these two moves,
    each at its cheapest feasible position, close most of it.
    """
    seq = list(order)
    n = len(r)
    for _ in range(max_rounds):
        out = sorted(set(range(n)) - set(seq), key=lambda j: (-r[j], j))
        best: tuple[float, float, list[int]] | None = None
        for j in out:  # insert the riskiest visit that fits
            for p in range(len(seq) + 1):
                cand = [*seq[:p], j, *seq[p:]]
                f = _finish(cand, T, s, win)
                if f <= budget + 1e-9 and (best is None or f < best[1]):
                    best = (r[j], f, cand)
            if best is not None:
                break
        if best is None:  # swap a visit for a riskier left-out one
            gain = 0.0
            for i_pos, i in enumerate(seq):
                rest = seq[:i_pos] + seq[i_pos + 1 :]
                for j in out:
                    if r[j] - r[i] <= gain + 1e-12:
                        continue
                    for p in range(len(rest) + 1):
                        cand = [*rest[:p], j, *rest[p:]]
                        if _finish(cand, T, s, win) <= budget + 1e-9:
                            gain, best = r[j] - r[i], (r[j], 0.0, cand)
                            break
        if best is None:
            break
        seq = best[2]
    return seq


# --------------------------------------------------------------------------- #
# routes
# --------------------------------------------------------------------------- #
@dataclass
class Stop:
    """One point of a route: the start, a hotspot stop or the end."""

    seq: int
    kind: str  # start | stop | end
    x: float
    y: float
    arrive: pd.Timestamp
    depart: pd.Timestamp
    dwell_min: float = 0.0
    wait_min: float = 0.0
    break_min: float = 0.0
    hotspot_rank: int | None = None
    name: str = ""
    reason: str = ""
    top_call_types: str = ""
    peak_hours: str = ""
    risk: float = 0.0
    visit: int = 1
    lon: float = float("nan")
    lat: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready properties (ISO local times)."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "arrive": self.arrive.isoformat(),
            "depart": self.depart.isoformat(),
            "dwell_min": round(self.dwell_min, 2),
            "wait_min": round(self.wait_min, 2),
            "break_min": round(self.break_min, 2),
            "hotspot_rank": self.hotspot_rank,
            "name": self.name,
            "reason": self.reason,
            "top_call_types": self.top_call_types,
            "peak_hours": self.peak_hours,
            "risk": round(self.risk, 6),
            "visit": self.visit,
            "lon": round(self.lon, 7),
            "lat": round(self.lat, 7),
        }


@dataclass
class Step:
    """One edge walked or driven, oriented in the direction of travel."""

    u: Any
    v: Any
    name: str
    highway: str
    length: float
    seconds: float
    geometry: shapely.LineString


@dataclass
class Route:
    """A planned patrol route and everything a route sheet shows."""

    route_id: str
    beat_id: Any
    mode: str
    kind: str  # tour | postman
    shift: Shift
    crs: str
    stops: list[Stop]
    steps: list[Step]
    stop_steps: list[int]  # steps walked before reaching each stop
    patrol_min: float
    risk_covered: float
    risk_available: float
    feasible: bool
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def path_nodes(self) -> list[Any]:
        """Graph nodes in travel order."""
        if not self.steps:
            return []
        return [self.steps[0].u, *(st.v for st in self.steps)]

    @property
    def geometry(self) -> shapely.LineString:
        """The full path as one line in the projected CRS."""
        coords: list[tuple[float, ...]] = []
        for st in self.steps:
            c = list(st.geometry.coords)
            coords.extend(c[1:] if coords else c)
        if len(coords) < 2:
            p = (self.stops[0].x, self.stops[0].y)
            coords = [p, p]
        return shapely.LineString(coords)

    @property
    def distance_m(self) -> float:
        """Metres travelled."""
        return float(sum(st.length for st in self.steps))

    @property
    def travel_min(self) -> float:
        """Minutes moving."""
        return float(sum(st.seconds for st in self.steps) / 60.0)

    @property
    def dwell_min(self) -> float:
        """Minutes spent at stops (dwells only, no waits or breaks)."""
        return float(sum(s.dwell_min for s in self.stops))

    @property
    def duration_min(self) -> float:
        """Minutes from leaving the start to reaching the end (breaks and waits included)."""
        return float((self.stops[-1].arrive - self.stops[0].depart).total_seconds() / 60.0)

    def directions(self) -> list[dict[str, Any]]:
        """Turn-by-turn directions, with a row at each stop."""
        out: list[dict[str, Any]] = []
        bounds = [0, *self.stop_steps[1:]]
        for i in range(1, len(self.stops)):
            leg = self.steps[bounds[i - 1] : bounds[i]]
            out.extend(_leg_directions(leg))
            stop = self.stops[i]
            if stop.kind == "end":
                out.append({"street": stop.name, "distance_m": 0.0, "instruction": "Arrive at end"})
            else:
                out.append(
                    {
                        "street": stop.name,
                        "distance_m": 0.0,
                        "instruction": f"Stop {stop.seq}: stay {stop.dwell_min:.0f} min",
                    }
                )
        return out

    def summary(self) -> dict[str, Any]:
        """The JSON summary (keys as in the routes file contract)."""
        return {
            "route_id": self.route_id,
            "beat_id": _jsonable(self.beat_id),
            "mode": self.mode,
            "kind": self.kind,
            "shift_start": self.shift.start.isoformat(),
            "shift_end": self.shift.end.isoformat(),
            "patrol_min": round(self.patrol_min, 2),
            "duration_min": round(self.duration_min, 2),
            "travel_min": round(self.travel_min, 2),
            "dwell_min": round(self.dwell_min, 2),
            "distance_km": round(self.distance_m / 1000.0, 3),
            "stops": [s.to_dict() for s in self.stops],
            "risk_covered": round(self.risk_covered, 6),
            "risk_available": round(self.risk_available, 6),
            "feasible": bool(self.feasible),
            "warnings": list(self.warnings),
            "directions": self.directions(),
            **{k: _jsonable(v) for k, v in self.extra.items()},
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


def _bearing(a: Sequence[float], b: Sequence[float]) -> float:
    return math.degrees(math.atan2(b[0] - a[0], b[1] - a[1])) % 360.0


def _turn(delta: float) -> str:
    a = abs(delta)
    side = "right" if delta > 0 else "left"
    if a < 25:
        return "Continue onto"
    if a < 60:
        return f"Bear {side} onto"
    if a < 150:
        return f"Turn {side} onto"
    return "Make a U-turn onto"


def _leg_directions(leg: Sequence[Step]) -> list[dict[str, Any]]:
    """Merge consecutive edges of one street; a turn instruction where the street changes."""
    out: list[dict[str, Any]] = []
    prev_end: Sequence[float] | None = None
    prev_pt: Sequence[float] | None = None
    for st in leg:
        street = st.name or st.highway
        c = list(st.geometry.coords)
        if out and out[-1]["street"] == street:
            out[-1]["distance_m"] += st.length
        else:
            if prev_end is None or prev_pt is None or len(c) < 2:
                instruction = "Head out on" if not out else "Continue onto"
            else:
                delta = (_bearing(c[0], c[1]) - _bearing(prev_pt, prev_end) + 540.0) % 360.0
                instruction = _turn(delta - 180.0)
            out.append({"street": street, "distance_m": st.length, "instruction": instruction})
        if len(c) >= 2:
            prev_pt, prev_end = c[-2], c[-1]
    for row in out:
        row["distance_m"] = round(float(row["distance_m"]), 1)
        row["instruction"] = f"{row['instruction']} {row['street']} for {row['distance_m']:.0f} m"
    return out


def _steps_for(tg: TravelGraph, nodes_pos: Sequence[int]) -> list[Step]:
    """Edges along a path of node positions (the kept, quickest edge of each pair)."""
    steps = []
    for a, b in itertools.pairwise(nodes_pos):
        u, v = tg.nodes[a], tg.nodes[b]
        k = tg.edge_key[(a, b)]
        d = tg.G.edges[u, v, k]
        steps.append(
            Step(
                u,
                v,
                _name_text(d.get("name")),
                _highway_text(d.get("highway")),
                float(d["length"]),
                float(d["travel_time"]),
                d["geometry"],
            )
        )
    return steps


# --------------------------------------------------------------------------- #
# hotspots of a beat
# --------------------------------------------------------------------------- #
def _risk(hotspots: pd.DataFrame) -> npt.NDArray[np.float64]:
    col = "score" if "score" in hotspots else "count"
    if col not in hotspots:
        msg = "Hotspots need a 'score' or 'count' column (as written by `cso-geo hotspots`)."
        raise InfeasibleError(msg)
    return pd.to_numeric(hotspots[col], errors="coerce").fillna(0.0).to_numpy(dtype=float)


def _shift_share(hotspots: pd.DataFrame, shift: Shift) -> npt.NDArray[np.float64]:
    """Share of each hotspot's incidents in the shift's hours (from its weekday x hour profile)."""
    hours = shift.hours()
    out = np.ones(len(hotspots))
    if "profile" in hotspots:
        for i, text in enumerate(hotspots["profile"].to_numpy()):
            try:
                prof = np.asarray(json.loads(str(text)), dtype=float).sum(axis=0)
            except (ValueError, TypeError):
                continue
            if prof.shape == (24,) and prof.sum() > 0:
                out[i] = prof[hours].sum() / prof.sum()
        return out
    if "peak_hours" in hotspots:
        for i, ph in enumerate(hotspots["peak_hours"].astype(str)):
            m = re.fullmatch(r"(\d{2}):00-(\d{2}):00", ph)
            if m:
                a = int(m.group(1))
                peak = {(a + d) % 24 for d in range(3)}
                out[i] = 1.0 if peak & set(hours) else 0.0
    return out


def beat_hotspots(
    hotspots: gpd.GeoDataFrame,
    beat: BaseGeometry | None,
    *,
    shift: Shift | None = None,
) -> gpd.GeoDataFrame:
    """Hotspots whose street-piece midpoint lies in `beat`, hottest first.

    With `shift`, only hotspots with incidents in the shift's hours are kept
    (from the ``profile`` column, else ``peak_hours``).
    """
    if hotspots.empty:
        return hotspots.copy()
    mid = shapely.line_interpolate_point(hotspots.geometry.to_numpy(), 0.5, normalized=True)
    keep = np.ones(len(hotspots), dtype=bool)
    if beat is not None:
        keep &= shapely.within(mid, beat) | shapely.intersects(mid, beat)
    if shift is not None:
        keep &= _shift_share(hotspots, shift) > 0
    out = hotspots.loc[keep].copy()
    out["risk"] = _risk(out)
    return out.sort_values("risk", ascending=False, kind="stable")


def _reason(row: Any) -> str:
    parts = []
    tct = str(getattr(row, "top_call_types", "") or "")
    if tct:
        parts.append("calls " + ", ".join(tct.split(";")))
    ph = str(getattr(row, "peak_hours", "") or "")
    if ph:
        parts.append(f"peak {ph}")
    rank = getattr(row, "rank", None)
    if rank is not None and not pd.isna(rank):
        parts.insert(0, f"hotspot #{int(rank)}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- #
# the hotspot tour
# --------------------------------------------------------------------------- #
def _to_xy(point: tuple[float, float], crs: str) -> tuple[float, float]:
    lon, lat = point
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        msg = f"Point {lon},{lat} is not LON,LAT in degrees (longitude first)."
        raise InfeasibleError(msg)
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    return float(x), float(y)


def _snap_point(
    tg: TravelGraph, xy: tuple[float, float], what: str, lonlat: tuple[float, float] | None
) -> tuple[int, float, float]:
    node, dist, sx, sy = tg.snap(*xy)
    if dist > MAX_SNAP_M:
        where = f"{lonlat[0]:.6f},{lonlat[1]:.6f}" if lonlat else f"({xy[0]:.0f}, {xy[1]:.0f})"
        msg = (
            f"The {what} point {where} is {dist:.0f} m from the nearest street of this "
            f"graph (limit {MAX_SNAP_M:.0f} m): give a point on or next to a street."
        )
        raise InfeasibleError(msg)
    return node, sx, sy


def hotspot_tour(
    hotspots: gpd.GeoDataFrame,
    *,
    network: StreetNetwork,
    shift: str | Shift,
    beat: BaseGeometry | None = None,
    beat_id: Any = "all",
    mode: str = "foot",
    start: tuple[float, float] | None = None,
    end: tuple[float, float] | None = None,
    dwell: float = 15.0,
    breaks: Sequence[Break] = (),
    revisit_every: float | None = 120.0,
    revisit_top: int = 2,
    revisit_weight: float = 0.5,
    shift_hours_only: bool = False,
    avoid_streets: Iterable[str] = (),
    avoid_areas: BaseGeometry | None = None,
    require_streets: Iterable[str] = (),
    travel: TravelGraph | None = None,
    method: str = "auto",
    time_limit: float = 5.0,
    solution_limit: int = 250,
) -> Route:
    """Plan the hotspot tour of one beat and shift.

    Parameters
    ----------
    hotspots
        Hotspots as written by `cso_geo.hotspots.find_hotspots` (street
        pieces, hottest first; ``score`` or ``count`` is the risk).
    network
        The street network; `mode` picks its walk or drive graph.
    shift
        ``"YYYY-MM-DD HH:MM-HH:MM"`` or a `Shift`.
    beat, beat_id
        The beat polygon (projected CRS) and its id; only hotspots inside it.
    start, end
        ``(lon, lat)`` points; default the beat's centre (end = start).
    dwell
        Minutes at each stop, within `DWELL_BOUNDS`.
    breaks
        Breaks; patrol time is the shift minus them.
    revisit_every, revisit_top, revisit_weight
        In shifts longer than `revisit_every` minutes, the `revisit_top`
        hottest hotspots may be visited again once in each later block of
        `revisit_every` minutes, each revisit worth `revisit_weight` of their
        risk (None: no revisits).
    shift_hours_only
        Keep only hotspots with incidents in the shift's hours, their risk
        scaled by that share.
    avoid_streets, avoid_areas, require_streets
        Streets (names) or polygons to leave out of the graph; street names
        whose hotspots must be visited (a street without one gets a stop at
        its middle).
    travel
        A prebuilt `TravelGraph` of the mode's graph, to reuse across beats
        (it then decides what is avoided: `avoid_streets`/`avoid_areas` are
        not applied again).
    method, time_limit, solution_limit
        `solve_orienteering` settings.

    Returns
    -------
    route
        Infeasible requests (the end not reachable in time) come back with
        ``feasible=False``, no stops and a warning, never an exception;
        errors a user can fix raise `InfeasibleError`.
    """
    t0 = time.perf_counter()
    sh = parse_route_shift(shift) if isinstance(shift, str) else shift
    mode = _mode(mode)
    lo_d, hi_d = DWELL_BOUNDS
    if not lo_d <= dwell <= hi_d:
        msg = f"Dwell {dwell:g} min is outside {lo_d:g}-{hi_d:g} min; give --dwell in that range."
        raise InfeasibleError(msg)
    break_offsets = sorted((b.offset(sh), float(b.minutes)) for b in breaks)
    patrol = sh.minutes - sum(m for _, m in break_offsets)
    if patrol <= 0:
        msg = f"Breaks ({sh.minutes - patrol:g} min) fill the whole {sh.minutes:g}-min shift."
        raise InfeasibleError(msg)
    G = network.graph(mode)
    avoid_streets = list(avoid_streets)
    if travel is None:
        travel = TravelGraph(G, avoid_streets=avoid_streets, avoid_areas=avoid_areas)
    tg = travel
    warnings: list[str] = []

    # start and end
    start_lonlat, end_lonlat = start, end
    if start is None:
        if beat is None:
            msg = "Give a start point (LON,LAT) or a beat polygon to start from its centre."
            raise InfeasibleError(msg)
        centre = beat.representative_point()
        sxy = (float(centre.x), float(centre.y))
    else:
        sxy = _to_xy(start, network.crs)
    s_node, s_x, s_y = _snap_point(tg, sxy, "start", start_lonlat)
    if end is None:
        e_node, e_x, e_y = s_node, s_x, s_y
    else:
        e_node, e_x, e_y = _snap_point(tg, _to_xy(end, network.crs), "end", end_lonlat)

    # candidate hotspots
    cand = beat_hotspots(hotspots, beat, shift=sh if shift_hours_only else None)
    risk_all = cand["risk"].to_numpy(dtype=float)
    if shift_hours_only and len(cand):
        risk_all = risk_all * _shift_share(cand, sh)
    mids = shapely.line_interpolate_point(cand.geometry.to_numpy(), 0.5, normalized=True)
    required_names = {n.strip().casefold() for n in require_streets if n.strip()}
    cands: list[dict[str, Any]] = []
    for i, row in enumerate(cand.itertuples(index=False)):
        mx, my = float(shapely.get_x(mids[i])), float(shapely.get_y(mids[i]))
        node, snap_d, _, _ = tg.snap(mx, my)
        name = _name_text(getattr(row, "name", ""))
        rank = getattr(row, "rank", None)
        label = f"hotspot #{int(rank)}" if rank is not None and not pd.isna(rank) else "hotspot"
        if snap_d > MAX_STOP_SNAP_M:
            warnings.append(
                f"{label} on {name or 'an unnamed street'} is {snap_d:.0f} m from the {mode} "
                f"graph (limit {MAX_STOP_SNAP_M:.0f} m): left out"
            )
            continue
        cands.append(
            {
                "node": node,
                "x": mx,
                "y": my,
                "risk": float(risk_all[i]),
                "rank": None if rank is None or pd.isna(rank) else int(rank),
                "name": name or _highway_text(getattr(row, "highway", "")),
                "reason": _reason(row),
                "top_call_types": str(getattr(row, "top_call_types", "") or ""),
                "peak_hours": str(getattr(row, "peak_hours", "") or ""),
                "required": name.casefold() in required_names,
                "visit": 1,
                "window": (0.0, math.inf),
                "label": label,
            }
        )
    risk_available = float(sum(c["risk"] for c in cands))
    for req in sorted(required_names):
        if not any(c["name"].casefold() == req for c in cands):
            extra = _street_stop(tg, req, beat)
            if extra is None:
                warnings.append(f"required street {req!r} has no street in the beat: ignored")
            else:
                cands.append(extra)
    # revisits of the hottest hotspots, one per later block of the shift
    if revisit_every and patrol > revisit_every:
        blocks = math.ceil(patrol / revisit_every) - 1
        top = [c for c in cands if c["rank"] is not None][: max(revisit_top, 0)]
        for c in top:
            for b in range(1, blocks + 1):
                w0 = b * revisit_every * 60.0
                cands.append(
                    {
                        **c,
                        "risk": c["risk"] * revisit_weight,
                        "required": False,
                        "visit": b + 1,
                        "window": (w0, min((b + 1) * revisit_every * 60.0, patrol * 60.0)),
                    }
                )

    # travel times: start, candidates, end (one Dijkstra per distinct node)
    pts = [s_node, *(c["node"] for c in cands), e_node]
    uniq = sorted(set(pts))
    dist, pred = tg.shortest(uniq)
    row_of = {n: i for i, n in enumerate(uniq)}
    T = np.array([[dist[row_of[a], b] for b in pts] for a in pts])
    n = len(cands)
    reach = np.array(
        [np.isfinite(T[0, j + 1]) and np.isfinite(T[j + 1, n + 1]) for j in range(n)], dtype=bool
    )
    if not np.isfinite(T[0, n + 1]):
        msg = (
            f"The end point cannot be reached from the start on the {mode} graph "
            "(one-ways or avoided streets cut it off): choose other points."
        )
        raise InfeasibleError(msg)
    for j in np.flatnonzero(~reach):
        if cands[j]["visit"] == 1:
            warnings.append(
                f"{cands[j]['label']} on {cands[j]['name'] or 'an unnamed street'} cannot be "
                f"reached from the start and back to the end on the {mode} graph: left out"
            )
    keep = np.flatnonzero(reach)
    cands = [cands[j] for j in keep]
    T = T[np.ix_([0, *(keep + 1), n + 1], [0, *(keep + 1), n + 1])]
    n = len(cands)
    if n == 0 and not warnings:
        warnings.append(f"beat {beat_id} has no hotspots for this shift: route goes start to end")
    elif n == 0:
        warnings.append("no reachable hotspots: route goes start to end")
    service = np.full(n, dwell * 60.0)
    windows = np.array([c["window"] for c in cands], dtype=float).reshape(n, 2)
    required = np.array([c["required"] for c in cands], dtype=bool)
    risk = np.array([c["risk"] for c in cands], dtype=float)
    budget = patrol * 60.0
    order = solve_orienteering(
        T, risk, service, budget, windows=windows, required=required, method=method,
        time_limit=time_limit, solution_limit=solution_limit,
    )  # fmt: skip
    if order is None and required.any():
        warnings.append("the required streets do not all fit in the shift: visiting what fits")
        order = solve_orienteering(
            T, risk, service, budget, windows=windows, method=method, time_limit=time_limit,
            solution_limit=solution_limit,
        )  # fmt: skip
    feasible = order is not None
    if order is None:
        warnings.append(
            f"going from the start to the end alone takes {T[0, n + 1] / 60:.0f} min, more "
            f"than the {patrol:.0f} min of patrol time: no stops planned"
        )
        order = []
    # the path and schedule
    seq_nodes = [s_node, *(cands[j]["node"] for j in order), e_node]
    steps: list[Step] = []
    stop_steps = [0]
    for a, b in itertools.pairwise(seq_nodes):
        steps.extend(_steps_for(tg, tg.path(pred[row_of[a]], a, b)) if a != b else [])
        stop_steps.append(len(steps))
    picked = [cands[j] for j in order]
    stops = _schedule(
        sh,
        steps,
        stop_steps,
        picked,
        dwell=dwell,
        breaks=break_offsets,
        start_xy=(s_x, s_y),
        end_xy=(e_x, e_y),
    )
    _fill_lonlat(stops, network.crs)
    covered = float(sum(c["risk"] for c in picked))
    route = Route(
        route_id=route_id(beat_id, sh, mode),
        beat_id=beat_id,
        mode=mode,
        kind="tour",
        shift=sh,
        crs=network.crs,
        stops=stops,
        steps=steps,
        stop_steps=stop_steps,
        patrol_min=patrol,
        risk_covered=covered,
        risk_available=risk_available,
        feasible=feasible,
        warnings=warnings,
        extra={"candidates": n, "solver": "exact" if n <= EXACT_MAX else "ortools"}
        if method == "auto"
        else {"candidates": n, "solver": method},
    )
    if route.duration_min > sh.minutes + 1e-6:
        route.feasible = False
        route.warnings.append("the planned route runs past the end of the shift")
    log.info(
        "route %s: %d stops of %d candidates, %.1f km, %.0f/%.0f min, risk %.3g of %.3g in %.2fs",
        route.route_id,
        len(picked),
        n,
        route.distance_m / 1000,
        route.duration_min,
        sh.minutes,
        covered,
        risk_available,
        time.perf_counter() - t0,
    )
    return route


def _street_stop(tg: TravelGraph, name: str, beat: BaseGeometry | None) -> dict[str, Any] | None:
    """A zero-risk stop at the middle of the longest edge of a required street in the beat."""
    best: tuple[float, Any, Any, Any] | None = None
    for (ui, vi), k in tg.edge_key.items():
        d = tg.G.edges[tg.nodes[ui], tg.nodes[vi], k]
        if _name_text(d.get("name")).casefold() != name:
            continue
        mid = d["geometry"].interpolate(0.5, normalized=True)
        if beat is not None and not beat.intersects(mid):
            continue
        if best is None or d["length"] > best[0]:
            best = (float(d["length"]), vi, mid, _name_text(d.get("name")))
    if best is None:
        return None
    _, vi, mid, label = best
    return {
        "node": vi,
        "x": float(mid.x),
        "y": float(mid.y),
        "risk": 0.0,
        "rank": None,
        "name": label,
        "reason": "required street",
        "top_call_types": "",
        "peak_hours": "",
        "required": True,
        "visit": 1,
        "window": (0.0, math.inf),
        "label": "required street",
    }


def _schedule(
    sh: Shift,
    steps: Sequence[Step],
    stop_steps: Sequence[int],
    picked: Sequence[dict[str, Any]],
    *,
    dwell: float,
    breaks: Sequence[tuple[float, float]],
    start_xy: tuple[float, float],
    end_xy: tuple[float, float],
) -> list[Stop]:
    """Arrival and departure at each stop; waits for time windows; breaks at the next stop."""
    secs = np.array([st.seconds for st in steps], dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(secs)])
    pending = list(breaks)
    t = 0.0  # minutes after the shift start
    stops = [Stop(0, "start", start_xy[0], start_xy[1], sh.start, sh.start, name="start")]
    for i, c in enumerate(picked, start=1):
        t += (cum[stop_steps[i]] - cum[stop_steps[i - 1]]) / 60.0
        arrive = t
        wait = max(0.0, c["window"][0] / 60.0 - t)
        t += wait + dwell
        brk = 0.0
        while pending and t >= pending[0][0]:
            brk += pending.pop(0)[1]
        t += brk
        stops.append(
            Stop(
                i,
                "stop",
                c["x"],
                c["y"],
                _at(sh, arrive),
                _at(sh, t),
                dwell_min=dwell,
                wait_min=wait,
                break_min=brk,
                hotspot_rank=c["rank"],
                name=c["name"],
                reason=c["reason"] if c["visit"] == 1 else f"revisit {c['visit']}; {c['reason']}",
                top_call_types=c["top_call_types"],
                peak_hours=c["peak_hours"],
                risk=c["risk"],
                visit=c["visit"],
            )
        )
    t += (cum[-1] - cum[stop_steps[-2]]) / 60.0 if len(stop_steps) >= 2 else 0.0
    arrive_end = _at(sh, t)
    end_name = steps[-1].name if steps else ""
    stops.append(
        Stop(len(picked) + 1, "end", end_xy[0], end_xy[1], arrive_end, arrive_end, name=end_name)
    )
    if steps:
        stops[0].name = steps[0].name or steps[0].highway
    return stops


def _at(sh: Shift, minutes: float) -> pd.Timestamp:
    return (sh.start + pd.Timedelta(minutes=minutes)).round("s")


def _fill_lonlat(stops: Sequence[Stop], crs: str) -> None:
    tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    for s in stops:
        s.lon, s.lat = (float(v) for v in tr.transform(s.x, s.y))


# --------------------------------------------------------------------------- #
# street coverage (rural postman)
# --------------------------------------------------------------------------- #
def postman_route(
    network: StreetNetwork,
    *,
    beat: BaseGeometry,
    shift: str | Shift,
    beat_id: Any = "all",
    start: tuple[float, float] | None = None,
    end: tuple[float, float] | None = None,
    hotspots: gpd.GeoDataFrame | None = None,
    dwell: float = 15.0,
    classes: Iterable[str] | None = STREET_CLASSES,
    margin: float = 150.0,
    match_neighbours: int | None = 8,
) -> Route:
    """Walk every street of a beat at least once, from `start` to `end`.

    Streets are the walk graph's edges of `classes` (None: every edge) whose
    midpoint lies in `beat`. Connections may use any walk edge within `margin`
    metres of the beat. Parts of the beat that no connection reaches are
    reported (``unreachable_m``), never an error. Hotspot dwells are folded in
    where the walk first passes a hotspot, while patrol time remains.
    `match_neighbours` sparsifies the odd-node matching (see `_odd_matching`;
    None: exact matching on the complete graph, slow on large beats).

    Returns
    -------
    route
        ``extra`` holds ``street_m`` (length to cover), ``covered_m``,
        ``coverage`` (share of reachable street length covered: 1.0),
        ``unreachable_m``, ``deadhead_m`` and ``deadhead_share`` (repeated or
        connecting length over total length walked).
    """
    t0 = time.perf_counter()
    sh = parse_route_shift(shift) if isinstance(shift, str) else shift
    lo_d, hi_d = DWELL_BOUNDS
    if not lo_d <= dwell <= hi_d:
        msg = f"Dwell {dwell:g} min is outside {lo_d:g}-{hi_d:g} min; give --dwell in that range."
        raise InfeasibleError(msg)
    W = network.walk
    cls = None if classes is None else set(classes)
    area = beat.buffer(margin)
    # one record per undirected street edge (walk edges come in both directions)
    recs: list[tuple[Any, Any, Any, dict[str, Any]]] = [
        (u, v, k, d) for u, v, k, d in W.edges(keys=True, data=True) if not d.get("reversed")
    ]
    geoms = np.array([d["geometry"] for *_, d in recs], dtype=object)
    mids = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    in_beat = shapely.intersects(mids, beat)
    in_area = shapely.intersects(geoms, area)

    def is_class(d: dict[str, Any]) -> bool:
        if cls is None:
            return True
        hw = d.get("highway")
        return any(h in cls for h in (hw if isinstance(hw, list | tuple) else [hw]))

    req_idx = [i for i, r in enumerate(recs) if in_beat[i] and is_class(r[3]) and r[0] != r[1]]
    if not req_idx:
        msg = f"Beat {beat_id} holds no walkable streets of the requested classes."
        raise InfeasibleError(msg)
    allowed = [i for i in range(len(recs)) if in_area[i] or in_beat[i]]
    nodes = sorted({n for i in allowed for n in recs[i][:2]})
    pos = {n: i for i, n in enumerate(nodes)}
    nn = len(nodes)
    # the deadhead graph: undirected, metres, the shortest of parallel edges
    best_edge: dict[tuple[int, int], int] = {}
    for i in allowed:
        a, b = pos[recs[i][0]], pos[recs[i][1]]
        if a == b:
            continue
        key = (min(a, b), max(a, b))
        if key not in best_edge or recs[i][3]["length"] < recs[best_edge[key]][3]["length"]:
            best_edge[key] = i
    ea = np.array([k[0] for k in best_edge], dtype=np.int64)
    eb = np.array([k[1] for k in best_edge], dtype=np.int64)
    ew = np.maximum([recs[i][3]["length"] for i in best_edge.values()], 1e-6)
    Dg = sp.csr_matrix((ew, (ea, eb)), shape=(nn, nn))
    Dg = (Dg + Dg.T).tocsr()

    # required components, joined by a minimum spanning tree of shortest connections
    req_nodes = sorted({pos[n] for i in req_idx for n in recs[i][:2]})
    R = sp.csr_matrix(
        (
            np.ones(len(req_idx)),
            ([pos[recs[i][0]] for i in req_idx], [pos[recs[i][1]] for i in req_idx]),
        ),
        shape=(nn, nn),
    )
    _, comp_label = csgraph.connected_components(R, directed=False)
    comps: dict[int, list[int]] = {}
    for p in req_nodes:
        comps.setdefault(int(comp_label[p]), []).append(p)
    comp_ids = sorted(comps)
    comp_len = dict.fromkeys(comp_ids, 0.0)
    for i in req_idx:
        comp_len[int(comp_label[pos[recs[i][0]]])] += float(recs[i][3]["length"])
    k = len(comp_ids)
    cdist = np.full((k, k), np.inf)
    cpair: dict[tuple[int, int], tuple[int, npt.NDArray[np.int32]]] = {}
    for a_i, ca in enumerate(comp_ids):
        # with min_only, scipy also returns each node's nearest source (unused: `_trace`)
        d, pr, _ = csgraph.dijkstra(
            Dg, directed=False, indices=comps[ca], min_only=True, return_predecessors=True
        )
        for b_i, cb in enumerate(comp_ids):
            if b_i == a_i:
                continue
            tgt = np.asarray(comps[cb])
            j = int(np.argmin(d[tgt]))
            if np.isfinite(d[tgt[j]]) and d[tgt[j]] < cdist[a_i, b_i]:
                cdist[a_i, b_i] = cdist[b_i, a_i] = float(d[tgt[j]])
                cpair[(a_i, b_i)] = (int(tgt[j]), pr)
    CG = nx.Graph()
    CG.add_nodes_from(range(k))
    for a_i in range(k):
        for b_i in range(a_i + 1, k):
            if np.isfinite(cdist[a_i, b_i]):
                CG.add_edge(a_i, b_i, weight=cdist[a_i, b_i])
    groups = sorted(
        nx.connected_components(CG),
        key=lambda g: (-sum(comp_len[comp_ids[c]] for c in g), min(g)),
    )
    main = groups[0]
    street_m = float(sum(recs[i][3]["length"] for i in req_idx))
    unreachable_m = float(sum(comp_len[comp_ids[c]] for g in groups[1:] for c in g))
    M = nx.MultiGraph()
    for i in req_idx:
        if int(comp_label[pos[recs[i][0]]]) in {comp_ids[c] for c in main}:
            M.add_edge(pos[recs[i][0]], pos[recs[i][1]], rec=i, required=True)
    tree = nx.minimum_spanning_tree(CG.subgraph(main), weight="weight")
    for a_i, b_i in sorted(tuple(sorted(e)) for e in tree.edges()):
        t_, pr = cpair[(a_i, b_i)] if (a_i, b_i) in cpair else cpair[(b_i, a_i)]
        _add_deadhead(M, _trace(pr, t_), best_edge)

    # start and end: nearest node of the covered streets
    m_nodes = np.array(sorted(M.nodes), dtype=np.int64)
    m_xy = np.array([(W.nodes[nodes[p]]["x"], W.nodes[nodes[p]]["y"]) for p in m_nodes])

    def nearest(pt: tuple[float, float] | None, what: str) -> int:
        if pt is None:
            c = beat.representative_point()
            xy = (float(c.x), float(c.y))
        else:
            xy = _to_xy(pt, network.crs)
        d = np.hypot(m_xy[:, 0] - xy[0], m_xy[:, 1] - xy[1])
        j = int(d.argmin())
        if pt is not None and d[j] > MAX_SNAP_M:
            msg = (
                f"The {what} point {pt[0]:.6f},{pt[1]:.6f} is {d[j]:.0f} m from the streets of "
                f"beat {beat_id} (limit {MAX_SNAP_M:.0f} m): give a point inside the beat."
            )
            raise InfeasibleError(msg)
        return int(m_nodes[j])

    s_pos = nearest(start, "start")
    e_pos = s_pos if end is None else nearest(end, "end")

    # pair odd nodes (with start and end toggled) by minimum-weight matching
    odd = {p for p, deg in M.degree() if deg % 2}
    if s_pos != e_pos:
        odd ^= {s_pos, e_pos}
    odd_l = sorted(odd)
    if odd_l:
        d, pr = csgraph.dijkstra(Dg, directed=False, indices=odd_l, return_predecessors=True)
        for a_i, b_i in _odd_matching(d[:, odd_l], neighbours=match_neighbours):
            _add_deadhead(M, TravelGraph.path(pr[a_i], odd_l[a_i], odd_l[b_i]), best_edge)
    if s_pos == e_pos:
        walk = list(nx.eulerian_circuit(M, source=s_pos, keys=True))
    else:
        walk = list(nx.eulerian_path(M, source=s_pos, keys=True))
    steps: list[Step] = []
    step_rec: list[int] = []
    seen_req: set[int] = set()
    deadhead_m = 0.0
    for a, b, key in walk:
        data = M.edges[a, b, key]
        step_rec.append(int(data["rec"]))
        u, v, _, d = recs[data["rec"]]
        g = d["geometry"]
        forward = pos[u] == a and pos[v] == b
        if not forward:
            g = shapely.LineString(list(g.coords)[::-1])
        length = float(d["length"])
        if not data["required"] or data["rec"] in seen_req:
            deadhead_m += length
        if data["required"]:
            seen_req.add(data["rec"])
        steps.append(
            Step(
                nodes[a],
                nodes[b],
                _name_text(d.get("name")),
                _highway_text(d.get("highway")),
                length,
                float(d["travel_time"]),
                g,
            )
        )
    covered_m = float(sum(recs[i][3]["length"] for i in seen_req))
    total_m = float(sum(st.length for st in steps))
    walk_min = sum(st.seconds for st in steps) / 60.0
    warnings = []
    if unreachable_m > 0:
        warnings.append(
            f"{unreachable_m:.0f} m of street in beat {beat_id} cannot be reached on foot from "
            "the rest of the beat: not covered"
        )
    feasible = walk_min <= sh.minutes + 1e-9
    if not feasible:
        warnings.append(
            f"walking every street takes {walk_min:.0f} min, more than the {sh.minutes:.0f}-min "
            "shift: split the beat or use a hotspot tour"
        )
    # fold in hotspot dwells where the walk first passes them
    picked: list[dict[str, Any]] = []
    stop_steps = [0]
    risk_available = 0.0
    if hotspots is not None and len(hotspots):
        cand = beat_hotspots(hotspots, beat)
        risk_available = float(cand["risk"].sum())
        edge_of = {}
        idx = EdgeIndex.from_lines(
            [st.geometry for st in steps] or [shapely.LineString([(0, 0), (1, 0)])]
        )
        hm = shapely.line_interpolate_point(cand.geometry.to_numpy(), 0.5, normalized=True)
        snapped = idx.snap(shapely.get_x(hm), shapely.get_y(hm))
        for j in range(len(cand)):
            if steps and float(snapped["dist"].iloc[j]) <= MAX_STOP_SNAP_M:
                # the first time the walk passes that street edge
                edge_of[j] = step_rec.index(step_rec[int(snapped["edge"].iloc[j])])
        spare = sh.minutes - walk_min
        # the first step index reaching each hotspot; dwell while time is left
        rows = list(cand.itertuples(index=False))
        for j in sorted(edge_of, key=lambda j: (edge_of[j], j)):
            if spare < dwell:
                break
            row = rows[j]
            rank = getattr(row, "rank", None)
            picked.append(
                {
                    "x": float(shapely.get_x(hm[j])),
                    "y": float(shapely.get_y(hm[j])),
                    "risk": float(row.risk),
                    "rank": None if rank is None or pd.isna(rank) else int(rank),
                    "name": _name_text(getattr(row, "name", ""))
                    or _highway_text(getattr(row, "highway", "")),
                    "reason": _reason(row),
                    "top_call_types": str(getattr(row, "top_call_types", "") or ""),
                    "peak_hours": str(getattr(row, "peak_hours", "") or ""),
                    "visit": 1,
                    "window": (0.0, math.inf),
                }
            )
            stop_steps.append(edge_of[j] + 1)
            spare -= dwell
    stop_steps.append(len(steps))
    e_xy = (W.nodes[nodes[e_pos]]["x"], W.nodes[nodes[e_pos]]["y"])
    s_xy = (W.nodes[nodes[s_pos]]["x"], W.nodes[nodes[s_pos]]["y"])
    stops = _schedule(
        sh, steps, stop_steps, picked, dwell=dwell, breaks=(), start_xy=s_xy, end_xy=e_xy
    )
    _fill_lonlat(stops, network.crs)
    reachable = street_m - unreachable_m
    route = Route(
        route_id=route_id(beat_id, sh, "foot", kind="postman"),
        beat_id=beat_id,
        mode="foot",
        kind="postman",
        shift=sh,
        crs=network.crs,
        stops=stops,
        steps=steps,
        stop_steps=stop_steps,
        patrol_min=sh.minutes,
        risk_covered=float(sum(c["risk"] for c in picked)),
        risk_available=risk_available,
        feasible=feasible,
        warnings=warnings,
        extra={
            "street_m": round(street_m, 1),
            "covered_m": round(covered_m, 1),
            "coverage": round(covered_m / reachable, 6) if reachable > 0 else 0.0,
            "unreachable_m": round(unreachable_m, 1),
            "deadhead_m": round(deadhead_m, 1),
            "deadhead_share": round(deadhead_m / total_m, 6) if total_m > 0 else 0.0,
        },
    )
    log.info(
        "postman %s: %.1f km of street, %.1f km walked (%.0f%% deadhead), %.0f m unreachable, "
        "%d stops in %.2fs",
        route.route_id,
        street_m / 1000,
        total_m / 1000,
        route.extra["deadhead_share"] * 100,
        unreachable_m,
        len(picked),
        time.perf_counter() - t0,
    )
    return route


def _odd_matching(d: npt.NDArray[np.float64], *, neighbours: int | None) -> list[tuple[int, int]]:
    """Minimum-weight perfect matching of odd nodes from their distance matrix.

    networkx's blossom matching is cubic in pure Python, so it first runs on a
    sparse graph of each node's `neighbours` nearest odd nodes (a minimum-weight
    matching almost always pairs near nodes); nodes it leaves single are then
    matched on their complete graph. ``neighbours=None`` matches on the complete
    graph at once (exact).
    """
    n = len(d)
    pairs: list[tuple[int, int]] = []
    todo = list(range(n))
    for k in ([neighbours] if neighbours and neighbours < n - 1 else []) + [None]:
        if not todo:
            break
        K = nx.Graph()
        K.add_nodes_from(todo)
        sub = d[np.ix_(todo, todo)]
        for a_i, a in enumerate(todo):
            near = np.argsort(sub[a_i], kind="stable")
            near = near[near != a_i]
            for b_i in near[:k] if k else near:
                if np.isfinite(sub[a_i, b_i]):
                    K.add_edge(a, todo[b_i], weight=float(sub[a_i, b_i]))
        found = nx.min_weight_matching(K)
        pairs.extend((min(e), max(e)) for e in found)
        done = {x for e in found for x in e}
        todo = [x for x in todo if x not in done]
    return sorted(pairs)


def _trace(pred: npt.NDArray[np.int32], target: int) -> list[int]:
    """Nodes from the nearest source (of a ``min_only`` Dijkstra) to `target`."""
    out = [target]
    while pred[out[-1]] >= 0:
        out.append(int(pred[out[-1]]))
    return out[::-1]


def _add_deadhead(
    M: nx.MultiGraph, path: Sequence[int], best_edge: dict[tuple[int, int], int]
) -> None:
    for a, b in itertools.pairwise(path):
        M.add_edge(a, b, rec=best_edge[(min(a, b), max(a, b))], required=False)


# --------------------------------------------------------------------------- #
# outputs
# --------------------------------------------------------------------------- #
def _wgs84(route: Route) -> list[tuple[float, float]]:
    tr = Transformer.from_crs(route.crs, "EPSG:4326", always_xy=True)
    xs, ys = np.asarray(route.geometry.coords).T
    lon, lat = tr.transform(xs, ys)
    return [(round(float(a), 7), round(float(b), 7)) for a, b in zip(lon, lat, strict=True)]


def route_geojson(route: Route) -> dict[str, Any]:
    """The route as a GeoJSON FeatureCollection in EPSG:4326 (path line and stop points)."""
    feats: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [list(c) for c in _wgs84(route)]},
            "properties": {
                "kind": "path",
                "route_id": route.route_id,
                "beat_id": _jsonable(route.beat_id),
                "mode": route.mode,
                "distance_km": round(route.distance_m / 1000.0, 3),
            },
        }
    ]
    for s in route.stops:
        props = s.to_dict()
        props.pop("lon")
        props.pop("lat")
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(s.lon, 7), round(s.lat, 7)]},
                "properties": {"route_id": route.route_id, **props},
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def _stop_title(s: Stop) -> str:
    if s.kind == "start":
        return "Start"
    if s.kind == "end":
        return "End"
    return f"{s.seq}. {s.name or 'stop'}"


def route_gpx(route: Route) -> str:
    """GPX 1.1 text: the path as a track, stops as waypoints with local times."""
    g = gpxpy.gpx.GPX()
    g.creator = "cso_geo"
    g.name = route.route_id
    g.description = (
        f"Beat {route.beat_id}, {route.mode}, {route.shift.start:%Y-%m-%d %H:%M}-"
        f"{route.shift.end:%H:%M}; {len(route.stops) - 2} stops, "
        f"{route.distance_m / 1000:.1f} km"
    )
    for s in route.stops:
        desc = f"arrive {s.arrive:%H:%M}, leave {s.depart:%H:%M}"
        if s.kind == "stop":
            desc += f", stay {s.dwell_min:.0f} min" + (f"; {s.reason}" if s.reason else "")
        g.waypoints.append(
            gpxpy.gpx.GPXWaypoint(
                latitude=s.lat,
                longitude=s.lon,
                time=s.arrive.to_pydatetime(),
                name=_stop_title(s),
                description=desc,
                type=s.kind,
            )
        )
    trk = gpxpy.gpx.GPXTrack(name=route.route_id)
    seg = gpxpy.gpx.GPXTrackSegment()
    for lon, lat in _wgs84(route):
        seg.points.append(gpxpy.gpx.GPXTrackPoint(latitude=lat, longitude=lon))
    trk.segments.append(seg)
    g.tracks.append(trk)
    return str(g.to_xml(version="1.1"))


_SHEET_CSS = """
body{font-family:Helvetica,Arial,sans-serif;font-size:11pt;margin:16px;color:#111}
h1{font-size:15pt;margin:0 0 4px}
.meta{margin:0 0 8px;color:#333}
.warn{color:#8a1c1c;margin:2px 0}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{border:1px solid #bbb;padding:3px 5px;text-align:left;vertical-align:top}
th{background:#eee}
td.num{text-align:right;white-space:nowrap}
.map{width:100%;max-width:640px;height:auto;border:1px solid #999}
.dirs{font-size:9.5pt}
@media print{
  @page{size:A4;margin:12mm}
  body{margin:0;font-size:10pt}
  tr,.map{page-break-inside:avoid;break-inside:avoid}
  .dirs{page-break-before:auto}
  h2{page-break-after:avoid;break-after:avoid}
}
"""


def _svg_map(route: Route, *, width: int = 640, height: int = 360) -> str:
    """A small static map: the path and numbered stops, from projected coordinates."""
    xs, ys = np.asarray(route.geometry.coords).T
    sx = np.array([s.x for s in route.stops])
    sy = np.array([s.y for s in route.stops])
    allx, ally = np.concatenate([xs, sx]), np.concatenate([ys, sy])
    x0, x1, y0, y1 = allx.min(), allx.max(), ally.min(), ally.max()
    pad = 18.0
    scale = min((width - 2 * pad) / max(x1 - x0, 1.0), (height - 2 * pad) / max(y1 - y0, 1.0))

    def px(x: float, y: float) -> tuple[float, float]:
        return pad + (x - x0) * scale, height - pad - (y - y0) * scale

    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in (px(x, y) for x, y in zip(xs, ys, strict=True)))
    parts = [
        f'<svg class="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="Route map">',
        f'<rect width="{width}" height="{height}" fill="#fafafa"/>',
        f'<polyline points="{pts}" fill="none" stroke="#1f5fbf" stroke-width="2.5" '
        'stroke-linejoin="round" stroke-linecap="round"/>',
        f'<text x="{width - 8}" y="{height - 6}" font-size="10" text-anchor="end" fill="#555">'
        f"{html.escape(_scale_bar_text(scale))}</text>",
    ]
    for s in route.stops:
        a, b = px(s.x, s.y)
        if s.kind == "stop":
            parts.append(
                f'<circle cx="{a:.1f}" cy="{b:.1f}" r="8" fill="#d9480f" stroke="#fff"/>'
                f'<text x="{a:.1f}" y="{b + 3.5:.1f}" font-size="10" text-anchor="middle" '
                f'fill="#fff">{s.seq}</text>'
            )
        else:
            colour = "#2b8a3e" if s.kind == "start" else "#111"
            label = "S" if s.kind == "start" else "E"
            parts.append(
                f'<rect x="{a - 7:.1f}" y="{b - 7:.1f}" width="14" height="14" fill="{colour}"/>'
                f'<text x="{a:.1f}" y="{b + 3.5:.1f}" font-size="10" text-anchor="middle" '
                f'fill="#fff">{label}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _scale_bar_text(scale: float) -> str:
    return f"100 px = {100 / scale:.0f} m" if scale > 0 else ""


def route_sheet(route: Route) -> str:
    """A self-contained printable HTML route sheet (stop list, inline SVG map, directions)."""
    e = html.escape
    s = route.summary()
    rows = []
    for st in route.stops:
        rows.append(
            "<tr>"
            f"<td class='num'>{e(str(st.seq))}</td>"
            f"<td>{e(st.kind)}</td>"
            f"<td class='num'>{st.arrive:%H:%M}</td>"
            f"<td class='num'>{st.depart:%H:%M}</td>"
            f"<td class='num'>{st.dwell_min:.0f}"
            + (f" + break {st.break_min:.0f}" if st.break_min else "")
            + "</td>"
            f"<td>{e(st.name)}</td>"
            f"<td>{e(st.reason)}</td>"
            "</tr>"
        )
    dirs = "".join(
        f"<tr><td>{e(d['instruction'])}</td><td class='num'>{d['distance_m']:.0f} m</td></tr>"
        for d in s["directions"]
    )
    warn = "".join(f"<p class='warn'>{e(w)}</p>" for w in route.warnings)
    extra = ""
    if route.kind == "postman":
        x = route.extra
        extra = (
            f" &middot; streets {x['covered_m'] / 1000:.2f} km covered "
            f"({x['coverage']:.0%} of reachable), deadhead {x['deadhead_share']:.0%}"
        )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>Route {e(route.route_id)}</title>"
        f"<style>{_SHEET_CSS}</style></head><body>"
        f"<h1>Patrol route: beat {e(str(route.beat_id))} ({e(route.mode)})</h1>"
        f"<p class='meta'>{route.shift.start:%a %Y-%m-%d %H:%M}&ndash;{route.shift.end:%H:%M}"
        f" &middot; {len(route.stops) - 2} stops &middot; {s['distance_km']:.1f} km &middot; "
        f"{s['duration_min']:.0f} min ({s['travel_min']:.0f} moving, {s['dwell_min']:.0f} at "
        f"stops) &middot; risk covered {route.risk_covered:.3g} of {route.risk_available:.3g}"
        f"{extra}{'' if route.feasible else ' &middot; <b>NOT FEASIBLE</b>'}</p>"
        f"{warn}{_svg_map(route)}"
        "<h2>Stops</h2><table><thead><tr><th>#</th><th>kind</th><th>arrive</th><th>leave</th>"
        "<th>min</th><th>street</th><th>why</th></tr></thead><tbody>"
        f"{''.join(rows)}</tbody></table>"
        "<h2>Directions</h2><table class='dirs'><tbody>"
        f"{dirs}</tbody></table>"
        f"<p class='meta'>{e(route.route_id)}</p></body></html>\n"
    )


def write_route(route: Route, out_dir: str | Path) -> dict[str, Path]:
    """Write ``<route_id>.geojson``, ``.gpx``, ``.html`` and ``.json`` atomically."""
    out = Path(out_dir)
    rid = route.route_id
    return {
        "geojson": atomic_write_text(
            out / f"{rid}.geojson", json.dumps(route_geojson(route), indent=1)
        ),
        "gpx": atomic_write_text(out / f"{rid}.gpx", route_gpx(route)),
        "html": atomic_write_text(out / f"{rid}.html", route_sheet(route)),
        "json": atomic_write_text(out / f"{rid}.json", json.dumps(route.summary(), indent=2)),
    }
