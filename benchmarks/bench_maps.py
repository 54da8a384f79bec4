"""Map benchmark: HTML size and browser load time of the product maps, by input size.

Run: ``make bench-maps`` or ``python benchmarks/bench_maps.py [--rows N ...] [--maps ...]``.

Incidents come from the project's CAD generator on Baltimore (shared reference
data) when present, else Helsinki: realistic fields (``incident_id``,
``received_at``, ``call_type``, ``category``, ``address``) at their true
positions, so the per-point data of the analyst map is measured at its real
size. For each input size (10k, 100k and 1M incidents by default) it finds
segment hotspots and draws:

- ``analyst``: the internal analyst map, with HDBSCAN clusters
  (`maps.incident_clusters`);
- ``analyst-public``: the same map for residents;
- ``supervisor``: nine square beats over the area, workload from the calls in
  them, a CSO each, and the hotspots;
- ``shift``: one route along the streets through the ten best hotspots.

For each it prints the build and save time, the HTML size, and the median of
``--repeat`` loads in headless Chromium (Debian's ``chromium``, or
``CSO_GEO_CHROMIUM``; every non-file request blocked, a fresh context each
time) from navigation until Leaflet, the layer control and one frame are
drawn, with the requests that were blocked (there should be none).

Targets (issue: maps): <= 5 MB of HTML and <= 3 s to open, for any input size
(1M incidents included). Each line starting ``RESULT`` is JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import shapely
from _common import benchmark_area, emit

from cso_geo import hotspots, maps, network
from cso_geo.datasets import synthetic

MAP_KINDS = ("analyst", "analyst-public", "supervisor", "shift")


def incidents_for(net: network.StreetNetwork, rows: int, seed: int = 21) -> gpd.GeoDataFrame:
    """About `rows` generated calls over 2025 with their CAD fields, in the network's CRS."""
    per_month = int(np.ceil(rows / 12 / 1.07))
    sample = synthetic.generate_cad(net, months=12, calls_per_month=per_month, seed=seed)
    located = sample.truth["lon"].notna().to_numpy()
    cad, truth = sample.cad.loc[located], sample.truth.loc[located]
    return gpd.GeoDataFrame(
        {
            "incident_id": cad["incident_id"].to_numpy(),
            "received_at": pd.to_datetime(cad["received_at"]).to_numpy(),
            "call_type": cad["call_type"].to_numpy(),
            "category": truth["category"].to_numpy(),
            "address": cad["address"].to_numpy(),
        },
        geometry=gpd.points_from_xy(truth["lon"], truth["lat"]),
        crs="EPSG:4326",
    ).to_crs(net.crs)


def square_beats(
    net: network.StreetNetwork, incidents: gpd.GeoDataFrame, side: int = 3
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """`side` x `side` square beats over the street network, workload = 20 min a call."""
    nodes = ox.convert.graph_to_gdfs(net.walk, edges=False)
    x0, y0, x1, y1 = nodes.total_bounds
    xs, ys = np.linspace(x0, x1, side + 1), np.linspace(y0, y1, side + 1)
    boxes = [
        shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for j in range(side) for i in range(side)
    ]
    beats = gpd.GeoDataFrame({"beat_id": np.arange(1, len(boxes) + 1)}, geometry=boxes, crs=net.crs)
    joined = gpd.sjoin(incidents[["geometry"]], beats, predicate="within")
    calls = joined.groupby("beat_id").size().reindex(beats["beat_id"], fill_value=0)
    beats["workload"] = calls.to_numpy() * 20.0
    beats["street_km"] = 0.0
    assignments = pd.DataFrame(
        {
            "cso_id": [f"CSO-{i}" for i in beats["beat_id"]],
            "shift": "08:00-16:00",
            "mode": "foot",
            "beat_id": beats["beat_id"].astype(float),
            "status": "assigned",
        }
    )
    return beats, assignments


def route_through(
    net: network.StreetNetwork, found: gpd.GeoDataFrame, folder: Path, stops: int = 10
) -> Path:
    """A route file as `cso-geo routes` writes it, along the streets through the best hotspots."""
    G = net.walk
    mids = found.geometry.iloc[:stops].interpolate(0.5, normalized=True)
    targets = ox.distance.nearest_nodes(G, mids.x.to_numpy(), mids.y.to_numpy())
    path_nodes: list[Any] = [targets[0]]
    for a, b in itertools.pairwise(targets):
        try:
            path_nodes += nx.shortest_path(G, a, b, weight="length")[1:]
        except nx.NetworkXNoPath:
            continue
    xy = [(G.nodes[n]["x"], G.nodes[n]["y"]) for n in path_nodes]
    line = gpd.GeoSeries([shapely.LineString(xy)], crs=G.graph["crs"]).to_crs(4326).iloc[0]
    pts = gpd.GeoSeries(
        [shapely.Point(G.nodes[n]["x"], G.nodes[n]["y"]) for n in targets], crs=G.graph["crs"]
    ).to_crs(4326)
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {"kind": "path", "route_id": "bench", "mode": "foot"},
            "geometry": shapely.geometry.mapping(line),
        }
    ]
    for i, p in enumerate(pts):
        kind = "start" if i == 0 else "end" if i == len(pts) - 1 else "stop"
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "kind": kind,
                    "seq": i,
                    "name": str(found["name"].iloc[i]) if "name" in found.columns else "",
                    "arrive": f"2025-12-01T{8 + i // 2:02d}:{(i % 2) * 30:02d}:00",
                    "dwell_min": 15,
                    "reason": "hotspot",
                },
                "geometry": {"type": "Point", "coordinates": [p.x, p.y]},
            }
        )
    out = folder / "bench.geojson"
    out.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    (folder / "bench.json").write_text(json.dumps({"route_id": "bench", "mode": "foot"}))
    return out


def build(
    kind: str,
    net: network.StreetNetwork,
    incidents: gpd.GeoDataFrame,
    found: gpd.GeoDataFrame,
    folder: Path,
) -> folium.Map:
    """Draw one of `MAP_KINDS` as a user of the library would."""
    if kind == "analyst":
        clusters = maps.incident_clusters(incidents)
        return maps.analyst_map(incidents, net.walk, hotspots=found, clusters=clusters)
    if kind == "analyst-public":
        return maps.analyst_map(incidents, net.walk, hotspots=found, public=True)
    if kind == "supervisor":
        beats, assignments = square_beats(net, incidents)
        return maps.supervisor_map(beats, net.walk, assignments=assignments, hotspots=found)
    return maps.shift_map(route_through(net, found, folder), net.walk)


@contextmanager
def chromium_browser(executable: str | None) -> Iterator[Any]:
    """A headless Chromium (Playwright), or None when it or Playwright is missing."""
    if executable is None:
        print("chromium not found (set CSO_GEO_CHROMIUM): load time not measured")
        yield None
        return
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        print("playwright not installed: load time not measured")
        yield None
        return
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()


def load_seconds(browser: Any, path: Path, *, repeat: int) -> tuple[float, int]:
    """Median seconds from navigation until the map is drawn, and the requests blocked.

    Each load is in a fresh browser context (no cache shared between loads).
    """
    times, blocked = [], 0
    for _ in range(repeat):
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        refused: list[str] = []

        def route(r: Any, refused: list[str] = refused) -> None:
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                refused.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        t0 = time.perf_counter()
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.wait_for_function(
            "typeof window.L === 'object' && document.querySelector('.leaflet-control-layers')",
            timeout=60_000,
        )
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => r(null)))")
        times.append(time.perf_counter() - t0)
        blocked = max(blocked, len(refused))
        context.close()
    return statistics.median(times), blocked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        type=int,
        nargs="+",
        default=[10_000, 100_000, 1_000_000],
        help="input sizes (incidents), default 10000 100000 1000000",
    )
    parser.add_argument(
        "--maps",
        nargs="+",
        choices=MAP_KINDS,
        default=list(MAP_KINDS),
        help="maps to draw, default all",
    )
    parser.add_argument("--repeat", type=int, default=3, help="browser loads per map")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    chromium = shutil.which(os.environ.get("CSO_GEO_CHROMIUM") or "chromium")
    area, src = benchmark_area()
    net = network.network_from_file(src)
    with chromium_browser(chromium) as browser, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for rows in args.rows:
            t0 = time.perf_counter()
            incidents = incidents_for(net, rows)
            t_gen = time.perf_counter() - t0
            t0 = time.perf_counter()
            found = hotspots.find_hotspots(incidents, hotspots.street_units(net.walk))
            t_hot = time.perf_counter() - t0
            for kind in args.maps:
                t0 = time.perf_counter()
                m = build(kind, net, incidents, found, folder)
                out = maps.save_map(m, folder / f"{kind}-{rows}.html")
                record: dict[str, Any] = {
                    "area": area,
                    "map": kind,
                    "rows": rows,
                    "incidents": len(incidents),
                    "hotspots": len(found),
                    "generate_s": round(t_gen, 1),
                    "hotspots_s": round(t_hot, 1),
                    "build_save_s": round(time.perf_counter() - t0, 1),
                    "html_mb": round(out.stat().st_size / 1e6, 2),
                    "load_s": None,
                    "blocked_requests": None,
                }
                if browser is not None:
                    seconds, blocked = load_seconds(browser, out, repeat=args.repeat)
                    record["load_s"] = round(seconds, 2)
                    record["blocked_requests"] = blocked
                emit(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
