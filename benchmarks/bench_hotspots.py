"""Hotspot benchmark: 1M incidents on a real network, per method, with peak memory.

Run: ``make bench-hotspots`` or ``python benchmarks/bench_hotspots.py [--rows N]``.

Incidents come from the project's generator on Baltimore (shared reference
data) when present, else Helsinki, placed at their true positions (geocoding
is benchmarked separately). For each method it times `find_hotspots` end to
end (street units or grid, scoring, ranking and describing every hotspot) and
prints the process's peak resident memory after it.

Targets (issue: hotspots): segment hotspots <= 30 s, grid KDE <= 10 s,
HDBSCAN path <= 60 s (it clusters a seeded 50,000-point subsample and assigns
the rest) for 1M incidents. Each line starting ``RESULT`` is JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import geopandas as gpd
import numpy as np
from _common import benchmark_area, emit, peak_mb, true_positions

from cso_geo import hotspots, network
from cso_geo.datasets import synthetic


def incidents_for(net: network.StreetNetwork, rows: int) -> gpd.GeoDataFrame:
    per_month = int(np.ceil(rows / 12 / 1.07))
    sample = synthetic.generate_cad(net, months=12, calls_per_month=per_month, seed=21)
    return true_positions(sample, net)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    area, src = benchmark_area()
    net = network.network_from_file(src)
    t0 = time.perf_counter()
    incidents = incidents_for(net, args.rows)
    t_gen = time.perf_counter() - t0
    base_mb = peak_mb()
    record: dict[str, float | int | str] = {
        "area": area,
        "incidents": len(incidents),
        "generate_s": round(t_gen, 1),
        "peak_rss_after_generate_mb": round(base_mb),
    }
    for method in ("segment", "naive", "kde", "gistar", "hdbscan"):
        t0 = time.perf_counter()
        streets = hotspots.street_units(net.walk, unit_length=100)
        found = hotspots.find_hotspots(incidents, streets, method=method)
        record[f"{method}_s"] = round(time.perf_counter() - t0, 2)
        record[f"{method}_hotspots"] = len(found)
        record[f"{method}_peak_rss_mb"] = round(peak_mb())
    record["street_units"] = len(streets.units)
    emit(record)
    print()
    for k, v in record.items():
        print(f"{k:>28}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
