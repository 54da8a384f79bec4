"""Interactive maps of streets, calls, hotspots, beats and routes, viewable offline.

`overview_map` draws a projected osmnx street graph (and optionally incident
points) as Leaflet vector layers with Folium. The product maps build on it:
`analyst_map` (calls per hexagon with time-of-day layers, incident clusters,
hotspots by method and category coloured by trend, HDBSCAN clusters),
`supervisor_map` (beats coloured by workload with their CSOs, hotspots) and
`shift_map` (one CSO's route with numbered stops and a printable side panel).
Each has a public mode for residents: no incident points, addresses or
coordinates, counts on hexagons with small counts suppressed.

`save_map` writes the page. By default it is fully self-contained: Leaflet,
and when the page uses them jQuery, Leaflet.markercluster and Font Awesome,
are inlined from the installed XStatic packages; the libraries Folium links
but no cso_geo page needs (Bootstrap, Leaflet.awesome-markers) are left out,
and no tile layer is drawn: the street network itself is the basemap. The
saved file is checked to load nothing from the network.

Text from the data (street names, incident fields, reasons, CSO ids) is
HTML-escaped before it reaches a tooltip, popup, label or panel: incident text
is untrusted.
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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Final

import branca.element
import folium
import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import osmnx as ox
import pandas as pd
import shapely

from cso_geo._errors import (
    CsoGeoError,
    EmptyNetworkError,
    InputFileError,
    InputFileNotFoundError,
)
from cso_geo._io import atomic_write_text

__all__ = [
    "HEX_SIZE_M",
    "MAX_CLUSTER_POINTS",
    "MAX_INCIDENT_POINTS",
    "PUBLIC_MIN_COUNT",
    "MapError",
    "OfflineMapError",
    "Route",
    "analyst_map",
    "hex_counts",
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
    edges: gpd.GeoDataFrame, *, decimals: int = COORD_DECIMALS
) -> dict[str, list[dict[str, Any]]]:
    """Return GeoJSON features of `edges`, grouped by road class key."""
    simplified = edges.geometry.simplify(SIMPLIFY_TOLERANCE_M, preserve_topology=False)
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
    groups: dict[str, list[dict[str, Any]]] = {rc.key: [] for rc in ROAD_CLASSES}
    for i, (geom, name, highway, length) in enumerate(
        zip(lonlat, names, highways, lengths, strict=True)
    ):
        label = _text(name)
        groups[_road_class(highway)].append(
            {
                "type": "Feature",
                "id": i,
                "properties": {
                    "name": label or "(unnamed)",
                    "highway": _text(highway) or "road",
                    "length_m": round(length) if math.isfinite(length) else None,
                },
                "geometry": {"type": "LineString", "coordinates": _line_coords(geom)},
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
    m: folium.Map, edges: gpd.GeoDataFrame, *, show: bool = True, decimals: int = COORD_DECIMALS
) -> dict[str, list[dict[str, Any]]]:
    """Add one vector layer per road class of `edges` to `m`; return the features drawn."""
    groups = _street_features(edges, decimals=decimals)
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
#: Up to this many incidents are drawn as points, in marker clusters (internal maps only).
MAX_CLUSTER_POINTS: Final = 20_000
#: Decimal places of the basemap streets in the product maps (5 places is about 1 m).
BASEMAP_DECIMALS: Final = 5
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
_PUBLIC_NOTE: Final = (
    "Public map: no incident locations or addresses. Calls are counted on {size:g} m "
    "hexagons; cells with fewer than {k} calls are not shown. Hotspots are shown as "
    "street segments with their counts only."
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


def _hex_cells(
    xy: npt.NDArray[np.float64], size: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return the axial (q, r) of the pointy-top hexagon of circumradius `size` holding each
    point, as unique cells and their counts."""
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
    qr = np.column_stack([rx, rz]).astype(np.int64)
    cells, counts = np.unique(qr, axis=0, return_counts=True)
    return cells, counts.astype(np.int64)


def _hex_polygons(cells: npt.NDArray[np.int64], size: float) -> npt.NDArray[np.object_]:
    """Return the hexagon polygons of axial `cells`."""
    q, r = cells[:, 0].astype(float), cells[:, 1].astype(float)
    cx = size * math.sqrt(3) * (q + r / 2)
    cy = size * 1.5 * r
    angles = np.deg2rad(30 + 60 * np.arange(7))
    xs = cx[:, None] + size * np.cos(angles)[None, :]
    ys = cy[:, None] + size * np.sin(angles)[None, :]
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


def _hex_layer(
    hexes: gpd.GeoDataFrame, *, name: str, show: bool, top: int | None = None
) -> folium.FeatureGroup:
    """A density layer: hexagons coloured by count (log scale), with a count tooltip."""
    group = folium.FeatureGroup(name=name, show=show)
    if hexes.empty:
        return group
    counts = hexes["count"].to_numpy(dtype=np.int64)
    top = int(top if top is not None else counts.max())
    wgs = gpd.GeoSeries(hexes.geometry.values, crs=hexes.crs).to_crs(4326)
    rings = shapely.get_coordinates(shapely.get_exterior_ring(np.asarray(wgs.values)))
    rings = np.round(rings, 5).reshape(len(hexes), 7, 2)
    features = []
    for i, (ring, count) in enumerate(zip(rings.tolist(), counts.tolist(), strict=True)):
        level = min(
            int(len(_HEX_COLORS) * math.log1p(count) / math.log1p(max(top, 1))),
            len(_HEX_COLORS) - 1,
        )
        features.append(
            {
                "type": "Feature",
                "id": i,
                "properties": {"count": count, "c": _HEX_COLORS[level]},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )

    def style_function(feature: Any) -> dict[str, Any]:
        color = feature["properties"]["c"]
        return {"color": color, "weight": 0.5, "fillColor": color, "fillOpacity": 0.45}

    folium.GeoJson(
        _feature_collection(features),
        name="hex density",
        control=False,
        style_function=style_function,
        tooltip=folium.GeoJsonTooltip(fields=["count"], aliases=["Calls"], sticky=True),
    ).add_to(group)
    return group


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
    wgs = _to_lonlat(hotspots.geometry)
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


def _add_hotspots(
    m: folium.Map,
    hotspots: gpd.GeoDataFrame,
    *,
    public: bool,
    by_category: bool,
) -> int:
    """Add hotspot layers (one per method, and per dominant category); return layers added."""
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


def _incident_cluster_layer(points: gpd.GeoDataFrame) -> folium.FeatureGroup:
    """Incidents as circle markers in Leaflet.markercluster clusters, escaped popups."""
    from folium.plugins import FastMarkerCluster  # noqa: PLC0415

    fields = [(f, a) for f, a in _INCIDENT_POPUP_FIELDS if f in points.columns]
    xy = shapely.get_coordinates(np.asarray(points.geometry.to_crs(4326).values))
    xy = np.round(xy, COORD_DECIMALS)
    texts = ["" for _ in range(len(points))]
    for f, alias in fields:
        col = points[f].tolist()
        for i, value in enumerate(col):
            texts[i] += f"<b>{html.escape(alias)}</b>: {_text(value)}<br>"
    rows = [[y, x, t] for (x, y), t in zip(xy.tolist(), texts, strict=True)]
    callback = (
        "function (row) {"
        " var m = L.circleMarker(new L.LatLng(row[0], row[1]), {radius: 5, color: '#ffffff',"
        f" weight: 1, fillColor: '{_INCIDENT_COLOR}', fillOpacity: 0.85}});"
        # row[2] is HTML built above from escaped text only
        " m.bindPopup(row[2]); return m; }"
    )
    group = folium.FeatureGroup(name=f"Incident points ({len(points):,})", show=True)
    FastMarkerCluster(rows, callback=callback, name="incident points").add_to(group)
    return group


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
        HDBSCAN cluster polygons (``cso_geo.hotspots.cluster_incidents(...).polygons``).
    public : bool, default False
        For residents: no incident points, addresses or coordinates; calls counted on
        hexagons with at least `min_count` (default `PUBLIC_MIN_COUNT`) per cell,
        hotspots as street segments with rank, count and trend only, no clusters.
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
        Layers: street classes, calls per hexagon (all, and one per shift band as a
        time filter), incident points in clusters (internal, up to
        `MAX_CLUSTER_POINTS`), hotspots, clusters; a legend, layer control and scale.
    """
    crs = G.graph.get("crs") if G is not None else None
    points = _incident_points(incidents, crs if crs is not None else incidents.crs)
    if points.crs is None or not points.crs.is_projected:
        points = points.to_crs(points.estimate_utm_crs())
    hot = _projected(hotspots, points.crs, "hotspots")
    clu = None if public else _projected(clusters, points.crs, "cluster polygons")
    k = min_count if min_count is not None else (PUBLIC_MIN_COUNT if public else 1)

    data_bounds = _data_bounds([points, hot, clu])
    edges = _basemap_edges(G, data_bounds)
    m = _base_map(
        _lonlat_bounds([edges, points, hot, clu]),
        title=title,
        offline=offline,
        prefer_canvas=True,
    )
    if edges is not None and len(edges):
        _add_street_layers(m, edges, decimals=BASEMAP_DECIMALS)

    hex_size = _hex_size_for(points, hex_size)
    hexes = hex_counts(points, size=hex_size, min_count=k)
    top = int(hexes["count"].max()) if len(hexes) else 1
    _hex_layer(hexes, name=f"Calls per hexagon ({len(points):,})", show=True).add_to(m)
    if "received_at" in points.columns and len(points):
        hours = pd.to_datetime(points["received_at"]).dt.hour.to_numpy(dtype=np.int64)
        for label, start, end in TIME_BANDS:
            band = points[_time_band(hours, start, end)]
            band_hexes = hex_counts(band, size=hex_size, min_count=k)
            _hex_layer(
                band_hexes, name=f"Calls {label} ({len(band):,})", show=False, top=top
            ).add_to(m)

    n_points = 0
    if not public and 0 < len(points) <= MAX_CLUSTER_POINTS:
        _incident_cluster_layer(points).add_to(m)
        n_points = len(points)

    if clu is not None and len(clu):
        feats = []
        wgs = _to_lonlat(clu.geometry)
        for i, (geom, (_, row)) in enumerate(zip(wgs, clu.iterrows(), strict=True)):
            props = {
                "cluster": _text(row.get("cluster_id", i)),
                "members": _text(row.get("members", "")),
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
        group.add_to(m)

    n_layers = 0 if hot is None else _add_hotspots(m, hot, public=public, by_category=True)
    entries = [
        (_HEX_COLORS[1], "Few calls per hexagon"),
        (_HEX_COLORS[-1], f"Most calls per hexagon ({top:,})"),
        *_trend_legend_entries(hot),
    ]
    if clu is not None and len(clu):
        entries.append(("#4299e1", "HDBSCAN cluster"))
    note = (
        _PUBLIC_NOTE.format(size=hex_size, k=k)
        if public
        else "Density is drawn as hexagon counts (no web heat-map library is needed)."
        + (
            ""
            if n_points or not len(points)
            else f" Over {MAX_CLUSTER_POINTS:,} calls: points are not drawn."
        )
    )
    _legend(m, "Analyst map" if not public else "Community map", entries, note)
    folium.LayerControl(collapsed=False).add_to(m)
    log.info(
        "analyst map: %d incidents, %d hexagons (min %d), %d points, %d hotspot layers, "
        "%d clusters, public=%s",
        len(points),
        len(hexes),
        k,
        n_points,
        n_layers,
        0 if clu is None else len(clu),
        public,
    )
    return m


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
    edges = _basemap_edges(G, _data_bounds([b, hot]))
    m = _base_map(_lonlat_bounds([b, hot]), title=title, offline=offline)
    if edges is not None and len(edges):
        _add_street_layers(m, edges, decimals=BASEMAP_DECIMALS)

    workload = pd.to_numeric(b["workload"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    lo, hi = float(workload.min()), float(workload.max())
    n_cls = len(_WORKLOAD_COLORS)
    edges_ = np.linspace(lo, hi, n_cls + 1)
    level = np.clip(np.searchsorted(edges_, workload, side="right") - 1, 0, n_cls - 1)

    csos: dict[str, list[str]] = {}
    if assignments is not None and not public and len(assignments):
        for row in assignments.itertuples(index=False):
            beat = getattr(row, "beat_id", None)
            if _is_missing(beat) or str(beat).strip() == "":
                continue
            key = _beat_key(beat)
            label = f"{row.cso_id} ({getattr(row, 'shift', '')}, {getattr(row, 'mode', '')})"
            csos.setdefault(key, []).append(label)

    wgs = _to_lonlat(b.geometry)
    label_pts = _to_lonlat(b.geometry.representative_point())
    features, labels = [], []
    for i, (geom, pt, (_, row), lv) in enumerate(
        zip(wgs, label_pts, b.iterrows(), level.tolist(), strict=True)
    ):
        beat_key = _beat_key(row["beat_id"])
        assigned = "; ".join(csos.get(beat_key, [])) or ("" if public else "unassigned")
        props = {
            "beat": _text(row["beat_id"]),
            "workload": f"{workload[i]:,.0f} min",
            "street_km": _text(round(float(row["street_km"]), 1))
            if "street_km" in b.columns and _is_number(row["street_km"])
            else "",
            "cso": _text(assigned),
            "_color": _WORKLOAD_COLORS[lv],
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
    entries = [
        (_WORKLOAD_COLORS[i], f"{edges_[i]:,.0f}-{edges_[i + 1]:,.0f} min") for i in range(n_cls)
    ] + _trend_legend_entries(hot)
    _legend(m, "Beat workload (service minutes)", entries)
    folium.LayerControl(collapsed=False).add_to(m)
    log.info(
        "supervisor map: %d beats, %d CSO assignments, %d hotspots",
        len(b),
        sum(len(v) for v in csos.values()),
        0 if hot is None else len(hot),
    )
    return m


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


def _beat_key(value: object) -> str:
    """A beat id as text, ``3``, ``3.0`` and ``"3"`` alike."""
    f = _number(value)
    return str(int(f)) if f is not None and f == int(f) else str(value).strip()


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
    title = title or f"Route {route_id}"
    route_gdf = gpd.GeoDataFrame.from_features(paths + stops, crs=4326)
    crs = G.graph.get("crs") if G is not None else None
    edges = _basemap_edges(G, route_gdf.to_crs(crs).total_bounds) if G is not None else None
    # the side panel covers the right of the map: fit the route into the rest
    m = _base_map(
        _lonlat_bounds([route_gdf, None]), title=title, offline=offline, right_margin_px=320
    )
    if edges is not None and len(edges):
        _add_street_layers(m, edges, decimals=BASEMAP_DECIMALS)

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
    for d in summary.get("directions") or []:
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
        elif type(el).__name__ in {"HeatMap", "HeatMapWithTime"}:
            problems.append("a HeatMap (leaflet-heat has no package; use a hex density layer)")
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
    from folium.plugins import FastMarkerCluster, MarkerCluster  # noqa: PLC0415

    return (MarkerCluster, FastMarkerCluster)


def _make_offline(page: str) -> str:
    """Inline the libraries a rendered page uses and drop Folium's unused CDN links.

    Leaflet is always inlined; jQuery (folium popups) and Font Awesome (``fa-``
    icons) only when the page uses them; Leaflet.markercluster when the map has a
    marker cluster. Anything else stays and makes `save_map` refuse the page.
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
        from ``xstatic-leaflet``, Folium's unused jQuery/Bootstrap/Font Awesome/
        awesome-markers links are removed. When False, Folium's CDN links are kept.

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
