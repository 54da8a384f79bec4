"""Map size benchmark: the analyst map of 1M incidents, its HTML size and load time.

Run: ``make bench-maps`` or ``python benchmarks/bench_maps.py [--rows N]``.

Incidents are random points along the streets of Baltimore (shared reference
data) when present, else Helsinki, with random times over a year and random
categories. Hotspots are found with the segment method. For the internal and
the public analyst map it prints the build and save time, the HTML size, and
the time headless Chromium (Debian's ``chromium``; every non-file request
blocked) takes to load the page and draw it.

Targets (issue: maps): <= 5 MB of HTML and <= 3 s to open, for any input size
(1M incidents included). Each line starting ``RESULT`` is JSON.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from _common import benchmark_area, emit

from cso_geo import hotspots, maps, network
from cso_geo.taxonomy import CATEGORIES


def incidents_on_streets(net: network.StreetNetwork, rows: int, seed: int = 5) -> gpd.GeoDataFrame:
    """`rows` points spread along the walk network's edges (by length), times over 2025."""
    rng = np.random.default_rng(seed)
    geoms = [d["geometry"] for _, _, d in net.walk.edges(data=True)]
    lengths = np.array([g.length for g in geoms])
    edge = rng.choice(len(geoms), size=rows, p=lengths / lengths.sum())
    # a few streets get many more calls, as real hotspots do
    hot = rng.choice(len(geoms), size=max(len(geoms) // 100, 1), replace=False)
    edge[: rows // 5] = rng.choice(hot, size=rows // 5)
    points = shapely.line_interpolate_point(
        np.asarray(geoms, dtype=object)[edge], rng.uniform(0, 1, rows), normalized=True
    )
    start = pd.Timestamp("2025-01-01").value
    seconds = rng.integers(0, 365 * 86400, rows) * 1_000_000_000
    return gpd.GeoDataFrame(
        {
            "received_at": pd.to_datetime(start + seconds),
            "category": np.asarray(CATEGORIES, dtype=object)[
                rng.integers(0, len(CATEGORIES), rows)
            ],
        },
        geometry=points,
        crs=net.crs,
    )


def load_seconds(path: Path, chromium: str, *, repeat: int = 3) -> float | None:
    """Median seconds from navigation until the page's layers are drawn, network blocked.

    Each load is in a fresh browser context (no cache shared between loads).
    """
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        print("playwright not installed: load time not measured")
        return None
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        for _ in range(repeat):
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            page = context.new_page()
            page.route(
                "**/*",
                lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort(),
            )
            t0 = time.perf_counter()
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_function(
                "typeof window.L === 'object' && document.querySelector('.leaflet-control-layers')",
                timeout=60_000,
            )
            page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r(null)))")
            times.append(time.perf_counter() - t0)
            context.close()
        browser.close()
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    chromium = shutil.which(os.environ.get("CSO_GEO_CHROMIUM") or "chromium")
    area, src = benchmark_area()
    net = network.network_from_file(src)
    t0 = time.perf_counter()
    incidents = incidents_on_streets(net, args.rows)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = hotspots.find_hotspots(incidents, hotspots.street_units(net.walk))
    t_hot = time.perf_counter() - t0
    record: dict[str, float | int | str | None] = {
        "area": area,
        "incidents": len(incidents),
        "generate_s": round(t_gen, 1),
        "hotspots": len(found),
        "hotspots_s": round(t_hot, 1),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for public in (False, True):
            tag = "public" if public else "internal"
            t0 = time.perf_counter()
            m = maps.analyst_map(incidents, net.walk, hotspots=found, public=public)
            out = maps.save_map(m, Path(tmp) / f"{tag}.html")
            record[f"{tag}_build_save_s"] = round(time.perf_counter() - t0, 1)
            record[f"{tag}_html_mb"] = round(out.stat().st_size / 1e6, 2)
            if chromium is None:
                print("chromium not found: load time not measured")
                record[f"{tag}_load_s"] = None
            else:
                seconds = load_seconds(out, chromium)
                record[f"{tag}_load_s"] = None if seconds is None else round(seconds, 2)
    emit(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
