"""Tests for cso_geo.beats: hand-made grids with exact workloads, then the sample city."""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

from cso_geo import beats, network, pipeline
from cso_geo._errors import InfeasibleError, InputFileError
from cso_geo.cli import app
from cso_geo.datasets import synthetic
from cso_geo.hotspots import street_units
from cso_geo.network import StreetNetwork
from cso_geo.taxonomy import load_taxonomy

CRS = "EPSG:32635"
X0, Y0 = 385000.0, 6672000.0
STEP = 100.0


def grid_graph(size: int = 4) -> nx.MultiDiGraph:
    """A size x size street grid, 100 m blocks, both directions, one-way free."""
    G = nx.MultiDiGraph(crs=CRS)
    for r in range(size):
        for c in range(size):
            G.add_node(r * size + c, x=X0 + c * STEP, y=Y0 + r * STEP)
    for r in range(size):
        for c in range(size):
            here = r * size + c
            for there in (
                (here + 1) if c + 1 < size else None,
                (here + size) if r + 1 < size else None,
            ):
                if there is None:
                    continue
                a = (G.nodes[here]["x"], G.nodes[here]["y"])
                b = (G.nodes[there]["x"], G.nodes[there]["y"])
                attrs = {
                    "length": STEP,
                    "highway": "residential",
                    "name": f"Street {here}-{there}",
                    "speed_kph": 30.0,
                    "travel_time": STEP / (30 / 3.6),
                    "oneway": False,
                }
                G.add_edge(here, there, 0, geometry=shapely.LineString([a, b]), **attrs)
                G.add_edge(
                    there,
                    here,
                    0,
                    geometry=shapely.LineString([b, a]),
                    reversed=True,
                    **attrs,
                )
    return G


def grid_network(size: int = 4) -> StreetNetwork:
    G = grid_graph(size)
    empty = gpd.GeoDataFrame(geometry=[], crs=CRS)
    return StreetNetwork(
        walk=G, drive=G.copy(), addresses=empty, places=empty, crs=CRS, source="grid"
    )


def incidents_on(units: gpd.GeoDataFrame, minutes: dict[int, list[float]]) -> gpd.GeoDataFrame:
    """Incidents at the middle of the given units, with the given service minutes."""
    rows = []
    for uid, mins in minutes.items():
        mid = units.geometry.iloc[uid].interpolate(0.5, normalized=True)
        for k, m in enumerate(mins):
            hour = 9 + (k % 6)  # 09:00-14:59: inside a day shift
            rows.append(
                {
                    "received_at": pd.Timestamp(2025, 3, 1 + k % 10, hour, 15),
                    "service_minutes": m,
                    "category": "animal" if uid == 0 else "noise",
                    "match_type": "address_point",
                    "geometry": mid,
                }
            )
    cols = ["received_at", "service_minutes", "category", "match_type", "geometry"]
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry="geometry", crs=CRS)


def unit_graph(units: gpd.GeoDataFrame, members: np.ndarray) -> nx.Graph:
    """Units as nodes, adjacent when they share a street node (u or v)."""
    g = nx.Graph()
    g.add_nodes_from(int(i) for i in members)
    ends = {int(i): {units["u"].iloc[i], units["v"].iloc[i]} for i in members}
    items = list(ends.items())
    for a, (i, ei) in enumerate(items):
        for j, ej in items[a + 1 :]:
            if ei & ej:
                g.add_edge(i, j)
    return g


def end_point_graph(units: gpd.GeoDataFrame) -> nx.Graph:
    """Units as nodes, adjacent when their lines share an end point."""
    g = nx.Graph()
    g.add_nodes_from(range(len(units)))
    at: dict[tuple[float, float], list[int]] = {}
    for i, line in enumerate(units.geometry):
        for x, y in (line.coords[0], line.coords[-1]):
            at.setdefault((round(x, 2), round(y, 2)), []).append(i)
    for members in at.values():
        g.add_edges_from((a, b) for a in members for b in members if a < b)
    return g


def assert_contiguous_along_streets(
    units: gpd.GeoDataFrame, labels: np.ndarray, linked: dict[str, int]
) -> None:
    """Each beat is one piece along real streets, apart from the reported linked units.

    Pieces apart from a beat's main one must be whole stray components of the
    street network (no end point shared with any other street), and their
    units must add up to the beat's ``linked_units``.
    """
    full = end_point_graph(units)
    whole = [set(c) for c in nx.connected_components(full)]
    for b in range(int(labels.max()) + 1):
        members = np.flatnonzero(labels == b)
        parts = sorted(nx.connected_components(full.subgraph(members)), key=len, reverse=True)
        assert all(set(p) in whole for p in parts[1:]), f"beat {b + 1} is split along the streets"
        assert sum(len(p) for p in parts[1:]) == linked[str(b + 1)]


@pytest.fixture(scope="module")
def grid_units() -> beats.BeatUnits:
    """4x4 grid (24 street units) with 10 minutes of work on every unit."""
    G = grid_graph(4)
    probe = beats.build_units(incidents_on(_plain_units(G), {}), G, unit_length=100.0)
    minutes = {i: [10.0] for i in range(len(probe))}
    return beats.build_units(incidents_on(probe.units, minutes), G, unit_length=100.0)


def _plain_units(G: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    return street_units(G, unit_length=100.0).units


# --------------------------------------------------------------------------- #
# units and workload arithmetic
# --------------------------------------------------------------------------- #
def test_units_carry_exact_workload_and_street_adjacency() -> None:
    G = grid_graph(4)
    units = _plain_units(G)
    assert len(units) == 24  # 4 rows x 3 + 4 columns x 3 streets of 100 m
    inc = incidents_on(units, {0: [10.0, 25.0], 5: [7.5], 23: [40.0, 40.0, 40.0]})
    bu = beats.build_units(inc, G, unit_length=100.0)
    w = bu.workload
    assert w[0] == 35.0
    assert w[5] == 7.5
    assert w[23] == 120.0
    assert w.sum() == 162.5
    assert np.count_nonzero(w) == 3
    assert bu.animal[0] == 35.0
    assert bu.animal.sum() == 35.0
    # adjacency is "shares a street node": compare with an independent graph check
    ref = unit_graph(bu.units, np.arange(len(bu)))
    got = nx.from_scipy_sparse_array(bu.adjacency)
    assert set(map(frozenset, got.edges())) == set(map(frozenset, ref.edges()))
    assert bu.links == 0
    # the daily profile spreads each unit's minutes over its days of history
    assert bu.days == 3  # incidents on 1, 2 and 3 March
    assert bu.profile.sum() == pytest.approx(162.5 / 3)


def test_service_minutes_fall_back_to_taxonomy() -> None:
    G = grid_graph(3)
    units = _plain_units(G)
    inc = incidents_on(units, {0: [1.0, 1.0]})
    inc["service_minutes"] = np.nan
    table = load_taxonomy().by_code()
    code = next(iter(table))
    inc["call_type_code"] = code
    bu = beats.build_units(inc, G, unit_length=100.0)
    assert bu.workload[0] == 2 * table[code].service_minutes
    inc["call_type_code"] = "NO-SUCH-CODE"
    with pytest.raises(InputFileError, match="NO-SUCH-CODE"):
        beats.build_units(inc, G, unit_length=100.0)


def test_score_imbalance_is_exact_on_hand_labels(grid_units: beats.BeatUnits) -> None:
    # rows of the grid: units are sorted by (u, v); give beat 0 the first 10 units
    labels = np.r_[np.zeros(10, dtype=np.int64), np.ones(14, dtype=np.int64)]
    table, summary = beats.score_beats(grid_units, labels, 2)
    assert table["workload"].tolist() == [100.0, 140.0]
    assert summary["imbalance"] == pytest.approx(140.0 / 120.0 - 1.0, abs=1e-6)
    assert summary["workload"] == {"1": 100.0, "2": 140.0}
    assert table["street_km"].tolist() == [1.0, 1.4]
    for b in (0, 1):
        members = np.flatnonzero(labels == b)
        assert table["contiguous"].iloc[b] == nx.is_connected(unit_graph(grid_units.units, members))


def test_polsby_popper_and_network_distance_on_a_square() -> None:
    square = shapely.box(0, 0, 100, 100)
    assert beats._polsby_popper(square) == pytest.approx(np.pi / 4)
    G = grid_graph(4)
    bu = beats.build_units(incidents_on(_plain_units(G), {}), G, unit_length=100.0)
    # whole grid: the longest shortest path is corner to corner, 6 blocks
    assert beats._beat_km(bu, np.arange(len(bu))) == pytest.approx(0.6)
    # two pieces (the bottom row and the top row): the longest inside one piece
    bottom = np.flatnonzero(bu.midpoints[:, 1] == Y0)
    top = np.flatnonzero(bu.midpoints[:, 1] == Y0 + 3 * STEP)
    assert beats._beat_km(bu, np.r_[bottom, top]) == pytest.approx(0.3)
    # the trip a CSO makes between two pieces of the beat, along any streets: from the
    # middle of the first bottom block up a side street to the middle of the last top one
    assert beats._travel_km(bu, np.r_[bottom, top]) == pytest.approx(0.5)
    # on the whole grid, between the middles of two opposite edge blocks
    assert beats._travel_km(bu, np.arange(len(bu))) == pytest.approx(0.5)
    assert beats._travel_km(bu, bottom) == pytest.approx(0.2)
    table, summary = beats.score_beats(
        bu, np.where(np.isin(np.arange(len(bu)), np.r_[bottom, top]), 0, 1), 2
    )
    assert table["max_network_km"].iloc[0] == pytest.approx(0.5)
    assert table["max_internal_km"].iloc[0] == pytest.approx(0.3)
    assert not table["contiguous"].iloc[0]
    assert summary["compactness"]["1"] == {
        "polsby_popper": table["polsby_popper"].iloc[0],
        "max_network_km": 0.5,
        "max_internal_km": 0.3,
    }


def test_imbalance_is_computed_from_unrounded_workloads(grid_units: beats.BeatUnits) -> None:
    bu = beats.BeatUnits(**{**grid_units.__dict__, "_cells": None})
    bu.units = grid_units.units.copy()
    w = np.full(len(bu), 0.0)
    w[0] = 1.0004  # rounds to 1.0 at three decimals, like beat 2's 1.0
    w[23] = 1.0
    bu.units["workload"] = w
    labels = (bu.midpoints[:, 0] > X0 + 150).astype(np.int64)
    labels[0], labels[23] = 0, 1
    table, summary = beats.score_beats(bu, labels, 2)
    assert table["workload"].tolist() == [1.0, 1.0]
    assert summary["imbalance"] == pytest.approx(1.0004 / 1.0002 - 1.0, abs=1e-7)
    assert summary["imbalance"] > 0.0


def test_tunnels_are_left_out_of_the_units() -> None:
    G = grid_graph(3)
    for u, v in ((0, 1), (1, 0)):
        G.edges[u, v, 0]["tunnel"] = "yes"
    units = beats.build_units(incidents_on(_plain_units(grid_graph(3)), {}), G, unit_length=100.0)
    assert len(units) == 11  # 12 streets of the 3x3 grid, less the tunnel
    assert units.stats["tunnel_edges_left_out"] == 2  # both directions
    assert not ((units.units["u"].isin([0, 1])) & (units.units["v"].isin([0, 1]))).any()
    kept = beats.build_units(
        incidents_on(_plain_units(grid_graph(3)), {}), G, unit_length=100.0, tunnels=True
    )
    assert len(kept) == 12


def test_max_network_km_is_exact_on_large_beats(helsinki_net: StreetNetwork) -> None:
    bu = beats.build_units(incidents_on(_plain_units(grid_graph(3)), {}), helsinki_net.walk)
    labels = beats.kmeans_baseline(bu, 2, seed=0)
    for b in range(2):
        members = np.flatnonzero(labels == b)
        s, e = bu.start_node[members], bu.end_node[members]
        nodes, inv = np.unique(np.r_[s, e], return_inverse=True)
        m = len(members)
        assert len(nodes) > 400  # the size the old code only bounded from below
        w = np.maximum(bu.lengths[members], 1e-3)
        ref = nx.Graph()
        for a, c, x in zip(inv[:m], inv[m:], w, strict=True):
            if not ref.has_edge(a, c) or ref.edges[a, c]["w"] > x:
                ref.add_edge(int(a), int(c), w=float(x))
        best = max(
            max(nx.single_source_dijkstra_path_length(ref, v, weight="w").values())
            for v in ref.nodes
        )
        assert beats._beat_km(bu, members) == pytest.approx(best / 1000.0, rel=1e-9)


# --------------------------------------------------------------------------- #
# partition
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("method", ["auto", "power", "pmedian", "grow"])
@pytest.mark.parametrize("n", [2, 3, 4])
def test_partition_is_balanced_and_contiguous(
    grid_units: beats.BeatUnits, method: str, n: int
) -> None:
    labels = beats.partition(grid_units, n, seed=1, method=method)
    assert sorted(set(labels.tolist())) == list(range(n))
    load = np.bincount(labels, weights=grid_units.workload)
    # 24 units of 10 minutes split exactly: 240 / n per beat
    assert load.tolist() == [240.0 / n] * n
    for b in range(n):
        members = np.flatnonzero(labels == b)
        assert nx.is_connected(unit_graph(grid_units.units, members))


def test_skater_method_runs_and_keeps_beats_contiguous(grid_units: beats.BeatUnits) -> None:
    labels = beats.partition(grid_units, 3, seed=0, method="skater")
    load = np.bincount(labels, weights=grid_units.workload, minlength=3)
    assert load.sum() == 240.0
    assert (load > 0).all()
    for b in range(3):
        assert nx.is_connected(unit_graph(grid_units.units, np.flatnonzero(labels == b)))


def test_partition_balances_uneven_work_and_is_reproducible() -> None:
    G = grid_graph(5)  # 40 units
    units = _plain_units(G)
    rng = np.random.default_rng(4)
    minutes = {i: [float(m)] for i, m in enumerate(rng.integers(1, 20, len(units)))}
    bu = beats.build_units(incidents_on(units, minutes), G, unit_length=100.0)
    a = beats.partition(bu, 4, seed=7)
    b = beats.partition(bu, 4, seed=7)
    assert np.array_equal(a, b)
    load = np.bincount(a, weights=bu.workload)
    assert load.sum() == bu.workload.sum()
    assert load.max() / load.mean() - 1.0 <= 0.05
    for k in range(4):
        assert nx.is_connected(unit_graph(bu.units, np.flatnonzero(a == k)))


def test_infeasible_requests_name_the_constraint(grid_units: beats.BeatUnits) -> None:
    with pytest.raises(InfeasibleError, match=r"Beat count: 25 beats .* only 24 street units"):
        beats.partition(grid_units, 25)
    none = np.zeros(len(grid_units), dtype=bool)
    with pytest.raises(InfeasibleError, match="Station constraint: no street"):
        beats.partition(grid_units, 2, anchor=none)
    two = none.copy()
    two[[0, 1]] = True
    with pytest.raises(InfeasibleError, match=r"only 2 street units .* 3 beats"):
        beats.partition(grid_units, 3, anchor=two)
    G = grid_graph(3)
    inc = incidents_on(_plain_units(G), {0: [5.0]})
    with pytest.raises(InfeasibleError, match=r"Empty shift: no incident .* 20:00-22:00"):
        beats.build_units(inc, G, shift="20:00-22:00")


def test_station_constraint_every_beat_reaches_the_station() -> None:
    net = grid_network(4)
    G = net.walk
    bu = beats.build_units(
        incidents_on(_plain_units(G), {i: [10.0] for i in range(24)}), G, unit_length=100.0
    )
    # station at the grid's corner node 0; 100 m at 30 km/h = 12 s per block
    lonlat = gpd.GeoSeries([shapely.Point(X0, Y0)], crs=CRS).to_crs(4326).iloc[0]
    anchor = beats.station_anchor(bu, net, (lonlat.x, lonlat.y), max_minutes=0.25, mode="vehicle")
    # nodes within 15 s: 0, 1 and 4 -> units touching them
    reach = {0, 1, 4}
    expected = [bool({u, v} & reach) for u, v in zip(bu.units["u"], bu.units["v"], strict=True)]
    assert anchor.tolist() == expected
    labels = beats.partition(bu, 3, seed=0, anchor=anchor)
    for b in range(3):
        assert anchor[labels == b].any()
        assert nx.is_connected(unit_graph(bu.units, np.flatnonzero(labels == b)))
    with pytest.raises(InfeasibleError, match="Station constraint"):
        beats.partition(bu, 7, anchor=anchor)  # only 6 units touch nodes 0, 1, 4
    with pytest.raises(InfeasibleError, match="km from the nearest vehicle street"):
        beats.station_anchor(bu, net, (lonlat.x + 1.0, lonlat.y), max_minutes=5)
    # minutes to each unit's nearer end: 12 s per block from node 0
    minutes = beats.station_minutes(bu, net, (lonlat.x, lonlat.y), mode="vehicle")
    hops = {r * 4 + c: r + c for r in range(4) for c in range(4)}
    expected_min = [
        min(hops[u], hops[v]) * 0.2 for u, v in zip(bu.units["u"], bu.units["v"], strict=True)
    ]
    assert minutes == pytest.approx(expected_min)
    plan = beats.plan_beats(bu, 3, anchor=anchor, minutes=minutes)
    per_beat = plan.summary["station_minutes"]
    for b in range(3):
        assert per_beat[str(b + 1)] == pytest.approx(minutes[plan.labels == b].min(), abs=0.01)
        assert per_beat[str(b + 1)] <= 0.25  # the station reaches every beat in time
    assert all(plan.summary["station_reachable"].values())
    assert "station reaches every beat" in plan.summary["station_rule"]


def test_reported_method_is_the_one_that_ran() -> None:
    net = grid_network(4)
    G = net.walk
    bu = beats.build_units(
        incidents_on(_plain_units(G), {i: [10.0] for i in range(24)}), G, unit_length=100.0
    )
    lonlat = gpd.GeoSeries([shapely.Point(X0, Y0)], crs=CRS).to_crs(4326).iloc[0]
    anchor = beats.station_anchor(bu, net, (lonlat.x, lonlat.y), max_minutes=0.25)
    # premise: SKATER's three regions do not each reach the corner station
    skater = beats._skater(bu, 3, bu.workload, seed=0)
    assert not (np.bincount(skater[anchor], minlength=3) > 0).all()
    plan = beats.plan_beats(bu, 3, method="skater", anchor=anchor)
    assert plan.summary["method"] == "grow"
    assert plan.summary["method_requested"] == "skater"
    plan = beats.plan_beats(bu, 3, method="skater")
    assert plan.summary["method"] == "skater"
    assert "method_requested" not in plan.summary
    plan = beats.plan_beats(bu, 3)
    assert plan.summary["method"] in ("power", "pmedian")
    assert plan.summary["starts_tried"] == ["power", "pmedian"]


def test_existing_beats_are_scored_and_units_changed_counted(
    grid_units: beats.BeatUnits, tmp_path: Path
) -> None:
    # two existing beats: west half and east half (split at x = 150 m)
    west = shapely.box(X0 - 50, Y0 - 50, X0 + 150, Y0 + 350)
    east = shapely.box(X0 + 150, Y0 - 50, X0 + 350, Y0 + 350)
    polys = gpd.GeoDataFrame({"beat_id": [7, 3]}, geometry=[west, east], crs=CRS)
    path = tmp_path / "today.geojson"
    polys.to_crs(4326).to_file(path, driver="GeoJSON")
    labels, _geoms, ids = beats.existing_labels(grid_units, path)
    assert ids == [3, 7]  # ordered by beat_id
    mids = grid_units.midpoints
    assert np.array_equal(labels, np.where(mids[:, 0] > X0 + 150, 0, 1))
    plan = beats.plan_beats(grid_units, 2, existing=path)
    ex = plan.summary["existing"]
    assert ex["n_beats"] == 2
    assert sum(ex["workload"].values()) == 240.0
    changed = int((plan.labels != labels).sum())
    assert plan.summary["units_changed"] == changed
    assert plan.summary["imbalance"] <= ex["imbalance"] + 1e-9
    # started from the existing beats, and says so
    assert plan.summary["method"] == "existing"
    assert plan.summary["method_requested"] == "auto"


def test_kmeans_baseline_labels_every_unit() -> None:
    G = grid_graph(4)
    # three 10-minute calls at each of four points: k-means centres land on them
    spots = np.array([(20.0, 30.0), (270.0, 10.0), (35.0, 260.0), (290.0, 280.0)])
    rows = [
        {
            "received_at": pd.Timestamp(2025, 3, 1 + k, 10),
            "service_minutes": 10.0,
            "geometry": shapely.Point(X0 + x, Y0 + y),
        }
        for x, y in spots
        for k in range(3)
    ]
    inc = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=CRS)
    bu = beats.build_units(inc, G, unit_length=100.0)
    labels = beats.kmeans_baseline(bu, 4, seed=0)
    assert np.array_equal(labels, beats.kmeans_baseline(bu, 4, seed=0))
    # each unit goes to the nearest spot (no ties: the nearest is >= 1.5 m nearer)
    where = spots + np.array([X0, Y0])
    d = np.hypot(*(bu.midpoints[:, None, :] - where[None, :, :]).transpose(2, 0, 1))
    nearest = d.argmin(axis=1)
    groups = {frozenset(np.flatnonzero(labels == b)) for b in range(4)}
    assert groups == {frozenset(np.flatnonzero(nearest == s)) for s in range(4)}
    assert sorted(np.bincount(labels, minlength=4).tolist()) == [5, 5, 6, 8]
    # every call is snapped to a unit of its own spot's beat: 30 minutes each
    table, summary = beats.score_beats(bu, labels, 4)
    assert sorted(table["workload"].tolist()) == [30.0, 30.0, 30.0, 30.0]
    assert summary["imbalance"] == 0.0
    for b in range(4):
        members = np.flatnonzero(labels == b)
        connected = nx.is_connected(unit_graph(bu.units, members))
        assert table["contiguous"].iloc[b] == connected


# --------------------------------------------------------------------------- #
# roster and shift assignment
# --------------------------------------------------------------------------- #
def beat_table(loads: list[float], *, animal: list[float] | None = None) -> pd.DataFrame:
    """Beats whose whole workload falls in 08:00-09:00 (one hour = 4 bins)."""
    rows = []
    for b, load in enumerate(loads, start=1):
        prof = np.zeros(beats.BIN_MINUTES and 1440 // beats.BIN_MINUTES)
        prof[32:36] = load / 4.0  # 08:00-09:00
        rows.append(
            {
                "beat_id": b,
                "workload": load,
                "street_km": float(b),
                "animal_workload": (animal or [0.0] * len(loads))[b - 1],
                "daily_profile": json.dumps(prof.tolist()),
            }
        )
    return pd.DataFrame(rows)


def test_expected_workload_sums_the_shift_bins() -> None:
    table = beat_table([40.0, 80.0])
    assert beats.expected_workload(table, "08:00-16:00").tolist() == [40.0, 80.0]
    assert beats.expected_workload(table, "08:30-16:00").tolist() == [20.0, 40.0]
    assert beats.expected_workload(table, "09:00-08:00").tolist() == [0.0, 0.0]


def test_assign_covers_busiest_beats_first_and_reports_uncovered() -> None:
    table = beat_table([30.0, 90.0, 60.0, 10.0])
    roster = pd.DataFrame(
        {
            "cso_id": ["a", "b", "c", "z"],
            "shift": ["08:00-16:00", "8:00-16:00", "08:00-16:00", "16:00-00:00"],
            "mode": ["foot", "vehicle", "foot", "foot"],
            "skills": ["", "", "", ""],
        }
    )
    out, summary = beats.assign_shift(table, roster, shift="08:00-16:00")
    assert sorted(out["beat_id"].tolist()) == [1, 2, 3]
    assert summary["uncovered_beats"] == [4]
    assert summary["uncovered_workload"] == 10.0
    assert set(out["status"]) == {"assigned"}
    assert "z" not in set(out["cso_id"])
    # the vehicle CSO takes the beat with the most street km among those covered
    assert out.set_index("cso_id").loc["b", "beat_id"] == 3
    row = out.set_index("cso_id").loc["b"]
    assert row["expected_workload"] == 60.0


def test_assign_doubles_up_then_leaves_extras_unassigned() -> None:
    table = beat_table([100.0, 40.0])
    roster = pd.DataFrame(
        {
            "cso_id": [f"c{i}" for i in range(5)],
            "shift": ["08:00-16:00"] * 5,
            "mode": ["foot"] * 5,
            "skills": ["", "", "", "", ""],
        }
    )
    out, summary = beats.assign_shift(table, roster, shift="08:00-16:00", max_per_beat=2)
    counts = out["beat_id"].value_counts(dropna=True).to_dict()
    assert counts == {1: 2, 2: 2}
    assert (out["status"] == "unassigned").sum() == 1
    assert out["beat_id"].isna().sum() == 1
    assert summary["uncovered_beats"] == []


def test_animal_skill_goes_to_the_animal_beat() -> None:
    table = beat_table([50.0, 50.0], animal=[0.0, 40.0])
    roster = pd.DataFrame(
        {
            "cso_id": ["dog", "plain"],
            "shift": ["08:00-16:00"] * 2,
            "mode": ["foot", "foot"],
            "skills": ["animal_control", ""],
        }
    )
    out, _ = beats.assign_shift(table, roster, shift="08:00-16:00")
    assert out.set_index("cso_id").loc["dog", "beat_id"] == 2


def test_assign_empty_shift_is_infeasible() -> None:
    roster = beats.sample_roster(4, seed=0, shifts=("08:00-16:00",))
    with pytest.raises(InfeasibleError, match="Empty shift: nobody on the roster works 20:00"):
        beats.assign_shift(beat_table([1.0]), roster, shift="20:00-04:00")


def test_assign_warns_when_the_beats_were_balanced_for_another_shift() -> None:
    G = grid_graph(3)
    units = _plain_units(G)
    rows = []
    for day in range(1, 5):  # 4 days: a day call on unit 0, an evening call on unit 11
        for uid, hour, minutes in ((0, 10, 30.0), (11, 18, 20.0)):
            mid = units.geometry.iloc[uid].interpolate(0.5, normalized=True)
            at = pd.Timestamp(2025, 3, day, hour)
            rows.append({"received_at": at, "service_minutes": minutes, "geometry": mid})
    inc = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=CRS)
    bu = beats.build_units(inc, G, unit_length=100.0, shift="08:00-16:00")
    assert bu.workload.sum() == 4 * 30.0  # balanced on the day shift's work only
    assert bu.profile.sum() == pytest.approx((4 * 30.0 + 4 * 20.0) / 4)  # whole day, per day
    plan = beats.plan_beats(bu, 2)
    assert set(plan.beats["shift"]) == {"08:00-16:00"}
    roster = beats.sample_roster(2, seed=0, shifts=("16:00-00:00",))
    out, summary = beats.assign_shift(plan.beats, roster, shift="16:00-00:00")
    assert len(summary["warnings"]) == 1
    assert "balanced for shift 08:00-16:00, not 16:00-00:00" in summary["warnings"][0]
    # the evening's 20 minutes a day are expected in the beat holding unit 11
    evening = int(plan.labels[11]) + 1
    assert summary["expected_workload"][str(evening)] == 20.0
    assert sum(summary["expected_workload"].values()) == 20.0
    assert out.set_index("cso_id")["beat_id"].notna().all()
    day, _ = beats.assign_shift(
        plan.beats, beats.sample_roster(1, seed=0, shifts=("08:00-16:00",)), shift="08:00-16:00"
    )
    assert day["expected_workload"].tolist() == [30.0]
    night = beats.sample_roster(1, seed=0, shifts=("01:00-05:00",))
    with pytest.raises(InfeasibleError, match=r"Empty shift: the beats' daily profiles hold no"):
        beats.assign_shift(plan.beats, night, shift="01:00-05:00")


def test_read_roster_names_file_row_column_value(tmp_path: Path) -> None:
    good = (
        "cso_id,shift,mode,skills\n"
        "A1,08:00-16:00,Foot,animal_control; first_aid\n"
        "B2,16:00-00:00,vehicle,\n"
    )
    roster = beats.read_roster(io.StringIO(good))
    assert roster.to_dict("records") == [
        {
            "cso_id": "A1",
            "shift": "08:00-16:00",
            "mode": "foot",
            "skills": "animal_control;first_aid",
        },
        {"cso_id": "B2", "shift": "16:00-00:00", "mode": "vehicle", "skills": ""},
    ]
    bad = tmp_path / "roster.csv"
    bad.write_text(good + "C3,08:00-16:00,bicycle,\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"roster.csv' row 4, column mode: 'bicycle'"):
        beats.read_roster(bad)
    bad.write_text(good + "C3,8-16,foot,\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"row 4, column shift: '8-16'"):
        beats.read_roster(bad)
    bad.write_text("cso_id,mode\nA,foot\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="lacks the column"):
        beats.read_roster(bad)


def test_sample_roster_is_seeded() -> None:
    a = beats.sample_roster(10, seed=3)
    assert a.equals(beats.sample_roster(10, seed=3))
    assert list(a.columns) == ["cso_id", "shift", "mode", "skills"]
    assert set(a["mode"]) <= {"foot", "vehicle"}
    assert a["shift"].value_counts().to_dict() == {"08:00-16:00": 5, "16:00-00:00": 5}


# --------------------------------------------------------------------------- #
# the sample city, end to end
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def helsinki_geocoded(
    helsinki_net: StreetNetwork, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("beats") / "geocoded.gpkg"
    pipeline.geocode_file(
        Path(__file__).resolve().parents[1] / "data" / "helsinki_cad_2025.csv",
        out,
        network=helsinki_net,
        profile="cso_geo_sample",
    )
    return out


@pytest.mark.parametrize("n", [4, 12])
def test_helsinki_beats_balanced_contiguous_and_written(
    helsinki_net: StreetNetwork, helsinki_geocoded: Path, tmp_path: Path, n: int
) -> None:
    out = tmp_path / "beats.gpkg"
    _plan, paths = pipeline.beats_file(helsinki_geocoded, out, network=helsinki_net, n=n, seed=2)
    summary = json.loads(paths["summary"].read_text())
    assert paths["summary"] == tmp_path / "beats.json"
    assert summary["n_beats"] == n
    assert summary["seed"] == 2
    assert summary["method"] in ("power", "pmedian")
    assert summary["starts_tried"] == ["power", "pmedian"]
    assert summary["tunnel_edges_left_out"] > 0  # central Helsinki's service tunnels
    assert summary["imbalance"] <= 0.05
    assert set(summary["contiguous"]) == {str(b) for b in range(1, n + 1)}
    assert all(summary["contiguous"].values())
    loads = np.array([summary["workload"][str(b)] for b in range(1, n + 1)])
    assert summary["imbalance"] == pytest.approx(loads.max() / loads.mean() - 1.0, abs=1e-5)
    for b in summary["compactness"].values():
        assert 0.0 < b["polsby_popper"] <= 1.0
        assert b["max_network_km"] > 0.0
    # better balanced than the k-means baseline, which is not even contiguous
    assert summary["baseline"]["imbalance"] > summary["imbalance"]
    layers = set(pyogrio.list_layers(out)[:, 0])
    assert layers == {"beats", "units"}
    beat_layer = gpd.read_file(out, layer="beats")
    unit_layer = gpd.read_file(out, layer="units")
    assert beat_layer["beat_id"].tolist() == list(range(1, n + 1))
    for col in ("workload", "street_km", "units", "polsby_popper", "max_network_km", "contiguous"):
        assert col in beat_layer.columns
    assert beat_layer["units"].sum() == len(unit_layer)
    assert unit_layer["workload"].sum() == pytest.approx(beat_layer["workload"].sum(), rel=1e-9)
    # beats never overlap
    geoms = beat_layer.geometry.to_numpy()
    overlap = sum(
        shapely.intersection(geoms[i], geoms[j]).area for i in range(n) for j in range(i + 1, n)
    )
    assert overlap < 1.0
    # graph check of contiguity on the written units: pieces touching end to end;
    # besides its main piece a beat holds only the isolated pieces it reports as linked
    labels = unit_layer["beat_id"].to_numpy() - 1
    assert_contiguous_along_streets(unit_layer, labels, summary["linked_units"])
    assert sum(summary["linked_units"].values()) > 0  # Helsinki has stray pieces
    assert beat_layer["linked_units"].tolist() == [
        summary["linked_units"][str(b)] for b in range(1, n + 1)
    ]


def test_helsinki_same_seed_same_beats(
    helsinki_net: StreetNetwork, helsinki_geocoded: Path, tmp_path: Path
) -> None:
    a, pa = pipeline.beats_file(helsinki_geocoded, tmp_path / "a.gpkg", network=helsinki_net, n=6)
    b, pb = pipeline.beats_file(helsinki_geocoded, tmp_path / "b.gpkg", network=helsinki_net, n=6)
    assert np.array_equal(a.labels, b.labels)
    assert pa["summary"].read_bytes() == pb["summary"].read_bytes()


@pytest.mark.parametrize("n", [4, 8])
def test_helsinki_beats_more_compact_than_the_kmeans_baseline(
    helsinki_net: StreetNetwork, helsinki_geocoded: Path, n: int
) -> None:
    units = beats.build_units(pipeline.read_geocoded(helsinki_geocoded), helsinki_net)
    labels = beats.partition(units, n, seed=0)
    _, s = beats.score_beats(units, labels, n)
    _, base = beats.score_beats(units, beats.kmeans_baseline(units, n, seed=0), n)
    assert s["all_contiguous"]
    assert s["imbalance"] <= 0.05
    # same polygons (cells of the same units) for both, so the same yardstick
    assert s["mean_polsby_popper"] > base["mean_polsby_popper"]
    # and the longest trip between two points of a beat is shorter (0.96-1.50 km against
    # 1.66-2.48 km measured for N = 4..12)
    assert s["max_network_km"] < base["max_network_km"]
    # the optimiser's shapes are the reported ones
    ref = beats._Refiner(units, labels, n, tolerance=0.03, anchor=None, original=None)
    pp = [beats._polsby_popper(g) for g in beats.beat_polygons(units, labels, n)]
    assert 1.0 / beats._inverse_pp(ref.perim, ref.area) == pytest.approx(pp, rel=1e-6)


def baltimore_incidents(net: StreetNetwork) -> gpd.GeoDataFrame:
    """A year of generated incidents at their true positions."""
    sample = synthetic.generate_cad(net, months=12, seed=1)
    located = sample.truth["lon"].notna().to_numpy()
    cad, truth = sample.cad.loc[located], sample.truth.loc[located]
    return gpd.GeoDataFrame(
        {
            "received_at": pd.to_datetime(cad["received_at"]).to_numpy(),
            "call_type_code": cad["call_type_code"].to_numpy(),
            "category": truth["category"].to_numpy(),
        },
        geometry=gpd.points_from_xy(truth["lon"], truth["lat"]),
        crs="EPSG:4326",
    ).to_crs(net.crs)


@pytest.mark.shared_data
def test_baltimore_beats_contiguous_balanced_and_more_compact(shared_data: Path) -> None:
    net = network.network_from_file(shared_data / "baltimore.osm.pbf")
    units = beats.build_units(baltimore_incidents(net), net)
    assert len(units) > 14_000
    for n in (5, 6):
        labels = beats.partition(units, n, seed=0)
        _, s = beats.score_beats(units, labels, n)
        _, base = beats.score_beats(units, beats.kmeans_baseline(units, n, seed=0), n)
        load = np.bincount(labels, weights=units.workload, minlength=n)
        assert load.sum() == pytest.approx(units.workload.sum())
        assert load.max() / load.mean() - 1.0 <= 0.05
        assert s["imbalance"] == pytest.approx(load.max() / load.mean() - 1.0, abs=1e-6)
        assert_contiguous_along_streets(units.units, labels, s["linked_units"])
        assert s["mean_polsby_popper"] > base["mean_polsby_popper"]
        assert s["max_network_km"] < base["max_network_km"]


def test_cli_beats_then_assign(helsinki_geocoded: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "beats.gpkg"
    res = runner.invoke(
        app, ["beats", str(helsinki_geocoded), "--osm", "helsinki", "--n", "5", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "k-means baseline" in res.output
    roster = tmp_path / "roster.csv"
    people = beats.sample_roster(8, seed=1)
    people.loc[0, "cso_id"] = "[bold]CSO[/] 1"  # roster text is data, never Rich markup
    people.to_csv(roster, index=False)
    csv_out = tmp_path / "assignments.csv"
    res = runner.invoke(
        app,
        [
            "assign",
            "--beats",
            str(out),
            "--roster",
            str(roster),
            "--shift",
            "08:00-16:00",
            "--out",
            str(csv_out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "[bold]CSO[/] 1" in res.output
    table = pd.read_csv(csv_out)
    assert list(table.columns) == [
        "cso_id",
        "shift",
        "mode",
        "beat_id",
        "expected_workload",
        "skills",
        "status",
    ]
    assert len(table) == 4
    assert (table["status"] == "assigned").all()
    summary = json.loads((tmp_path / "assignments.json").read_text())
    assert len(summary["uncovered_beats"]) == 1  # 4 CSOs, 5 beats
    busiest = max(summary["expected_workload"], key=summary["expected_workload"].get)
    assert int(busiest) in set(table["beat_id"])
    res = runner.invoke(
        app,
        ["beats", str(helsinki_geocoded), "--osm", "helsinki", "--n", "99999", "--out", str(out)],
    )
    assert res.exit_code == 2
    assert "Beat count" in res.output


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (3, "3"),
        (3.0, "3"),
        ("3", "3"),
        (" 3.0 ", "3"),
        (np.int64(12), "12"),
        (-1, "-1"),
        ("B-7", "B-7"),
        (" North ", "North"),
        (3.5, "3.5"),
        (float("nan"), "nan"),
    ],
)
def test_beat_key_treats_file_forms_of_one_id_alike(value: object, key: str) -> None:
    assert beats.beat_key(value) == key


def test_cli_beats_exposure_adds_minutes_per_street_km(
    helsinki_geocoded: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    totals = {}
    for per_km in (0, 120):
        out = tmp_path / f"beats{per_km}.gpkg"
        args = ["beats", str(helsinki_geocoded), "--osm", "helsinki", "--n", "4"]
        args += ["--exposure-minutes-per-km", str(per_km), "--out", str(out)]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        layer = gpd.read_file(out, layer="beats")
        totals[per_km] = (float(layer["workload"].sum()), float(layer["street_km"].sum()))
        summary = json.loads(out.with_suffix(".json").read_text())
        assert summary["exposure_minutes_per_km"] == per_km
        assert summary["imbalance"] <= 0.05
    (calls, km), (with_exposure, km2) = totals[0], totals[120]
    assert km2 == pytest.approx(km)
    assert with_exposure - calls == pytest.approx(120.0 * km, rel=1e-3)
    res = runner.invoke(
        app,
        ["beats", str(helsinki_geocoded), "--osm", "helsinki", "--exposure-minutes-per-km", "-1",
         "--out", str(tmp_path / "x.gpkg")],
    )  # fmt: skip
    assert res.exit_code == 2
