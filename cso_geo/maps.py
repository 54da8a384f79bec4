"""Interactive overview maps of a street network, viewable without a network connection.

`overview_map` draws a projected osmnx street graph (and optionally incident
points) as Leaflet vector layers with Folium; `save_map` writes the page. By
default the page is fully self-contained: Leaflet's JavaScript and CSS are
inlined from the installed ``xstatic-leaflet`` package, the libraries Folium
links by default but this map never uses (jQuery, Bootstrap, Font Awesome,
Leaflet.awesome-markers) are left out, and no tile layer is drawn. The saved
file is checked to load nothing from the network.

Text from the data (street names, incident fields) is HTML-escaped before it
reaches a tooltip: incident text is untrusted.
"""

from __future__ import annotations

import base64
import functools
import html
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

from cso_geo._errors import CsoGeoError, EmptyNetworkError
from cso_geo._io import atomic_write_text

__all__ = [
    "MAX_INCIDENT_POINTS",
    "MapError",
    "OfflineMapError",
    "overview_map",
    "remote_references",
    "save_map",
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
    return html.escape(text, quote=True)


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


def _street_features(edges: gpd.GeoDataFrame) -> dict[str, list[dict[str, Any]]]:
    """Return GeoJSON features of `edges`, grouped by road class key."""
    simplified = edges.geometry.simplify(SIMPLIFY_TOLERANCE_M, preserve_topology=False)
    lonlat = _to_lonlat(simplified)
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
    groups = _street_features(edges)
    n_streets = sum(len(f) for f in groups.values())

    points = None if incidents is None else _incident_points(incidents, G.graph["crs"])
    n_drawn = n_streets + (
        0 if points is None or len(points) > MAX_INCIDENT_POINTS else len(points)
    )

    west, south, east, north = edges.geometry.to_crs(4326).total_bounds.tolist()
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=14,
        tiles=None,
        control_scale=True,
        prefer_canvas=n_drawn > CANVAS_THRESHOLD,
    )
    root = m.get_root()
    assert isinstance(root, branca.element.Figure)
    root.title = html.escape(title, quote=True)
    root.header.add_child(
        branca.element.Element(
            "<style>"
            f".folium-map.leaflet-container {{ background: {BACKGROUND_COLOR}; }}"
            ".cso-geo-title { position: absolute; top: 10px; left: 50%;"
            " transform: translateX(-50%); z-index: 1000; padding: 4px 10px;"
            " background: rgba(255,255,255,0.9); border-radius: 4px;"
            " font: bold 15px/1.3 system-ui, sans-serif; box-shadow: 0 1px 4px rgba(0,0,0,0.3); }"
            "</style>"
        ),
        name="cso_geo_style",
    )
    root.html.add_child(
        branca.element.Element(
            f'<div class="cso-geo-title">{html.escape(title, quote=True)}</div>'
        ),
        name="cso_geo_title",
    )
    if not offline:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", control=True).add_to(m)

    tooltip_fields = ["name", "highway", "length_m"]
    tooltip_aliases = ["Street", "Type", "Length (m)"]
    for rc in ROAD_CLASSES:
        features = groups[rc.key]
        if not features:
            continue
        group = folium.FeatureGroup(name=f"{rc.label} ({len(features):,})")
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=rc.label,
            control=False,
            style_function=_constant_style(rc.style()),
            highlight_function=_constant_style(_HIGHLIGHT),
            tooltip=folium.GeoJsonTooltip(
                fields=tooltip_fields, aliases=tooltip_aliases, sticky=True
            ),
        ).add_to(group)
        group.add_to(m)

    if points is not None and len(points):
        if len(points) > MAX_INCIDENT_POINTS:
            _incident_grid_layer(points).add_to(m)
        else:
            _incident_layer(points).add_to(m)

    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[south, west], [north, east]])
    log.info(
        "overview map: %d street segments (%s), %s incidents%s",
        n_streets,
        ", ".join(f"{len(groups[rc.key])} {rc.key}" for rc in ROAD_CLASSES),
        0 if points is None else len(points),
        ", canvas renderer" if n_drawn > CANVAS_THRESHOLD else "",
    )
    return m


# --- saving --------------------------------------------------------------------------------------

#: Folium default resources inlined from xstatic-leaflet in offline mode.
_INLINE: Final = frozenset({"leaflet", "leaflet_css"})
#: Folium default resources dropped in offline mode: nothing the overview map draws uses them.
_DROP: Final = frozenset(
    {
        "jquery",
        "bootstrap",
        "awesome_markers",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers_font_css",
        "awesome_markers_css",
        "awesome_rotate_css",
    }
)


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
    """Raise if `m` holds elements that need the network or the dropped libraries."""
    problems = []
    for el in _walk(m):
        if isinstance(el, folium.TileLayer):
            problems.append("a tile layer (build the map with offline=True)")
        elif isinstance(el, folium.Marker | folium.Icon):
            problems.append("a Marker/Icon (its images are external; use CircleMarker)")
        elif isinstance(el, folium.Popup):
            problems.append("a Popup (folium builds popups with jQuery; use a tooltip)")
        elif isinstance(el, folium.GeoJson) and not el.embed:
            problems.append("a GeoJson layer that is not embedded")
    if getattr(m, "objects_to_stay_in_front", None):
        problems.append("objects kept in front (folium does that with jQuery)")
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


def _make_offline(page: str) -> str:
    """Inline Leaflet and drop Folium's unused CDN resources from a rendered page."""
    js, css = _leaflet_assets()
    inlined = set()
    for name, url in folium.Map.default_js:
        tag = f'<script src="{url}"></script>'
        if name in _INLINE and tag in page:
            page = page.replace(tag, f"<script>\n{js}\n</script>", 1)
            inlined.add(name)
        elif name in _DROP:
            page = page.replace(tag, "")
    for name, url in folium.Map.default_css:
        tag = f'<link rel="stylesheet" href="{url}"/>'
        if name in _INLINE and tag in page:
            page = page.replace(tag, f"<style>\n{css}\n</style>", 1)
            inlined.add(name)
        elif name in _DROP:
            page = page.replace(tag, "")
    if inlined != _INLINE:
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
