"""Tests of cso_geo.maps: offline overview maps and the analyst, supervisor and shift maps."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest
import shapely
from _browser import (
    OPEN_FEATURE_POPUP,
    OPEN_POINT_POPUP,
    background_share,
    colour_share,
    hex_rgb,
    leaflet_layers,
    offline_page,
    png_rgb,
)
from scipy.spatial import cKDTree
from shapely.geometry import LineString, Point

from cso_geo import maps
from cso_geo._errors import EmptyNetworkError

XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=2</script>"
XSS_INCIDENT = '<img src=y onerror="window.__xss=3">'

# A 4 x 3 block of streets in central Helsinki. Node 13 bends the footway 1-13-5, and the
# corners 1 and 4 join two ways, so osmnx simplification merges edges there (these get a
# geometry and list-valued `highway`/`name`); the other edges get a straight geometry below.
OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="60.1700" lon="24.9400"/>
  <node id="2" lat="60.1700" lon="24.9420"/>
  <node id="3" lat="60.1700" lon="24.9440"/>
  <node id="4" lat="60.1700" lon="24.9460"/>
  <node id="5" lat="60.1710" lon="24.9400"/>
  <node id="6" lat="60.1710" lon="24.9420"/>
  <node id="7" lat="60.1710" lon="24.9440"/>
  <node id="8" lat="60.1710" lon="24.9460"/>
  <node id="9" lat="60.1720" lon="24.9400"/>
  <node id="10" lat="60.1720" lon="24.9420"/>
  <node id="11" lat="60.1720" lon="24.9440"/>
  <node id="12" lat="60.1720" lon="24.9460"/>
  <node id="13" lat="60.1705" lon="24.9408"/>
  <way id="101">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="primary"/><tag k="name" v="Mannerheimintie"/>
  </way>
  <way id="102">
    <nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="8"/>
    <tag k="highway" v="residential"/>
    <tag k="name" v="&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;"/>
  </way>
  <way id="103">
    <nd ref="9"/><nd ref="10"/><nd ref="11"/><nd ref="12"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="yes"/>
    <tag k="name" v="&lt;script&gt;window.__xss=2&lt;/script&gt;"/>
  </way>
  <way id="104">
    <nd ref="1"/><nd ref="13"/><nd ref="5"/><nd ref="9"/>
    <tag k="highway" v="footway"/>
  </way>
  <way id="105">
    <nd ref="2"/><nd ref="6"/><nd ref="10"/>
    <tag k="highway" v="tertiary"/><tag k="name" v="Kalevankatu"/>
  </way>
  <way id="106">
    <nd ref="3"/><nd ref="7"/><nd ref="11"/>
    <tag k="highway" v="service"/>
  </way>
  <way id="107">
    <nd ref="4"/><nd ref="8"/><nd ref="12"/>
    <tag k="highway" v="cycleway"/><tag k="name" v="Baana &amp; &lt;b&gt;bold&lt;/b&gt;"/>
  </way>
</osm>
"""


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> nx.MultiDiGraph:
    """The block above, simplified and projected to UTM, with a geometry on every edge."""
    path = tmp_path_factory.mktemp("osm") / "block.osm"
    path.write_text(OSM_XML, encoding="utf-8")
    g = ox.project_graph(ox.graph_from_xml(path))
    for u, v, data in g.edges(data=True):
        if "geometry" not in data:
            nu, nv = g.nodes[u], g.nodes[v]
            data["geometry"] = LineString([(nu["x"], nu["y"]), (nv["x"], nv["y"])])
    assert str(g.graph["crs"]).upper() == "EPSG:32635"
    return g


@pytest.fixture(scope="module")
def n_segments(graph: nx.MultiDiGraph) -> int:
    """Street segments to draw: one per undirected edge, as osmnx counts them."""
    n = ox.convert.to_undirected(graph).number_of_edges()
    assert n == 15  # 27 directed edges, 12 of them two-way pairs, 3 one-way
    return n


@pytest.fixture(scope="module")
def incidents() -> gpd.GeoDataFrame:
    """Three incidents in lon/lat, one with a hostile description."""
    return gpd.GeoDataFrame(
        {
            "category": ["noise", "litter", XSS_INCIDENT],
            "description": [XSS_INCIDENT, "bins overflowing", "ok"],
        },
        geometry=[Point(24.9410, 60.1705), Point(24.9430, 60.1715), Point(24.9450, 60.1702)],
        crs=4326,
    )


def _geojson_layers(m: folium.Map) -> list[folium.GeoJson]:
    out = []
    stack: list[Any] = [m]
    while stack:
        el = stack.pop()
        if isinstance(el, folium.GeoJson):
            out.append(el)
        stack.extend(el._children.values())
    return out


def _street_layers(m: folium.Map) -> dict[str, folium.GeoJson]:
    labels = {rc.label for rc in maps.ROAD_CLASSES}
    return {layer.layer_name: layer for layer in _geojson_layers(m) if layer.layer_name in labels}


def _strip_script_and_style_bodies(page: str) -> str:
    page = re.sub(r"(?is)(<script\b[^>]*>).*?(</script>)", r"\1\2", page)
    return re.sub(r"(?is)(<style\b[^>]*>).*?(</style>)", r"\1\2", page)


# --- unit tests ----------------------------------------------------------------------------------


def test_offline_page_loads_nothing_from_the_network(
    graph: nx.MultiDiGraph, incidents: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    out = maps.save_map(maps.overview_map(graph, incidents=incidents), tmp_path / "m.html")
    page = out.read_text(encoding="utf-8")
    tags_only = _strip_script_and_style_bodies(page)
    assert not re.search(r"""(?i)\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", tags_only)
    assert "<script src=" not in page
    assert "<link " not in page
    assert maps.remote_references(page) == []
    # Leaflet is inlined, the libraries the map does not use are gone
    assert 't.version="1.9.3"' in page
    assert "sourceMappingURL" not in page
    assert ".leaflet-pane" in page
    for dropped in ("jquery", "bootstrap", "fontawesome", "awesome-markers", "glyphicons"):
        assert dropped not in page.lower(), dropped
    assert "cdn" not in tags_only.lower()
    # its images are data URIs; nothing points at images/ any more
    assert "url(images/" not in page
    assert "data:image/png;base64," in page
    assert "L.tileLayer" not in page


def test_street_names_are_escaped(graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    m = maps.overview_map(graph)
    page = maps.save_map(m, tmp_path / "m.html").read_text(encoding="utf-8")
    for raw in (XSS_IMG, XSS_SCRIPT, "<img src=x onerror", "<script>window", "<b>bold"):
        assert raw not in page
    names = {
        f["properties"]["name"]
        for layer in _street_layers(m).values()
        for f in layer.data["features"]
    }
    assert html.escape(XSS_IMG) in names
    assert html.escape(XSS_SCRIPT) in names
    # the merged corner edge 3-4-8 carries both way names
    assert "Baana &amp; &lt;b&gt;bold&lt;/b&gt;; Mannerheimintie" in names
    assert "(unnamed)" in names


def test_one_feature_per_undirected_street_segment(graph: nx.MultiDiGraph, n_segments: int) -> None:
    layers = _street_layers(maps.overview_map(graph))
    counts = {label: len(layer.data["features"]) for label, layer in layers.items()}
    assert sum(counts.values()) == n_segments
    # major: 2-3, 1 corner 2-5, 4 corner 3-8 (primary + cycleway), 2-6, 6-10 (tertiary);
    # path: 5-9 (footway), 8-12 (cycleway); minor: 3 residential x 2 ways, 3-7, 7-11
    assert counts == {"Major roads": 5, "Minor streets": 8, "Paths & cycleways": 2}
    # the two-way residential street with the hostile name: 3 segments, drawn once each
    hostile = [
        f
        for f in layers["Minor streets"].data["features"]
        if f["properties"]["name"] == html.escape(XSS_IMG)
    ]
    assert len(hostile) == 3
    assert {f["properties"]["length_m"] for f in hostile} == {111}


def test_geometry_is_lonlat_rounded_and_fitted(graph: nx.MultiDiGraph) -> None:
    m = maps.overview_map(graph)
    coords = np.array(
        [
            c
            for layer in _street_layers(m).values()
            for f in layer.data["features"]
            for c in f["geometry"]["coordinates"]
        ]
    )
    assert coords[:, 0].min() == pytest.approx(24.94, abs=1e-6)
    assert coords[:, 0].max() == pytest.approx(24.946, abs=1e-6)
    assert coords[:, 1].min() == pytest.approx(60.17, abs=1e-6)
    assert coords[:, 1].max() == pytest.approx(60.172, abs=1e-6)
    assert np.array_equal(coords, np.round(coords, 6))
    # the bent footway keeps its bend (node 13) through simplification
    bent = [
        f["geometry"]["coordinates"]
        for layer in _street_layers(m).values()
        for f in layer.data["features"]
        if len(f["geometry"]["coordinates"]) > 2
    ]
    assert any([24.9408, 60.1705] in line for line in bent)
    fit = [el for el in m._children.values() if isinstance(el, folium.map.FitBounds)]
    assert len(fit) == 1
    assert np.allclose(fit[0].bounds, [[60.17, 24.94], [60.172, 24.946]], atol=1e-6)


def test_incident_markers_are_escaped(
    graph: nx.MultiDiGraph, incidents: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    m = maps.overview_map(graph, incidents=incidents)
    page = maps.save_map(m, tmp_path / "m.html").read_text(encoding="utf-8")
    assert "<img src=y" not in page
    (layer,) = [g for g in _geojson_layers(m) if g.layer_name == "incidents"]
    assert isinstance(layer.marker, folium.CircleMarker)
    props = [f["properties"] for f in layer.data["features"]]
    assert len(props) == 3
    assert props[0] == {"f0": "noise", "f1": html.escape(XSS_INCIDENT)}
    assert props[2]["f0"] == html.escape(XSS_INCIDENT)


def test_many_incidents_are_counted_on_a_grid(graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = maps.MAX_INCIDENT_POINTS + 500
    pts = gpd.GeoDataFrame(
        {"category": ["x"] * n},
        geometry=gpd.points_from_xy(rng.uniform(24.940, 24.946, n), rng.uniform(60.170, 60.172, n)),
        crs=4326,
    )
    m = maps.overview_map(graph, incidents=pts)
    (grid,) = [g for g in _geojson_layers(m) if g.layer_name == "incident grid"]
    counts = [f["properties"]["count"] for f in grid.data["features"]]
    assert sum(counts) == n
    assert len(counts) > 4
    assert not [g for g in _geojson_layers(m) if g.layer_name == "incidents"]
    page = maps.save_map(m, tmp_path / "grid.html").read_text(encoding="utf-8")
    assert maps.remote_references(page) == []


def test_incidents_without_crs_are_refused(
    graph: nx.MultiDiGraph, incidents: gpd.GeoDataFrame
) -> None:
    with pytest.raises(maps.MapError, match="no CRS"):
        maps.overview_map(graph, incidents=incidents.set_crs(None, allow_override=True))


def test_unprojected_graph_is_refused(graph: nx.MultiDiGraph) -> None:
    g = graph.copy()
    del g.graph["crs"]
    with pytest.raises(maps.MapError, match="crs"):
        maps.overview_map(g)


def test_empty_graph_is_refused() -> None:
    empty = nx.MultiDiGraph(crs="EPSG:32635")
    empty.add_node(1, x=0.0, y=0.0)
    with pytest.raises(EmptyNetworkError):
        maps.overview_map(empty)


def test_online_map_uses_tiles_and_cdn(graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    m = maps.overview_map(graph, offline=False, title="Kamppi & <Kluuvi>")
    page = maps.save_map(m, tmp_path / "online.html", offline=False).read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" in page
    assert '<script src="https://cdn.jsdelivr.net/npm/leaflet@' in page
    assert "<title>Kamppi &amp; &lt;Kluuvi&gt;</title>" in page
    # the same map cannot be saved as an offline page, and nothing is written
    target = tmp_path / "offline.html"
    with pytest.raises(maps.OfflineMapError, match="tile layer"):
        maps.save_map(m, target)
    assert not target.exists()


@pytest.mark.parametrize(
    "element",
    [
        pytest.param(lambda: folium.Marker([60.17, 24.94]), id="marker"),
        pytest.param(lambda: folium.Marker([60.17, 24.94], icon=folium.Icon()), id="icon"),
        pytest.param(lambda: folium.plugins.HeatMapWithTime([[[60.17, 24.94]]]), id="heatmap-time"),
    ],
)
def test_offline_refuses_elements_needing_unpackaged_libraries(
    graph: nx.MultiDiGraph, tmp_path: Path, element: Any
) -> None:
    m = maps.overview_map(graph)
    element().add_to(m)
    with pytest.raises(maps.OfflineMapError):
        maps.save_map(m, tmp_path / "m.html")
    assert not (tmp_path / "m.html").exists()


def test_offline_popup_inlines_jquery_and_divicon_marker_is_allowed(
    graph: nx.MultiDiGraph, tmp_path: Path
) -> None:
    m = maps.overview_map(graph)
    folium.CircleMarker([60.17, 24.94], popup="hi").add_to(m)
    folium.Marker([60.171, 24.942], icon=folium.DivIcon(html="<b>1</b>")).add_to(m)
    page = maps.save_map(m, tmp_path / "m.html").read_text(encoding="utf-8")
    assert maps.remote_references(page) == []
    assert "<script src=" not in page
    assert "jQuery v3.7.1" in page  # the popup is built with jQuery: it comes inlined


def test_offline_heat_map_inlines_leaflet_heat_from_the_folium_package(
    graph: nx.MultiDiGraph, tmp_path: Path
) -> None:
    import importlib.resources  # noqa: PLC0415

    shipped = (
        importlib.resources.files("folium")
        .joinpath("templates", "leaflet_heat.min.js")
        .read_text(encoding="utf-8")
    )
    tail = shipped.strip()[-200:]
    assert "L.heatLayer=function" in tail
    plain = maps.save_map(maps.overview_map(graph), tmp_path / "plain.html").read_text()
    assert tail not in plain
    m = maps.overview_map(graph)
    folium.plugins.HeatMap([[60.17, 24.94, 2.0], [60.171, 24.942, 1.0]]).add_to(m)
    page = maps.save_map(m, tmp_path / "heat.html").read_text(encoding="utf-8")
    assert maps.remote_references(page) == []
    assert "<script src=" not in page
    assert tail in page  # the very file folium ships, inlined


def test_font_awesome_is_inlined_only_when_an_icon_uses_it(
    graph: nx.MultiDiGraph, tmp_path: Path
) -> None:
    plain = maps.save_map(maps.overview_map(graph), tmp_path / "plain.html").read_text()
    assert "Font Awesome" not in plain
    m = maps.overview_map(graph)
    icon = folium.DivIcon(html='<i class="fa-solid fa-flag-checkered"></i>')
    folium.Marker([60.171, 24.942], icon=icon).add_to(m)
    page = maps.save_map(m, tmp_path / "fa.html").read_text(encoding="utf-8")
    assert maps.remote_references(page) == []
    assert "Font Awesome" in page
    assert ".fa-flag-checkered" in page
    # the solid webfont is a data URI; no other font file is referenced
    assert page.count("url(data:font/woff2;base64,") == 1
    assert "webfonts/" not in page
    assert "<link " not in page


def test_remote_references_finds_fetches_only() -> None:
    page = """<html><head>
    <link rel="preconnect" href="//cdn.example.org">
    <style>.a { background: url( 'https://x.example/a.png') }</style>
    <script>var attribution = '<a href="https://leafletjs.com">Leaflet</a>';</script>
    </head><body>
    <a href="https://www.openstreetmap.org/copyright">OSM</a>
    <img src="data:image/png;base64,AAAA"><img srcset="a.png 1x, https://x.example/b.png 2x">
    <div style="background-image:url(http://x.example/c.png)"></div>
    <iframe src="HTTPS://x.example/"></iframe>
    </body></html>"""
    found = maps.remote_references(page)
    assert len(found) == 5, found
    assert not any("leafletjs" in f or "openstreetmap" in f for f in found)


# --- in a real browser ---------------------------------------------------------------------------

BACKGROUND_RGB = (0xF7, 0xF7, 0xF4)
VIEWPORT = {"width": 900, "height": 700}


def _tooltip_showing(page: Any, text: str) -> dict[str, Any]:
    """Wait for the open tooltip (closed ones fade out first) and report whether it shows `text`.

    ``elements`` counts HTML elements the data could have injected into the tooltip.
    """
    found = page.wait_for_function(
        """(text) => {
            const tips = [...document.querySelectorAll('.leaflet-tooltip')].filter(
                (t) => getComputedStyle(t).opacity !== '0');
            return tips.length === 1 && {text: tips[0].innerText.includes(text),
                elements: tips[0].querySelectorAll('img, script, b').length};
        }""",
        arg=text,
    )
    result: dict[str, Any] = found.json_value()
    return result


@pytest.mark.browser
def test_map_renders_offline_in_chromium(
    browser: Any,
    graph: nx.MultiDiGraph,
    incidents: gpd.GeoDataFrame,
    tmp_path: Path,
    n_segments: int,
) -> None:
    out = maps.save_map(
        maps.overview_map(graph, incidents=incidents, title="Test block"), tmp_path / "map.html"
    )
    with offline_page(browser, out, viewport=VIEWPORT) as state:
        page = state.page
        page.wait_for_function("document.querySelectorAll('path.leaflet-interactive').length > 0")

        assert page.evaluate("typeof window.L") == "object"
        assert page.evaluate("L.version") == "1.9.3"
        n_paths = page.evaluate("document.querySelectorAll('path.leaflet-interactive').length")
        assert n_paths == n_segments + len(incidents)
        assert page.evaluate("document.querySelectorAll('.leaflet-tile').length") == 0
        assert page.evaluate("document.querySelector('.leaflet-control-scale') !== null")
        assert (
            page.evaluate(
                "document.querySelectorAll('.leaflet-control-layers-overlays input').length"
            )
            == 4
        )
        assert page.inner_text(".cso-geo-title") == "Test block"

        # the streets are really drawn: background everywhere else, street colours on a
        # real share of the viewport
        rgb = png_rgb(page.screenshot(type="png")).astype(np.int32)
        assert rgb.shape == (VIEWPORT["height"], VIEWPORT["width"], 3)
        total = rgb.shape[0] * rgb.shape[1]
        background = np.all(rgb == BACKGROUND_RGB, axis=2).sum() / total
        # a line of colour c and opacity a over the background b shows a*c + (1-a)*b
        street_colours = np.array(
            [
                np.multiply(hex_rgb(rc.color), rc.style()["opacity"])
                + np.multiply(BACKGROUND_RGB, 1 - rc.style()["opacity"])
                for rc in maps.ROAD_CLASSES
            ]
        )
        dist = np.abs(rgb[:, :, None, :] - street_colours[None, None, :, :]).max(axis=3)
        streets = (dist.min(axis=2) <= 12).sum() / total
        assert background > 0.5, background
        assert streets > 0.005, streets

        # hover the street with the hostile name: its tooltip shows the name as text
        for name in (XSS_IMG, XSS_SCRIPT):
            point = page.evaluate(
                """(names) => {
                    const map = window[document.querySelector('.folium-map').id];
                    let found = null;
                    map.eachLayer((layer) => {
                        if (!found && layer.feature && layer.getLatLngs
                            && names.includes(layer.feature.properties.name)) { found = layer; }
                    });
                    const p = map.latLngToContainerPoint(found.getCenter());
                    const box = map.getContainer().getBoundingClientRect();
                    return [box.left + p.x, box.top + p.y];
                }""",
                [name, html.escape(name)],
            )
            page.mouse.move(0, 0)
            page.mouse.move(point[0], point[1])
            assert _tooltip_showing(page, name) == {"text": True, "elements": 0}
            page.mouse.click(point[0], point[1])
            assert page.evaluate("typeof window.__xss") == "undefined"

        # and the incident whose description is hostile
        page.mouse.move(0, 0)
        circles = page.query_selector_all("path.leaflet-interactive[fill='#6b46c1']")
        assert len(circles) == len(incidents)
        circles[0].hover()
        assert _tooltip_showing(page, XSS_INCIDENT) == {"text": True, "elements": 0}
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert page.evaluate("document.querySelectorAll('img[src=x], img[src=y]').length") == 0
    assert state.blocked == []
    assert state.failed == []
    assert state.errors == []


def test_saved_json_data_is_script_safe(graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    """No data string can end the inline <script> that holds it."""
    page = maps.save_map(maps.overview_map(graph), tmp_path / "m.html").read_text()
    scripts = re.findall(r"(?is)<script>(.*?)</script>", page)
    data = [s for s in scripts if "_add({" in s]
    assert data
    for script in data:
        for payload in re.findall(r"_add\((\{.*?\})\);", script, re.S):
            features = json.loads(payload)["features"]
            assert features
    assert len(re.findall(r"(?i)<script", page)) == len(re.findall(r"(?i)</script>", page))


# --- the three product maps ----------------------------------------------------------------------

XSS_ADDR = '12 <img src=x onerror="window.__xss=1"> KATU'
XSS_CALL = "<script>window.__xss=1</script>"
XSS_BACKTICK = "`);window.__xss=1;//${window.__xss=1}"


@pytest.fixture(scope="module")
def hostile_incidents() -> gpd.GeoDataFrame:
    """Ten calls on the block, some with hostile text; two at the same spot."""
    lon = [24.9410, 24.9410, 24.9430, 24.9450, 24.9402, 24.9412, 24.9440, 24.9455, 24.9425, 24.9445]
    lat = [60.1705, 60.1705, 60.1715, 60.1702, 60.1712, 60.1719, 60.1708, 60.1716, 60.1701, 60.1711]
    n = len(lon)
    return gpd.GeoDataFrame(
        {
            "incident_id": [f"C-{i}" for i in range(n)],
            "received_at": pd.to_datetime(
                [f"2025-11-{1 + i:02d} {(3 * i + 1) % 24:02d}:15" for i in range(n)]
            ),
            "category": ["noise", "parking", XSS_CALL] + ["litter"] * (n - 3),
            "call_type": [XSS_CALL, XSS_BACKTICK] + ["NOISE COMPLAINT"] * (n - 2),
            "address": [XSS_ADDR] + [f"{i} KALEVANKATU" for i in range(1, n)],
        },
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    )


@pytest.fixture(scope="module")
def block_hotspots(graph: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """Two hand-made hotspots on the block's streets, one with a hostile street name."""
    g = ox.convert.graph_to_gdfs(graph, nodes=False)
    lines = g.geometry.iloc[:2].tolist()
    return gpd.GeoDataFrame(
        {
            "rank": [1, 2],
            "method": ["segment", "segment"],
            "name": [XSS_IMG, "Kalevankatu"],
            "count": [7, 3],
            "count_noise": [5, 0],
            "count_parking": [2, 3],
            "trend": ["intensifying", "persistent"],
            "top_call_types": [f"{XSS_SCRIPT}:5", "PARK:3"],
            "peak_hours": ["22:00-23:00", "08:00-09:00"],
            "first_seen": ["2025-01-02", "2025-03-04"],
            "last_seen": ["2025-11-20", "2025-11-18"],
        },
        geometry=lines,
        crs=graph.graph["crs"],
    )


def _js_layers(m: folium.Map) -> dict[str, Any]:
    """The map's compact (browser-built) layers by name: hexagon bands and incident points."""
    return {c.layer_name: c for c in m._children.values() if isinstance(c, maps._JsLayer)}


def _hex_counts_drawn(m: folium.Map) -> list[int]:
    (layer,) = [v for k, v in _js_layers(m).items() if k.startswith("Calls per hexagon")]
    counts: list[int] = layer.counts
    return counts


def _page_points(page: str) -> list[list[float]]:
    """Every Point geometry in the GeoJSON data embedded in a saved page."""
    points = []
    for payload in re.findall(r"_add\((\{.*?\})\);", page, re.S):
        for f in json.loads(payload)["features"]:
            if f["geometry"]["type"] == "Point":
                points.append(f["geometry"]["coordinates"])
    return points


def test_hex_counts_match_points_and_suppress_small_cells() -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 1000, size=(5000, 2))
    pts = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=32635)
    hexes = maps.hex_counts(pts, size=100.0)
    assert hexes["count"].sum() == 5000
    # every point lies in the hexagon it was counted in: recount with shapely
    tree_counts = np.array(
        [shapely.contains_xy(h, xy[:, 0], xy[:, 1]).sum() for h in hexes.geometry]
    )
    assert np.array_equal(tree_counts, hexes["count"].to_numpy())
    # a regular hexagon of circumradius 100 m has area 3*sqrt(3)/2 * 100^2
    assert hexes.geometry.area.to_numpy() == pytest.approx(25980.76, rel=1e-6)
    k3 = maps.hex_counts(pts, size=100.0, min_count=60)
    assert (k3["count"] >= 60).all()
    assert len(k3) == int((hexes["count"] >= 60).sum())
    with pytest.raises(maps.MapError, match="projected"):
        maps.hex_counts(pts.to_crs(4326))


def test_analyst_map_layers_and_escaping(
    graph: nx.MultiDiGraph,
    hostile_incidents: gpd.GeoDataFrame,
    block_hotspots: gpd.GeoDataFrame,
    tmp_path: Path,
) -> None:
    m = maps.analyst_map(hostile_incidents, graph, hotspots=block_hotspots, title="A <b>")
    page = maps.save_map(m, tmp_path / "a.html").read_text(encoding="utf-8")
    assert maps.remote_references(page) == []
    for raw in (XSS_IMG, XSS_SCRIPT, XSS_ADDR, XSS_CALL, "<img src=x", "`);window"):
        assert raw not in page
    # the popup text is in the page's point data, escaped
    assert html.escape(XSS_ADDR) in page
    # markercluster is inlined (xstatic-leaflet-markercluster), not linked
    assert "MarkerClusterGroup" in page
    assert "markercluster" not in "".join(re.findall(r"<(?:script|link)[^>]*>", page))
    assert sum(_hex_counts_drawn(m)) == len(hostile_incidents)
    points = _js_layers(m)["Incident points (10)"].data
    assert [f["alias"] for f in points["fields"]] == [
        "Incident",
        "Received",
        "Call type",
        "Category",
        "Address",
    ]
    assert [f["kind"] for f in points["fields"]] == ["text", "time", "lookup", "lookup", "text"]
    rows = points["rows"]
    assert len(rows) == len(hostile_incidents)
    assert rows[0][:3] == [60.1705, 24.941, "C-0"]
    # received 2025-11-01 01:15 is the first call: minute 0; the next is 1 day 3 h later
    assert (rows[0][3], rows[1][3]) == (0, 27 * 60)
    call_types = points["fields"][2]["values"]
    assert call_types[rows[0][4]] == html.escape(XSS_CALL)
    assert call_types[rows[1][4]] == html.escape(XSS_BACKTICK).replace("`", "&#96;")
    assert rows[0][6] == html.escape(XSS_ADDR)
    # categories by frequency: litter (7) first, so it gets the first colour
    assert points["fields"][3]["values"][0] == "litter"
    assert points["cat"] == 3
    layers = {g.layer_name: g for g in _geojson_layers(m)}
    hot = layers["hotspots"].data["features"]
    assert [f["properties"]["rank"] for f in hot] == ["1", "2"]
    assert hot[0]["properties"]["name"] == html.escape(XSS_IMG)
    assert hot[0]["properties"]["_color"] == maps.TREND_COLORS["intensifying"]
    names = [
        c.layer_name for c in m._children.values() if isinstance(c, folium.map.Layer) and c.control
    ]
    assert "Hotspots: segment (2)" in names
    assert "Hotspots mostly noise (1)" in names
    assert "Hotspots mostly parking (1)" in names
    assert "Incident points (10)" in names
    bands = [n for n in names if n.startswith("Calls ") and "hexagon" not in n]
    hours = hostile_incidents["received_at"].dt.hour
    assert bands == [
        f"Calls Day 06-14 ({int(((hours >= 6) & (hours < 14)).sum())})",
        f"Calls Evening 14-22 ({int(((hours >= 14) & (hours < 22)).sum())})",
        f"Calls Night 22-06 ({int(((hours >= 22) | (hours < 6)).sum())})",
    ]


def test_public_analyst_map_hides_points_addresses_and_small_counts(
    graph: nx.MultiDiGraph,
    hostile_incidents: gpd.GeoDataFrame,
    block_hotspots: gpd.GeoDataFrame,
    tmp_path: Path,
) -> None:
    m = maps.analyst_map(hostile_incidents, graph, hotspots=block_hotspots, public=True)
    page = maps.save_map(m, tmp_path / "p.html").read_text(encoding="utf-8")
    assert "KALEVANKATU" not in page
    assert html.escape(XSS_ADDR) not in page
    assert "MarkerClusterGroup" not in page
    assert "L.heatLayer(" not in page
    assert _page_points(page) == []
    layers = {g.layer_name: g for g in _geojson_layers(m)}
    counts = _hex_counts_drawn(m)
    assert all(c >= maps.PUBLIC_MIN_COUNT for c in counts)
    for name, layer in _js_layers(m).items():
        assert name.startswith("Calls")  # hexagons only: no point layer
        assert all(c >= maps.PUBLIC_MIN_COUNT for c in layer.counts)
    full = maps.hex_counts(hostile_incidents.to_crs(graph.graph["crs"]))
    assert sum(counts) == int(full["count"][full["count"] >= maps.PUBLIC_MIN_COUNT].sum())
    # hotspots keep rank, count and trend only
    props = layers["hotspots"].data["features"][0]["properties"]
    assert set(props) == {"rank", "count", "trend", "_color"}
    assert "Public map" in page


def _legend_text(page: str) -> str:
    """The text of a saved page's legend box (the last element before its scripts)."""
    start = page.index('<div class="cso-geo-legend">')
    legend = page[start : page.index("<script", start)]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", legend)).split())


def test_product_map_basemap_draws_one_feature_per_street(
    graph: nx.MultiDiGraph, hostile_incidents: gpd.GeoDataFrame
) -> None:
    merged = _street_layers(maps.analyst_map(hostile_incidents, graph))
    segments = _street_layers(maps.overview_map(graph))
    for label, layer in merged.items():
        keys = [
            (f["properties"]["name"], f["properties"]["highway"]) for f in layer.data["features"]
        ]
        assert len(keys) == len(set(keys))  # one feature per street name and type
        # ... holding all of that street's segments: the same street length in total
        lengths: dict[tuple[str, str], int] = {}
        for f in segments[label].data["features"]:
            key = (f["properties"]["name"], f["properties"]["highway"])
            lengths[key] = lengths.get(key, 0) + f["properties"]["length_m"]
        assert set(keys) == set(lengths)
        for f in layer.data["features"]:
            key = (f["properties"]["name"], f["properties"]["highway"])
            assert abs(f["properties"]["length_m"] - lengths[key]) <= 1
    # the residential street with the hostile name: three segments joined into one line
    (hostile,) = [
        f
        for f in merged["Minor streets"].data["features"]
        if f["properties"]["name"] == html.escape(XSS_IMG)
    ]
    assert hostile["geometry"]["type"] == "LineString"
    assert hostile["geometry"]["coordinates"][0][1] == pytest.approx(60.171, abs=1e-5)
    assert len(hostile["geometry"]["coordinates"]) == 4  # nodes 5-6-7-8
    assert sum(len(v.data["features"]) for v in merged.values()) < 15


def _incidents_along(
    G: nx.MultiDiGraph, n: int, *, seed: int, long_fields: bool = False
) -> gpd.GeoDataFrame:
    """`n` calls along the streets of `G` over 2025, with the usual CAD fields."""
    rng = np.random.default_rng(seed)
    geoms = [d["geometry"] for _, _, d in G.edges(data=True)]
    edge = rng.integers(0, len(geoms), n)
    points = shapely.line_interpolate_point(
        np.asarray(geoms, dtype=object)[edge], rng.uniform(0, 1, n), normalized=True
    )
    call_types = [
        "NOISE COMPLAINT - LOUD MUSIC OR PARTY IN RESIDENTIAL BUILDING",
        "ABANDONED VEHICLE ON PUBLIC STREET, NO PLATES",
        "GRAFFITI ON PRIVATE PROPERTY / REQUEST FOR CLEANUP",
        "ILLEGAL DUMPING OF HOUSEHOLD WASTE BEHIND SHOPS",
        "PARKING VIOLATION - BLOCKING DRIVEWAY OR FIRE LANE",
    ]
    streets = ["MANNERHEIMINTIE", "KALEVANKATU", "ERIKINKATU", "FREDRIKINKATU", "ALBERTINKATU"]
    seconds = rng.integers(0, 365 * 86400, n)
    addresses = [
        f"{rng.integers(1, 200)} {streets[i % 5]}, STAIRWAY {'ABCDEF'[i % 6]} APT {i % 97}"
        f" / NEAR THE CORNER OF {streets[(i + 2) % 5]}"
        for i in range(n)
    ]
    ids = [f"HEL-2025-{i:08d}" for i in range(n)]
    kinds = [call_types[i] for i in rng.integers(0, len(call_types), n)]
    if long_fields:  # every field long and unique: the worst case for the page's size
        addresses = [f"{a} " + "X" * 400 + f" {i}" for i, a in enumerate(addresses)]
        ids = [f"{i} " + "I" * 300 for i in ids]
        kinds = [f"{k} " + "K" * 300 + f" {i}" for i, k in enumerate(kinds)]
    return gpd.GeoDataFrame(
        {
            "incident_id": ids,
            "received_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(seconds, unit="s"),
            "call_type": kinds,
            "category": [
                ["noise", "vehicles", "graffiti", "dumping", "parking"][i]
                for i in rng.integers(0, 5, n)
            ],
            "address": addresses,
        },
        geometry=points,
        crs=G.graph["crs"],
    )


def test_analyst_map_of_20000_points_with_long_fields_stays_under_5_mb(
    helsinki_net: Any, tmp_path: Path
) -> None:
    n = 20_000
    incidents = _incidents_along(helsinki_net.walk, n, seed=11)
    m = maps.analyst_map(incidents, helsinki_net.walk)
    out = maps.save_map(m, tmp_path / "a.html")
    size = out.stat().st_size
    assert size <= 5_000_000, size
    page = out.read_text(encoding="utf-8")
    # over the point cap there is no cliff: the latest points are drawn and the legend says so
    name = f"Incident points: latest {maps.MAX_CLUSTER_POINTS:,} of {n:,}"
    layer = _js_layers(m)[name]
    rows = layer.data["rows"]
    assert len(rows) == maps.MAX_CLUSTER_POINTS
    latest = set(incidents.nlargest(maps.MAX_CLUSTER_POINTS, "received_at")["incident_id"])
    assert {r[2] for r in rows} == latest
    assert f"the latest {maps.MAX_CLUSTER_POINTS:,} of {n:,} calls are drawn" in _legend_text(page)
    # every call is still counted in the hexagons and the heat map
    assert sum(_hex_counts_drawn(m)) == n
    (heat,) = [c for c in m._children.values() if isinstance(c, folium.plugins.HeatMap)]
    assert 0 < len(heat.data) <= maps.MAX_HEAT_POINTS
    assert not heat.show
    # one cap more than the cap still draws points
    just_over = maps.analyst_map(incidents.iloc[: maps.MAX_CLUSTER_POINTS + 1], helsinki_net.walk)
    (points,) = [v for k, v in _js_layers(just_over).items() if k.startswith("Incident points")]
    assert len(points.data["rows"]) == maps.MAX_CLUSTER_POINTS


def test_point_data_is_cut_to_its_byte_budget_when_fields_are_very_long(
    helsinki_net: Any, tmp_path: Path
) -> None:
    n = maps.MAX_CLUSTER_POINTS
    incidents = _incidents_along(helsinki_net.walk, n, seed=12, long_fields=True)
    m = maps.analyst_map(incidents, helsinki_net.walk)
    out = maps.save_map(m, tmp_path / "long.html")
    assert out.stat().st_size <= 5_000_000
    (name,) = [k for k in _js_layers(m) if k.startswith("Incident points")]
    drawn = int(re.search(r"latest ([\d,]+) of", name).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert 1000 < drawn < n
    payload = maps._compact_json(_js_layers(m)[name].data)
    assert len(payload.encode()) <= maps.MAX_POINT_BYTES
    # the addresses are cut to POINT_FIELD_CHARS
    address = _js_layers(m)[name].data["rows"][0][6]
    assert len(html.unescape(address)) == maps.POINT_FIELD_CHARS


def test_calls_without_a_time_are_in_no_time_band(
    graph: nx.MultiDiGraph, hostile_incidents: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    incidents = hostile_incidents.copy()
    incidents.loc[[2, 5], "received_at"] = pd.NaT
    m = maps.analyst_map(incidents, graph)
    layers = _js_layers(m)
    hours = incidents["received_at"].dt.hour
    night = int(((hours >= 22) | (hours < 6)).sum())  # NaN hours compare False
    bands = {k: v for k, v in layers.items() if k.startswith("Calls ") and "hexagon" not in k}
    assert sorted(bands) == sorted(
        [
            f"Calls Day 06-14 ({int(((hours >= 6) & (hours < 14)).sum())})",
            f"Calls Evening 14-22 ({int(((hours >= 14) & (hours < 22)).sum())})",
            f"Calls Night 22-06 ({night})",
        ]
    )
    assert sum(sum(v.counts) for v in bands.values()) == len(incidents) - 2
    assert sum(_hex_counts_drawn(m)) == len(incidents)  # all calls are still counted
    page = maps.save_map(m, tmp_path / "nat.html").read_text(encoding="utf-8")
    assert "2 call(s) without a valid received time are in no time band." in _legend_text(page)
    # the untimed point's popup leaves its time out
    rows = {r[2]: r for r in layers["Incident points (10)"].data["rows"]}
    assert rows["C-2"][3] is None


def test_hdbscan_clusters_are_drawn_from_incidents_or_hotspots(
    graph: nx.MultiDiGraph, tmp_path: Path
) -> None:
    rng = np.random.default_rng(4)
    centres = np.array([[24.9410, 60.1705], [24.9450, 60.1715]])
    lonlat = np.vstack([c + rng.normal(0, 0.00012, size=(150, 2)) for c in centres])
    incidents = gpd.GeoDataFrame(
        {"category": ["noise"] * len(lonlat)},
        geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]),
        crs=4326,
    )
    polygons = maps.incident_clusters(incidents)
    assert polygons.crs is not None
    assert polygons.crs.is_projected
    assert len(polygons) == 2
    assert polygons["members"].sum() > 250
    m = maps.analyst_map(incidents, graph, clusters=polygons)
    (layer,) = [g for g in _geojson_layers(m) if g.layer_name == "clusters"]
    members = sorted(int(f["properties"]["members"]) for f in layer.data["features"])
    assert members == sorted(polygons["members"].tolist())
    # on a subsample, the legend says so
    sampled = maps.incident_clusters(incidents, max_points=100)
    assert sampled.attrs["subsampled"]
    page = maps.save_map(
        maps.analyst_map(incidents, graph, clusters=sampled), tmp_path / "c.html"
    ).read_text(encoding="utf-8")
    assert "Clusters were found on a sample of 100 of 300 calls." in _legend_text(page)
    # hotspots of the hdbscan method (unit_id, count) draw as clusters too
    as_hotspots = polygons.rename(columns={"cluster_id": "unit_id", "members": "count"})
    m = maps.analyst_map(incidents, graph, clusters=as_hotspots)
    (layer,) = [g for g in _geojson_layers(m) if g.layer_name == "clusters"]
    assert [f["properties"]["cluster"] for f in layer.data["features"]] == ["0", "1"]
    # and a public map draws none
    public = maps.analyst_map(incidents, graph, clusters=polygons, public=True)
    assert not [g for g in _geojson_layers(public) if g.layer_name == "clusters"]


def test_public_hotspots_respect_the_minimum_count(
    graph: nx.MultiDiGraph,
    hostile_incidents: gpd.GeoDataFrame,
    block_hotspots: gpd.GeoDataFrame,
    beats: gpd.GeoDataFrame,
) -> None:
    small = block_hotspots.copy()
    small.loc[1, "count"] = maps.PUBLIC_MIN_COUNT - 1
    for public in (False, True):
        for m in (
            maps.analyst_map(hostile_incidents, graph, hotspots=small, public=public),
            maps.supervisor_map(beats, graph, hotspots=small, public=public),
        ):
            layers = {g.layer_name: g for g in _geojson_layers(m)}
            counts = [f["properties"]["count"] for f in layers["hotspots"].data["features"]]
            assert counts == (["7"] if public else ["7", str(maps.PUBLIC_MIN_COUNT - 1)])


@pytest.fixture(scope="module")
def sample_geocoded(helsinki_net: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from cso_geo import pipeline  # noqa: PLC0415

    out = tmp_path_factory.mktemp("geo") / "geocoded.gpkg"
    repo = Path(__file__).resolve().parents[1]
    geocoded, _, _ = pipeline.geocode_file(
        repo / "data" / "helsinki_cad_2025.csv", out, network=helsinki_net, profile="cso_geo_sample"
    )
    return geocoded


def test_public_map_of_the_sample_city_leaks_no_address_or_location(
    helsinki_net: Any, sample_geocoded: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    from cso_geo import hotspots as hs  # noqa: PLC0415

    incidents = hs.select_incidents(sample_geocoded)
    found = hs.find_hotspots(incidents, hs.street_units(helsinki_net.walk))
    m = maps.analyst_map(sample_geocoded, helsinki_net.walk, hotspots=found, public=True)
    page = maps.save_map(m, tmp_path / "public.html").read_text(encoding="utf-8")
    lower = page.lower()
    street_names = {
        str(n).lower() for _, _, n in helsinki_net.walk.edges(data="name") if isinstance(n, str)
    }
    addresses = {a for a in sample_geocoded["address"].dropna().astype(str) if a.strip()}
    assert len(addresses) > 100
    checked_addresses = 0
    for address in addresses:
        # a bare street name is shown by the street basemap; anything more must not be
        if address.lower() in street_names:
            continue
        checked_addresses += 1
        # raw, or HTML-escaped as the page would hold it (`A & B` is `A &amp; B`)
        assert address.lower() not in lower, address
        assert html.escape(address).lower() not in lower, address
    assert checked_addresses > 100
    assert _page_points(page) == []
    # no incident coordinate appears, except where it is a vertex of a drawn street
    vertices = []
    for payload in re.findall(r"_add\((\{.*?\})\);", page, re.S):
        for f in json.loads(payload)["features"]:
            geom = shapely.from_geojson(json.dumps(f["geometry"]))
            vertices.append(shapely.get_coordinates(geom))
    tree = cKDTree(np.vstack(vertices))
    located = incidents.to_crs(4326)
    lonlat = np.column_stack([located.geometry.x, located.geometry.y])
    near_vertex = tree.query(lonlat)[0] < 1.5e-5  # basemap vertices have 5 decimals (~1 m)
    # every pair of numbers written "a, b" or "a,b" in the page (overlapping: "a, b, c"
    # gives two), compared as numbers at 5 and 6 decimals (JSON drops trailing zeros)
    found = re.findall(r"(?=(?<![\d.])(-?\d+\.\d+), ?(-?\d+\.\d+))", page)
    assert len(found) > 1000
    pairs = {(round(float(a), d), round(float(b), d)) for a, b in found for d in (5, 6)}
    checked = 0
    for lon, lat in lonlat[~near_vertex]:
        checked += 1
        for d in (5, 6):
            assert (round(lon, d), round(lat, d)) not in pairs
            assert (round(lat, d), round(lon, d)) not in pairs
    assert checked > 1000


@pytest.fixture(scope="module")
def beats(graph: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """Two beats splitting the block west/east, as the `beats` layer of a beats GeoPackage."""
    nodes = ox.convert.graph_to_gdfs(graph, edges=False)
    x0, y0, x1, y1 = nodes.total_bounds
    mid = (x0 + x1) / 2
    return gpd.GeoDataFrame(
        {
            "beat_id": [1, 2],
            "workload": [480.0, 960.0],
            "street_km": [1.2, 1.5],
            "units": [5, 6],
            "polsby_popper": [0.6, 0.55],
            "max_network_km": [0.8, 0.9],
            "contiguous": [True, True],
        },
        geometry=[
            shapely.box(x0 - 20, y0 - 20, mid, y1 + 20),
            shapely.box(mid, y0 - 20, x1 + 20, y1 + 20),
        ],
        crs=graph.graph["crs"],
    )


@pytest.fixture(scope="module")
def assignments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cso_id": [XSS_IMG, "CSO-7", "CSO-9"],
            "shift": ["08:00-16:00", "08:00-16:00", "16:00-24:00"],
            "mode": ["foot", "vehicle", "foot"],
            "beat_id": [1.0, 2.0, None],
            "expected_workload": [480.0, 960.0, 0.0],
            "skills": ["", "", ""],
            "status": ["assigned", "assigned", "unassigned"],
        }
    )


def test_supervisor_map_colours_beats_by_workload(
    graph: nx.MultiDiGraph,
    beats: gpd.GeoDataFrame,
    assignments: pd.DataFrame,
    block_hotspots: gpd.GeoDataFrame,
    tmp_path: Path,
) -> None:
    m = maps.supervisor_map(beats, graph, assignments=assignments, hotspots=block_hotspots)
    page = maps.save_map(m, tmp_path / "s.html").read_text(encoding="utf-8")
    assert maps.remote_references(page) == []
    assert XSS_IMG not in page
    layers = {g.layer_name: g for g in _geojson_layers(m)}
    props = [f["properties"] for f in layers["beats"].data["features"]]
    assert [p["beat"] for p in props] == ["1", "2"]
    assert [p["workload"] for p in props] == ["480 min", "960 min"]
    # lowest workload -> lightest class, highest -> darkest
    assert props[0]["_color"] == maps._WORKLOAD_COLORS[0]
    assert props[1]["_color"] == maps._WORKLOAD_COLORS[-1]
    assert props[0]["cso"] == html.escape(f"{XSS_IMG} (08:00-16:00, foot)")
    assert props[1]["cso"] == "CSO-7 (08:00-16:00, vehicle)"
    labels = layers["beat labels"].data["features"]
    assert len(labels) == 2
    assert "Beat 2<br>960 min<br>CSO-7" in labels[1]["properties"]["html"]
    assert len(layers["hotspots"].data["features"]) == 2
    public = maps.supervisor_map(beats, graph, assignments=assignments, public=True)
    public_page = maps.save_map(public, tmp_path / "sp.html").read_text(encoding="utf-8")
    assert "CSO-7" not in public_page


def test_supervisor_map_needs_the_beats_columns(beats: gpd.GeoDataFrame) -> None:
    with pytest.raises(maps.MapError, match="workload"):
        maps.supervisor_map(beats.drop(columns=["workload"]))


def test_supervisor_legend_when_every_beat_has_the_same_workload(
    graph: nx.MultiDiGraph, beats: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    equal = beats.assign(workload=[600.0, 600.0])
    m = maps.supervisor_map(equal, graph)
    layers = {g.layer_name: g for g in _geojson_layers(m)}
    colors = {f["properties"]["_color"] for f in layers["beats"].data["features"]}
    assert colors == {maps._WORKLOAD_COLORS[2]}  # a middle colour, not the busiest
    legend = _legend_text(maps.save_map(m, tmp_path / "eq.html").read_text(encoding="utf-8"))
    assert "All beats: 600 min" in legend
    assert "600-600" not in legend
    # workloads a few minutes apart get as many classes as there are minutes, all distinct
    colors_, level, entries = maps._workload_classes(np.array([480.0, 481.0, 483.0]))
    labels = [label for _, label in entries]
    assert labels == ["480-481 min", "481-482 min", "482-483 min"]
    assert level.tolist() == [0, 1, 2]
    assert len(set(colors_)) == 3
    _, level, entries = maps._workload_classes(np.array([480.0, 960.0, 720.0, 959.0]))
    assert entries[0][1] == "480-576 min"
    assert level.tolist() == [0, 4, 2, 4]


def test_public_supervisor_and_shift_maps_say_what_they_leave_out(
    graph: nx.MultiDiGraph,
    beats: gpd.GeoDataFrame,
    assignments: pd.DataFrame,
    block_hotspots: gpd.GeoDataFrame,
    route_dir: Path,
    tmp_path: Path,
) -> None:
    supervisor = maps.supervisor_map(
        beats, graph, assignments=assignments, hotspots=block_hotspots, public=True
    )
    legend = _legend_text(maps.save_map(supervisor, tmp_path / "s.html").read_text("utf-8"))
    assert "CSO names and assignments are not shown" in legend
    assert f"fewer than {maps.PUBLIC_MIN_COUNT} calls are not shown" in legend
    internal = maps.supervisor_map(beats, graph, assignments=assignments)
    assert "Public map" not in maps.save_map(internal, tmp_path / "si.html").read_text("utf-8")
    shift = maps.shift_map(route_dir, graph, public=True)
    legend = _legend_text(maps.save_map(shift, tmp_path / "r.html").read_text("utf-8"))
    assert "stop times, dwell times, reasons" in legend
    assert "only the path and the order of the stops" in legend


ROUTE_ID = "beat-1_2025-12-01_0800-1600_foot"


@pytest.fixture(scope="module")
def route_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A route as `cso-geo routes` writes it: GeoJSON + summary JSON, hostile texts."""
    folder = tmp_path_factory.mktemp("routes")
    path = [[24.9400, 60.1700], [24.9420, 60.1700], [24.9420, 60.1710], [24.9440, 60.1710]]
    stops = [
        ("start", 0, path[0], "08:00", "08:00", 0, "Mannerheimintie", ""),
        ("stop", 1, path[1], "08:05", "08:20", 15, XSS_IMG, f"Noise {XSS_SCRIPT}"),
        ("stop", 2, path[2], "08:25", "08:45", 20, "Kalevankatu", XSS_BACKTICK),
        ("end", 3, path[3], "08:50", "08:50", 0, "Kalevankatu", ""),
    ]
    features: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {"kind": "path", "route_id": ROUTE_ID, "beat_id": 1, "mode": "foot"},
            "geometry": {"type": "LineString", "coordinates": path},
        }
    ]
    stop_dicts = []
    for kind, seq, xy, arrive, depart, dwell, name, reason in stops:
        props = {
            "kind": kind,
            "seq": seq,
            "arrive": f"2025-12-01T{arrive}:00",
            "depart": f"2025-12-01T{depart}:00",
            "dwell_min": dwell,
            "hotspot_rank": seq or None,
            "name": name,
            "reason": reason,
            "top_call_types": "NOISE:4",
            "peak_hours": "22:00-23:00",
        }
        stop_dicts.append(props)
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Point", "coordinates": xy},
            }
        )
    (folder / f"{ROUTE_ID}.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features})
    )
    summary = {
        "route_id": ROUTE_ID,
        "beat_id": 1,
        "mode": "foot",
        "shift_start": "2025-12-01T08:00:00",
        "shift_end": "2025-12-01T16:00:00",
        "duration_min": 50,
        "travel_min": 15,
        "dwell_min": 35,
        "distance_km": 0.5,
        "stops": stop_dicts,
        "risk_covered": 0.4,
        "risk_available": 1.0,
        "feasible": True,
        "warnings": [f"late {XSS_IMG}"],
        "directions": [
            {
                "street": "Mannerheimintie",
                "distance_m": 111,
                "instruction": "Head east on Mannerheimintie",
            },
            {"street": XSS_IMG, "distance_m": 111, "instruction": f"Turn left onto {XSS_IMG}"},
        ],
    }
    (folder / f"{ROUTE_ID}.json").write_text(json.dumps(summary))
    return folder


def test_shift_map_numbers_stops_and_lists_directions(
    graph: nx.MultiDiGraph, route_dir: Path, tmp_path: Path
) -> None:
    m = maps.shift_map(route_dir, graph)  # a folder with exactly one route
    page = maps.save_map(m, tmp_path / "r.html").read_text(encoding="utf-8")
    assert maps.remote_references(page) == []
    for raw in (XSS_IMG, XSS_SCRIPT, "`);window"):
        assert raw not in page
    layers = {g.layer_name: g for g in _geojson_layers(m)}
    stops = [f["properties"] for f in layers["stops"].data["features"]]
    assert [s["label"] for s in stops] == ["Start", "Stop 1", "Stop 2", "End"]
    assert [s["arrive"] for s in stops] == ["08:00", "08:05", "08:25", "08:50"]
    assert [s["dwell"] for s in stops] == ["0", "15", "20", "0"]
    assert stops[1]["reason"] == html.escape(f"Noise {XSS_SCRIPT}")
    assert stops[1]["_html"] == '<div class="cso-geo-stop stop">1</div>'
    assert "cso-geo-stop start" in stops[0]["_html"]
    assert "cso-geo-stop end" in stops[3]["_html"]
    assert "Head east on Mannerheimintie (111 m)" in page
    assert f"Turn left onto {html.escape(XSS_IMG)}" in page
    assert "@media print" in page
    public = maps.shift_map(route_dir / f"{ROUTE_ID}.json", graph, public=True)
    public_page = maps.save_map(public, tmp_path / "rp.html").read_text(encoding="utf-8")
    assert "Noise" not in public_page
    assert "08:05" not in public_page
    # nor the shift's date and hours (in the route id), nor the directions
    assert ROUTE_ID not in public_page
    assert "2025-12-01" not in public_page
    assert "0800-1600" not in public_page
    assert "Head east on Mannerheimintie" not in public_page
    assert "Patrol route, beat 1" in public_page


def test_shift_map_refuses_a_folder_of_many_routes(route_dir: Path, tmp_path: Path) -> None:
    for f in route_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
        (tmp_path / f.name.replace("beat-1", "beat-2")).write_bytes(f.read_bytes())
    with pytest.raises(maps.InputFileError, match="2 route GeoJSON files"):
        maps.shift_map(tmp_path)


# --- the product maps in a real browser ----------------------------------------------------------


def _assert_clean(state: Any) -> None:
    assert state.blocked == []
    assert state.failed == []
    assert state.errors == []


def _assert_not_blank(
    page: Any, colour: str, min_share: float, *, opacity: float = 1.0, tol: int = 40
) -> None:
    """The map shows something: some background, and `colour` (drawn with `opacity` over
    the background) on a real share of the pixels."""
    rgb = png_rgb(page.screenshot(type="png"))
    assert background_share(rgb, BACKGROUND_RGB) > 0.05
    seen = np.multiply(hex_rgb(colour), opacity) + np.multiply(BACKGROUND_RGB, 1 - opacity)
    share = colour_share(rgb, tuple(int(c) for c in np.round(seen)), tol=tol)
    assert share > min_share, share


def _no_injection(page: Any, prop: str, raw: str) -> None:
    shown = page.evaluate(OPEN_FEATURE_POPUP, [prop, [html.escape(raw), _esc(raw)]])
    assert shown is not None, f"no popup with {prop}={raw!r}"
    assert raw in shown["text"]
    assert shown["elements"] == 0
    assert page.evaluate("typeof window.__xss") == "undefined"


def _overlay_checkbox(page: Any, name: str) -> Any:
    """The layer control's checkbox of the overlay whose label starts with `name`."""
    label = page.locator(".leaflet-control-layers-overlays label").filter(has_text=name)
    return label.first.locator("input")


def _esc(raw: str) -> str:
    return html.escape(raw).replace("`", "&#96;")


@pytest.mark.browser
def test_analyst_map_in_chromium(
    browser: Any,
    graph: nx.MultiDiGraph,
    hostile_incidents: gpd.GeoDataFrame,
    block_hotspots: gpd.GeoDataFrame,
    tmp_path: Path,
) -> None:
    m = maps.analyst_map(hostile_incidents, graph, hotspots=block_hotspots)
    out = maps.save_map(m, tmp_path / "a.html")
    hexes = {k: v for k, v in _js_layers(m).items() if k.startswith("Calls")}
    with offline_page(browser, out, viewport=VIEWPORT) as state:
        page = state.page
        page.wait_for_function("typeof window.L === 'object' && !!L.MarkerClusterGroup")
        assert page.evaluate("L.version") == "1.9.3"
        layers = leaflet_layers(page)
        assert "Hotspots: segment (2)" in layers
        assert "Incident points (10)" in layers
        assert "Calls per hexagon (10)" in layers
        assert any(name.startswith("Heat map (calls on") for name in layers)
        # the hexagons shown on opening are built, the hidden time bands only once shown
        for name, layer in hexes.items():
            built = page.evaluate(f"{layer.get_name()}.getLayers().length")
            assert built == (len(layer.counts) if layer.show else 0), name
        night = next(v for k, v in hexes.items() if k.startswith("Calls Night"))
        _overlay_checkbox(page, night.layer_name).check()
        assert page.evaluate(f"{night.get_name()}.getLayers().length") == len(night.counts)
        assert page.evaluate(
            f"{night.get_name()}.getLayers().map((h) => h.csoCount).reduce((a, b) => a + b, 0)"
        ) == sum(night.counts)
        _overlay_checkbox(page, night.layer_name).uncheck()
        # the heat map draws (offline, from the inlined Leaflet.heat) once switched on
        _overlay_checkbox(page, "Heat map").check()
        painted = page.wait_for_function(
            """() => { const c = document.querySelector('canvas.leaflet-heatmap-layer');
                if (!c) { return 0; }
                const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0; for (let i = 3; i < px.length; i += 4) { if (px[i] > 0) { n++; } }
                return n; }"""
        ).json_value()
        assert painted > 500, painted
        _overlay_checkbox(page, "Heat map").uncheck()
        # every incident is in the cluster group
        n = page.evaluate(
            """() => { const map = window[document.querySelector('.folium-map').id];
                let n = 0; map.eachLayer((l) => { if (l instanceof L.MarkerClusterGroup) {
                    n += l.getLayers().length; } }); return n; }"""
        )
        assert n == len(hostile_incidents)
        _assert_not_blank(page, maps.TREND_COLORS["intensifying"], 0.001)
        _no_injection(page, "name", XSS_IMG)
        # incident popups are built on click from the point data: C-0's address and call
        # type are hostile, C-1's call type tries to break out of a template literal
        for incident, expected in (
            ("C-0", [XSS_ADDR, XSS_CALL, "Received: 2025-11-01 01:15", "Category: noise"]),
            ("C-1", [XSS_BACKTICK, "Category: parking", "Received: 2025-11-02 04:15"]),
        ):
            shown = page.evaluate(OPEN_POINT_POPUP, incident)
            assert shown["lazy"]  # the popup's HTML is built on click, not stored per marker
            for text in expected:
                assert text in shown["text"], (text, shown["text"])
            assert shown["elements"] == 0
            assert page.evaluate("typeof window.__xss") == "undefined"
        assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    _assert_clean(state)


@pytest.mark.browser
def test_supervisor_map_in_chromium(
    browser: Any,
    graph: nx.MultiDiGraph,
    beats: gpd.GeoDataFrame,
    assignments: pd.DataFrame,
    block_hotspots: gpd.GeoDataFrame,
    tmp_path: Path,
) -> None:
    out = maps.save_map(
        maps.supervisor_map(beats, graph, assignments=assignments, hotspots=block_hotspots),
        tmp_path / "s.html",
    )
    with offline_page(browser, out, viewport=VIEWPORT) as state:
        page = state.page
        page.wait_for_selector(".cso-geo-label")
        assert page.evaluate("L.version") == "1.9.3"
        assert "Beats by workload (2)" in leaflet_layers(page)
        labels = page.eval_on_selector_all(".cso-geo-label", "(e) => e.map((x) => x.innerText)")
        assert len(labels) == 2
        assert "Beat 1" in labels[0]
        assert XSS_IMG in labels[0]  # shown as text
        assert "960 min" in labels[1]
        assert page.evaluate("document.querySelectorAll('.cso-geo-label img').length") == 0
        _assert_not_blank(page, maps._WORKLOAD_COLORS[-1], 0.05, opacity=0.55, tol=12)
        _no_injection(page, "cso", f"{XSS_IMG} (08:00-16:00, foot)")
        _no_injection(page, "name", XSS_IMG)
    _assert_clean(state)


@pytest.mark.browser
def test_shift_map_in_chromium(
    browser: Any, graph: nx.MultiDiGraph, route_dir: Path, tmp_path: Path
) -> None:
    out = maps.save_map(maps.shift_map(route_dir, graph), tmp_path / "r.html")
    with offline_page(browser, out, viewport=VIEWPORT) as state:
        page = state.page
        page.wait_for_selector(".cso-geo-stop")
        assert page.evaluate("L.version") == "1.9.3"
        numbers = page.eval_on_selector_all(".cso-geo-stop", "(e) => e.map((x) => x.innerText)")
        assert numbers == ["S", "1", "2", "E"]
        panel = page.inner_text("#cso-geo-panel")
        assert ROUTE_ID in panel
        assert XSS_IMG in panel
        assert "Head east on Mannerheimintie (111 m)" in panel
        assert page.evaluate("document.querySelectorAll('#cso-geo-panel img').length") == 0
        _assert_not_blank(page, "#2b6cb0", 0.001)
        # click stop 1 as a user would: its popup shows the hostile street and reason as text
        page.click(".cso-geo-stop >> text='1'")
        popup = page.wait_for_selector(".leaflet-popup-content")
        text = popup.inner_text()
        assert XSS_IMG in text
        assert XSS_SCRIPT in text
        assert "08:05" in text
        assert page.evaluate("typeof window.__xss") == "undefined"
        _no_injection(page, "reason", XSS_BACKTICK)
        # printing hides the layer control and keeps the panel
        page.emulate_media(media="print")
        assert (
            page.eval_on_selector(".leaflet-control-layers", "(e) => getComputedStyle(e).display")
            == "none"
        )
        assert page.eval_on_selector("#cso-geo-panel", "(e) => getComputedStyle(e).display") != (
            "none"
        )
    _assert_clean(state)


# --- the `cso-geo map` commands ------------------------------------------------------------------


def test_map_cli_draws_the_three_maps(
    graph: nx.MultiDiGraph,
    beats: gpd.GeoDataFrame,
    assignments: pd.DataFrame,
    block_hotspots: gpd.GeoDataFrame,
    hostile_incidents: gpd.GeoDataFrame,
    route_dir: Path,
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415

    from cso_geo.cli import app  # noqa: PLC0415

    beats.to_file(tmp_path / "beats.gpkg", layer="beats", driver="GPKG")
    block_hotspots.to_file(tmp_path / "hot.gpkg", layer="hotspots", driver="GPKG")
    assignments.to_csv(tmp_path / "assignments.csv", index=False)
    hostile_incidents.to_crs(graph.graph["crs"]).to_file(tmp_path / "geo.gpkg", driver="GPKG")
    runner = CliRunner()
    cases = {
        "analyst": [
            "analyst",
            str(tmp_path / "geo.gpkg"),
            "--hotspots",
            str(tmp_path / "hot.gpkg"),
        ],
        "supervisor": [
            "supervisor",
            "--beats",
            str(tmp_path / "beats.gpkg"),
            "--assignments",
            str(tmp_path / "assignments.csv"),
        ],
        "shift": ["shift", "--route", str(route_dir)],
    }
    for kind, args in cases.items():
        out = tmp_path / f"{kind}.html"
        result = runner.invoke(app, ["map", *args, "--out", str(out), "--public"])
        assert result.exit_code == 0, result.output
        assert f"{kind} map written to" in result.output
        page = out.read_text(encoding="utf-8")
        assert maps.remote_references(page) == []
        assert XSS_IMG not in page
    supervisor = (tmp_path / "supervisor.html").read_text(encoding="utf-8")
    assert "CSO-7" not in supervisor  # --public leaves out who patrols where
    online = tmp_path / "online.html"
    result = runner.invoke(app, ["map", *cases["shift"], "--out", str(online), "--online"])
    assert result.exit_code == 0, result.output
    assert "tile.openstreetmap.org" in online.read_text(encoding="utf-8")
    bad = runner.invoke(app, ["map", "shift", "--route", str(tmp_path / "nope"), "--out", "x.html"])
    assert bad.exit_code == 2
    assert "does not exist" in " ".join(bad.output.split())


def test_map_cli_analyst_draws_the_clusters_of_hdbscan_hotspots(
    graph: nx.MultiDiGraph,
    block_hotspots: gpd.GeoDataFrame,
    hostile_incidents: gpd.GeoDataFrame,
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415

    from cso_geo.cli import app  # noqa: PLC0415

    hdb = block_hotspots.assign(method="hdbscan", unit_id=[0, 1])
    hdb = hdb.set_geometry(hdb.geometry.buffer(20.0))
    hdb.to_file(tmp_path / "hot.gpkg", layer="hotspots", driver="GPKG")
    hostile_incidents.to_crs(graph.graph["crs"]).to_file(tmp_path / "geo.gpkg", driver="GPKG")
    pages = {}
    for flag in ("--public", "--offline"):
        out = tmp_path / f"analyst{flag}.html"
        args = ["map", "analyst", str(tmp_path / "geo.gpkg"), "--hotspots"]
        result = CliRunner().invoke(
            app, [*args, str(tmp_path / "hot.gpkg"), "--out", str(out), flag]
        )
        assert result.exit_code == 0, result.output
        pages[flag] = out.read_text(encoding="utf-8")
    assert '"HDBSCAN clusters (2)"' in pages["--offline"]
    assert "HDBSCAN clusters" not in pages["--public"]
    assert XSS_IMG not in pages["--offline"]
