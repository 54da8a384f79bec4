"""Patrol routes: orienteering optimum, directed drive paths, postman coverage, GPX and sheets."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path

import geopandas as gpd
import gpxpy
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity
import xmlschema
from _browser import offline_page
from pyproj import Transformer
from typer.testing import CliRunner

from cso_geo import beats as beats_mod
from cso_geo import hotspots as hs
from cso_geo import maps, network, pipeline, routes
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
    """Times run forward, dwell within bounds, breaks as asked, and the route fits the shift."""
    stops = route.stops
    assert stops[0].kind == "start"
    assert stops[-1].kind == "end"
    assert stops[0].depart == route.shift.start
    for a, b in itertools.pairwise(stops):
        assert a.arrive <= a.depart <= b.arrive
    for s in stops[1:-1]:
        assert s.kind in {"stop", "break"}
        if s.kind == "stop":
            assert routes.DWELL_BOUNDS[0] <= s.dwell_min <= routes.DWELL_BOUNDS[1]
            assert s.dwell_min == dwell
        else:
            assert s.dwell_min == 0
            assert s.break_min > 0
            assert s.depart - s.arrive == pd.Timedelta(minutes=s.break_min)
    assert stops[-1].depart <= route.shift.end
    assert route.duration_min <= route.shift.minutes + 1e-9
    # a break at the end point comes after the arrival, outside the route's duration
    moving = route.duration_min - route.dwell_min
    moving -= sum(s.wait_min + s.break_min for s in stops[:-1])
    assert moving == pytest.approx(route.travel_min, abs=0.05)
    assert route.objective == pytest.approx(sum(s.risk for s in stops))
    assert route.risk_covered <= route.risk_available + 1e-9


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
    # Monday 22-23, then Tuesday from midnight
    assert sh.weekday_hours()[:3] == [(0, 22), (0, 23), (1, 0)]
    assert routes.route_id(3, sh, "vehicle") == "beat-3_2025-12-01_2200-0600_drive"


@pytest.mark.parametrize(
    "beat_id", ["../../evil", "..", "/etc/passwd", "a/b", "a\\b", "x\x00y", "Nord Ost", ""]
)
def test_route_id_is_a_safe_file_name(beat_id: str, tmp_path: Path) -> None:
    sh = routes.parse_route_shift(SHIFT)
    rid = routes.route_id(beat_id, sh, "foot")
    assert re.fullmatch(r"beat-[A-Za-z0-9_-]+_2025-12-01_0800-1600_foot", rid), rid
    assert ".." not in rid
    # ids that differ stay apart after the clean-up
    assert rid != routes.route_id(beat_id + "x", sh, "foot")
    assert routes.route_id("a/b", sh, "foot") != routes.route_id("a-b", sh, "foot")
    assert routes.route_id(7, sh, "foot") == "beat-7_2025-12-01_0800-1600_foot"


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
    assert routes.solve_orienteering(T, risk, service, T[0, 5] / 2, method="cpsat") is None


def exhaustive_optimum(
    T: np.ndarray,
    risk: np.ndarray,
    service: np.ndarray,
    budget: float,
    windows: np.ndarray,
    parent: np.ndarray,
) -> float:
    """Best risk over every subset of visits, written apart from `routes`.

    For each of the 2^n subsets and each last visit, the earliest time the
    subset can be served (waiting at windows), layer by layer of subset size;
    a subset holding a revisit without its first visit is no state at all (a
    revisit comes after the first visit, and never right after a visit of the
    same hotspot). A subset counts when its best finish fits the budget.
    """
    n = len(risk)
    lo, hi = windows[:, 0], windows[:, 1]
    full = 1 << n
    masks = np.arange(full)
    hotspot = np.where(parent >= 0, parent, np.arange(n))
    T = T.copy()
    for i, j in itertools.permutations(range(n), 2):
        if hotspot[i] == hotspot[j]:  # never two visits of a hotspot in a row
            T[i + 1, j + 1] = np.inf
    bits = 1 << np.arange(n)
    size = ((masks[:, None] & bits[None, :]) > 0).sum(axis=1)
    orphan = np.zeros(full, dtype=bool)
    for j in np.flatnonzero(parent >= 0):
        orphan |= ((masks & bits[j]) != 0) & ((masks & bits[parent[j]]) == 0)
    done = np.full((full, n), np.inf)  # time service ends at the last visit
    first = np.maximum(T[0, 1 : n + 1], lo)
    ok = first <= hi + 1e-9
    done[bits[ok], np.flatnonzero(ok)] = first[ok] + service[ok]
    done[orphan] = np.inf
    between = T[1 : n + 1, 1 : n + 1]
    for k in range(2, n + 1):
        layer = masks[size == k]
        for j in range(n):
            m = layer[(layer & bits[j]) != 0]
            arrive = np.maximum((done[m ^ bits[j]] + between[:, j][None, :]).min(axis=1), lo[j])
            ok = arrive <= hi[j] + 1e-9
            done[m[ok], j] = arrive[ok] + service[j]
        done[orphan] = np.inf
    finish = (done + T[1 : n + 1, n + 1][None, :]).min(axis=1)
    fits = finish <= budget + 1e-9
    fits[0] = T[0, n + 1] <= budget
    value = ((masks[:, None] & bits[None, :]) > 0) @ risk
    return float(value[fits].max())


def revisit_instance(
    seed: int, hotspots: int, *, top: int = 2, block: float = 3600.0, shift: float = 14400.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]:
    """`hotspots` random places; the `top` riskiest may be revisited once in each later
    block of a 4-hour shift (window: that block), each revisit worth half."""
    T0, risk0, _, _ = random_instance(seed, hotspots)
    order = np.argsort(-risk0, kind="stable")[:top]
    node = list(range(1, hotspots + 1))
    risk = list(risk0)
    win = [(0.0, np.inf)] * hotspots
    parent = [-1] * hotspots
    for h in order:
        for b in range(1, math.ceil(shift / block)):
            node.append(int(h) + 1)
            risk.append(risk0[h] * 0.5)
            win.append((b * block, min((b + 1) * block, shift)))
            parent.append(int(h))
    idx = [0, *node, hotspots + 1]
    n = len(risk)
    return (T0[np.ix_(idx, idx)], np.array(risk), np.full(n, 600.0), shift, np.array(win),
            np.array(parent))  # fmt: skip


def _fits_windows(
    order: list[int], T: np.ndarray, service: np.ndarray, windows: np.ndarray, budget: float
) -> bool:
    t, prev = 0.0, 0
    for j in order:
        t = max(t + T[prev, j + 1], windows[j, 0])
        if t > windows[j, 1] + 1e-6:
            return False
        t += service[j]
        prev = j + 1
    return bool(t + T[prev, len(service) + 1] <= budget + 1e-6)


@pytest.mark.parametrize(
    ("seed", "hotspots", "block", "shift", "spread"),
    [(21, 10, 3600, 14400, 1), (22, 11, 3600, 14400, 1), (23, 12, 3600, 14400, 1),
     (24, 12, 7200, 28800, 3), (25, 8, 7200, 43200, 8)],
)  # fmt: skip
def test_up_to_12_hotspots_with_revisits_are_solved_exactly(
    seed: int, hotspots: int, block: float, shift: float, spread: float
) -> None:
    """Revisits make 16-18 candidates (the last: 8 hotspots in a 12-hour shift, two
    revisited in each of 5 later blocks), more than `EXACT_MAX`: still the optimum."""
    T, risk, service, budget, windows, parent = revisit_instance(
        seed, hotspots, block=block, shift=shift
    )
    T = T * spread  # farther apart in longer shifts, so that not everything fits
    assert len(risk) > routes.EXACT_MAX
    order, info = routes._orienteering(
        T, risk, service, budget, windows=windows, required=None, parent=parent,
        method="auto", seed=0, time_limit=30, solution_limit=250, exact_limit=30,
    )  # fmt: skip
    assert info["solver"] == "exact"
    assert info["optimal"] is True
    assert order is not None
    assert len(set(order)) == len(order)
    assert _fits_windows(order, T, service, windows, budget)
    assert all(parent[j] < 0 or parent[j] in order[: order.index(j)] for j in order)
    want = exhaustive_optimum(T, risk, service, budget, windows, parent)
    assert want < risk.sum()  # not everything fits
    assert _value(order, risk) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("seed", [26, 27])
def test_cpsat_model_is_exact_on_revisit_instances(seed: int) -> None:
    """The CP-SAT model (for hotspots whose revisits overflow the programme's table)."""
    T, risk, service, budget, windows, parent = revisit_instance(seed, 8)
    order, info = routes._orienteering(
        T, risk, service, budget, windows=windows, required=None, parent=parent,
        method="cpsat", seed=0, time_limit=30, solution_limit=250, exact_limit=30,
    )  # fmt: skip
    assert info["optimal"] is True
    assert order is not None
    assert _fits_windows(order, T, service, windows, budget)
    assert all(parent[j] < 0 or parent[j] in order[: order.index(j)] for j in order)
    want = exhaustive_optimum(T, risk, service, budget, windows, parent)
    assert want < risk.sum()
    assert _value(order, risk) == pytest.approx(want, rel=1e-6)
    # one worker, a deterministic time limit: the same seed gives the same order
    again = routes.solve_orienteering(
        T, risk, service, budget, windows=windows, parent=parent, method="cpsat", seed=0
    )
    assert again == order


def test_routing_search_is_repeatable() -> None:
    """Stopped at a solution count, not on time: the same instance gives the same order."""
    T, risk, service, budget, windows, parent = revisit_instance(31, 16)
    runs = [
        routes._orienteering(
            T,
            risk,
            service,
            budget,
            windows=windows,
            required=None,
            parent=parent,
            method="ortools",
            seed=0,
            time_limit=60,
            solution_limit=100,
            exact_limit=30,
        )
        for _ in range(2)
    ]
    order = runs[0][0]
    assert order is not None
    assert order == runs[1][0]
    assert runs[0][1]["stopped_by"] == "solution limit"
    assert _fits_windows(order, T, service, windows, budget)
    assert all(parent[j] < 0 or parent[j] in order[: order.index(j)] for j in order)


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


@pytest.mark.parametrize(("n", "mode"), [(10, "drive"), (12, "foot")])
def test_tour_with_revisits_covers_the_exact_optimum(
    helsinki_net: StreetNetwork, units: gpd.GeoDataFrame, beat: shapely.Polygon, n: int, mode: str
) -> None:
    """10-12 hotspots with revisits on: 16-18 candidates, the optimum of a matrix built
    with networkx and every subset enumerated in the test."""
    spots_n = make_hotspots(units, beat, n)
    shift = routes.parse_route_shift("2025-12-01 08:00-12:00")
    G = helsinki_net.graph(mode)
    tg = routes.TravelGraph(G)
    route = routes.hotspot_tour(
        spots_n, network=helsinki_net, shift=shift, beat=beat, mode=mode, travel=tg,
        revisit_every=60, revisit_top=2,
    )  # fmt: skip
    assert route.extra["candidates"] == n + 2 * 3
    assert route.extra["solver"] == "exact"
    assert route.extra["optimal"] is True
    check_schedule(route, dwell=15)
    mids = spots_n.geometry.interpolate(0.5, normalized=True)
    nodes = [tg.nodes[tg.snap(p.x, p.y)[0]] for p in mids]
    c = beat.representative_point()
    start = tg.nodes[tg.snap(c.x, c.y)[0]]
    score = spots_n["score"].to_numpy(dtype=float)
    # the two riskiest may come back once in each later hour (a revisit worth half)
    cand = list(range(n))
    risk = list(score)
    windows = [(0.0, np.inf)] * n
    parent = [-1] * n
    for h in (0, 1):
        for b in (1, 2, 3):
            cand.append(h)
            risk.append(score[h] * 0.5)
            windows.append((b * 3600.0, (b + 1) * 3600.0))
            parent.append(h)
    pts = [start, *(nodes[i] for i in cand), start]
    length = {
        a: nx.single_source_dijkstra_path_length(G, a, weight="travel_time") for a in set(pts)
    }
    T = np.array([[length[a][b] for b in pts] for a in pts])
    want = exhaustive_optimum(
        T, np.array(risk), np.full(len(risk), 900.0), shift.minutes * 60, np.array(windows),
        np.array(parent),
    )  # fmt: skip
    assert want < sum(risk)  # not everything fits
    assert route.objective == pytest.approx(want, rel=1e-9)
    assert route.risk_revisits > 0


def test_foot_tour_with_break_and_revisits(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    route = routes.hotspot_tour(
        spots.head(4),
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
    assert sum(s.break_min for s in route.stops) == 30
    brk = next(s for s in route.stops if s.break_min)
    # taken when due: at a corner on the way, or at a stop (after its dwell if due then)
    assert brk.depart - pd.Timedelta(minutes=30) >= pd.Timestamp("2025-12-01 12:00")
    assert brk.arrive <= pd.Timestamp("2025-12-01 12:16")
    # the hottest hotspot is visited first, then again in each later 2-hour block
    top = [s for s in route.stops if s.hotspot_rank == 1]
    assert [s.visit for s in top] == [1, 2, 3, 4]
    served = [s.depart - pd.Timedelta(minutes=s.dwell_min) for s in top]  # no break after
    blocks = [int((t - route.shift.start) / pd.Timedelta(minutes=120)) for t in served]
    assert blocks[1:] == [1, 2, 3]
    assert all("revisit" in s.reason for s in top[1:])
    assert "revisit" not in top[0].reason
    assert route.risk_covered == pytest.approx(spots["score"].head(4).sum())
    assert route.risk_revisits == pytest.approx(3 * 0.5 * spots["score"].iloc[0])
    assert route.objective == pytest.approx(sum(s.risk for s in route.stops))
    assert route.risk_available == pytest.approx(spots["score"].head(4).sum())
    # never two visits of the hotspot in a row: the CSO goes elsewhere in between
    kinds = [s.hotspot_rank for s in route.stops if s.kind == "stop"]
    assert all(a != b for a, b in itertools.pairwise(kinds))


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
    visited = {s.hotspot_rank for s in route.stops if s.kind == "stop"}
    # 8 hours on foot hold all six day-time hotspots, and none of the night ones
    assert visited == set(range(5, 11))
    check_schedule(route, dwell=15)
    # risk scaled by the share of incidents in Monday 08-16: 3 of the 21 weekly hours
    assert route.risk_available == pytest.approx(night["score"].iloc[4:].sum() / 7)
    assert route.risk_covered == pytest.approx(route.risk_available)


def _weekday_profile(day: int, hours: list[int], n: int = 2) -> str:
    prof = np.zeros((7, 24), dtype=int)
    prof[day, hours] = n
    return json.dumps(prof.tolist(), separators=(",", ":"))


def test_shift_hours_only_counts_the_shift_weekday(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    """A Tuesday-only hotspot is out of a Monday shift and in a Tuesday one; a night
    shift from Monday counts Tuesday's early hours."""
    tue = spots.copy()
    tue.loc[tue.index[:3], "profile"] = _weekday_profile(1, [9, 10])
    monday = routes.parse_route_shift("2025-12-01 08:00-16:00")
    tuesday = routes.parse_route_shift("2025-12-02 08:00-16:00")
    assert monday.start.day_of_week == 0
    assert sorted(routes.beat_hotspots(tue, beat, shift=monday)["rank"]) == list(range(4, 11))
    assert sorted(routes.beat_hotspots(tue, beat, shift=tuesday)["rank"]) == list(range(1, 11))
    early = spots.copy()
    early["profile"] = _weekday_profile(1, [3])  # Tuesday 03:00 only
    night = routes.parse_route_shift("2025-12-01 22:00-06:00")
    assert len(routes.beat_hotspots(early, beat, shift=night)) == len(spots)
    assert routes.beat_hotspots(early, beat, shift=monday).empty
    # the revisited hotspots are the riskiest for this shift, not by their overall rank
    mixed = spots.copy()
    mixed.loc[mixed.index[:2], "profile"] = json.dumps(
        (np.eye(1, 7, 0).T @ np.eye(1, 24, 9) + np.eye(1, 7, 0).T @ np.eye(1, 24, 23) * 19)
        .astype(int)
        .tolist()
    )  # ranks 1-2: 1 in 20 of their calls in the shift
    route = routes.hotspot_tour(
        mixed, network=helsinki_net, shift=monday, beat=beat, mode="drive",
        shift_hours_only=True, revisit_top=2,
    )  # fmt: skip
    revisited = {s.hotspot_rank for s in route.stops if s.visit > 1}
    scaled = routes.beat_hotspots(mixed, beat, shift=monday)
    assert revisited
    assert revisited <= set(scaled["rank"].head(2))
    assert not revisited & {1, 2}


def test_tour_is_deterministic(
    helsinki_net: StreetNetwork, units: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    many = make_hotspots(units, beat, 20)  # above EXACT_MAX: OR-Tools
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
    # every hotspot counts once in what was available; those left out say why
    assert route.risk_available == pytest.approx(both["score"].sum())
    left = {u["rank"]: u for u in route.extra["unreachable"]}
    assert set(left) == {1, 99}
    assert "from the drive graph" in left[99]["reason"]
    assert "cannot be reached" in left[1]["reason"]
    unreachable = left[1]["risk"] + left[99]["risk"]
    assert route.extra["risk_unreachable"] == pytest.approx(unreachable)
    assert route.extra["risk_reachable"] == pytest.approx(route.risk_available - unreachable)
    assert route.extra["hotspots"] == len(both)
    assert route.risk_covered == pytest.approx(route.extra["risk_reachable"])  # 8 h: all of it


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


# --------------------------------------------------------------------------- #
# breaks
# --------------------------------------------------------------------------- #
def test_breaks_are_parsed_and_checked(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    assert routes.parse_break("12:00/30") == routes.Break("12:00", 30.0)
    assert routes.parse_break(" 9:15/45 ") == routes.Break("9:15", 45.0)
    assert routes.parse_break("12:00") == routes.Break("12:00", 30.0)
    for bad in ("noon/30", "12:00/", "12:00/abc", "12-00/30", ""):
        with pytest.raises(InfeasibleError, match="HH:MM/MINUTES"):
            routes.parse_break(bad)
    for bad in ("12:00/0", "12:00/-5", "12:00/nan", "12:00/inf"):
        with pytest.raises(InfeasibleError, match="positive number of minutes"):
            routes.parse_break(bad)
    with pytest.raises(InfeasibleError, match="positive number of minutes"):
        routes.Break("12:00", -10)
    tour = {"network": helsinki_net, "shift": SHIFT, "beat": beat}
    with pytest.raises(InfeasibleError, match="does not end within the shift"):
        routes.hotspot_tour(spots, **tour, breaks=[routes.Break("15:45", 30)])
    with pytest.raises(InfeasibleError, match="overlap"):
        routes.hotspot_tour(
            spots, **tour, breaks=[routes.Break("12:00", 30), routes.Break("12:15", 15)]
        )
    with pytest.raises(InfeasibleError, match="HH:MM"):
        routes.hotspot_tour(spots, **tour, breaks=[routes.Break("25:00", 30)])


def test_break_after_the_last_stop_is_taken_at_the_end(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    route = routes.hotspot_tour(
        spots.head(2), network=helsinki_net, shift="2025-12-01 08:00-12:00", beat=beat,
        mode="drive", breaks=[routes.Break("11:30", 20)], revisit_every=None,
    )  # fmt: skip
    check_schedule(route, dwell=15)
    assert route.patrol_min == 220
    end = route.stops[-1]
    assert end.arrive < pd.Timestamp("2025-12-01 11:00")  # two stops: done long before
    assert end.break_min == 20
    assert end.depart == pd.Timestamp("2025-12-01 11:50")
    assert sum(s.break_min for s in route.stops) == 20
    assert route.summary()["break_min"] == 20


def test_break_due_on_the_move_is_taken_at_the_next_corner(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    minx, miny, maxx, maxy = beat.bounds
    route = routes.hotspot_tour(
        spots.iloc[:0], network=helsinki_net, shift="2025-12-01 08:00-09:00", beat=beat,
        mode="foot", start=_lonlat(helsinki_net, shapely.Point(minx + 300, miny + 300)),
        end=_lonlat(helsinki_net, shapely.Point(maxx - 300, maxy - 300)),
        breaks=[routes.Break("08:05", 10)],
    )  # fmt: skip
    assert [s.kind for s in route.stops] == ["start", "break", "end"]
    check_schedule(route, dwell=15)
    brk = route.stops[1]
    due = pd.Timestamp("2025-12-01 08:05")
    longest = max(st.seconds for st in route.steps)
    assert due <= brk.arrive <= due + pd.Timedelta(seconds=longest + 1)
    assert brk.depart - brk.arrive == pd.Timedelta(minutes=10)
    # the break sits on the path: at the end of one of its steps
    ends = {tuple(np.round(st.geometry.coords[-1], 3)) for st in route.steps}
    assert (round(brk.x, 3), round(brk.y, 3)) in ends
    assert route.duration_min == pytest.approx(route.travel_min + 10, abs=0.05)
    rows = [d["instruction"] for d in route.directions()]
    assert "Break 10 min" in rows
    assert route.stops[-1].arrive <= route.shift.end


def test_revisit_windows_count_breaks(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> None:
    """Revisit blocks are clock time: a 40-minute break across the 10:00 boundary moves
    the solver's windows, and each revisit still falls in its block."""
    route = routes.hotspot_tour(
        spots.head(4), network=helsinki_net, shift=SHIFT, beat=beat, mode="foot",
        breaks=[routes.Break("09:50", 40), routes.Break("13:55", 10)], revisit_top=1,
    )  # fmt: skip
    check_schedule(route, dwell=15)
    assert sum(s.break_min for s in route.stops) == 50
    top = [s for s in route.stops if s.hotspot_rank == 1]
    assert [s.visit for s in top] == [1, 2, 3, 4]
    for b, s in enumerate(top[1:], start=1):
        w0 = route.shift.start + pd.Timedelta(minutes=120 * b)
        w1 = route.shift.start + pd.Timedelta(minutes=120 * (b + 1))
        assert s.depart - pd.Timedelta(minutes=s.dwell_min) >= w0  # served in the block
        assert s.arrive <= w1 + pd.Timedelta(seconds=1)


def test_patrol_minutes_map_shift_time_past_breaks() -> None:
    plan = [(60.0, 30.0), (200.0, 10.0)]  # due 60 min in for 30 min, 200 min in for 10
    assert routes._patrol_minutes(30, plan, upper=False) == 30
    assert routes._patrol_minutes(75, plan, upper=False) == 60  # inside the break
    assert routes._patrol_minutes(75, plan, upper=True) == 60
    assert routes._patrol_minutes(120, plan, upper=False) == 90
    assert routes._patrol_minutes(300, plan, upper=True) == 260


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


def planned_beats(
    net: StreetNetwork, *, n: int, area: shapely.Geometry | None = None
) -> gpd.GeoDataFrame:
    """Beats from `cso_geo.beats.plan_beats` on seeded calls at street midpoints (of the
    walk graph inside `area`, when given)."""
    W = net.walk
    if area is not None:
        W = W.subgraph(
            [k for k, d in W.nodes(data=True) if area.contains(shapely.Point(d["x"], d["y"]))]
        ).copy()
    pieces = hs.street_units(W, unit_length=100).units
    rng = np.random.default_rng(0)
    pick = rng.choice(len(pieces), 1500)
    calls = gpd.GeoDataFrame(
        {
            "received_at": pd.Timestamp("2025-11-01")
            + pd.to_timedelta(rng.integers(0, 30 * 24 * 60, len(pick)), unit="min"),
            "service_minutes": rng.uniform(10, 40, len(pick)),
        },
        geometry=pieces.geometry.iloc[pick].interpolate(0.5, normalized=True).to_numpy(),
        crs=pieces.crs,
    )
    plan = beats_mod.plan_beats(beats_mod.build_units(calls, W, unit_length=200), n, seed=0)
    return plan.beats


@pytest.fixture(scope="module")
def real_beat(helsinki_net: StreetNetwork, beat: shapely.Polygon) -> shapely.Geometry:
    """The beat of `cso_geo.beats.plan_beats` (8 beats on the sample city) holding the
    centre of the hotspot disc."""
    plan = planned_beats(helsinki_net, n=8)
    return next(g for g in plan.geometry if g.contains(beat.centroid))


def required_streets(
    W: nx.MultiDiGraph, area: shapely.Geometry
) -> set[tuple[frozenset[int], float]]:
    """Street edges to walk (end nodes, length: parallel edges stay apart), worked out
    apart from `routes`."""
    out = set()
    for u, v, _k, d in W.edges(keys=True, data=True):
        mid = d["geometry"].interpolate(0.5, normalized=True)
        hw = d["highway"] if isinstance(d["highway"], list) else [d["highway"]]
        street = not d["reversed"] and u != v and set(hw) & set(routes.STREET_CLASSES)
        if street and area.intersects(mid):
            out.add((frozenset((u, v)), round(float(d["length"]), 3)))
    return out


def check_postman(route: routes.Route, W: nx.MultiDiGraph, area: shapely.Geometry) -> None:
    """100 % of the reachable street length walked, the walk is one connected path."""
    walked = {(frozenset((s.u, s.v)), round(s.length, 3)) for s in route.steps}
    missing = required_streets(W, area) - walked
    missing_m = sum(length for _, length in missing)
    assert missing_m == pytest.approx(
        route.extra["unreachable_m"] + route.extra["avoided_m"], abs=1.0
    )
    assert route.extra["coverage"] == 1.0
    assert route.extra["covered_m"] == pytest.approx(
        route.extra["street_m"] - route.extra["unreachable_m"], abs=0.2
    )
    for a, b in itertools.pairwise(route.steps):
        assert a.v == b.u
        assert W.has_edge(a.u, a.v)
    repeated = route.distance_m - route.extra["covered_m"]
    assert route.extra["deadhead_m"] == pytest.approx(repeated, abs=1.0)
    assert route.extra["deadhead_share"] == pytest.approx(repeated / route.distance_m, abs=1e-4)


def test_postman_covers_a_planned_helsinki_beat_with_start_and_end_apart(
    helsinki_net: StreetNetwork, real_beat: shapely.Geometry, units: gpd.GeoDataFrame
) -> None:
    spots = make_hotspots(units, real_beat, 6)
    _, _, maxx, maxy = real_beat.bounds
    start = _lonlat(helsinki_net, real_beat.representative_point())
    corner = shapely.Point(maxx, maxy)
    far = min(
        (shapely.Point(d["x"], d["y"]) for _, d in helsinki_net.walk.nodes(data=True)),
        key=lambda q: q.distance(corner) if real_beat.contains(q) else math.inf,
    )
    route = routes.postman_route(
        helsinki_net, beat=real_beat, shift=SHIFT, beat_id=2, start=start,
        end=_lonlat(helsinki_net, far), hotspots=spots,
    )  # fmt: skip
    W = helsinki_net.walk
    check_postman(route, W, real_beat)
    assert route.extra["street_m"] > 2000
    assert 0 < route.extra["deadhead_share"] < 0.6
    assert route.steps[0].u != route.steps[-1].v
    check_schedule(route, dwell=15)
    # hotspot dwells are folded in where the walk passes them
    stops = [s for s in route.stops if s.kind == "stop"]
    inside = routes.beat_hotspots(spots, real_beat)
    assert len(stops) == len(inside) > 0
    assert route.risk_available == pytest.approx(inside["risk"].sum())
    assert route.risk_covered == pytest.approx(route.risk_available)


def test_postman_honours_breaks_and_avoided_streets(
    helsinki_net: StreetNetwork, real_beat: shapely.Geometry
) -> None:
    plain = routes.postman_route(helsinki_net, beat=real_beat, shift=SHIFT)
    names = [s.name for s in plain.steps if s.name]
    avoid = max(sorted(set(names)), key=names.count)
    route = routes.postman_route(
        helsinki_net, beat=real_beat, shift=SHIFT, breaks=[routes.Break("08:20", 30)],
        avoid_streets=[avoid.lower()],
    )  # fmt: skip
    assert avoid not in {s.name for s in route.steps}
    assert route.extra["avoided_m"] > 0
    assert route.extra["street_m"] == pytest.approx(
        plain.extra["street_m"] - route.extra["avoided_m"], abs=1.0
    )
    check_postman(route, helsinki_net.walk, real_beat)
    check_schedule(route, dwell=15)
    assert route.patrol_min == 450
    assert sum(s.break_min for s in route.stops) == 30
    assert any("avoided" in w for w in route.warnings)


@pytest.mark.shared_data
def test_postman_covers_planned_baltimore_beats(shared_data: Path) -> None:
    """Beats planned by `cso_geo.beats` on 2.6 km^2 of downtown Baltimore (a grid with
    one-ways; walked both ways)."""
    net = network.network_from_file(shared_data / "baltimore.osm.pbf")
    xy = np.array([(d["x"], d["y"]) for _, d in net.walk.nodes(data=True)])
    cx, cy = np.median(xy, axis=0)
    area = shapely.box(cx - 800, cy - 800, cx + 800, cy + 800)
    plan = planned_beats(net, n=4, area=area)
    shares = []
    for row in plan.itertuples():
        route = routes.postman_route(net, beat=row.geometry, shift=SHIFT, beat_id=row.beat_id)
        check_postman(route, net.walk, row.geometry)
        assert route.extra["street_m"] > 10_000
        assert route.extra["unreachable_m"] == 0
        shares.append(route.extra["deadhead_share"])
    assert all(0 < s < 0.4 for s in shares), shares


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
    assert summary["dwell_min"] == 15 * summary["n_stops"]
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
    assert page.count("<circle") == xss_route.n_stops
    assert maps.remote_references(page) == []


HOSTILE = "A\x0bB\x00C\ud800D\ufffeE\x1b[1mF\x7fG\tH\nI"


@pytest.fixture(scope="module")
def hostile_route(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon
) -> routes.Route:
    evil = spots.copy()
    text = {  # object columns: pandas' string type cannot even hold a lone surrogate
        "name": [f"{n}{HOSTILE}" for n in evil["name"]],
        "top_call_types": [f"NOISE{HOSTILE}:5;LOIT\x0c:2"] * len(evil),
        "peak_hours": ["09:00-12:00\x00"] * len(evil),
    }
    for col, values in text.items():
        evil[col] = pd.Series(values, index=evil.index, dtype=object)
    return routes.hotspot_tour(
        evil, network=helsinki_net, shift="2025-12-01 08:00-10:00", beat=beat,
        beat_id=f"7{HOSTILE}", breaks=[routes.Break("09:00", 10)],
    )  # fmt: skip


def test_hostile_text_keeps_every_output_well_formed(
    hostile_route: routes.Route, tmp_path: Path
) -> None:
    route = hostile_route
    assert route.n_stops > 0
    not_xml = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
    text = routes.route_gpx(route)
    assert not not_xml.search(text)
    xmlschema.XMLSchema(str(GPX_XSD)).validate(text)
    back = gpxpy.parse(text)
    assert len(back.waypoints) == len(route.stops)
    stop = next(s for s in route.stops if s.kind == "stop")
    wp = back.waypoints[route.stops.index(stop)]
    assert wp.name.endswith("ABCDE[1mFG H I")  # controls gone, tab/newline made spaces
    assert "NOISE" in wp.description
    assert "\x00" not in wp.description
    # the sheet and the GeoJSON carry the same clean text; the summary keeps the real id
    page = routes.route_sheet(route)
    assert not not_xml.search(page)
    assert "ABCDE[1mFG H I" in page
    fc = json.loads(json.dumps(routes.route_geojson(route)))
    for f in fc["features"][1:]:
        for key in ("name", "reason", "top_call_types", "peak_hours"):
            assert not not_xml.search(f["properties"][key])
    assert route.summary()["beat_id"] == f"7{HOSTILE}"
    assert re.fullmatch(r"beat-7A-B-C-D-E-1mF-G-H-I-[0-9a-f]{8}_2025-12-01_0800-1000_foot",
                        route.route_id)  # fmt: skip
    paths = routes.write_route(route, tmp_path)
    assert {p.parent for p in paths.values()} == {tmp_path}
    assert gpxpy.parse(paths["gpx"].read_text(encoding="utf-8")).waypoints


def long_route(n_stops: int = 46, n_steps: int = 1200) -> routes.Route:
    """A made-up worst case for the sheet: 46 stops and 1,200 differently named streets
    with a turn at every one."""
    sh = routes.parse_route_shift(SHIFT)
    steps, x, y = [], 0.0, 0.0
    for k in range(n_steps):
        dx, dy = [(40.0, 0.0), (0.0, 40.0), (-40.0, 0.0), (0.0, 40.0)][k % 4]
        g = shapely.LineString([(x, y), (x + dx, y + dy)])
        steps.append(routes.Step(k, k + 1, f"Pitkänimisenkatu {k}", "residential", 40.0, 8.0, g))
        x, y = x + dx, y + dy
    at = np.linspace(5, n_steps - 5, n_stops).astype(int).tolist()
    picked = [
        {"x": float(steps[a].geometry.coords[-1][0]), "y": float(steps[a].geometry.coords[-1][1]),
         "rank": i + 1, "name": f"Hotspottikatu {i} a long street name", "risk": 1.0, "visit": 1,
         "reason": f"hotspot #{i + 1}; calls NOISE:5, LOITERING:3, THEFT:2; peak 09:00-12:00",
         "top_call_types": "NOISE:5;LOITERING:3;THEFT:2", "peak_hours": "09:00-12:00"}
        for i, a in enumerate(at)
    ]  # fmt: skip
    stops, stop_steps = routes._schedule(
        sh, steps, [0, *(a + 1 for a in at), n_steps], picked, dwell=10,
        breaks=[(240.0, 30.0)], start_xy=(0.0, 0.0), end_xy=(x, y),
    )  # fmt: skip
    routes._fill_lonlat(stops, "EPSG:32635")
    return routes.Route(
        "beat-99_2025-12-01_0800-1600_foot", 99, "foot", "tour", sh, "EPSG:32635", stops,
        steps, stop_steps, 450.0, float(n_stops), float(n_stops), True,
        warnings=[f"warning {i}: hotspot left out" for i in range(6)],
    )  # fmt: skip


def pdf_pages(pdf: bytes) -> int:
    """Pages of a PDF: its page objects, checked against the page tree's count."""
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
    counts = [int(c) for c in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf)]
    counts += [int(c) for c in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf)]
    assert counts
    assert max(counts) == pages
    return pages


@pytest.mark.browser
def test_route_sheets_print_on_one_or_two_a4_pages(
    browser: object,
    helsinki_net: StreetNetwork,
    units: gpd.GeoDataFrame,
    beat: shapely.Polygon,
    tmp_path: Path,
) -> None:
    """An 8-hour drive over the whole sample city, a street-coverage walk of a 1.5 km^2
    beat and a made-up worst case all print (Chromium, A4) on at most two pages."""
    whole = shapely.MultiPoint(
        [(d["x"], d["y"]) for _, d in helsinki_net.drive.nodes(data=True)]
    ).convex_hull
    drive = routes.hotspot_tour(
        make_hotspots(units, whole, 40), network=helsinki_net, shift=SHIFT, beat=whole,
        mode="drive", breaks=[routes.Break("12:00", 30)],
    )  # fmt: skip
    walk = routes.postman_route(
        helsinki_net, beat=beat, shift=SHIFT, hotspots=make_hotspots(units, beat, 12)
    )
    worst = long_route()
    assert len(drive.directions()) > 70
    assert len(walk.directions()) > 120
    for name, route in {"drive": drive, "walk": walk, "worst": worst}.items():
        path = tmp_path / f"{name}.html"
        path.write_text(routes.route_sheet(route), encoding="utf-8")
        with offline_page(browser, path) as state:
            pdf = state.page.pdf(format="A4")
            assert state.blocked == []
            assert state.errors == []
        assert 1 <= pdf_pages(pdf) <= 2, name
    page = routes.route_sheet(worst)
    assert "more turns not printed" in page
    assert page.count("<tr>") == len(worst.stops) + 1


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


def test_routes_file_finds_a_beat_whose_id_a_file_stored_as_a_float(
    helsinki_net: StreetNetwork, beat_files: tuple[Path, Path], tmp_path: Path
) -> None:
    beats, spots = beat_files
    layer = gpd.read_file(beats, layer="beats")
    layer["beat_id"] = layer["beat_id"].astype(float)  # 1.0, 2.0, as a GeoJSON round trip gives
    floats = tmp_path / "floats.gpkg"
    layer.to_file(floats, layer="beats", driver="GPKG")
    out = tmp_path / "out"
    summaries = pipeline.routes_file(
        floats, spots, out, network=helsinki_net, shift=SHIFT, mode="drive", beat="2"
    )
    assert len(summaries) == 1
    assert summaries[0]["beat_id"] == 2


ISSUE_KEYS = ("duration_min", "travel_min", "dwell_min", "stops", "risk_covered", "feasible")


def test_routes_file_reports_failed_beats_in_full_and_keeps_files_in_out(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon, tmp_path: Path
) -> None:
    sea = beat.centroid.buffer(300).buffer(0)
    sea = shapely.affinity.translate(sea, 0, 8000)  # no street within 250 m of its centre
    layer = gpd.GeoDataFrame({"beat_id": ["../../evil", "sea"]}, geometry=[beat, sea],
                             crs=spots.crs)  # fmt: skip
    layer.to_file(tmp_path / "beats.gpkg", layer="beats", driver="GPKG")
    far = spots.iloc[[0]].copy()
    c = sea.centroid
    far["geometry"] = [shapely.LineString([(c.x - 20, c.y), (c.x + 20, c.y)])]
    both = gpd.GeoDataFrame(pd.concat([spots, far], ignore_index=True), crs=spots.crs)
    both.to_file(tmp_path / "hotspots.gpkg", layer="hotspots", driver="GPKG")
    out = tmp_path / "a" / "b" / "routes"
    summaries = pipeline.routes_file(
        tmp_path / "beats.gpkg", tmp_path / "hotspots.gpkg", out, network=helsinki_net,
        shift="2025-12-01 08:00-10:00", mode="vehicle",
    )  # fmt: skip
    ok, failed = summaries
    assert ok["beat_id"] == "../../evil"
    assert ok["feasible"]
    assert ok["mode"] == "drive"
    assert re.fullmatch(r"beat-evil-[0-9a-f]{8}_2025-12-01_0800-1000_drive", ok["route_id"])
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert {p.parent for p in written} - {tmp_path} == {out}
    assert len(list(out.iterdir())) == 4 + 1  # one route's four files and routes.json
    # the failed beat: every key of a route summary, zero or empty, and the reason
    assert set(failed) <= set(ok)
    assert set(failed) == set(routes.failed_summary("x", routes.parse_route_shift(SHIFT), "foot",
                                                    reason="r"))  # fmt: skip
    for key in ISSUE_KEYS:
        assert key in failed
        assert key in ok
    assert failed["feasible"] is False
    assert failed["stops"] == []
    assert failed["duration_min"] == failed["travel_min"] == failed["dwell_min"] == 0
    assert failed["risk_covered"] == 0
    assert "start point" in failed["reason"]
    assert failed["warnings"] == [failed["reason"]]
    assert failed["risk_available"] == pytest.approx(far["score"].iloc[0])
    assert failed["beat_id"] == "sea"
    listed = json.loads((out / "routes.json").read_text())
    assert [s["feasible"] for s in listed] == [True, False]


def test_routes_file_options(
    helsinki_net: StreetNetwork, beat_files: tuple[Path, Path], tmp_path: Path
) -> None:
    beats, spots = beat_files
    files = {"network": helsinki_net, "shift": SHIFT, "beat": 2}
    with pytest.raises(ValueError, match="--require-street/--require-area"):
        pipeline.routes_file(beats, spots, tmp_path, **files, coverage=True,
                             require_streets=["Mannerheimintie"])  # fmt: skip
    with pytest.raises(ValueError, match="--mode foot"):
        pipeline.routes_file(beats, spots, tmp_path, **files, coverage=True, mode="drive")
    # street coverage honours breaks and avoided streets
    (walk,) = pipeline.routes_file(
        beats, spots, tmp_path / "c", **files, coverage=True, breaks=[routes.Break("12:00", 30)]
    )
    beat2 = gpd.read_file(beats, layer="beats").to_crs(helsinki_net.crs).geometry.iloc[1]
    named: dict[str, float] = {}
    for *_, d in helsinki_net.walk.edges(data=True):
        if isinstance(d.get("name"), str) and beat2.contains(d["geometry"].centroid):
            named[d["name"]] = named.get(d["name"], 0.0) + d["length"]
    busiest = max(sorted(named), key=named.__getitem__)
    (walk2,) = pipeline.routes_file(
        beats, spots, tmp_path / "c2", **files, coverage=True, avoid_streets=[busiest],
        breaks=[routes.Break("12:00", 30)],
    )  # fmt: skip
    for s in (walk, walk2):
        assert s["kind"] == "postman"
        assert s["break_min"] == 30
        assert s["patrol_min"] == 450
    assert walk["avoided_m"] == 0
    assert walk2["avoided_m"] > 0
    assert busiest in {d["street"] for d in walk["directions"] if d["distance_m"] > 0}
    assert busiest not in {d["street"] for d in walk2["directions"] if d["distance_m"] > 0}
    # revisits off, and on by default in an 8-hour shift
    (on,) = pipeline.routes_file(beats, spots, tmp_path / "on", **files, mode="drive")
    (off,) = pipeline.routes_file(beats, spots, tmp_path / "off", **files, mode="drive",
                                  revisit_every=0)  # fmt: skip
    assert max(st["visit"] for st in on["stops"]) > 1
    assert max(st["visit"] for st in off["stops"]) == 1
    assert on["risk_revisits"] > 0
    assert off["risk_revisits"] == 0


def test_time_kept_free_for_calls(
    helsinki_net: StreetNetwork, spots: gpd.GeoDataFrame, beat: shapely.Polygon, tmp_path: Path
) -> None:
    """A tour fits in the shift less the minutes kept for calls; 'auto' reads the beats file."""
    kw = {"network": helsinki_net, "shift": SHIFT, "beat": beat, "mode": "foot"}
    full = routes.hotspot_tour(spots, **kw, revisit_every=None)
    kept = routes.hotspot_tour(spots, **kw, revisit_every=None, reserve_minutes=400)
    check_schedule(kept, dwell=15)
    assert full.extra["reserve_min"] == 0
    assert kept.extra["reserve_min"] == 400
    assert 0 < kept.travel_min + kept.dwell_min <= 480 - 400 + 1e-6
    assert full.travel_min + full.dwell_min > 480 - 400  # the full shift holds more
    assert 0 < kept.risk_covered < full.risk_covered
    assert any("400 min of the shift kept free for calls" in w for w in kept.warnings)
    with pytest.raises(InfeasibleError, match="reserve_minutes"):
        routes.hotspot_tour(spots, **kw, reserve_minutes=-5)
    # 'auto': each beat keeps its expected call minutes for the shift's hours
    profile = np.zeros(beats_mod._BINS)
    profile[(8 * 60) // beats_mod.BIN_MINUTES : (16 * 60) // beats_mod.BIN_MINUTES] = 1.0
    layer = gpd.GeoDataFrame(
        {"beat_id": [5], "workload": [1.0], "daily_profile": [json.dumps(profile.tolist())]},
        geometry=[beat],
        crs=spots.crs,
    )
    layer.to_file(tmp_path / "beats.gpkg", layer="beats", driver="GPKG")
    spots.to_file(tmp_path / "hot.gpkg", layer="hotspots", driver="GPKG")
    expected = float(beats_mod.expected_workload(layer, "08:00-16:00").iloc[0])
    assert expected == pytest.approx(8 * 60 / beats_mod.BIN_MINUTES)
    (auto,) = pipeline.routes_file(tmp_path / "beats.gpkg", tmp_path / "hot.gpkg",
                                   tmp_path / "r", network=helsinki_net, shift=SHIFT)  # fmt: skip
    assert auto["reserve_min"] == pytest.approx(expected, abs=0.01)
    (none,) = pipeline.routes_file(tmp_path / "beats.gpkg", tmp_path / "hot.gpkg",
                                   tmp_path / "r0", network=helsinki_net, shift=SHIFT,
                                   reserve=0)  # fmt: skip
    assert none["reserve_min"] == 0
    with pytest.raises(ValueError, match="--reserve is 'auto' or minutes"):
        pipeline.routes_file(tmp_path / "beats.gpkg", tmp_path / "hot.gpkg", tmp_path / "r1",
                             network=helsinki_net, shift=SHIFT, reserve="lots")  # fmt: skip


def test_avoid_and_require_areas_from_files(
    helsinki_net: StreetNetwork, beat_files: tuple[Path, Path], tmp_path: Path
) -> None:
    beats, spots = beat_files
    files = {"network": helsinki_net, "shift": "2025-12-01 08:00-10:00", "beat": 1, "mode": "drive"}
    (base,) = pipeline.routes_file(beats, spots, tmp_path / "base", **files, revisit_every=0)
    path = gpd.read_file(tmp_path / "base" / f"{base['route_id']}.geojson")
    line = path[path["kind"] == "path"].to_crs(helsinki_net.crs).geometry.iloc[0]
    stops = shapely.MultiPoint(
        path[path["kind"] != "path"].to_crs(helsinki_net.crs).geometry.tolist()
    )
    # a small area on the path, away from every stop
    pts = [line.interpolate(f, normalized=True) for f in np.linspace(0.05, 0.95, 40)]
    hole = max(pts, key=lambda q: q.distance(stops)).buffer(25)
    gpd.GeoDataFrame(geometry=[hole], crs=helsinki_net.crs).to_crs(4326).to_file(
        tmp_path / "avoid.geojson", driver="GeoJSON"
    )
    (avoided,) = pipeline.routes_file(
        beats, spots, tmp_path / "avoid", **files, revisit_every=0,
        avoid_areas=tmp_path / "avoid.geojson",
    )  # fmt: skip
    path2 = gpd.read_file(tmp_path / "avoid" / f"{avoided['route_id']}.geojson")
    line2 = path2[path2["kind"] == "path"].to_crs(helsinki_net.crs).geometry.iloc[0]
    assert line.intersects(hole)
    assert not line2.intersects(hole)
    # a required area with no hotspot: the tour stops on its longest street
    G = helsinki_net.drive
    beat1 = gpd.read_file(beats, layer="beats").to_crs(helsinki_net.crs).geometry.iloc[0]
    mids = [d["geometry"].interpolate(0.5, normalized=True) for *_, d in G.edges(data=True)]
    far_mid = max((m for m in mids if beat1.contains(m)),
                  key=lambda m: m.distance(shapely.MultiPoint(spots_points(spots))))  # fmt: skip
    want = far_mid.buffer(40)
    gpd.GeoDataFrame(geometry=[want], crs=helsinki_net.crs).to_file(
        tmp_path / "want.gpkg", driver="GPKG"
    )
    (req,) = pipeline.routes_file(
        beats, spots, tmp_path / "want", **files, revisit_every=0,
        require_areas=tmp_path / "want.gpkg",
    )  # fmt: skip
    visit = [st for st in req["stops"] if st["reason"] == "required area 1"]
    assert len(visit) == 1
    xy = Transformer.from_crs("EPSG:4326", helsinki_net.crs, always_xy=True).transform(
        visit[0]["lon"], visit[0]["lat"]
    )
    assert want.contains(shapely.Point(xy))
    gpd.GeoDataFrame(geometry=[far_mid], crs=helsinki_net.crs).to_file(
        tmp_path / "points.gpkg", driver="GPKG"
    )
    with pytest.raises(InputFileError, match="holds no polygons"):
        pipeline.routes_file(beats, spots, tmp_path / "x", **files,
                             avoid_areas=tmp_path / "points.gpkg")  # fmt: skip


def spots_points(path: Path) -> list[shapely.Point]:
    layer = gpd.read_file(path, layer="hotspots")
    return list(layer.geometry.interpolate(0.5, normalized=True))


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


def test_cli_routes_options(beat_files: tuple[Path, Path], tmp_path: Path) -> None:
    beats, spots = beat_files
    runner = CliRunner()
    base = ["routes", "--beats", str(beats), "--hotspots", str(spots), "--osm", "helsinki",
            "--beat", "2", "--shift", SHIFT, "--json"]  # fmt: skip
    walk = runner.invoke(
        app, [*base, "--coverage", "--break", "12:00/30", "--out", str(tmp_path / "c")]
    )
    assert walk.exit_code == 0, walk.output
    (s,) = json.loads(walk.stdout)
    assert s["kind"] == "postman"
    assert s["break_min"] == 30
    assert s["coverage"] == 1.0
    tour = runner.invoke(
        app, [*base, "--mode", "drive", "--revisit-every", "0", "--out", str(tmp_path / "t")]
    )
    assert tour.exit_code == 0, tour.output
    (t,) = json.loads(tour.stdout)
    assert max(st["visit"] for st in t["stops"]) == 1
    for args, message in [
        (["--coverage", "--require-street", "Mannerheimintie"], "--require-street"),
        (["--break", "12:00/-30"], "positive number of minutes"),
        (["--break", "noon"], "HH:MM/MINUTES"),
        (["--avoid-area", str(tmp_path / "missing.geojson")], "does not exist"),
    ]:
        bad = runner.invoke(app, [*base, *args, "--out", str(tmp_path / "x")])
        assert bad.exit_code == 2, (args, bad.output)
        assert message in " ".join(bad.output.split())
