"""Geocoder benchmark: index build, throughput on 1M rows, end to end, and snapping.

Run: ``make bench-geocode`` or ``python benchmarks/bench_geocode.py [--rows N]``.

On Baltimore (shared reference data) when present, else Helsinki:

- ``index_build_s``: `GeocodeIndex.from_network` from a loaded network;
- ``geocode_rows_per_s``: `geocode_strings` over the address column of a
  generated CAD export of at least 1M rows, index already built (each
  distinct string is resolved once, as in production);
- ``end_to_end_s``: a 1M-row CSV from disk to geocoded GeoDataFrame: ingest,
  network from cache, index build, geocode;
- snapping: `EdgeIndex.snap` against ``osmnx.distance.nearest_edges`` on the
  same points (incident-like: on streets, jittered ~15 m), side by side.

Targets (issue: geocoder): >= 100k addresses/s after the index is built;
<= 60 s for a 1M-row CSV end to end on 2 cores; snapping >= 10x faster than
``nearest_edges``. Each line starting ``RESULT`` is JSON.
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import osmnx as ox
import pandas as pd
import shapely
from _common import benchmark_area, emit, timed

from cso_geo import geocode, ingest, network
from cso_geo.datasets import synthetic
from cso_geo.snapping import EdgeIndex


def make_rows(net: network.StreetNetwork, rows: int, seed: int) -> synthetic.SampleCad:
    per_month = int(np.ceil(rows / 12 / 1.07))  # near repeats add ~7%
    return synthetic.generate_cad(net, months=12, calls_per_month=per_month, seed=seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--snap-points", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    area, src = benchmark_area()

    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        net = network.network_from_file(src, cache_folder=cache)
        t_index, index = timed(lambda: geocode.GeocodeIndex.from_network(net), repeat=3)

        t0 = time.perf_counter()
        sample = make_rows(net, args.rows, seed=11)
        t_gen = time.perf_counter() - t0
        n_rows = len(sample.cad)
        n_unique = int(sample.cad["address"].nunique())
        csv = Path(tmp) / "calls.csv"
        synthetic.write_sample(sample, csv)

        fresh = geocode.GeocodeIndex.from_network(net)
        t_geo, res = timed(lambda: fresh.geocode_strings(sample.cad["address"].tolist()))
        hit = float((res["match_type"] != "unmatched").mean())

        def end_to_end() -> int:
            result = ingest.read_incidents(csv, profile="cso_geo_sample")
            n2 = network.network_from_file(src, cache_folder=cache)
            idx = geocode.GeocodeIndex.from_network(n2)
            out = geocode.geocode(result.accepted, idx, network=n2)
            return len(out)

        t_e2e, n_out = timed(end_to_end)
        assert n_out == n_rows

        # snapping, side by side on the same points
        segs = network.street_segments(net.walk, classes=None)
        rng = np.random.default_rng(5)
        pick = rng.integers(len(segs), size=args.snap_points)
        on = shapely.line_interpolate_point(
            segs.geometry.to_numpy()[pick], rng.random(args.snap_points), normalized=True
        )
        xy = shapely.get_coordinates(on) + rng.normal(0, 15, (args.snap_points, 2))
        t_build, eidx = timed(lambda: EdgeIndex.from_graph(net.walk))
        t_ours, ours = timed(lambda: eidx.snap(xy[:, 0], xy[:, 1]))
        t_ox, theirs = timed(lambda: ox.distance.nearest_edges(net.walk, xy[:, 0], xy[:, 1]))
        theirs_uv = pd.DataFrame(list(theirs), columns=["u", "v", "key"])
        # osmnx returns either direction of a two-way street; compare unordered
        same = (
            (ours["u"].to_numpy() == theirs_uv["u"].to_numpy())
            & (ours["v"].to_numpy() == theirs_uv["v"].to_numpy())
        ) | (
            (ours["u"].to_numpy() == theirs_uv["v"].to_numpy())
            & (ours["v"].to_numpy() == theirs_uv["u"].to_numpy())
        )

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record = {
        "area": area,
        "index_streets": index.stats_["streets"],
        "index_address_points": index.stats_["address_points"],
        "index_intersections": index.stats_["intersections"],
        "index_build_s": round(t_index, 3),
        "rows": n_rows,
        "distinct_addresses": n_unique,
        "generate_s": round(t_gen, 1),
        "geocode_s": round(t_geo, 2),
        "geocode_rows_per_s": round(n_rows / t_geo),
        "geocode_distinct_per_s": round(n_unique / t_geo),
        "hit_rate": round(hit, 5),
        "end_to_end_s": round(t_e2e, 2),
        "snap_points": args.snap_points,
        "snap_index_build_s": round(t_build, 3),
        "snap_s": round(t_ours, 3),
        "nearest_edges_s": round(t_ox, 3),
        "snap_speedup": round(t_ox / t_ours, 1),
        "snap_same_edge_share": round(float(same.mean()), 5),
        "peak_rss_mb": round(peak_mb),
    }
    emit(record)
    print()
    for k, v in record.items():
        print(f"{k:>26}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
