"""Beats benchmark: 8 balanced beats on the largest real network, and a method comparison.

Run: ``make bench-beats`` or ``python benchmarks/bench_beats.py [--n 8] [--unit-length 25]
[--graph unsimplified|simplified] [--compare [--areas helsinki,baltimore]
[--methods power,pmedian,grow]]``.

Incidents come from the project's generator (``generate_cad(net, months=12,
seed=1)``) on Baltimore (shared reference data) when present, else Helsinki,
placed at their true positions (geocoding is benchmarked separately).

What it runs on, honestly: Baltimore's simplified walk graph (the one the
toolkit routes on) has 16,194 directed edges, fewer than the issue's 20k
target. The same streets unsimplified, with every OSM vertex a node as
osmnx builds them with ``simplify=False``, have 30,850 edges: the timed run
plans on that graph by default (``--graph simplified`` for the other). The
optimiser works on street units either way, here pieces of at most
``--unit-length`` 25 m (about 29,000 units). The RESULT line gives
``walk_edges`` (of the graph planned on), ``simplified_walk_edges`` and
``units``. It times building the units (snapping every incident), the
optimisation alone, and the scoring of the proposal and of the k-means
baseline (polygons, Polsby-Popper, exact network diameters), and reports the
peak resident memory of the process (``resource.getrusage``).

Target (issue: beats): 8 beats on >= 20k edges in <= 60 s on 2 cores.

``--compare`` runs the methods (auto = the better of power and pmedian,
which is the default, then power, pmedian and grow on their own; add skater
with ``--methods``) for N = 4..12 on each area with 50 m units
and prints, per N, imbalance, contiguity, mean Polsby-Popper and max network
km beside the k-means baseline, then one summary line per method: on how
many N it beats the baseline on each metric. The baseline's line also gives
``far_end_ball_km``: how far across one beat of mean workload around the
area's most remote street would be (see the function of that name). Each line starting ``RESULT`` is
JSON.
"""

from __future__ import annotations

import argparse
import logging
import time

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from _common import benchmark_area, emit, peak_mb, shared_data, true_positions

from cso_geo import beats, network
from cso_geo.datasets import synthetic


def incidents_for(net: network.StreetNetwork, *, seed: int = 1) -> gpd.GeoDataFrame:
    """A year of generated incidents at their true positions, in the network CRS."""
    sample = synthetic.generate_cad(net, months=12, seed=seed)
    return true_positions(sample, net)


def unsimplified(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """The same streets with every vertex of every edge geometry a node.

    That is the topology osmnx builds with ``simplify=False``: one edge per
    pair of consecutive OSM nodes. Attributes are copied to the pieces, with
    ``length`` and ``travel_time`` shared out by length.
    """
    H = nx.MultiDiGraph(**G.graph)
    H.graph["simplified"] = False
    H.add_nodes_from(G.nodes(data=True))
    vertex: dict[tuple[float, float], int] = {}
    next_id = max(G.nodes) + 1
    for u, v, d in G.edges(data=True):
        line = d["geometry"]
        xy = list(line.coords)
        nodes = [u]
        for x, y in xy[1:-1]:
            key = (round(x, 2), round(y, 2))
            if key not in vertex:  # the reverse edge shares its vertices
                vertex[key] = next_id
                H.add_node(next_id, x=x, y=y, street_count=2)
                next_id += 1
            nodes.append(vertex[key])
        nodes.append(v)
        total = max(float(line.length), 1e-9)
        for a, b, p, q in zip(nodes[:-1], nodes[1:], xy[:-1], xy[1:], strict=True):
            piece = shapely.LineString([p, q])
            attrs = {**d, "geometry": piece, "length": piece.length}
            if "travel_time" in d:
                attrs["travel_time"] = d["travel_time"] * piece.length / total
            H.add_edge(a, b, **attrs)
    return H


def run(area: str, net: network.StreetNetwork, *, n: int, unit_length: float, graph: str) -> None:
    incidents = incidents_for(net)
    G = unsimplified(net.walk) if graph == "unsimplified" else net.walk
    if graph == "unsimplified":  # the same streets, cut at every vertex
        pieces = sum(len(d["geometry"].coords) - 1 for *_, d in net.walk.edges(data=True))
        assert G.number_of_edges() == pieces

        def metres(H: nx.MultiDiGraph) -> float:
            return sum(float(d["geometry"].length) for *_, d in H.edges(data=True))

        assert abs(metres(G) - metres(net.walk)) < 1e-6 * metres(net.walk)
    t0 = time.perf_counter()
    units = beats.build_units(incidents, G, unit_length=unit_length)
    t_units = time.perf_counter() - t0
    t0 = time.perf_counter()
    labels = beats.partition(units, n, seed=0)
    t_part = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, s = beats.score_beats(units, labels, n)
    _, base = beats.score_beats(units, beats.kmeans_baseline(units, n, seed=0), n)
    t_score = time.perf_counter() - t0
    edges = G.number_of_edges()
    total = t_units + t_part + t_score
    emit(
        {
            "area": area,
            "graph": graph,
            "walk_edges": edges,
            "simplified_walk_edges": net.walk.number_of_edges(),
            "units": len(units),
            "unit_length_m": unit_length,
            "incidents": units.stats["incidents"],
            "n_beats": n,
            "units_s": round(t_units, 2),
            "partition_s": round(t_part, 2),
            "scoring_s": round(t_score, 2),
            "total_s": round(total, 2),
            "peak_rss_mb": peak_mb(),
            "target": "8 beats, >= 20k edges, <= 60 s on 2 cores",
            "edges_at_least_20k": edges >= 20_000,
            "units_at_least_20k": len(units) >= 20_000,
            "within_60_s": total <= 60.0,
            "imbalance": s["imbalance"],
            "all_contiguous": s["all_contiguous"],
            "mean_polsby_popper": s["mean_polsby_popper"],
            "max_network_km": s["max_network_km"],
            "baseline_imbalance": base["imbalance"],
            "baseline_all_contiguous": base["all_contiguous"],
            "baseline_mean_polsby_popper": base["mean_polsby_popper"],
            "baseline_max_network_km": base["max_network_km"],
        }
    )


def far_end_ball_km(units: beats.BeatUnits, n: int) -> float:
    """Longest trip (km) of one beat-sized network ball around the area's most remote street.

    The most remote unit is the farthest along the streets from the one
    nearest the centre of work; the ball is the units nearest to it along
    the streets that hold the mean workload (1/n of it all). A yardstick for
    the beat that must hold that far end, not a plan: the other n - 1 beats
    are not drawn.
    """
    from scipy.sparse import csgraph  # noqa: PLC0415

    g = beats._unit_graph(units)
    w, mids = units.workload, units.midpoints
    centre = np.average(mids, axis=0, weights=w + 1e-9)
    d = csgraph.dijkstra(g, directed=False, indices=int(np.argmin(((mids - centre) ** 2).sum(1))))
    far = int(np.argmax(np.where(np.isfinite(d), d, -1.0)))
    d = csgraph.dijkstra(g, directed=False, indices=far)
    order = np.argsort(d, kind="stable")
    take = order[: int(np.searchsorted(np.cumsum(w[order]), w.sum() / n)) + 1]
    return round(beats._travel_km(units, take), 3)


def compare(
    area: str, net: network.StreetNetwork, *, unit_length: float, methods: list[str]
) -> None:
    units = beats.build_units(incidents_for(net), net, unit_length=unit_length)
    wins = {m: {"polsby_popper": 0, "max_network_km": 0, "both": 0, "balanced": 0} for m in methods}
    sums = {m: {"pp": 0.0, "km": 0.0, "seconds": 0.0} for m in methods}
    ns = range(4, 13)
    for n in ns:
        _, base = beats.score_beats(units, beats.kmeans_baseline(units, n, seed=0), n)
        emit(
            {
                "area": area,
                "units": len(units),
                "n_beats": n,
                "method": "kmeans_baseline",
                "imbalance": base["imbalance"],
                "all_contiguous": base["all_contiguous"],
                "mean_polsby_popper": base["mean_polsby_popper"],
                "max_network_km": base["max_network_km"],
                "mean_network_km": base["mean_network_km"],
                "far_end_ball_km": far_end_ball_km(units, n),
            }
        )
        for method in methods:
            t0 = time.perf_counter()
            labels = beats.partition(units, n, seed=0, method=method)
            seconds = time.perf_counter() - t0
            _, s = beats.score_beats(units, labels, n)
            pp = s["mean_polsby_popper"] > base["mean_polsby_popper"]
            km = s["max_network_km"] < base["max_network_km"]
            ok = s["imbalance"] <= 0.05 and s["all_contiguous"]
            w = wins[method]
            w["polsby_popper"] += pp
            w["max_network_km"] += km
            w["both"] += pp and km
            w["balanced"] += ok
            sums[method]["pp"] += s["mean_polsby_popper"]
            sums[method]["km"] += s["max_network_km"]
            sums[method]["seconds"] += seconds
            emit(
                {
                    "area": area,
                    "units": len(units),
                    "n_beats": n,
                    "method": method,
                    "seconds": round(seconds, 2),
                    "imbalance": s["imbalance"],
                    "all_contiguous": s["all_contiguous"],
                    "mean_polsby_popper": s["mean_polsby_popper"],
                    "max_network_km": s["max_network_km"],
                    "mean_network_km": s["mean_network_km"],
                    "better_polsby_popper": pp,
                    "better_max_network_km": km,
                }
            )
    for method in methods:
        emit(
            {
                "area": area,
                "summary": method,
                "n_values": len(ns),
                "wins_over_baseline": wins[method],
                "mean_polsby_popper": round(sums[method]["pp"] / len(ns), 4),
                "mean_max_network_km": round(sums[method]["km"] / len(ns), 3),
                "seconds": round(sums[method]["seconds"], 1),
            }
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--unit-length", type=float, default=25.0)
    parser.add_argument(
        "--graph",
        choices=("unsimplified", "simplified"),
        default="unsimplified",
        help="walk graph to plan the timed run on",
    )
    parser.add_argument("--compare", action="store_true", help="compare methods for N = 4..12")
    parser.add_argument("--areas", default="helsinki,baltimore", help="areas for --compare")
    parser.add_argument("--methods", default="auto,power,pmedian,grow", help="for --compare")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    area, src = benchmark_area()
    net = network.network_from_file(src)
    run(area, net, n=args.n, unit_length=args.unit_length, graph=args.graph)
    if args.compare:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        shared = shared_data()
        for name in (a.strip() for a in args.areas.split(",")):
            if name == "helsinki":
                compare(
                    name, network.network_from_file("helsinki"), unit_length=50.0, methods=methods
                )
            elif shared is not None and (shared / f"{name}.osm.pbf").exists():
                net = network.network_from_file(shared / f"{name}.osm.pbf")
                compare(name, net, unit_length=50.0, methods=methods)
            else:
                print(f"{name}: not in the shared reference data; skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
