"""Tests of cso_geo.maps: offline overview maps of a street network."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pytest
from _browser import hex_rgb, offline_page, png_rgb
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
        pytest.param(lambda: folium.CircleMarker([60.17, 24.94], popup="hi"), id="popup"),
    ],
)
def test_offline_refuses_elements_needing_dropped_libraries(
    graph: nx.MultiDiGraph, tmp_path: Path, element: Any
) -> None:
    m = maps.overview_map(graph)
    element().add_to(m)
    with pytest.raises(maps.OfflineMapError):
        maps.save_map(m, tmp_path / "m.html")


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
