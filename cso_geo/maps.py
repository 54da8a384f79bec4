"""Interactive maps of streets, calls, hotspots, beats and routes, viewable offline.

`overview_map` draws a projected osmnx street graph (and optionally incident
points) as Leaflet vector layers with Folium. The product maps build on it:
`analyst_map` (calls per hexagon with time-of-day layers, an optional heat
map, incident points in clusters, hotspots by method and category coloured by
trend, HDBSCAN clusters), `supervisor_map` (beats coloured by workload with
their CSOs, hotspots) and `shift_map` (one CSO's route with numbered stops and
a printable side panel). Each has a public mode for residents: no incident
points, addresses, coordinates or CSO names, counts on hexagons and hotspots
with small counts suppressed, and a legend note saying what was aggregated or
left out.

A product map's size does not grow with its input: the basemap streets are
merged into one feature per street name and class (and thinned to a vertex
budget), the hexagons grow until there are at most `MAX_HEX_CELLS`, their
cells are written once for all the time-band layers, the heat map is drawn
from at most `MAX_HEAT_POINTS` grid cells, and at most `MAX_CLUSTER_POINTS`
incidents (the latest, and fewer if their fields are long) are drawn as
points, as one compact array whose popups are built on click.

`save_map` writes the page. By default it is fully self-contained: Leaflet,
and when the page uses them jQuery, Leaflet.markercluster, Leaflet.heat (from
the folium package itself) and Font Awesome, are inlined from installed
packages; the libraries Folium links but no cso_geo page needs (Bootstrap,
Leaflet.awesome-markers) are left out, and no tile layer is drawn: the street
network itself is the basemap. The saved file is checked to load nothing from
the network.

Text from the data (street names, incident fields, reasons, CSO ids) is
HTML-escaped before it reaches a tooltip, popup, label or panel, and before it
is written into the page's data: incident text is untrusted.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import math
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final

import branca.element
import folium
import folium.map
import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import osmnx as ox
import pandas as pd
import shapely
from folium.elements import JSCSSMixin
from folium.plugins import HeatMap, MarkerCluster
from folium.template import Template

from cso_geo._errors import (
    CsoGeoError,
    EmptyNetworkError,
    InputFileError,
    InputFileNotFoundError,
)
from cso_geo._io import atomic_write_text
from cso_geo.beats import beat_key

__all__ = [
    "HEX_SIZE_M",
    "MAX_BASEMAP_VERTICES",
    "MAX_CLUSTER_POINTS",
    "MAX_HEAT_POINTS",
    "MAX_HEX_CELLS",
    "MAX_INCIDENT_POINTS",
    "MAX_POINT_BYTES",
    "PUBLIC_MIN_COUNT",
    "MapError",
    "OfflineMapError",
    "Route",
    "analyst_map",
    "hex_counts",
    "incident_clusters",
    "overview_map",
    "read_route",
    "remote_references",
    "save_map",
    "shift_map",
    "supervisor_map",
]

log = logging.getLogger(__name__)

#: Above this many incidents they are drawn as counts on a square grid, not as points.
MAX_INCIDENT_POINTS: Final = 2_000
#: Side of an incident grid cell (m, in the graph's projected CRS).
INCIDENT_GRID_CELL_M: Final = 150.0
#: Douglas-Peucker tolerance (m) applied to street geometry before drawing.
SIMPLIFY_TOLERANCE_M: Final = 1.0
#: Decimal places kept in longitude/latitude (6 places is about 0.1 m).
COORD_DECIMALS: Final = 6
#: Above this many drawn features Leaflet uses one canvas instead of SVG paths.
CANVAS_THRESHOLD: Final = 10_000
#: Page background when there is no tile layer.
BACKGROUND_COLOR: Final = "#f7f7f4"
#: Incident fields (columns) shown in a tooltip, and the longest text kept per field.
_MAX_INCIDENT_FIELDS: Final = 4
_MAX_FIELD_CHARS: Final = 200


class MapError(CsoGeoError, ValueError):
    """The data given to a map function cannot be drawn (e.g. points without a CRS)."""


class OfflineMapError(CsoGeoError, RuntimeError):
    """An offline map would still load something from the network."""


# --- road classes --------------------------------------------------------------------------------

_MAJOR: Final = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
    }
)
_PATHS: Final = frozenset(
    {
        "footway",
        "path",
        "cycleway",
        "pedestrian",
        "steps",
        "track",
        "bridleway",
        "corridor",
        "elevator",
        "platform",
    }
)


@dataclass(frozen=True)
class _RoadClass:
    """How one group of road types is drawn."""

    key: str
    label: str
    color: str
    weight: float
    dash: str | None = None

    def style(self) -> dict[str, Any]:
        """Return the Leaflet path style of this class."""
        style: dict[str, Any] = {
            "color": self.color,
            "weight": self.weight,
            "opacity": 0.9,
            "lineCap": "round",
            "lineJoin": "round",
        }
        if self.dash is not None:
            style["dashArray"] = self.dash
        return style


#: Drawing order: paths at the bottom, major roads on top.
ROAD_CLASSES: Final = (
    _RoadClass("path", "Paths & cycleways", "#2f855a", 1.5, "4 3"),
    _RoadClass("minor", "Minor streets", "#4a5568", 2.5),
    _RoadClass("major", "Major roads", "#c05621", 4.0),
)
_HIGHLIGHT: Final = {"color": "#2b6cb0", "weight": 6, "opacity": 1.0}
_INCIDENT_COLOR: Final = "#6b46c1"
_GRID_COLORS: Final = ("#fde0dd", "#fcc5c0", "#fa9fb5", "#f768a1", "#c51b8a", "#7a0177")


def _road_class(highway: object) -> str:
    """Return the road class key (``major``/``minor``/``path``) of an OSM ``highway`` value."""
    values = _as_str_list(highway)
    if any(v in _MAJOR for v in values):
        return "major"
    if values and all(v in _PATHS for v in values):
        return "path"
    return "minor"


def _as_str_list(value: object) -> list[str]:
    """Return an OSM tag value (str, list of str, or missing) as a list of strings.

    The values of a list (osmnx lists the tags of merged ways in no fixed order) come
    back unique and sorted, so the same graph always gives the same page.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return sorted({str(v) for v in value if not _is_missing(v)})
    if _is_missing(value):
        return []
    return [str(value)]


def _is_missing(value: object) -> bool:
    """Return True for None and NaN-like scalars."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def _text(value: object, *, limit: int = _MAX_FIELD_CHARS) -> str:
    """Return `value` as HTML-escaped text for a tooltip, cut to `limit` characters first."""
    text = "; ".join(_as_str_list(value))
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    # backticks too: no data text can end a JavaScript template literal it may land in
    return html.escape(text, quote=True).replace("`", "&#96;")


# --- geometry helpers ----------------------------------------------------------------------------


def _round_coords(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.round(coords, COORD_DECIMALS)


def _to_lonlat(geoms: gpd.GeoSeries) -> npt.NDArray[np.object_]:
    """Reproject `geoms` to EPSG:4326 and round their coordinates."""
    wgs = geoms.to_crs(4326)
    out: npt.NDArray[np.object_] = shapely.transform(np.asarray(wgs.values), _round_coords)
    return out


def _line_coords(geom: shapely.Geometry) -> list[list[float]]:
    coords: list[list[float]] = shapely.get_coordinates(geom).tolist()
    return coords


def _unique_edges(edges: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop the reverse twin of every two-way edge (same end nodes, same geometry reversed)."""
    normalised = shapely.to_wkb(shapely.normalize(np.asarray(edges.geometry.values)))
    seen: set[tuple[frozenset[Any], bytes]] = set()
    keep = np.zeros(len(edges), dtype=bool)
    for i, ((u, v, _k), wkb) in enumerate(zip(edges.index, normalised, strict=True)):
        key = (frozenset((u, v)), bytes(wkb))
        if key not in seen:
            seen.add(key)
            keep[i] = True
    return edges.loc[keep]


def _graph_edges(G: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """Return the edges of `G` (one row per undirected street segment), in `G`'s CRS."""
    if G.number_of_edges() == 0:
        raise EmptyNetworkError("the street graph has no edges: there is nothing to draw")
    if "crs" not in G.graph:
        raise MapError("the street graph has no G.graph['crs']; project it with osmnx first")
    gdf = ox.convert.graph_to_gdfs(G, nodes=False)
    assert isinstance(gdf, gpd.GeoDataFrame)
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    return _unique_edges(gdf)


def _street_features(
    edges: gpd.GeoDataFrame,
    *,
    decimals: int = COORD_DECIMALS,
    merge: bool = False,
    tolerance: float = SIMPLIFY_TOLERANCE_M,
) -> dict[str, list[dict[str, Any]]]:
    """Return GeoJSON features of `edges`, grouped by road class key.

    With `merge`, the segments of one street (same road class, name and type) are
    joined into one (Multi)LineString feature: a city's basemap then holds hundreds
    of features instead of tens of thousands, which is most of its size and of the
    page's load time.
    """
    simplified = edges.geometry.simplify(tolerance, preserve_topology=False)
    lonlat = _to_lonlat(simplified)
    if decimals != COORD_DECIMALS:
        lonlat = shapely.transform(lonlat, lambda c: np.round(c, decimals))
    names = edges["name"] if "name" in edges.columns else pd.Series(None, index=edges.index)
    highways = (
        edges["highway"] if "highway" in edges.columns else pd.Series(None, index=edges.index)
    )
    lengths = (edges["length"] if "length" in edges.columns else edges.geometry.length).to_numpy(
        dtype=float
    )
    labels = [_text(name) or "(unnamed)" for name in names]
    kinds = [_text(highway) or "road" for highway in highways]
    classes = [_road_class(highway) for highway in highways]
    groups: dict[str, list[dict[str, Any]]] = {rc.key: [] for rc in ROAD_CLASSES}
    if not merge:
        for i, (geom, label, kind, cls, length) in enumerate(
            zip(lonlat, labels, kinds, classes, lengths, strict=True)
        ):
            groups[cls].append(
                {
                    "type": "Feature",
                    "id": i,
                    "properties": {
                        "name": label,
                        "highway": kind,
                        "length_m": round(length) if math.isfinite(length) else None,
                    },
                    "geometry": {"type": "LineString", "coordinates": _line_coords(geom)},
                }
            )
        return groups
    finite = np.where(np.isfinite(lengths), lengths, 0.0)
    by_street: dict[tuple[str, str, str], list[int]] = {}
    for row, key in enumerate(zip(classes, labels, kinds, strict=True)):
        by_street.setdefault(key, []).append(row)
    for i, ((cls, label, kind), rows) in enumerate(sorted(by_street.items())):
        merged = shapely.line_merge(shapely.multilinestrings(list(lonlat[rows])))
        groups[cls].append(
            {
                "type": "Feature",
                "id": i,
                "properties": {
                    "name": label,
                    "highway": kind,
                    "length_m": round(float(finite[rows].sum())),
                },
                "geometry": _geometry_json(merged),
            }
        )
    return groups


def _constant_style(style: Mapping[str, Any]) -> Callable[[Any], dict[str, Any]]:
    """Return a Folium style function giving every feature the same style."""

    def style_function(_feature: Any) -> dict[str, Any]:
        return dict(style)

    return style_function


# --- incidents -----------------------------------------------------------------------------------


def _incident_points(incidents: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """Return `incidents` as points in `crs`, without missing or empty geometries."""
    if incidents.crs is None:
        raise MapError(
            "the incidents GeoDataFrame has no CRS; set it (e.g. .set_crs(4326)) before mapping"
        )
    valid = incidents[~(incidents.geometry.isna() | incidents.geometry.is_empty)]
    if dropped := len(incidents) - len(valid):
        log.warning("%d incident(s) without a location are not drawn", dropped)
    valid = valid.to_crs(crs)
    if not valid.geometry.geom_type.eq("Point").all():
        valid = valid.set_geometry(valid.geometry.representative_point())
    return valid


def _incident_layer(points: gpd.GeoDataFrame) -> folium.FeatureGroup:
    """Return one circle marker per incident, with an escaped tooltip of its first fields."""
    columns = [c for c in points.columns if c != points.geometry.name][:_MAX_INCIDENT_FIELDS]
    keys = [f"f{j}" for j in range(len(columns))]
    lonlat = _to_lonlat(points.geometry)
    features = []
    for i, (geom, row) in enumerate(
        zip(lonlat, points[columns].itertuples(index=False), strict=True)
    ):
        x, y = shapely.get_coordinates(geom)[0].tolist()
        features.append(
            {
                "type": "Feature",
                "id": i,
                "properties": {k: _text(v) for k, v in zip(keys, row, strict=True)},
                "geometry": {"type": "Point", "coordinates": [x, y]},
            }
        )
    group = folium.FeatureGroup(name=f"Incidents ({len(features):,})")
    tooltip = (
        folium.GeoJsonTooltip(
            fields=keys, aliases=[html.escape(str(c), quote=True) for c in columns], sticky=True
        )
        if keys
        else None
    )
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="incidents",
        control=False,
        marker=folium.CircleMarker(
            radius=4,
            color="#ffffff",
            weight=1,
            fill=True,
            fill_color=_INCIDENT_COLOR,
            fill_opacity=0.85,
        ),
        tooltip=tooltip,
    ).add_to(group)
    return group


def _incident_grid_layer(points: gpd.GeoDataFrame) -> folium.FeatureGroup:
    """Return incidents counted on a square grid of `INCIDENT_GRID_CELL_M` cells."""
    cell = INCIDENT_GRID_CELL_M
    xy = shapely.get_coordinates(np.asarray(points.geometry.values))
    ij = np.floor(xy / cell).astype(np.int64)
    cells, counts = np.unique(ij, axis=0, return_counts=True)
    boxes = shapely.box(
        cells[:, 0] * cell, cells[:, 1] * cell, (cells[:, 0] + 1) * cell, (cells[:, 1] + 1) * cell
    )
    lonlat = _to_lonlat(gpd.GeoSeries(boxes, crs=points.crs))
    top = int(counts.max())
    features = []
    for i, (geom, count) in enumerate(zip(lonlat, counts.tolist(), strict=True)):
        level = min(
            int(len(_GRID_COLORS) * math.log1p(count) / math.log1p(top)), len(_GRID_COLORS) - 1
        )
        features.append(
            {
                "type": "Feature",
                "id": i,
                "properties": {"count": count, "fill": _GRID_COLORS[level]},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [_line_coords(shapely.get_exterior_ring(geom))],
                },
            }
        )

    def style_function(feature: Any) -> dict[str, Any]:
        return {
            "color": feature["properties"]["fill"],
            "weight": 0.5,
            "fillColor": feature["properties"]["fill"],
            "fillOpacity": 0.55,
        }

    group = folium.FeatureGroup(name=f"Incidents per {cell:g} m cell ({len(points):,})")
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="incident grid",
        control=False,
        style_function=style_function,
        tooltip=folium.GeoJsonTooltip(fields=["count"], aliases=["Incidents"], sticky=True),
    ).add_to(group)
    return group


# --- the map -------------------------------------------------------------------------------------


#: Shared page styles: the title box, the legend and side panel, and what printing hides.
_PAGE_CSS: Final = (
    f".folium-map.leaflet-container {{ background: {BACKGROUND_COLOR}; }}"
    ".cso-geo-title { position: absolute; top: 10px; left: 50%;"
    " transform: translateX(-50%); z-index: 1000; padding: 4px 10px;"
    " background: rgba(255,255,255,0.9); border-radius: 4px;"
    " font: bold 15px/1.3 system-ui, sans-serif; box-shadow: 0 1px 4px rgba(0,0,0,0.3); }"
    ".cso-geo-legend { position: absolute; bottom: 60px; left: 10px; z-index: 1000;"
    " max-width: 280px; padding: 6px 9px; background: rgba(255,255,255,0.92);"
    " border-radius: 4px; font: 12px/1.35 system-ui, sans-serif;"
    " box-shadow: 0 1px 4px rgba(0,0,0,0.3); }"
    ".cso-geo-legend h4 { margin: 2px 0 4px; font-size: 13px; }"
    ".cso-geo-legend .sw { display: inline-block; width: 14px; height: 10px;"
    " margin-right: 5px; border: 1px solid #555; vertical-align: middle; }"
    ".cso-geo-legend .note { margin-top: 4px; color: #444; font-style: italic; }"
    ".cso-geo-panel { position: absolute; top: 50px; right: 10px; bottom: 30px; z-index: 1000;"
    " width: 300px; overflow-y: auto; padding: 8px 10px; background: rgba(255,255,255,0.95);"
    " border-radius: 4px; font: 12px/1.4 system-ui, sans-serif;"
    " box-shadow: 0 1px 4px rgba(0,0,0,0.3); }"
    ".cso-geo-panel ol { padding-left: 20px; margin: 4px 0; }"
    ".cso-geo-stop { display: flex; align-items: center; justify-content: center;"
    " width: 22px; height: 22px; border-radius: 50%; background: #2b6cb0; color: #fff;"
    " border: 2px solid #fff; font: bold 12px/1 system-ui, sans-serif;"
    " box-shadow: 0 1px 3px rgba(0,0,0,0.5); box-sizing: border-box; }"
    ".cso-geo-stop.start { background: #2f855a; } .cso-geo-stop.end { background: #9b2c2c; }"
    ".cso-geo-label { font: bold 11px/1.2 system-ui, sans-serif; color: #1a202c;"
    " text-align: center; white-space: nowrap; text-shadow: 0 0 3px #fff, 0 0 3px #fff; }"
    "@media print { .leaflet-control-layers, .leaflet-control-zoom { display: none; }"
    " .cso-geo-panel { position: static; width: auto; max-height: none; box-shadow: none; }"
    " .cso-geo-title, .cso-geo-legend { box-shadow: none; } }"
)


def _base_map(
    bounds: Iterable[float],
    *,
    title: str,
    offline: bool,
    prefer_canvas: bool = False,
    right_margin_px: int = 0,
) -> folium.Map:
    """Return an empty map fitted to `bounds` (west, south, east, north), with title and styles.

    Online, OpenStreetMap tiles are an optional layer, off by default (the street
    layers drawn from our own graph are the basemap); offline there is no tile layer.
    """
    west, south, east, north = (float(b) for b in bounds)
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=14,
        tiles=None,
        control_scale=True,
        prefer_canvas=prefer_canvas,
    )
    # the map's own zoom limit (folium only gives it to tile layers); marker clusters need it
    m.options["maxZoom"] = 19
    root = m.get_root()
    assert isinstance(root, branca.element.Figure)
    root.title = html.escape(title, quote=True)
    root.header.add_child(
        branca.element.Element(f"<style>{_PAGE_CSS}</style>"), name="cso_geo_style"
    )
    root.html.add_child(
        branca.element.Element(
            f'<div class="cso-geo-title">{html.escape(title, quote=True)}</div>'
        ),
        name="cso_geo_title",
    )
    if not offline:
        folium.TileLayer(
            "OpenStreetMap", name="OpenStreetMap tiles (online)", control=True, show=False
        ).add_to(m)
    m.fit_bounds(
        [[south, west], [north, east]],
        padding_top_left=(20, 50) if right_margin_px else None,
        padding_bottom_right=(right_margin_px + 20, 40) if right_margin_px else None,
    )
    return m


def _add_street_layers(
    m: folium.Map,
    edges: gpd.GeoDataFrame,
    *,
    show: bool = True,
    decimals: int = COORD_DECIMALS,
    merge: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Add one vector layer per road class of `edges` to `m`; return the features drawn.

    `merge` draws one feature per street (see `_street_features`), simplified with
    `BASEMAP_SIMPLIFY_M`, as the product maps' basemap.
    """
    groups = _street_features(
        edges,
        decimals=decimals,
        merge=merge,
        tolerance=BASEMAP_SIMPLIFY_M if merge else SIMPLIFY_TOLERANCE_M,
    )
    for rc in ROAD_CLASSES:
        features = groups[rc.key]
        if not features:
            continue
        group = folium.FeatureGroup(name=f"{rc.label} ({len(features):,})", show=show)
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=rc.label,
            control=False,
            style_function=_constant_style(rc.style()),
            highlight_function=_constant_style(_HIGHLIGHT),
            tooltip=folium.GeoJsonTooltip(
                fields=["name", "highway", "length_m"],
                aliases=["Street", "Type", "Length (m)"],
                sticky=True,
            ),
        ).add_to(group)
        group.add_to(m)
    return groups


def overview_map(
    G: nx.MultiDiGraph,
    *,
    incidents: gpd.GeoDataFrame | None = None,
    offline: bool = True,
    title: str = "Street network",
) -> folium.Map:
    """Draw a projected street graph (and optional incidents) on a Folium map.

    Parameters
    ----------
    G : networkx.MultiDiGraph
        osmnx-compatible graph in a projected CRS (``G.graph["crs"]``), every edge with a
        ``geometry`` LineString, ``highway`` and ``length`` (m), optionally ``name``.
    incidents : geopandas.GeoDataFrame, optional
        Incident locations in any CRS. Up to `MAX_INCIDENT_POINTS` are drawn as circle
        markers (tooltip: their first four fields), more as counts on a square grid.
    offline : bool, default True
        Draw no tile layer (plain light background); when False, add OpenStreetMap tiles.
    title : str, default "Street network"
        Shown on the map and as the page title.

    Returns
    -------
    folium.Map
        One layer per road class (each street segment drawn once, whichever its
        directions), an incident layer, a layer control and a scale bar; fitted to the
        network. Save it with `save_map`.

    Raises
    ------
    EmptyNetworkError
        If `G` has no edges.
    MapError
        If `G` has no CRS or `incidents` has none.
    """
    edges = _graph_edges(G)
    points = None if incidents is None else _incident_points(incidents, G.graph["crs"])
    n_streets = len(edges)
    n_drawn = n_streets + (
        0 if points is None or len(points) > MAX_INCIDENT_POINTS else len(points)
    )
    m = _base_map(
        edges.geometry.to_crs(4326).total_bounds.tolist(),
        title=title,
        offline=offline,
        prefer_canvas=n_drawn > CANVAS_THRESHOLD,
    )
    groups = _add_street_layers(m, edges)

    if points is not None and len(points):
        if len(points) > MAX_INCIDENT_POINTS:
            _incident_grid_layer(points).add_to(m)
        else:
            _incident_layer(points).add_to(m)

    folium.LayerControl(collapsed=False).add_to(m)
    log.info(
        "overview map: %d street segments (%s), %s incidents%s",
        n_streets,
        ", ".join(f"{len(groups[rc.key])} {rc.key}" for rc in ROAD_CLASSES),
        0 if points is None else len(points),
        ", canvas renderer" if n_drawn > CANVAS_THRESHOLD else "",
    )
    return m


# --- shared pieces of the three product maps -----------------------------------------------------

#: Minimum calls in a public-mode hexagon (smaller counts are suppressed).
PUBLIC_MIN_COUNT: Final = 3
#: Circumradius (m) of the hexagons incidents are counted on.
HEX_SIZE_M: Final = 120.0
#: At most this many incidents are drawn as points, in marker clusters (internal maps
#: only); of more, the latest this many are drawn and all are counted in the density layers.
MAX_CLUSTER_POINTS: Final = 10_000
#: At most this many bytes of point data (coordinates and escaped popup fields) in a page:
#: when the fields are long, fewer (the latest) incidents are drawn as points.
MAX_POINT_BYTES: Final = 2_000_000
#: Decimal places of the drawn incident points (5 places is about 1 m).
POINT_DECIMALS: Final = 5
#: Longest text kept per popup field of an incident point.
POINT_FIELD_CHARS: Final = 120
#: The heat map is drawn from calls counted on square cells of this side (m), grown until
#: there are at most `MAX_HEAT_POINTS` cells.
HEAT_CELL_M: Final = 40.0
MAX_HEAT_POINTS: Final = 8_000
#: Decimal places of the basemap streets in the product maps (5 places is about 1 m).
BASEMAP_DECIMALS: Final = 5
#: Douglas-Peucker tolerance (m) of the product maps' basemap streets.
BASEMAP_SIMPLIFY_M: Final = 2.0
#: Above this many street vertices in a product map's basemap, paths and then minor
#: streets are left out of it (the legend says so), so the page size stays bounded.
MAX_BASEMAP_VERTICES: Final = 60_000
#: At most this many hotspots (the best ranked) and HDBSCAN clusters (the largest) are drawn.
MAX_HOTSPOTS_DRAWN: Final = 2_000
MAX_CLUSTERS_DRAWN: Final = 500
#: Points HDBSCAN clusters directly in `incident_clusters` (more are subsampled).
MAX_CLUSTER_SAMPLE: Final = 10_000
#: The calls-per-hexagon layer has at most about this many cells: over a large area the
#: hexagons grow, so a map's size does not grow with the input.
MAX_HEX_CELLS: Final = 2_500
#: Margin (m) around the drawn data within which streets are drawn as the basemap.
BASEMAP_MARGIN_M: Final = 500.0
#: Shift bands of the time filter: one density layer each.
TIME_BANDS: Final = (("Day 06-14", 6, 14), ("Evening 14-22", 14, 22), ("Night 22-06", 22, 6))
#: Hotspot colour by trend class (`cso_geo.hotspots.TREND_CLASSES`).
TREND_COLORS: Final = {
    "new": "#e53e3e",
    "intensifying": "#dd6b20",
    "persistent": "#805ad5",
    "diminishing": "#3182ce",
    "intermittent": "#d69e2e",
    "sporadic": "#718096",
    "none": "#a0aec0",
}
_HEX_COLORS: Final = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026")
_WORKLOAD_COLORS: Final = ("#edf8fb", "#b2e2e2", "#66c2a4", "#2ca25f", "#006d2c")
_CATEGORY_COLORS: Final = (
    "#6b46c1",
    "#dd6b20",
    "#2b6cb0",
    "#2f855a",
    "#b83280",
    "#975a16",
    "#00a3c4",
    "#c53030",
)
_OTHER_CATEGORY_COLOR: Final = "#718096"
_PUBLIC_NOTE: Final = (
    "Public map: no incident points, locations or addresses. Calls are counted on {size:g} m "
    "hexagons; cells with fewer than {k} calls are not shown. Hotspots are shown as street "
    "segments with rank, call count and trend only; hotspots with fewer than {k} calls are "
    "not shown."
)
_PUBLIC_SUPERVISOR_NOTE: Final = (
    "Public map: CSO names and assignments are not shown. Hotspots are shown as street "
    "segments with rank, call count and trend only; hotspots with fewer than {k} calls are "
    "not shown."
)
_PUBLIC_SHIFT_NOTE: Final = (
    "Public map: the shift's date and times, stop times, dwell times, reasons, call types, "
    "peak hours, directions and warnings are not shown; only the path and the order of the "
    "stops."
)


def _feature_collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _geometry_json(geom: shapely.Geometry) -> dict[str, Any]:
    """GeoJSON geometry of a (lon/lat, rounded) shapely geometry."""
    out: dict[str, Any] = json.loads(shapely.to_geojson(geom))
    return out


def _legend(m: folium.Map, title: str, entries: Iterable[tuple[str, str]], note: str = "") -> None:
    """Add a fixed legend box (colour swatch, label) to the page; all text is escaped."""
    rows = "".join(
        f'<div><span class="sw" style="background:{html.escape(color)}"></span>'
        f"{html.escape(label)}</div>"
        for color, label in entries
    )
    note_html = f'<div class="note">{html.escape(note)}</div>' if note else ""
    root = m.get_root()
    assert isinstance(root, branca.element.Figure)
    root.html.add_child(
        branca.element.Element(
            f'<div class="cso-geo-legend"><h4>{html.escape(title)}</h4>{rows}{note_html}</div>'
        ),
        name="cso_geo_legend",
    )


def _basemap_edges(
    G: nx.MultiDiGraph | None, bounds: npt.NDArray[np.float64] | None
) -> gpd.GeoDataFrame | None:
    """Street edges of `G` within `bounds` (projected, grown by `BASEMAP_MARGIN_M`)."""
    if G is None:
        return None
    edges = _graph_edges(G)
    if bounds is not None and np.isfinite(bounds).all():
        x0, y0, x1, y1 = bounds.tolist()
        box = shapely.box(
            x0 - BASEMAP_MARGIN_M,
            y0 - BASEMAP_MARGIN_M,
            x1 + BASEMAP_MARGIN_M,
            y1 + BASEMAP_MARGIN_M,
        )
        edges = edges[edges.intersects(box)]
    return edges


def _lonlat_bounds(frames: Iterable[gpd.GeoDataFrame | gpd.GeoSeries | None]) -> list[float]:
    boxes = [
        f.to_crs(4326).total_bounds
        for f in frames
        if f is not None and len(f) and f.crs is not None
    ]
    if not boxes:
        raise MapError("there is nothing to draw: no streets, incidents, hotspots or beats")
    b = np.vstack(boxes)
    return [b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()]


def _hex_axial(xy: npt.NDArray[np.float64], size: float) -> npt.NDArray[np.int64]:
    """Return the axial (q, r) of the pointy-top hexagon of circumradius `size` holding each
    point."""
    x, y = xy[:, 0] / size, xy[:, 1] / size
    q = (math.sqrt(3) / 3) * x - y / 3
    r = (2 / 3) * y
    # cube rounding
    cx, cz = q, r
    cy = -cx - cz
    rx, ry, rz = np.round(cx), np.round(cy), np.round(cz)
    dx, dy, dz = np.abs(rx - cx), np.abs(ry - cy), np.abs(rz - cz)
    fix_x = (dx > dy) & (dx > dz)
    fix_z = ~fix_x & (dz >= dy)
    rx = np.where(fix_x, -ry - rz, rx)
    rz = np.where(fix_z, -rx - ry, rz)
    qr: npt.NDArray[np.int64] = np.column_stack([rx, rz]).astype(np.int64)
    return qr


def _hex_cells(
    xy: npt.NDArray[np.float64], size: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return the axial (q, r) of the hexagons holding the points, as unique cells and their
    counts."""
    cells, counts = np.unique(_hex_axial(xy, size), axis=0, return_counts=True)
    return cells, counts.astype(np.int64)


def _hex_centres(cells: npt.NDArray[np.int64], size: float) -> npt.NDArray[np.float64]:
    """Return the projected centres (x, y) of axial `cells`."""
    q, r = cells[:, 0].astype(float), cells[:, 1].astype(float)
    centres: npt.NDArray[np.float64] = np.column_stack(
        [size * math.sqrt(3) * (q + r / 2), size * 1.5 * r]
    )
    return centres


def _hex_polygons(cells: npt.NDArray[np.int64], size: float) -> npt.NDArray[np.object_]:
    """Return the hexagon polygons of axial `cells`."""
    centres = _hex_centres(cells, size)
    angles = np.deg2rad(30 + 60 * np.arange(7))
    xs = centres[:, 0][:, None] + size * np.cos(angles)[None, :]
    ys = centres[:, 1][:, None] + size * np.sin(angles)[None, :]
    rings = np.stack([xs, ys], axis=2)
    polygons: npt.NDArray[np.object_] = np.asarray(shapely.polygons(rings), dtype=object)
    return polygons


def hex_counts(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    size: float = HEX_SIZE_M,
    min_count: int = 1,
) -> gpd.GeoDataFrame:
    """Count points on hexagons of circumradius `size` (m, in the points' projected CRS).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per hexagon holding at least `min_count` points: ``count`` and the
        hexagon polygon, in the points' CRS. Smaller counts are dropped (suppressed).
    """
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geoms.crs is None or not geoms.crs.is_projected:
        raise MapError("hex_counts needs points in a projected CRS (metres)")
    xy = shapely.get_coordinates(np.asarray(geoms.values))
    if not len(xy):
        return gpd.GeoDataFrame({"count": []}, geometry=[], crs=geoms.crs)
    cells, counts = _hex_cells(xy, size)
    keep = counts >= min_count
    return gpd.GeoDataFrame(
        {"count": counts[keep]}, geometry=_hex_polygons(cells[keep], size), crs=geoms.crs
    )


# --- compact layers built in the browser ---------------------------------------------------------

#: The page's JavaScript helpers that build layers from the compact data cso_geo writes:
#: hexagon density layers, and (internal maps) incident points with popups built on click.
#: Every text they put into HTML was escaped in Python; they add only numbers and that text.
_HEX_JS: Final = """
var csoGeo = window.csoGeo || {};
window.csoGeo = csoGeo;
csoGeo.level = function (n, top, k) {
  return Math.min(Math.floor(k * Math.log1p(n) / Math.log1p(Math.max(top, 1))), k - 1);
};
csoGeo.lazy = function (group, build, lazy) {
  if (lazy) { group.once('add', build); } else { build(); }
  return group;
};
csoGeo.hexLayer = function (d, col, top, lazy) {
  var group = L.featureGroup();
  return csoGeo.lazy(group, function () {
    for (var i = 0; i < d.cells.length; i++) {
      var c = d.cells[i], n = c[col];
      if (!n) { continue; }
      var ring = [];
      for (var j = 0; j < d.ring.length; j++) {
        ring.push([c[0] + d.ring[j][0], c[1] + d.ring[j][1]]);
      }
      var color = d.colors[csoGeo.level(n, top, d.colors.length)];
      var hex = L.polygon(ring, {color: color, weight: 0.5, fillColor: color,
                                 fillOpacity: 0.45});
      hex.csoCount = n;
      hex.bindTooltip(d.label + ': ' + n, {sticky: true});
      group.addLayer(hex);
    }
  }, lazy);
};
"""
_POINTS_JS: Final = """
var csoGeo = window.csoGeo || {};
window.csoGeo = csoGeo;
csoGeo.time = function (t0, minutes) {
  return new Date((t0 + minutes) * 60000).toISOString().slice(0, 16).replace('T', ' ');
};
csoGeo.popup = function (d, row) {
  var out = '';
  for (var j = 0; j < d.fields.length; j++) {
    var f = d.fields[j], v = row[2 + j], text;
    if (v === null) { continue; }
    if (f.kind === 'time') { text = csoGeo.time(d.t0, v); }
    else if (f.kind === 'lookup') { text = f.values[v]; }
    else { text = v; }
    out += '<b>' + f.alias + '</b>: ' + text + '<br>';
  }
  return out;
};
csoGeo.pointLayer = function (d) {
  var cluster = L.markerClusterGroup();
  var markers = new Array(d.rows.length);
  var content = function (layer) { return csoGeo.popup(d, layer.csoRow); };
  for (var i = 0; i < d.rows.length; i++) {
    var row = d.rows[i];
    var c = d.cat >= 0 && row[2 + d.cat] !== null ? row[2 + d.cat] : -1;
    var marker = L.circleMarker([row[0], row[1]], {
      radius: 5, color: '#ffffff', weight: 1, fillOpacity: 0.85,
      fillColor: c >= 0 && c < d.colors.length ? d.colors[c] : d.other});
    marker.csoRow = row;
    marker.bindPopup(content);
    markers[i] = marker;
  }
  cluster.addLayers(markers);
  return cluster;
};
"""


def _compact_json(value: Any) -> str:
    """`value` as compact JSON for an inline script.

    Every string in it is HTML-escaped text (no ``<``), so it cannot end the script.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if "<" in text:  # pragma: no cover - all text is escaped before it gets here
        raise MapError("unescaped text in map data")
    return text


def _add_layers_js(m: folium.Map, *, points: bool = False) -> None:
    """Add the page's layer-building helpers (each once) to the page header."""
    root = m.get_root()
    assert isinstance(root, branca.element.Figure)
    name, js = ("cso_geo_points_js", _POINTS_JS) if points else ("cso_geo_hex_js", _HEX_JS)
    root.header.add_child(branca.element.Element(f"<script>{js}</script>"), name=name)


class _JsData(branca.element.MacroElement):
    """A JavaScript variable holding compact JSON data shared by several layers."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = {{ this.payload }};
        {% endmacro %}"""
    )

    def __init__(self, data: Any) -> None:
        super().__init__()
        self._name = "CsoGeoData"
        self.data = data
        self.payload = _compact_json(data)


class _JsLayer(folium.map.Layer):
    """An overlay that one of the page helpers (`_HEX_JS`) builds from compact data.

    When not shown on opening it is built on first display (`lazy`), so hidden
    layers cost nothing while the page loads.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
        var {{ this.get_name() }} = {{ this.js_call }};
        {% endmacro %}"""
    )

    def __init__(self, js_call: str, *, name: str, show: bool, kind: str) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = kind
        self.js_call = js_call
        #: the counts drawn, for hexagon layers
        self.counts: list[int] = []


class _PointLayer(JSCSSMixin, _JsLayer):
    """Incident points in Leaflet.markercluster clusters, built from one compact array."""

    default_js = MarkerCluster.default_js
    default_css = MarkerCluster.default_css

    def __init__(self, data: dict[str, Any], payload: str, *, name: str) -> None:
        super().__init__(
            f"csoGeo.pointLayer({payload})", name=name, show=True, kind="CsoGeoPointLayer"
        )
        #: the data drawn (for tests and callers; the page holds `payload`)
        self.data = data


@dataclass(frozen=True)
class _HexDensity:
    """Calls counted on hexagons: all calls and each time band, for the density layers."""

    size: float
    #: lon/lat of each drawn cell's centre
    centres: npt.NDArray[np.float64]
    #: one column per layer (all calls, then each of `TIME_BANDS`); 0 where suppressed
    counts: npt.NDArray[np.int64]
    band_totals: tuple[int, ...]
    untimed: int


def _hex_density(
    points: gpd.GeoDataFrame,
    *,
    size: float,
    min_count: int,
    hours: npt.NDArray[np.int64] | None,
) -> _HexDensity:
    """Count `points` on hexagons, overall and per time band (`hours`: -1 when unknown)."""
    xy = shapely.get_coordinates(np.asarray(points.geometry.values))
    if not len(xy):
        empty = np.zeros((0, 1 + len(TIME_BANDS)), dtype=np.int64)
        return _HexDensity(size, np.zeros((0, 2)), empty, (0,) * len(TIME_BANDS), 0)
    cells, inverse = np.unique(_hex_axial(xy, size), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    columns = [np.bincount(inverse, minlength=len(cells))]
    totals = []
    untimed = 0
    if hours is not None:
        untimed = int((hours < 0).sum())
        for _label, start, end in TIME_BANDS:
            band = (hours >= 0) & _time_band(hours, start, end)
            totals.append(int(band.sum()))
            columns.append(np.bincount(inverse[band], minlength=len(cells)))
    counts = np.column_stack(columns).astype(np.int64)
    counts[counts < min_count] = 0
    keep = counts[:, 0] > 0
    cells, counts = cells[keep], counts[keep]
    centres = shapely.get_coordinates(
        gpd.GeoSeries(shapely.points(_hex_centres(cells, size)), crs=points.crs).to_crs(4326).values
    )
    return _HexDensity(size, centres, counts, tuple(totals), untimed)


def _hex_ring_offsets(density: _HexDensity, crs: Any) -> list[list[float]]:
    """(dlat, dlon) of the six corners of a hexagon from its centre, near the map's middle.

    Over a city the offsets barely change (centimetres at 120 m hexagons), so the
    page holds one ring and a centre per cell instead of seven corners per cell.
    """
    if not len(density.centres):
        return []
    mid = np.median(density.centres, axis=0)
    centre = gpd.GeoSeries([shapely.Point(mid)], crs=4326).to_crs(crs).iloc[0]
    angles = np.deg2rad(30 + 60 * np.arange(6))
    corners = shapely.points(
        centre.x + density.size * np.cos(angles), centre.y + density.size * np.sin(angles)
    )
    lonlat = shapely.get_coordinates(gpd.GeoSeries(corners, crs=crs).to_crs(4326).values)
    return [[round(lat - mid[1], 7), round(lon - mid[0], 7)] for lon, lat in lonlat.tolist()]


def _add_hex_layers(m: folium.Map, density: _HexDensity, *, crs: Any, n_calls: int) -> int:
    """Add the calls-per-hexagon layer (shown) and one per time band (hidden); return the
    largest count."""
    top = int(density.counts[:, 0].max()) if len(density.counts) else 1
    cells = np.column_stack([np.round(density.centres[:, ::-1], 6), density.counts])
    data = _JsData(
        {
            "label": "Calls",
            "colors": list(_HEX_COLORS),
            "ring": _hex_ring_offsets(density, crs),
            "cells": [[*row[:2], *(int(v) for v in row[2:])] for row in cells.tolist()],
        }
    )
    data.add_to(m)
    _add_layers_js(m)
    names = [f"Calls per hexagon ({n_calls:,})"] + [
        f"Calls {label} ({total:,})"
        for (label, _, _), total in zip(TIME_BANDS, density.band_totals, strict=False)
    ]
    for col, name in enumerate(names):
        show = col == 0
        layer = _JsLayer(
            f"csoGeo.hexLayer({data.get_name()}, {col + 2}, {top}, {json.dumps(not show)})",
            name=html.escape(name),
            show=show,
            kind="CsoGeoHexLayer",
        )
        layer.counts = [int(c) for c in density.counts[:, col] if c > 0]
        layer.add_to(m)
    return top


def _leaflet_heat_layer(
    points: gpd.GeoDataFrame, *, cell: float = HEAT_CELL_M
) -> tuple[HeatMap | None, float]:
    """A heat map (Leaflet.heat) of `points` counted on square cells; and the cell side.

    The cells grow until there are at most `MAX_HEAT_POINTS`; each cell centre is a
    heat point weighted by log(1 + count), so one very busy corner does not wash out
    the rest of the city.
    """
    xy = shapely.get_coordinates(np.asarray(points.geometry.values))
    if not len(xy):
        return None, cell
    while True:
        cells, counts = np.unique(np.floor(xy / cell).astype(np.int64), axis=0, return_counts=True)
        if len(cells) <= MAX_HEAT_POINTS:
            break
        cell = math.ceil(cell * 1.5 / 10) * 10
    centres = shapely.points((cells + 0.5) * cell)
    lonlat = shapely.get_coordinates(gpd.GeoSeries(centres, crs=points.crs).to_crs(4326).values)
    weights = np.round(np.log1p(counts), 2)
    data = np.column_stack([np.round(lonlat[:, 1], 5), np.round(lonlat[:, 0], 5), weights])
    layer = HeatMap(
        data.tolist(),
        name=f"Heat map (calls on {cell:g} m cells)",
        show=False,
        radius=18,
        blur=14,
        min_opacity=0.25,
        max_zoom=17,
    )
    return layer, cell


def _dominant_category(hotspots: gpd.GeoDataFrame) -> pd.Series:
    cols = [c for c in hotspots.columns if c.startswith("count_")]
    if not cols:
        return pd.Series("all", index=hotspots.index)
    counts = hotspots[cols].fillna(0).to_numpy(dtype=float)
    names = np.array([c.removeprefix("count_") for c in cols], dtype=object)
    return pd.Series(names[counts.argmax(axis=1)], index=hotspots.index)


_HOTSPOT_FIELDS: Final = (
    ("rank", "Rank"),
    ("name", "Street"),
    ("count", "Calls"),
    ("trend", "Trend"),
    ("top_call_types", "Top call types"),
    ("peak_hours", "Peak hours"),
    ("first_seen", "First seen"),
    ("last_seen", "Last seen"),
    ("method", "Method"),
)
_PUBLIC_HOTSPOT_FIELDS: Final = (("rank", "Rank"), ("count", "Calls"), ("trend", "Trend"))


def _hotspot_features(
    hotspots: gpd.GeoDataFrame, *, public: bool
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """GeoJSON features of hotspots (escaped properties), fields and aliases for popups."""
    spec = _PUBLIC_HOTSPOT_FIELDS if public else _HOTSPOT_FIELDS
    fields = [f for f, _ in spec if f in hotspots.columns]
    aliases = [a for f, a in spec if f in hotspots.columns]
    wgs = shapely.transform(_to_lonlat(hotspots.geometry), lambda c: np.round(c, BASEMAP_DECIMALS))
    trends = (
        hotspots["trend"].astype(str)
        if "trend" in hotspots.columns
        else pd.Series("none", index=hotspots.index)
    )
    features = []
    for i, (geom, (_, row), trend) in enumerate(zip(wgs, hotspots.iterrows(), trends, strict=True)):
        props: dict[str, Any] = {f: _text(row[f]) for f in fields}
        props["_color"] = TREND_COLORS.get(trend, TREND_COLORS["none"])
        features.append(
            {"type": "Feature", "id": i, "properties": props, "geometry": _geometry_json(geom)}
        )
    return features, fields, aliases


def _hotspot_layer(
    features: list[dict[str, Any]],
    fields: list[str],
    aliases: list[str],
    *,
    name: str,
    show: bool = True,
) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=name, show=show)

    def style_function(feature: Any) -> dict[str, Any]:
        color = feature["properties"]["_color"]
        return {
            "color": color,
            "weight": 7,
            "opacity": 0.9,
            "fillColor": color,
            "fillOpacity": 0.45,
            "lineCap": "round",
        }

    folium.GeoJson(
        _feature_collection(features),
        name="hotspots",
        control=False,
        style_function=style_function,
        highlight_function=_constant_style({"weight": 10, "opacity": 1.0}),
        popup=folium.GeoJsonPopup(fields=fields, aliases=aliases, labels=True),
        tooltip=folium.GeoJsonTooltip(fields=fields[:3], aliases=aliases[:3], sticky=True),
    ).add_to(group)
    return group


def _hotspots_to_draw(
    hotspots: gpd.GeoDataFrame, *, public: bool, min_count: int = PUBLIC_MIN_COUNT
) -> tuple[gpd.GeoDataFrame, str]:
    """The hotspots a map draws, and a note on what was left out.

    Public maps leave out hotspots with fewer than `min_count` calls; every map
    draws at most the `MAX_HOTSPOTS_DRAWN` best ranked.
    """
    notes = []
    out = hotspots
    if public and "count" in out.columns:
        counts = pd.to_numeric(out["count"], errors="coerce")
        out = out[counts >= min_count]
    if len(out) > MAX_HOTSPOTS_DRAWN:
        order = (
            np.argsort(pd.to_numeric(out["rank"], errors="coerce").to_numpy(), kind="stable")
            if "rank" in out.columns
            else np.arange(len(out))
        )
        notes.append(f"The {MAX_HOTSPOTS_DRAWN:,} best ranked of {len(out):,} hotspots are drawn.")
        out = out.iloc[np.sort(order[:MAX_HOTSPOTS_DRAWN])]
    return out, " ".join(notes)


def _add_hotspots(
    m: folium.Map,
    hotspots: gpd.GeoDataFrame,
    *,
    public: bool,
    by_category: bool,
) -> int:
    """Add hotspot layers (one per method, and per dominant category); return layers added.

    The category layers are hidden on opening.
    """
    if hotspots.empty:
        return 0
    n = 0
    methods = (
        hotspots["method"].astype(str)
        if "method" in hotspots.columns
        else pd.Series("hotspots", index=hotspots.index)
    )
    for method in sorted(methods.unique()):
        sub = hotspots[methods == method]
        feats, fields, aliases = _hotspot_features(sub, public=public)
        label = f"Hotspots: {method} ({len(sub):,})"
        _hotspot_layer(feats, fields, aliases, name=html.escape(label)).add_to(m)
        n += 1
    if by_category:
        dominant = _dominant_category(hotspots)
        for cat in sorted(dominant.unique()):
            sub = hotspots[dominant == cat]
            feats, fields, aliases = _hotspot_features(sub, public=public)
            label = f"Hotspots mostly {cat} ({len(sub):,})"
            _hotspot_layer(feats, fields, aliases, name=html.escape(label), show=False).add_to(m)
            n += 1
    return n


def _trend_legend_entries(hotspots: gpd.GeoDataFrame | None) -> list[tuple[str, str]]:
    if hotspots is None or hotspots.empty or "trend" not in hotspots.columns:
        return []
    present = set(hotspots["trend"].astype(str))
    return [(c, f"Hotspot: {t}") for t, c in TREND_COLORS.items() if t in present]


def _projected(frame: gpd.GeoDataFrame | None, crs: Any, what: str) -> gpd.GeoDataFrame | None:
    if frame is None:
        return None
    if frame.crs is None:
        raise MapError(f"the {what} have no CRS; set it (e.g. .set_crs(4326)) before mapping")
    return frame.to_crs(crs) if crs is not None else frame


_INCIDENT_POPUP_FIELDS: Final = (
    ("incident_id", "Incident"),
    ("received_at", "Received"),
    ("call_type", "Call type"),
    ("category", "Category"),
    ("address", "Address"),
)


def _received_times(points: gpd.GeoDataFrame) -> pd.Series | None:
    """``received_at`` as wall-clock times (NaT where missing or unreadable), or None."""
    if "received_at" not in points.columns:
        return None
    times = pd.Series(pd.to_datetime(points["received_at"], errors="coerce"), index=points.index)
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_localize(None)
    return times


def _points_to_draw(times: pd.Series | None, n: int, limit: int) -> npt.NDArray[np.int64]:
    """Positions of the points drawn: all `n`, or the latest `limit` (in input order).

    Without times, `limit` points evenly spread over the input are drawn.
    """
    if n <= limit:
        return np.arange(n, dtype=np.int64)
    if times is not None and times.notna().any():
        ns = times.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        ns = np.where(times.isna().to_numpy(), np.iinfo(np.int64).min, ns)
        # latest first; of equal times, the later row
        latest = np.argsort(ns, kind="stable")[::-1][:limit]
        return np.sort(latest).astype(np.int64)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def _point_data(
    points: gpd.GeoDataFrame, times: pd.Series | None
) -> tuple[dict[str, Any], list[str]]:
    """The compact data of drawn incident points, and the categories that have a colour.

    Rows are ``[lat, lon, value of each field...]``; a field's value is the minutes
    since ``t0`` (time), an index into its escaped ``values`` (lookup: fields whose
    values repeat, and the category) or its escaped text; ``null`` when missing.
    """
    lonlat = shapely.get_coordinates(np.asarray(points.geometry.to_crs(4326).values))
    columns: list[list[Any]] = [
        np.round(lonlat[:, 1], POINT_DECIMALS).tolist(),
        np.round(lonlat[:, 0], POINT_DECIMALS).tolist(),
    ]
    fields: list[dict[str, Any]] = []
    cat, categories = -1, []
    t0 = 0
    for f, alias in _INCIDENT_POPUP_FIELDS:
        if f not in points.columns:
            continue
        spec: dict[str, Any] = {"alias": html.escape(alias)}
        if f == "received_at" and times is not None:
            minutes = times.to_numpy(dtype="datetime64[m]").astype(np.int64)
            known = times.notna().to_numpy()
            t0 = int(minutes[known].min()) if known.any() else 0
            spec["kind"] = "time"
            columns.append(
                [int(v - t0) if ok else None for v, ok in zip(minutes, known, strict=True)]
            )
        else:
            texts = pd.Series([_text(v, limit=POINT_FIELD_CHARS) for v in points[f]], dtype=object)
            present = texts[texts != ""]
            counts = present.value_counts(sort=False)
            order = sorted(counts.index, key=lambda v: (-counts[v], v))
            if f == "category" or 2 * len(order) <= len(present):
                code = {v: i for i, v in enumerate(order)}
                spec.update(kind="lookup", values=order)
                columns.append([code.get(t) for t in texts])
                if f == "category":
                    cat = len(fields)
                    categories = [html.unescape(v) for v in order[: len(_CATEGORY_COLORS)]]
            else:
                spec["kind"] = "text"
                columns.append([t or None for t in texts])
        fields.append(spec)
    data = {
        "fields": fields,
        "t0": t0,
        "cat": cat,
        "colors": list(_CATEGORY_COLORS),
        "other": _OTHER_CATEGORY_COLOR,
        "rows": [list(row) for row in zip(*columns, strict=True)],
    }
    return data, categories


def _incident_point_layer(
    points: gpd.GeoDataFrame, times: pd.Series | None
) -> tuple[_PointLayer | None, int, list[str]]:
    """Incident points in marker clusters, popups built on click from escaped text.

    At most `MAX_CLUSTER_POINTS` (the latest) are drawn, and fewer when their data
    would exceed `MAX_POINT_BYTES`. Returns the layer (None without points), how many
    it draws, and the categories with a colour of their own.
    """
    n = len(points)
    limit = min(n, MAX_CLUSTER_POINTS)
    while limit > 0:
        rows = _points_to_draw(times, n, limit)
        data, categories = _point_data(
            points.iloc[rows], None if times is None else times.iloc[rows]
        )
        payload = _compact_json(data)
        size = len(payload.encode())
        if size <= MAX_POINT_BYTES:
            break
        limit = min(limit - 1, int(limit * MAX_POINT_BYTES / size * 0.95))
    else:
        return None, 0, []
    name = (
        f"Incident points ({n:,})" if limit == n else f"Incident points: latest {limit:,} of {n:,}"
    )
    return _PointLayer(data, payload, name=name), limit, categories


def _time_band(hours: npt.NDArray[np.int64], start: int, end: int) -> npt.NDArray[np.bool_]:
    out: npt.NDArray[np.bool_] = (
        (hours >= start) & (hours < end) if start < end else (hours >= start) | (hours < end)
    )
    return out


# --- analyst map ---------------------------------------------------------------------------------


def analyst_map(
    incidents: gpd.GeoDataFrame,
    G: nx.MultiDiGraph | None = None,
    *,
    hotspots: gpd.GeoDataFrame | None = None,
    clusters: gpd.GeoDataFrame | None = None,
    public: bool = False,
    offline: bool = True,
    title: str = "Calls and hotspots",
    hex_size: float = HEX_SIZE_M,
    min_count: int | None = None,
) -> folium.Map:
    """Draw incidents, hotspots and clusters for an analyst (or, `public`, for residents).

    Parameters
    ----------
    incidents : geopandas.GeoDataFrame
        Geocoded incidents (any CRS); rows without a location are skipped. Fields used
        when present: ``received_at`` (time filter layers), ``category``, ``call_type``,
        ``address``, ``incident_id`` (popups; internal maps only).
    G : networkx.MultiDiGraph, optional
        Projected street graph drawn as the basemap around the data.
    hotspots : geopandas.GeoDataFrame, optional
        Output of `cso_geo.hotspots.find_hotspots`: one layer per ``method`` and per
        dominant category, coloured by ``trend`` class.
    clusters : geopandas.GeoDataFrame, optional
        HDBSCAN cluster polygons: `incident_clusters`, ``cluster_incidents(...).polygons``
        of `cso_geo.hotspots`, or hotspots of its ``hdbscan`` method. The
        `MAX_CLUSTERS_DRAWN` largest are drawn.
    public : bool, default False
        For residents: no incident points, addresses or coordinates; calls counted on
        hexagons with at least `min_count` (default `PUBLIC_MIN_COUNT`) per cell,
        hotspots with at least as many calls, as street segments with rank, count and
        trend only; no heat map and no clusters.
    offline : bool, default True
        No tile layer; when False, OpenStreetMap tiles are an optional layer.
    title : str
        Shown on the map and as the page title.
    hex_size : float
        Hexagon circumradius in metres.
    min_count : int, optional
        Smallest hexagon count drawn (default 1, or `PUBLIC_MIN_COUNT` in public mode).

    Returns
    -------
    folium.Map
        Layers: street classes (one feature per street), calls per hexagon (all,
        and one per shift band as a time filter; calls without a time are in no
        band, and the legend says how many), a heat map (internal, hidden on
        opening), incident points in clusters (internal: all, or the latest
        `MAX_CLUSTER_POINTS`, fewer if their fields are long), hotspots,
        clusters; a legend, layer control and scale.
    """
    crs = G.graph.get("crs") if G is not None else None
    points = _incident_points(incidents, crs if crs is not None else incidents.crs)
    if points.crs is None or not points.crs.is_projected:
        points = points.to_crs(points.estimate_utm_crs())
    hot = _projected(hotspots, points.crs, "hotspots")
    clu = None if public else _projected(clusters, points.crs, "cluster polygons")
    k = min_count if min_count is not None else (PUBLIC_MIN_COUNT if public else 1)
    notes: list[str] = []
    if hot is not None:
        hot, note = _hotspots_to_draw(hot, public=public, min_count=max(k, 1))
        notes.append(note)
    if clu is not None and len(clu):
        clu, note = _clusters_to_draw(clu)
        notes.append(note)

    data_bounds = _data_bounds([points, hot, clu])
    edges, note = _fit_basemap(_basemap_edges(G, data_bounds))
    notes.append(note)
    m = _base_map(
        _lonlat_bounds([edges, points, hot, clu]),
        title=title,
        offline=offline,
        prefer_canvas=True,
    )
    if edges is not None and len(edges):
        _add_street_layers(m, edges, decimals=BASEMAP_DECIMALS, merge=True)

    hex_size = _hex_size_for(points, hex_size)
    times = _received_times(points)
    hours = None if times is None else times.dt.hour.fillna(-1).to_numpy(dtype=np.int64)
    density = _hex_density(points, size=hex_size, min_count=k, hours=hours)
    top = _add_hex_layers(m, density, crs=points.crs, n_calls=len(points))
    if density.untimed:
        notes.append(
            f"{density.untimed:,} call(s) without a valid received time are in no time band."
        )
        log.warning(
            "analyst map: %d incident(s) without a valid received_at are in no time band",
            density.untimed,
        )

    heat_cell = None
    if not public and len(points):
        heat, heat_cell = _leaflet_heat_layer(points)
        if heat is not None:
            heat.add_to(m)

    n_points, categories = 0, list[str]()
    if not public and len(points):
        layer, n_points, categories = _incident_point_layer(points, times)
        if layer is not None:
            _add_layers_js(m, points=True)
            layer.add_to(m)

    if clu is not None and len(clu):
        _cluster_layer(clu).add_to(m)

    n_layers = 0 if hot is None else _add_hotspots(m, hot, public=public, by_category=True)
    entries = [
        (_HEX_COLORS[1], "Few calls per hexagon"),
        (_HEX_COLORS[-1], f"Most calls per hexagon ({top:,})"),
        *_trend_legend_entries(hot),
    ]
    if n_points:
        entries += [
            (color, f"Call: {cat}")
            for color, cat in zip(_CATEGORY_COLORS, categories, strict=False)
        ]
    if clu is not None and len(clu):
        entries.append(("#4299e1", "HDBSCAN cluster"))
    if public:
        lead = _PUBLIC_NOTE.format(size=hex_size, k=k)
    else:
        lead = (
            f"Density: calls counted on {hex_size:g} m hexagons (the time bands are optional "
            "layers)"
            + (
                f"; the heat map layer is a smoothed surface of calls counted on {heat_cell:g} m "
                "cells."
                if heat_cell is not None and len(points)
                else "."
            )
        )
        if len(points) and n_points < len(points):
            lead += (
                f" Points: the latest {n_points:,} of {len(points):,} calls are drawn; "
                "all are counted in the hexagons and the heat map."
            )
    _legend(
        m,
        "Analyst map" if not public else "Community map",
        entries,
        " ".join(n for n in (lead, *notes) if n),
    )
    folium.LayerControl(collapsed=False).add_to(m)
    log.info(
        "analyst map: %d incidents, %d hexagons of %g m (min %d), %d points, %d hotspot "
        "layers, %d clusters, public=%s",
        len(points),
        len(density.counts),
        hex_size,
        k,
        n_points,
        n_layers,
        0 if clu is None else len(clu),
        public,
    )
    return m


def _clusters_to_draw(clu: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, str]:
    """The largest `MAX_CLUSTERS_DRAWN` cluster polygons, simplified; and a note."""
    members = _cluster_column(clu, "members", "count")
    notes = []
    if members is not None and len(clu) > MAX_CLUSTERS_DRAWN:
        order = np.argsort(-pd.to_numeric(members, errors="coerce").fillna(0).to_numpy())
        notes.append(f"The {MAX_CLUSTERS_DRAWN:,} largest of {len(clu):,} clusters are drawn.")
        clu = clu.iloc[np.sort(order[:MAX_CLUSTERS_DRAWN])]
    elif len(clu) > MAX_CLUSTERS_DRAWN:
        clu = clu.iloc[:MAX_CLUSTERS_DRAWN]
    attrs = clu.attrs
    if attrs.get("subsampled"):
        notes.append(
            f"Clusters were found on a sample of {attrs.get('sample_size', 0):,} of "
            f"{attrs.get('n_points', 0):,} calls."
        )
    clu = clu.set_geometry(clu.geometry.simplify(BASEMAP_SIMPLIFY_M))
    return clu, " ".join(notes)


def _cluster_column(clu: gpd.GeoDataFrame, *names: str) -> pd.Series | None:
    for name in names:
        if name in clu.columns:
            return pd.Series(clu[name])
    return None


def _cluster_layer(clu: gpd.GeoDataFrame) -> folium.FeatureGroup:
    """HDBSCAN cluster polygons (from `incident_clusters` or ``hdbscan`` hotspots)."""
    ids = _cluster_column(clu, "cluster_id", "unit_id")
    members = _cluster_column(clu, "members", "count")
    wgs = shapely.transform(_to_lonlat(clu.geometry), lambda c: np.round(c, BASEMAP_DECIMALS))
    feats = []
    for i, geom in enumerate(wgs):
        props = {
            "cluster": _text(i if ids is None else ids.iloc[i]),
            "members": "" if members is None else _text(members.iloc[i]),
        }
        feats.append(
            {"type": "Feature", "id": i, "properties": props, "geometry": _geometry_json(geom)}
        )
    group = folium.FeatureGroup(name=f"HDBSCAN clusters ({len(clu):,})", show=True)
    folium.GeoJson(
        _feature_collection(feats),
        name="clusters",
        control=False,
        style_function=_constant_style(
            {"color": "#2c5282", "weight": 2, "fillColor": "#4299e1", "fillOpacity": 0.15}
        ),
        tooltip=folium.GeoJsonTooltip(
            fields=["cluster", "members"], aliases=["Cluster", "Calls"], sticky=True
        ),
    ).add_to(group)
    return group


def incident_clusters(
    incidents: gpd.GeoDataFrame, *, max_points: int = MAX_CLUSTER_SAMPLE, seed: int = 0
) -> gpd.GeoDataFrame:
    """HDBSCAN cluster polygons of `incidents` for `analyst_map`, cheap at any size.

    `cso_geo.clusters.hdbscan_hotspots` with at most `max_points` clustered directly
    (a seeded subsample above that, the rest joining their nearest sample cluster).

    Returns
    -------
    geopandas.GeoDataFrame
        ``cluster_id``, ``members``, ``weight``, ``area_m2`` and the outline, in the
        incidents' projected CRS (a UTM zone when they are in degrees); ``attrs``
        tell whether and how much it was subsampled.
    """
    from cso_geo import clusters  # noqa: PLC0415

    points = _incident_points(incidents, incidents.crs)
    if points.crs is None or not points.crs.is_projected:
        points = points.to_crs(points.estimate_utm_crs())
    xy = shapely.get_coordinates(np.asarray(points.geometry.values))
    with warnings.catch_warnings():
        # a sample resolves only larger clusters; the map's legend says it was sampled
        warnings.simplefilter("ignore", UserWarning)
        result = clusters.hdbscan_hotspots(
            xy[:, 0], xy[:, 1], max_points=max(max_points, 25), seed=seed
        )
    out: gpd.GeoDataFrame = result.polygons.set_crs(points.crs, allow_override=True)
    return out


def _fit_basemap(edges: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame | None, str]:
    """Leave paths, then minor streets, out of a basemap of over `MAX_BASEMAP_VERTICES`."""
    if edges is None or not len(edges):
        return edges, ""
    vertices = shapely.get_num_coordinates(np.asarray(edges.geometry.values))
    highways = (
        edges["highway"] if "highway" in edges.columns else pd.Series(None, index=edges.index)
    )
    classes = np.array([_road_class(h) for h in highways], dtype=object)
    left_out = []
    keep = np.ones(len(edges), dtype=bool)
    for key, label in (("path", "paths"), ("minor", "minor streets")):
        if vertices[keep].sum() <= MAX_BASEMAP_VERTICES:
            break
        keep &= classes != key
        left_out.append(label)
    if not left_out:
        return edges, ""
    log.info(
        "basemap: %s left out (over %d vertices)", " and ".join(left_out), MAX_BASEMAP_VERTICES
    )
    return edges.loc[keep], (
        f"Basemap: {' and '.join(left_out)} are left out (too many to draw in one page)."
    )


def _hex_size_for(points: gpd.GeoDataFrame, size: float) -> float:
    """`size`, grown (in 10 m steps) until the points' hexagons number at most `MAX_HEX_CELLS`."""
    if len(points) <= MAX_HEX_CELLS:
        return size
    xy = shapely.get_coordinates(np.asarray(points.geometry.values))
    while len(_hex_cells(xy, size)[1]) > MAX_HEX_CELLS:
        size = math.ceil(size * math.sqrt(1.5) / 10) * 10
    return size


def _data_bounds(
    frames: Iterable[gpd.GeoDataFrame | None],
) -> npt.NDArray[np.float64] | None:
    boxes = [f.total_bounds for f in frames if f is not None and len(f)]
    if not boxes:
        return None
    b = np.vstack(boxes)
    return np.array([b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()])


# --- supervisor map ------------------------------------------------------------------------------


def supervisor_map(
    beats: gpd.GeoDataFrame,
    G: nx.MultiDiGraph | None = None,
    *,
    assignments: pd.DataFrame | None = None,
    hotspots: gpd.GeoDataFrame | None = None,
    public: bool = False,
    offline: bool = True,
    title: str = "Beats and workload",
) -> folium.Map:
    """Draw patrol beats coloured by workload, with their CSOs and the hotspots on top.

    Parameters
    ----------
    beats : geopandas.GeoDataFrame
        Layer ``beats`` of a beats GeoPackage: ``beat_id``, ``workload`` (minutes),
        optionally ``street_km``, ``units``, ``polsby_popper``, ``contiguous``.
    G : networkx.MultiDiGraph, optional
        Projected street graph drawn as the basemap.
    assignments : pandas.DataFrame, optional
        Assignments table: ``cso_id``, ``shift``, ``mode``, ``beat_id``, ``status``.
    hotspots : geopandas.GeoDataFrame, optional
        Hotspots drawn on top, coloured by trend class.
    public : bool, default False
        Leave out CSO assignments and hotspot details.
    offline : bool, default True
        No tile layer; when False, OpenStreetMap tiles are an optional layer.
    title : str
        Shown on the map and as the page title.
    """
    missing = {"beat_id", "workload"} - set(beats.columns)
    if missing:
        raise MapError(
            f"the beats have no {sorted(missing)} column(s); use the `beats` layer written by "
            "`cso-geo beats`"
        )
    if beats.crs is None:
        raise MapError("the beats have no CRS; set it before mapping")
    crs = G.graph.get("crs") if G is not None else beats.crs
    b = beats.to_crs(crs)
    hot = _projected(hotspots, crs, "hotspots")
    notes = []
    if hot is not None:
        hot, note = _hotspots_to_draw(hot, public=public)
        notes.append(note)
    edges, note = _fit_basemap(_basemap_edges(G, _data_bounds([b, hot])))
    notes.append(note)
    m = _base_map(
        _lonlat_bounds([b, hot]), title=title, offline=offline, prefer_canvas=_wants_canvas(edges)
    )
    if edges is not None and len(edges):
        _add_street_layers(m, edges, decimals=BASEMAP_DECIMALS, merge=True)

    workload = pd.to_numeric(b["workload"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    colors, level, classes = _workload_classes(workload)

    csos: dict[str, list[str]] = {}
    if assignments is not None and not public and len(assignments):
        for row in assignments.itertuples(index=False):
            beat = getattr(row, "beat_id", None)
            if _is_missing(beat) or str(beat).strip() == "":
                continue
            key = beat_key(beat)
            label = f"{row.cso_id} ({getattr(row, 'shift', '')}, {getattr(row, 'mode', '')})"
            csos.setdefault(key, []).append(label)

    wgs = _to_lonlat(b.geometry)
    label_pts = _to_lonlat(b.geometry.representative_point())
    features, labels = [], []
    for i, (geom, pt, (_, row), lv) in enumerate(
        zip(wgs, label_pts, b.iterrows(), level.tolist(), strict=True)
    ):
        key = beat_key(row["beat_id"])
        assigned = "; ".join(csos.get(key, [])) or ("" if public else "unassigned")
        props = {
            "beat": _text(row["beat_id"]),
            "workload": f"{workload[i]:,.0f} min",
            "street_km": _text(round(float(row["street_km"]), 1))
            if "street_km" in b.columns and _is_number(row["street_km"])
            else "",
            "cso": _text(assigned),
            "_color": colors[lv],
        }
        features.append(
            {"type": "Feature", "id": i, "properties": props, "geometry": _geometry_json(geom)}
        )
        text = f"Beat {props['beat']}<br>{props['workload']}"
        if not public:
            text += f"<br>{props['cso']}"
        x, y = shapely.get_coordinates(pt)[0].tolist()
        labels.append(
            {
                "type": "Feature",
                "id": i,
                "properties": {"html": f'<div class="cso-geo-label">{text}</div>'},
                "geometry": {"type": "Point", "coordinates": [x, y]},
            }
        )

    fields = ["beat", "workload", "street_km"] + ([] if public else ["cso"])
    aliases = ["Beat", "Workload", "Street km"] + ([] if public else ["CSO assigned"])
    group = folium.FeatureGroup(name=f"Beats by workload ({len(b):,})", show=True)

    def beat_style(feature: Any) -> dict[str, Any]:
        color = feature["properties"]["_color"]
        return {"color": "#1a202c", "weight": 2, "fillColor": color, "fillOpacity": 0.55}

    folium.GeoJson(
        _feature_collection(features),
        name="beats",
        control=False,
        style_function=beat_style,
        highlight_function=_constant_style({"weight": 4}),
        popup=folium.GeoJsonPopup(fields=fields, aliases=aliases, labels=True),
    ).add_to(group)
    group.add_to(m)

    label_group = folium.FeatureGroup(name="Beat labels", show=True)

    def label_style(feature: Any) -> dict[str, Any]:
        # becomes the DivIcon's options: its HTML (escaped text only) and size
        return {
            "html": feature["properties"]["html"],
            "iconSize": [120, 48],
            "iconAnchor": [60, 24],
        }

    folium.GeoJson(
        _feature_collection(labels),
        name="beat labels",
        control=False,
        marker=folium.Marker(icon=folium.DivIcon(class_name="cso-geo-beat-label")),
        style_function=label_style,
    ).add_to(label_group)
    label_group.add_to(m)

    if hot is not None:
        _add_hotspots(m, hot, public=public, by_category=False)
    entries = classes + _trend_legend_entries(hot)
    if public:
        notes.insert(0, _PUBLIC_SUPERVISOR_NOTE.format(k=PUBLIC_MIN_COUNT))
    _legend(m, "Beat workload (service minutes)", entries, " ".join(n for n in notes if n))
    folium.LayerControl(collapsed=False).add_to(m)
    log.info(
        "supervisor map: %d beats, %d CSO assignments, %d hotspots",
        len(b),
        sum(len(v) for v in csos.values()),
        0 if hot is None else len(hot),
    )
    return m


def _workload_classes(
    workload: npt.NDArray[np.float64],
) -> tuple[list[str], npt.NDArray[np.int64], list[tuple[str, str]]]:
    """Equal-interval workload classes: their colours, each beat's class, legend entries.

    Up to five classes; fewer when the workloads span only a few minutes, and one
    (a middle colour, "All beats: N min") when they are all equal, so no two legend
    rows read the same and equal beats are not drawn as the busiest.
    """
    n_beats = len(workload)
    lo = float(workload.min()) if n_beats else 0.0
    hi = float(workload.max()) if n_beats else 0.0
    if round(hi) == round(lo):
        color = _WORKLOAD_COLORS[len(_WORKLOAD_COLORS) // 2]
        label = f"All beats: {lo:,.0f} min" if n_beats else "No beats"
        return [color], np.zeros(n_beats, dtype=np.int64), [(color, label)]
    n_cls = min(len(_WORKLOAD_COLORS), max(1, int(hi - lo)))
    picks = (
        np.round(np.linspace(0, len(_WORKLOAD_COLORS) - 1, n_cls)).astype(int)
        if n_cls > 1
        else np.array([len(_WORKLOAD_COLORS) // 2])
    )
    colors = [_WORKLOAD_COLORS[i] for i in picks]
    bounds = np.linspace(lo, hi, n_cls + 1)
    level = np.clip(np.searchsorted(bounds, workload, side="right") - 1, 0, n_cls - 1)
    entries = [(colors[i], f"{bounds[i]:,.0f}-{bounds[i + 1]:,.0f} min") for i in range(n_cls)]
    return colors, level.astype(np.int64), entries


def _wants_canvas(edges: gpd.GeoDataFrame | None) -> bool:
    """Draw on one canvas when the basemap is large (SVG paths get slow)."""
    return edges is not None and len(edges) > CANVAS_THRESHOLD // 4


def _number(value: object) -> float | None:
    """Return `value` as a finite float, or None."""
    if isinstance(value, str | int | float | np.number):
        try:
            f = float(value)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def _is_number(value: object) -> bool:
    return _number(value) is not None


# --- shift (route) map ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One CSO route as written by ``cso-geo routes``: its GeoJSON and summary."""

    geojson: dict[str, Any]
    summary: dict[str, Any]
    source: Path | None = None


def read_route(path: str | os.PathLike[str]) -> Route:
    """Read a route from ``<route_id>.geojson`` (or its ``.json`` summary, or a folder
    holding exactly one route)."""
    p = Path(path)
    if p.is_dir():
        found = sorted(p.glob("*.geojson"))
        if len(found) != 1:
            names = ", ".join(f.name for f in found[:10]) or "none"
            raise InputFileError(
                f"{os.fspath(p)!r} holds {len(found)} route GeoJSON files ({names}); "
                "pass one route file with --route DIR/<route_id>.geojson"
            )
        p = found[0]
    if not p.exists():
        raise InputFileNotFoundError(f"route file {os.fspath(p)!r} does not exist")
    gj_path = p.with_suffix(".geojson")
    sm_path = p.with_suffix(".json")
    try:
        gj = json.loads(gj_path.read_text(encoding="utf-8")) if gj_path.exists() else None
        summary = json.loads(sm_path.read_text(encoding="utf-8")) if sm_path.exists() else {}
    except (OSError, json.JSONDecodeError) as exc:
        raise InputFileError(f"cannot read route {os.fspath(p)!r}: {exc}") from exc
    if not isinstance(gj, dict) or gj.get("type") != "FeatureCollection":
        raise InputFileError(
            f"{os.fspath(gj_path)!r} is not a route GeoJSON FeatureCollection; make it with "
            "`cso-geo routes`"
        )
    return Route(gj, summary if isinstance(summary, dict) else {}, gj_path)


def _route_parts(route: Route) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    paths, stops = [], []
    for f in route.geojson.get("features", []):
        props = f.get("properties") or {}
        geom = f.get("geometry") or {}
        if props.get("kind") == "path" or geom.get("type") in {"LineString", "MultiLineString"}:
            paths.append(f)
        elif geom.get("type") == "Point":
            stops.append(f)
    stops.sort(key=lambda f: (_seq(f), 0))
    return paths, stops


def _seq(f: dict[str, Any]) -> float:
    props = f.get("properties") or {}
    kind = props.get("kind")
    if kind == "start":
        return -1.0
    if kind == "end":
        return math.inf
    return float(props["seq"]) if _is_number(props.get("seq")) else 1e9


def _clock(value: object) -> str:
    """``2025-12-01T08:15:00`` -> ``08:15``; other text unchanged (escaped later)."""
    text = "" if _is_missing(value) else str(value)
    match = re.search(r"T?(\d{2}:\d{2})(:\d{2})?", text)
    return match.group(1) if match else text


def shift_map(
    route: Route | str | os.PathLike[str],
    G: nx.MultiDiGraph | None = None,
    *,
    public: bool = False,
    offline: bool = True,
    title: str | None = None,
) -> folium.Map:
    """Draw one CSO's route: path, numbered stops, start/end, and a printable side panel.

    Parameters
    ----------
    route : Route or path
        A route from `read_route` or the path of its GeoJSON/summary/folder.
    G : networkx.MultiDiGraph, optional
        Projected street graph drawn as the basemap around the route.
    public : bool, default False
        Leave out times, reasons, call types and peak hours (path and stop order only).
    offline : bool, default True
        No tile layer; when False, OpenStreetMap tiles are an optional layer.
    title : str, optional
        Defaults to "Route <route_id>".
    """
    r = route if isinstance(route, Route) else read_route(route)
    paths, stops = _route_parts(r)
    if not paths and not stops:
        raise MapError(f"the route {r.source} has no path or stops to draw")
    summary = r.summary
    route_id = str(summary.get("route_id") or _first_prop(paths, "route_id") or "route")
    if public:
        # a route id holds the date and hours of the shift: residents see the beat only
        beat = summary.get("beat_id", _first_prop(paths, "beat_id"))
        route_id = "Patrol route" + ("" if beat is None else f", beat {beat}")
    title = title or (route_id if public else f"Route {route_id}")
    route_gdf = gpd.GeoDataFrame.from_features(paths + stops, crs=4326)
    crs = G.graph.get("crs") if G is not None else None
    edges, basemap_note = _fit_basemap(
        _basemap_edges(G, route_gdf.to_crs(crs).total_bounds) if G is not None else None
    )
    # the side panel covers the right of the map: fit the route into the rest
    m = _base_map(
        _lonlat_bounds([route_gdf, None]),
        title=title,
        offline=offline,
        right_margin_px=320,
        prefer_canvas=_wants_canvas(edges),
    )
    if edges is not None and len(edges):
        _add_street_layers(m, edges, decimals=BASEMAP_DECIMALS, merge=True)

    path_group = folium.FeatureGroup(name="Route path", show=True)
    path_feats = [
        {
            "type": "Feature",
            "id": i,
            "properties": {"mode": _text((f.get("properties") or {}).get("mode", ""))},
            "geometry": _geometry_json(
                shapely.transform(shapely.geometry.shape(f["geometry"]), _round_coords)
            ),
        }
        for i, f in enumerate(paths)
    ]
    folium.GeoJson(
        _feature_collection(path_feats),
        name="route path",
        control=False,
        style_function=_constant_style(
            {"color": "#2b6cb0", "weight": 5, "opacity": 0.85, "lineJoin": "round"}
        ),
    ).add_to(path_group)
    path_group.add_to(m)

    fields = [("label", "Stop"), ("name", "Street")]
    if not public:
        fields += [
            ("arrive", "Arrive"),
            ("depart", "Depart"),
            ("dwell", "Dwell (min)"),
            ("reason", "Reason"),
            ("calls", "Top call types"),
            ("peak", "Peak hours"),
        ]
    stop_feats = []
    rows = []
    for i, f in enumerate(stops):
        p = f.get("properties") or {}
        kind = str(p.get("kind", "stop"))
        number = "S" if kind == "start" else "E" if kind == "end" else _text(p.get("seq", i))
        label = {"start": "Start", "end": "End"}.get(kind, f"Stop {number}")
        props = {
            "label": html.escape(label),
            "name": _text(p.get("name", "")),
            "arrive": _text(_clock(p.get("arrive"))),
            "depart": _text(_clock(p.get("depart"))),
            "dwell": _text(p.get("dwell_min", "")),
            "reason": _text(p.get("reason", "")),
            "calls": _text(p.get("top_call_types", "")),
            "peak": _text(p.get("peak_hours", "")),
        }
        props = {k: props[k] for k, _ in fields}
        kind_class = kind if kind in {"start", "end"} else "stop"
        props["_html"] = f'<div class="cso-geo-stop {kind_class}">{number}</div>'
        lon, lat = (float(c) for c in f["geometry"]["coordinates"][:2])
        stop_feats.append(
            {
                "type": "Feature",
                "id": i,
                "properties": props,
                "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
            }
        )
        rows.append(props)

    def stop_style(feature: Any) -> dict[str, Any]:
        # becomes the DivIcon's options: the stop number (escaped) in a circle
        return {
            "html": feature["properties"]["_html"],
            "iconSize": [22, 22],
            "iconAnchor": [11, 11],
        }

    stop_group = folium.FeatureGroup(name=f"Stops ({len(stops):,})", show=True)
    folium.GeoJson(
        _feature_collection(stop_feats),
        name="stops",
        control=False,
        marker=folium.Marker(icon=folium.DivIcon(class_name="cso-geo-stop-icon")),
        style_function=stop_style,
        popup=folium.GeoJsonPopup(
            fields=[k for k, _ in fields], aliases=[a for _, a in fields], labels=True
        ),
    ).add_to(stop_group)
    stop_group.add_to(m)

    _route_panel(m, summary, rows, route_id=route_id, public=public)
    _legend(
        m,
        "Route",
        [
            ("#2b6cb0", "Path"),
            ("#2f855a", "Start (S)"),
            ("#2b6cb0", "Stop"),
            ("#9b2c2c", "End (E)"),
        ],
        " ".join(n for n in (_PUBLIC_SHIFT_NOTE if public else "", basemap_note) if n),
    )
    # collapsed, so it does not cover the side panel
    folium.LayerControl(collapsed=True, position="topleft").add_to(m)
    log.info("shift map: route %s, %d stops, public=%s", route_id, len(stops), public)
    return m


def _first_prop(features: list[dict[str, Any]], key: str) -> Any:
    for f in features:
        value = (f.get("properties") or {}).get(key)
        if value not in (None, ""):
            return value
    return None


def _route_panel(
    m: folium.Map,
    summary: dict[str, Any],
    rows: list[dict[str, str]],
    *,
    route_id: str,
    public: bool,
) -> None:
    """The fixed side panel: route facts, the stop list and turn-by-turn directions."""
    facts = []
    for key, label in (
        ("shift_start", "Shift start"),
        ("shift_end", "Shift end"),
        ("mode", "Mode"),
        ("distance_km", "Distance (km)"),
        ("duration_min", "Duration (min)"),
        ("dwell_min", "At stops (min)"),
    ):
        if key in summary and not (public and key in {"shift_start", "shift_end"}):
            value = _clock(summary[key]) if key.startswith("shift") else summary[key]
            facts.append(f"<div><b>{html.escape(label)}:</b> {_text(value)}</div>")
    items = []
    for row in rows:
        line = f"<b>{row['label']}</b> {row['name']}"
        if not public:
            times = " - ".join(t for t in (row["arrive"], row["depart"]) if t)
            if times:
                line += f" <span>({times})</span>"
            if row.get("reason"):
                line += f"<br><i>{row['reason']}</i>"
        items.append(f"<li>{line}</li>")
    directions = []
    for d in [] if public else summary.get("directions") or []:
        if isinstance(d, dict):
            text = d.get("instruction") or d.get("street") or ""
            dist = _number(d.get("distance_m"))
            suffix = "" if dist is None else f" ({dist:,.0f} m)"
            directions.append(f"<li>{_text(text)}{suffix}</li>")
    warnings = [f"<li>{_text(w)}</li>" for w in summary.get("warnings") or []]
    panel = (
        f'<div class="cso-geo-panel" id="cso-geo-panel"><h3>{html.escape(route_id)}</h3>'
        + "".join(facts)
        + f"<h4>Stops</h4><ol class='cso-geo-stops'>{''.join(items)}</ol>"
        + (
            f"<h4>Directions</h4><ol class='cso-geo-directions'>{''.join(directions)}</ol>"
            if directions
            else ""
        )
        + (f"<h4>Warnings</h4><ul>{''.join(warnings)}</ul>" if warnings and not public else "")
        + "</div>"
    )
    root = m.get_root()
    assert isinstance(root, branca.element.Figure)
    root.html.add_child(branca.element.Element(panel), name="cso_geo_panel")


# --- saving --------------------------------------------------------------------------------------

#: Folium resources that every offline page inlines (from xstatic-leaflet).
_INLINE: Final = frozenset({"leaflet", "leaflet_css"})
#: Folium default resources dropped in offline mode: nothing cso_geo draws uses them.
#: Bootstrap in particular is never inlined (no page relies on it; the PyPI
#: ``xstatic-bootstrap`` sdist does not install) and awesome-markers has no package.
_DROP: Final = frozenset(
    {
        "bootstrap",
        "awesome_markers",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers_css",
        "awesome_rotate_css",
    }
)
#: Resources inlined only when the page uses them (jQuery: folium popups;
#: Font Awesome: ``fa-`` icon classes), dropped otherwise.
_ON_DEMAND: Final = frozenset({"jquery", "awesome_markers_font_css"})
#: Leaflet.markercluster, inlined from xstatic-leaflet-markercluster.
_MARKERCLUSTER: Final = frozenset(
    {"markerclusterjs", "markerclustercss", "markerclusterdefaultcss"}
)
#: Leaflet.heat (folium's HeatMap), inlined from the copy the folium package ships.
_LEAFLET_HEAT: Final = "leaflet-heat.js"


def _xstatic_dir(module: str, package: str) -> Path:
    """Return the data folder of an installed XStatic package."""
    import importlib  # noqa: PLC0415

    try:
        mod = importlib.import_module(f"xstatic.pkg.{module}")
    except ImportError as exc:  # pragma: no cover - they are dependencies
        raise OfflineMapError(
            f"offline maps need the {package} package: pip install {package}"
        ) from exc
    return Path(mod.BASE_DIR)


def _check_inlinable(name: str, js: str = "", css: str = "") -> None:
    if re.search(r"</script|<!--", js, re.IGNORECASE) or re.search(r"</style", css, re.I):
        raise OfflineMapError(f"{name} cannot be inlined safely in a page")
    if leftover := re.findall(r"url\(\s*['\"]?(?!data:|#)([^)'\"]+)", css):
        raise OfflineMapError(f"{name} CSS still references files after inlining: {leftover}")


def _strip_source_map(js: str) -> str:
    # the source map is never needed and would be a (failing) file request in dev tools
    return re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", js)


@functools.cache
def _jquery_js() -> str:
    """Return jQuery (minified) from ``xstatic-jquery``."""
    base = _xstatic_dir("jquery", "xstatic-jquery")
    js = _strip_source_map((base / "jquery.min.js").read_text(encoding="utf-8"))
    _check_inlinable("jQuery", js=js)
    return js


@functools.cache
def _leaflet_heat_js() -> str:
    """Return Leaflet.heat as the folium package ships it (``folium/templates``).

    Folium's HeatMap links the very same file on a CDN; the package holds it, so the
    offline page inlines it instead.
    """
    import importlib.resources  # noqa: PLC0415

    source = importlib.resources.files("folium").joinpath("templates", "leaflet_heat.min.js")
    try:
        js = _strip_source_map(source.read_text(encoding="utf-8"))
    except OSError as exc:  # pragma: no cover - it is part of folium
        raise OfflineMapError(
            f"this folium version has no templates/leaflet_heat.min.js ({exc}); "
            "a heat map cannot be saved for offline use"
        ) from exc
    _check_inlinable("Leaflet.heat", js=js)
    return js


@functools.cache
def _markercluster_assets() -> tuple[str, str]:
    """Return Leaflet.markercluster's JavaScript and CSS from ``xstatic-leaflet-markercluster``."""
    base = _xstatic_dir("leaflet_markercluster", "xstatic-leaflet-markercluster")
    js = _strip_source_map((base / "leaflet.markercluster.js").read_text(encoding="utf-8"))
    css = "\n".join(
        (base / f).read_text(encoding="utf-8")
        for f in ("MarkerCluster.css", "MarkerCluster.Default.css")
    )
    _check_inlinable("Leaflet.markercluster", js=js, css=css)
    return js, css


@functools.cache
def _font_awesome_css() -> str:
    """Return Font Awesome's core and *solid* style CSS, its webfont as a data URI.

    Only the solid icon font is inlined (about 200 kB); the brands and regular
    styles are left out.
    """
    base = _xstatic_dir("font_awesome", "xstatic-font-awesome")
    css = "\n".join(
        (base / "css" / f).read_text(encoding="utf-8")
        for f in ("fontawesome.min.css", "solid.min.css")
    )

    def font(match: re.Match[str]) -> str:
        data = base64.b64encode((base / "webfonts" / match.group(1)).read_bytes()).decode()
        return f'url(data:font/woff2;base64,{data}) format("woff2")'

    css = re.sub(r"url\(\.\./webfonts/([\w.-]+\.woff2)\)\s*format\(\"woff2\"\)", font, css)
    css = re.sub(r",\s*url\(\.\./webfonts/[\w.-]+\.ttf\)\s*format\(\"truetype\"\)", "", css)
    _check_inlinable("Font Awesome", css=css)
    return css


@functools.cache
def _leaflet_assets() -> tuple[str, str]:
    """Return Leaflet's JavaScript and CSS (images as data URIs) from ``xstatic-leaflet``."""
    try:
        import xstatic.pkg.leaflet as xl  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise OfflineMapError(
            "offline maps need the xstatic-leaflet package: pip install xstatic-leaflet"
        ) from exc
    base = Path(xl.BASE_DIR)
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    # the source map is never needed and would be a (failing) file request in dev tools
    js = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", js)
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match[str]) -> str:
        data = base64.b64encode((base / match.group(1)).read_bytes()).decode("ascii")
        return f'url("data:image/png;base64,{data}")'

    css = re.sub(r"url\(\s*['\"]?(images/[\w.-]+\.png)['\"]?\s*\)", data_uri, css)
    if re.search(r"</script|<!--", js, re.IGNORECASE) or re.search(r"</style", css, re.I):
        raise OfflineMapError(f"Leaflet from {base} cannot be inlined safely in a page")
    if leftover := re.findall(r"url\(\s*['\"]?(?!data:|#)([^)'\"]+)", css):
        raise OfflineMapError(f"leaflet.css still references files after inlining: {leftover}")
    log.debug("inlining Leaflet %s from %s", getattr(xl, "VERSION", "?"), base)
    return js, css


def _walk(element: branca.element.Element) -> Iterator[branca.element.Element]:
    yield element
    for child in element._children.values():
        yield from _walk(child)


def _check_offline_elements(m: folium.Map) -> None:
    """Raise if `m` holds elements that need the network or libraries with no package."""
    problems = []
    for el in _walk(m):
        if isinstance(el, folium.TileLayer):
            problems.append("a tile layer (build the map with offline=True)")
        elif isinstance(el, folium.Icon):
            problems.append("an Icon (awesome-markers are not available offline; use DivIcon)")
        elif (
            isinstance(el, folium.Marker)
            and not isinstance(el, folium.CircleMarker | folium.Circle)
            and not isinstance(getattr(el, "icon", None), folium.DivIcon)
        ):
            problems.append("a Marker without a DivIcon (its images are external)")
        elif isinstance(el, folium.GeoJson) and not el.embed:
            problems.append("a GeoJson layer that is not embedded")
        elif type(el).__name__ == "HeatMapWithTime":
            problems.append("a HeatMapWithTime (its timeline libraries have no package)")
    if problems:
        raise OfflineMapError(
            "this map cannot be saved for offline use; it contains "
            + "; ".join(sorted(set(problems)))
        )


_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_REMOTE = re.compile(r"url\(\s*['\"]?\s*(?:[a-z][a-z0-9+.-]*:)?//|@import", re.IGNORECASE)
#: Attributes that make a browser fetch something (``<a href>`` only navigates).
_LOADING_ATTRS: Final = frozenset(
    {
        "src",
        "href",
        "srcset",
        "data",
        "poster",
        "background",
        "action",
        "formaction",
        "xlink:href",
        "imagesrcset",
    }
)


class _RemoteRefFinder(HTMLParser):
    """Collect every reference in an HTML page that would load something from the network."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        for name, value in attrs:
            if value is None:
                continue
            if name == "style" and _CSS_REMOTE.search(value):
                self.found.append(f"<{tag} style={value!r}>")
            elif name in _LOADING_ATTRS and not (tag == "a" and name == "href"):
                urls = value.split(",") if name.endswith("srcset") else [value]
                if any(_REMOTE.match(u) for u in urls):
                    self.found.append(f"<{tag} {name}={value!r}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and (hit := _CSS_REMOTE.search(data)):
            self.found.append(f"<style> ...{data[max(hit.start() - 40, 0) : hit.end() + 60]}...")


def remote_references(page: str) -> list[str]:
    """Return the tags/attributes of `page` that would fetch something over the network.

    Links a user may click (``<a href>``) and text inside scripts are not fetches and
    are not reported.
    """
    finder = _RemoteRefFinder()
    finder.feed(page)
    finder.close()
    return finder.found


_JQUERY_USE = re.compile(r"(?<![\w$.])\$(?:\(|\.\w)")
_FA_USE = re.compile(r"""class=\\?["'][^"']*\bfa-[a-z]""")


def _page_links(page: str) -> Iterator[tuple[str, str, str]]:
    """Yield ``(name, tag, kind)`` of every script/stylesheet link Folium put in `page`."""
    seen: set[str] = set()
    for cls in (folium.Map, *_plugin_classes()):
        for name, url in getattr(cls, "default_js", []):
            tag = f'<script src="{url}"></script>'
            if name not in seen and tag in page:
                seen.add(name)
                yield name, tag, "js"
        for name, url in getattr(cls, "default_css", []):
            tag = f'<link rel="stylesheet" href="{url}"/>'
            if name not in seen and tag in page:
                seen.add(name)
                yield name, tag, "css"


def _plugin_classes() -> tuple[type, ...]:
    return (MarkerCluster, HeatMap)


def _make_offline(page: str) -> str:
    """Inline the libraries a rendered page uses and drop Folium's unused CDN links.

    Leaflet is always inlined; jQuery (folium popups) and Font Awesome (``fa-``
    icons) only when the page uses them; Leaflet.markercluster when the map has a
    marker cluster, Leaflet.heat when it has a heat map. Anything else stays and
    makes `save_map` refuse the page.
    """
    body = page
    for _name, tag, _kind in _page_links(page):
        body = body.replace(tag, "")
    wants_jquery = bool(_JQUERY_USE.search(body))
    wants_fa = bool(_FA_USE.search(body))
    js, css = _leaflet_assets()
    inlined = set()
    for name, tag, kind in list(_page_links(page)):
        content: str | None = None
        if name == "leaflet":
            content = js
        elif name == "leaflet_css":
            content = css
        elif name == "jquery" and wants_jquery:
            content = _jquery_js()
        elif name == "awesome_markers_font_css" and wants_fa:
            content = _font_awesome_css()
        elif name == "markerclusterjs":
            content = _markercluster_assets()[0]
        elif name == "markerclustercss":
            content = _markercluster_assets()[1]
        elif name == "markerclusterdefaultcss":
            content = ""  # both stylesheets are inlined under markerclustercss
        elif name == _LEAFLET_HEAT:
            content = _leaflet_heat_js()
        elif name in _DROP or name in _ON_DEMAND:
            page = page.replace(tag, "")
            continue
        else:
            continue
        inlined.add(name)
        wrapped = (
            f"<script>\n{content}\n</script>" if kind == "js" else f"<style>\n{content}\n</style>"
        )
        page = page.replace(tag, wrapped if content else "", 1)
    if not inlined >= _INLINE:
        raise OfflineMapError(
            f"Folium's links to {sorted(_INLINE - inlined)} were not found in the page;"
            " this folium version renders its header differently than cso_geo expects"
        )
    return page


def save_map(m: folium.Map, path: str | os.PathLike[str], *, offline: bool = True) -> Path:
    """Write `m` as a standalone HTML page, atomically.

    Parameters
    ----------
    m : folium.Map
        The map, e.g. from `overview_map`.
    path : str or os.PathLike
        Output ``.html`` file; missing folders are created.
    offline : bool, default True
        Make the page load nothing from the network: Leaflet's JS and CSS are inlined
        from ``xstatic-leaflet`` (and, when the page uses them, jQuery, Font Awesome and
        Leaflet.markercluster from their XStatic packages, Leaflet.heat from the folium
        package); Folium's unused jQuery/Bootstrap/Font Awesome/awesome-markers links
        are removed. When False, Folium's CDN links are kept.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    OfflineMapError
        In offline mode, if the map holds a tile layer, markers, popups or anything
        else that would still load from the network (the file is not written).
    """
    if offline:
        _check_offline_elements(m)
    page = m.get_root().render()
    if offline:
        page = _make_offline(page)
        if remote := remote_references(page):
            raise OfflineMapError(
                f"the offline map for {os.fspath(path)} would still load from the network: "
                + "; ".join(remote[:5])
                + (f" and {len(remote) - 5} more" if len(remote) > 5 else "")
            )
    out = atomic_write_text(path, page)
    log.info("map written to %s (%.0f kB, offline=%s)", out, len(page.encode()) / 1024, offline)
    return out
