"""Network build benchmark: cold build, cached load, and osmnx's graph_from_xml.

Run: ``make bench`` or ``python benchmarks/bench_network.py``.

For each area (the bundled Helsinki extract, and Baltimore from the shared
reference data when it is present) it times, in one run:

- ``cold``: `network_from_file` with an empty cache: read the PBF, build the
  walk and drive graphs (filtered, simplified, projected, with speeds) and
  write the cache;
- ``cached``: the same call again, served from the cache (median of 5);
- ``graph_from_xml``: osmnx reading the same data as OSM XML into one
  simplified graph (median of 3; unfiltered, unprojected, no speeds).

Targets (issue: foundation): cold build >= 3x faster than graph_from_xml;
cached load <= 1 s. Each line starting ``RESULT`` is JSON.
"""

from __future__ import annotations

import logging
import resource
import sys
import tempfile
from pathlib import Path

import osmium
import osmnx as ox
from _common import emit, shared_data, timed

from cso_geo import datasets, network


def to_xml(pbf: Path, xml: Path) -> None:
    """Write the extract as OSM XML that osmnx can read.

    Real extracts are clipped: some ways reference nodes outside the file, and
    ``graph_from_xml`` then fails ("Some edges missing nodes"). We drop those
    references, as our own reader does, so both read the same data.
    """
    with osmium.SimpleWriter(str(xml)) as writer:
        for obj in osmium.FileProcessor(str(pbf)).with_locations():
            if obj.is_way():
                refs = [n.ref for n in obj.nodes if n.location.valid()]
                if len(refs) >= 2:
                    writer.add_way(obj.replace(nodes=refs))
            elif obj.is_node():
                writer.add_node(obj)


def bench(name: str, pbf: Path) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        xml = Path(tmp) / f"{name}.osm"
        to_xml(pbf, xml)
        # warm the imports and the OS file cache once, outside the timings
        network.network_from_file(pbf, use_cache=False)
        t_build, net = timed(lambda: network.network_from_file(pbf, use_cache=False), repeat=3)
        t_cold, _ = timed(lambda: network.network_from_file(pbf, cache_folder=cache))
        t_cached, cached = timed(
            lambda: network.network_from_file(pbf, cache_folder=cache), repeat=5
        )
        t_xml, G = timed(lambda: ox.graph_from_xml(xml), repeat=3)
    s = net.summary()
    assert cached.drive.number_of_edges() == net.drive.number_of_edges()
    return {
        "area": name,
        "walk_nodes": s["walk"]["nodes"],
        "walk_edges": s["walk"]["edges"],
        "drive_nodes": s["drive"]["nodes"],
        "drive_edges": s["drive"]["edges"],
        "walk_km": s["walk"]["street_km"],
        "drive_km": s["drive"]["street_km"],
        "build_s": round(t_build, 3),
        "cold_build_with_cache_write_s": round(t_cold, 3),
        "cached_load_s": round(t_cached, 3),
        "graph_from_xml_s": round(t_xml, 3),
        "graph_from_xml_edges": G.number_of_edges(),
        "speedup_cold_vs_xml": round(t_xml / t_cold, 2),
        "speedup_build_vs_xml": round(t_xml / t_build, 2),
    }


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    areas = [("helsinki", datasets.get_path("helsinki"))]
    shared = shared_data()
    if shared is not None and (shared / "baltimore.osm.pbf").exists():
        areas.append(("baltimore", shared / "baltimore.osm.pbf"))
    else:
        print("shared reference data not found: benchmarking Helsinki only")
    rows = [bench(name, path) for name, path in areas]
    for row in rows:
        emit(row)
    print()
    print(f"{'area':<10} {'cold s':>7} {'cached s':>9} {'xml s':>7} {'xml/cold':>9}")
    for r in rows:
        print(
            f"{r['area']:<10} {r['cold_build_with_cache_write_s']:>7} {r['cached_load_s']:>9} "
            f"{r['graph_from_xml_s']:>7} {r['speedup_cold_vs_xml']:>8}x"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
