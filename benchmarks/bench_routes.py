"""Route benchmark: hotspot tours for 10 beats of one shift, matrix speed, postman, quality gap.

Run: ``make bench-routes`` or ``python benchmarks/bench_routes.py [--rows N]``.

On Baltimore (shared reference data) when present, else Helsinki. Incidents
come from the project's generator placed at their true positions (geocoding is
benchmarked separately); hotspots from `find_hotspots` (segment method, 5 %
coverage); 10 beats from k-means of the drive graph's nodes (Voronoi cells of
the centres, clipped to the network's hull). For one 8-hour shift it prints
one ``RESULT`` JSON line per measure:

* ``routes_tours`` (drive, foot): 10 hotspot tours end to end, the travel
  graph built once (snapping, matrices, solver, path, directions), in seconds,
  with the solver used and whether it proved its answer optimal;
* ``routes_matrix`` (drive, walk): travel-time matrix per source,
  ``scipy.sparse.csgraph`` Dijkstra (all sources in one call, and one call per
  source) against ``networkx.single_source_dijkstra_path_length``, side by side
  on the same sources, and the speed-up;
* ``routes_postman``: street-coverage walks of the 10 beats (coverage of the
  reachable street length, deadhead share);
* ``routes_gap`` (drive, foot): risk of the default tour against the best of
  it and a long OR-Tools run (all candidates, stopped on time only) on the
  beats with the most hotspots, all above `routes.EXACT_MAX`.

Targets (issue: routes): 10 routes <= 30 s; matrix per source >= 20x faster
than networkx. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from _common import benchmark_area, emit
from bench_hotspots import incidents_for
from sklearn.cluster import KMeans

from cso_geo import hotspots, network, routes
from cso_geo._errors import CsoGeoError

SHIFT = "2025-12-01 08:00-16:00"


def make_beats(G: nx.MultiDiGraph, k: int = 10, seed: int = 0) -> list[shapely.Geometry]:
    """k compact beats: Voronoi cells of k-means centres of the nodes, clipped to their hull."""
    xy = np.array([(d["x"], d["y"]) for _, d in G.nodes(data=True)])
    centres = KMeans(k, n_init=10, random_state=seed).fit(xy).cluster_centers_
    hull = shapely.MultiPoint(xy).convex_hull.buffer(50)
    cells = shapely.voronoi_polygons(shapely.MultiPoint(centres), extend_to=hull)
    out = []
    for c in centres:
        cell = next(g for g in cells.geoms if g.contains(shapely.Point(c)))
        out.append(cell.intersection(hull))
    return out


def matrix_speed(G: nx.MultiDiGraph, n_sources: int, seed: int = 0) -> dict[str, float]:
    """Per-source milliseconds of scipy (batch and one by one) and networkx, same sources."""
    tg = routes.TravelGraph(G)
    rng = np.random.default_rng(seed)
    pos = sorted(rng.choice(len(tg.nodes), size=n_sources, replace=False).tolist())
    t0 = time.perf_counter()
    batch, _ = tg.shortest(pos)
    t_batch = (time.perf_counter() - t0) / n_sources
    t0 = time.perf_counter()
    for p in pos:
        tg.shortest([p])
    t_single = (time.perf_counter() - t0) / n_sources
    t0 = time.perf_counter()
    ref = [nx.single_source_dijkstra_path_length(G, tg.nodes[p], weight="travel_time") for p in pos]
    t_nx = (time.perf_counter() - t0) / n_sources
    # the same answers
    for i, d in enumerate(ref):
        got = batch[i, [tg.index[n] for n in d]]
        assert np.allclose(got, list(d.values()), atol=1e-3)
    return {
        "nodes": G.number_of_nodes(),
        "edges": G.number_of_edges(),
        "sources": n_sources,
        "scipy_batch_ms": round(t_batch * 1000, 3),
        "scipy_single_ms": round(t_single * 1000, 3),
        "networkx_ms": round(t_nx * 1000, 3),
        "speedup_batch": round(t_nx / t_batch, 1),
        "speedup_single": round(t_nx / t_single, 1),
    }


def tours(
    net: network.StreetNetwork, found: gpd.GeoDataFrame, beats: list[shapely.Geometry], mode: str
) -> tuple[dict[str, object], list[routes.Route | None], routes.TravelGraph]:
    t0 = time.perf_counter()
    tg = routes.TravelGraph(net.graph(mode))
    done: list[routes.Route | None] = []
    failed = []
    for i, b in enumerate(beats):
        try:
            done.append(
                routes.hotspot_tour(
                    found, network=net, shift=SHIFT, beat=b, beat_id=i + 1, mode=mode, travel=tg
                )
            )
        except CsoGeoError as exc:  # reported, as `routes_file` does for --beat all
            done.append(None)
            failed.append(f"beat {i + 1}: {exc}")
    seconds = time.perf_counter() - t0
    ok = [t for t in done if t is not None]
    return (
        {
            "bench": "routes_tours",
            "mode": mode,
            "shift": SHIFT,
            "beats": len(beats),
            "seconds": round(seconds, 2),
            "target_s": 30,
            "feasible": sum(t.feasible for t in ok),
            "failed": failed,
            "stops": sum(t.n_stops for t in ok),
            "hotspots": [int(t.extra["hotspots"]) if t else None for t in done],
            "candidates": [int(t.extra["candidates"]) if t else None for t in done],
            "solvers": [str(t.extra["solver"]) if t else None for t in done],
            "proven_optimal": sum(bool(t.extra["optimal"]) for t in ok),
            "max_duration_min": round(max((t.duration_min for t in ok), default=0.0), 1),
        },
        done,
        tg,
    )


def gap(
    net: network.StreetNetwork,
    found: gpd.GeoDataFrame,
    beats: list[shapely.Geometry],
    done: list[routes.Route | None],
    *,
    tg: routes.TravelGraph,
    mode: str,
    count: int,
    seconds: float,
) -> list[dict[str, object]]:
    """The default tour against a long OR-Tools run on the `count` beats with most hotspots."""
    big = [
        i
        for i in sorted(
            range(len(done)), key=lambda i: -(done[i].extra["hotspots"] if done[i] else 0)
        )
        if done[i] is not None and done[i].extra["hotspots"] > routes.EXACT_MAX
    ][:count]
    out = []
    for i in big:
        default = done[i]
        assert default is not None
        t0 = time.perf_counter()
        long = routes.hotspot_tour(
            found, network=net, shift=SHIFT, beat=beats[i], beat_id=i + 1, mode=mode,
            travel=tg, method="ortools", time_limit=seconds, solution_limit=10**9,
        )  # fmt: skip
        best = max(long.objective, default.objective)
        out.append(
            {
                "bench": "routes_gap",
                "mode": mode,
                "beat": i + 1,
                "hotspots": int(default.extra["hotspots"]),
                "candidates": int(default.extra["candidates"]),
                "default_risk": round(default.objective, 3),
                "long_run_risk": round(long.objective, 3),
                "long_run_s": round(time.perf_counter() - t0, 1),
                "gap": round(1 - default.objective / best, 4) if best else 0.0,
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--gap-beats", type=int, default=3, help="beats per mode for the gap")
    parser.add_argument("--long-run-s", type=float, default=30.0, help="seconds per long run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    area, src = benchmark_area()
    net = network.network_from_file(src)
    t0 = time.perf_counter()
    incidents = incidents_for(net, args.rows)
    found = hotspots.find_hotspots(incidents, hotspots.street_units(net.walk, unit_length=100))
    emit(
        {
            "bench": "routes_data",
            "area": area,
            "incidents": len(incidents),
            "hotspots": len(found),
            "prepare_s": round(time.perf_counter() - t0, 1),
        }
    )
    beats = make_beats(net.drive)
    results = []
    for mode in ("drive", "foot"):
        record, done, tg = tours(net, found, beats, mode)
        emit({"area": area, **record})
        results.append((mode, done, tg))
    for name, G in (("drive", net.drive), ("walk", net.walk)):
        emit({"bench": "routes_matrix", "area": area, "graph": name,
              **matrix_speed(G, args.sources)})  # fmt: skip
    t0 = time.perf_counter()
    walks = []
    for i, b in enumerate(beats):
        try:
            walks.append(routes.postman_route(net, beat=b, shift=SHIFT, beat_id=i + 1))
        except CsoGeoError as exc:
            print(f"postman beat {i + 1}: {exc}")
    shares = [round(w.extra["deadhead_share"], 3) for w in walks]
    emit(
        {
            "bench": "routes_postman",
            "area": area,
            "beats": len(walks),
            "seconds": round(time.perf_counter() - t0, 1),
            "street_km": round(sum(w.extra["street_m"] for w in walks) / 1000, 1),
            "min_coverage": min(w.extra["coverage"] for w in walks),
            "unreachable_km": round(sum(w.extra["unreachable_m"] for w in walks) / 1000, 2),
            "deadhead_share": shares,
            "deadhead_share_mean": round(float(np.mean(shares)), 3),
        }
    )
    for mode, done, tg in results:
        for row in gap(net, found, beats, done, tg=tg, mode=mode, count=args.gap_beats,
                       seconds=args.long_run_s):  # fmt: skip
            emit({"area": area, **row})
    return 0


if __name__ == "__main__":
    sys.exit(main())
