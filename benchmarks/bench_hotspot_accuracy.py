"""How well each hotspot method forecasts next month's calls, with known truth.

Run: ``make bench-accuracy`` or ``python benchmarks/bench_hotspot_accuracy.py [--quick]``.

Not a timing benchmark: it prints the figures the hotspot issue asks for.

1. The sample city (the committed 12-month export, geocoded as `cso-geo demo`
   does): rolling-origin backtest of every method, PAI/PEI/hit at 5% and
   the segment method's gain over the naive baseline, averaged over cuts.
2. The same for other generator seeds, so one lucky draw is not the story.
3. Recovery of the generator's planted hotspots: precision and recall of the
   top-k street units (k = number of planted hotspots) and of the units
   flagged at 5% of street length.
4. The gain over the naive baseline as the call density grows: the denser
   the calls, the better one month of counts already forecasts.
5. Real timestamps and places: the San Francisco export (shared reference
   data, when present), grid methods only since there is no SF network.

Each line starting ``RESULT`` is JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
from _common import REPO, emit, shared_data

from cso_geo import evaluate, geocode, hotspots, ingest, network, pipeline
from cso_geo.datasets import synthetic

CUT = "2025-12-01"
METHODS = (*hotspots.SEGMENT_METHODS, "kde", "naive_grid", "gistar", "tuned")


def geocoded(net: network.StreetNetwork, cad: pd.DataFrame | Path) -> gpd.GeoDataFrame:
    if isinstance(cad, Path):
        table = ingest.read_incidents(cad, profile="cso_geo_sample").accepted
    else:
        tmp = REPO / "out" / "_accuracy_cad.csv"
        tmp.parent.mkdir(exist_ok=True)
        cad.to_csv(tmp, index=False)
        table = ingest.read_incidents(tmp, profile="cso_geo_sample").accepted
        tmp.unlink()
    return hotspots.select_incidents(
        geocode.geocode(table, geocode.GeocodeIndex.from_network(net), network=net)
    )


def backtest(net: network.StreetNetwork, inc: gpd.GeoDataFrame, cuts: int) -> dict[str, dict]:
    streets = hotspots.street_units(net.walk)
    report = hotspots.backtest(
        inc,
        streets,
        cut=CUT,
        cuts=cuts,
        methods=METHODS,
        tuning_units=pipeline.tuning_units(net, streets),
    )
    return report["methods"]


def planted(net: network.StreetNetwork, spots: pd.DataFrame) -> gpd.GeoSeries:
    seg = network.street_segments(net.walk)
    seg["segment_id"] = [f"{u}-{v}-{k}" for u, v, k in zip(seg.u, seg.v, seg.key, strict=True)]
    keep = spots[spots["kind"] != "flare"].merge(seg[["segment_id", "geometry"]], on="segment_id")
    return gpd.GeoSeries(keep["geometry"].to_numpy(), crs=seg.crs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds and densities")
    parser.add_argument("--cuts", type=int, default=6)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    net = network.network_from_file("helsinki")

    # 1. the committed sample
    inc = geocoded(net, REPO / "data" / "helsinki_cad_2025.csv")
    for cuts in sorted({3, args.cuts}):
        m = backtest(net, inc, cuts)
        gain = m["segment"]["pai@0.05"] / m["naive"]["pai@0.05"] - 1
        emit(
            {
                "what": "sample city backtest",
                "cuts": cuts,
                "incidents": len(inc),
                "segment_gain_over_naive": round(gain, 3),
                "tuned_gain_over_naive": round(
                    m["tuned"]["pai@0.05"] / m["naive"]["pai@0.05"] - 1, 3
                ),
                **{f"{k} pai@0.05": v["pai@0.05"] for k, v in m.items()},
                **{f"{k} pei@0.05": v["pei@0.05"] for k, v in m.items()},
                **{f"{k} hit@0.05": v["hit@0.05"] for k, v in m.items()},
            }
        )

    # 2. other seeds, 3. recovery
    seeds = (1, 2, 3) if args.quick else (1, 2, 3, 4, 5)
    streets = hotspots.street_units(net.walk)
    for seed in seeds:
        sample = synthetic.generate_cad(net, months=12, seed=seed)
        inc_s = geocoded(net, sample.cad)
        m = backtest(net, inc_s, args.cuts)
        truth = planted(net, sample.hotspots)
        found = hotspots.find_hotspots(inc_s, streets, method="segment", coverage=0.05)
        top_k = found.head(len(truth))
        at_k = evaluate.recovery(top_k.geometry, truth, tolerance=1.0)
        at_5 = evaluate.recovery(found.geometry, truth, tolerance=1.0)
        persistent = planted(net, sample.hotspots[sample.hotspots["kind"] == "persistent"])
        emit(
            {
                "what": "seed",
                "seed": seed,
                "cuts": args.cuts,
                "incidents": len(inc_s),
                "segment pai@0.05": m["segment"]["pai@0.05"],
                "naive pai@0.05": m["naive"]["pai@0.05"],
                "tuned pai@0.05": m["tuned"]["pai@0.05"],
                "segment_gain_over_naive": round(
                    m["segment"]["pai@0.05"] / m["naive"]["pai@0.05"] - 1, 3
                ),
                "planted": len(truth),
                "precision@k": round(float(at_k["precision"]), 3),
                "recall@k": round(float(at_k["recall"]), 3),
                "flagged_at_5pct": len(found),
                "recall_at_5pct": round(float(at_5["recall"]), 3),
                "persistent_recall_at_5pct": round(
                    float(evaluate.recovery(found.geometry, persistent, tolerance=1.0)["recall"]),
                    3,
                ),
            }
        )

    # 4. density
    for per_month in (300, 1200) if args.quick else (150, 300, 600, 1200, 2500):
        sample = synthetic.generate_cad(net, months=12, seed=1, calls_per_month=per_month)
        m = backtest(net, geocoded(net, sample.cad), args.cuts)
        emit(
            {
                "what": "density",
                "calls_per_month": per_month,
                "segment pai@0.05": m["segment"]["pai@0.05"],
                "naive pai@0.05": m["naive"]["pai@0.05"],
                "naive pei@0.05": m["naive"]["pei@0.05"],
                "segment_gain_over_naive": round(
                    m["segment"]["pai@0.05"] / m["naive"]["pai@0.05"] - 1, 3
                ),
            }
        )

    # 5. San Francisco, grid methods on real timestamps and places
    shared = shared_data()
    sf = shared / "sf_police_incidents_2016_subset.csv" if shared else None
    if sf is None or not sf.exists():
        print("shared reference data not found: skipping San Francisco")
        return 0
    for cut, cuts in (("2016-04-01", 2), ("2016-04-15", 3)):
        report = pipeline.evaluate_file(
            sf, network=None, cut=cut, cuts=cuts, horizon="30D", profile="sf_police"
        )
        emit(
            {
                "what": "san francisco (grid)",
                "cuts": report["cuts"],
                **{
                    f"{k} {metric}": v[metric]
                    for k, v in report["methods"].items()
                    for metric in ("pai@0.05", "pei@0.05", "hit@0.05", "rri")
                },
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
