"""Patrol routes: orienteering optimum, directed drive paths, postman coverage, GPX and sheets."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import geopandas as gpd
import gpxpy
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
import xmlschema
from pyproj import Transformer
from typer.testing import CliRunner

from cso_geo import hotspots as hs
from cso_geo import maps, pipeline, routes
from cso_geo._errors import InfeasibleError, InputFileError
from cso_geo.cli import app
from cso_geo.network import StreetNetwork

GPX_XSD = Path(__file__).parent / "data" / "gpx11.xsd"
SHIFT = "2025-12-01 08:00-16:00"


# --------------------------------------------------------------------------- #
# fixtures: a beat of central Helsinki and hand-made hotspots in it
# --------------------------------------------------------------------------- #
def _profile(hours: list[int]) -> str:
    prof = np.zeros((7, 24), dtype=int)
    prof[:, hours] = 2
    return json.dumps(prof.tolist(), separators=(",", ":"))


@pytest.fixture(scope="module")
def beat(helsinki_net: StreetNetwork) -> shapely.Polygon:
    """A 700 m disc around the centre of the drive graph's nodes."""
    xy = np.array([(d["x"], d["y"]) for _, d in helsinki_net.drive.nodes(data=True)])
    return shapely.Point(xy.mean(axis=0)).buffer(700)


@pytest.fixture(scope="module")
def units(helsinki_net: StreetNetwork) -> gpd.GeoDataFrame:
    return hs.street_units(helsinki_net.walk, unit_length=100).units


def make_hotspots(units: gpd.GeoDataFrame, area: shapely.Geometry, n: int) -> gpd.GeoDataFrame:
    """`n` street pieces in `area` spread over it, hottest first, in the hotspots' schema."""
    mid = units.geometry.interpolate(0.5, normalized=True)
    inside = units[mid.within(area).to_numpy() & units["name"].astype(bool).to_numpy()]
    step = max(1, len(inside) // n)
    sel = inside.sort_values("unit_id").iloc[::step].head(n).reset_index(drop=True)
    return gpd.GeoDataFrame(
        {
            "rank": np.arange(1, len(sel) + 1),
            "score": np.round(np.linspace(20.0, 2.0, len(sel)), 3),
            "count": np.arange(len(sel), 0, -1) * 3,
            "unit_id": sel["unit_id"].to_numpy(),
            "name": sel["name"].to_numpy(),
            "highway": sel["highway"].to_numpy(),
            "top_call_types": ["NOISE:5;LOIT:2"] * len(sel),
            "peak_hours": ["09:00-12:00"] * len(sel),
            "profile": [_profile([9, 10, 11])] * len(sel),
        },
        geometry=sel.geometry.to_numpy(),
        crs=units.crs,
    )


@pytest.fixture(scope="module")
def spots(units: gpd.GeoDataFrame, beat: shapely.Polygon) -> gpd.GeoDataFrame:
    return make_hotspots(units, beat, 10)


@pytest.fixture(scope="module")
def drive_tg(helsinki_net: StreetNetwork) -> routes.TravelGraph:
    return routes.TravelGraph(helsinki_net.drive)


def check_schedule(route: routes.Route, *, dwell: float) -> None:
    """Times run forward, dwell within bounds, and the route fits the shift."""
    stops = route.stops
    assert stops[0].kind == "start"
    assert stops[-1].kind == "end"
    assert stops[0].depart == route.shift.start
    for a, b in itertools.pairwise(stops):
        assert a.arrive <= a.depart <= b.arrive
    for s in stops[1:-1]:
        assert s.kind == "stop"
        assert routes.DWELL_BOUNDS[0] <= s.dwell_min <= routes.DWELL_BOUNDS[1]
        assert s.dwell_min == dwell
    assert stops[-1].arrive <= route.shift.end
    assert route.duration_min <= route.shift.minutes + 1e-9
    moving = route.duration_min - route.dwell_min
    moving -= sum(s.wait_min + s.break_min for s in stops)
    assert moving == pytest.approx(route.travel_min, abs=0.05)


# --------------------------------------------------------------------------- #
# shifts
# --------------------------------------------------------------------------- #
def test_shift_parses_and_wraps_midnight() -> None:
    sh = routes.parse_route_shift("2025-12-01 22:00-06:00")
    assert sh.start == pd.Timestamp("2025-12-01 22:00")
    assert sh.end == pd.Timestamp("2025-12-02 06:00")
    assert sh.minutes == 480
    assert sh.hours() == [22, 23, 0, 1, 2, 3, 4, 5]
    assert sh.label == "2025-12-01_2200-0600"
    assert routes.route_id(3, sh, "vehicle") == "beat-3_2025-12-01_2200-0600_drive"


@pytest.mark.parametrize("text", ["2025-12-01 08:00-08:00", "2025-12-01 8-16", "08:00-16:00"])
def test_bad_shift_is_a_clear_error(text: str) -> None:
    with pytest.raises(InfeasibleError, match=r"zero length|YYYY-MM-DD HH:MM-HH:MM"):
        routes.parse_route_shift(text)


# --------------------------------------------------------------------------- #
# orienteering: exact optimum against brute force
# --------------------------------------------------------------------------- #
def brute_force(
    T: np.ndarray,
    risk: np.ndarray,
    service: np.ndarray,
    budget: float,
    windows: np.ndarray | None = None,
    required: np.ndarray | None = None,
) -> float:
    """Best risk over every ordered subset of visits (waiting allowed at windows)."""
    n = len(risk)
    lo = windows[:, 0] if windows is not None else np.zeros(n)
    hi = windows[:, 1] if windows is not None else np.full(n, np.inf)
    req = set(np.flatnonzero(required)) if required is not None else set()
    best = -1.0 if T[0, n + 1] > budget else 0.0 if not req else -1.0
    for k in range(1, n + 1):
        for perm in itertools.permutations(range(n), k):
            if not req <= set(perm):
                continue
            t, prev, ok = 0.0, 0, True
            for j in perm:
                t = max(t + T[prev, j + 1], lo[j])
                if t > hi[j] + 1e-9:
                    ok = False
                    break
                t += service[j]
                prev = j + 1
            if ok and t + T[prev, n + 1] <= budget + 1e-9:
                best = max(best, float(risk[list(perm)].sum()))
    return best


def random_instance(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Asymmetric travel times (one-way detours) between random points."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 2000, size=(n + 2, 2))
    T = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1)) / 1.4
    T *= rng.uniform(1.0, 1.6, size=T.shape)  # a different detour each way
    np.fill_diagonal(T, 0.0)
    # keep the triangle inequality, as shortest-path times have it
    for k in range(n + 2):
        T = np.minimum(T, T[:, [k]] + T[[k], :])
    risk = np.round(rng.uniform(1, 10, n), 2)
    service = np.full(n, 600.0)
    budget = float(rng.uniform(0.3, 0.6) * (T.sum() / (n + 2) + service.sum()))
    return T, risk, service, budget


def _value(order: list[int] | None, risk: np.ndarray) -> float:
    return -1.0 if order is None else float(risk[order].sum())


def _fits(order: list[int], T: np.ndarray, service: np.ndarray, budget: float) -> bool:
    n = len(service)
    seq = [0, *(j + 1 for j in order), n + 1]
    total = sum(T[a, b] for a, b in itertools.pairwise(seq)) + service[order].sum()
    return bool(total <= budget + 1e-6)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_exact_solver_matches_brute_force(seed: int) -> None:
    T, risk, service, budget = random_instance(seed, 7)
    order = routes.solve_orienteering(T, risk, service, budget, method="exact")
    assert order is not None
    assert _fits(order, T, service, budget)
    assert len(set(order)) == len(order)
    assert _value(order, risk) == pytest.approx(brute_force(T, risk, service, budget))
    # not everything fits, or the test would be trivial
    assert len(order) < len(risk)


def test_ortools_is_near_the_optimum_on_small_instances() -> None:
    """Above EXACT_MAX the tour uses OR-Tools; on small instances it nearly always hits
    the brute-force optimum (and never falls far below it)."""
    ratios = []
    for seed in range(5, 9):
        T, risk, service, budget = random_instance(seed, 8)
        order = routes.solve_orienteering(T, risk, service, budget, method="ortools")
        assert order is not None
        assert _fits(order, T, service, budget)
        ratios.append(_value(order, risk) / brute_force(T, risk, service, budget))
    assert min(ratios) >= 0.97
    assert sum(r == pytest.approx(1.0) for r in ratios) >= 3


def test_exact_solver_with_windows_and_required_visits() -> None:
    T, risk, service, budget = random_instance(11, 6)
    windows = np.column_stack([np.zeros(6), np.full(6, np.inf)])
    windows[0] = (budget * 0.5, budget * 0.7)  # visit 0 only in the middle of the shift
    required = np.zeros(6, dtype=bool)
    required[int(np.argmin(risk))] = True  # the least valuable visit is required
    order = routes.solve_orienteering(
        T, risk, service, budget, windows=windows, required=required, method="exact"
    )
    want = brute_force(T, risk, service, budget, windows, required)
    assert want > 0
    assert order is not None
    assert int(np.argmin(risk)) in order
    assert _value(order, risk) == pytest.approx(want)


def test_orienteering_reports_an_impossible_budget() -> None:
    T, risk, service, _ = random_instance(1, 4)
    assert routes.solve_orienteering(T, risk, service, T[0, 5] / 2) is None
    assert routes.solve_orienteering(T, risk, service, T[0, 5] / 2, method="ortools") is None


# --------------------------------------------------------------------------- #
# travel times
# --------------------------------------------------------------------------- #
def test_travel_matrix_equals_networkx_on_the_directed_drive_graph(
    helsinki_net: StreetNetwork, drive_tg: routes.TravelGraph
) -> None:
    G = helsinki_net.drive
    oneway = [(u, v) for u, v, d in G.edges(data=True) if d.get("oneway") and not G.has_edge(v, u)]
    assert oneway, "the sample drive graph has one-way streets"
    sources = sorted({u for u, _ in oneway[:5]})
    dist, _ = drive_tg.shortest([drive_tg.index[s] for s in sources])
    for i, s in enumerate(sources):
        want = nx.single_source_dijkstra_path_length(G, s, weight="travel_time")
        got = {drive_tg.nodes[j]: dist[i, j] for j in range(len(drive_tg.nodes))}
        assert set(want) == {n for n, d in got.items() if np.isfinite(d)}
        for node, d in want.items():
            assert got[node] == pytest.approx(d, abs=1e-4)
    # against the one-way: going back costs more than the edge itself
    u, v = oneway[0]
    d_uv = drive_tg.shortest([drive_tg.index[u]])[0][0, drive_tg.index[v]]
    d_vu = drive_tg.shortest([drive_tg.index[v]])[0][0, drive_tg.index[u]]
    edge_t = min(d["travel_time"] for d in G[u][v].values())
    assert d_uv == pytest.approx(edge_t, abs=1e-4)
    assert d_vu > edge_t


# --------------------------------------------------------------------------- #
# hotspot tours on the sample city
# --------------------------------------------------------------------------- #
def test_drive_tour_follows_directed_edges_and_fits_the_shift(
    helsinki_net: StreetNetwork,
    spots: gpd.GeoDataFrame,
    beat: shapely.Polygon,
    drive_tg: routes.TravelGraph,
) -> None:
    route = routes.hotspot_tour(
        spots,
        network=helsinki_net,
        shift="2025-12-01 08:00-10:00",
        beat=beat,
        beat_id=4,
        mode="drive",
        dwell=12,
        travel=drive_tg,
    )
    G = helsinki_net.drive
    nodes = route.path_nodes
    assert len(nodes) > 2
    for u, v in itertools.pairwise(nodes):
        assert G.has_edge(u, v), f"{u}->{v} is not a drive edge in that direction"
    for st in route.steps:  # each piece of geometry runs from u to v
        x, y = st.geometry.coords[0]
        assert math.hypot(x - G.nodes[st.u]["x"], y - G.nodes[st.u]["y"]) < 1.0
    check_schedule(route, dwell=12)
    assert route.feasible
    assert route.route_id == "beat-4_2025-12-01_0800-1000_drive"
    n_stops = len(route.stops) - 2
    assert 0 < n_stops < len(spots)  # 2 hours cannot hold all 10 stops
    assert route.risk_covered == pytest.approx(sum(s.risk for s in route.stops))
    assert route.risk_available == pytest.approx(spots["score"].sum())
    assert route.distance_m == pytest.approx(
        sum(G.edges[s.u, s.v, 0]["length"] for s in route.steps), rel=0.2
    )


def test_drive_tour_covers_the_exact_optimum(
    helsinki_net: StreetNetwork,
    spots: gpd.GeoDataFrame,
    beat: shapely.Polygon,
    drive_tg: routes.TravelGraph,
) -> None:
    """The tour's covered risk equals brute force over a matrix built with networkx."""
    shift = routes.parse_route_shift("2025-12-01 08:00-09:30")
    route = routes.hotspot_tour(
        spots.head(7),
        network=helsinki_net,
        shift=shift,
        beat=beat,
        mode="drive",
        revisit_every=None,
        travel=drive_tg,
    )
    G = helsinki_net.drive
    mids = spots.head(7).geometry.interpolate(0.5, normalized=True)
    stop_nodes = [drive_tg.nodes[drive_tg.snap(p.x, p.y)[0]] for p in mids]
    c = beat.representative_point()
    start = drive_tg.nodes[drive_tg.snap(c.x, c.y)[0]]
    pts = [start, *stop_nodes, start]
    T = np.array(
        [[nx.shortest_path_length(G, a, b, weight="travel_time") for b in pts] for a in pts]
    )
    risk = spots.head(7)["score"].to_numpy(dtype=float)
    want = brute_force(T, risk, np.full(7, 900.0), shift.minutes * 60)
    assert 0 < want < risk.sum()
    assert route.risk_covered == pytest.approx(want)


def test_foot_tour_with_break_and_revisits(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    route = routes.hotspot_tour(
        spots.head(3),
        network=helsinki_net,
        shift=SHIFT,
        beat=beat,
        mode="foot",
        breaks=[routes.Break("12:00", 30)],
        revisit_every=120,
        revisit_top=1,
    )
    check_schedule(route, dwell=15)
    assert route.patrol_min == 450
    stops = route.stops[1:-1]
    assert sum(s.break_min for s in stops) == 30
    brk = next(s for s in stops if s.break_min)
    assert brk.depart - pd.Timedelta(minutes=30) >= pd.Timestamp("2025-12-01 12:00")
    # the hottest hotspot is visited again in each later 2-hour block
    top = [s for s in stops if s.hotspot_rank == 1]
    assert [s.visit for s in top] == [1, 2, 3, 4]
    for s in top[1:]:
        block_start = route.shift.start + pd.Timedelta(minutes=120 * (s.visit - 1))
        assert s.arrive + pd.Timedelta(minutes=s.wait_min) >= block_start
        assert "revisit" in s.reason
    assert route.risk_covered == pytest.approx(
        spots["score"].head(3).sum() + 3 * 0.5 * spots["score"].iloc[0]
    )


def test_avoid_and_require_streets(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    base = routes.hotspot_tour(
        spots, network=helsinki_net, shift="2025-12-01 08:00-10:00", beat=beat, mode="drive"
    )
    used = [s.name for s in base.steps if s.name]
    avoid = max(set(used), key=used.count)
    detour = routes.hotspot_tour(
        spots,
        network=helsinki_net,
        shift="2025-12-01 08:00-10:00",
        beat=beat,
        mode="drive",
        avoid_streets=[avoid.upper()],
    )
    assert avoid not in {s.name for s in detour.steps}
    # the lowest-risk hotspot is skipped in a short shift unless its street is required
    short = "2025-12-01 08:00-09:00"
    plain = routes.hotspot_tour(spots, network=helsinki_net, shift=short, beat=beat, mode="foot")
    last = spots.iloc[-1]
    assert last["rank"] not in {s.hotspot_rank for s in plain.stops}
    forced = routes.hotspot_tour(
        spots,
        network=helsinki_net,
        shift=short,
        beat=beat,
        mode="foot",
        require_streets=[last["name"]],
    )
    assert last["name"] in {s.name for s in forced.stops if s.kind == "stop"}
    check_schedule(forced, dwell=15)
    assert forced.risk_covered <= plain.risk_covered


def test_shift_hours_only_keeps_hotspots_active_in_the_shift(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    night = spots.copy()
    night.loc[night.index[:4], "profile"] = _profile([22, 23])
    sh = routes.parse_route_shift(SHIFT)
    kept = routes.beat_hotspots(night, beat, shift=sh)
    assert sorted(kept["rank"]) == list(range(5, 11))
    route = routes.hotspot_tour(
        night, network=helsinki_net, shift=sh, beat=beat, shift_hours_only=True
    )
    assert {s.hotspot_rank for s in route.stops if s.kind == "stop"} <= set(range(5, 11))


def test_tour_is_deterministic(
    helsinki_net: StreetNetwork, units: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    many = make_hotspots(units, beat, 14)  # above EXACT_MAX with revisits: OR-Tools
    a = routes.hotspot_tour(many, network=helsinki_net, shift=SHIFT, beat=beat, mode="drive")
    b = routes.hotspot_tour(many, network=helsinki_net, shift=SHIFT, beat=beat, mode="drive")
    assert a.extra["solver"] == "ortools"
    assert json.dumps(a.summary()) == json.dumps(b.summary())
    check_schedule(a, dwell=15)


# --------------------------------------------------------------------------- #
# bad requests
# --------------------------------------------------------------------------- #
def test_start_off_the_network_is_a_clear_error(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    with pytest.raises(InfeasibleError, match=r"start point 24\.8000.* m from the nearest street"):
        routes.hotspot_tour(
            spots, network=helsinki_net, shift=SHIFT, beat=beat, start=(24.80, 60.10)
        )
    with pytest.raises(InfeasibleError, match="LON,LAT"):
        routes.hotspot_tour(
            spots, network=helsinki_net, shift=SHIFT, beat=beat, start=(60.1, 124.9)
        )
    with pytest.raises(InfeasibleError, match="Dwell 20"):
        routes.hotspot_tour(spots, network=helsinki_net, shift=SHIFT, beat=beat, dwell=20)
    with pytest.raises(InfeasibleError, match="zero length"):
        routes.hotspot_tour(spots, network=helsinki_net, shift="2025-12-01 08:00-08:00", beat=beat)


def test_beat_without_hotspots_gives_a_documented_degraded_route(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    elsewhere = beat.centroid.buffer(100).difference(
        shapely.union_all(spots.geometry.buffer(60).to_numpy())
    )
    route = routes.hotspot_tour(spots, network=helsinki_net, shift=SHIFT, beat=elsewhere, beat_id=9)
    assert route.feasible
    assert [s.kind for s in route.stops] == ["start", "end"]
    assert route.risk_available == 0
    assert route.risk_covered == 0
    assert any("no hotspots" in w for w in route.warnings)
    routes.route_gpx(route)  # outputs still work for an empty route
    assert "<svg" in routes.route_sheet(route)


def test_unreachable_and_off_graph_hotspots_are_left_out_with_warnings(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    tg = routes.TravelGraph(helsinki_net.drive)
    target = spots.iloc[0]
    mid = target.geometry.interpolate(0.5, normalized=True)
    node = tg.nodes[tg.snap(mid.x, mid.y)[0]]
    p = shapely.Point(helsinki_net.drive.nodes[node]["x"], helsinki_net.drive.nodes[node]["y"])
    far = spots.iloc[[1]].copy()
    far["rank"] = 99
    far["geometry"] = far.geometry.translate(0, 8000)  # in the sea, far from any street
    both = pd.concat([spots, far], ignore_index=True)
    route = routes.hotspot_tour(
        gpd.GeoDataFrame(both, crs=spots.crs),
        network=helsinki_net,
        shift=SHIFT,
        beat=None,
        start=_lonlat(helsinki_net, beat.representative_point()),
        mode="drive",
        avoid_areas=p.buffer(1.0),  # cuts every edge into the stop's node
        revisit_every=None,
    )
    text = " ".join(route.warnings)
    assert "hotspot #99" in text
    assert "from the drive graph" in text
    assert "hotspot #1" in text
    assert "cannot be reached" in text
    assert 1 not in {s.hotspot_rank for s in route.stops}
    assert route.feasible


def test_shift_too_short_to_reach_the_end(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    minx, miny, maxx, maxy = beat.bounds
    route = routes.hotspot_tour(
        spots,
        network=helsinki_net,
        shift="2025-12-01 08:00-08:05",
        beat=beat,
        mode="foot",
        start=_lonlat(helsinki_net, shapely.Point(minx + 300, miny + 300)),
        end=_lonlat(helsinki_net, shapely.Point(maxx - 300, maxy - 300)),
    )
    assert not route.feasible
    assert [s.kind for s in route.stops] == ["start", "end"]
    assert any("more than the 5 min" in w for w in route.warnings)


def _lonlat(net: StreetNetwork, p: shapely.Point) -> tuple[float, float]:
    lon, lat = Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True).transform(p.x, p.y)
    return float(lon), float(lat)


# --------------------------------------------------------------------------- #
# street coverage (postman)
# --------------------------------------------------------------------------- #
def small_network() -> StreetNetwork:
    """A 100 m square with one diagonal (A and C odd) and a far, isolated street."""
    xy = {1: (0, 0), 2: (100, 0), 3: (100, 100), 4: (0, 100), 5: (5000, 0), 6: (5100, 0)}
    G = nx.MultiDiGraph(crs="EPSG:32635")
    for n, (x, y) in xy.items():
        G.add_node(n, x=float(x), y=float(y))
    for k, (u, v) in enumerate([(1, 2), (2, 3), (3, 4), (4, 1), (1, 3), (5, 6)]):
        for a, b, rev in ((u, v, False), (v, u, True)):
            geom = shapely.LineString([xy[a], xy[b]])
            G.add_edge(
                a,
                b,
                key=0,
                length=geom.length,
                travel_time=geom.length / 1.4,
                geometry=geom,
                highway="residential",
                name=f"Street {k}",
                reversed=rev,
                oneway=False,
            )
    empty = gpd.GeoDataFrame(geometry=[], crs="EPSG:32635")
    return StreetNetwork(G, G, empty, empty, "EPSG:32635", "test")


def _lonlat_xy(x: float, y: float) -> tuple[float, float]:
    lon, lat = Transformer.from_crs("EPSG:32635", "EPSG:4326", always_xy=True).transform(x, y)
    return float(lon), float(lat)


@pytest.mark.parametrize(
    ("start", "end", "deadhead"),
    [
        ((0, 0), None, 100 * math.sqrt(2)),
        ((0, 0), (100, 100), 0.0),
        ((100, 0), None, 100 * math.sqrt(2)),
    ],
)
def test_postman_on_a_small_non_eulerian_graph(
    start: tuple[float, float], end: tuple[float, float] | None, deadhead: float
) -> None:
    net = small_network()
    area = shapely.box(-50, -50, 5200, 150)
    route = routes.postman_route(
        net,
        beat=area,
        shift=SHIFT,
        start=_lonlat_xy(*start),
        end=None if end is None else _lonlat_xy(*end),
        margin=10,
    )
    street = 400 + 100 * math.sqrt(2)
    assert route.extra["street_m"] == pytest.approx(street + 100, abs=0.05)
    assert route.extra["unreachable_m"] == pytest.approx(100)  # the isolated street
    assert route.extra["covered_m"] == pytest.approx(street, abs=0.05)
    assert route.extra["coverage"] == 1.0
    assert route.extra["deadhead_m"] == pytest.approx(deadhead, abs=0.05)
    assert route.distance_m == pytest.approx(street + deadhead)
    assert route.extra["deadhead_share"] == pytest.approx(deadhead / (street + deadhead), abs=1e-5)
    walked = {frozenset((s.u, s.v)) for s in route.steps}
    assert walked == {frozenset(e) for e in [(1, 2), (2, 3), (3, 4), (4, 1), (1, 3)]}
    for a, b in itertools.pairwise(route.steps):
        assert a.v == b.u
    first = {(0, 0): 1, (100, 0): 2}[start]
    last = first if end is None else 3
    assert route.steps[0].u == first
    assert route.steps[-1].v == last
    assert any("cannot be reached" in w for w in route.warnings)


def test_postman_covers_a_helsinki_beat_with_start_and_end_apart(
    helsinki_net: StreetNetwork, beat: shapely.Polygon, spots: gpd.GeoDataFrame
) -> None:
    small = beat.centroid.buffer(350)
    minx, miny, maxx, maxy = small.bounds
    route = routes.postman_route(
        helsinki_net,
        beat=small,
        shift=SHIFT,
        beat_id=2,
        start=_lonlat(helsinki_net, shapely.Point(minx + 150, miny + 150)),
        end=_lonlat(helsinki_net, shapely.Point(maxx - 150, maxy - 150)),
        hotspots=spots,
    )
    W = helsinki_net.walk
    required = set()
    for u, v, _k, d in W.edges(keys=True, data=True):
        mid = d["geometry"].interpolate(0.5, normalized=True)
        if not d["reversed"] and d["highway"] in routes.STREET_CLASSES and small.intersects(mid):
            required.add(frozenset((u, v)))
    walked = {frozenset((s.u, s.v)) for s in route.steps}
    reachable_missing = required - walked
    missing_m = sum(min(d["length"] for d in W[min(e)][max(e)].values()) for e in reachable_missing)
    assert missing_m == pytest.approx(route.extra["unreachable_m"], abs=1.0)
    assert route.extra["coverage"] == 1.0
    assert route.extra["covered_m"] == pytest.approx(
        route.extra["street_m"] - route.extra["unreachable_m"]
    )
    assert 0 < route.extra["deadhead_share"] < 0.6
    assert route.steps[0].u != route.steps[-1].v
    for a, b in itertools.pairwise(route.steps):
        assert a.v == b.u
        assert W.has_edge(a.u, a.v)
    # hotspot dwells are folded in where the walk passes them
    stops = [s for s in route.stops if s.kind == "stop"]
    assert stops
    assert all(s.dwell_min == 15 for s in stops)
    for a, b in itertools.pairwise(route.stops):
        assert a.depart <= b.arrive


# --------------------------------------------------------------------------- #
# outputs
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def xss_route(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> routes.Route:
    evil = spots.copy()
    evil.loc[evil.index[0], "name"] = "<script>alert('x')</script>"
    evil.loc[evil.index[0], "top_call_types"] = '<img src=x onerror="alert(1)">:3'
    return routes.hotspot_tour(
        evil, network=helsinki_net, shift="2025-12-01 08:00-10:00", beat=beat, beat_id=1
    )


def test_gpx_validates_against_the_schema_and_round_trips(xss_route: routes.Route) -> None:
    text = routes.route_gpx(xss_route)
    schema = xmlschema.XMLSchema(str(GPX_XSD))
    schema.validate(text)
    back = gpxpy.parse(text)
    assert len(back.waypoints) == len(xss_route.stops)
    assert next(w.name for w in back.waypoints) == "Start"
    stop1 = xss_route.stops[1]
    assert back.waypoints[1].name == f"1. {stop1.name}"
    assert back.waypoints[1].latitude == pytest.approx(stop1.lat, abs=1e-6)
    assert back.waypoints[1].time.replace(tzinfo=None) == stop1.arrive.to_pydatetime()
    pts = back.tracks[0].segments[0].points
    assert len(pts) == len(xss_route.geometry.coords)
    # the track is the path: its length matches the route's metres within 1 %
    assert back.tracks[0].length_2d() == pytest.approx(xss_route.distance_m, rel=0.01)


def test_geojson_follows_the_contract(xss_route: routes.Route) -> None:
    fc = routes.route_geojson(xss_route)
    kinds = [f["properties"]["kind"] for f in fc["features"]]
    assert kinds[0] == "path"
    assert kinds[1] == "start"
    assert kinds[-1] == "end"
    assert set(kinds[2:-1]) == {"stop"}
    path = fc["features"][0]
    assert path["geometry"]["type"] == "LineString"
    assert {"route_id", "beat_id", "mode"} <= set(path["properties"])
    for f in fc["features"][1:]:
        p = f["properties"]
        for key in ("seq", "arrive", "depart", "dwell_min", "hotspot_rank", "name", "reason",
                    "top_call_types", "peak_hours"):  # fmt: skip
            assert key in p
        lon, lat = f["geometry"]["coordinates"]
        assert 24.8 < lon < 25.1
        assert 60.1 < lat < 60.25
    assert [f["properties"]["seq"] for f in fc["features"][1:]] == list(range(len(kinds) - 1))
    summary = xss_route.summary()
    for key in ("route_id", "beat_id", "mode", "shift_start", "shift_end", "duration_min",
                "travel_min", "dwell_min", "distance_km", "stops", "risk_covered",
                "risk_available", "feasible", "warnings", "directions"):  # fmt: skip
        assert key in summary
    assert summary["dwell_min"] == 15 * (len(summary["stops"]) - 2)
    dirs = summary["directions"]
    assert {"street", "distance_m", "instruction"} <= set(dirs[0])
    moved = sum(d["distance_m"] for d in dirs)
    assert moved == pytest.approx(xss_route.distance_m, abs=0.1 * len(dirs))


def test_directions_merge_streets_and_name_turns() -> None:
    def step(coords: list[tuple[float, float]], name: str) -> routes.Step:
        g = shapely.LineString(coords)
        return routes.Step(0, 0, name, "residential", g.length, g.length, g)

    leg = [
        step([(0, 0), (0, 100)], "Main St"),
        step([(0, 100), (0, 150)], "Main St"),  # merged with the previous
        step([(0, 150), (80, 150)], "East Rd"),  # heading north, then east: right
        step([(80, 150), (80, 250)], ""),  # north again: left, unnamed -> its class
        step([(80, 250), (80, 200)], "Back Ln"),  # U-turn
    ]
    rows = routes._leg_directions(leg)
    assert [r["street"] for r in rows] == ["Main St", "East Rd", "residential", "Back Ln"]
    assert rows[0]["distance_m"] == 150
    assert rows[1]["instruction"].startswith("Turn right onto East Rd")
    assert rows[2]["instruction"].startswith("Turn left onto residential")
    assert rows[3]["instruction"].startswith("Make a U-turn onto Back Ln")


def test_route_sheet_escapes_untrusted_text_and_prints(xss_route: routes.Route) -> None:
    page = routes.route_sheet(xss_route)
    assert "<script>" not in page
    assert 'onerror="alert' not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "@media print" in page
    assert "size:A4" in page
    assert page.count("<svg") == 1
    assert "<polyline" in page
    assert page.count("<circle") == len(xss_route.stops) - 2
    assert maps.remote_references(page) == []


def test_write_route_files(xss_route: routes.Route, tmp_path: Path) -> None:
    paths = routes.write_route(xss_route, tmp_path)
    assert sorted(p.name for p in paths.values()) == sorted(
        f"{xss_route.route_id}.{ext}" for ext in ("geojson", "gpx", "html", "json")
    )
    back = gpd.read_file(paths["geojson"])
    assert back.crs.to_epsg() == 4326
    assert json.loads(paths["json"].read_text())["route_id"] == xss_route.route_id


# --------------------------------------------------------------------------- #
# pipeline and command line
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def beat_files(
    tmp_path_factory: pytest.TempPathFactory,
    spots: gpd.GeoDataFrame,
    beat: shapely.Polygon,
) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("routes_in")
    c = beat.centroid
    halves = [
        beat.intersection(shapely.box(c.x - 1000, c.y - 1000, c.x, c.y + 1000)),
        beat.intersection(shapely.box(c.x, c.y - 1000, c.x + 1000, c.y + 1000)),
    ]
    beats = gpd.GeoDataFrame({"beat_id": [1, 2], "workload": [1.0, 1.0]}, geometry=halves,
                             crs=spots.crs)  # fmt: skip
    beats.to_file(folder / "beats.gpkg", layer="beats", driver="GPKG")
    spots.to_file(folder / "hotspots.gpkg", layer="hotspots", driver="GPKG")
    return folder / "beats.gpkg", folder / "hotspots.gpkg"


def test_routes_file_writes_every_beat(
    helsinki_net: StreetNetwork, beat_files: tuple[Path, Path], tmp_path: Path
) -> None:
    beats, spots = beat_files
    summaries = pipeline.routes_file(
        beats, spots, tmp_path, network=helsinki_net, shift=SHIFT, mode="drive"
    )
    assert [s["beat_id"] for s in summaries] == [1, 2]
    for s in summaries:
        assert s["feasible"]
        for ext in ("geojson", "gpx", "html", "json"):
            assert (tmp_path / f"{s['route_id']}.{ext}").exists()
    listed = json.loads((tmp_path / "routes.json").read_text())
    assert [s["route_id"] for s in listed] == [s["route_id"] for s in summaries]
    total = sum(s["risk_available"] for s in summaries)
    assert total == pytest.approx(gpd.read_file(spots, layer="hotspots")["score"].sum())
    with pytest.raises(InputFileError, match="Beat '7' is not in"):
        pipeline.routes_file(beats, spots, tmp_path, network=helsinki_net, shift=SHIFT, beat="7")


def test_cli_routes(beat_files: tuple[Path, Path], tmp_path: Path) -> None:
    beats, spots = beat_files
    runner = CliRunner()
    base = ["routes", "--beats", str(beats), "--hotspots", str(spots), "--osm", "helsinki"]
    result = runner.invoke(
        app,
        [*base, "--beat", "2", "--shift", SHIFT, "--mode", "foot", "--dwell", "12",
         "--break", "12:00/30", "--out", str(tmp_path), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summaries = json.loads(result.stdout)
    assert len(summaries) == 1
    assert summaries[0]["beat_id"] == 2
    s = summaries[0]
    assert s["route_id"] == "beat-2_2025-12-01_0800-1600_foot"
    assert all(st["dwell_min"] == 12 for st in s["stops"] if st["kind"] == "stop")
    assert s["duration_min"] <= 480
    bad = runner.invoke(app, [*base, "--shift", "2025-12-01 08:00-08:00", "--out", str(tmp_path)])
    assert bad.exit_code == 2
    assert "zero length" in bad.output
    off = runner.invoke(
        app,
        [*base, "--shift", SHIFT, "--beat", "1", "--start", "24.8,60.1", "--out", str(tmp_path)],
    )
    assert off.exit_code == 2
    assert "from the nearest street" in off.output
