"""The stages chained together, as the CLI and ``cso-geo demo`` run them.

Each function here is a short composition of public functions of the stage
modules, so a script can do what the CLI does with the same calls.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from cso_geo import beats as beats_mod
from cso_geo import evaluate, ingest, maps
from cso_geo import geocode as geocode_mod
from cso_geo import hotspots as hs
from cso_geo import report as report_mod
from cso_geo import routes as routes_mod
from cso_geo._errors import CsoGeoError, InputFileError, InputFileNotFoundError
from cso_geo._io import atomic_path as atomic_path_any
from cso_geo._io import atomic_write_text, read_vector
from cso_geo.config import RunConfig, demo_config
from cso_geo.datasets import synthetic
from cso_geo.network import (
    StreetNetwork,
    network_from_file,
    network_from_place,
    save_network,
    utm_crs,
)
from cso_geo.network import (
    load_network as load_network_dir,
)

log = logging.getLogger(__name__)

__all__ = [
    "assign_file",
    "beats_file",
    "default_dates",
    "evaluate_file",
    "geocode_file",
    "hotspots_file",
    "ingest_file",
    "load_network",
    "make_sample",
    "map_file",
    "output_paths",
    "parse_horizon",
    "points_from_export",
    "read_geocoded",
    "report_file",
    "routes_file",
    "run_demo",
    "run_pipeline",
    "save_network",
    "study_area",
    "write_hotspots",
]

Progress = Callable[[str, dict[str, Any]], None]


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
    calls_per_month: int | None = None,
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


def read_geocoded(path: str | Path | gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Read incidents written by `geocode_file` (or any points with ``received_at``).

    Geocoded incidents already in memory (a GeoDataFrame) are returned as they are.
    """
    if isinstance(path, gpd.GeoDataFrame):
        return path
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
    days: Sequence[int] | None = None,
    unit_length: float = 100.0,
    coverage: float = 0.05,
    params: hs.MethodParams | None = None,
    tuned: bool = False,
    rank_by: str = "metre",
) -> tuple[gpd.GeoDataFrame, Path]:
    """Find hotspots in geocoded incidents and write them (GeoPackage) atomically.

    With `tuned`, the segment method's settings (or the naive baseline, when
    nothing beats it) are chosen by `cso_geo.hotspots.tune` on the incidents'
    own history, and the choice and its backtest score go into the metadata.
    """
    incidents = hs.select_incidents(
        read_geocoded(geocoded),
        categories=categories,
        start=start,
        end=end,
        shift=shift,
        days=days,
    )
    found = find_tuned_or_plain(
        incidents,
        network,
        method=method,
        unit_length=unit_length,
        coverage=coverage,
        params=params,
        tuned=tuned,
        rank_by=rank_by,
    )
    filters = {
        "categories": list(categories or []),
        "shift": shift,
        "start": start,
        "end": end,
        "days": list(days) if days is not None else None,
    }
    return found, write_hotspots(found, out, incidents=len(incidents), filters=filters)


def write_hotspots(
    found: gpd.GeoDataFrame,
    out: str | Path,
    *,
    incidents: int,
    filters: dict[str, Any] | None = None,
) -> Path:
    """Write hotspots (layer ``hotspots``) and their ``X.meta.json`` atomically.

    The metadata holds the method, its settings, the tuning choice and its
    backtest score (when tuned), how many incidents were ranked and the filters.
    """
    target = Path(out)
    with atomic_path_any(target) as tmp:
        found.to_file(tmp, driver="GPKG", layer="hotspots")
    meta = {**found.attrs, "incidents": incidents, "filters": filters or {}}
    atomic_write_text(target.with_suffix(".meta.json"), json.dumps(meta, indent=2, default=str))
    return target


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
    rank_by: str = "metre",
    units: dict[float, hs.StreetUnits] | None = None,
) -> gpd.GeoDataFrame:
    """`cso_geo.hotspots.find_hotspots`, after tuning on history when asked.

    Tuning chooses the street method's settings (or the naive baseline), so
    it applies to ``method="segment"`` only. `units` (street units by unit
    length, e.g. `tuning_units`) saves building them again.
    """
    if tuned and method != "segment":
        msg = (
            f"Tuning chooses the settings of the segment method, not of {method!r}: use "
            "--method segment with --tuned, or --no-tuned."
        )
        raise ValueError(msg)
    if not tuned:
        streets = (units or {}).get(float(unit_length)) or hs.street_units(
            network.walk, unit_length=unit_length
        )
        return hs.find_hotspots(
            incidents,
            streets,
            method=method,
            params=params or hs.MethodParams(),
            coverage=coverage,
            rank_by=rank_by,
        )
    if incidents.empty:
        msg = "No incidents match the selection: there is nothing to tune or rank."
        raise ValueError(msg)
    units = units if units is not None else tuning_units(network)
    last = pd.to_datetime(incidents["received_at"]).max().normalize() + pd.Timedelta(days=1)
    tuning = hs.tune(
        incidents,
        units,
        cut=last - pd.Timedelta(days=horizon_days),
        horizon_days=horizon_days,
        coverage=coverage,
    )
    choice = tuning["chosen"]
    chosen_params = hs.tuned_params(choice, params)
    found = hs.find_hotspots(
        incidents,
        units[float(choice["unit_length"])],
        method=choice["method"],
        params=chosen_params,
        coverage=coverage,
        rank_by=rank_by,
    )
    found.attrs["tuning"] = {k: v for k, v in tuning.items() if k != "candidates"}
    return found


def points_from_export(path: str | Path, *, profile: str | None = None) -> gpd.GeoDataFrame:
    """Incidents of an export that carries coordinates, as projected points, without geocoding.

    For evaluating grid hotspot methods on an agency's export alone (no
    street network). Rows without coordinates are left out and counted in
    the log; the points are projected to their local UTM zone.
    """
    result = ingest.read_incidents(path, profile=profile)
    acc = result.accepted
    if "x" not in acc.columns or "y" not in acc.columns:
        msg = (
            f"{str(path)!r} has no coordinate columns: map x/y in its profile, or geocode it "
            "with `cso-geo geocode` and pass the result with --osm/--network."
        )
        raise InputFileError(msg)
    x = pd.to_numeric(acc["x"], errors="coerce")
    y = pd.to_numeric(acc["y"], errors="coerce")
    has = (x.notna() & y.notna()).to_numpy()
    if not has.any():
        msg = f"{str(path)!r}: no row has coordinates in its x/y columns."
        raise InputFileError(msg)
    crs = acc["crs"].iloc[0] if "crs" in acc.columns else "EPSG:4326"
    pts = gpd.GeoDataFrame(
        acc.loc[has].drop(columns=["x", "y"]),
        geometry=gpd.points_from_xy(x[has], y[has]),
        crs=crs,
    )
    centre = pts.to_crs(4326).geometry.union_all().centroid
    log.info(
        "%s: %d of %d accepted rows carry coordinates", Path(path).name, int(has.sum()), len(acc)
    )
    return pts.to_crs(utm_crs(centre.x, centre.y))


def evaluate_file(
    geocoded: str | Path,
    *,
    network: StreetNetwork | None,
    cut: str,
    cuts: int = 3,
    horizon: str | int = "30D",
    coverages: Sequence[float] = (0.01, 0.05, 0.10),
    unit_length: float = 100.0,
    params: hs.MethodParams | None = None,
    json_out: str | Path | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """Backtest every hotspot method on geocoded incidents; optionally write the JSON.

    With `network` None, `geocoded` may be any export with coordinates (read
    with `profile`), and only the grid methods run (see `points_from_export`).
    """
    if network is None:
        incidents = hs.select_incidents(
            read_geocoded(geocoded)
            if profile is None and Path(geocoded).suffix.lower() in {".gpkg", ".geojson"}
            else points_from_export(geocoded, profile=profile)
        )
        if incidents.crs is None or not incidents.crs.is_projected:
            centre = incidents.to_crs(4326).geometry.union_all().centroid
            incidents = incidents.to_crs(utm_crs(centre.x, centre.y))
        streets = None
        methods: tuple[str, ...] = hs.GRID_METHODS
        units = None
    else:
        incidents = hs.select_incidents(read_geocoded(geocoded))
        streets = hs.street_units(network.walk, unit_length=unit_length)
        methods = (*hs.SEGMENT_METHODS, *hs.GRID_METHODS, "tuned")
        units = tuning_units(network, streets)
    report = hs.backtest(
        incidents,
        streets,
        cut=cut,
        cuts=cuts,
        horizon_days=parse_horizon(horizon),
        coverages=coverages,
        params=params or hs.MethodParams(),
        methods=methods,
        tuning_units=units,
    )
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(report, indent=2))
    return report


def routes_file(
    beats: str | Path,
    hotspots: str | Path,
    out_dir: str | Path,
    *,
    network: StreetNetwork,
    shift: str,
    beat: str | int = "all",
    mode: str = "foot",
    start: tuple[float, float] | None = None,
    end: tuple[float, float] | None = None,
    dwell: float = 15.0,
    coverage: bool = False,
    breaks: Sequence[routes_mod.Break] = (),
    shift_hours_only: bool = False,
    avoid_streets: Sequence[str] = (),
    require_streets: Sequence[str] = (),
    avoid_areas: str | Path | None = None,
    require_areas: str | Path | None = None,
    revisit_every: float | None = 120.0,
    seed: int = 0,
    reserve: float | str = "auto",
) -> list[dict[str, Any]]:
    """Plan one route per beat for a shift and write its GeoJSON, GPX, sheet and summary.

    Parameters
    ----------
    beats
        GeoPackage with layer ``beats`` (``beat_id``, polygon geometry).
    hotspots
        GeoPackage with layer ``hotspots`` (from `hotspots_file`).
    out_dir
        Folder for ``<route_id>.geojson|.gpx|.html|.json`` and ``routes.json``.
    shift
        ``"YYYY-MM-DD HH:MM-HH:MM"``.
    beat
        A ``beat_id`` or ``"all"``.
    mode
        ``foot`` or ``drive`` (``walk``/``vehicle`` also work).
    coverage
        Walk every street of the beat (foot only) instead of a hotspot tour;
        breaks, avoided streets and areas apply to it too, required streets and
        areas do not (every street is walked) and are an error.
    avoid_areas, require_areas
        Polygon files (GeoJSON, GeoPackage, ...): streets crossing the first
        are left out, the tour visits each polygon of the second.
    revisit_every
        Minutes between revisits of the hottest hotspots (0 or None: none).
    reserve
        Minutes of each tour's shift kept free for calls for service:
        ``"auto"`` (default) is the beat's expected call workload in the
        shift's hours, from the beats file of `cso-geo beats` (0 for beats
        without one); a number is the same for every beat.

    Returns
    -------
    summaries
        One summary per route (as in ``routes.json``). With ``beat="all"`` a
        beat whose request cannot be met gets the same keys, zero or empty,
        ``feasible: false`` and the ``reason``, instead of stopping the others.
    """
    sh = routes_mod.parse_route_shift(shift)
    mode = routes_mod._mode(mode)
    if coverage and mode != "foot":
        msg = "A street-coverage route is walked: use --mode foot with --coverage."
        raise ValueError(msg)
    if coverage and (require_streets or require_areas is not None):
        msg = (
            "--require-street/--require-area choose stops of a hotspot tour; a street-coverage "
            "walk (--coverage) already walks every street of the beat: drop one or the other."
        )
        raise ValueError(msg)
    beat_gdf = _read_output_layer(
        beats, "beats", what="beats file", hint="Make it with `cso-geo beats`.", columns=["beat_id"]
    ).to_crs(network.crs)
    spots = _read_output_layer(
        hotspots,
        "hotspots",
        what="hotspots file",
        hint="Make it with `cso-geo hotspots`.",
        columns=HOTSPOT_FILE_COLUMNS,
    ).to_crs(network.crs)
    avoid = (
        None
        if avoid_areas is None
        else routes_mod.read_areas(avoid_areas, network.crs, what="avoid-area file")
    )
    require = (
        None
        if require_areas is None
        else routes_mod.read_areas(require_areas, network.crs, what="require-area file")
    )
    if str(beat) != "all":
        chosen = beat_gdf[beat_gdf["beat_id"].map(beats_mod.beat_key) == beats_mod.beat_key(beat)]
        if chosen.empty:
            ids = ", ".join(str(b) for b in beat_gdf["beat_id"].tolist()[:20])
            msg = f"Beat {beat!r} is not in {str(beats)!r} (beat_id values: {ids}); or use 'all'."
            raise InputFileError(msg)
        beat_gdf = chosen
    travel = (
        None
        if coverage
        else routes_mod.TravelGraph(
            network.graph(mode), avoid_streets=avoid_streets, avoid_areas=avoid
        )
    )
    reserve_of = _call_reserve(beat_gdf, sh, reserve)
    kind = "postman" if coverage else "tour"
    out = Path(out_dir)
    summaries: list[dict[str, Any]] = []
    for row in beat_gdf.sort_values("beat_id").itertuples(index=False):
        bid = row.beat_id.item() if hasattr(row.beat_id, "item") else row.beat_id
        try:
            if coverage:
                route = routes_mod.postman_route(
                    network, beat=row.geometry, shift=sh, beat_id=bid, start=start, end=end,
                    hotspots=spots, dwell=dwell, breaks=breaks, avoid_streets=avoid_streets,
                    avoid_areas=avoid, shift_hours_only=shift_hours_only,
                )  # fmt: skip
            else:
                route = routes_mod.hotspot_tour(
                    spots, network=network, shift=sh, beat=row.geometry, beat_id=bid,
                    mode=mode, start=start, end=end, dwell=dwell, breaks=breaks,
                    revisit_every=revisit_every or None, shift_hours_only=shift_hours_only,
                    require_streets=require_streets, require_areas=require, travel=travel,
                    seed=seed, reserve_minutes=reserve_of.get(beats_mod.beat_key(bid), 0.0),
                )  # fmt: skip
        except CsoGeoError as exc:
            if str(beat) != "all":
                raise
            log.warning("beat %s: %s", bid, exc)
            in_beat = routes_mod.beat_hotspots(
                spots, row.geometry, shift=sh if shift_hours_only else None
            )
            summaries.append(
                routes_mod.failed_summary(
                    bid,
                    sh,
                    mode,
                    kind=kind,
                    reason=str(exc),
                    risk_available=float(in_beat["risk"].sum()),
                )
            )
            continue
        routes_mod.write_route(route, out)
        summaries.append(route.summary())
    atomic_write_text(out / "routes.json", json.dumps(summaries, indent=2))
    log.info("routes: %d beats, %d feasible, written to %s", len(summaries),
             sum(bool(s["feasible"]) for s in summaries), out)  # fmt: skip
    return summaries


def _call_reserve(
    beats: gpd.GeoDataFrame, shift: routes_mod.Shift, reserve: float | str
) -> dict[str, float]:
    """Minutes kept free for calls in each beat's tour (keyed by `beats.beat_key`)."""
    if reserve == "auto":
        if "daily_profile" not in beats.columns:
            return {}
        hours = f"{shift.start:%H:%M}-{shift.end:%H:%M}"
        expected = beats_mod.expected_workload(beats, hours)
        return {beats_mod.beat_key(b): float(m) for b, m in expected.items()}
    try:
        minutes = float(reserve)
    except (TypeError, ValueError):
        minutes = float("nan")
    if not (np.isfinite(minutes) and minutes >= 0):
        msg = f"--reserve is 'auto' or minutes kept free for calls (0 or more), not {reserve!r}."
        raise ValueError(msg)
    return {beats_mod.beat_key(b): minutes for b in beats["beat_id"]}


def beats_file(
    geocoded: str | Path | gpd.GeoDataFrame,
    out: str | Path,
    *,
    network: StreetNetwork,
    n: int,
    shift: str | None = None,
    existing: str | Path | None = None,
    station: tuple[float, float] | None = None,
    max_minutes: float | None = None,
    mode: str = "vehicle",
    method: str = beats_mod.METHODS[0],
    seed: int = 0,
    unit_length: float = 50.0,
    exposure_minutes_per_km: float = 0.0,
) -> tuple[beats_mod.BeatPlan, dict[str, Path]]:
    """Build `n` balanced beats from geocoded incidents and write them.

    Writes GeoPackage layers ``beats`` and ``units`` to `out` and the JSON
    summary (imbalance, contiguity, compactness, workload per beat, the
    k-means baseline and, with `existing`, the existing beats and
    ``units_changed``) beside it with the suffix ``.json``.

    Parameters
    ----------
    station, max_minutes
        Longitude, latitude of a station that must reach every beat within
        `max_minutes` by `mode` (``"vehicle"`` or ``"foot"``): each beat holds
        a street the station reaches in time (see `cso_geo.beats.station_anchor`).
    """
    incidents = geocoded if isinstance(geocoded, gpd.GeoDataFrame) else read_geocoded(geocoded)
    units = beats_mod.build_units(
        incidents,
        network,
        unit_length=unit_length,
        shift=shift,
        exposure_minutes_per_km=exposure_minutes_per_km,
    )
    if (station is None) != (max_minutes is None):
        msg = "Give --station LON,LAT and --max-minutes together (or neither)."
        raise ValueError(msg)
    anchor = minutes = None
    if station is not None and max_minutes is not None:
        minutes = beats_mod.station_minutes(units, network, station, mode=mode)
        anchor = minutes <= max_minutes
    plan = beats_mod.plan_beats(
        units, n, seed=seed, method=method, anchor=anchor, existing=existing, minutes=minutes
    )
    plan.summary["exposure_minutes_per_km"] = exposure_minutes_per_km
    if station is not None:
        plan.summary["station"] = {"lon": station[0], "lat": station[1]}
        plan.summary["max_minutes"] = max_minutes
        plan.summary["mode"] = mode
    target = Path(out)
    with atomic_path_any(target) as tmp:
        plan.beats.to_file(tmp, driver="GPKG", layer="beats")
        plan.units.to_file(tmp, driver="GPKG", layer="units")
    summary_path = atomic_write_text(
        target.with_suffix(".json"), json.dumps(plan.summary, indent=2, sort_keys=False)
    )
    return plan, {"beats": target, "summary": summary_path}


def assign_file(
    beats: str | Path,
    roster: str | Path,
    out: str | Path,
    *,
    shift: str,
    max_per_beat: int = 2,
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Path]]:
    """Assign the roster's CSOs on `shift` to the beats in `beats` and write the CSV.

    The summary (``uncovered_beats``, expected minutes per beat) goes to the
    JSON file beside `out` (same stem, ``.json``).
    """
    layer = _read_output_layer(
        beats,
        "beats",
        what="beats file",
        hint="Make it with `cso-geo beats`.",
        columns=("beat_id", "workload", "street_km", "animal_workload", "daily_profile"),
    )
    table = beats_mod.read_roster(roster)
    assigned, summary = beats_mod.assign_shift(layer, table, shift=shift, max_per_beat=max_per_beat)
    target = Path(out)
    atomic_write_text(target, assigned.to_csv(index=False, lineterminator="\n"))
    summary_path = atomic_write_text(target.with_suffix(".json"), json.dumps(summary, indent=2))
    return assigned, summary, {"assignments": target, "summary": summary_path}


def _last_day(incidents: gpd.GeoDataFrame) -> pd.Timestamp:
    """The day of the last call in `incidents`."""
    t = pd.to_datetime(incidents["received_at"])
    if t.isna().all():
        msg = "No incident has a received_at time; check the export's time column."
        raise ValueError(msg)
    return pd.Timestamp(t.max()).normalize()


def default_dates(incidents: gpd.GeoDataFrame) -> dict[str, str]:
    """What a run uses where its configuration is silent.

    ``backtest_cut``: the first day of the last month of calls (so the last
    test period is that month); ``report_month``: the last full month of calls
    (the last month when the calls run to its last day, else the one before);
    ``shift_date``: the day after the last call.
    """
    last = _last_day(incidents)
    month_start = last.replace(day=1)
    full = last + pd.Timedelta(days=1) == month_start + pd.offsets.MonthBegin(1)
    report = month_start if full else month_start - pd.offsets.MonthBegin(1)
    return {
        "backtest_cut": str(month_start.date()),
        "report_month": report.strftime("%Y-%m"),
        "shift_date": str((last + pd.Timedelta(days=1)).date()),
    }


def run_pipeline(cfg: RunConfig, *, progress: Progress | None = None) -> dict[str, Path]:
    """Run every stage on an agency's inputs, as `cso-geo run --config` does.

    Street network -> incidents (the agency's export, or a synthetic sample)
    -> ingest and geocoding with quarantine and match report -> backtest of
    every hotspot method -> hotspots -> balanced beats -> the shift's roster
    assignment -> one route per beat (GeoJSON, GPX, route sheet) -> analyst,
    community (public), supervisor and one shift map per route -> the monthly
    report. Each stage reports its counts through `progress`.

    Returns
    -------
    outputs
        A label for each written file or folder and its path.
    """
    cfg.check_inputs()
    say = progress or (lambda stage, detail: log.info("%s: %s", stage, detail))
    out_dir, maps_dir = Path(cfg.out_dir), Path(cfg.maps_dir)
    outputs: dict[str, Path] = {}

    def timed(t0: float) -> float:
        return round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    net = load_network(osm=cfg.osm, network_dir=cfg.network, place=cfg.place, bbox=cfg.bbox)
    s = net.summary()
    say(
        "street network",
        {
            "walk_edges": s["walk"]["edges"],
            "drive_edges": s["drive"]["edges"],
            "walk_km": s["walk"]["street_km"],
            "drive_km": s["drive"]["street_km"],
            "seconds": timed(t0),
        },
    )
    if cfg.network is None:
        outputs["network"] = save_network(net, out_dir / "network")

    sample = None
    if cfg.sample is not None:
        t0 = time.perf_counter()
        sample = synthetic.generate_cad(
            net,
            months=cfg.sample["months"],
            seed=cfg.sample["seed"],
            start=cfg.sample["start"],
            calls_per_month=cfg.sample["calls_per_month"],
        )
        name = cfg.osm if cfg.osm and "/" not in cfg.osm and "." not in cfg.osm else "sample"
        cad_path, truth_path = synthetic.write_sample(sample, out_dir / f"{name}_cad.csv")
        outputs["CAD export"], outputs["CAD truth"] = cad_path, truth_path
        say(
            "sample incidents",
            {
                "calls": len(sample.cad),
                "planted_hotspots": len(sample.hotspots),
                "seconds": timed(t0),
            },
        )
        export: Path = cad_path
        profile: str | None = cfg.profile or "cso_geo_sample"
        stem = name
    else:
        assert cfg.incidents is not None
        export, profile = cfg.incidents, cfg.profile
        stem = cfg.incidents.stem

    t0 = time.perf_counter()
    geocoded, geo_report, paths = geocode_file(
        export, out_dir / f"{stem}_geocoded.gpkg", network=net, profile=profile
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
            "seconds": timed(t0),
        },
    )
    incidents = hs.select_incidents(geocoded, categories=list(cfg.categories) or None)
    if incidents.empty:
        msg = (
            f"{cfg.source}: no incident was placed"
            + (f" in categories {list(cfg.categories)}" if cfg.categories else "")
            + f"; see the match report {paths['report']}."
        )
        raise ValueError(msg)
    dates = default_dates(incidents)

    t0 = time.perf_counter()
    streets = hs.street_units(net.walk)
    units = tuning_units(net, streets)
    backtest = hs.backtest(
        incidents,
        streets,
        cut=cfg.backtest_cut or dates["backtest_cut"],
        cuts=cfg.backtest_cuts,
        horizon_days=30,
        methods=(*hs.SEGMENT_METHODS, *hs.GRID_METHODS, "tuned"),
        tuning_units=units,
    )
    found = find_tuned_or_plain(
        incidents, net, method=cfg.method, coverage=cfg.coverage, tuned=cfg.tuned, units=units
    )
    if sample is not None:
        # the sample's truth is known: how many planted hotspots did we find?
        planted = synthetic.hotspot_segments(sample.hotspots, net)
        planted = planted[planted["kind"] != "flare"]
        backtest["recovery"] = {
            "planted": evaluate.recovery(found.geometry, planted.geometry, tolerance=1.0),
            "persistent": evaluate.recovery(
                found.geometry, planted.loc[planted["kind"] == "persistent"].geometry, tolerance=1.0
            ),
            "top_k": evaluate.recovery(
                found.geometry.head(len(planted)), planted.geometry, tolerance=1.0
            ),
            "note": "a flagged unit on or touching a planted segment counts; flares are left out",
        }
    outputs["backtest"] = atomic_write_text(
        out_dir / "backtest.json", json.dumps(backtest, indent=2)
    )
    outputs["hotspots"] = write_hotspots(
        found,
        out_dir / "hotspots.gpkg",
        incidents=len(incidents),
        filters={"categories": list(cfg.categories), "shift": None, "start": None, "end": None},
    )
    seg, naive = backtest["methods"]["segment"], backtest["methods"]["naive"]
    detail: dict[str, Any] = {
        "hotspots": len(found),
        "chosen": found.attrs.get("tuning", {}).get("chosen", {}).get("method", cfg.method),
        "segment PAI@5%": round(float(seg["pai@0.05"]), 2),
        "naive PAI@5%": round(float(naive["pai@0.05"]), 2),
        "gain": f"{float(seg['pai@0.05']) / max(float(naive['pai@0.05']), 1e-9) - 1:+.0%}",
    }
    if "recovery" in backtest:
        detail["persistent recall"] = f"{backtest['recovery']['persistent']['recall']:.0%}"
    say("hotspots", {**detail, "seconds": timed(t0)})

    t0 = time.perf_counter()
    beat_mode = "vehicle" if cfg.mode == "drive" else "foot"
    plan, beat_paths = beats_file(
        incidents,
        out_dir / "beats.gpkg",
        network=net,
        n=cfg.n_beats,
        existing=cfg.existing_beats,
        station=cfg.station,
        max_minutes=cfg.max_minutes,
        mode=beat_mode,
        seed=cfg.seed,
        exposure_minutes_per_km=cfg.exposure_minutes_per_km,
    )
    outputs["beats"], outputs["beats summary"] = beat_paths["beats"], beat_paths["summary"]
    bsum = plan.summary
    say(
        "beats",
        {
            "beats": cfg.n_beats,
            "imbalance": f"{bsum['imbalance']:.1%}",
            "all contiguous": bsum["all_contiguous"],
            "mean Polsby-Popper": bsum["mean_polsby_popper"],
            "k-means imbalance": f"{bsum['baseline']['imbalance']:.1%}",
            "seconds": timed(t0),
        },
    )

    t0 = time.perf_counter()
    if cfg.roster is not None:
        roster_path = cfg.roster
    else:
        other = "16:00-00:00" if cfg.shift_hours != "16:00-00:00" else "08:00-16:00"
        shifts = (cfg.shift_hours, other)
        table = beats_mod.sample_roster(cfg.roster_size, seed=cfg.seed, shifts=shifts)
        roster_path = atomic_write_text(
            out_dir / "roster.csv", table.to_csv(index=False, lineterminator="\n")
        )
        outputs["roster (sample)"] = roster_path
    _, asum, assign_paths = assign_file(
        outputs["beats"], roster_path, out_dir / "assignments.csv", shift=cfg.shift_hours
    )
    outputs["assignments"] = assign_paths["assignments"]
    say(
        "shift assignment",
        {
            "shift": cfg.shift_hours,
            "csos": asum["csos"],
            "assigned": asum["assigned"],
            "uncovered beats": ", ".join(map(str, asum["uncovered_beats"])) or "none",
            "seconds": timed(t0),
        },
    )

    t0 = time.perf_counter()
    shift_text = f"{cfg.shift_date or dates['shift_date']} {cfg.shift_hours}"
    routes_dir = out_dir / "routes"
    summaries = routes_file(
        outputs["beats"],
        outputs["hotspots"],
        routes_dir,
        network=net,
        shift=shift_text,
        beat="all",
        mode=cfg.mode,
        dwell=cfg.dwell,
        coverage=cfg.street_coverage,
        reserve=cfg.reserve,
    )
    outputs["routes"] = routes_dir
    say(
        "routes",
        {
            "shift": shift_text,
            "routes": len(summaries),
            "feasible": sum(bool(r["feasible"]) for r in summaries),
            "stops": sum(len(r.get("stops", [])) for r in summaries),
            "seconds": timed(t0),
        },
    )

    t0 = time.perf_counter()
    public = cfg.public
    outputs["analyst map"] = map_file(
        "analyst",
        maps_dir / "analyst.html",
        geocoded=geocoded,
        network=net,
        hotspots=outputs["hotspots"],
        public=public,
    )
    outputs["community map (public)"] = map_file(
        "analyst",
        maps_dir / "community.html",
        geocoded=geocoded,
        network=net,
        hotspots=outputs["hotspots"],
        public=True,
    )
    outputs["supervisor map"] = map_file(
        "supervisor",
        maps_dir / "supervisor.html",
        network=net,
        beats=outputs["beats"],
        assignments=outputs["assignments"],
        hotspots=outputs["hotspots"],
        public=public,
    )
    n_shift = 0
    for r in summaries:
        geojson = routes_dir / f"{r['route_id']}.geojson"
        if not r["feasible"] or not geojson.exists():
            continue
        outputs[f"shift map, beat {r['beat_id']}"] = map_file(
            "shift", maps_dir / f"shift-{geojson.stem}.html", network=net, route=geojson,
            public=public,
        )  # fmt: skip
        n_shift += 1
    say("maps", {"maps": 3 + n_shift, "folder": str(maps_dir), "seconds": timed(t0)})

    t0 = time.perf_counter()
    month = cfg.report_month or dates["report_month"]
    rep, report_paths = report_file(
        geocoded,
        month,
        out_dir / "report",
        network=net,
        hotspots=outputs["hotspots"],
        beats=outputs["beats"],
        backtest=outputs["backtest"],
        match_report=match,
    )
    outputs["monthly report"] = report_paths["html"]
    say(
        "monthly report",
        {"month": month, "calls": rep.data["calls"]["total"], "seconds": timed(t0)},
    )
    return outputs


def run_demo(
    *,
    out_dir: str | Path = "out",
    maps_dir: str | Path = "maps",
    progress: Progress | None = None,
) -> dict[str, Path]:
    """Run the whole pipeline on the bundled sample city.

    `run_pipeline` on the bundled configuration (``cso_geo/data/demo.toml``):
    central Helsinki, 12 months of synthetic calls, 6 beats, the day shift.
    """
    cfg = replace(demo_config(), out_dir=Path(out_dir), maps_dir=Path(maps_dir))
    return run_pipeline(cfg, progress=progress)


#: The maps `map_file` draws.
MAP_KINDS = ("analyst", "supervisor", "shift")


def _read_output_layer(
    path: str | Path,
    layer: str,
    *,
    what: str,
    hint: str,
    columns: Sequence[str] = (),
) -> gpd.GeoDataFrame:
    """Read `layer` of a GeoPackage (or the only layer of a GeoJSON and the like).

    A file with several layers but not `layer`, a layer without `columns` or
    without a CRS is refused with an error naming the file, what it lacks and
    `hint` (how to make the right one).
    """
    p = Path(path)
    if not p.exists():
        msg = f"The {what} {str(p)!r} does not exist. {hint}"
        raise InputFileNotFoundError(msg)
    try:
        layers = list(gpd.list_layers(p)["name"])
    except Exception as exc:  # GDAL raises several types for unreadable files
        msg = f"Cannot read the {what} {str(p)!r}: {exc}. {hint}"
        raise InputFileError(msg) from exc
    if layer not in layers and len(layers) != 1:
        msg = f"The {what} {str(p)!r} has no layer {layer!r} (it has {', '.join(layers)}). {hint}"
        raise InputFileError(msg)
    try:
        gdf = gpd.read_file(p, layer=layer if layer in layers else layers[0])
    except Exception as exc:  # GDAL raises several types for unreadable layers
        msg = f"Cannot read the {what} {str(p)!r}: {exc}. {hint}"
        raise InputFileError(msg) from exc
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        msg = f"The {what} {str(p)!r} lacks column(s) {', '.join(missing)}. {hint}"
        raise InputFileError(msg)
    if gdf.crs is None:
        msg = f"The {what} {str(p)!r} has no CRS. {hint}"
        raise InputFileError(msg)
    return gdf


#: Columns every reader of a hotspots file needs (`write_hotspots` writes many more).
HOTSPOT_FILE_COLUMNS = ("rank",)


def map_file(
    kind: str,
    out: str | Path,
    *,
    geocoded: str | Path | gpd.GeoDataFrame | None = None,
    network: StreetNetwork | None = None,
    hotspots: str | Path | None = None,
    beats: str | Path | None = None,
    assignments: str | Path | None = None,
    route: str | Path | None = None,
    public: bool = False,
    offline: bool = True,
) -> Path:
    """Draw one of the product maps (`MAP_KINDS`) from files and save it as HTML.

    ``analyst`` needs `geocoded` (hotspots are found with the segment method when
    no `hotspots` file is given and a `network` is; its HDBSCAN clusters are the
    hotspots of an ``hdbscan`` hotspots file, else `maps.incident_clusters` on a
    subsample; none on a public map); ``supervisor`` needs `beats`
    (layer ``beats``); ``shift`` needs `route` (a route GeoJSON, its summary, or a
    folder holding one route). The street `network`, when given, is drawn as the
    basemap. The page is self-contained unless `offline` is False.
    """
    if kind not in MAP_KINDS:
        msg = f"Unknown map {kind!r}; choose one of {', '.join(MAP_KINDS)}."
        raise ValueError(msg)
    G = network.walk if network is not None else None
    found = (
        None
        if hotspots is None
        else _read_output_layer(
            hotspots,
            "hotspots",
            what="hotspots file",
            hint="Make it with `cso-geo hotspots`.",
            columns=HOTSPOT_FILE_COLUMNS,
        )
    )
    if kind == "analyst":
        if geocoded is None:
            msg = "The analyst map needs geocoded incidents (GEOCODED argument)."
            raise ValueError(msg)
        incidents = read_geocoded(geocoded)
        if found is None and network is not None:
            located = hs.select_incidents(incidents)
            if not located.empty:
                found = hs.find_hotspots(located, hs.street_units(network.walk))
        clusters = None
        if not public:
            # hdbscan hotspots are cluster polygons; otherwise cluster a subsample (cheap)
            hdb = None
            if found is not None and "method" in found.columns:
                hdb = found[found["method"].astype(str) == "hdbscan"]
            clusters = hdb if hdb is not None and len(hdb) else maps.incident_clusters(incidents)
        m = maps.analyst_map(
            incidents,
            G,
            hotspots=found,
            clusters=clusters,
            public=public,
            offline=offline,
            title="Community calls map" if public else "Calls and hotspots",
        )
    elif kind == "supervisor":
        if beats is None:
            msg = "The supervisor map needs --beats FILE (written by `cso-geo beats`)."
            raise ValueError(msg)
        beat_gdf = _read_output_layer(
            beats,
            "beats",
            what="beats file",
            hint="Make it with `cso-geo beats`.",
            columns=("beat_id",),
        )
        table = None
        if assignments is not None:
            if not Path(assignments).exists():
                msg = f"The assignments file {str(assignments)!r} does not exist."
                raise InputFileNotFoundError(msg)
            try:
                table = pd.read_csv(assignments, keep_default_na=False, dtype={"cso_id": str})
            except (OSError, ValueError) as exc:
                msg = f"Cannot read the assignments file {str(assignments)!r}: {exc}"
                raise InputFileError(msg) from exc
            missing = [c for c in ("cso_id", "beat_id") if c not in table.columns]
            if missing:
                msg = (
                    f"The assignments file {str(assignments)!r} lacks column(s) "
                    f"{', '.join(missing)}: give the CSV `cso-geo assign --out` writes, not the "
                    "roster."
                )
                raise InputFileError(msg)
            table["beat_id"] = pd.to_numeric(table["beat_id"], errors="coerce")
        m = maps.supervisor_map(
            beat_gdf, G, assignments=table, hotspots=found, public=public, offline=offline
        )
    else:
        if route is None:
            msg = "The shift map needs --route DIR_OR_FILE (written by `cso-geo routes`)."
            raise ValueError(msg)
        m = maps.shift_map(route, G, public=public, offline=offline)
    return maps.save_map(m, out, offline=offline)


def report_file(
    geocoded: str | Path | gpd.GeoDataFrame,
    month: str,
    out_dir: str | Path,
    *,
    network: StreetNetwork | None = None,
    hotspots: str | Path | None = None,
    beats: str | Path | None = None,
    backtest: str | Path | None = None,
    match_report: dict[str, Any] | None = None,
) -> tuple[report_mod.MonthlyReport, dict[str, Path]]:
    """Write the monthly hotspot report of `month` (``YYYY-MM``) into `out_dir`.

    The geocoding match report beside `geocoded` (``X.report.json``), when present,
    adds the overall hit rate; the metadata beside `hotspots` (``X.meta.json``)
    says on which street units and by which method they were made. Writes
    ``report-YYYY-MM.html``, its PNG charts and ``report-YYYY-MM.json``.
    """
    incidents = read_geocoded(geocoded)
    found = (
        None
        if hotspots is None
        else _read_output_layer(
            hotspots,
            "hotspots",
            what="hotspots file",
            hint="Make it with `cso-geo hotspots`.",
            columns=(*HOTSPOT_FILE_COLUMNS, "unit_id", "count"),
        )
    )
    beat_gdf = (
        None
        if beats is None
        else _read_output_layer(
            beats,
            "beats",
            what="beats file",
            hint="Make it with `cso-geo beats`.",
            columns=("beat_id",),
        )
    )
    bt = None
    if backtest is not None:
        try:
            bt = json.loads(Path(backtest).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            msg = f"Cannot read the backtest file {str(backtest)!r}: {exc}"
            raise InputFileError(msg) from exc
    match = match_report
    match_path = output_paths(geocoded)["report"] if isinstance(geocoded, str | Path) else None
    if match is None and match_path is not None and match_path.exists():
        try:
            match = json.loads(match_path.read_text(encoding="utf-8")).get("match")
        except (OSError, json.JSONDecodeError):
            match = None
    meta = None
    if hotspots is not None:
        meta_path = Path(hotspots).with_suffix(".meta.json")
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                msg = f"Cannot read the hotspots metadata {str(meta_path)!r}: {exc}"
                raise InputFileError(msg) from exc
    rep = report_mod.monthly_report(
        incidents,
        month,
        hotspots=found,
        beats=beat_gdf,
        backtest=bt,
        match_report=match,
        network=network,
        hotspots_meta=meta,
    )
    return rep, report_mod.write_report(rep, out_dir)
