"""Route benchmark: hotspot tours for 10 beats of one shift, matrix speed, postman, quality gap.

Run: ``make bench-routes`` or ``python benchmarks/bench_routes.py [--rows N]``.

On Baltimore (shared reference data) when present, else Helsinki. Incidents
come from the project's generator placed at their true positions (geocoding is
benchmarked separately); hotspots from `find_hotspots` (segment method, 5 %
coverage); 10 beats from k-means of the drive graph's nodes (Voronoi cells of
the centres, clipped to the network's hull). For one 8-hour shift it times:

* ``tours_drive_s`` / ``tours_foot_s``: 10 hotspot tours end to end (travel
  graph built once, snapping, matrices, solver, path and directions);
* ``matrix_*``: travel-time matrix per source, ``scipy.sparse.csgraph``
  Dijkstra (all sources in one call, and one call per source) against
  ``networkx.single_source_dijkstra_path_length``, side by side;
* ``postman_*``: street-coverage walks of the beats (coverage, deadhead share);
* ``gap_*``: covered risk of the default tour against a long OR-Tools run
  (60x the solution limit) on the beats with the most candidates.

Targets (issue: routes): 10 routes <= 30 s; matrix per source >= 20x faster
than networkx. Each line starting ``RESULT`` is JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import networkx as nx
import numpy as np
import shapely
from _common import benchmark_area, emit
from bench_hotspots import incidents_for
from sklearn.cluster import KMeans

from cso_geo import hotspots, network, routes

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
        "sources": n_sources,
        "scipy_batch_ms": round(t_batch * 1000, 3),
        "scipy_single_ms": round(t_single * 1000, 3),
        "networkx_ms": round(t_nx * 1000, 3),
        "speedup_batch": round(t_nx / t_batch, 1),
        "speedup_single": round(t_nx / t_single, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--sources", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    area, src = benchmark_area()
    net = network.network_from_file(src)
    record: dict[str, object] = {"area": area, "shift": SHIFT}
    t0 = time.perf_counter()
    incidents = incidents_for(net, args.rows)
    found = hotspots.find_hotspots(incidents, hotspots.street_units(net.walk, unit_length=100))
    record.update(
        incidents=len(incidents),
        hotspots=len(found),
        prepare_s=round(time.perf_counter() - t0, 1),
    )
    beats = make_beats(net.drive)
    for mode in ("drive", "foot"):
        t0 = time.perf_counter()
        tg = routes.TravelGraph(net.graph(mode))
        tours = [
            routes.hotspot_tour(
                found, network=net, shift=SHIFT, beat=b, beat_id=i + 1, mode=mode, travel=tg
            )
            for i, b in enumerate(beats)
        ]
        record[f"tours_{mode}_s"] = round(time.perf_counter() - t0, 2)
        record[f"tours_{mode}_stops"] = sum(len(t.stops) - 2 for t in tours)
        record[f"tours_{mode}_candidates"] = [int(t.extra["candidates"]) for t in tours]
        record[f"tours_{mode}_feasible"] = sum(t.feasible for t in tours)
        record[f"tours_{mode}_max_duration_min"] = round(max(t.duration_min for t in tours), 1)
        if mode == "drive":
            # the gap to a long run on the two beats with the most candidates
            worst = sorted(range(len(tours)), key=lambda i: -tours[i].extra["candidates"])[:2]
            gaps = []
            for i in worst:
                long = routes.hotspot_tour(
                    found, network=net, shift=SHIFT, beat=beats[i], beat_id=i + 1, mode=mode,
                    travel=tg, method="ortools", time_limit=60, solution_limit=15_000,
                )  # fmt: skip
                best = max(long.risk_covered, tours[i].risk_covered)
                gaps.append(round(1 - tours[i].risk_covered / best, 4) if best else 0.0)
            record["gap_to_long_run"] = gaps
    for mode, G in (("drive", net.drive), ("walk", net.walk)):
        for k, v in matrix_speed(G, args.sources).items():
            record[f"matrix_{mode}_{k}"] = v
    t0 = time.perf_counter()
    walks = [
        routes.postman_route(net, beat=b, shift=SHIFT, beat_id=i + 1, hotspots=found)
        for i, b in enumerate(beats)
    ]
    record["postman_s"] = round(time.perf_counter() - t0, 1)
    record["postman_street_km"] = round(sum(w.extra["street_m"] for w in walks) / 1000, 1)
    record["postman_min_coverage"] = min(w.extra["coverage"] for w in walks)
    record["postman_unreachable_km"] = round(sum(w.extra["unreachable_m"] for w in walks) / 1000, 2)
    record["postman_deadhead_share"] = [round(w.extra["deadhead_share"], 3) for w in walks]
    emit(record)
    print()
    for k, v in record.items():
        print(f"{k:>34}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
