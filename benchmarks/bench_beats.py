"""Beats benchmark: 8 balanced beats on the largest real network, and a method comparison.

Run: ``make bench-beats`` or ``python benchmarks/bench_beats.py [--n 8] [--unit-length 25]
[--compare]``.

Incidents come from the project's generator on Baltimore (shared reference
data) when present, else Helsinki, placed at their true positions (geocoding
is benchmarked separately). The walk network is cut into street units of
``--unit-length`` metres (25 m gives more than 20,000 units on Baltimore,
whose walk graph has about 16,000 directed edges). It times building the
units (snapping every incident), the optimisation alone, and the whole plan
(optimisation plus scoring of the proposal and of the k-means baseline:
polygons, Polsby-Popper, network diameters).

Target (issue: beats): 8 beats on >= 20k edges/units in <= 60 s on 2 cores.
``--compare`` also runs every method (power, grow, skater) for N = 4..12 on
the bundled Helsinki sample and prints imbalance, contiguity and
compactness beside the k-means baseline. Each line starting ``RESULT`` is JSON.
"""

from __future__ import annotations

import argparse
import logging
import time

import geopandas as gpd
import pandas as pd
from _common import benchmark_area, emit

from cso_geo import beats, network
from cso_geo.datasets import synthetic
from cso_geo.taxonomy import load_taxonomy


def incidents_for(net: network.StreetNetwork, *, seed: int = 21) -> gpd.GeoDataFrame:
    sample = synthetic.generate_cad(net, months=12, seed=seed)
    located = sample.truth["lon"].notna().to_numpy()
    cad, truth = sample.cad.loc[located], sample.truth.loc[located]
    minutes = {t.code: t.service_minutes for t in load_taxonomy().call_types}
    return gpd.GeoDataFrame(
        {
            "received_at": pd.to_datetime(cad["received_at"]).to_numpy(),
            "call_type_code": cad["call_type_code"].to_numpy(),
            "category": truth["category"].to_numpy(),
            "service_minutes": cad["call_type_code"].map(minutes).to_numpy(),
        },
        geometry=gpd.points_from_xy(truth["lon"], truth["lat"]),
        crs="EPSG:4326",
    ).to_crs(net.crs)


def run(area: str, net: network.StreetNetwork, *, n: int, unit_length: float) -> None:
    incidents = incidents_for(net)
    t0 = time.perf_counter()
    units = beats.build_units(incidents, net, unit_length=unit_length)
    t_units = time.perf_counter() - t0
    t0 = time.perf_counter()
    labels = beats.partition(units, n, seed=0)
    t_part = time.perf_counter() - t0
    t0 = time.perf_counter()
    plan = beats.plan_beats(units, n, seed=0)
    t_plan = time.perf_counter() - t0
    s, base = plan.summary, plan.summary["baseline"]
    assert (plan.labels == labels).all(), "same seed must give the same beats"
    emit(
        {
            "area": area,
            "walk_edges": net.walk.number_of_edges(),
            "units": len(units),
            "unit_length_m": unit_length,
            "incidents": units.stats["incidents"],
            "n_beats": n,
            "units_s": round(t_units, 2),
            "partition_s": round(t_part, 2),
            "plan_with_scoring_s": round(t_plan, 2),
            "total_s": round(t_units + t_plan, 2),
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


def compare(area: str, net: network.StreetNetwork, *, unit_length: float) -> None:
    units = beats.build_units(incidents_for(net), net, unit_length=unit_length)
    for n in (4, 6, 8, 10, 12):
        _, base = beats.score_beats(units, beats.kmeans_baseline(units, n, seed=0), n)
        emit(
            {
                "area": area,
                "n_beats": n,
                "method": "kmeans_baseline",
                "imbalance": base["imbalance"],
                "all_contiguous": base["all_contiguous"],
                "mean_polsby_popper": base["mean_polsby_popper"],
                "max_network_km": base["max_network_km"],
            }
        )
        for method in beats.METHODS:
            t0 = time.perf_counter()
            labels = beats.partition(units, n, seed=0, method=method)
            seconds = time.perf_counter() - t0
            _, s = beats.score_beats(units, labels, n)
            emit(
                {
                    "area": area,
                    "n_beats": n,
                    "method": method,
                    "seconds": round(seconds, 2),
                    "imbalance": s["imbalance"],
                    "all_contiguous": s["all_contiguous"],
                    "mean_polsby_popper": s["mean_polsby_popper"],
                    "max_network_km": s["max_network_km"],
                }
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--unit-length", type=float, default=25.0)
    parser.add_argument("--compare", action="store_true", help="compare methods on Helsinki")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    area, src = benchmark_area()
    run(area, network.network_from_file(src), n=args.n, unit_length=args.unit_length)
    if args.compare:
        compare("helsinki", network.network_from_file("helsinki"), unit_length=50.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
