"""Street networks: topology, one-ways, speeds, cache, and every error case."""

from __future__ import annotations

import bz2
import json
import logging
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import osmnx as ox
import pytest
import shapely

from cso_geo import datasets, network, settings
from cso_geo._errors import (
    BoundingBoxError,
    CacheError,
    EmptyNetworkError,
    InputFileError,
    InputFileNotFoundError,
)

# Erottajankatu in central Helsinki: one OSM way tagged oneway=yes, maxspeed=30.
ONEWAY_WAY = 4236349


def _edges_of_way(G: nx.MultiDiGraph, way: int) -> list[tuple[int, int, dict[str, object]]]:
    out = []
    for u, v, d in G.edges(data=True):
        ids = d["osmid"] if isinstance(d["osmid"], list) else [d["osmid"]]
        if way in ids:
            out.append((u, v, d))
    return out


# --------------------------------------------------------------------------- #
# topology and attributes
# --------------------------------------------------------------------------- #
def test_graphs_are_connected_and_projected(helsinki_net: network.StreetNetwork) -> None:
    walk, drive = helsinki_net.walk, helsinki_net.drive
    assert nx.is_weakly_connected(walk)
    assert nx.is_strongly_connected(drive)
    assert walk.graph["crs"] == drive.graph["crs"] == "EPSG:32635"  # UTM 35N
    xs = np.array([d["x"] for _, d in walk.nodes(data=True)])
    ys = np.array([d["y"] for _, d in walk.nodes(data=True)])
    # central Helsinki lies around 385 km east, 6672 km north in UTM 35N
    assert 380_000 < xs.min() < xs.max() < 392_000
    assert 6_668_000 < ys.min() < ys.max() < 6_676_000
    assert walk.number_of_nodes() > drive.number_of_nodes() > 100


def test_every_edge_has_geometry_length_and_speeds(helsinki_net: network.StreetNetwork) -> None:
    for G in (helsinki_net.walk, helsinki_net.drive):
        length = np.array([d["length"] for *_, d in G.edges(data=True)])
        speed = np.array([d["speed_kph"] for *_, d in G.edges(data=True)])
        tt = np.array([d["travel_time"] for *_, d in G.edges(data=True)])
        geom_len = np.array([d["geometry"].length for *_, d in G.edges(data=True)])
        assert (length > 0).all()
        # travel_time = length / speed, in seconds
        np.testing.assert_allclose(tt, length / (speed / 3.6), rtol=1e-3, atol=0.051)
        # great-circle length and planar UTM length agree to a fraction of a percent
        np.testing.assert_allclose(geom_len, length, rtol=5e-3, atol=0.5)
    walk_speeds = {d["speed_kph"] for *_, d in helsinki_net.walk.edges(data=True)}
    assert walk_speeds == {settings.walk_speed_kph}


def test_oneway_streets_in_drive_not_in_walk(helsinki_net: network.StreetNetwork) -> None:
    drive_edges = _edges_of_way(helsinki_net.drive, ONEWAY_WAY)
    walk_edges = _edges_of_way(helsinki_net.walk, ONEWAY_WAY)
    assert drive_edges, "the one-way street is in the drive graph"
    pairs = {(u, v) for u, v, _ in drive_edges}
    for u, v, d in drive_edges:
        assert d["oneway"] is True
        assert (v, u) not in pairs  # never drivable against the one-way
        assert d["speed_kph"] == float(d["maxspeed"])  # its maxspeed tag (30 or 40 km/h)
    walk_pairs = {(u, v) for u, v, _ in walk_edges}
    assert walk_pairs == {(v, u) for u, v in walk_pairs}  # walkable both ways
    assert all(d["oneway"] is False for *_, d in helsinki_net.walk.edges(data=True))

    n_oneway = sum(1 for *_, d in helsinki_net.drive.edges(data=True) if d["oneway"])
    assert n_oneway > 50
    # every two-way drive edge has its reverse twin, every one-way edge has none
    for u, v, d in helsinki_net.drive.edges(data=True):
        twins = [
            e
            for e in helsinki_net.drive.get_edge_data(v, u, default={}).values()
            if np.isclose(e["length"], d["length"]) and e["osmid"] == d["osmid"]
        ]
        assert bool(twins) is (not d["oneway"])


def _filtered_xml(src: Path, dst: Path, network_type: str) -> None:
    """Write the ways osmnx would download for `network_type` as OSM XML."""
    keep = network.compile_way_filter(settings.way_filters[network_type])
    nodes: dict[int, tuple[float, float]] = {}
    ways = []
    for obj in (
        osmium.FileProcessor(str(src))
        .with_locations()
        .with_filter(osmium.filter.KeyFilter("highway"))
    ):
        if not obj.is_way() or not keep(dict(obj.tags)):
            continue
        refs = [n.ref for n in obj.nodes if n.location.valid()]
        for n in obj.nodes:
            if n.location.valid():
                nodes[n.ref] = (n.lon, n.lat)
        if len(refs) >= 2:
            ways.append(osmium.osm.mutable.Way(id=obj.id, nodes=refs, tags=dict(obj.tags)))
    with osmium.SimpleWriter(str(dst)) as writer:
        for nid in sorted(nodes):
            writer.add_node(osmium.osm.mutable.Node(id=nid, location=nodes[nid]))
        for way in ways:
            writer.add_way(way)


def test_same_topology_as_osmnx(helsinki_net: network.StreetNetwork, tmp_path: Path) -> None:
    """Our direct build equals osmnx's build-then-simplify on the same ways."""
    src = datasets.get_path("helsinki")
    xml = tmp_path / "walk.osm"
    _filtered_xml(src, xml, "walk")
    G = ox.graph_from_xml(xml, bidirectional=True, simplify=False, retain_all=False)
    G = ox.simplify_graph(G, edge_attrs_differ=["highway", "name"])
    ours = helsinki_net.walk
    assert set(G.nodes) == set(ours.nodes)
    assert G.number_of_edges() == ours.number_of_edges()
    total_ox = sum(d["length"] for *_, d in G.edges(data=True))
    total_ours = sum(d["length"] for *_, d in ours.edges(data=True))
    assert total_ours == pytest.approx(total_ox, rel=1e-9)

    xml = tmp_path / "drive.osm"
    _filtered_xml(src, xml, "drive")
    G = ox.graph_from_xml(xml, bidirectional=False, simplify=False, retain_all=True)
    G = ox.truncate.largest_component(G, strongly=True)
    G = ox.simplify_graph(G, edge_attrs_differ=["highway", "name"])
    ours = helsinki_net.drive
    # the same streets, metre for metre; we keep a handful more nodes where a
    # one-way way meets a two-way one
    total_ox = sum(d["length"] for *_, d in G.edges(data=True))
    total_ours = sum(d["length"] for *_, d in ours.edges(data=True))
    assert total_ours == pytest.approx(total_ox, rel=1e-9)
    assert set(G.nodes) <= set(ours.nodes)
    assert ours.number_of_nodes() - G.number_of_nodes() <= 0.05 * G.number_of_nodes()


def test_summary_counts_km_once_per_street(helsinki_net: network.StreetNetwork) -> None:
    s = helsinki_net.summary()
    walk_len = sum(d["length"] for *_, d in helsinki_net.walk.edges(data=True))
    # every walk edge is stored in both directions, so street km is half the edge total
    assert s["walk"]["street_km"] == pytest.approx(walk_len / 2000, abs=5e-4)
    assert 0 < s["drive"]["street_km"] < s["walk"]["street_km"]
    assert s["address_points"] == len(helsinki_net.addresses) > 1000


def test_addresses_and_places_are_projected(helsinki_net: network.StreetNetwork) -> None:
    addr = helsinki_net.addresses
    assert addr.crs == "EPSG:32635"
    assert {"housenumber", "street", "lon", "lat"} <= set(addr.columns)
    assert addr["street"].str.len().min() > 0
    assert (addr["lon"].between(24.8, 25.1) & addr["lat"].between(60.1, 60.25)).all()
    assert len(helsinki_net.places) > 100


def test_maxspeed_parsing(helsinki_net: network.StreetNetwork) -> None:
    assert network.parse_maxspeed("50") == 50.0
    assert network.parse_maxspeed("25 mph") == pytest.approx(40.2336)
    assert network.parse_maxspeed("30;50") == 40.0
    assert network.parse_maxspeed(["30", "40"]) == 35.0
    assert network.parse_maxspeed("FI:urban") is None
    assert network.parse_maxspeed("none") is None
    tagged = [d for *_, d in helsinki_net.drive.edges(data=True) if "maxspeed" in d]
    assert len(tagged) > 100
    for d in tagged:
        expected = network.parse_maxspeed(d["maxspeed"])
        if expected is not None:
            assert d["speed_kph"] == expected


def test_speed_settings_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(settings, "walk_speed_kph", 3.6)
    monkeypatch.setattr(settings, "default_speeds_kph", {"residential": 18.0})
    monkeypatch.setattr(settings, "fallback_speed_kph", 36.0)
    net = network.network_from_file("helsinki", cache_folder=tmp_path)
    for *_, d in net.walk.edges(data=True):
        assert d["travel_time"] == pytest.approx(d["length"], rel=1e-3, abs=0.051)
    for *_, d in net.drive.edges(data=True):
        if "maxspeed" not in d:
            expected = 18.0 if d["highway"] == "residential" else 36.0
            assert d["speed_kph"] == expected


# --------------------------------------------------------------------------- #
# formats
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("suffix", [".osm", ".osm.bz2"])
def test_xml_and_bz2_give_the_same_graphs(
    helsinki_net: network.StreetNetwork, tmp_path: Path, suffix: str
) -> None:
    xml = tmp_path / "helsinki.osm"
    with osmium.SimpleWriter(str(xml)) as writer:
        for obj in osmium.FileProcessor(str(datasets.get_path("helsinki"))):
            writer.add(obj)
    path = xml
    if suffix == ".osm.bz2":
        path = tmp_path / "helsinki.osm.bz2"
        path.write_bytes(bz2.compress(xml.read_bytes()))
    net = network.network_from_file(path, use_cache=False)
    for name in ("walk", "drive"):
        a, b = getattr(net, name), getattr(helsinki_net, name)
        assert (a.number_of_nodes(), a.number_of_edges()) == (
            b.number_of_nodes(),
            b.number_of_edges(),
        )


def test_baltimore_pbf(shared_data: Path) -> None:
    net = network.network_from_file(shared_data / "baltimore.osm.pbf", use_cache=False)
    assert net.crs == "EPSG:32618"  # UTM 18N
    assert nx.is_strongly_connected(net.drive)
    s = net.summary()
    assert s["drive"]["oneway_edges"] > 500  # downtown Baltimore's one-way grid
    assert s["walk"]["street_km"] > s["drive"]["street_km"] > 100


# --------------------------------------------------------------------------- #
# cache
# --------------------------------------------------------------------------- #
def test_cache_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = network.network_from_file("helsinki", cache_folder=tmp_path)
    (cache_dir,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    manifest = json.loads((cache_dir / "manifest.json").read_text())
    assert manifest["key"] == first.key

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(network, "read_osm", boom)
    second = network.network_from_file("helsinki", cache_folder=tmp_path)
    for name in ("walk", "drive"):
        a, b = getattr(first, name), getattr(second, name)
        assert set(a.edges(keys=True)) == set(b.edges(keys=True))
        for u, v, k, d in a.edges(keys=True, data=True):
            e = b.edges[u, v, k]
            assert e["osmid"] == d["osmid"]
            assert e["length"] == pytest.approx(d["length"])
            assert e["travel_time"] == pytest.approx(d["travel_time"])
            assert shapely.equals_exact(e["geometry"], d["geometry"], tolerance=1e-6)
    assert len(second.addresses) == len(first.addresses)


def test_corrupt_cache_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    network.network_from_file("helsinki", cache_folder=tmp_path)
    (cache_dir,) = list(tmp_path.iterdir())
    gpkg = cache_dir / "network.gpkg"
    data = bytearray(gpkg.read_bytes())
    data[len(data) // 2] ^= 0xFF
    gpkg.write_bytes(bytes(data))
    with pytest.raises(CacheError, match="corrupt"):
        network.load_network(cache_dir)
    with caplog.at_level(logging.WARNING, logger="cso_geo.network"):
        net = network.network_from_file("helsinki", cache_folder=tmp_path)
    assert "rebuilding" in caplog.text
    assert nx.is_strongly_connected(net.drive)
    network.load_network(cache_dir)  # the rebuilt cache is sound again


def test_stale_cache_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    net = network.network_from_file("helsinki", cache_folder=tmp_path)
    (cache_dir,) = list(tmp_path.iterdir())
    with pytest.raises(CacheError, match="stale"):
        network.load_network(cache_dir, expect_key="0" * 64)
    # changing a setting that shapes the graphs changes the key
    monkeypatch.setattr(settings, "walk_speed_kph", 4.0)
    net2 = network.network_from_file("helsinki", cache_folder=tmp_path)
    assert net2.key != net.key
    assert {d["speed_kph"] for *_, d in net2.walk.edges(data=True)} == {4.0}
    assert len(list(tmp_path.iterdir())) == 2


def test_missing_manifest_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    with pytest.raises(CacheError, match="manifest"):
        network.load_network(tmp_path / "net")
    with pytest.raises(InputFileNotFoundError, match="does not exist"):
        network.load_network(tmp_path / "nowhere")


# --------------------------------------------------------------------------- #
# errors
# --------------------------------------------------------------------------- #
def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.osm.pbf"
    with pytest.raises(InputFileNotFoundError, match=r"nowhere\.osm\.pbf.*does not exist"):
        network.network_from_file(missing)


def test_corrupt_pbf(tmp_path: Path) -> None:
    bad = tmp_path / "broken.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot really a pbf file at all" * 10)
    with pytest.raises(InputFileError, match=r"broken\.osm\.pbf.*corrupt"):
        network.network_from_file(bad, use_cache=False)


def test_truncated_pbf(tmp_path: Path) -> None:
    data = datasets.get_path("helsinki").read_bytes()
    bad = tmp_path / "half.osm.pbf"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="corrupt"):
        network.network_from_file(bad, use_cache=False)


def test_not_an_osm_file(tmp_path: Path) -> None:
    csv = tmp_path / "calls.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError, match="does not look like an OSM file"):
        network.network_from_file(csv)


def _write_osm(path: Path, ways: list[dict[str, str]]) -> None:
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", "<osm version='0.6'>"]
    for i in range(3 * len(ways) + 3):
        lines.append(f"<node id='{i + 1}' lat='{60.17 + i * 1e-3}' lon='{24.94 + i * 1e-3}'/>")
    for j, tags in enumerate(ways):
        lines.append(f"<way id='{100 + j}'>")
        lines += [f"<nd ref='{3 * j + k + 1}'/>" for k in range(3)]
        lines += [f"<tag k='{k}' v='{v}'/>" for k, v in tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines))


def test_area_with_no_streets(tmp_path: Path) -> None:
    osm = tmp_path / "buildings.osm"
    _write_osm(osm, [{"building": "yes", "name": "Library"}])
    with pytest.raises(EmptyNetworkError, match="no highway ways"):
        network.network_from_file(osm, use_cache=False)


def test_area_with_no_drivable_streets(tmp_path: Path) -> None:
    osm = tmp_path / "park.osm"
    _write_osm(osm, [{"highway": "footway"}, {"highway": "path", "name": "Trail"}])
    with pytest.raises(EmptyNetworkError, match="no drive streets"):
        network.network_from_file(osm, use_cache=False)


@pytest.mark.parametrize(
    ("bbox", "match"),
    [
        ((24.96, 60.15, 24.92, 60.18), "wrong order"),  # west > east
        ((24.92, 60.18, 24.96, 60.15), "wrong order"),  # south > north
        ((385000, 6670000, 387000, 6672000), "not in degrees"),  # UTM metres
        ((24.92, 60.15, 24.96), "4 numbers"),
    ],
)
def test_bad_bbox(bbox: tuple[float, ...], match: str) -> None:
    with pytest.raises(BoundingBoxError, match=match):
        network.check_bbox(bbox)
    with pytest.raises(BoundingBoxError, match=match):
        network.network_from_place(bbox=bbox, use_cache=False)  # fails before any download


# --------------------------------------------------------------------------- #
# online: recorded osmnx responses, and a real download behind the `web` marker
# --------------------------------------------------------------------------- #
def test_place_download_is_post_processed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--place` goes through osmnx; here osmnx answers from a recorded extract."""
    src = datasets.get_path("helsinki")
    recorded = {}
    for network_type, bidirectional in (("walk", True), ("drive", False)):
        xml = tmp_path / f"{network_type}.osm"
        _filtered_xml(src, xml, network_type)
        recorded[network_type] = ox.graph_from_xml(xml, bidirectional=bidirectional)
    calls: list[tuple[str, str]] = []

    def fake_graph_from_place(query: str, *, network_type: str, **kw: object) -> nx.MultiDiGraph:
        calls.append((query, network_type))
        return recorded[network_type].copy()

    def fake_features(query: str, tags: dict[str, object]) -> object:
        raise ox._errors.InsufficientResponseError("no addresses recorded")

    monkeypatch.setattr(ox, "graph_from_place", fake_graph_from_place)
    monkeypatch.setattr(ox, "features_from_place", fake_features)
    net = network.network_from_place("Kamppi, Helsinki", cache_folder=tmp_path / "cache")
    assert calls == [("Kamppi, Helsinki", "walk"), ("Kamppi, Helsinki", "drive")]
    assert net.crs == "EPSG:32635"
    assert nx.is_strongly_connected(net.drive)
    for G in (net.walk, net.drive):
        assert all("geometry" in d and d["travel_time"] > 0 for *_, d in G.edges(data=True))
    assert net.addresses.empty
    # the second call is served from the cache, with no download
    monkeypatch.setattr(ox, "graph_from_place", None)
    again = network.network_from_place("Kamppi, Helsinki", cache_folder=tmp_path / "cache")
    assert again.drive.number_of_edges() == net.drive.number_of_edges()
    # osmnx's list-valued attributes of merged ways survive the GeoPackage cache
    merged = {
        (u, v, k): d["highway"]
        for u, v, k, d in net.walk.edges(keys=True, data=True)
        if isinstance(d.get("highway"), list)
    }
    assert merged
    for (u, v, k), highway in merged.items():
        assert again.walk.edges[u, v, k]["highway"] == highway


@pytest.mark.web
def test_real_place_download(tmp_path: Path) -> None:
    net = network.network_from_place("Kamppi, Helsinki, Finland", cache_folder=tmp_path)
    assert net.crs == "EPSG:32635"
    assert net.drive.number_of_edges() > 50


# --------------------------------------------------------------------------- #
# the Overpass-style filter
# --------------------------------------------------------------------------- #
def test_way_filter_semantics() -> None:
    f = network.compile_way_filter('["highway"]["service"!~"private|parking"]["area"!="yes"]')
    assert f({"highway": "residential"})
    assert not f({"name": "x"})  # no highway tag
    assert not f({"highway": "service", "service": "parking_aisle"})  # regex matches anywhere
    assert f({"highway": "service", "service": "alley"})
    assert not f({"highway": "pedestrian", "area": "yes"})
    g = network.compile_way_filter('["highway"~"^(primary|secondary)$"]["lanes"="2"]')
    assert g({"highway": "primary", "lanes": "2"})
    assert not g({"highway": "primary_link", "lanes": "2"})
    assert not g({"highway": "primary"})
    with pytest.raises(ValueError, match="Cannot read way filter"):
        network.compile_way_filter('["highway"] garbage')


def test_save_never_deletes_a_foreign_folder(
    helsinki_net: network.StreetNetwork, tmp_path: Path
) -> None:
    mine = tmp_path / "mydocs"
    mine.mkdir()
    (mine / "thesis.txt").write_text("precious")
    with pytest.raises(InputFileError, match="not a network folder"):
        network.save_network(helsinki_net, mine)
    assert (mine / "thesis.txt").read_text() == "precious"
    # an empty folder, or a network written before, is fine to (re)write
    empty = tmp_path / "empty"
    empty.mkdir()
    network.save_network(helsinki_net, empty)
    network.save_network(helsinki_net, empty)
    assert network.load_network(empty).drive.number_of_edges() == (
        helsinki_net.drive.number_of_edges()
    )


def test_bbox_with_nan_is_refused() -> None:
    with pytest.raises(BoundingBoxError, match="not a number"):
        network.check_bbox((float("nan"), 60.15, 24.96, 60.18))
