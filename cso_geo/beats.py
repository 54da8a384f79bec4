"""Balanced patrol beats and shift assignments.

Basic units are street pieces: the walk graph's streets cut into pieces of at
most ``unit_length`` metres (`cso_geo.hotspots.street_units`, 50 m by
default). Why street pieces rather than a hex grid: incidents are already
snapped to streets, a piece is what a CSO patrols, contiguity can be checked
along the street network itself (two pieces are adjacent when they share an
end point) instead of by polygons touching across a river or a rail yard, and
pieces are small enough that balance within a few percent is reachable.
Tunnels (``tunnel=yes``) are left out: a CSO patrols the surface, and a
tunnel network (central Helsinki has kilometres of underground service roads
with their own roundabouts, reached from a few portals) would make the beat
that owns it reach under its neighbours; an incident above a tunnel belongs to
the surface street it is snapped to instead. The rare piece that shares no end
point with the main street network (an isolated court) is linked to its
nearest piece by a non-street link; the summary counts, per beat, the units
attached only through such links.

Each unit carries a **workload**: the service minutes of the incidents snapped
to it (the ``service_minutes`` column, else the taxonomy's minutes for the
``call_type_code``), optionally only those inside a shift, plus optional
travel exposure (``exposure_minutes_per_km`` x street km) so long quiet
streets also count. Its daily profile (minutes per time-of-day bin) always
covers the whole day, so the beats can be staffed for any shift.

Beats are made by `partition` in two steps.

1. A start: ``"power"`` (balanced k-means cells: workload-weighted k-means
   seeds, then an additively weighted (power) Voronoi diagram whose offsets
   equalise workload, made contiguous along the streets), ``"pmedian"`` (a
   workload-weighted p-median on the street network: network Voronoi regions
   around centres, with additive offsets for balance and centres moved to
   each region's network median; shortest-path regions are contiguous by
   construction), ``"grow"`` (seeded region growing) or ``"skater"`` (spopt's
   SKATER regionalisation).
2. The same seeded local search for all: boundary moves bring every beat
   within the balance band (``tolerance``; a chain of moves passes work
   across beats that are all at the same load), then merge-and-split moves
   re-cut two adjacent beats (straight cuts and network-Voronoi cuts of their
   union, polished by boundary moves) and keep a cut that is better
   balanced, or as balanced and lower in the objective ``mean(1 /
   Polsby-Popper) + gamma * softmax(max network km)``. Every move keeps
   each beat connected along the streets (a unit that is a cut vertex of its
   beat moves with the small piece it would cut off).

``"auto"``, the default, runs the search from both the power and the
p-median start and keeps the better plan: in `benchmarks/bench_beats.py
--compare` neither start won on every beat count, and the better of the two
beat the k-means baseline's Polsby-Popper more often than either alone.

Why not an exact MIP: a p-median with contiguity (flow) constraints over
15,000 to 25,000 street units has that many squared assignment variables
(every unit to every candidate centre), far beyond the benchmark's minute.

Shapes are measured on the same tiles everywhere: the Voronoi cells of unit
midpoints clipped to the street area, so the optimiser's Polsby-Popper is the
reported one, and the baseline's polygons are built exactly like the
proposal's.

`score_beats` reports the same metrics for any labelling (proposed, an
agency's existing beats, or the `kmeans_baseline`): workload per beat,
imbalance = max / mean - 1 (from unrounded workloads), contiguity,
Polsby-Popper = 4 pi A / P^2 of the beat polygon (the dissolved cells, so
beats never overlap) and two network distances, both exact:
``max_network_km``, the longest trip between two of the beat's street pieces
along any streets (what a CSO may have to cover; a beat in several pieces is
crossed on its neighbours' streets), and ``max_internal_km``, the longest
shortest path along the beat's own streets (for a beat in several pieces,
inside one piece, which says nothing of the trips between them). Beats are
compared on the first: measured inside one piece only, a non-contiguous
baseline beat would look smaller than the ground its CSO covers.

`assign_shift` gives each rostered CSO a beat for one shift: beats are
covered in order of expected shift workload, officers are matched to the
covered beats with `scipy.optimize.linear_sum_assignment` (animal-control
skill to animal-heavy beats, vehicle CSOs to beats with more street km), and
the beats nobody covers are listed.
"""

from __future__ import annotations

import csv
import heapq
import io
import itertools
import json
import logging
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import scipy.sparse as sp
import shapely
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from cso_geo import hotspots as hs
from cso_geo._errors import InfeasibleError, InputFileError
from cso_geo._io import read_vector
from cso_geo.network import StreetNetwork
from cso_geo.taxonomy import load_taxonomy

log = logging.getLogger(__name__)

__all__ = [
    "BIN_MINUTES",
    "METHODS",
    "BeatPlan",
    "BeatUnits",
    "assign_shift",
    "beat_key",
    "beat_polygons",
    "build_units",
    "existing_labels",
    "expected_workload",
    "kmeans_baseline",
    "partition",
    "plan_beats",
    "read_roster",
    "sample_roster",
    "score_beats",
    "station_anchor",
    "station_minutes",
]

#: Methods (starts) `partition` knows; the first is the default: "auto" runs the
#: power and p-median starts and keeps the better plan (see the module docstring).
METHODS: tuple[str, ...] = ("auto", "power", "pmedian", "grow", "skater")
#: Width of the time-of-day bins of a unit's daily workload profile.
BIN_MINUTES = 15
_BINS = 1440 // BIN_MINUTES
ROSTER_COLUMNS = ("cso_id", "shift", "mode", "skills")
MODES = ("foot", "vehicle")
_TUNNEL = frozenset({"yes", "true", "1"})


# --------------------------------------------------------------------------- #
# basic units
# --------------------------------------------------------------------------- #
@dataclass
class _Cells:
    """Tiles of the beat polygons: Voronoi cells of unit midpoints in the street area.

    Units sharing a midpoint share a cell, owned by the first of them.
    ``shared`` holds the boundary length two cells have in common, so a
    beat's perimeter is the boundary of its cells minus twice what they share.
    """

    polygons: npt.NDArray[Any]
    area: npt.NDArray[np.float64]
    boundary: npt.NDArray[np.float64]
    shared: sp.csr_matrix
    cell_of: npt.NDArray[np.int64]
    owner: npt.NDArray[np.bool_]


@dataclass
class BeatUnits:
    """Street pieces with workload, adjacency along the streets and a node graph.

    ``units`` has ``unit_id``, ``u``, ``v``, ``key``, ``part``, ``name``,
    ``highway``, ``length`` (m), ``workload`` (minutes) and the piece geometry.
    ``adjacency`` is a symmetric 0/1 CSR matrix over units (sharing an end
    point, plus the non-street links that attach stray pieces);
    ``street_adjacency`` is the same without those links. ``node_graph`` is
    a CSR matrix over piece end points weighted by piece length, with
    ``start_node``/``end_node`` the end points of each unit. ``profile``
    holds each unit's mean service minutes per day in `BIN_MINUTES` bins of
    the whole day, ``animal`` the part of its workload from animal calls, and
    ``incident_xy`` the located incidents (for the k-means baseline).
    """

    units: gpd.GeoDataFrame
    adjacency: sp.csr_matrix
    node_graph: sp.csr_matrix
    start_node: npt.NDArray[np.int64]
    end_node: npt.NDArray[np.int64]
    profile: npt.NDArray[np.float64]
    animal: npt.NDArray[np.float64]
    incident_xy: npt.NDArray[np.float64]
    days: int
    links: int = 0
    shift: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    street_adjacency: sp.csr_matrix | None = None
    _cells: _Cells | None = field(default=None, repr=False, compare=False)
    _mids: npt.NDArray[np.float64] | None = field(default=None, repr=False, compare=False)
    _travel: sp.csr_matrix | None = field(default=None, repr=False, compare=False)

    @property
    def workload(self) -> npt.NDArray[np.float64]:
        """Workload of each unit in minutes."""
        return np.asarray(self.units["workload"].to_numpy(), dtype=float)

    @property
    def lengths(self) -> npt.NDArray[np.float64]:
        """Length of each unit in metres."""
        return np.asarray(self.units["length"].to_numpy(), dtype=float)

    @property
    def midpoints(self) -> npt.NDArray[np.float64]:
        """x, y of the middle of each unit (projected metres)."""
        if self._mids is None or len(self._mids) != len(self.units):
            geoms = self.units.geometry.to_numpy()
            mids = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
            self._mids = np.asarray(shapely.get_coordinates(mids), dtype=float)
        return self._mids

    @property
    def linked(self) -> npt.NDArray[np.bool_]:
        """Units off the main street network, attached to it by a non-street link."""
        street = self.street_adjacency if self.street_adjacency is not None else self.adjacency
        _, comp = csgraph.connected_components(street, directed=False)
        return np.asarray(comp != np.argmax(np.bincount(comp)), dtype=bool)

    def __len__(self) -> int:
        return len(self.units)


def beat_key(value: object) -> str:
    """A beat id as text: ``3``, ``3.0`` and ``" 3"`` all give ``"3"``; other ids stripped.

    Beat ids go through files (GeoPackage, GeoJSON, CSV, the command line)
    that may turn the integer 3 into 3.0 or "3"; compare ids by this key.
    """
    if isinstance(value, str | int | float | np.number) and not isinstance(value, bool):
        try:
            f = float(value)
        except ValueError:
            f = math.nan
        if math.isfinite(f) and f == int(f):
            return str(int(f))
    return str(value).strip()


def _service_minutes(incidents: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Service minutes per incident: the column, else the taxonomy by call type."""
    minutes = (
        pd.to_numeric(incidents["service_minutes"], errors="coerce")
        if "service_minutes" in incidents.columns
        else pd.Series(np.nan, index=incidents.index)
    )
    missing = minutes.isna().to_numpy()
    if missing.any():
        if "call_type_code" not in incidents.columns:
            msg = (
                f"{int(missing.sum())} incidents have no service_minutes and there is no "
                "call_type_code column to look them up in the taxonomy; geocode the CAD export "
                "with `cso-geo geocode` so both columns are present."
            )
            raise InputFileError(msg)
        table = {code: ct.service_minutes for code, ct in load_taxonomy().by_code().items()}
        looked = incidents["call_type_code"].astype(str).map(table)
        minutes = minutes.fillna(looked)
        unknown = sorted(set(incidents.loc[minutes.isna(), "call_type_code"].astype(str)))
        if unknown:
            msg = (
                f"Call types {unknown[:10]} have no service_minutes and are not in the "
                "taxonomy; add them to the call-type file or fill service_minutes."
            )
            raise InputFileError(msg)
    return np.asarray(minutes.to_numpy(dtype=float), dtype=float)


def _end_nodes(
    geoms: npt.NDArray[Any],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Node index of each piece's start and end (shared coordinates -> same node)."""
    n = len(geoms)
    start_xy = shapely.get_coordinates(shapely.get_point(geoms, 0))
    end_xy = shapely.get_coordinates(shapely.get_point(geoms, -1))
    key = np.round(np.vstack([start_xy, end_xy]), 2)
    uniq, node = np.unique(key, axis=0, return_inverse=True)
    node = np.asarray(node, dtype=np.int64).ravel()
    return node[:n], node[n:], np.asarray(uniq, dtype=float)


def _adjacency(
    start: npt.NDArray[np.int64], end: npt.NDArray[np.int64], mids: npt.NDArray[np.float64]
) -> tuple[sp.csr_matrix, sp.csr_matrix, int]:
    """Units sharing an end point are adjacent; stray components link to their nearest unit.

    Returns the adjacency with the links, the one along streets only, and the
    number of links.
    """
    n = len(start)
    n_nodes = int(max(start.max(), end.max())) + 1
    inc = sp.csr_matrix(
        (np.ones(2 * n), (np.concatenate([np.arange(n), np.arange(n)]), np.r_[start, end])),
        shape=(n, n_nodes),
    )
    street = (inc @ inc.T).tocsr()
    street.setdiag(0)
    street.eliminate_zeros()
    street.data[:] = 1.0
    n_comp, comp = csgraph.connected_components(street, directed=False)
    if n_comp == 1:
        return street, street, 0
    main = int(np.argmax(np.bincount(comp)))
    main_ids = np.flatnonzero(comp == main)
    tree = cKDTree(mids[main_ids])
    rows, cols = [], []
    for c in range(n_comp):
        if c == main:
            continue
        members = np.flatnonzero(comp == c)
        dist, idx = tree.query(mids[members])
        best = int(np.argmin(dist))
        rows.append(int(members[best]))
        cols.append(int(main_ids[idx[best]]))
    links = len(rows)
    extra = sp.csr_matrix((np.ones(2 * links), (rows + cols, cols + rows)), shape=(n, n))
    return ((street + extra) > 0).astype(float).tocsr(), street, links


def _surface(G: nx.MultiDiGraph) -> tuple[nx.MultiDiGraph, int]:
    """The graph without tunnel edges, and how many edges were left out."""
    tunnels = []
    for u, v, k, tag in G.edges(keys=True, data="tunnel"):
        values = tag if isinstance(tag, list) else [tag]
        if any(str(t).lower() in _TUNNEL for t in values if t is not None):
            tunnels.append((u, v, k))
    if not tunnels:
        return G, 0
    H = G.copy()
    H.remove_edges_from(tunnels)
    H.remove_nodes_from([x for x in list(H.nodes) if H.degree(x) == 0])
    return H, len(tunnels)


def build_units(
    incidents: gpd.GeoDataFrame,
    network: StreetNetwork | nx.MultiDiGraph,
    *,
    unit_length: float = 50.0,
    shift: str | None = None,
    exposure_minutes_per_km: float = 0.0,
    max_snap: float = 100.0,
    tunnels: bool = False,
) -> BeatUnits:
    """Cut the streets into units and give each its workload.

    Parameters
    ----------
    incidents
        Geocoded incidents (``received_at``, ``service_minutes`` or
        ``call_type_code``, point geometry in the network CRS); unmatched rows
        are left out.
    network
        A `StreetNetwork` (its walk graph is used) or a walk graph.
    unit_length
        Longest unit in metres.
    shift
        ``HH:MM-HH:MM``: the workload counts only incidents received in this
        time of day (the daily profile still covers the whole day).
    exposure_minutes_per_km
        Minutes of patrol exposure added per street km of each unit.
    max_snap
        Incidents farther than this from every street (m) are not counted.
    tunnels
        Keep tunnel streets as units (by default only surface streets are).

    Raises
    ------
    InfeasibleError
        When no incident falls in the shift.
    """
    t0 = time.perf_counter()
    G = network.walk if isinstance(network, StreetNetwork) else network
    G, n_tunnels = (G, 0) if tunnels else _surface(G)
    streets = hs.street_units(G, unit_length=unit_length)
    units = streets.units.copy()
    n = len(units)
    located = hs.select_incidents(incidents).reset_index(drop=True)
    in_shift = np.ones(len(located), dtype=bool)
    if shift is not None:
        in_shift[:] = False
        in_shift[hs.select_incidents(located, shift=shift).index.to_numpy()] = True
        if not in_shift.any():
            msg = (
                f"Empty shift: no incident was received during {shift} (of {len(incidents):,} "
                "incidents), so there is no workload to balance; choose another --shift."
            )
            raise InfeasibleError(msg)
    if not located.empty and located.crs is not None and units.crs is not None:
        located = located.to_crs(units.crs)
    minutes = _service_minutes(located) if not located.empty else np.zeros(0)
    unit_of = (
        streets.assign(located.geometry, max_dist=max_snap)
        if len(located)
        else np.zeros(0, dtype=np.int64)
    )
    ok = unit_of >= 0
    counted = ok & in_shift
    profile = np.zeros((n, _BINS))
    animal = np.zeros(n)
    days = 1
    xy = np.zeros((0, 2))
    if ok.any():
        t = pd.to_datetime(located["received_at"]).iloc[np.flatnonzero(ok)]
        days = max(1, int((t.max().normalize() - t.min().normalize()).days + 1))
        tod = (t.dt.hour * 60 + t.dt.minute).to_numpy() // BIN_MINUTES
        np.add.at(profile, (unit_of[ok], tod), minutes[ok] / days)
    if counted.any():
        if "category" in located.columns:
            is_animal = counted & (located["category"] == "animal").to_numpy()
            animal = np.bincount(unit_of[is_animal], minutes[is_animal], minlength=n).astype(float)
        xy = shapely.get_coordinates(located.geometry.to_numpy()[counted])
    calls = np.bincount(unit_of[counted], minutes[counted], minlength=n).astype(float)
    exposure = exposure_minutes_per_km * units["length"].to_numpy(dtype=float) / 1000.0
    units["workload"] = calls + exposure
    units["calls"] = np.bincount(unit_of[counted], minlength=n)
    geoms = units.geometry.to_numpy()
    start, end, node_xy = _end_nodes(geoms)
    mids = np.asarray(
        shapely.get_coordinates(shapely.line_interpolate_point(geoms, 0.5, normalized=True))
    )
    adj, street, links = _adjacency(start, end, mids)
    lengths = np.maximum(units["length"].to_numpy(dtype=float), 1e-3)
    n_nodes = len(node_xy)
    node_graph = sp.csr_matrix(
        (np.r_[lengths, lengths], (np.r_[start, end], np.r_[end, start])), shape=(n_nodes, n_nodes)
    )
    dropped = int((in_shift & ~ok).sum())
    stats = {
        "units": n,
        "incidents": int(counted.sum()),
        "incidents_off_street": dropped,
        "linked_components": links,
        "tunnel_edges_left_out": n_tunnels,
        "days": days,
    }
    log.info(
        "beat units: %d units of <= %.0f m (%d tunnel edges left out), %d incidents (%d farther "
        "than %.0f m from a street not counted), %d stray components linked, %.2f s",
        n,
        unit_length,
        n_tunnels,
        stats["incidents"],
        dropped,
        max_snap,
        links,
        time.perf_counter() - t0,
    )
    return BeatUnits(
        units=units,
        adjacency=adj,
        node_graph=node_graph,
        start_node=start,
        end_node=end,
        profile=profile,
        animal=animal,
        incident_xy=np.asarray(xy, dtype=float),
        days=days,
        links=links,
        shift=shift,
        stats=stats,
        street_adjacency=street,
    )


# --------------------------------------------------------------------------- #
# station constraint
# --------------------------------------------------------------------------- #
def station_minutes(
    units: BeatUnits,
    network: StreetNetwork,
    station: tuple[float, float],
    *,
    mode: str = "vehicle",
    max_snap: float = 1000.0,
) -> npt.NDArray[np.float64]:
    """Minutes from `station` to each unit (its nearer end), travelling by `mode`.

    The trip starts at the street node nearest the station and follows the
    ``mode`` graph's ``travel_time`` (one-ways respected for vehicles). A
    unit none of whose end points is on that graph, or that cannot be
    reached, gets ``inf``.

    Parameters
    ----------
    station
        Longitude, latitude (EPSG:4326) of the station.
    mode
        ``"vehicle"`` (drive graph) or ``"foot"`` (walk graph).
    max_snap
        A station farther than this (m) from every street is an error.

    Raises
    ------
    InfeasibleError
        When the station is farther than `max_snap` from every street of `mode`.
    """
    if mode not in MODES:
        msg = f"mode must be one of {', '.join(MODES)}, not {mode!r}."
        raise ValueError(msg)
    G = network.graph(mode)
    pt = gpd.GeoSeries([shapely.Point(station)], crs=4326).to_crs(network.crs).iloc[0]
    nodes = list(G.nodes)
    xy = np.array([(G.nodes[v]["x"], G.nodes[v]["y"]) for v in nodes])
    d = np.hypot(xy[:, 0] - pt.x, xy[:, 1] - pt.y)
    origin = nodes[int(np.argmin(d))]
    if float(d.min()) > max_snap:
        msg = (
            f"Station constraint: the station {station[0]:.5f},{station[1]:.5f} is "
            f"{float(d.min()) / 1000.0:.1f} km from the nearest {mode} street, so no beat can "
            "reach it; check --station (longitude,latitude, in that order)."
        )
        raise InfeasibleError(msg)
    seconds = nx.single_source_dijkstra_path_length(G, origin, weight="travel_time")
    u = units.units["u"].to_numpy()
    v = units.units["v"].to_numpy()
    far = math.inf
    minutes = np.fromiter(
        (min(seconds.get(a, far), seconds.get(b, far)) / 60.0 for a, b in zip(u, v, strict=True)),
        float,
        len(u),
    )
    log.info(
        "station: %.0f m from the %s network, %d of %d units reachable",
        float(d.min()),
        mode,
        int(np.isfinite(minutes).sum()),
        len(minutes),
    )
    return minutes


def station_anchor(
    units: BeatUnits,
    network: StreetNetwork,
    station: tuple[float, float],
    *,
    max_minutes: float,
    mode: str = "vehicle",
    max_snap: float = 1000.0,
) -> npt.NDArray[np.bool_]:
    """Units the station reaches within `max_minutes` (see `station_minutes`).

    The station constraint of `partition` is: **the station reaches every
    beat within `max_minutes`**, i.e. each beat holds at least one unit of
    this mask (the beat's nearest street is at most `max_minutes` away).
    """
    minutes = station_minutes(units, network, station, mode=mode, max_snap=max_snap)
    mask = np.asarray(minutes <= max_minutes, dtype=bool)
    log.info(
        "station: %d of %d units within %.1f min (%s)",
        int(mask.sum()),
        len(mask),
        max_minutes,
        mode,
    )
    return mask


# --------------------------------------------------------------------------- #
# optimisation: starts
# --------------------------------------------------------------------------- #
def _neighbours(adj: sp.csr_matrix) -> list[npt.NDArray[np.int32]]:
    return [adj.indices[adj.indptr[i] : adj.indptr[i + 1]] for i in range(adj.shape[0])]


def _check_request(n_units: int, n: int, anchor: npt.NDArray[np.bool_] | None) -> None:
    if n < 1:
        msg = f"Beat count: the number of beats must be at least 1, not {n}."
        raise InfeasibleError(msg)
    if n > n_units:
        msg = (
            f"Beat count: {n} beats were asked for but the area has only {n_units} street "
            "units; ask for fewer beats or use a shorter --unit-length."
        )
        raise InfeasibleError(msg)
    if anchor is not None:
        k = int(anchor.sum())
        if k == 0:
            msg = (
                "Station constraint: no street of the area is within the time limit of the "
                "station, so no beat can meet it; raise --max-minutes or check --station "
                "(longitude,latitude)."
            )
            raise InfeasibleError(msg)
        if k < n:
            msg = (
                f"Station constraint: only {k} street units are within the time limit of the "
                f"station but {n} beats each need one; raise --max-minutes or ask for fewer "
                "beats."
            )
            raise InfeasibleError(msg)


def _seeds(
    units: BeatUnits,
    n: int,
    weight: npt.NDArray[np.float64],
    *,
    seed: int,
    anchor: npt.NDArray[np.bool_] | None,
) -> npt.NDArray[np.int64]:
    """P-median-like seeds: workload-weighted k-means centres moved to units."""
    from sklearn.cluster import KMeans  # noqa: PLC0415

    mids = units.midpoints
    pool = np.flatnonzero(anchor) if anchor is not None else np.arange(len(units))
    if len(pool) == n:
        return np.asarray(pool, dtype=np.int64)
    # a little length weight lets quiet streets still attract a seed
    w = weight[pool] + 1e-3 * max(float(weight.sum()), 1.0) * units.lengths[pool] / max(
        float(units.lengths.sum()), 1.0
    )
    km = KMeans(n_clusters=n, n_init=3, random_state=seed).fit(mids[pool], sample_weight=w)
    tree = cKDTree(mids[pool])
    chosen: list[int] = []
    taken: set[int] = set()
    for c in km.cluster_centers_:
        _, idx = tree.query(c, k=min(len(pool), n + 1))
        for j in np.atleast_1d(idx):
            if int(j) not in taken:
                taken.add(int(j))
                chosen.append(int(pool[int(j)]))
                break
    return np.asarray(chosen, dtype=np.int64)


def _grow(
    units: BeatUnits,
    seeds: npt.NDArray[np.int64],
    weight: npt.NDArray[np.float64],
    nbrs: list[npt.NDArray[np.int32]],
) -> npt.NDArray[np.int64]:
    """Contiguous region growing: the lightest beat takes its nearest free neighbour."""
    mids = units.midpoints
    lab = np.full(len(units), -1, dtype=np.int64)
    k = len(seeds)
    load = np.zeros(k)
    lab[seeds] = np.arange(k)
    load[:] = weight[seeds]
    centre = mids[seeds]
    fronts: list[list[tuple[float, int]]] = [[] for _ in range(k)]
    for b, s in enumerate(seeds):
        for j in nbrs[s]:
            if lab[j] < 0:
                heapq.heappush(fronts[b], (float(np.hypot(*(mids[j] - centre[b]))), int(j)))
    active = [(float(load[b]), b) for b in range(k) if fronts[b]]
    heapq.heapify(active)
    while active:
        _, b = heapq.heappop(active)
        front = fronts[b]
        while front and lab[front[0][1]] >= 0:
            heapq.heappop(front)
        if not front:
            continue
        _, i = heapq.heappop(front)
        lab[i] = b
        load[b] += weight[i]
        for j in nbrs[i]:
            if lab[j] < 0:
                heapq.heappush(front, (float(np.hypot(*(mids[j] - centre[b]))), int(j)))
        heapq.heappush(active, (float(load[b]), b))
    return lab


def _power_start(
    units: BeatUnits,
    seeds: npt.NDArray[np.int64],
    weight: npt.NDArray[np.float64],
    *,
    iterations: int = 400,
) -> npt.NDArray[np.int64]:
    """Balanced k-means: additively weighted (power) Voronoi cells of moving centres.

    Each unit goes to the centre minimising squared distance minus the
    centre's offset; offsets rise for light beats and fall for heavy ones
    until workloads are near equal, and every few steps each centre moves to
    its beat's centre of work (Lloyd). Cells of a power diagram are convex,
    which is what makes these beats compact.
    """
    mids = units.midpoints
    k = len(seeds)
    centre = mids[seeds].copy()
    w = weight + 1e-3 * max(float(weight.mean()), 1e-9)
    mean = float(w.sum()) / k
    span = float(np.ptp(mids[:, 0]) ** 2 + np.ptp(mids[:, 1]) ** 2) / k
    offset = np.zeros(k)
    step = 0.5 * span
    best = np.zeros(len(units), dtype=np.int64)
    best_gap = np.inf
    for it in range(iterations):
        d2 = ((mids[:, None, :] - centre[None, :, :]) ** 2).sum(axis=2) - offset[None, :]
        lab = np.asarray(np.argmin(d2, axis=1), dtype=np.int64)
        load = np.bincount(lab, weights=w, minlength=k)
        gap = float(np.abs(load / mean - 1.0).max())
        if gap < best_gap:
            best, best_gap = lab, gap
        if gap < 0.005:
            break
        offset += step * (mean - load) / mean
        step *= 0.99
        if it % 10 == 9:
            for b in range(k):
                members = lab == b
                if members.any():
                    centre[b] = np.average(mids[members], axis=0, weights=w[members])
    return best


def _unit_graph(units: BeatUnits) -> sp.csr_matrix:
    """Units as nodes, adjacent units joined by the distance between their middles.

    Along a street that is half of each length; a non-street link counts as
    the straight line between the two middles.
    """
    upper = sp.triu(units.adjacency).tocoo()
    i, j = upper.row, upper.col
    half = (units.lengths[i] + units.lengths[j]) / 2.0
    mids = units.midpoints
    d = np.maximum(np.maximum(half, np.hypot(*(mids[i] - mids[j]).T)), 1e-3)
    n = len(units)
    return sp.csr_matrix((np.r_[d, d], (np.r_[i, j], np.r_[j, i])), shape=(n, n))


def _network_voronoi(
    graph: sp.csr_matrix, centres: npt.NDArray[np.int64], offset: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Each unit to the centre minimising network distance minus the centre's offset.

    Solved as one Dijkstra from a virtual source joined to every centre by
    ``max(offset) - offset + 1``; each unit takes the centre its shortest path
    leaves from. A unit's whole path lies in its region, so every region is
    connected.
    """
    n = graph.shape[0]
    k = len(centres)
    source = sp.csr_matrix(
        (float(offset.max()) + 1.0 - offset, (np.zeros(k, dtype=np.int64), centres)), shape=(1, n)
    )
    aug = sp.vstack(
        [sp.hstack([graph, sp.csr_matrix((n, 1))]), sp.hstack([source, sp.csr_matrix((1, 1))])]
    ).tocsr()
    _, pred = csgraph.dijkstra(aug, directed=True, indices=n, return_predecessors=True)
    parent = np.asarray(pred[:n], dtype=np.int64)
    root = parent == n
    parent[root] = np.flatnonzero(root)
    parent[parent < 0] = np.flatnonzero(parent < 0)
    while True:
        up = parent[parent]
        if np.array_equal(up, parent):
            break
        parent = up
    index = np.full(n, -1, dtype=np.int64)
    index[centres] = np.arange(k)
    return index[parent]


def _pmedian_start(
    units: BeatUnits,
    seeds: npt.NDArray[np.int64],
    weight: npt.NDArray[np.float64],
    *,
    rounds: int = 8,
    steps: int = 60,
) -> npt.NDArray[np.int64]:
    """Workload-weighted p-median on the streets, balanced by additive offsets.

    Alternates (a) network Voronoi regions around the centres with offsets
    raised for light regions until workloads are near equal and (b) moving
    each centre to the unit of its region that minimises the sum of
    (workload + street-length share) x network distance (a 1-median among the
    units nearest the region's centre of work).
    """
    graph = _unit_graph(units)
    mids = units.midpoints
    k = len(seeds)
    w = weight + 1e-9
    mean = float(w.sum()) / k
    mass = weight / max(float(weight.sum()), 1e-9) + units.lengths / float(units.lengths.sum())
    scale = math.sqrt(float(np.ptp(mids[:, 0]) * np.ptp(mids[:, 1])) / k)
    centres = np.asarray(seeds, dtype=np.int64).copy()
    offset = np.zeros(k)
    best, best_gap = np.zeros(len(units), dtype=np.int64), np.inf
    for _ in range(rounds):
        step = scale
        for _ in range(steps):
            lab = _network_voronoi(graph, centres, offset)
            load = np.bincount(lab, weights=w, minlength=k)
            gap = float(np.abs(load / mean - 1.0).max())
            if gap < best_gap:
                best, best_gap = lab, gap
            if gap < 0.01:
                break
            offset = offset + step * (mean - load) / mean
            offset -= offset.min()
            step *= 0.93
        moved = centres.copy()
        for b in range(k):
            members = np.flatnonzero(lab == b)
            if len(members) == 0:
                continue  # a neighbour's offset took even the centre: keep it
            c = np.average(mids[members], axis=0, weights=mass[members] + 1e-12)
            _, idx = cKDTree(mids[members]).query(c, k=min(8, len(members)))
            cand = np.unique(np.r_[np.atleast_1d(idx), np.searchsorted(members, centres[b])])
            d = csgraph.dijkstra(graph[members][:, members], directed=False, indices=cand)
            cost = (np.where(np.isfinite(d), d, 1e12) * mass[members][None, :]).sum(axis=1)
            moved[b] = members[cand[int(np.argmin(cost))]]
        if np.array_equal(moved, centres):
            break
        centres = moved
    return best


def _repair(
    units: BeatUnits,
    labels: npt.NDArray[np.int64],
    k: int,
    weight: npt.NDArray[np.float64],
) -> npt.NDArray[np.int64]:
    """Keep each beat's largest connected piece; regrow the rest onto neighbours."""
    lab = labels.copy()
    adj = units.adjacency
    for b in range(k):
        members = np.flatnonzero(lab == b)
        if len(members) == 0:
            continue
        sub = adj[members][:, members]
        n_comp, comp = csgraph.connected_components(sub, directed=False)
        if n_comp > 1:
            sizes = np.bincount(comp, weights=weight[members] + 1e-9)
            lab[members[comp != int(np.argmax(sizes))]] = -1
    empty = [b for b in range(k) if not (lab == b).any()]
    if empty:
        free = np.flatnonzero(lab < 0)
        pool = free if len(free) >= len(empty) else np.arange(len(lab))
        for b, i in zip(empty, pool[: len(empty)], strict=True):
            lab[i] = b
    return _attach(units, lab, k)


def _attach(units: BeatUnits, labels: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.int64]:
    """Give each unlabelled unit to the neighbouring beat with the nearest centre."""
    lab = labels.copy()
    mids = units.midpoints
    coo = units.adjacency.tocoo()
    ei, ej = np.asarray(coo.row), np.asarray(coo.col)
    while (lab < 0).any():
        have = lab >= 0
        cx = np.bincount(lab[have], weights=mids[have, 0], minlength=k)
        cy = np.bincount(lab[have], weights=mids[have, 1], minlength=k)
        cnt = np.maximum(np.bincount(lab[have], minlength=k), 1)
        centre = np.stack([cx / cnt, cy / cnt], axis=1)
        edge = (lab[ei] < 0) & (lab[ej] >= 0)
        if not edge.any():
            break
        i, b = ei[edge], lab[ej[edge]]
        d = np.hypot(*(mids[i] - centre[b]).T)
        order = np.lexsort((b, d, i))
        i, b = i[order], b[order]
        first = np.r_[True, i[1:] != i[:-1]]
        lab[i[first]] = b[first]
    return lab


def _skater(
    units: BeatUnits, n: int, weight: npt.NDArray[np.float64], *, seed: int
) -> npt.NDArray[np.int64]:
    """spopt's SKATER on unit midpoints and workload, with a minimum region size."""
    import libpysal  # noqa: PLC0415
    from spopt.region import Skater  # noqa: PLC0415

    mids = units.midpoints
    gdf = gpd.GeoDataFrame(
        {"x": mids[:, 0], "y": mids[:, 1], "w": weight / max(float(weight.max()), 1e-9)},
        geometry=gpd.points_from_xy(mids[:, 0], mids[:, 1]),
        crs=units.units.crs,
    )
    coo = units.adjacency.tocoo()
    neigh: dict[int, list[int]] = {i: [] for i in range(len(units))}
    for i, j in zip(coo.row, coo.col, strict=True):
        neigh[int(i)].append(int(j))
    w = libpysal.weights.W(neigh, silence_warnings=True)
    # SKATER's floor is a minimum region size (units), not a workload
    floor = max(1, int(0.3 * len(units) / n))
    # SKATER draws from NumPy's global state: seed it for this call only, then put the
    # caller's state back
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        model = Skater(gdf, w, ["x", "y", "w"], n_clusters=n, floor=floor, islands="ignore")
        model.solve()
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return np.asarray(model.labels_, dtype=np.int64)


def _anchor_fix(
    units: BeatUnits,
    lab: npt.NDArray[np.int64],
    *,
    n: int,
    anchor: npt.NDArray[np.bool_],
    weight: npt.NDArray[np.float64],
    nbrs: list[npt.NDArray[np.int32]],
) -> tuple[npt.NDArray[np.int64], bool]:
    """Regrow from station-reachable seeds when a start leaves a beat without one.

    Returns the labels and whether they were regrown.
    """
    have = np.bincount(lab[anchor], minlength=n)
    if (have > 0).all():
        return lab, False
    # seed each beat on an anchored unit: its own if it has one, else a free anchored one
    seeds: list[int] = []
    used: set[int] = set()
    for b in range(n):
        own = np.flatnonzero(anchor & (lab == b))
        if len(own):
            seeds.append(int(own[0]))
            used.add(int(own[0]))
        else:
            seeds.append(-1)
    spare = [int(i) for i in np.flatnonzero(anchor) if int(i) not in used]
    for b in range(n):
        if seeds[b] < 0:
            seeds[b] = spare.pop(0)
    return _grow(units, np.asarray(seeds, dtype=np.int64), weight, nbrs), True


# --------------------------------------------------------------------------- #
# optimisation: local search
# --------------------------------------------------------------------------- #
def _inverse_pp(perimeter: Any, area: Any) -> Any:
    """1 / Polsby-Popper = P^2 / (4 pi A): 1 for a disc, larger the less compact."""
    return np.asarray(perimeter) ** 2 / (4.0 * math.pi * np.maximum(area, 1e-9))


class _Refiner:
    """Contiguity-preserving moves between adjacent beats, on balance and shape.

    Holds the beat of each unit and, per beat, its workload, number of
    units, station-reachable units and the area and perimeter of its
    polygon (from the shared cells, so a move's effect on Polsby-Popper is
    exact). A unit whose removal would split its beat moves together with
    the small piece it would cut off, so a beat shaped like a tree of
    dead-end streets can still give work away.
    """

    def __init__(
        self,
        units: BeatUnits,
        labels: npt.NDArray[np.int64],
        k: int,
        *,
        tolerance: float,
        anchor: npt.NDArray[np.bool_] | None,
        original: npt.NDArray[np.int64] | None,
        gamma: float = 5.0,
        softmax: float = 8.0,
    ) -> None:
        self.units = units
        self.lab = np.asarray(labels, dtype=np.int64).copy()
        self.k = k
        self.w = units.workload
        self.nbrs = _neighbours(units.adjacency)
        self.cells = _cells(units)
        self.cell = self.cells.cell_of
        self.owns = self.cells.owner
        self.mean = float(self.w.sum()) / k
        self.tolerance = tolerance
        self.lo, self.hi = self.mean * (1.0 - tolerance), self.mean * (1.0 + tolerance)
        self.anchor = anchor
        self.original = original
        coo = units.adjacency.tocoo()
        self.ei = np.asarray(coo.row, dtype=np.int64)
        self.ej = np.asarray(coo.col, dtype=np.int64)
        self.max_piece = max(60, len(labels) // (5 * k))
        self.limit = max(3 * self.max_piece, 200)
        self.moves = 0
        self.merges = 0
        # loads closer than this count as equal (no churn on rounding noise)
        self.eps = 1e-9 * max(self.mean, 1e-9)
        self.only: tuple[int, ...] | None = None
        self.gamma, self.softmax = gamma, softmax
        self.clab = np.zeros(len(self.cells.area), dtype=np.int64)
        self.load = np.zeros(k)
        self.size = np.zeros(k, dtype=np.int64)
        self.anchors = np.zeros(k, dtype=np.int64)
        self.area = np.zeros(k)
        self.perim = np.zeros(k)
        self._recount(range(k))
        self._graph: sp.csr_matrix | None = None

    # -- state ------------------------------------------------------------ #
    def _recount(self, beats: Sequence[int] | range) -> None:
        shared, cells = self.cells.shared, self.cells
        for b in beats:
            members = np.flatnonzero(self.lab == b)
            own = members[self.owns[members]]
            cs = self.cell[own]
            self.clab[cs] = b
            self.load[b] = float(self.w[members].sum())
            self.size[b] = len(members)
            self.anchors[b] = int(self.anchor[members].sum()) if self.anchor is not None else 1
            self.area[b] = float(cells.area[cs].sum())
            self.perim[b] = float(cells.boundary[cs].sum()) - float(shared[cs][:, cs].sum())

    def _relabel(self, nodes: npt.NDArray[np.int64], labels: npt.NDArray[np.int64]) -> None:
        beats = sorted(set(self.lab[nodes].tolist()) | set(labels.tolist()))
        self.lab[nodes] = labels
        self._recount(beats)

    def worst(self) -> float:
        """Largest relative distance of a beat's workload (of `only`'s, if set) from the mean."""
        load = self.load if self.only is None else self.load[list(self.only)]
        return float(np.abs(load / self.mean - 1.0).max()) if self.mean > 0 else 0.0

    # -- contiguity -------------------------------------------------------- #
    def _piece(self, i: int) -> list[int] | None:
        """Units that must move with `i` to keep its beat connected, or None."""
        a = int(self.lab[i])
        same = [int(j) for j in self.nbrs[i] if self.lab[j] == a]
        if not same:
            return None  # `i` is the whole beat
        piece = [i]
        if len(same) > 1:
            closed, n_open = self._parts(i, a, same)
            if n_open > 1:
                return None  # cannot tell cheaply whether the beat stays whole
            if n_open == 0:  # the whole beat was explored: its largest part stays
                closed.sort(key=len, reverse=True)
                closed = closed[1:]
            rest = [x for part in closed for x in part]
            if len(rest) > self.max_piece:
                return None
            piece += rest
        if len(piece) >= self.size[a]:
            return None
        if self.anchor is not None and self.anchors[a] <= int(self.anchor[piece].sum()):
            return None
        return piece

    def _parts(self, i: int, a: int, same: list[int]) -> tuple[list[list[int]], int]:
        """Parts of beat `a` without `i`, searched from `i`'s neighbours.

        Each search stops after `limit` units (the part is then "open": big,
        and staying); parts explored to the end are returned. A search that
        runs into an open part belongs to it. When the first search reaches
        every other neighbour, `i` is not a cut vertex.
        """
        lab, nbrs = self.lab, self.nbrs
        owner: dict[int, int] = {i: -1}
        closed: list[list[int]] = []
        n_open = 0
        targets = set(same[1:])
        for p, s0 in enumerate(same):
            if s0 in owner:
                continue
            owner[s0] = p
            part, queue = [s0], deque([s0])
            is_open = merged = False
            # past the first part, a part only matters if small enough to move along
            limit = self.limit if p == 0 else self.max_piece + 1
            while queue and not merged:
                if len(part) >= limit:
                    is_open = True
                    break
                x = queue.popleft()
                for y in nbrs[x]:
                    yi = int(y)
                    if lab[yi] != a:
                        continue
                    o = owner.get(yi)
                    if o is None:
                        owner[yi] = p
                        part.append(yi)
                        queue.append(yi)
                        if p == 0 and yi in targets:
                            targets.discard(yi)
                            if not targets:
                                return [], 1
                    elif o not in (p, -1):
                        merged = True
                        break
            if merged:
                continue
            if is_open:
                n_open += 1
            else:
                closed.append(part)
        return closed, n_open

    # -- shape ------------------------------------------------------------- #
    def _shape_delta(self, piece: list[int], a: int, b: int) -> tuple[float, float, float]:
        """Change of a's perimeter, b's perimeter and the area moved, moving `piece` a -> b."""
        sh, cells = self.cells.shared, self.cells
        d_pa = d_pb = d_area = 0.0
        moved: list[int] = []
        for i in piece:
            if not self.owns[i]:
                continue
            c = int(self.cell[i])
            nb = sh.indices[sh.indptr[c] : sh.indptr[c + 1]]
            ln = sh.data[sh.indptr[c] : sh.indptr[c + 1]]
            lab = self.clab[nb]
            if moved:
                lab = np.where(np.isin(nb, moved), b, lab)
            s_a, s_b = float(ln[lab == a].sum()), float(ln[lab == b].sum())
            tot = float(cells.boundary[c])
            d_pa += 2.0 * s_a - tot
            d_pb += tot - 2.0 * s_b
            d_area += float(cells.area[c])
            moved.append(c)
        return d_pa, d_pb, d_area

    def _gain(self, piece: list[int], a: int, b: int) -> float:
        """Drop of 1/PP summed over `a` and `b` when `piece` moves from a to b."""
        d_pa, d_pb, d_area = self._shape_delta(piece, a, b)
        old = _inverse_pp(self.perim[a], self.area[a]) + _inverse_pp(self.perim[b], self.area[b])
        new = _inverse_pp(self.perim[a] + d_pa, self.area[a] - d_area) + _inverse_pp(
            self.perim[b] + d_pb, self.area[b] + d_area
        )
        return float(old - new)

    def _estimate(
        self, ii: npt.NDArray[np.int64], bb: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """`_gain` of single-unit moves, for all candidates at once."""
        nc = len(self.clab)
        onehot = sp.csr_matrix((np.ones(nc), (np.arange(nc), self.clab)), shape=(nc, self.k))
        along = np.asarray((self.cells.shared @ onehot).todense())
        aa = self.lab[ii]
        c = self.cell[ii]
        own = self.owns[ii]
        tot, ar = self.cells.boundary[c], self.cells.area[c]
        d_pa = np.where(own, 2.0 * along[c, aa] - tot, 0.0)
        d_pb = np.where(own, tot - 2.0 * along[c, bb], 0.0)
        d_area = np.where(own, ar, 0.0)
        old = _inverse_pp(self.perim[aa], self.area[aa]) + _inverse_pp(
            self.perim[bb], self.area[bb]
        )
        new = _inverse_pp(self.perim[aa] + d_pa, self.area[aa] - d_area) + _inverse_pp(
            self.perim[bb] + d_pb, self.area[bb] + d_area
        )
        return np.asarray(old - new, dtype=float)

    # -- moves ------------------------------------------------------------- #
    def _move(self, piece: list[int], b: int) -> None:
        a = int(self.lab[piece[0]])
        d_pa, d_pb, d_area = self._shape_delta(piece, a, b)
        self.perim[a] += d_pa
        self.perim[b] += d_pb
        self.area[a] -= d_area
        self.area[b] += d_area
        own = [int(self.cell[i]) for i in piece if self.owns[i]]
        self.clab[own] = b
        w = float(self.w[piece].sum())
        self.lab[piece] = b
        self.load[a] -= w
        self.load[b] += w
        self.size[a] -= len(piece)
        self.size[b] += len(piece)
        if self.anchor is not None:
            n_anchor = int(self.anchor[piece].sum())
            self.anchors[a] -= n_anchor
            self.anchors[b] += n_anchor
        self.moves += 1

    def _candidates(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(unit, neighbouring beat) pairs along beat boundaries."""
        la, lb = self.lab[self.ei], self.lab[self.ej]
        cut = la != lb
        if self.only is not None:
            cut &= np.isin(la, self.only) & np.isin(lb, self.only)
        pairs = np.unique(np.stack([self.ei[cut], lb[cut]], axis=1), axis=0)
        if len(pairs) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return pairs[:, 0], pairs[:, 1]

    def balance(self, target: float, *, rounds: int = 300) -> None:
        """Move units while each move lowers the sum of squared beat workloads.

        Stops once every beat is within `target` of the mean. Moves touching
        a beat outside the band go first, and among those the ones that cost
        the least compactness.
        """
        for _ in range(rounds):
            if self.worst() <= target:
                return
            ii, bb = self._candidates()
            aa = self.lab[ii]
            ok = self.load[aa] - self.load[bb] > self.eps
            ii, bb, aa = ii[ok], bb[ok], aa[ok]
            if len(ii) == 0:
                return
            dev = np.abs(self.load / self.mean - 1.0)
            out = (dev[aa] > target) | (dev[bb] > target)
            order = np.lexsort((ii, -self._estimate(ii, bb), ~out))
            moved = 0
            stuck: set[int] = set()  # units that cannot move this round
            for t in order:
                i, b = int(ii[t]), int(bb[t])
                a = int(self.lab[i])
                diff = float(self.load[a] - self.load[b])
                if a == b or diff <= self.eps or self.w[i] >= diff or i in stuck:
                    continue
                if not (self.lab[self.nbrs[i]] == b).any():
                    continue
                piece = self._piece(i)
                if piece is None:
                    stuck.add(i)
                    continue
                if float(self.w[piece].sum()) >= diff:
                    continue
                self._move(piece, b)
                moved += 1
                if self.worst() <= target:
                    return
            if moved == 0 and not self._chain():
                return

    def _chain(self) -> bool:
        """Pass work from the heaviest beat to the lightest along a path of beats.

        For when no single move helps (the beats between them are all at the
        same load): one piece moves across each border of the path, and the
        chain is undone unless the sum of squared workloads dropped.
        """
        beats = list(self.only) if self.only is not None else list(range(self.k))
        heavy = max(beats, key=lambda b: self.load[b])
        light = min(beats, key=lambda b: self.load[b])
        la, lb = self.lab[self.ei], self.lab[self.ej]
        cut = (la != lb) & np.isin(la, beats) & np.isin(lb, beats)
        border = sp.csr_matrix(
            (np.ones(int(cut.sum())), (la[cut], lb[cut])), shape=(self.k, self.k)
        )
        _, pred = csgraph.shortest_path(
            border, unweighted=True, indices=heavy, return_predecessors=True
        )
        if heavy == light or pred[light] < 0:
            return False
        path = [light]
        while path[-1] != heavy:
            path.append(int(pred[path[-1]]))
        path.reverse()
        amount = min(self.load[heavy] - self.mean, self.mean - self.load[light])
        before = float((self.load**2).sum())
        done: list[tuple[list[int], int]] = []
        for x, y in itertools.pairwise(path):
            edge = (self.lab[self.ei] == x) & (self.lab[self.ej] == y)
            best: list[int] | None = None
            for i in np.unique(self.ei[edge]):
                piece = self._piece(int(i))
                if piece is not None and (
                    best is None
                    or abs(float(self.w[piece].sum()) - amount)
                    < abs(float(self.w[best].sum()) - amount)
                ):
                    best = piece
            if best is None:
                break
            self._move(best, y)
            done.append((best, x))
        if len(done) == len(path) - 1 and float((self.load**2).sum()) < before - self.eps:
            return True
        for piece, x in reversed(done):
            self._move(piece, x)
        return False

    def smooth(self, *, rounds: int = 30) -> None:
        """Moves that raise Polsby-Popper while both beats stay in the balance band.

        With `original` (an agency's beats to stay close to) units only move
        back to their original beat.
        """
        for _ in range(rounds):
            ii, bb = self._candidates()
            if self.original is not None:
                back = bb == self.original[ii]
                ii, bb = ii[back], bb[back]
            if len(ii) == 0:
                return
            est = self._estimate(ii, bb)
            keep = est > 1e-9
            ii, bb, est = ii[keep], bb[keep], est[keep]
            moved = 0
            stuck: set[int] = set()
            for t in np.lexsort((ii, -est)):
                i, b = int(ii[t]), int(bb[t])
                a = int(self.lab[i])
                if a == b or i in stuck or not (self.lab[self.nbrs[i]] == b).any():
                    continue
                piece = self._piece(i)
                if piece is None:
                    stuck.add(i)
                    continue
                if self._gain(piece, a, b) <= 1e-9:
                    continue
                w = float(self.w[piece].sum())
                new_a, new_b = self.load[a] - w, self.load[b] + w
                inside = self.lo <= new_a <= self.hi and self.lo <= new_b <= self.hi
                closer = abs(new_a - new_b) < abs(self.load[a] - self.load[b])
                if not (inside or closer):
                    continue
                self._move(piece, b)
                moved += 1
            if moved == 0:
                return

    # -- merge and split ---------------------------------------------------- #
    def objective(self, pp: npt.NDArray[np.float64], km: npt.NDArray[np.float64]) -> float:
        """mean(1 / Polsby-Popper) + gamma * soft maximum of the beats' network km."""
        spread = float(np.mean((km / self.km_ref) ** self.softmax) ** (1.0 / self.softmax))
        return float(np.mean(1.0 / np.maximum(pp, 1e-6))) + self.gamma * spread

    def _shape(self, b: int) -> tuple[float, float]:
        pp = 1.0 / float(_inverse_pp(self.perim[b], self.area[b]))
        return pp, _beat_km(self.units, np.flatnonzero(self.lab == b))

    def _cut(
        self,
        nodes: npt.NDArray[np.int64],
        kind: int,
        rng: np.random.Generator,
        *,
        share: float = 0.5,
        longer: npt.NDArray[np.int64] | None = None,
        towards: npt.NDArray[np.float64] | None = None,
    ) -> npt.NDArray[np.int64] | None:
        """A contiguous split of `nodes` (0/1 per node), side 1 holding `share` of the work.

        ``kind`` 0: a straight cut across a random direction, refined as a
        two-centre power diagram; 1: a network-Voronoi cut between the two
        units of `nodes` farthest apart along the streets; 2: the same between
        the two ends of the beat `longer` (positions in `nodes`), so its far
        ends land in different beats (side 1 at the end nearer `towards`); 3:
        the same between two random units. A network-Voronoi side is
        connected for any threshold (each unit's shortest path to its centre
        stays on its side).
        """
        w = self.w[nodes] + 1e-9
        half = float(w.sum()) * share
        if kind == 0:
            xy = self.units.midpoints[nodes]
            theta = (rng.uniform() + self.merges * 0.618034) % 1.0 * math.pi
            key = xy @ np.array([math.cos(theta), math.sin(theta)])
            side = _split(key, w, share)
            mass = self.units.lengths[nodes] + 1e-9
            centre = np.stack(
                [np.average(xy[side == s], axis=0, weights=mass[side == s]) for s in (0, 1)]
            )
            offset, step = 0.0, 0.5 * float(np.ptp(xy[:, 0]) ** 2 + np.ptp(xy[:, 1]) ** 2) / 2.0
            best, best_gap = side, abs(float(w[side == 1].sum()) - half)
            for it in range(80):
                d0 = ((xy - centre[0]) ** 2).sum(axis=1)
                d1 = ((xy - centre[1]) ** 2).sum(axis=1) - offset
                side = (d1 < d0).astype(np.int64)
                load = float(w[side == 1].sum())
                if abs(load - half) < best_gap:
                    best, best_gap = side, abs(load - half)
                offset += step * (half - load) / half
                step *= 0.95
                if it % 10 == 9 and it < 60 and 0 < side.sum() < len(side):
                    for s in (0, 1):
                        centre[s] = np.average(xy[side == s], axis=0, weights=mass[side == s])
            side = best
        else:
            if self._graph is None:
                self._graph = _unit_graph(self.units)
            sub = self._graph[nodes][:, nodes]
            if kind in (1, 2):
                # a double sweep: the farthest unit from a random one, then the farthest from it
                pool = longer if kind == 2 and longer is not None else np.arange(len(nodes))
                far = sub[pool][:, pool]
                d = csgraph.dijkstra(far, directed=False, indices=int(rng.integers(len(pool))))
                c1 = int(np.argmax(np.where(np.isfinite(d), d, -1.0)))
                d = csgraph.dijkstra(far, directed=False, indices=c1)
                c1, c2 = int(pool[c1]), int(pool[int(np.argmax(np.where(np.isfinite(d), d, -1.0)))])
                if towards is not None:
                    xy = self.units.midpoints[nodes[[c1, c2]]]
                    if np.hypot(*(xy[0] - towards)) < np.hypot(*(xy[1] - towards)):
                        c1, c2 = c2, c1
            else:
                c1, c2 = (int(x) for x in rng.choice(len(nodes), size=2, replace=False))
            dist = csgraph.dijkstra(sub, directed=False, indices=[c1, c2])
            if not np.isfinite(dist).all():
                return None
            side = _split(dist[0] - dist[1], w, share)
        adj = self.units.adjacency[nodes][:, nodes]
        for _ in range(10):
            whole = True
            for s in (0, 1):
                members = np.flatnonzero(side == s)
                if len(members) == 0:
                    return None
                n_comp, comp = csgraph.connected_components(
                    adj[members][:, members], directed=False
                )
                if n_comp > 1:
                    whole = False
                    side[members[comp != int(np.argmax(np.bincount(comp)))]] = 1 - s
            if whole:
                return side
        return None

    def _excess(self, beats: Sequence[int]) -> float:
        """How far the beats' workloads lie outside the balance band (fraction of the mean)."""
        dev = np.abs(self.load[list(beats)] / self.mean - 1.0) - self.tolerance
        return float(np.maximum(dev, 0.0).sum())

    def _try_pair(self, a: int, b: int, rng: np.random.Generator, trials: int) -> bool:
        """Re-cut beats `a` and `b`; keep the best cut that is better balanced, or as
        balanced and lower in the objective."""
        nodes = np.flatnonzero((self.lab == a) | (self.lab == b))
        saved = self.lab[nodes].copy()
        a_longer = self.km[a] >= self.km[b]
        longer = np.flatnonzero(saved == (a if a_longer else b))
        # kind 2 puts the longer beat's end nearer the other beat on side 1
        other = self.units.midpoints[nodes[saved == (b if a_longer else a)]].mean(axis=0)
        total = float(self.load[a] + self.load[b])
        current = float(self.load[b]) / total if total > 0 else 0.5
        best_key = (self._excess((a, b)), self.objective(self.pp, self.km) - 1e-9)
        best: tuple[npt.NDArray[np.int64], float, float, float, float] | None = None
        for t in range(trials):
            kind = (t + self.merges) % 4
            flip = kind == 2 and not a_longer  # then side 1 lies towards a
            share = 0.5 if t % 2 == 0 else (1.0 - current if flip else current)
            side = self._cut(nodes, kind, rng, share=share, longer=longer, towards=other)
            if side is None:
                continue
            if flip:
                side = 1 - side
            self._relabel(nodes, np.where(side == 0, a, b))
            self.only = (a, b)
            self.balance(0.9 * self.tolerance)
            self.smooth(rounds=3)
            self.only = None
            if self.anchors[a] > 0 and self.anchors[b] > 0:
                (pa, ka), (pb, kb) = self._shape(a), self._shape(b)
                pp, km = self.pp.copy(), self.km.copy()
                pp[[a, b]], km[[a, b]] = (pa, pb), (ka, kb)
                key = (self._excess((a, b)), self.objective(pp, km))
                fitter = key[0] < best_key[0] - 1e-9
                if fitter or (key[0] <= best_key[0] + 1e-9 and key[1] < best_key[1]):
                    best_key, best = key, (self.lab[nodes].copy(), pa, pb, ka, kb)
            self._relabel(nodes, saved)
        if best is None:
            return False
        labels, pa, pb, ka, kb = best
        self._relabel(nodes, labels)
        self.pp[[a, b]], self.km[[a, b]] = (pa, pb), (ka, kb)
        self.merges += 1
        return True

    def _reshape(self) -> None:
        shapes = [self._shape(b) for b in range(self.k)]
        self.pp = np.array([s[0] for s in shapes])
        self.km = np.array([s[1] for s in shapes])

    def improve(self, rng: np.random.Generator, *, rounds: int = 3, trials: int = 3) -> None:
        """Merge-and-split: re-cut adjacent pairs of beats while the objective drops.

        Pairs with a beat outside the balance band, then the least compact
        pairs, go first; after each round the whole plan is rebalanced.
        """
        self._reshape()
        self.km_ref = max(float(self.km.max()), 1e-3)
        for _ in range(rounds):
            la, lb = self.lab[self.ei], self.lab[self.ej]
            cut = la < lb
            pairs = np.unique(np.stack([la[cut], lb[cut]], axis=1), axis=0)
            out = np.abs(self.load / self.mean - 1.0) > self.tolerance
            bad = (
                1.0 / np.maximum(self.pp, 1e-6)
                + self.gamma * (self.km / self.km_ref) ** self.softmax
            )
            bad = bad + 1e6 * out
            order = np.argsort(-(bad[pairs[:, 0]] + bad[pairs[:, 1]]), kind="stable")
            before = self.merges
            for a, b in pairs[order]:
                self._try_pair(int(a), int(b), rng, trials)
            if self.worst() > self.tolerance:
                self.balance(0.9 * self.tolerance)
                self._reshape()
            if self.merges == before:
                return


def _split(
    key: npt.NDArray[np.float64], w: npt.NDArray[np.float64], share: float
) -> npt.NDArray[np.int64]:
    """1 for the units of highest `key` holding `share` of the workload `w`, else 0."""
    order = np.lexsort((np.arange(len(key)), key))
    cum = np.cumsum(w[order])
    side = np.zeros(len(key), dtype=np.int64)
    side[order[cum > cum[-1] * (1.0 - share)]] = 1
    return side


def _start(
    units: BeatUnits,
    n: int,
    method: str,
    *,
    seed: int,
    anchor: npt.NDArray[np.bool_] | None,
    initial: npt.NDArray[np.int64] | None,
) -> tuple[npt.NDArray[np.int64], str]:
    """Start labels and the name of what made them (see `_partition`)."""
    weight = units.workload
    nbrs = _neighbours(units.adjacency)
    used = method
    if initial is not None:
        used = "existing"
        lab = _repair(units, np.asarray(initial, dtype=np.int64), n, weight)
    elif method == "skater":
        lab = _repair(units, _skater(units, n, weight, seed=seed), n, weight)
    else:
        seeds = _seeds(units, n, weight, seed=seed, anchor=anchor)
        if method == "power":
            lab = _repair(units, _power_start(units, seeds, weight), n, weight)
        elif method == "pmedian":
            lab = _repair(units, _pmedian_start(units, seeds, weight), n, weight)
        else:
            lab = _grow(units, seeds, weight, nbrs)
    if anchor is not None:
        lab, regrown = _anchor_fix(units, lab, n=n, anchor=anchor, weight=weight, nbrs=nbrs)
        if regrown:
            log.info("beats: the %s start left a beat out of the station's reach; regrown", used)
            used = "grow"
    return lab, used


def _partition(
    units: BeatUnits,
    n: int,
    *,
    seed: int,
    method: str,
    anchor: npt.NDArray[np.bool_] | None,
    initial: npt.NDArray[np.int64] | None,
    tolerance: float,
    refine: bool,
) -> tuple[npt.NDArray[np.int64], str, list[str]]:
    """`partition`, also saying which start made the beats and which starts ran.

    The start is `method`; for ``"auto"`` the better (lower objective) of
    ``"power"`` and ``"pmedian"``, both run; ``"existing"`` when starting from
    `initial`; ``"grow"`` when the start left a beat without a
    station-reachable unit and the beats were regrown from station-reachable
    seeds.
    """
    if method not in METHODS:
        msg = f"method must be one of {', '.join(METHODS)}, not {method!r}."
        raise ValueError(msg)
    if not 0.0 < tolerance < 1.0:
        msg = f"tolerance is a fraction of the mean workload in (0, 1), not {tolerance}."
        raise ValueError(msg)
    _check_request(len(units), n, anchor)
    t0 = time.perf_counter()
    starts = ["power", "pmedian"] if method == "auto" and initial is None else [method]
    runs: list[tuple[_Refiner, str]] = []
    for start in starts:
        lab, used = _start(units, n, start, seed=seed, anchor=anchor, initial=initial)
        ref = _Refiner(
            units,
            lab,
            n,
            tolerance=tolerance,
            anchor=anchor,
            original=None if initial is None else np.asarray(initial, dtype=np.int64),
        )
        ref.balance(0.9 * tolerance)
        ref.smooth()
        ref.balance(0.9 * tolerance)
        if refine and initial is None and n > 1:
            ref.improve(np.random.default_rng(seed))
        runs.append((ref, used))
    ref, used = runs[0]
    if len(runs) > 1:
        # the same yardstick for every run: balance first, then the objective
        for r, _ in runs:
            r._reshape()
        km_ref = max(float(r.km.max()) for r, _ in runs)
        for r, _ in runs:
            r.km_ref = km_ref
        ref, used = min(
            runs, key=lambda ru: (ru[0]._excess(range(n)), ru[0].objective(ru[0].pp, ru[0].km))
        )
    lab = ref.lab
    if anchor is not None and (np.bincount(lab[anchor], minlength=n) == 0).any():
        msg = "Station constraint: a beat ended up out of the station's reach; raise --max-minutes."
        raise InfeasibleError(msg)
    log.info(
        "beats: %d beats (%s, of starts %s) of %d units, imbalance %.2f%%, %d moves, "
        "%d re-cuts, %.2f s",
        n,
        used,
        "/".join(starts),
        len(units),
        100.0 * _imbalance(np.bincount(lab, weights=units.workload, minlength=n).astype(float)),
        ref.moves,
        ref.merges,
        time.perf_counter() - t0,
    )
    return lab, used, [r[1] for r in runs]


def partition(
    units: BeatUnits,
    n: int,
    *,
    seed: int = 0,
    method: str = METHODS[0],
    anchor: npt.NDArray[np.bool_] | None = None,
    initial: npt.NDArray[np.int64] | None = None,
    tolerance: float = 0.03,
    refine: bool = True,
) -> npt.NDArray[np.int64]:
    """Split the units into `n` contiguous, compact beats of near-equal workload.

    Parameters
    ----------
    units
        From `build_units`.
    n
        Number of beats.
    seed
        Seeds the start and the local search (same seed, same beats).
    method
        The start (see the module docstring): ``"power"``, ``"pmedian"``,
        ``"grow"`` or ``"skater"``, each followed by the same local search, or
        ``"auto"``: both the power and the p-median start, keeping the plan
        that is better balanced, then lower in the search's objective.
    anchor
        Units the station reaches in time (`station_anchor`); every beat
        keeps at least one, so the station reaches every beat in time.
    initial
        Labels (0..n-1, -1 for none) to start from instead, e.g. an agency's
        existing beats; `method` is then not used, the merge-and-split step
        is skipped and compactness moves only move units back to their start.
    tolerance
        Balance band: the search brings every beat within this fraction of
        the mean workload and keeps it there (imbalance <= `tolerance`).
    refine
        Run the merge-and-split step (off: balance and boundary moves only).

    Returns
    -------
    labels
        Beat index 0..n-1 of each unit.

    Raises
    ------
    InfeasibleError
        When `n` exceeds the units or the station constraint cannot be met.
    """
    labels, _, _ = _partition(
        units,
        n,
        seed=seed,
        method=method,
        anchor=anchor,
        initial=initial,
        tolerance=tolerance,
        refine=refine,
    )
    return labels


# --------------------------------------------------------------------------- #
# scoring
# --------------------------------------------------------------------------- #
def _area_hull(units: BeatUnits, *, margin: float = 60.0) -> shapely.Geometry:
    """The street area: a concave hull of the unit vertices, grown by `margin` metres."""
    pts = shapely.MultiPoint(shapely.get_coordinates(units.units.geometry.to_numpy()))
    return shapely.concave_hull(pts, ratio=0.05).buffer(margin)


def _cells(units: BeatUnits) -> _Cells:
    """The Voronoi cells of the unit midpoints in the street area (computed once per units)."""
    if units._cells is not None:
        return units._cells
    mids = units.midpoints
    hull = _area_hull(units)
    key = np.round(mids, 1)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = np.asarray(inverse, dtype=np.int64).ravel()
    cells = shapely.voronoi_polygons(shapely.MultiPoint(mids[first]), extend_to=hull, ordered=True)
    parts = shapely.intersection(np.asarray(shapely.get_parts(cells)), hull)
    edges = shapely.boundary(parts)
    i, j = shapely.STRtree(parts).query(parts, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    length = shapely.length(shapely.intersection(edges[i], edges[j]))
    touch = length > 1e-6
    i, j, length = i[touch], j[touch], length[touch]
    nc = len(parts)
    shared = sp.csr_matrix((np.r_[length, length], (np.r_[i, j], np.r_[j, i])), shape=(nc, nc))
    owner_unit = np.full(nc, -1, dtype=np.int64)
    owner_unit[inverse[::-1]] = np.arange(len(mids))[::-1]  # the first unit at a midpoint
    units._cells = _Cells(
        polygons=parts,
        area=np.asarray(shapely.area(parts), dtype=float),
        boundary=np.asarray(shapely.length(edges), dtype=float),
        shared=shared,
        cell_of=inverse,
        owner=owner_unit[inverse] == np.arange(len(mids)),
    )
    return units._cells


def beat_polygons(
    units: BeatUnits, labels: npt.NDArray[np.int64], n: int
) -> list[shapely.Geometry]:
    """Beat areas: Voronoi cells of unit midpoints dissolved per beat (never overlapping)."""
    cells = _cells(units)
    owned = np.flatnonzero(cells.owner)
    owner_label = np.full(len(cells.area), -1, dtype=np.int64)
    owner_label[cells.cell_of[owned]] = np.asarray(labels, dtype=np.int64)[owned]
    out: list[shapely.Geometry] = []
    for b in range(n):
        geom = shapely.coverage_union_all(cells.polygons[owner_label == b])
        out.append(shapely.make_valid(geom) if not geom.is_valid else geom)
    return out


def _diameter(g: sp.csr_matrix, targets: npt.NDArray[np.int64] | None = None) -> float:
    """Exact longest shortest path between two `targets` of a weighted graph (all nodes
    by default), by Takes & Kosters' bounding diameters.

    Each Dijkstra run tightens lower and upper bounds on every target's
    eccentricity, and targets that cannot beat the best lower bound are
    dropped; far fewer runs than all pairs, same answer. The graph must join
    the targets.
    """
    tg = np.arange(g.shape[0]) if targets is None else np.asarray(targets, dtype=np.int64)
    m = len(tg)
    if m < 2:
        return 0.0
    low, high = np.zeros(m), np.full(m, np.inf)
    alive = np.ones(m, dtype=bool)
    best = 0.0
    v, turn = int(np.argmax(np.diff(g.indptr)[tg])), 0
    while True:
        d = csgraph.dijkstra(g, directed=False, indices=int(tg[v]))[tg]
        ecc = float(d.max())
        low = np.maximum(low, np.maximum(d, ecc - d))
        high = np.minimum(high, ecc + d)
        best = max(best, ecc)
        alive[v] = False
        alive &= high > best + 1e-9
        if not alive.any():
            return best
        idx = np.flatnonzero(alive)
        v = int(idx[np.argmax(high[idx])] if turn % 2 == 0 else idx[np.argmin(low[idx])])
        turn += 1


def _beat_km(units: BeatUnits, members: npt.NDArray[np.int64]) -> float:
    """Longest shortest path (km) between nodes of a beat along its own streets.

    Exact. A beat in several pieces (or holding a linked stray piece) gives
    the longest path inside any one piece: its own streets do not join them.
    """
    if len(members) == 0:
        return 0.0
    s, e = units.start_node[members], units.end_node[members]
    nodes, inv = np.unique(np.r_[s, e], return_inverse=True)
    m = len(members)
    ls, le = inv[:m], inv[m:]
    w = np.maximum(units.lengths[members], 1e-3)
    g = sp.csr_matrix((np.r_[w, w], (np.r_[ls, le], np.r_[le, ls])), shape=(len(nodes),) * 2)
    n_comp, comp = csgraph.connected_components(g, directed=False)
    if n_comp == 1:
        return _diameter(g) / 1000.0
    best = 0.0
    for c in range(n_comp):
        part = np.flatnonzero(comp == c)
        if len(part) > 1:
            best = max(best, _diameter(g[part][:, part]))
    return best / 1000.0


def _travel_km(units: BeatUnits, members: npt.NDArray[np.int64]) -> float:
    """Longest shortest path (km) between two of a beat's units along any streets.

    How far a CSO may have to go from one part of the beat to another: the
    middles of its street pieces, on the whole street network (a beat in
    several pieces is crossed on other beats' streets). Exact (`_diameter`
    on the unit graph, restricted to the beat's units).
    """
    if units._travel is None:
        units._travel = _unit_graph(units)
    return _diameter(units._travel, np.asarray(members, dtype=np.int64)) / 1000.0


def _polsby_popper(geom: shapely.Geometry) -> float:
    perimeter = float(shapely.length(geom))
    return 4.0 * math.pi * float(shapely.area(geom)) / perimeter**2 if perimeter > 0 else 0.0


def _imbalance(load: npt.NDArray[np.float64]) -> float:
    """max / mean - 1 of beat workloads (0 when there is no work)."""
    mean = float(load.mean()) if len(load) else 0.0
    return float(load.max()) / mean - 1.0 if mean > 0 else 0.0


def score_beats(
    units: BeatUnits,
    labels: npt.NDArray[np.int64],
    n: int,
    *,
    polygons: Sequence[shapely.Geometry] | None = None,
    seed: int = 0,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Metrics of a labelling: one row per beat plus a summary.

    Parameters
    ----------
    labels
        Beat index 0..n-1 of each unit (-1: in no beat).
    polygons
        The beats' areas (default `beat_polygons`); an agency's own polygons
        when scoring its existing beats.
    seed
        Unused (the metrics are exact); kept for callers that pass it.

    Returns
    -------
    beats, summary
        ``beats`` has ``beat_id`` (1..n), ``workload``, ``street_km``,
        ``units``, ``linked_units`` (attached only through a non-street
        link), ``polsby_popper``, ``max_network_km`` (the longest trip
        between two of its street pieces, along any streets: `_travel_km`),
        ``max_internal_km`` (along its own streets only; for a beat in several
        pieces, inside one piece), ``contiguous`` and the polygon;
        ``summary`` has ``n_beats``, ``imbalance``, ``contiguous``,
        ``linked_units``, ``compactness`` and ``workload`` keyed by beat id.
    """
    del seed
    lab = np.asarray(labels, dtype=np.int64)
    polys = list(polygons) if polygons is not None else beat_polygons(units, lab, n)
    weight = units.workload
    linked = units.linked
    adj = units.adjacency
    rows = []
    loads = np.zeros(n)
    for b in range(n):
        members = np.flatnonzero(lab == b)
        n_comp = (
            csgraph.connected_components(adj[members][:, members], directed=False)[0]
            if len(members)
            else 0
        )
        loads[b] = float(weight[members].sum())
        rows.append(
            {
                "beat_id": b + 1,
                "workload": round(loads[b], 3),
                "street_km": round(float(units.lengths[members].sum()) / 1000.0, 3),
                "units": len(members),
                "linked_units": int(linked[members].sum()),
                "polsby_popper": round(_polsby_popper(polys[b]), 4),
                "max_network_km": round(_travel_km(units, members), 3),
                "max_internal_km": round(_beat_km(units, members), 3),
                "contiguous": bool(n_comp == 1),
            }
        )
    beats = gpd.GeoDataFrame(rows, geometry=polys, crs=units.units.crs)
    ids = [str(b) for b in beats["beat_id"]]
    km = beats["max_network_km"]
    summary: dict[str, Any] = {
        "n_beats": n,
        "imbalance": round(_imbalance(loads), 6),
        "contiguous": dict(zip(ids, beats["contiguous"].map(bool), strict=True)),
        "linked_units": dict(zip(ids, (int(x) for x in beats["linked_units"]), strict=True)),
        "compactness": {
            i: {"polsby_popper": float(p), "max_network_km": float(d), "max_internal_km": float(e)}
            for i, p, d, e in zip(
                ids, beats["polsby_popper"], km, beats["max_internal_km"], strict=True
            )
        },
        "workload": dict(zip(ids, (float(x) for x in beats["workload"]), strict=True)),
        "mean_polsby_popper": round(float(beats["polsby_popper"].mean()), 4),
        "max_network_km": round(float(km.max()), 3),
        "mean_network_km": round(float(km.mean()), 3),
        "max_internal_km": round(float(beats["max_internal_km"].max()), 3),
        "all_contiguous": bool(beats["contiguous"].all()),
        "unassigned_units": int((lab < 0).sum()),
    }
    return beats, summary


def kmeans_baseline(units: BeatUnits, n: int, *, seed: int = 0) -> npt.NDArray[np.int64]:
    """Baseline: k-means on incident coordinates, each unit to the nearest centre."""
    from sklearn.cluster import KMeans  # noqa: PLC0415

    distinct = len(np.unique(np.round(units.incident_xy, 1), axis=0))
    xy = units.incident_xy if distinct >= n else units.midpoints
    km = KMeans(n_clusters=n, n_init=3, random_state=seed).fit(xy)
    _, lab = cKDTree(km.cluster_centers_).query(units.midpoints)
    return np.asarray(lab, dtype=np.int64)


def existing_labels(
    units: BeatUnits, beats: gpd.GeoDataFrame | str | Path
) -> tuple[npt.NDArray[np.int64], list[shapely.Geometry], list[Any]]:
    """Units of an agency's beat polygons (the polygon holding each unit's midpoint).

    Units outside every polygon go to the nearest one. Beats are numbered in
    the file's ``beat_id`` order when it has that column, else in row order.

    Returns
    -------
    labels, polygons, ids
        Beat index of each unit, the polygons (in the units' CRS) and the
        agency's beat ids in index order.
    """
    if not isinstance(beats, gpd.GeoDataFrame):
        path = Path(beats)
        is_gpkg = path.suffix == ".gpkg" and path.exists()
        layers = pyogrio.list_layers(path)[:, 0].tolist() if is_gpkg else []
        if "beats" in layers:  # a file written by `cso-geo beats`
            beats = gpd.read_file(path, layer="beats")
        else:
            beats = read_vector(path, what="existing beats file", hint="Give beat polygons.")
    if beats.empty:
        msg = "The existing beats file holds no polygons."
        raise InputFileError(msg)
    if beats.crs is None:
        msg = "The existing beats file has no CRS; save it with one (e.g. EPSG:4326)."
        raise InputFileError(msg)
    beats = beats.to_crs(units.units.crs)
    if "beat_id" in beats.columns:
        beats = beats.sort_values("beat_id", kind="stable")
    beats = beats.reset_index(drop=True)
    mids = gpd.GeoDataFrame(geometry=gpd.points_from_xy(*units.midpoints.T), crs=beats.crs)
    joined = gpd.sjoin_nearest(mids, beats[["geometry"]], how="left")
    joined = joined[~joined.index.duplicated(keep="first")]
    lab = joined["index_right"].to_numpy(dtype=np.int64)
    ids = list(beats["beat_id"]) if "beat_id" in beats.columns else list(range(1, len(beats) + 1))
    return lab, list(beats.geometry), ids


# --------------------------------------------------------------------------- #
# the whole stage
# --------------------------------------------------------------------------- #
@dataclass
class BeatPlan:
    """Proposed beats with their scores, the baseline and the existing beats."""

    beats: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    labels: npt.NDArray[np.int64]
    summary: dict[str, Any]


def _profile_json(profile: npt.NDArray[np.float64]) -> str:
    return json.dumps([round(float(x), 4) for x in profile])


def plan_beats(
    units: BeatUnits,
    n: int,
    *,
    seed: int = 0,
    method: str = METHODS[0],
    anchor: npt.NDArray[np.bool_] | None = None,
    existing: gpd.GeoDataFrame | str | Path | None = None,
    tolerance: float = 0.03,
    minutes: npt.NDArray[np.float64] | None = None,
) -> BeatPlan:
    """Optimise beats and score them beside the k-means baseline (and existing beats).

    With `existing`, the agency's beats are scored as ``existing``, the
    optimisation starts from them when they number `n` (the summary's
    ``method`` is then ``"existing"``), and ``units_changed`` counts the
    units whose beat differs. `minutes` (from `station_minutes`) adds, per
    beat, the minutes from the station to the beat's nearest street.
    """
    t0 = time.perf_counter()
    initial = None
    ex_labels = None
    ex_summary = None
    if existing is not None:
        ex_labels, ex_polys, _ = existing_labels(units, existing)
        k = len(ex_polys)
        _, ex_summary = score_beats(units, ex_labels, k, polygons=ex_polys)
        if k == n:
            initial = ex_labels
    labels, used, tried = _partition(
        units,
        n,
        seed=seed,
        method=method,
        anchor=anchor,
        initial=initial,
        tolerance=tolerance,
        refine=True,
    )
    if ex_labels is not None and initial is None:
        # different beat counts: match proposed beats to existing ones by shared units
        k = int(ex_labels.max()) + 1
        overlap = np.zeros((n, k))
        np.add.at(overlap, (labels, ex_labels), 1.0)
        rows, cols = linear_sum_assignment(-overlap)
        mapping = np.full(n, -1)
        mapping[rows] = cols
        changed = int((mapping[labels] != ex_labels).sum())
    elif ex_labels is not None:
        changed = int((labels != ex_labels).sum())
    else:
        changed = 0
    beats, summary = score_beats(units, labels, n)
    _, base_summary = score_beats(units, kmeans_baseline(units, n, seed=seed), n)
    prof = units.profile
    beats["animal_workload"] = [round(float(units.animal[labels == b].sum()), 3) for b in range(n)]
    beats["daily_profile"] = [_profile_json(prof[labels == b].sum(axis=0)) for b in range(n)]
    beats["shift"] = units.shift or ""
    summary.update(
        {
            "method": used,
            "seed": seed,
            "tolerance": tolerance,
            "shift": units.shift,
            "days": units.days,
            "unit_length": float(units.units["length"].max()) if len(units) else 0.0,
            "units_total": len(units),
            "incidents": units.stats.get("incidents", 0),
            "tunnel_edges_left_out": units.stats.get("tunnel_edges_left_out", 0),
            "station_constraint": anchor is not None,
            "baseline": {"method": "kmeans_incidents", **base_summary},
        }
    )
    if used != method:
        summary["method_requested"] = method
    if len(tried) > 1:
        summary["starts_tried"] = tried
    if anchor is not None:
        summary["station_rule"] = (
            "the station reaches every beat in time: each beat holds a street whose nearer "
            "end is within the time limit of the station"
        )
        summary["station_reachable"] = {
            str(b + 1): bool(anchor[labels == b].any()) for b in range(n)
        }
    if minutes is not None:
        summary["station_minutes"] = {
            str(b + 1): round(float(minutes[labels == b].min()), 2) for b in range(n)
        }
    if ex_summary is not None:
        summary["existing"] = ex_summary
        summary["units_changed"] = changed
    out_units = units.units[["unit_id", "workload", "length", "geometry"]].copy()
    out_units.insert(1, "beat_id", labels + 1)
    log.info(
        "beat plan: %d beats (%s), imbalance %.2f%% (k-means baseline %.2f%%), mean "
        "Polsby-Popper %.3f (%.3f), max network km %.2f (%.2f), %.2f s",
        n,
        used,
        100 * summary["imbalance"],
        100 * base_summary["imbalance"],
        summary["mean_polsby_popper"],
        base_summary["mean_polsby_popper"],
        summary["max_network_km"],
        base_summary["max_network_km"],
        time.perf_counter() - t0,
    )
    return BeatPlan(beats=beats, units=out_units, labels=labels, summary=summary)


# --------------------------------------------------------------------------- #
# shift assignment
# --------------------------------------------------------------------------- #
def expected_workload(beats: gpd.GeoDataFrame | pd.DataFrame, shift: str) -> pd.Series:
    """Expected service minutes per beat in one shift of one day.

    Sums the beats' ``daily_profile`` (mean minutes per day in
    `BIN_MINUTES` bins) over the shift's time of day, with partial bins
    counted pro rata.
    """
    start, end = hs.parse_shift(shift)
    length = (end - start) % 1440
    minutes = (np.arange(start, start + length) % 1440) // BIN_MINUTES
    cover = np.bincount(minutes, minlength=_BINS) / BIN_MINUTES
    prof = np.array([json.loads(p) for p in beats["daily_profile"]], dtype=float)
    return pd.Series(prof @ cover, index=beats["beat_id"].to_numpy(), name="expected_workload")


def _norm_shift(text: str) -> tuple[int, int]:
    return hs.parse_shift(text)


def _shift_warnings(beats: gpd.GeoDataFrame | pd.DataFrame, shift: str) -> list[str]:
    """A warning when the beats were balanced for a shift other than `shift`."""
    built = {str(s) for s in beats.get("shift", pd.Series(dtype=str)).dropna() if str(s)}
    if not built or all(_norm_shift(s) == _norm_shift(shift) for s in built):
        return []
    made = ", ".join(sorted(built))
    msg = (
        f"The beats were balanced for shift {made}, not {shift}: their workloads are equal "
        f"for {made} only (the expected minutes for {shift} come from each beat's whole-day "
        f"profile); rebuild them with `cso-geo beats --shift {shift}` to balance this shift."
    )
    log.warning(msg)
    return [msg]


def read_roster(path: str | Path | io.StringIO) -> pd.DataFrame:
    """Read a roster CSV: ``cso_id,shift,mode,skills`` (skills separated by ``;``).

    Raises
    ------
    InputFileError
        Naming the file, row, column and value of a bad entry.
    """
    name = str(path) if not isinstance(path, io.StringIO) else "<roster>"
    try:
        text = path.getvalue() if isinstance(path, io.StringIO) else Path(path).read_text("utf-8")
    except OSError as exc:
        msg = f"Cannot read the roster {name!r}: {exc}"
        raise InputFileError(msg) from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ROSTER_COLUMNS[:3] if c not in header]
    if missing:
        msg = (
            f"Roster {name!r} lacks the column(s) {', '.join(missing)}; its header must be "
            f"{','.join(ROSTER_COLUMNS)}."
        )
        raise InputFileError(msg)
    rows = []
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        where = f"Roster {name!r} row {line}"
        if not row["cso_id"]:
            msg = f"{where}, column cso_id: empty; every CSO needs an id."
            raise InputFileError(msg)
        if row["cso_id"] in seen:
            msg = f"{where}, column cso_id: {row['cso_id']!r} appears twice."
            raise InputFileError(msg)
        seen.add(row["cso_id"])
        try:
            _norm_shift(row["shift"])
        except ValueError as exc:
            msg = f"{where}, column shift: {row['shift']!r} is not HH:MM-HH:MM ({exc})"
            raise InputFileError(msg) from exc
        mode = row["mode"].lower()
        if mode not in MODES:
            msg = f"{where}, column mode: {row['mode']!r} is not one of {', '.join(MODES)}."
            raise InputFileError(msg)
        skills = ";".join(s.strip().lower() for s in row.get("skills", "").split(";") if s.strip())
        rows.append(
            {"cso_id": row["cso_id"], "shift": row["shift"], "mode": mode, "skills": skills}
        )
    return pd.DataFrame(rows, columns=list(ROSTER_COLUMNS))


def sample_roster(
    n: int,
    *,
    seed: int = 0,
    shifts: Sequence[str] = ("08:00-16:00", "16:00-00:00"),
    foot_share: float = 0.6,
    animal_share: float = 0.2,
) -> pd.DataFrame:
    """A made-up roster of `n` CSOs spread over `shifts` (columns as `read_roster`)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        skills = "animal_control" if rng.random() < animal_share else ""
        rows.append(
            {
                "cso_id": f"CSO-{i + 1:03d}",
                "shift": shifts[i % len(shifts)],
                "mode": "foot" if rng.random() < foot_share else "vehicle",
                "skills": skills,
            }
        )
    return pd.DataFrame(rows, columns=list(ROSTER_COLUMNS))


def assign_shift(
    beats: gpd.GeoDataFrame | pd.DataFrame,
    roster: pd.DataFrame,
    *,
    shift: str,
    max_per_beat: int = 2,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Assign the CSOs on `shift` to beats, highest expected workload first.

    The ``k = min(CSOs, beats)`` beats with the highest expected shift
    workload are covered first (a CSO is worth most where most work is);
    who goes where among them is a `linear_sum_assignment` on preferences:
    animal-control skill to beats with more animal work, vehicles to beats
    with more street km, feet to the shorter ones. Further CSOs double up
    on the beats with the most expected work per assigned officer, up to
    `max_per_beat`.

    Returns
    -------
    assignments, summary
        One row per rostered CSO on the shift (``cso_id``, ``shift``,
        ``mode``, ``beat_id`` (<NA> when unassigned), ``expected_workload``
        (the beat's expected minutes this shift), ``skills``, ``status``);
        the summary lists ``uncovered_beats``, the expected minutes and
        ``warnings`` (e.g. beats balanced for another shift, also logged).

    Raises
    ------
    InfeasibleError
        When nobody on the roster works `shift`, or the beats' profiles hold
        no work in it.
    """
    want = _norm_shift(shift)
    on = roster.loc[[_norm_shift(s) == want for s in roster["shift"]]].reset_index(drop=True)
    if on.empty:
        shifts = sorted(set(roster["shift"]))
        msg = (
            f"Empty shift: nobody on the roster works {shift} (the roster has "
            f"{', '.join(shifts) or 'no shifts'}); pick one of those or add CSOs."
        )
        raise InfeasibleError(msg)
    warnings = _shift_warnings(beats, shift)
    expected = expected_workload(beats, shift)
    beat_ids = expected.index.to_numpy()
    load = expected.to_numpy(dtype=float)
    nb = len(beat_ids)
    animal_total = beats["animal_workload"].to_numpy(dtype=float)
    total = beats["workload"].to_numpy(dtype=float)
    if load.sum() <= 0 and total.sum() > 0:
        msg = (
            f"Empty shift: the beats' daily profiles hold no work during {shift} (no incident "
            "of their history was received then, or the beats file predates whole-day "
            "profiles); pick another shift or rebuild the beats with `cso-geo beats` from a "
            "history that covers it."
        )
        raise InfeasibleError(msg)
    animal = np.divide(animal_total, total, out=np.zeros(nb), where=total > 0)
    km = beats["street_km"].to_numpy(dtype=float)
    km_n = (km - km.min()) / (np.ptp(km) or 1.0)
    order = np.lexsort((beat_ids, -load))
    m = len(on)
    k = min(m, nb)
    slots = list(order[:k])
    count = np.zeros(nb, dtype=int)
    for s in slots:
        count[s] += 1
    # further officers double up where expected work per officer is highest
    extra = min(m - k, nb * (max_per_beat - 1)) if max_per_beat > 1 else 0
    for _ in range(extra):
        per = np.where(count < max_per_beat, load / np.maximum(count, 1) * (count > 0), -1.0)
        best = int(np.lexsort((beat_ids, -per))[0])
        slots.append(best)
        count[best] += 1
    is_animal = on["skills"].str.contains("animal").to_numpy()
    is_vehicle = (on["mode"] == "vehicle").to_numpy()
    slot_arr = np.asarray(slots, dtype=np.int64)
    pref = (
        np.outer(is_animal, animal[slot_arr])
        + 0.5 * np.outer(is_vehicle, km_n[slot_arr])
        + 0.5 * np.outer(~is_vehicle, 1.0 - km_n[slot_arr])
    )
    rows_i, cols_i = linear_sum_assignment(-pref) if slots else (np.zeros(0), np.zeros(0))
    beat_of = np.full(m, -1, dtype=np.int64)
    beat_of[rows_i.astype(int)] = slot_arr[cols_i.astype(int)]
    out = on.copy()
    assigned = beat_of >= 0
    out["beat_id"] = pd.array(
        [int(beat_ids[b]) if b >= 0 else None for b in beat_of], dtype="Int64"
    )
    out["expected_workload"] = [round(float(load[b]), 2) if b >= 0 else 0.0 for b in beat_of]
    out["status"] = np.where(assigned, "assigned", "unassigned")
    out = out[
        ["cso_id", "shift", "mode", "beat_id", "expected_workload", "skills", "status"]
    ].sort_values(["beat_id", "cso_id"], kind="stable", na_position="last")
    covered = set(beat_of[assigned].tolist())
    uncovered = [int(beat_ids[b]) for b in order if int(b) not in covered]
    summary: dict[str, Any] = {
        "shift": shift,
        "warnings": warnings,
        "csos": m,
        "assigned": int(assigned.sum()),
        "beats": nb,
        "uncovered_beats": uncovered,
        "uncovered_workload": round(float(sum(load[beat_ids == b][0] for b in uncovered)), 2),
        "expected_workload": {
            str(int(b)): round(float(x), 2) for b, x in zip(beat_ids, load, strict=True)
        },
    }
    log.info(
        "assign: %d CSOs on %s, %d beats covered, %d uncovered",
        m,
        shift,
        len(covered),
        len(uncovered),
    )
    return out.reset_index(drop=True), summary
