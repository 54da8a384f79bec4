"""Balanced patrol beats and shift assignments.

Basic units are street pieces: the walk graph's streets cut into pieces of at
most ``unit_length`` metres (`cso_geo.hotspots.street_units`, 50 m by
default). Why street pieces rather than a hex grid: incidents are already
snapped to streets, a piece is what a CSO patrols, contiguity can be checked
along the street network itself (two pieces are adjacent when they share an
end point) instead of by polygons touching across a river or a rail yard, and
pieces are small enough that balance within a few percent is reachable.
The rare piece that shares no end point with the main street network (an
isolated court) is linked to its nearest piece, and the link is counted.

Each unit carries a **workload**: the service minutes of the incidents snapped
to it (the ``service_minutes`` column, else the taxonomy's minutes for the
``call_type_code``), optionally only those inside a shift, plus optional
travel exposure (``exposure_minutes_per_km`` x street km) so long quiet
streets also count.

Beats are made by `partition`. The default ``method="power"`` starts from
balanced k-means cells: p-median-like seeds (workload-weighted k-means on
unit midpoints), then units go to the centre minimising squared distance
minus a per-beat offset that rises for light beats and falls for heavy ones
(an additively weighted Voronoi diagram, whose convex cells keep beats
compact); pieces of a cell that are not connected along the streets are
handed to the neighbouring beat with the nearest centre. ``"grow"`` starts
instead from contiguous region growing (the lightest beat takes its nearest
free neighbour) and ``"skater"`` from spopt's SKATER regionalisation. All
three then run the same local search, which moves boundary units between
adjacent beats: first to equalise workload (each move lowers the sum of
squared beat workloads; a unit that is a cut vertex of its beat moves with
the small piece it would cut off), then to make beats compact (a unit goes
to the beat whose centre is nearer while every beat stays within the
balance band). No move ever splits a beat, so every beat stays connected.
`benchmarks/bench_beats.py` compares the methods; the default is the one
that measured best (see the README "Beats" section).

`score_beats` reports the same metrics for any labelling (proposed, an
agency's existing beats, or the `kmeans_baseline`): workload per beat,
imbalance = max / mean - 1, contiguity, Polsby-Popper = 4 pi A / P^2 of the
beat polygon (Voronoi cells of unit midpoints, dissolved per beat and clipped
to the street area, so beats never overlap) and the longest shortest path
inside the beat along its own streets.

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
import json
import logging
import math
import time
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
]

#: Optimisation methods `partition` knows; the first is the default.
METHODS: tuple[str, ...] = ("power", "grow", "skater")
#: Width of the time-of-day bins of a unit's daily workload profile.
BIN_MINUTES = 15
_BINS = 1440 // BIN_MINUTES
ROSTER_COLUMNS = ("cso_id", "shift", "mode", "skills")
MODES = ("foot", "vehicle")


# --------------------------------------------------------------------------- #
# basic units
# --------------------------------------------------------------------------- #
@dataclass
class BeatUnits:
    """Street pieces with workload, adjacency along the streets and a node graph.

    ``units`` has ``unit_id``, ``u``, ``v``, ``key``, ``part``, ``name``,
    ``highway``, ``length`` (m), ``workload`` (minutes) and the piece geometry.
    ``adjacency`` is a symmetric 0/1 CSR matrix over units; ``node_graph``
    is a CSR matrix over piece end points weighted by piece length, with
    ``start_node``/``end_node`` the end points of each unit. ``profile`` holds
    each unit's mean service minutes per day in `BIN_MINUTES` bins of the day,
    ``animal`` the part of its workload from animal calls, and
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
        mids = shapely.line_interpolate_point(self.units.geometry.to_numpy(), 0.5, normalized=True)
        return np.asarray(shapely.get_coordinates(mids), dtype=float)

    def __len__(self) -> int:
        return len(self.units)


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
) -> tuple[sp.csr_matrix, int]:
    """Units sharing an end point are adjacent; stray components link to their nearest unit."""
    n = len(start)
    n_nodes = int(max(start.max(), end.max())) + 1
    inc = sp.csr_matrix(
        (np.ones(2 * n), (np.concatenate([np.arange(n), np.arange(n)]), np.r_[start, end])),
        shape=(n, n_nodes),
    )
    adj = (inc @ inc.T).tocsr()
    adj.setdiag(0)
    adj.eliminate_zeros()
    adj.data[:] = 1.0
    n_comp, comp = csgraph.connected_components(adj, directed=False)
    links = 0
    if n_comp > 1:
        sizes = np.bincount(comp)
        main = int(np.argmax(sizes))
        tree = cKDTree(mids[comp == main])
        main_ids = np.flatnonzero(comp == main)
        rows, cols = [], []
        for c in range(n_comp):
            if c == main:
                continue
            members = np.flatnonzero(comp == c)
            dist, idx = tree.query(mids[members])
            best = int(np.argmin(dist))
            rows.append(int(members[best]))
            cols.append(int(main_ids[idx[best]]))
            links += 1
        extra = sp.csr_matrix((np.ones(2 * links), (rows + cols, cols + rows)), shape=(n, n))
        adj = ((adj + extra) > 0).astype(float).tocsr()
    return adj, links


def build_units(
    incidents: gpd.GeoDataFrame,
    network: StreetNetwork | nx.MultiDiGraph,
    *,
    unit_length: float = 50.0,
    shift: str | None = None,
    exposure_minutes_per_km: float = 0.0,
    max_snap: float = 100.0,
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
        ``HH:MM-HH:MM``: count only incidents received in this time of day.
    exposure_minutes_per_km
        Minutes of patrol exposure added per street km of each unit.
    max_snap
        Incidents farther than this from every street (m) are not counted.

    Raises
    ------
    InfeasibleError
        When no incident falls in the shift.
    """
    t0 = time.perf_counter()
    G = network.walk if isinstance(network, StreetNetwork) else network
    streets = hs.street_units(G, unit_length=unit_length)
    units = streets.units.copy()
    n = len(units)
    selected = hs.select_incidents(incidents, shift=shift)
    if shift is not None and selected.empty:
        msg = (
            f"Empty shift: no incident was received during {shift} (of {len(incidents):,} "
            "incidents), so there is no workload to balance; choose another --shift."
        )
        raise InfeasibleError(msg)
    if not selected.empty and selected.crs is not None and units.crs is not None:
        selected = selected.to_crs(units.crs)
    minutes = _service_minutes(selected) if not selected.empty else np.zeros(0)
    unit_of = streets.assign(selected.geometry, max_dist=max_snap) if len(selected) else None
    ok = unit_of >= 0 if unit_of is not None else np.zeros(0, dtype=bool)
    profile = np.zeros((n, _BINS))
    animal = np.zeros(n)
    days = 1
    xy = np.zeros((0, 2))
    if unit_of is not None and ok.any():
        t = pd.to_datetime(selected["received_at"]).iloc[np.flatnonzero(ok)]
        span = (t.max().normalize() - t.min().normalize()).days + 1
        days = max(1, int(span))
        tod = (t.dt.hour * 60 + t.dt.minute).to_numpy() // BIN_MINUTES
        np.add.at(profile, (unit_of[ok], tod), minutes[ok] / days)
        if "category" in selected.columns:
            is_animal = (selected["category"] == "animal").to_numpy()[ok]
            animal = np.asarray(
                np.bincount(unit_of[ok][is_animal], minutes[ok][is_animal], minlength=n),
                dtype=float,
            )
        xy = shapely.get_coordinates(selected.geometry.to_numpy()[ok])
    calls = (
        np.bincount(unit_of[ok], minutes[ok], minlength=n) if unit_of is not None else np.zeros(n)
    )
    exposure = exposure_minutes_per_km * units["length"].to_numpy(dtype=float) / 1000.0
    units["workload"] = calls + exposure
    units["calls"] = np.bincount(unit_of[ok], minlength=n) if unit_of is not None else 0
    geoms = units.geometry.to_numpy()
    start, end, node_xy = _end_nodes(geoms)
    mids = np.asarray(
        shapely.get_coordinates(shapely.line_interpolate_point(geoms, 0.5, normalized=True))
    )
    adj, links = _adjacency(start, end, mids)
    lengths = np.maximum(units["length"].to_numpy(dtype=float), 1e-3)
    n_nodes = len(node_xy)
    node_graph = sp.csr_matrix(
        (np.r_[lengths, lengths], (np.r_[start, end], np.r_[end, start])), shape=(n_nodes, n_nodes)
    )
    dropped = int((~ok).sum()) if unit_of is not None else 0
    stats = {
        "units": n,
        "incidents": int(ok.sum()) if unit_of is not None else 0,
        "incidents_off_street": dropped,
        "linked_components": links,
        "days": days,
    }
    log.info(
        "beat units: %d units of <= %.0f m, %d incidents (%d farther than %.0f m from a street "
        "not counted), %d stray components linked, %.2f s",
        n,
        unit_length,
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
    )


# --------------------------------------------------------------------------- #
# station constraint
# --------------------------------------------------------------------------- #
def station_anchor(
    units: BeatUnits,
    network: StreetNetwork,
    station: tuple[float, float],
    *,
    max_minutes: float,
    mode: str = "vehicle",
    max_snap: float = 1000.0,
) -> npt.NDArray[np.bool_]:
    """Units with an end node reachable from `station` within `max_minutes`.

    Parameters
    ----------
    station
        Longitude, latitude (EPSG:4326) of the station.
    mode
        ``"vehicle"`` (drive graph, one-ways respected) or ``"foot"``.
    max_snap
        A station farther than this (m) from every street is an error.
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
    times = nx.single_source_dijkstra_path_length(
        G, origin, cutoff=max_minutes * 60.0, weight="travel_time"
    )
    reach = set(times)
    u = units.units["u"].to_numpy()
    v = units.units["v"].to_numpy()
    mask = np.fromiter(
        ((a in reach) or (b in reach) for a, b in zip(u, v, strict=True)), bool, len(u)
    )
    log.info(
        "station: %d of %d units within %.1f min (%s) of the station (%.0f m from the network)",
        int(mask.sum()),
        len(mask),
        max_minutes,
        mode,
        float(d.min()),
    )
    return mask


# --------------------------------------------------------------------------- #
# optimisation
# --------------------------------------------------------------------------- #
def _neighbours(adj: sp.csr_matrix) -> list[npt.NDArray[np.int32]]:
    return [adj.indices[adj.indptr[i] : adj.indptr[i + 1]] for i in range(adj.shape[0])]


def _check_request(n_units: int, n: int, anchor: npt.NDArray[np.bool_] | None) -> None:
    if n < 1:
        msg = f"The number of beats must be at least 1, not {n}."
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
    labels: npt.NDArray[np.int64] | None = None,
) -> npt.NDArray[np.int64]:
    """Contiguous region growing: the lightest beat takes its nearest free neighbour."""
    n_units = len(units)
    mids = units.midpoints
    lab = np.full(n_units, -1, dtype=np.int64) if labels is None else labels.copy()
    k = len(seeds) if labels is None else int(lab.max()) + 1
    load = np.zeros(k)
    if labels is None:
        for b, s in enumerate(seeds):
            lab[s] = b
    centre = np.zeros((k, 2))
    for b in range(k):
        members = lab == b
        load[b] = weight[members].sum()
        centre[b] = mids[members].mean(axis=0) if members.any() else mids[seeds[b]]
    fronts: list[list[tuple[float, int]]] = [[] for _ in range(k)]
    for i0 in np.flatnonzero(lab >= 0):
        b0 = int(lab[i0])
        for j in nbrs[i0]:
            if lab[j] < 0:
                d = float(np.hypot(*(mids[j] - centre[b0])))
                heapq.heappush(fronts[b0], (d, int(j)))
    active = [(float(load[b]), b) for b in range(k) if fronts[b]]
    heapq.heapify(active)
    while active:
        _, beat = heapq.heappop(active)
        b = int(beat)
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


def _repair(
    units: BeatUnits,
    labels: npt.NDArray[np.int64],
    k: int,
    weight: npt.NDArray[np.float64],
    nbrs: list[npt.NDArray[np.int32]],
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


class _Search:
    """Contiguity-preserving moves of boundary units between adjacent beats.

    A unit whose removal would split its beat moves together with the small
    piece it would cut off (at most `max_piece` units), so a beat shaped
    like a tree of dead-end streets can still give work away.
    """

    def __init__(
        self,
        units: BeatUnits,
        labels: npt.NDArray[np.int64],
        weight: npt.NDArray[np.float64],
        nbrs: list[npt.NDArray[np.int32]],
        *,
        anchor: npt.NDArray[np.bool_] | None,
        original: npt.NDArray[np.int64] | None,
    ) -> None:
        self.lab = labels.copy()
        self.k = int(labels.max()) + 1
        self.w = weight
        self.nbrs = nbrs
        self.mids = units.midpoints
        self.lengths = units.lengths
        self.load = np.bincount(self.lab, weights=weight, minlength=self.k)
        self.size = np.bincount(self.lab, minlength=self.k)
        self.anchor = anchor
        self.anchors = (
            np.bincount(self.lab[anchor], minlength=self.k) if anchor is not None else None
        )
        self.original = original
        coo = units.adjacency.tocoo()
        self.ei = np.asarray(coo.row, dtype=np.int64)
        self.ej = np.asarray(coo.col, dtype=np.int64)
        self.moves = 0
        # loads closer than this count as equal (no churn on rounding noise)
        self.eps = 1e-9 * max(float(self.load.mean()), 1e-9)
        self.max_piece = max(20, len(labels) // (20 * self.k))

    def _piece(self, i: int) -> list[int] | None:
        """Units that must move with `i` to keep its beat connected, or None."""
        a = int(self.lab[i])
        lab = self.lab
        same = [int(j) for j in self.nbrs[i] if lab[j] == a]
        if not same:
            return None  # `i` is the whole beat
        if len(same) == 1 or self._joined(i, a, same):
            piece = [i]
        else:
            # `i` is a cut vertex: the beat minus `i` falls into parts; the
            # largest stays, the others (if small) go along with `i`
            parts: list[list[int]] = []
            seen = {i}
            for s0 in same:
                if s0 in seen:
                    continue
                seen.add(s0)
                part, stack = [s0], [s0]
                while stack:
                    x = stack.pop()
                    for y in self.nbrs[x]:
                        yi = int(y)
                        if yi not in seen and lab[yi] == a:
                            seen.add(yi)
                            part.append(yi)
                            stack.append(yi)
                parts.append(part)
            parts.sort(key=len, reverse=True)
            rest = [x for part in parts[1:] for x in part]
            if len(rest) > self.max_piece:
                return None
            piece = [i, *rest]
        if len(piece) >= self.size[a]:
            return None
        if (
            self.anchors is not None
            and self.anchor is not None
            and self.anchors[a] <= int(self.anchor[piece].sum())
        ):
            return None
        return piece

    def _joined(self, i: int, a: int, same: list[int]) -> bool:
        """Whether `same` (neighbours of `i` in beat `a`) stay connected without `i`."""
        lab = self.lab
        targets = set(same[1:])
        seen = {i, same[0]}
        stack = [same[0]]
        while stack:
            x = stack.pop()
            for y in self.nbrs[x]:
                yi = int(y)
                if yi not in seen and lab[yi] == a:
                    if yi in targets:
                        targets.discard(yi)
                        if not targets:
                            return True
                    seen.add(yi)
                    stack.append(yi)
        return False

    def _move(self, piece: list[int], b: int) -> None:
        a = int(self.lab[piece[0]])
        w = float(self.w[piece].sum())
        self.lab[piece] = b
        self.load[a] -= w
        self.load[b] += w
        self.size[a] -= len(piece)
        self.size[b] += len(piece)
        if self.anchors is not None and self.anchor is not None:
            k = int(self.anchor[piece].sum())
            self.anchors[a] -= k
            self.anchors[b] += k
        self.moves += 1

    def _candidates(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        la, lb = self.lab[self.ei], self.lab[self.ej]
        cut = la != lb
        pairs = np.unique(np.stack([self.ei[cut], lb[cut]], axis=1), axis=0)
        if len(pairs) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return pairs[:, 0], pairs[:, 1]

    def _gain(self, w: float, a: int, b: int) -> float:
        """Drop in the sum of squared loads (halved) of moving work `w` from `a` to `b`.

        Moving units without work from a heavier to a lighter beat changes no
        load but opens a way for the lighter beat to reach work, so it gets a
        tiny positive gain: a beat walled in by quiet streets is not stuck.
        """
        diff = float(self.load[a] - self.load[b])
        if w <= 0:
            return 1e-12 * diff if diff > self.eps else 0.0
        return w * (diff - w)

    def _centres(self) -> npt.NDArray[np.float64]:
        """Length-weighted centre of each beat's units."""
        wl = self.lengths + 1e-9
        cx = np.bincount(self.lab, weights=self.mids[:, 0] * wl, minlength=self.k)
        cy = np.bincount(self.lab, weights=self.mids[:, 1] * wl, minlength=self.k)
        tot = np.bincount(self.lab, weights=wl, minlength=self.k)
        return np.stack([cx / tot, cy / tot], axis=1)

    def balance(self, *, rounds: int = 300) -> None:
        """Move units while each move lowers the sum of squared beat workloads."""
        for _ in range(rounds):
            ii, bb = self._candidates()
            if len(ii) == 0:
                return
            aa = self.lab[ii]
            diff = self.load[aa] - self.load[bb]
            ok = diff > self.eps
            ii, bb, aa = ii[ok], bb[ok], aa[ok]
            # among the moves that help balance, first those that most bring a
            # unit nearer its beat's centre (keeps beats compact)
            centre = self._centres()
            p = self.mids[ii]
            est = np.hypot(*(p - centre[aa]).T) - np.hypot(*(p - centre[bb]).T)
            order = np.lexsort((ii, -est))
            moved = 0
            for t in order:
                i, b = int(ii[t]), int(bb[t])
                a = int(self.lab[i])
                if a == b or self.load[a] - self.load[b] <= self.eps:
                    continue
                if self._gain(float(self.w[i]), a, b) <= 0:
                    continue
                if not any(self.lab[j] == b for j in self.nbrs[i]):
                    continue
                piece = self._piece(i)
                if piece is None:
                    continue
                if self._gain(float(self.w[piece].sum()), a, b) <= 0:
                    continue
                self._move(piece, b)
                moved += 1
            if moved == 0:
                return

    def compact(self, *, band: float, rounds: int = 30) -> None:
        """Move units to the beat whose centre is nearer, keeping loads within `band`."""
        mean = float(self.load.sum()) / self.k
        lo, hi = mean * (1.0 - band), mean * (1.0 + band)
        for _ in range(rounds):
            centre = self._centres()
            ii, bb = self._candidates()
            if len(ii) == 0:
                return
            aa = self.lab[ii]
            if self.original is not None:
                back = bb == self.original[ii]
                ii, bb, aa = ii[back], bb[back], aa[back]
            p = self.mids[ii]
            gain = np.hypot(*(p - centre[aa]).T) - np.hypot(*(p - centre[bb]).T)
            ok = gain > 1e-6
            ii, bb, gain = ii[ok], bb[ok], gain[ok]
            order = np.lexsort((ii, -gain))
            moved = 0
            for t in order:
                i, b = int(ii[t]), int(bb[t])
                a = int(self.lab[i])
                if a == b or not any(self.lab[j] == b for j in self.nbrs[i]):
                    continue
                piece = self._piece(i)
                if piece is None or len(piece) > 1:
                    continue
                w = float(self.w[i])
                new_a, new_b = self.load[a] - w, self.load[b] + w
                worse = max(new_a, new_b) > max(self.load[a], self.load[b]) or min(
                    new_a, new_b
                ) < min(self.load[a], self.load[b])
                if worse and not (lo <= new_a <= hi and lo <= new_b <= hi):
                    continue
                self._move(piece, b)
                moved += 1
            if moved == 0:
                return


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
    np.random.seed(seed)  # noqa: NPY002 - SKATER draws from NumPy's global state
    model = Skater(
        gdf,
        w,
        ["x", "y", "w"],
        n_clusters=n,
        floor=floor,
        islands="ignore",
    )
    model.solve()
    return np.asarray(model.labels_, dtype=np.int64)


def partition(
    units: BeatUnits,
    n: int,
    *,
    seed: int = 0,
    method: str = "power",
    anchor: npt.NDArray[np.bool_] | None = None,
    initial: npt.NDArray[np.int64] | None = None,
    tolerance: float = 0.04,
) -> npt.NDArray[np.int64]:
    """Split the units into `n` contiguous, compact beats of near-equal workload.

    Parameters
    ----------
    units
        From `build_units`.
    n
        Number of beats.
    seed
        Seeds the k-means seeding (same seed, same beats).
    method
        ``"power"`` (balanced k-means cells made contiguous), ``"grow"``
        (seeded region growing) or ``"skater"`` (spopt SKATER), each
        followed by the same contiguity-preserving local search.
    anchor
        Units that satisfy the station constraint (`station_anchor`); every
        beat keeps at least one.
    initial
        Labels (0..n-1, -1 for none) to start from, e.g. an agency's existing
        beats; compactness moves then only move units back to their start.
    tolerance
        Balance band the compactness moves keep every beat within
        (fraction of the mean workload).

    Returns
    -------
    labels
        Beat index 0..n-1 of each unit.

    Raises
    ------
    InfeasibleError
        When `n` exceeds the units or the station constraint cannot be met.
    """
    if method not in METHODS:
        msg = f"method must be one of {', '.join(METHODS)}, not {method!r}."
        raise ValueError(msg)
    _check_request(len(units), n, anchor)
    t0 = time.perf_counter()
    weight = units.workload
    nbrs = _neighbours(units.adjacency)
    if initial is not None:
        lab = _repair(units, np.asarray(initial, dtype=np.int64), n, weight, nbrs)
    elif method == "skater" and anchor is None:
        lab = _repair(units, _skater(units, n, weight, seed=seed), n, weight, nbrs)
    elif method == "power":
        seeds = _seeds(units, n, weight, seed=seed, anchor=anchor)
        lab = _repair(units, _power_start(units, seeds, weight), n, weight, nbrs)
    else:
        seeds = _seeds(units, n, weight, seed=seed, anchor=anchor)
        lab = _grow(units, seeds, weight, nbrs)
    if anchor is not None:
        lab = _anchor_fix(units, lab, n=n, anchor=anchor, weight=weight, nbrs=nbrs)
    search = _Search(
        units,
        lab,
        weight,
        nbrs,
        anchor=anchor,
        original=None if initial is None else np.asarray(initial, dtype=np.int64),
    )
    search.balance()
    for _ in range(3):
        before = search.moves
        search.compact(band=tolerance)
        search.balance()
        if search.moves == before:
            break
    lab = search.lab
    load = np.bincount(lab, weights=weight, minlength=n)
    mean = float(load.mean())
    log.info(
        "beats: %d beats (%s) of %d units, imbalance %.2f%%, %d moves, %.2f s",
        n,
        method,
        len(units),
        100.0 * (float(load.max()) / mean - 1.0) if mean > 0 else 0.0,
        search.moves,
        time.perf_counter() - t0,
    )
    return lab


def _anchor_fix(
    units: BeatUnits,
    lab: npt.NDArray[np.int64],
    *,
    n: int,
    anchor: npt.NDArray[np.bool_],
    weight: npt.NDArray[np.float64],
    nbrs: list[npt.NDArray[np.int32]],
) -> npt.NDArray[np.int64]:
    """Regrow from anchored seeds when a start labelling leaves a beat without an anchor."""
    have = np.bincount(lab[anchor], minlength=n)
    if (have > 0).all():
        return lab
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
    return _grow(units, np.asarray(seeds, dtype=np.int64), weight, nbrs)


# --------------------------------------------------------------------------- #
# scoring
# --------------------------------------------------------------------------- #
def _area_hull(units: BeatUnits, *, margin: float = 60.0) -> shapely.Geometry:
    """The street area: a concave hull of the unit vertices, grown by `margin` metres."""
    pts = shapely.MultiPoint(shapely.get_coordinates(units.units.geometry.to_numpy()))
    return shapely.concave_hull(pts, ratio=0.05).buffer(margin)


def beat_polygons(
    units: BeatUnits, labels: npt.NDArray[np.int64], n: int
) -> list[shapely.Geometry]:
    """Beat areas: Voronoi cells of unit midpoints dissolved per beat (never overlapping)."""
    mids = units.midpoints
    hull = _area_hull(units)
    key = np.round(mids, 1)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(mids[first]), extend_to=hull, ordered=True)
    parts = np.asarray(shapely.get_parts(cells))
    parts = shapely.intersection(parts, hull)
    # a duplicated midpoint takes the cell of its first copy's beat
    owner = np.full(len(first), -1, dtype=np.int64)
    owner[np.asarray(inverse).ravel()[::-1]] = labels[::-1]
    out: list[shapely.Geometry] = []
    for b in range(n):
        geom = shapely.coverage_union_all(parts[owner == b])
        out.append(shapely.make_valid(geom) if not geom.is_valid else geom)
    return out


def _max_network_km(
    units: BeatUnits, members: npt.NDArray[np.int64], *, seed: int, full_below: int = 400
) -> float:
    """Longest shortest path (km) between nodes of a beat along its own streets.

    Exact for small beats; for larger ones the best of repeated double sweeps
    (a lower bound that is exact on trees and close on street grids).
    """
    if len(members) == 0:
        return 0.0
    s, e = units.start_node[members], units.end_node[members]
    nodes, inv = np.unique(np.r_[s, e], return_inverse=True)
    m = len(members)
    ls, le = inv[:m], inv[m:]
    w = np.maximum(units.lengths[members], 1e-3)
    g = sp.csr_matrix((np.r_[w, w], (np.r_[ls, le], np.r_[le, ls])), shape=(len(nodes),) * 2)
    if len(nodes) <= full_below:
        d = csgraph.dijkstra(g, directed=False)
        return float(d[np.isfinite(d)].max()) / 1000.0
    rng = np.random.default_rng(seed)
    best = 0.0
    for start in rng.choice(len(nodes), size=4, replace=False):
        src = int(start)
        for _ in range(3):
            d = csgraph.dijkstra(g, directed=False, indices=src)
            fin = np.where(np.isfinite(d), d, -1.0)
            src = int(np.argmax(fin))
            best = max(best, float(fin[src]))
    return best / 1000.0


def _polsby_popper(geom: shapely.Geometry) -> float:
    perimeter = float(shapely.length(geom))
    return 4.0 * math.pi * float(shapely.area(geom)) / perimeter**2 if perimeter > 0 else 0.0


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

    Returns
    -------
    beats, summary
        ``beats`` has ``beat_id`` (1..n), ``workload``, ``street_km``,
        ``units``, ``polsby_popper``, ``max_network_km``, ``contiguous`` and
        the polygon; ``summary`` has ``n_beats``, ``imbalance``,
        ``contiguous``, ``compactness`` and ``workload`` keyed by beat id.
    """
    lab = np.asarray(labels, dtype=np.int64)
    polys = list(polygons) if polygons is not None else beat_polygons(units, lab, n)
    weight = units.workload
    rows = []
    adj = units.adjacency
    for b in range(n):
        members = np.flatnonzero(lab == b)
        if len(members):
            n_comp, _ = csgraph.connected_components(adj[members][:, members], directed=False)
        else:
            n_comp = 0
        rows.append(
            {
                "beat_id": b + 1,
                "workload": round(float(weight[members].sum()), 3),
                "street_km": round(float(units.lengths[members].sum()) / 1000.0, 3),
                "units": len(members),
                "polsby_popper": round(_polsby_popper(polys[b]), 4),
                "max_network_km": round(_max_network_km(units, members, seed=seed), 3),
                "contiguous": bool(n_comp == 1),
            }
        )
    beats = gpd.GeoDataFrame(rows, geometry=polys, crs=units.units.crs)
    load = beats["workload"].to_numpy(dtype=float)
    mean = float(load.mean()) if n else 0.0
    ids = [str(b) for b in beats["beat_id"]]
    summary: dict[str, Any] = {
        "n_beats": n,
        "imbalance": round(float(load.max()) / mean - 1.0, 6) if mean > 0 else 0.0,
        "contiguous": dict(zip(ids, beats["contiguous"].map(bool), strict=True)),
        "compactness": {
            i: {"polsby_popper": float(p), "max_network_km": float(d)}
            for i, p, d in zip(ids, beats["polsby_popper"], beats["max_network_km"], strict=True)
        },
        "workload": dict(zip(ids, (float(x) for x in load), strict=True)),
        "mean_polsby_popper": round(float(beats["polsby_popper"].mean()), 4),
        "max_network_km": round(float(beats["max_network_km"].max()), 3),
        "all_contiguous": bool(beats["contiguous"].all()),
        "unassigned_units": int((lab < 0).sum()),
    }
    return beats, summary


def kmeans_baseline(units: BeatUnits, n: int, *, seed: int = 0) -> npt.NDArray[np.int64]:
    """Baseline: k-means on incident coordinates, each unit to the nearest centre."""
    from sklearn.cluster import KMeans  # noqa: PLC0415

    xy = units.incident_xy if len(units.incident_xy) >= n else units.midpoints
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
    method: str = "power",
    anchor: npt.NDArray[np.bool_] | None = None,
    existing: gpd.GeoDataFrame | str | Path | None = None,
    tolerance: float = 0.04,
) -> BeatPlan:
    """Optimise beats and score them beside the k-means baseline (and existing beats).

    With `existing`, the agency's beats are scored as ``existing``, the
    optimisation starts from them when they number `n`, and
    ``units_changed`` counts the units whose beat differs.
    """
    t0 = time.perf_counter()
    initial = None
    ex_labels = None
    ex_summary = None
    if existing is not None:
        ex_labels, ex_polys, _ = existing_labels(units, existing)
        k = len(ex_polys)
        _, ex_summary = score_beats(units, ex_labels, k, polygons=ex_polys, seed=seed)
        if k == n:
            initial = ex_labels
    labels = partition(
        units, n, seed=seed, method=method, anchor=anchor, initial=initial, tolerance=tolerance
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
    beats, summary = score_beats(units, labels, n, seed=seed)
    base, base_summary = score_beats(units, kmeans_baseline(units, n, seed=seed), n, seed=seed)
    del base
    prof = units.profile
    beats["animal_workload"] = [round(float(units.animal[labels == b].sum()), 3) for b in range(n)]
    beats["daily_profile"] = [_profile_json(prof[labels == b].sum(axis=0)) for b in range(n)]
    summary.update(
        {
            "method": method,
            "seed": seed,
            "shift": units.shift,
            "days": units.days,
            "unit_length": float(units.units["length"].max()) if len(units) else 0.0,
            "units_total": len(units),
            "incidents": units.stats.get("incidents", 0),
            "station_constraint": anchor is not None,
            "baseline": {"method": "kmeans_incidents", **base_summary},
        }
    )
    if anchor is not None:
        summary["station_reachable"] = {
            str(b + 1): bool(anchor[labels == b].any()) for b in range(n)
        }
    if ex_summary is not None:
        summary["existing"] = ex_summary
        summary["units_changed"] = changed
    out_units = units.units[["unit_id", "workload", "length", "geometry"]].copy()
    out_units.insert(1, "beat_id", labels + 1)
    log.info(
        "beat plan: %d beats, imbalance %.2f%% (k-means baseline %.2f%%), %.2f s",
        n,
        100 * summary["imbalance"],
        100 * base_summary["imbalance"],
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
        the summary lists ``uncovered_beats`` and the expected minutes.

    Raises
    ------
    InfeasibleError
        When nobody on the roster works `shift`.
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
    expected = expected_workload(beats, shift)
    beat_ids = expected.index.to_numpy()
    load = expected.to_numpy(dtype=float)
    nb = len(beat_ids)
    animal_total = beats["animal_workload"].to_numpy(dtype=float)
    total = beats["workload"].to_numpy(dtype=float)
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
    summary = {
        "shift": shift,
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
