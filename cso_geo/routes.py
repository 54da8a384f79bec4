"""Foot and vehicle patrol routes: hotspot tours, street-coverage walks, GPX and route sheets.

What a CSO takes into the shift: where to go, in what order, how long to stay
and why.

* `hotspot_tour` picks and orders the hotspots of a beat to visit between a
  start and an end point within the shift's patrol time (an orienteering
  problem with time windows: the hottest hotspots may be revisited once in
  each later block of the shift). Instances of up to `EXACT_MAX` hotspots are
  solved to proven optimality, revisits included, by an exact dynamic
  programme over subsets of visits (Held-Karp style, vectorised; it also
  takes larger instances while its table fits `DP_CELLS`); if revisits make
  the table too big, by an exact CP-SAT model (its bound is reported when the
  proof does not finish). Larger instances go to OR-Tools routing with guided
  local search on a shortlist of the riskiest hotspots, stopped by a solution
  count (never only by time), then polished: the same request and seed give
  the same route. Travel times come from `TravelGraph` (one CSR matrix per
  graph, multi-source Dijkstra from `scipy.sparse.csgraph`); the drive graph
  keeps its one-ways.
* Breaks (`Break`, `parse_break`) are taken where the CSO is when they fall
  due: at the next street corner while moving, after the dwell at a stop, or
  at the end point if the route is over; they always end within the shift.
* `postman_route` walks every street of a beat at least once (rural postman:
  components joined by a minimum spanning tree of shortest connections, odd
  nodes paired by minimum-weight matching, then an Eulerian path) and folds in
  hotspot dwells where it passes them.
* `route_geojson`, `route_gpx`, `route_sheet` and `write_route` write the
  outputs: GeoJSON, GPX 1.1 (track and waypoints) and a printable HTML sheet
  (one or two A4 pages) with an inline SVG map. Text from the data (street
  names, call types) is stripped of characters XML 1.0 does not allow.

Times are local wall-clock times of the shift (no time zone).
"""

from __future__ import annotations

import hashlib
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

from cso_geo import hotspots as hs
from cso_geo._errors import InfeasibleError, InputFileError
from cso_geo._io import atomic_write_text, read_vector
from cso_geo.network import STREET_CLASSES, StreetNetwork
from cso_geo.snapping import EdgeIndex
from cso_geo.streetnames import street_key

log = logging.getLogger(__name__)

__all__ = [
    "DP_CELLS",
    "DWELL_BOUNDS",
    "EXACT_MAX",
    "Break",
    "Route",
    "Shift",
    "Stop",
    "TravelGraph",
    "beat_hotspots",
    "failed_summary",
    "hotspot_tour",
    "parse_break",
    "parse_route_shift",
    "postman_route",
    "read_areas",
    "route_geojson",
    "route_gpx",
    "route_id",
    "route_sheet",
    "solve_orienteering",
    "write_route",
]

#: Allowed dwell at a hotspot in minutes (Koper: 10-16 minutes is the best stay).
DWELL_BOUNDS = (10.0, 16.0)
#: Largest number of hotspots (distinct places, revisits not counted) always solved by an
#: exact method (the dynamic programme, or CP-SAT when revisits overflow its table).
EXACT_MAX = 12
#: Farthest a start/end point may lie from the mode's graph, in metres.
MAX_SNAP_M = 250.0
#: Farthest a hotspot's midpoint may lie from the mode's graph to be visited, in metres.
MAX_STOP_SNAP_M = 150.0


# --------------------------------------------------------------------------- #
# text from the data
# --------------------------------------------------------------------------- #
# XML 1.0 allows tab, newline, carriage return, U+0020-U+D7FF, U+E000-U+FFFD and
# U+10000-U+10FFFF; everything else (C0 controls, lone surrogates, U+FFFE/U+FFFF)
# makes a GPX file that no parser reads. DEL and the C1 controls are allowed but
# discouraged (and print as garbage), so they go too.
_NOT_XML = re.compile("[^\t\n\r\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: Any) -> str:
    """One line of text safe for XML, HTML and JSON: disallowed characters dropped,
    tabs and line breaks made spaces."""
    s = _NOT_XML.sub("", str(text))
    return " ".join(s.split()) if any(c in s for c in "\t\n\r") else s


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
        return list(dict.fromkeys(h for _, h in self.weekday_hours()))

    def weekday_hours(self) -> list[tuple[int, int]]:
        """``(weekday, hour)`` of each clock hour the shift touches (Monday = 0)."""
        out: list[tuple[int, int]] = []
        t = self.start.floor("h")
        while t < self.end:
            out.append((int(t.day_of_week), int(t.hour)))
            t += pd.Timedelta(hours=1)
        return out


@dataclass(frozen=True)
class Break:
    """A break of `minutes` due at local time `at` (``HH:MM``).

    It is taken where the CSO is when it falls due: at the next street corner
    while moving, after the dwell at a stop, or at the end point when the
    route is already over. Use `parse_break` for ``"12:00/30"`` text.
    """

    at: str
    minutes: float = 30.0

    def __post_init__(self) -> None:
        try:
            m = float(self.minutes)
        except (TypeError, ValueError):
            m = math.nan
        if not math.isfinite(m) or m <= 0:
            msg = (
                f"A break lasts a positive number of minutes, not {self.minutes!r} "
                f"(break at {self.at}); e.g. 12:00/30."
            )
            raise InfeasibleError(msg)

    def offset(self, shift: Shift) -> float:
        """Minutes after the shift's start at which the break is due.

        Raises `InfeasibleError` for a malformed time or a break that does not
        end within the shift.
        """
        m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", self.at)
        if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
            msg = f"A break time is written HH:MM (e.g. 12:00), not {self.at!r}."
            raise InfeasibleError(msg)
        t = shift.start.normalize() + pd.Timedelta(hours=int(m.group(1)), minutes=int(m.group(2)))
        if t < shift.start:
            t += pd.Timedelta(days=1)
        off = (t - shift.start).total_seconds() / 60.0
        if off + float(self.minutes) > shift.minutes + 1e-9:
            msg = (
                f"Break at {self.at} for {float(self.minutes):g} min does not end within the "
                f"shift {shift.start:%Y-%m-%d %H:%M}-{shift.end:%H:%M}; give a time and length "
                "that end by the shift's end."
            )
            raise InfeasibleError(msg)
        return float(off)


def parse_break(text: str) -> Break:
    """``"12:00/30"`` -> ``Break("12:00", 30)``; ``"12:00"`` alone is a 30-minute break.

    Raises `InfeasibleError` for a malformed text or a length that is not a
    positive number of minutes.
    """
    at, sep, minutes = str(text).strip().partition("/")
    if not re.fullmatch(r"\d{1,2}:\d{2}", at.strip()) or (sep and not minutes.strip()):
        msg = f"A break is written HH:MM/MINUTES (e.g. 12:00/30), not {text!r}."
        raise InfeasibleError(msg)
    try:
        length = float(minutes) if minutes.strip() else 30.0
    except ValueError:
        msg = f"A break is written HH:MM/MINUTES (e.g. 12:00/30), not {text!r}."
        raise InfeasibleError(msg) from None
    return Break(at.strip(), length)


def _break_plan(breaks: Sequence[Break], shift: Shift) -> list[tuple[float, float]]:
    """``(due, minutes)`` of each break in shift minutes, in order; overlaps are an error."""
    plan = sorted((b.offset(shift), float(b.minutes)) for b in breaks)
    for (a, am), (b, _) in itertools.pairwise(plan):
        if b < a + am - 1e-9:
            msg = (
                f"Breaks due {_clock(shift, a)} ({am:g} min) and {_clock(shift, b)} overlap; "
                "give breaks that follow one another."
            )
            raise InfeasibleError(msg)
    return plan


def _clock(shift: Shift, minutes: float) -> str:
    return f"{shift.start + pd.Timedelta(minutes=minutes):%H:%M}"


def _patrol_minutes(clock: float, plan: Sequence[tuple[float, float]], *, upper: bool) -> float:
    """Patrol time (breaks left out, as the solver counts) at shift minute `clock`.

    Breaks are taken when due, so shift time = patrol time + the breaks already
    due. ``upper=False`` gives the earliest patrol time at or after `clock`,
    ``upper=True`` the latest at or before it (a break in progress at `clock`
    maps to the moment it fell due).
    """
    taken = 0.0
    for due, m in plan:
        if clock < due or (not upper and clock <= due):
            return clock - taken
        if clock < due + m:
            return due - taken
        taken += m
    return clock - taken


def parse_route_shift(text: str) -> Shift:
    """``"2025-12-01 08:00-16:00"`` -> `Shift`; an end at or before the start is the next day.

    Raises `InfeasibleError` for a malformed text or a shift of zero length.
    """
    m = re.fullmatch(r"\s*(\d{4}-\d{2}-\d{2})[ T]+(\S.*?)\s*", text)
    if not m or not re.fullmatch(r"\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}", m.group(2)):
        msg = (
            f"A route shift is written 'YYYY-MM-DD HH:MM-HH:MM' (e.g. '2025-12-01 08:00-16:00' "
            f"or '2025-12-01 22:00-06:00'), not {text!r}."
        )
        raise InfeasibleError(msg)
    day = m.group(1)
    try:
        # the time of day as every stage reads it (it may wrap past midnight)
        first, last = hs.parse_shift(m.group(2))
    except ValueError as exc:
        msg = f"Shift {text!r}: {exc}"
        raise InfeasibleError(msg) from None
    try:
        base = pd.Timestamp(day)
    except ValueError as exc:
        msg = f"Shift {text!r} has an invalid date {day!r}."
        raise InfeasibleError(msg) from exc
    start = base + pd.Timedelta(minutes=first)
    end = base + pd.Timedelta(minutes=last)
    if end <= start:
        end += pd.Timedelta(days=1)
    return Shift(start, end)


def _beat_slug(beat_id: Any) -> str:
    """A file-name-safe form of a beat id; ids that needed changing get a short hash
    so that two different ids never share a file."""
    text = str(beat_id)
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_")[:40]
    if slug and slug == text:
        return slug
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else digest


def route_id(beat_id: Any, shift: Shift, mode: str, *, kind: str = "tour") -> str:
    """``beat-3_2025-12-01_0800-1600_foot`` (``..._foot-streets`` for a street-coverage walk).

    The id names the route's files, so a beat id with characters other than
    letters, digits, ``-`` and ``_`` (``../x``) is made safe and given a short
    hash; summaries keep the real ``beat_id``.
    """
    suffix = "-streets" if kind == "postman" else ""
    return f"beat-{_beat_slug(beat_id)}_{shift.label}_{_mode(mode)}{suffix}"


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
        avoid = _street_keys(avoid_streets)
        rows = []
        matched: set[str] = set()
        for u, v, k, d in G.edges(keys=True, data=True):
            named = _name_keys(d.get("name")) & avoid if avoid else set()
            if named:
                matched |= named
                continue
            rows.append((self.index[u], self.index[v], k, float(d[weight]), d["geometry"]))
        for key in sorted(avoid - matched):
            log.warning("avoided street %r is not on this graph: nothing avoided for it", key)
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
        return " / ".join(_clean(x) for x in name if x)
    if name is None or (isinstance(name, float) and math.isnan(name)):
        return ""
    return _clean(name)


def _street_keys(names: Iterable[str]) -> set[str]:
    """Street names as a user typed them, folded to comparable keys ("Main St" = "MAIN STREET")."""
    return {street_key(n).full for n in names if str(n).strip()} - {""}


def _name_keys(name: Any) -> set[str]:
    """The folded keys of an edge's OSM name (a name, or a list of them)."""
    names = name if isinstance(name, list | tuple) else [name]
    return {
        street_key(str(n)).full
        for n in names
        if n is not None and not (isinstance(n, float) and math.isnan(n)) and str(n).strip()
    } - {""}


def _highway_text(hw: Any) -> str:
    if isinstance(hw, list | tuple):
        return _clean(hw[0]) if hw else "way"
    return _clean(hw) if hw else "way"


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
    parent: npt.ArrayLike | None = None,
    method: str = "auto",
    seed: int = 0,
    time_limit: float = 30.0,
    solution_limit: int = 60,
    exact_limit: float = 30.0,
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
    parent
        For each candidate, -1, or the index of a visit (itself without a
        parent) that must be made before it: a revisit names its hotspot's
        first visit. A revisit is at the same place as that visit, and never
        directly follows a visit of that place (the CSO goes elsewhere in
        between). Candidates with a parent are not counted as hotspots.
    method
        ``"exact"`` (dynamic programme over subsets, up to `DP_CELLS` cells),
        ``"cpsat"`` (an exact CP-SAT model), ``"ortools"`` (routing with guided
        local search), or ``"auto"``: the programme when its table fits (always
        for `EXACT_MAX` hotspots with two revisited every 2 hours in up to 12
        hours), else CP-SAT for up to `EXACT_MAX` hotspots, else routing.
    seed
        CP-SAT's random seed. CP-SAT runs on one worker with a deterministic
        time limit, so the same seed gives the same answer on any machine.
    time_limit, solution_limit
        OR-Tools routing limits. Routing has no random element and stops after
        `solution_limit` solutions, so its answer is repeatable; the time limit
        is only a safety net (if it stops the search first, the answer may
        depend on the machine's speed). With ``"auto"`` routing only sees the
        `_shortlist` of candidates. Past about 60 solutions guided local search
        slows down sharply and rarely finds more risk.
    exact_limit
        CP-SAT's deterministic time limit (about seconds on one core). A proof
        not finished by then returns the better of CP-SAT's best and routing.

    Returns
    -------
    order
        Candidate indices (0-based) in visiting order, or None when not even
        the required visits fit (or the end cannot be reached in time).
    """
    order, _ = _orienteering(
        travel, risk, service, budget, windows=windows, required=required, parent=parent,
        method=method, seed=seed, time_limit=time_limit, solution_limit=solution_limit,
        exact_limit=exact_limit,
    )  # fmt: skip
    return order


def _orienteering(
    travel: npt.ArrayLike,
    risk: npt.ArrayLike,
    service: npt.ArrayLike,
    budget: float,
    *,
    windows: npt.ArrayLike | None,
    required: npt.ArrayLike | None,
    parent: npt.ArrayLike | None,
    method: str,
    seed: int,
    time_limit: float,
    solution_limit: int,
    exact_limit: float,
) -> tuple[list[int] | None, dict[str, Any]]:
    """`solve_orienteering` with what the solver says about its answer.

    The info has ``solver``, ``optimal`` (True when proven, None when unknown),
    ``bound`` (the best possible risk, when known) and ``stopped_by``.
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
    par = np.full(n, -1, dtype=np.int64) if parent is None else np.asarray(parent, dtype=np.int64)
    bad = par.shape != (n,) or bool(((par >= n) | (par < -1) | (par == np.arange(n))).any())
    if bad or (par[par[par >= 0]] >= 0).any():
        msg = f"parent must be ({n},) indices of first visits (or -1); got {par.tolist()}"
        raise ValueError(msg)
    budget = float(budget)
    if (par >= 0).any():  # a revisit never directly follows a visit of its hotspot
        group = np.where(par >= 0, par, np.arange(n))
        same = (group[:, None] == group[None, :]) & ~np.eye(n, dtype=bool)
        T = T.copy()
        T[1 : n + 1, 1 : n + 1][same] = np.inf
    if method == "auto":
        hotspots = int((par < 0).sum())
        exact = _dp_cells(par) <= DP_CELLS
        method = "exact" if exact else "cpsat" if hotspots <= EXACT_MAX else "ortools"
        if method == "ortools":
            keep = _shortlist(r, s, budget, req=req, par=par)
            if len(keep) < n:
                sub = np.concatenate([[0], keep + 1, [n + 1]])
                new = np.full(n, -1, dtype=np.int64)
                new[keep] = np.arange(len(keep))
                order, info = _orienteering(
                    T[np.ix_(sub, sub)], r[keep], s[keep], budget, windows=win[keep],
                    required=req[keep], parent=np.where(par[keep] >= 0, new[par[keep]], -1),
                    method="ortools", seed=seed, time_limit=time_limit,
                    solution_limit=solution_limit, exact_limit=exact_limit,
                )  # fmt: skip
                info["shortlist"] = len(keep)
                return (None if order is None else [int(keep[j]) for j in order]), info
    if method == "exact":
        order = _exact_orienteering(T, r, s, budget, win=win, req=req, par=par)
        return order, {"solver": "exact", "optimal": True, "bound": None, "stopped_by": "proof"}
    if method == "cpsat":
        order, info = _cpsat_orienteering(
            T, r, s, budget, win=win, req=req, par=par, seed=seed, limit=exact_limit
        )
        if info["optimal"] or info["infeasible"]:
            return order, info
        # no proof in time: keep the better of CP-SAT's best and routing
        alt, alt_info = _orienteering(
            T, r, s, budget, windows=win, required=req, parent=par, method="ortools", seed=seed,
            time_limit=time_limit, solution_limit=solution_limit, exact_limit=exact_limit,
        )  # fmt: skip
        if order is None or (alt is not None and _value(alt, r) > _value(order, r) + 1e-9):
            order = alt
        info["stopped_by"] = f"{info['stopped_by']}; routing {alt_info['stopped_by']}"
        return order, info
    if method == "ortools":
        t0 = time.perf_counter()
        order = _ortools_orienteering(
            T, r, s, budget, win=win, req=req, par=par, time_limit=time_limit,
            solution_limit=solution_limit,
        )  # fmt: skip
        timed_out = time.perf_counter() - t0 >= 0.98 * time_limit
        return order, {
            "solver": "ortools",
            "optimal": None,
            "bound": None,
            "stopped_by": "time limit" if timed_out else "solution limit",
        }
    msg = f"Unknown orienteering method {method!r}; use 'auto', 'exact', 'cpsat' or 'ortools'."
    raise ValueError(msg)


#: Routing sees at most this many times the visits a plan can hold (budget / dwell) of
#: the riskiest hotspots, with their revisits and required visits: on Baltimore beats
#: of 50-180 hotspots this finds as much risk as all of them, in a third of the time.
SHORTLIST = 3


def _shortlist(
    r: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    budget: float,
    *,
    req: npt.NDArray[np.bool_],
    par: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Candidates worth giving to routing: the riskiest first visits (`SHORTLIST` x the
    most a plan can hold), their revisits, and every required visit; in index order."""
    n = len(r)
    most = math.floor(budget / max(float(s.min()), 1e-9)) if n else 0
    first = np.flatnonzero(par < 0)
    ranked = first[np.argsort(-r[first], kind="stable")][: SHORTLIST * most]
    keep = np.zeros(n, dtype=bool)
    keep[ranked] = True
    keep |= req
    keep |= (par >= 0) & keep[np.maximum(par, 0)]
    return np.flatnonzero(keep)


def _value(order: Sequence[int], r: npt.NDArray[np.float64]) -> float:
    return float(r[list(order)].sum()) if len(order) else 0.0


#: Largest table (subsets x places) the exact programme fills: 12 hotspots, two of them
#: revisited in each 2-hour block of a 12-hour shift, take 13.4 M cells (about 110 MB).
DP_CELLS = 14 << 20


def _places(par: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Place of each candidate, numbered from 0: a revisit is at its first visit's place."""
    group = np.where(par >= 0, par, np.arange(len(par)))
    return np.unique(group, return_inverse=True)[1].astype(np.int64)


def _dp_cells(par: npt.NDArray[np.int64]) -> int:
    """Cells of the exact programme's table: subsets that hold no revisit without
    its first visit, times places."""
    n = len(par)
    if n == 0:
        return 0
    kids = np.bincount(par[par >= 0], minlength=n)
    free = n - int((par >= 0).sum()) - int((kids > 0).sum())
    subsets = (1 << free) * math.prod(1 + (1 << int(k)) for k in kids[kids > 0])
    return subsets * (int(_places(par).max()) + 1)


def _exact_orienteering(
    T: npt.NDArray[np.float64],
    r: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    budget: float,
    *,
    win: npt.NDArray[np.float64],
    req: npt.NDArray[np.bool_],
    par: npt.NDArray[np.int64],
) -> list[int] | None:
    """Exact dynamic programme over the subsets of visits (Held-Karp for orienteering).

    ``done[subset, p]`` is the earliest time the visits of the subset can all
    be served ending at place `p` (waiting at windows allowed; earlier is never
    worse, so this dominates). It is filled layer by layer of subset size, one
    vectorised step per (layer, visit). Subsets holding a revisit without its
    first visit are left out, so a revisit always comes after the first visit;
    revisits share their hotspot's place, and one place never follows itself:
    12 hotspots with two revisited in each block of a 12-hour shift fit in
    `DP_CELLS`. The answer is the
    riskiest subset whose best finish fits the budget, then the quickest, then
    the lowest bit mask.
    """
    n = len(r)
    end = n + 1
    eps = 1e-9
    if T[0, end] > budget + eps:
        return None
    if n == 0:
        return []
    cells = _dp_cells(par)
    if cells > DP_CELLS:
        msg = f"The exact programme takes at most {DP_CELLS} cells (subsets x places), not {cells}."
        raise ValueError(msg)
    place = _places(par)
    P = int(place.max()) + 1
    rep = np.array([int(np.flatnonzero(place == p)[0]) for p in range(P)])
    Tp = T[np.ix_(rep + 1, rep + 1)]  # place to place
    np.fill_diagonal(Tp, np.inf)  # never two visits of one place in a row
    to_end = T[rep + 1, end]
    lo, hi = win[:, 0], win[:, 1]
    bits = np.left_shift(1, np.arange(n, dtype=np.int64))
    allm = np.arange(1 << n, dtype=np.int64)
    ok_mask = np.ones(1 << n, dtype=bool)
    for j in np.flatnonzero(par >= 0).tolist():
        ok_mask &= ((allm & bits[j]) == 0) | ((allm & bits[par[j]]) != 0)
    masks = allm[ok_mask]  # increasing
    del allm
    index = np.full(1 << n, -1, dtype=np.int64)
    index[masks] = np.arange(len(masks))
    size = np.zeros(len(masks), dtype=np.int8)
    for b in bits:
        size += ((masks & b) != 0).astype(np.int8)
    done = np.full((len(masks), P), np.inf)
    first = np.maximum(T[0, 1 : n + 1], lo)
    for j in np.flatnonzero((first <= hi + eps) & (par < 0)).tolist():
        done[index[bits[j]], int(place[j])] = first[j] + s[j]
    for k in range(2, n + 1):
        layer = masks[size == k]
        for j in range(n):
            m = layer[(layer & bits[j]) != 0]
            prev = index[m ^ bits[j]]
            m, prev = m[prev >= 0], prev[prev >= 0]  # a first visit never follows its revisit
            p = int(place[j])
            arrive = np.maximum((done[prev] + Tp[:, p][None, :]).min(axis=1), lo[j])
            ok = (arrive <= hi[j] + eps) & (arrive + s[j] + to_end[p] <= budget + eps)
            at = index[m[ok]]
            done[at, p] = np.minimum(done[at, p], arrive[ok] + s[j])
    finish = (done + to_end[None, :]).min(axis=1)
    feasible = finish <= budget + eps
    finish[0] = T[0, end]
    feasible[0] = True
    if req.any():
        need = int(bits[req].sum())
        feasible &= (masks & need) == need
    if not feasible.any():
        return None
    value = np.zeros(len(masks))
    for j in range(n):
        value += np.where((masks & bits[j]) != 0, r[j], 0.0)
    cand = np.flatnonzero(feasible)
    # most risk; then the quickest; then the lowest mask (deterministic)
    best = int(cand[np.lexsort((masks[cand], finish[cand], -np.round(value[cand], 9)))[0]])
    # walk back: which visit ended the subset, and from which place it came
    seq: list[int] = []
    mask = int(masks[best])
    at_p = int(np.argmin(done[best] + to_end)) if mask else -1
    while mask:
        here = done[index[mask], at_p]
        for j in np.flatnonzero(((mask & bits) != 0) & (place == at_p)).tolist():
            prev = mask ^ int(bits[j])
            if prev == 0:
                a, q = T[0, j + 1], -1
            elif index[prev] < 0:
                continue
            else:
                via = done[index[prev]] + Tp[:, at_p]
                q = int(np.argmin(via))
                a = via[q]
            arrive = max(a, lo[j])
            if arrive <= hi[j] + eps and abs(arrive + s[j] - here) <= 1e-6:
                seq.append(int(j))
                mask, at_p = prev, q
                break
        else:  # pragma: no cover - the table is consistent by construction
            msg = "exact orienteering: could not trace the plan back"
            raise RuntimeError(msg)
    return seq[::-1]


def _cpsat_orienteering(
    T: npt.NDArray[np.float64],
    r: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    budget: float,
    *,
    win: npt.NDArray[np.float64],
    req: npt.NDArray[np.bool_],
    par: npt.NDArray[np.int64],
    seed: int,
    limit: float,
) -> tuple[list[int] | None, dict[str, Any]]:
    """An exact CP-SAT model: a circuit through start, chosen visits and end.

    Arcs carry "service start at j >= service start at i + service at i +
    travel i->j"; a skipped visit takes its self-loop. The sum of the chosen
    arcs' times is also capped by the budget (a cut that closes most of the
    gap the time variables leave). Times are whole milliseconds rounded up, so
    a plan that fits here fits in real time. A second, short solve keeps the
    best risk and shortens the finish time (proving that is not needed).
    """
    from ortools.sat.python import cp_model  # noqa: PLC0415

    info: dict[str, Any] = {
        "solver": "cpsat", "optimal": False, "bound": None, "stopped_by": "", "infeasible": False,
    }  # fmt: skip
    n = len(r)
    end = n + 1
    if not T[0, end] <= budget:
        info.update(optimal=True, infeasible=True, stopped_by="proof")
        return None, info
    scale = 1000.0
    cap = math.floor(budget * scale)
    Ti = np.where(np.isfinite(T), np.ceil(T * scale), -1).astype(np.int64)
    serv = np.concatenate([[0], np.ceil(s * scale), [0]]).astype(np.int64)
    m = cp_model.CpModel()
    t = [m.new_int_var(0, cap, f"t{i}") for i in range(n + 2)]
    vis = [m.new_bool_var(f"v{j}") for j in range(n)]
    m.add(t[0] == 0)
    arcs: list[tuple[int, int, Any]] = []
    lit: dict[tuple[int, int], Any] = {}
    cost = []
    for i in range(n + 1):
        for j in range(1, n + 2):
            if i == j or Ti[i, j] < 0 or serv[i] + Ti[i, j] > cap:
                continue
            a = m.new_bool_var(f"a{i}_{j}")
            m.add(t[j] >= t[i] + int(serv[i] + Ti[i, j])).only_enforce_if(a)
            arcs.append((i, j, a))
            lit[(i, j)] = a
            cost.append(int(serv[i] + Ti[i, j]) * a)
    back = m.new_bool_var("back")
    m.add(back == 1)
    arcs.append((end, 0, back))
    for j in range(n):
        arcs.append((j + 1, j + 1, ~vis[j]))
        lo = math.ceil(win[j, 0] * scale)
        hi = math.floor(min(win[j, 1], budget) * scale) if np.isfinite(win[j, 1]) else cap
        if req[j]:
            m.add(vis[j] == 1)
        if lo > min(hi, cap) or not np.isfinite(r[j]):
            m.add(vis[j] == 0)
            continue
        m.add(t[j + 1] >= lo).only_enforce_if(vis[j])
        m.add(t[j + 1] <= hi).only_enforce_if(vis[j])
        if par[j] >= 0:  # a revisit comes after its first visit
            b = int(par[j])
            m.add_implication(vis[j], vis[b])
            m.add(t[j + 1] >= t[b + 1] + int(serv[b + 1])).only_enforce_if(vis[j])
    m.add_circuit(arcs)
    m.add(sum(cost) <= cap)
    total = float(np.abs(r).sum()) or 1.0
    w = np.round(r / total * 1e9).astype(np.int64)
    value = sum(int(w[j]) * vis[j] for j in range(n))
    # a hint: the riskiest visits inserted greedily where they fit
    greedy = _polish([], T, r, s, budget, win=win, par=par)
    for j in range(n):
        m.add_hint(vis[j], j in greedy)
    for i, j in itertools.pairwise([0, *(j + 1 for j in greedy), end]):
        if (i, j) in lit:
            m.add_hint(lit[(i, j)], True)
    m.maximize(value)

    def solve(limit_s: float) -> tuple[Any, Any]:
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = int(seed)
        solver.parameters.max_deterministic_time = float(limit_s)
        return solver, solver.solve(m)

    solver, status = solve(limit)
    if status == cp_model.INFEASIBLE:
        info.update(optimal=True, infeasible=True, stopped_by="proof")
        return None, info
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        info["stopped_by"] = "deterministic time limit (no solution)"
        return None, info
    info["optimal"] = status == cp_model.OPTIMAL
    info["stopped_by"] = "proof" if info["optimal"] else "deterministic time limit"
    info["bound"] = float(solver.best_objective_bound) / 1e9 * total
    best = round(solver.objective_value)
    chosen = [bool(solver.value(v)) for v in vis]
    succ = {i: j for (i, j), a in lit.items() if solver.value(a)}
    # the quickest plan of that risk
    m.clear_hints()
    for j in range(n):
        m.add_hint(vis[j], chosen[j])
    for (i, j), a in lit.items():
        m.add_hint(a, succ.get(i) == j)
    m.add(value >= best)
    m.minimize(t[end])
    solver2, status2 = solve(min(1.0, limit / 3.0))
    if status2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        succ = {i: j for (i, j), a in lit.items() if solver2.value(a)}
    order = []
    node = succ.get(0, end)
    while node != end:
        order.append(node - 1)
        node = succ[node]
    return order, info


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
    par: npt.NDArray[np.int64],
    time_limit: float,
    solution_limit: int,
) -> list[int] | None:
    """Prize-collecting routing: dropped visits cost a penalty proportional to risk.

    Guided local search has no random element; stopping it at `solution_limit`
    solutions (not on time) makes the answer repeatable.
    """
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
    params.solution_limit = solution_limit
    params.time_limit.FromMilliseconds(int(time_limit * 1000))
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
    # revisit-after-first-visit constraints stall the routing search (its local search
    # filters cannot see them), so a revisit placed before its first visit is taken
    # out here and `_polish` puts back what fits
    seen: set[int] = set()
    kept = []
    for j in order:
        if par[j] < 0 or int(par[j]) in seen:
            kept.append(j)
            seen.add(j)
    return _polish(kept, T, r, s, budget, win=win, par=par)


def _finish(
    seq: Sequence[int],
    T: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    win: npt.NDArray[np.float64],
    par: npt.NDArray[np.int64] | None = None,
) -> float:
    """Time at the end after visiting `seq` (waiting at windows), inf if a window is
    missed or a revisit comes before its first visit."""
    if par is not None:
        seen: set[int] = set()
        for j in seq:
            if par[j] >= 0 and int(par[j]) not in seen:
                return math.inf
            seen.add(j)
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
    par: npt.NDArray[np.int64],
    max_rounds: int = 60,
) -> list[int]:
    """Insert left-out visits that still fit, shorten the tour, swap a visit for a riskier one.

    Guided local search stalls on some prize-collecting instances (a gap of a
    few per cent on 8-visit instances against brute force, more on beats of
    100+ hotspots on foot); inserting the riskiest visit that fits at its
    cheapest place, then shortening the order (2-opt and moving one visit,
    which frees time for another insertion), then a swap, closes most of it.
    A revisit goes in only after its first visit, and a first visit with
    revisits is never swapped out. Deterministic: first improvement in a fixed order.
    """
    seq = list(order)
    n = len(r)

    def fits(cand: list[int]) -> float:
        f = _finish(cand, T, s, win, par)
        return f if f <= budget + 1e-9 else math.inf

    for _ in range(max_rounds):
        inside = set(seq)
        out = sorted(
            (j for j in range(n) if j not in inside and (par[j] < 0 or par[j] in inside)),
            key=lambda j: (-r[j], j),
        )
        best: tuple[float, list[int]] | None = None
        for j in out:  # insert the riskiest visit that fits
            for p in range(len(seq) + 1):
                cand = [*seq[:p], j, *seq[p:]]
                f = fits(cand)
                if f < math.inf and (best is None or f < best[0]):
                    best = (f, cand)
            if best is not None:
                break
        if best is None and out:  # shorten, then try to insert again
            shorter = _shorten(seq, fits)
            if shorter is not None:
                seq = shorter
                continue
        if best is None:  # swap a visit for a riskier left-out one
            gain = 0.0
            parents = {int(par[i]) for i in seq if par[i] >= 0}
            for i_pos, i in enumerate(seq):
                if i in parents:
                    continue
                rest = seq[:i_pos] + seq[i_pos + 1 :]
                for j in out:
                    if r[j] - r[i] <= gain + 1e-12:
                        break  # `out` is riskiest first
                    if par[j] == i:
                        continue
                    for p in range(len(rest) + 1):
                        cand = [*rest[:p], j, *rest[p:]]
                        if fits(cand) < math.inf:
                            gain, best = r[j] - r[i], (0.0, cand)
                            break
        if best is None:
            break
        seq = best[1]
    return seq


def _shorten(seq: list[int], fits: Any) -> list[int] | None:
    """A quicker order of the same visits (2-opt reversal or one visit moved), or None."""
    now = fits(seq)
    k = len(seq)
    for i in range(k - 1):
        for j in range(i + 1, k):
            cand = [*seq[:i], *seq[i : j + 1][::-1], *seq[j + 1 :]]
            if fits(cand) < now - 1e-6:
                return cand
    for i in range(k):
        rest = seq[:i] + seq[i + 1 :]
        for p in range(k):
            if p == i:
                continue
            cand = [*rest[:p], seq[i], *rest[p:]]
            if fits(cand) < now - 1e-6:
                return cand
    return None


# --------------------------------------------------------------------------- #
# routes
# --------------------------------------------------------------------------- #
@dataclass
class Stop:
    """One point of a route: the start, a hotspot stop, a break on the way, or the end."""

    seq: int
    kind: str  # start | stop | break | end
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
    """A planned patrol route and everything a route sheet shows.

    ``risk_covered`` is the risk of the distinct hotspots visited (each once,
    at most ``risk_available``, the risk of all the beat's hotspots for the
    shift); ``risk_revisits`` is what revisits add. Their sum is what the
    solver maximised, and the sum of the stops' ``risk``.
    """

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
    risk_revisits: float = 0.0

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
    def n_stops(self) -> int:
        """Hotspot (and required) stops, breaks not counted."""
        return sum(1 for s in self.stops if s.kind == "stop")

    @property
    def objective(self) -> float:
        """Risk covered plus what revisits add: the value the solver maximised."""
        return self.risk_covered + self.risk_revisits

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
        """Minutes from leaving the start to reaching the end (breaks and waits on the way
        included; a break taken at the end point after arrival is not)."""
        return float((self.stops[-1].arrive - self.stops[0].depart).total_seconds() / 60.0)

    def directions(self) -> list[dict[str, Any]]:
        """Turn-by-turn directions, with a row at each stop and break."""
        out: list[dict[str, Any]] = []
        bounds = [0, *self.stop_steps[1:]]
        for i in range(1, len(self.stops)):
            leg = self.steps[bounds[i - 1] : bounds[i]]
            out.extend(_leg_directions(leg))
            stop = self.stops[i]
            if stop.kind == "end":
                text = "Arrive at end"
            elif stop.kind == "break":
                text = f"Break {stop.break_min:.0f} min"
            else:
                text = f"Stop {stop.seq}: stay {stop.dwell_min:.0f} min"
            if stop.kind != "break" and stop.break_min:
                text += f", break {stop.break_min:.0f} min"
            out.append({"street": stop.name, "distance_m": 0.0, "turn": "", "instruction": text})
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
            "break_min": round(sum(s.break_min for s in self.stops), 2),
            "distance_km": round(self.distance_m / 1000.0, 3),
            "n_stops": self.n_stops,
            "stops": [s.to_dict() for s in self.stops],
            "risk_covered": round(self.risk_covered, 6),
            "risk_revisits": round(self.risk_revisits, 6),
            "risk_available": round(self.risk_available, 6),
            "feasible": bool(self.feasible),
            "reason": "" if self.feasible else "; ".join(self.warnings),
            "warnings": list(self.warnings),
            "directions": self.directions(),
            **{k: _jsonable(v) for k, v in self.extra.items()},
        }


def failed_summary(
    beat_id: Any,
    shift: Shift,
    mode: str,
    *,
    kind: str = "tour",
    reason: str,
    risk_available: float = 0.0,
) -> dict[str, Any]:
    """The summary of a route that could not be planned: every key of `Route.summary`,
    zero or empty, ``feasible: false`` and the ``reason``."""
    mode = _mode(mode)
    sh = shift
    return {
        "route_id": route_id(beat_id, sh, mode, kind=kind),
        "beat_id": _jsonable(beat_id),
        "mode": mode,
        "kind": kind,
        "shift_start": sh.start.isoformat(),
        "shift_end": sh.end.isoformat(),
        "patrol_min": 0.0,
        "duration_min": 0.0,
        "travel_min": 0.0,
        "dwell_min": 0.0,
        "break_min": 0.0,
        "distance_km": 0.0,
        "n_stops": 0,
        "stops": [],
        "risk_covered": 0.0,
        "risk_revisits": 0.0,
        "risk_available": round(float(risk_available), 6),
        "feasible": False,
        "reason": _clean(reason),
        "warnings": [_clean(reason)],
        "directions": [],
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
    """Merge consecutive edges of one street (unless the way turns back); a turn
    instruction where the street changes."""
    out: list[dict[str, Any]] = []
    prev_end: Sequence[float] | None = None
    prev_pt: Sequence[float] | None = None
    for st in leg:
        street = st.name or st.highway
        c = list(st.geometry.coords)
        instruction = "Head out on" if not out else "Continue onto"
        if prev_end is not None and prev_pt is not None and len(c) >= 2:
            delta = (_bearing(c[0], c[1]) - _bearing(prev_pt, prev_end) + 540.0) % 360.0
            instruction = _turn(delta - 180.0)
        if out and out[-1]["street"] == street and not instruction.startswith("Make a U-turn"):
            out[-1]["distance_m"] += st.length
        else:
            out.append({"street": street, "distance_m": st.length, "instruction": instruction})
        if len(c) >= 2:
            prev_pt, prev_end = c[-2], c[-1]
    for row in out:
        row["distance_m"] = round(float(row["distance_m"]), 1)
        row["turn"] = _short_turn(row["instruction"])
        row["instruction"] = f"{row['instruction']} {row['street']} for {row['distance_m']:.0f} m"
    return out


def _short_turn(instruction: str) -> str:
    """``"Turn right onto"`` -> ``"right"``, for the condensed directions of the sheet."""
    if instruction.startswith("Head out"):
        return ""
    if instruction.startswith("Make a U-turn"):
        return "U-turn"
    if instruction.startswith("Continue"):
        return "on"
    return instruction.removeprefix("Turn ").removesuffix(" onto").lower()


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
    """Share of each hotspot's incidents that fell in the shift's hours.

    A weekday x hour ``profile`` (7 x 24, Monday first, as `find_hotspots`
    writes it) counts the shift's own weekday(s): a night shift from Monday
    22:00 counts Monday 22-23 and Tuesday 0-5. A 24-hour profile counts hours
    only, and without a profile ``peak_hours`` says whether the shift meets
    the hotspot's 3-hour peak (1 or 0). Hotspots with no readable profile keep 1.
    """
    cells = shift.weekday_hours()
    days = [d for d, _ in cells]
    hours = [h for _, h in cells]
    out = np.ones(len(hotspots))
    if "profile" in hotspots:
        for i, text in enumerate(hotspots["profile"].to_numpy()):
            try:
                prof = np.asarray(json.loads(str(text)), dtype=float)
            except (ValueError, TypeError):
                continue
            if not np.isfinite(prof).all() or prof.sum() <= 0:
                continue
            if prof.shape == (7, 24):
                out[i] = prof[days, hours].sum() / prof.sum()
            elif prof.shape == (24,):
                out[i] = prof[list(dict.fromkeys(hours))].sum() / prof.sum()
        return out
    if "peak_hours" in hotspots:
        for i, ph in enumerate(hotspots["peak_hours"].astype(str)):
            m = re.fullmatch(r"(\d{2}):00-(\d{2}):00", ph)
            if m:
                a = int(m.group(1))
                peak = {(a + d) % 24 for d in range(3)}
                out[i] = 1.0 if peak & set(hours) else 0.0
    return out


def _anchor_points(geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Where a hotspot is visited: the middle of a street piece, or a point inside a cell.

    Street-segment hotspots are lines; grid cells and HDBSCAN clusters are polygons.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = shapely.point_on_surface(geoms)
    lines = np.isin(shapely.get_type_id(geoms), (1, 5))  # LineString, MultiLineString
    if lines.any():
        out[lines] = shapely.line_interpolate_point(geoms[lines], 0.5, normalized=True)
    return np.asarray(out, dtype=object)


def beat_hotspots(
    hotspots: gpd.GeoDataFrame,
    beat: BaseGeometry | None,
    *,
    shift: Shift | None = None,
) -> gpd.GeoDataFrame:
    """Hotspots whose street-piece midpoint lies in `beat`, hottest first.

    With `shift`, only hotspots with incidents in the shift's hours (on its
    weekday, see `_shift_share`) are kept, and ``risk`` is scaled by that share;
    the ranking then follows the scaled risk.
    """
    if hotspots.empty:
        out = hotspots.copy()
        out["risk"] = np.zeros(0)
        return out
    mid = _anchor_points(hotspots.geometry.to_numpy())
    keep = np.ones(len(hotspots), dtype=bool)
    if beat is not None:
        keep &= shapely.within(mid, beat) | shapely.intersects(mid, beat)
    share = _shift_share(hotspots, shift) if shift is not None else np.ones(len(hotspots))
    if shift is not None:
        keep &= share > 0
    out = hotspots.loc[keep].copy()
    out["risk"] = _risk(out) * share[keep]
    return out.sort_values("risk", ascending=False, kind="stable")


def _attr_text(row: Any, name: str) -> str:
    v = getattr(row, name, "")
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return _clean(v)


def _reason(row: Any) -> str:
    parts = []
    tct = _attr_text(row, "top_call_types")
    if tct:
        parts.append("calls " + ", ".join(tct.split(";")))
    ph = _attr_text(row, "peak_hours")
    if ph:
        parts.append(f"peak {ph}")
    rank = getattr(row, "rank", None)
    if rank is not None and not pd.isna(rank):
        parts.insert(0, f"hotspot #{int(rank)}")
    return "; ".join(parts)


def _rank(row: Any) -> int | None:
    rank = getattr(row, "rank", None)
    return None if rank is None or pd.isna(rank) else int(rank)


def _candidate(row: Any, x: float, y: float, risk: float, node: int = -1) -> dict[str, Any]:
    rank = _rank(row)
    name = _name_text(getattr(row, "name", ""))
    return {
        "node": node,
        "x": x,
        "y": y,
        "risk": float(risk),
        "rank": rank,
        "name": name or _highway_text(getattr(row, "highway", "")),
        "street": name,
        "reason": _reason(row),
        "top_call_types": _attr_text(row, "top_call_types"),
        "peak_hours": _attr_text(row, "peak_hours"),
        "required": False,
        "visit": 1,
        "parent": -1,
        "kind": "hotspot",
        "window": (0.0, math.inf),
        "clock_window": (0.0, math.inf),
        "label": f"hotspot #{rank}" if rank is not None else "hotspot",
    }


def _left_out(c: dict[str, Any], why: str) -> dict[str, Any]:
    return {"rank": c["rank"], "name": c["name"], "risk": round(c["risk"], 6), "reason": why}


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
    tg: TravelGraph,
    xy: tuple[float, float],
    what: str,
    lonlat: tuple[float, float] | None,
    *,
    limit: float = MAX_SNAP_M,
) -> tuple[int, float, float]:
    node, dist, sx, sy = tg.snap(*xy)
    if dist > limit:
        where = f"{lonlat[0]:.6f},{lonlat[1]:.6f}" if lonlat else f"({xy[0]:.0f}, {xy[1]:.0f})"
        msg = (
            f"The {what} point {where} is {dist:.0f} m from the nearest street of this "
            f"graph (limit {limit:.0f} m): give a point on or next to a street."
        )
        raise InfeasibleError(msg)
    return node, sx, sy


def _check_dwell(dwell: float) -> None:
    lo_d, hi_d = DWELL_BOUNDS
    if not lo_d <= dwell <= hi_d:
        msg = f"Dwell {dwell:g} min is outside {lo_d:g}-{hi_d:g} min; give --dwell in that range."
        raise InfeasibleError(msg)


def read_areas(path: str | Path, crs: str, *, what: str = "area file") -> BaseGeometry:
    """The polygons of a vector file (GeoJSON, GeoPackage, ...) as one geometry in `crs`.

    Raises `InputFileError` for a missing or unreadable file, one without a
    CRS, or one without polygons.
    """
    gdf = read_vector(path, what=what)
    if gdf.crs is None:
        msg = f"The {what} {str(path)!r} has no CRS; save it as GeoJSON (lon/lat) or set one."
        raise InputFileError(msg)
    geoms = gdf.to_crs(crs).geometry
    polys = geoms[geoms.notna() & geoms.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polys.empty:
        msg = f"The {what} {str(path)!r} holds no polygons (found {sorted(set(geoms.geom_type))})."
        raise InputFileError(msg)
    return shapely.union_all(polys.to_numpy())


def _polygons(area: BaseGeometry | None) -> list[BaseGeometry]:
    if area is None or area.is_empty:
        return []
    parts = getattr(area, "geoms", [area])
    return [p for p in parts if p.area > 0]


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
    require_areas: BaseGeometry | None = None,
    reserve_minutes: float = 0.0,
    travel: TravelGraph | None = None,
    method: str = "auto",
    seed: int = 0,
    time_limit: float = 30.0,
    solution_limit: int = 60,
    exact_limit: float = 30.0,
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
        ``(lon, lat)`` points, at most `MAX_SNAP_M` from a street; default the
        street nearest the beat's centre (no farther than the beat's radius),
        and end = start.
    dwell
        Minutes at each stop, within `DWELL_BOUNDS`.
    breaks
        Breaks (`parse_break`); patrol time is the shift minus them, and each
        is taken where the CSO is when it falls due.
    revisit_every, revisit_top, revisit_weight
        In shifts longer than `revisit_every` minutes, the `revisit_top`
        hottest reachable hotspots (by their risk for this shift) may be
        visited again once in each later block of `revisit_every` minutes of
        the shift (clock time, breaks included), each revisit worth
        `revisit_weight` of their risk. None or 0: no revisits.
    shift_hours_only
        Keep only hotspots with incidents in the shift's hours (on its
        weekday), their risk scaled by that share (see `beat_hotspots`).
    avoid_streets, avoid_areas
        Street names or polygons (projected CRS) left out of the graph.
    require_streets, require_areas
        Street names, or polygons, that the tour must visit: the hottest
        hotspot on that street (in that area), else a stop at the middle of its
        longest street. If they do not all fit, the tour visits what fits and
        says so.
    reserve_minutes
        Minutes of the shift kept free for calls for service (e.g. the beat's
        expected call workload in this shift, `cso_geo.beats.expected_workload`):
        the tour fits in the patrol time left, and its times assume no call
        comes in (the CSO picks the tour up again after one).
    travel
        A prebuilt `TravelGraph` of the mode's graph, to reuse across beats
        (it then decides what is avoided: `avoid_streets`/`avoid_areas` are
        not applied again).
    method, seed, time_limit, solution_limit, exact_limit
        `solve_orienteering` settings. The same request and seed give the
        same route.

    Returns
    -------
    route
        Infeasible requests (the end not reachable in time) come back with
        ``feasible=False``, no stops and a warning, never an exception;
        errors a user can fix raise `InfeasibleError`. ``extra`` holds the
        solver, whether its answer is proven optimal, the hotspots left out
        (``unreachable``, with the reason) and ``risk_reachable``.
    """
    t0 = time.perf_counter()
    sh = parse_route_shift(shift) if isinstance(shift, str) else shift
    mode = _mode(mode)
    _check_dwell(dwell)
    plan = _break_plan(breaks, sh)
    patrol = sh.minutes - sum(m for _, m in plan)
    if patrol <= 0:
        msg = f"Breaks ({sh.minutes - patrol:g} min) fill the whole {sh.minutes:g}-min shift."
        raise InfeasibleError(msg)
    if not (math.isfinite(reserve_minutes) and reserve_minutes >= 0):
        msg = (
            f"reserve_minutes is minutes kept free for calls (0 or more), not {reserve_minutes!r}."
        )
        raise InfeasibleError(msg)
    if revisit_every is not None and not (math.isfinite(revisit_every) and revisit_every >= 0):
        msg = f"revisit_every is minutes between revisits (0 or None: off), not {revisit_every!r}."
        raise InfeasibleError(msg)
    G = network.graph(mode)
    if travel is None:
        travel = TravelGraph(G, avoid_streets=list(avoid_streets), avoid_areas=avoid_areas)
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
    # no point given: the street nearest the beat's centre, if within the beat's radius
    radius = math.sqrt(beat.area / math.pi) if start is None and beat is not None else 0.0
    s_node, s_x, s_y = _snap_point(tg, sxy, "start", start_lonlat, limit=max(MAX_SNAP_M, radius))
    if end is None:
        e_node, e_x, e_y = s_node, s_x, s_y
    else:
        e_node, e_x, e_y = _snap_point(tg, _to_xy(end, network.crs), "end", end_lonlat)

    # the beat's hotspots for this shift; those off the graph are left out
    cand = beat_hotspots(hotspots, beat, shift=sh if shift_hours_only else None)
    risk_all = cand["risk"].to_numpy(dtype=float)
    risk_available = float(risk_all.sum())
    mids = _anchor_points(cand.geometry.to_numpy())
    unreachable: list[dict[str, Any]] = []
    cands: list[dict[str, Any]] = []
    for i, row in enumerate(cand.itertuples(index=False)):
        c = _candidate(row, float(shapely.get_x(mids[i])), float(shapely.get_y(mids[i])),
                       risk_all[i])  # fmt: skip
        c["node"], snap_d, _, _ = tg.snap(c["x"], c["y"])
        if snap_d > MAX_STOP_SNAP_M:
            why = f"{snap_d:.0f} m from the {mode} graph (limit {MAX_STOP_SNAP_M:.0f} m)"
            warnings.append(
                f"{c['label']} on {c['street'] or 'an unnamed street'} is {why}: left out"
            )
            unreachable.append(_left_out(c, why))
            continue
        cands.append(c)

    # required streets and areas
    for req in sorted(_street_keys(require_streets)):
        on = [c for c in cands if req in _name_keys(c["street"].split(" / "))]
        if on:
            for c in on:
                c["required"] = True
            continue
        extra_stop = _street_stop(tg, req, beat)
        if extra_stop is None:
            warnings.append(f"required street {req!r} has no street in the beat: ignored")
        else:
            cands.append(extra_stop)
    for k, area in enumerate(_polygons(require_areas), start=1):
        inside = [c for c in cands if c["kind"] == "hotspot" and area.intersects(
            shapely.Point(c["x"], c["y"]))]  # fmt: skip
        if inside:
            max(inside, key=lambda c: c["risk"])["required"] = True
            continue
        extra_stop = _area_stop(tg, area, k)
        if extra_stop is None:
            warnings.append(f"required area {k} holds no street of the {mode} graph: ignored")
        else:
            cands.append(extra_stop)

    # travel times from the start, each candidate and the end (one Dijkstra per node)
    uniq = sorted({s_node, e_node, *(c["node"] for c in cands)})
    dist, pred = tg.shortest(uniq)
    row_of = {n: i for i, n in enumerate(uniq)}
    if not np.isfinite(dist[row_of[s_node], e_node]):
        msg = (
            f"The end point cannot be reached from the start on the {mode} graph "
            "(one-ways or avoided streets cut it off): choose other points."
        )
        raise InfeasibleError(msg)
    kept = []
    for c in cands:
        if np.isfinite(dist[row_of[s_node], c["node"]]) and np.isfinite(
            dist[row_of[c["node"]], e_node]
        ):
            kept.append(c)
            continue
        why = f"cannot be reached from the start and back to the end on the {mode} graph"
        warnings.append(f"{c['label']} on {c['name'] or 'an unnamed street'} {why}: left out")
        if c["kind"] == "hotspot":
            unreachable.append(_left_out(c, why))
    cands = kept
    risk_reachable = float(sum(c["risk"] for c in cands if c["kind"] == "hotspot"))
    if not any(c["kind"] == "hotspot" for c in cands):
        warnings.append(
            f"beat {beat_id} has no hotspots for this shift: route goes start to end"
            if len(cand) == 0
            else "no reachable hotspots: route goes start to end"
        )

    # revisits of the hottest hotspots (risk for this shift), one per later block
    if revisit_every and sh.minutes > revisit_every:
        blocks = math.ceil(sh.minutes / revisit_every) - 1
        hot = [k for k, c in enumerate(cands) if c["kind"] == "hotspot" and c["risk"] > 0]
        top = sorted(hot, key=lambda k: (-cands[k]["risk"], k))[: max(revisit_top, 0)]
        for k in top:
            for b in range(1, blocks + 1):
                w0, w1 = b * revisit_every, min((b + 1) * revisit_every, sh.minutes)
                lo = _patrol_minutes(w0, plan, upper=False)
                hi = _patrol_minutes(w1, plan, upper=True)
                if lo >= patrol or lo > hi:
                    continue
                cands.append(
                    {
                        **cands[k],
                        "risk": cands[k]["risk"] * revisit_weight,
                        "required": False,
                        "visit": b + 1,
                        "parent": k,
                        "kind": "revisit",
                        "window": (lo * 60.0, hi * 60.0),
                        "clock_window": (w0, w1),
                    }
                )

    pts = [s_node, *(c["node"] for c in cands), e_node]
    rows = [row_of[p] for p in pts]
    T = dist[np.ix_(rows, pts)]
    n = len(cands)
    service = np.full(n, dwell * 60.0)
    windows = np.array([c["window"] for c in cands], dtype=float).reshape(n, 2)
    required = np.array([c["required"] for c in cands], dtype=bool)
    parent = np.array([c["parent"] for c in cands], dtype=np.int64)
    risk = np.array([c["risk"] for c in cands], dtype=float)
    reserve = min(float(reserve_minutes), patrol)
    if reserve > 0:
        warnings.append(
            f"{reserve:.0f} min of the shift kept free for calls: the tour fits in the "
            f"{patrol - reserve:.0f} min left"
        )
    budget = (patrol - reserve) * 60.0
    settings: dict[str, Any] = {
        "windows": windows, "parent": parent, "method": method, "seed": seed,
        "time_limit": time_limit, "solution_limit": solution_limit, "exact_limit": exact_limit,
    }  # fmt: skip
    order, info = _orienteering(T, risk, service, budget, required=required, **settings)
    if order is None and required.any():
        warnings.append(
            "the required streets/areas do not all fit in the shift: visiting what fits"
        )
        order, info = _orienteering(T, risk, service, budget, required=None, **settings)
    feasible = order is not None
    if order is None:
        warnings.append(
            f"going from the start to the end alone takes {T[0, n + 1] / 60:.0f} min, more "
            f"than the {patrol - reserve:.0f} min of patrol time: no stops planned"
        )
        order = []
    if info["solver"] == "ortools" and info["stopped_by"] == "time limit":
        warnings.append(
            f"the route search stopped on its {time_limit:g}-s safety limit before "
            f"{solution_limit} solutions: the route may differ between runs (raise time_limit)"
        )
    if info["solver"] == "cpsat" and not info["optimal"] and feasible:
        bound = "" if info["bound"] is None else f" (at most {info['bound']:.4g} is possible)"
        warnings.append(
            f"the exact search did not finish in time: the route is the best found{bound}"
        )

    # the path and schedule; visits of one hotspot are numbered in time order
    picked = [dict(cands[j]) for j in order]
    seen: dict[int, int] = {}
    for c, j in zip(picked, order, strict=True):
        place = int(parent[j]) if parent[j] >= 0 else j
        seen[place] = seen.get(place, 0) + 1
        c["visit"] = seen[place]
        base = cands[place]["risk"]
        c["risk"] = base if c["visit"] == 1 else base * revisit_weight
    seq_nodes = [s_node, *(c["node"] for c in picked), e_node]
    steps: list[Step] = []
    stop_steps = [0]
    for a, b in itertools.pairwise(seq_nodes):
        steps.extend(_steps_for(tg, tg.path(pred[row_of[a]], a, b)) if a != b else [])
        stop_steps.append(len(steps))
    stops, stop_steps = _schedule(
        sh, steps, stop_steps, picked, dwell=dwell, breaks=plan, start_xy=(s_x, s_y),
        end_xy=(e_x, e_y),
    )  # fmt: skip
    _fill_lonlat(stops, network.crs)
    covered = float(sum(c["risk"] for c in picked if c["visit"] == 1))
    revisits = float(sum(c["risk"] for c in picked if c["visit"] > 1))
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
        risk_revisits=revisits,
        extra={
            "candidates": n,
            "hotspots": len(cand),
            "solver": info["solver"],
            "optimal": info["optimal"],
            "objective_bound": info["bound"],
            "shortlist": info.get("shortlist", n),
            "risk_reachable": round(risk_reachable, 6),
            "risk_unreachable": round(risk_available - risk_reachable, 6),
            "unreachable": unreachable,
            "reserve_min": round(reserve, 2),
        },
    )
    if route.duration_min > sh.minutes + 1e-6 or stops[-1].depart > sh.end:
        route.feasible = False
        route.warnings.append("the planned route runs past the end of the shift")
    log.info(
        "route %s: %d stops of %d candidates (%s), %.1f km, %.0f/%.0f min, risk %.3g of %.3g "
        "in %.2fs",
        route.route_id,
        route.n_stops,
        n,
        info["solver"],
        route.distance_m / 1000,
        route.duration_min,
        sh.minutes,
        covered,
        risk_available,
        time.perf_counter() - t0,
    )
    return route


def _extra_stop(x: float, y: float, node: int, name: str, why: str) -> dict[str, Any]:
    """A zero-risk required stop (a required street or area without a hotspot)."""
    return {
        "node": node,
        "x": x,
        "y": y,
        "risk": 0.0,
        "rank": None,
        "name": name,
        "street": name,
        "reason": why,
        "top_call_types": "",
        "peak_hours": "",
        "required": True,
        "visit": 1,
        "parent": -1,
        "kind": "required",
        "window": (0.0, math.inf),
        "clock_window": (0.0, math.inf),
        "label": why,
    }


def _longest_edge(tg: TravelGraph, keep: Any) -> tuple[float, float, int, str] | None:
    """Middle (x, y), head node and name of the longest kept edge whose data passes `keep`."""
    best: tuple[float, int, Any, str] | None = None
    for (ui, vi), k in tg.edge_key.items():
        d = tg.G.edges[tg.nodes[ui], tg.nodes[vi], k]
        mid = d["geometry"].interpolate(0.5, normalized=True)
        if not keep(d, mid):
            continue
        if best is None or d["length"] > best[0]:
            best = (float(d["length"]), vi, mid, _name_text(d.get("name")))
    if best is None:
        return None
    _, vi, mid, label = best
    return float(mid.x), float(mid.y), int(vi), label


def _street_stop(tg: TravelGraph, name: str, beat: BaseGeometry | None) -> dict[str, Any] | None:
    """A zero-risk stop at the middle of the longest edge of a required street in the beat."""
    found = _longest_edge(
        tg,
        lambda d, mid: name in _name_keys(d.get("name")) and (beat is None or beat.intersects(mid)),
    )
    if found is None:
        return None
    x, y, node, label = found
    return _extra_stop(x, y, node, label, "required street")


def _area_stop(tg: TravelGraph, area: BaseGeometry, k: int) -> dict[str, Any] | None:
    """A zero-risk stop at the middle of the longest street edge inside a required area."""
    found = _longest_edge(tg, lambda d, mid: area.intersects(mid))
    if found is None:
        return None
    x, y, node, label = found
    return _extra_stop(x, y, node, label or f"area {k}", f"required area {k}")


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
) -> tuple[list[Stop], list[int]]:
    """Arrival and departure at each stop, waits for time windows, and the breaks.

    A break due while moving is taken at the next street corner (a ``break``
    stop), one due on arrival or while waiting is taken before the dwell, one
    due during the dwell right after it, and any left when the route reaches
    its end is taken there at its time. Returns the stops and, for each, the
    number of steps travelled before it.
    """
    pending = list(breaks)
    t = 0.0  # minutes after the shift start
    first = (steps[0].name or steps[0].highway) if steps else ""
    stops = [Stop(0, "start", start_xy[0], start_xy[1], sh.start, sh.start, name=first)]
    at_step = [0]

    def breaks_on_the_way(x: float, y: float, name: str, step: int) -> None:
        nonlocal t
        while pending and pending[0][0] <= t + 1e-9:
            due, m = pending.pop(0)
            stops.append(
                Stop(len(stops), "break", x, y, _at(sh, t), _at(sh, t + m), break_min=m,
                     name=name, reason=f"break due {_clock(sh, due)}")
            )  # fmt: skip
            at_step.append(step)
            t += m

    breaks_on_the_way(start_xy[0], start_xy[1], first, 0)
    for i in range(1, len(stop_steps)):
        for k in range(stop_steps[i - 1], stop_steps[i]):
            t += steps[k].seconds / 60.0
            if k + 1 < stop_steps[i]:
                x, y = steps[k].geometry.coords[-1]
                breaks_on_the_way(x, y, steps[k + 1].name or steps[k + 1].highway, k + 1)
        arrive, free, brk = t, t, 0.0
        if i > len(picked):  # the end: breaks not yet taken, each at its time
            while pending:
                due, m = pending.pop(0)
                free = max(free, due) + m
                brk += m
            stops.append(
                Stop(len(stops), "end", end_xy[0], end_xy[1], _at(sh, arrive), _at(sh, free),
                     wait_min=free - arrive - brk, break_min=brk,
                     name=steps[-1].name if steps else "")
            )  # fmt: skip
            at_step.append(stop_steps[i])
            break
        c = picked[i - 1]
        w0 = float(c.get("clock_window", (0.0, math.inf))[0])
        service = max(arrive, w0)
        while pending and pending[0][0] <= service + 1e-9:  # due on arrival or while waiting
            due, m = pending.pop(0)
            free = max(free, due) + m
            brk += m
            service = max(w0, free)
        wait = service - arrive - brk
        t = service + dwell
        while pending and pending[0][0] < t - 1e-9:  # due during the dwell: right after it
            m = pending.pop(0)[1]
            t += m
            brk += m
        stops.append(
            Stop(
                len(stops),
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
        at_step.append(stop_steps[i])
    return stops, at_step


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
    breaks: Sequence[Break] = (),
    avoid_streets: Iterable[str] = (),
    avoid_areas: BaseGeometry | None = None,
    shift_hours_only: bool = False,
    classes: Iterable[str] | None = STREET_CLASSES,
    margin: float = 150.0,
    match_neighbours: int | None = 8,
) -> Route:
    """Walk every street of a beat at least once, from `start` to `end`.

    Streets are the walk graph's edges of `classes` (None: every edge) whose
    midpoint lies in `beat`. Connections may use any walk edge within `margin`
    metres of the beat. Parts of the beat that no connection reaches are
    reported (``unreachable_m``), never an error. Hotspot dwells are folded in
    where the walk first passes a hotspot, while patrol time (the shift less
    its `breaks`) remains; breaks are taken as in `hotspot_tour`. Streets named
    in `avoid_streets` or crossing `avoid_areas` are neither walked nor
    counted (``avoided_m``). `shift_hours_only` keeps the hotspots of the
    shift's hours as in `hotspot_tour`.
    `match_neighbours` sparsifies the odd-node matching (see `_odd_matching`;
    None: exact matching on the complete graph, slow on large beats).

    Returns
    -------
    route
        ``extra`` holds ``street_m`` (length to cover), ``covered_m``,
        ``coverage`` (share of reachable street length covered: 1.0),
        ``unreachable_m``, ``avoided_m``, ``deadhead_m`` and ``deadhead_share``
        (repeated or connecting length over total length walked), and the
        hotspots the walk does not pass (``unreachable``).
    """
    t0 = time.perf_counter()
    sh = parse_route_shift(shift) if isinstance(shift, str) else shift
    _check_dwell(dwell)
    plan = _break_plan(breaks, sh)
    patrol = sh.minutes - sum(m for _, m in plan)
    if patrol <= 0:
        msg = f"Breaks ({sh.minutes - patrol:g} min) fill the whole {sh.minutes:g}-min shift."
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
    avoid = _street_keys(avoid_streets)
    avoided = np.array([bool(_name_keys(d.get("name")) & avoid) for *_, d in recs], bool)
    if avoid_areas is not None and recs:
        avoided |= shapely.intersects(geoms, avoid_areas)

    def is_class(d: dict[str, Any]) -> bool:
        if cls is None:
            return True
        hw = d.get("highway")
        return any(h in cls for h in (hw if isinstance(hw, list | tuple) else [hw]))

    beat_idx = [i for i, r in enumerate(recs) if in_beat[i] and is_class(r[3]) and r[0] != r[1]]
    req_idx = [i for i in beat_idx if not avoided[i]]
    avoided_m = float(sum(recs[i][3]["length"] for i in beat_idx if avoided[i]))
    if not req_idx:
        msg = f"Beat {beat_id} holds no walkable streets of the requested classes" + (
            " outside the avoided streets and areas." if avoided_m else "."
        )
        raise InfeasibleError(msg)
    allowed = [i for i in range(len(recs)) if (in_area[i] or in_beat[i]) and not avoided[i]]
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
    if avoided_m > 0:
        warnings.append(f"{avoided_m:.0f} m of street in beat {beat_id} avoided: not covered")
    feasible = walk_min <= patrol + 1e-9
    if not feasible:
        warnings.append(
            f"walking every street takes {walk_min:.0f} min, more than the {patrol:.0f} min of "
            "patrol time: split the beat or use a hotspot tour"
        )
    # fold in hotspot dwells where the walk first passes them
    picked: list[dict[str, Any]] = []
    stop_steps = [0]
    risk_available = 0.0
    unreachable: list[dict[str, Any]] = []
    n_spots = 0
    if hotspots is not None and len(hotspots):
        cand = beat_hotspots(hotspots, beat, shift=sh if shift_hours_only else None)
        n_spots = len(cand)
        risk_available = float(cand["risk"].sum())
        idx = EdgeIndex.from_lines(
            [st.geometry for st in steps] or [shapely.LineString([(0, 0), (1, 0)])]
        )
        hm = _anchor_points(cand.geometry.to_numpy())
        snapped = idx.snap(shapely.get_x(hm), shapely.get_y(hm))
        cands = [
            _candidate(row, float(shapely.get_x(hm[j])), float(shapely.get_y(hm[j])), row.risk)
            for j, row in enumerate(cand.itertuples(index=False))
        ]
        edge_of = {}
        for j, c in enumerate(cands):
            d = float(snapped["dist"].iloc[j]) if steps else math.inf
            if d <= MAX_STOP_SNAP_M:
                # the first time the walk passes that street edge
                edge_of[j] = step_rec.index(step_rec[int(snapped["edge"].iloc[j])])
            else:
                why = (
                    f"{d:.0f} m from the walk (limit {MAX_STOP_SNAP_M:.0f} m)"
                    if math.isfinite(d)
                    else "no walk to fold it into"
                )
                warnings.append(f"{c['label']} on {c['street'] or 'an unnamed street'} is {why}")
                unreachable.append(_left_out(c, why))
        spare = patrol - walk_min
        # the first step index reaching each hotspot; dwell while time is left
        for j in sorted(edge_of, key=lambda j: (edge_of[j], j)):
            if spare < dwell:
                break
            picked.append(cands[j])
            stop_steps.append(edge_of[j] + 1)
            spare -= dwell
        left = len(edge_of) - len(picked)
        if left:
            warnings.append(f"{left} hotspots on the walk get no dwell: no patrol time left")
    stop_steps.append(len(steps))
    e_xy = (W.nodes[nodes[e_pos]]["x"], W.nodes[nodes[e_pos]]["y"])
    s_xy = (W.nodes[nodes[s_pos]]["x"], W.nodes[nodes[s_pos]]["y"])
    stops, stop_steps = _schedule(
        sh, steps, stop_steps, picked, dwell=dwell, breaks=plan, start_xy=s_xy, end_xy=e_xy
    )
    _fill_lonlat(stops, network.crs)
    reachable = street_m - unreachable_m
    risk_reachable = risk_available - sum(u["risk"] for u in unreachable)
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
        patrol_min=patrol,
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
            "avoided_m": round(avoided_m, 1),
            "hotspots": n_spots,
            "risk_reachable": round(risk_reachable, 6),
            "risk_unreachable": round(risk_available - risk_reachable, 6),
            "unreachable": unreachable,
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


_TEXT_PROPS = ("name", "reason", "top_call_types", "peak_hours")


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
        for key in _TEXT_PROPS:
            props[key] = _clean(props[key])
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
    if s.kind == "break":
        return f"{s.seq}. Break {s.break_min:.0f} min"
    return f"{s.seq}. {s.name or 'stop'}"


def route_gpx(route: Route) -> str:
    """GPX 1.1 text: the path as a track, stops as waypoints with local times.

    Every text is stripped of characters XML 1.0 does not allow, so hostile
    street names or call types never make the file unreadable.
    """
    g = gpxpy.gpx.GPX()
    g.creator = "cso_geo"
    g.name = _clean(route.route_id)
    g.description = _clean(
        f"Beat {route.beat_id}, {route.mode}, {route.shift.start:%Y-%m-%d %H:%M}-"
        f"{route.shift.end:%H:%M}; {route.n_stops} stops, {route.distance_m / 1000:.1f} km"
    )
    for s in route.stops:
        desc = f"arrive {s.arrive:%H:%M}, leave {s.depart:%H:%M}"
        if s.kind == "stop":
            desc += f", stay {s.dwell_min:.0f} min" + (f"; {s.reason}" if s.reason else "")
        if s.break_min:
            desc += f", break {s.break_min:.0f} min"
        g.waypoints.append(
            gpxpy.gpx.GPXWaypoint(
                latitude=s.lat,
                longitude=s.lon,
                time=s.arrive.to_pydatetime(),
                name=_clean(_stop_title(s)),
                description=_clean(desc),
                type=s.kind,
            )
        )
    trk = gpxpy.gpx.GPXTrack(name=_clean(route.route_id))
    seg = gpxpy.gpx.GPXTrackSegment()
    for lon, lat in _wgs84(route):
        seg.points.append(gpxpy.gpx.GPXTrackPoint(latitude=lat, longitude=lon))
    trk.segments.append(seg)
    g.tracks.append(trk)
    return str(g.to_xml(version="1.1"))


# One A4 page holds the heading, the map and about `_SHEET_ROWS` stop rows; the
# condensed directions fill what is left of it and one more page, at most
# `_SHEET_CHARS` characters (less when the stop list runs onto the second page).
_SHEET_ROWS = 34
_SHEET_CHARS = 9000
_SHEET_CSS = """
body{font-family:Helvetica,Arial,sans-serif;font-size:9pt;line-height:1.25;margin:12px;color:#111}
h1{font-size:13pt;margin:0 0 2px}
h2{font-size:10pt;margin:6px 0 2px}
.meta{margin:0 0 3px;color:#333}
.warn{color:#8a1c1c;margin:1px 0;font-size:8pt}
.map{display:block;width:100%;height:60mm;border:1px solid #999;margin:3px 0}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:2px 0;font-size:8pt}
th,td{border:1px solid #bbb;padding:1px 3px;text-align:left;vertical-align:top;
  white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
th{background:#eee}
td.num{text-align:right}
.dirs{font-size:7pt;line-height:1.2;column-count:3;column-gap:4mm}
.dirs p{margin:0 0 2px}
.foot{color:#555;font-size:7pt;margin-top:3px}
@media print{
  @page{size:A4;margin:10mm}
  body{margin:0}
  tr,.map{page-break-inside:avoid;break-inside:avoid}
  h2{page-break-after:avoid;break-after:avoid}
}
"""


def _svg_map(route: Route, *, width: int = 640, height: int = 300) -> str:
    """A small static map: the path and numbered stops, from projected coordinates."""
    xs, ys = np.asarray(route.geometry.coords).T
    sx = np.array([s.x for s in route.stops])
    sy = np.array([s.y for s in route.stops])
    allx, ally = np.concatenate([xs, sx]), np.concatenate([ys, sy])
    x0, x1, y0, y1 = allx.min(), allx.max(), ally.min(), ally.max()
    pad = 18.0
    scale = min((width - 2 * pad) / max(x1 - x0, 1.0), (height - 2 * pad) / max(y1 - y0, 1.0))
    # centre the drawing in the frame
    ox = (width - 2 * pad - (x1 - x0) * scale) / 2.0
    oy = (height - 2 * pad - (y1 - y0) * scale) / 2.0

    def px(x: float, y: float) -> tuple[float, float]:
        return pad + ox + (x - x0) * scale, height - pad - oy - (y - y0) * scale

    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in (px(x, y) for x, y in zip(xs, ys, strict=True)))
    parts = [
        f'<svg class="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="Route map">',
        f'<rect width="{width}" height="{height}" fill="#fafafa"/>',
        f'<polyline points="{pts}" fill="none" stroke="#1f5fbf" stroke-width="2" '
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
        elif s.kind in {"start", "end"}:
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


def _dist_text(m: float) -> str:
    return f"{m:.0f} m" if m < 1000 else f"{m / 1000:.1f} km"


def _sheet_legs(route: Route) -> list[tuple[str, list[str]]]:
    """Condensed directions: per leg, where it goes and ``turn street distance`` items."""
    legs = []
    bounds = [0, *route.stop_steps[1:]]
    for i in range(1, len(route.stops)):
        leg = route.steps[bounds[i - 1] : bounds[i]]
        if not leg:
            continue
        stop = route.stops[i]
        to = {"end": "End", "break": f"break at {stop.arrive:%H:%M}"}.get(
            stop.kind, f"{stop.seq} {stop.name}"
        )
        rows = _leg_directions(leg)
        head = f"to {to} ({_dist_text(sum(r['distance_m'] for r in rows))})"
        items = [" ".join(x for x in (r["turn"], r["street"], _dist_text(r["distance_m"])) if x)
                 for r in rows]  # fmt: skip
        legs.append((head, items))
    return legs


def route_sheet(route: Route) -> str:
    """A self-contained printable HTML route sheet: one or two A4 pages.

    Page one has the summary, a small inline SVG map and the stop list (one
    line per stop); the condensed directions (streets merged, one paragraph per
    leg, in three narrow columns) follow and are cut, with a note, where they
    would run past the second page. The full directions are in the JSON summary.
    """

    def e(text: Any) -> str:
        return html.escape(_clean(text))

    s = route.summary()
    rows = []
    for st in route.stops:
        num = {"start": "S", "end": "E", "break": "&ndash;"}.get(st.kind, str(st.seq))
        mins = f"{st.dwell_min:.0f}" if st.kind == "stop" else ""
        if st.break_min:
            mins += f"{' + ' if mins else ''}{st.break_min:.0f} brk"
        why = "break" if st.kind == "break" else st.reason
        rows.append(
            f"<tr><td class='num'>{num}</td><td class='num'>{st.arrive:%H:%M}</td>"
            f"<td class='num'>{st.depart:%H:%M}</td><td class='num'>{mins}</td>"
            f"<td>{e(st.name)}</td><td>{e(why)}</td></tr>"
        )
    budget = _SHEET_CHARS - 180 * max(0, len(route.stops) - _SHEET_ROWS)
    paras, used, cut = [], 0, 0
    for head, items in _sheet_legs(route):
        if used >= budget:
            cut += len(items)
            continue
        keep = []
        for it in items:
            if used + len(it) + 3 > budget:
                cut += 1
                continue
            keep.append(it)
            used += len(it) + 3
        used += len(head) + 20
        paras.append(f"<p><b>{e(head)}:</b> {' &rsaquo; '.join(e(x) for x in keep)}</p>")
    if cut:
        paras.append(
            f"<p><i>&hellip; {cut} more turns not printed: see the route's .json or .gpx.</i></p>"
        )
    warns = route.warnings[:3]
    more = len(route.warnings) - len(warns)
    warn = "".join(f"<p class='warn'>{e(w)}</p>" for w in warns)
    if more:
        warn += f"<p class='warn'>and {more} more warnings in the route's .json</p>"
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
        f"<h1>Patrol route: beat {e(route.beat_id)} ({e(route.mode)})</h1>"
        f"<p class='meta'>{route.shift.start:%a %Y-%m-%d %H:%M}&ndash;{route.shift.end:%H:%M}"
        f" &middot; {route.n_stops} stops &middot; {s['distance_km']:.1f} km &middot; "
        f"{s['duration_min']:.0f} min ({s['travel_min']:.0f} moving, {s['dwell_min']:.0f} at "
        f"stops) &middot; risk covered {route.risk_covered:.3g} of {route.risk_available:.3g}"
        f"{extra}{'' if route.feasible else ' &middot; <b>NOT FEASIBLE</b>'}</p>"
        f"{warn}{_svg_map(route)}"
        "<table><colgroup><col style='width:7mm'><col style='width:12mm'>"
        "<col style='width:12mm'><col style='width:17mm'><col style='width:50mm'><col>"
        "</colgroup><thead><tr><th>#</th><th>arrive</th><th>leave</th><th>min</th>"
        "<th>street</th><th>why</th></tr></thead><tbody>"
        f"{''.join(rows)}</tbody></table>"
        f"<h2>Directions</h2><div class='dirs'>{''.join(paras)}</div>"
        f"<p class='foot'>{e(route.route_id)}</p></body></html>\n"
    )


def write_route(route: Route, out_dir: str | Path) -> dict[str, Path]:
    """Write ``<route_id>.geojson``, ``.gpx``, ``.html`` and ``.json`` atomically in `out_dir`."""
    out = Path(out_dir)
    rid = route.route_id
    if Path(rid).name != rid or rid in {"", ".", ".."}:
        msg = f"Route id {rid!r} is not a plain file name; make it with `route_id`."
        raise ValueError(msg)
    return {
        "geojson": atomic_write_text(
            out / f"{rid}.geojson", json.dumps(route_geojson(route), indent=1)
        ),
        "gpx": atomic_write_text(out / f"{rid}.gpx", route_gpx(route)),
        "html": atomic_write_text(out / f"{rid}.html", route_sheet(route)),
        "json": atomic_write_text(out / f"{rid}.json", json.dumps(route.summary(), indent=2)),
    }
