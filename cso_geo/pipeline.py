"""The stages chained together, as the CLI and ``cso-geo demo`` run them.

Each function here is a short composition of public functions of the stage
modules, so a script can do what the CLI does with the same calls.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cso_geo import geocode as geocode_mod
from cso_geo import hotspots as hs
from cso_geo import ingest, maps
from cso_geo._errors import InputFileError
from cso_geo._io import atomic_path as atomic_path_any
from cso_geo._io import atomic_write_text, read_vector
from cso_geo.datasets import synthetic
from cso_geo.network import (
    StreetNetwork,
    network_from_file,
    network_from_place,
    save_network,
)
from cso_geo.network import (
    load_network as load_network_dir,
)

log = logging.getLogger(__name__)

__all__ = [
    "evaluate_file",
    "geocode_file",
    "hotspots_file",
    "ingest_file",
    "load_network",
    "make_sample",
    "output_paths",
    "parse_horizon",
    "read_geocoded",
    "run_demo",
    "save_network",
    "study_area",
]

Progress = Callable[[str, dict[str, Any]], None]

#: The bundled sample city used by ``cso-geo demo``.
DEMO_CITY = "helsinki"
DEMO_MONTHS = 12
DEMO_SEED = 1
DEMO_START = "2025-01-01"
DEMO_CUT = "2025-12-01"


def load_network(
    *,
    osm: str | Path | None = None,
    network_dir: str | Path | None = None,
    place: str | None = None,
    bbox: Sequence[float] | None = None,
    use_cache: bool | None = None,
) -> StreetNetwork:
    """Load a street network from exactly one of its sources.

    Parameters
    ----------
    osm
        An OSM file or bundled dataset name (``"helsinki"``).
    network_dir
        A folder written by `cso_geo.network.save_network`.
    place, bbox
        Download through osmnx (needs internet).
    use_cache
        Whether to reuse a cached build (default ``settings.use_cache``).
    """
    given = [
        name
        for name, v in (
            ("--osm", osm),
            ("--network", network_dir),
            ("--place", place),
            ("--bbox", bbox),
        )
        if v is not None
    ]
    if len(given) != 1:
        msg = (
            "Give exactly one street-network source: --osm FILE (or a bundled name such as "
            "'helsinki'), --network DIR, --place NAME or --bbox W,S,E,N"
            + (f"; got {', '.join(given)}." if given else "; got none.")
        )
        raise ValueError(msg)
    if osm is not None:
        return network_from_file(osm, use_cache=use_cache)
    if network_dir is not None:
        return load_network_dir(network_dir)
    return network_from_place(place, bbox=bbox, use_cache=use_cache)


def make_sample(
    network: StreetNetwork,
    path: str | Path,
    *,
    months: int = 12,
    seed: int = 1,
    start: str = "2025-01-01",
    calls_per_month: int = 2500,
) -> tuple[Path, Path]:
    """Generate a synthetic CAD export for `network` and write it with its truth file."""
    sample = synthetic.generate_cad(
        network, months=months, seed=seed, start=start, calls_per_month=calls_per_month
    )
    return synthetic.write_sample(sample, path)


def output_paths(out: str | Path) -> dict[str, Path]:
    """The files written beside an output: ``X.gpkg`` -> ``X.quarantine.csv``, ``X.report.json``."""
    p = Path(out)
    stem = p.with_suffix("")
    return {
        "output": p,
        "quarantine": stem.with_name(stem.name + ".quarantine.csv"),
        "report": stem.with_name(stem.name + ".report.json"),
    }


def study_area(network: StreetNetwork, *, margin_m: float = 2000.0) -> shapely.Polygon:
    """The network's extent grown by `margin_m`, in EPSG:4326, for coordinate checks."""
    xy = np.array([(d["x"], d["y"]) for _, d in network.walk.nodes(data=True)])
    hull = shapely.MultiPoint(xy).convex_hull.buffer(margin_m)
    area = gpd.GeoSeries([hull], crs=network.crs).to_crs(4326).iloc[0]
    assert isinstance(area, shapely.Polygon)
    return area


def ingest_file(
    path: str | Path,
    out: str | Path,
    *,
    profile: str | Path | None = None,
    columns: ingest.ColumnMap | None = None,
) -> tuple[ingest.IngestResult, dict[str, Path]]:
    """Read a CAD export into the canonical table and write it with its quarantine."""
    result = ingest.read_incidents(path, profile=profile, columns=columns)
    return result, ingest.write_ingest(result, out)


def geocode_file(
    path: str | Path,
    out: str | Path,
    *,
    network: StreetNetwork,
    profile: str | Path | None = None,
    columns: ingest.ColumnMap | None = None,
    centerline: str | Path | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any], dict[str, Path]]:
    """Ingest a CAD export, geocode it, and write the result, quarantine and match report.

    Returns
    -------
    geocoded, report, paths
        The geocoded rows, the JSON report (ingest counts and match report)
        and the paths written: ``output``, ``quarantine``, ``report``.
    """
    result = ingest.read_incidents(path, profile=profile, columns=columns, area=study_area(network))
    centerlines = geocode_mod.read_centerlines(centerline) if centerline else None
    index = geocode_mod.GeocodeIndex.from_network(network, centerlines=centerlines)
    geocoded = geocode_mod.geocode(result.accepted, index, network=network)
    report = {
        "ingest": result.summary(),
        "index": index.stats_,
        "match": geocode_mod.match_report(geocoded),
    }
    paths = output_paths(out)
    geocode_mod.write_geocoded(geocoded, paths["output"])
    ingest.write_quarantine(result, paths["quarantine"])
    atomic_write_text(paths["report"], json.dumps(report, indent=2, default=str))
    return geocoded, report, paths


def read_geocoded(path: str | Path) -> gpd.GeoDataFrame:
    """Read incidents written by `geocode_file` (or any points with ``received_at``)."""
    p = Path(path)
    gdf = read_vector(p, what="geocoded incidents file", hint="Make it with `cso-geo geocode`.")
    if "received_at" not in gdf.columns or gdf.crs is None:
        msg = (
            f"{str(p)!r} is not a geocoded incident file (it needs a received_at column and a "
            "CRS); make it with `cso-geo geocode`."
        )
        raise InputFileError(msg)
    return gdf


def parse_horizon(text: str | int) -> int:
    """``"30D"``, ``"30d"`` or ``30`` -> 30 days."""
    raw = str(text).strip().upper().removesuffix("D")
    if not raw.isdigit() or int(raw) < 1:
        msg = f"A horizon is a number of days such as 30D, not {text!r}."
        raise ValueError(msg)
    return int(raw)


def tuning_units(
    network: StreetNetwork, known: hs.StreetUnits | None = None
) -> dict[float, hs.StreetUnits]:
    """Street units for every unit length `cso_geo.hotspots.tune` tries."""
    out: dict[float, hs.StreetUnits] = {}
    for ul in hs.TUNING_GRID["unit_length"]:
        assert ul is not None
        out[float(ul)] = (
            known
            if known is not None and known.unit_length == ul
            else hs.street_units(network.walk, unit_length=float(ul))
        )
    return out


def hotspots_file(
    geocoded: str | Path,
    out: str | Path,
    *,
    network: StreetNetwork,
    method: str = "segment",
    categories: Sequence[str] | None = None,
    shift: str | None = None,
    start: str | None = None,
    end: str | None = None,
    unit_length: float = 100.0,
    coverage: float = 0.05,
    params: hs.MethodParams | None = None,
    tuned: bool = False,
) -> tuple[gpd.GeoDataFrame, Path]:
    """Find hotspots in geocoded incidents and write them (GeoPackage) atomically.

    With `tuned`, the segment method's settings (or the naive baseline, when
    nothing beats it) are chosen by `cso_geo.hotspots.tune` on the incidents'
    own history, and the choice and its backtest score go into the metadata.
    """
    incidents = hs.select_incidents(
        read_geocoded(geocoded), categories=categories, start=start, end=end, shift=shift
    )
    found = find_tuned_or_plain(
        incidents,
        network,
        method=method,
        unit_length=unit_length,
        coverage=coverage,
        params=params,
        tuned=tuned,
    )
    target = Path(out)
    with atomic_path_any(target) as tmp:
        found.to_file(tmp, driver="GPKG", layer="hotspots")
    meta = {
        **found.attrs,
        "incidents": len(incidents),
        "filters": {
            "categories": list(categories or []),
            "shift": shift,
            "start": start,
            "end": end,
        },
    }
    atomic_write_text(target.with_suffix(".meta.json"), json.dumps(meta, indent=2, default=str))
    return found, target


def find_tuned_or_plain(
    incidents: gpd.GeoDataFrame,
    network: StreetNetwork,
    *,
    method: str = "segment",
    unit_length: float = 100.0,
    coverage: float = 0.05,
    params: hs.MethodParams | None = None,
    tuned: bool = False,
    horizon_days: int = 30,
) -> gpd.GeoDataFrame:
    """`cso_geo.hotspots.find_hotspots`, after tuning on history when asked."""
    if not tuned:
        streets = hs.street_units(network.walk, unit_length=unit_length)
        return hs.find_hotspots(
            incidents,
            streets,
            method=method,
            params=params or hs.MethodParams(),
            coverage=coverage,
        )
    if incidents.empty:
        msg = "No incidents match the selection: there is nothing to tune or rank."
        raise ValueError(msg)
    units = tuning_units(network)
    last = pd.to_datetime(incidents["received_at"]).max().normalize() + pd.Timedelta(days=1)
    tuning = hs.tune(
        incidents,
        units,
        cut=last - pd.Timedelta(days=horizon_days),
        horizon_days=horizon_days,
        coverage=coverage,
    )
    choice = tuning["chosen"]
    chosen_params = hs.MethodParams(
        bandwidth=float(choice["bandwidth"] or 0.0), half_life_days=choice["half_life_days"]
    )
    found = hs.find_hotspots(
        incidents,
        units[float(choice["unit_length"])],
        method=choice["method"],
        params=chosen_params,
        coverage=coverage,
    )
    found.attrs["tuning"] = {k: v for k, v in tuning.items() if k != "candidates"}
    return found


def evaluate_file(
    geocoded: str | Path,
    *,
    network: StreetNetwork,
    cut: str,
    cuts: int = 3,
    horizon: str | int = "30D",
    coverages: Sequence[float] = (0.01, 0.05, 0.10),
    unit_length: float = 100.0,
    params: hs.MethodParams | None = None,
    json_out: str | Path | None = None,
) -> dict[str, Any]:
    """Backtest every hotspot method on geocoded incidents; optionally write the JSON."""
    incidents = hs.select_incidents(read_geocoded(geocoded))
    streets = hs.street_units(network.walk, unit_length=unit_length)
    report = hs.backtest(
        incidents,
        streets,
        cut=cut,
        cuts=cuts,
        horizon_days=parse_horizon(horizon),
        coverages=coverages,
        params=params or hs.MethodParams(),
        methods=(*hs.SEGMENT_METHODS, *hs.GRID_METHODS, "tuned"),
        tuning_units=tuning_units(network, streets),
    )
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(report, indent=2))
    return report


def run_demo(
    *,
    out_dir: str | Path = "out",
    maps_dir: str | Path = "maps",
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Run the whole pipeline on the bundled sample city.

    Today: street networks -> sample CAD export -> ingest and geocoding (with
    its match report) -> hotspots and their backtest -> overview map. Later
    stages add themselves here.

    Returns
    -------
    outputs
        A label for each written file and its path.
    """
    say = progress or (lambda stage, detail: log.info("%s: %s", stage, detail))
    out_dir, maps_dir = Path(out_dir), Path(maps_dir)
    outputs: dict[str, Path] = {}

    t0 = time.perf_counter()
    net = network_from_file(DEMO_CITY)
    s = net.summary()
    say(
        "street network",
        {
            "walk_edges": s["walk"]["edges"],
            "drive_edges": s["drive"]["edges"],
            "walk_km": s["walk"]["street_km"],
            "drive_km": s["drive"]["street_km"],
            "seconds": round(time.perf_counter() - t0, 2),
        },
    )
    outputs["network"] = save_network(net, out_dir / "network")

    t0 = time.perf_counter()
    sample = synthetic.generate_cad(net, months=DEMO_MONTHS, seed=DEMO_SEED, start=DEMO_START)
    cad_path, truth_path = synthetic.write_sample(sample, out_dir / "helsinki_cad.csv")
    outputs["CAD export"] = cad_path
    outputs["CAD truth"] = truth_path
    say(
        "sample incidents",
        {
            "calls": len(sample.cad),
            "planted_hotspots": len(sample.hotspots),
            "seconds": round(time.perf_counter() - t0, 2),
        },
    )

    t0 = time.perf_counter()
    geocoded, geo_report, paths = geocode_file(
        cad_path, out_dir / "helsinki_geocoded.gpkg", network=net, profile="cso_geo_sample"
    )
    outputs["geocoded incidents"] = paths["output"]
    outputs["ingest quarantine"] = paths["quarantine"]
    outputs["match report"] = paths["report"]
    match = geo_report["match"]
    say(
        "geocoding",
        {
            "read": geo_report["ingest"]["read"],
            "quarantined": geo_report["ingest"]["quarantined"],
            "hit_rate": f"{match['hit_rate']:.1%}",
            "hit_rate_locatable": f"{match['hit_rate_locatable']:.1%}",
            **match["by_match_type"],
            "seconds": round(time.perf_counter() - t0, 2),
        },
    )

    t0 = time.perf_counter()
    incidents = hs.select_incidents(geocoded)
    streets = hs.street_units(net.walk)
    backtest = hs.backtest(
        incidents,
        streets,
        cut=DEMO_CUT,
        cuts=3,
        horizon_days=30,
        methods=(*hs.SEGMENT_METHODS, *hs.GRID_METHODS, "tuned"),
        tuning_units=tuning_units(net, streets),
    )
    outputs["backtest"] = atomic_write_text(
        out_dir / "backtest.json", json.dumps(backtest, indent=2)
    )
    found = find_tuned_or_plain(incidents, net, tuned=True)
    outputs["hotspots"] = out_dir / "hotspots.gpkg"
    with atomic_path_any(outputs["hotspots"]) as tmp:
        found.to_file(tmp, driver="GPKG", layer="hotspots")
    say(
        "hotspots",
        {
            "hotspots": len(found),
            "chosen": found.attrs["tuning"]["chosen"]["method"],
            **{
                f"{m} PAI@5%": round(float(r["pai@0.05"]), 2)
                for m, r in backtest["methods"].items()
            },
            "seconds": round(time.perf_counter() - t0, 2),
        },
    )

    points = geocoded.loc[
        geocoded["match_type"] != "unmatched", ["incident_id", "category", "geometry"]
    ]
    m = maps.overview_map(net.walk, incidents=points, title="Central Helsinki: sample calls")
    outputs["overview map"] = maps.save_map(m, maps_dir / "overview.html")
    say("overview map", {"incidents": len(points), "path": str(outputs["overview map"])})
    return outputs
