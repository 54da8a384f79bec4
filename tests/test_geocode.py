"""The offline CAD geocoder: address forms, placement methods, accuracy on known truth."""

from __future__ import annotations

import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cso_geo import geocode as gc
from cso_geo import network
from cso_geo._errors import InputFileError
from cso_geo.datasets import synthetic

REPO = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- #
# a small hand-made town with known answers (coordinates in metres from an origin)
# --------------------------------------------------------------------------- #
LAT0, LON0 = 40.0, -75.0
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))

NODES = {
    "O0": (0, 0), "O1": (100, 0), "O2": (200, 0), "O3": (300, 0), "O4": (400, 0),
    "L0": (200, -200), "L1": (200, -100), "L3": (200, 100), "L4": (200, 200),
    "NM1": (0, 100), "NM2": (0, 200), "SM0": (0, -200), "SM1": (0, -100),
    "J2": (400, 200),
    "M1": (300, -200), "M2": (400, -200), "M3": (500, -200),
    "T1": (300, -300), "T2": (400, -300), "T3": (500, -300),
    "E0": (500, -100), "E1": (600, -100), "P0": (610, -100), "P1": (700, -100),
}  # fmt: skip
WAYS = [
    ("Oak Street", ["O0", "O1", "O2", "O3", "O4"], {}),
    ("Laguna Street", ["L0", "L1", "O2", "L3", "L4"], {}),
    ("North Main Street", ["O0", "NM1", "NM2"], {}),
    ("South Main Street", ["SM0", "SM1", "O0"], {}),
    ("José Martí Avenue", ["NM2", "L4", "J2"], {"alt_name": "Old Harbor Road"}),
    ("Market Street", ["L0", "M1", "M2", "M3"], {}),
    ("34th Street", ["M1", "T1"], {}),
    ("35th Street", ["M2", "T2"], {}),
    ("36th Street", ["M3", "T3"], {}),
    ("Elm Street", ["E0", "E1"], {}),
    (None, ["E1", "P0"], {"highway": "service"}),  # a 10 m unnamed connector
    ("Pine Street", ["P0", "P1"], {}),
    (None, ["O4", "E0"], {}),  # keeps the town in one piece
]
ADDRESSES = [("102", "Oak Street", (50, 10)), ("140", "Oak Street", (150, 10)),
             ("160", "Oak Street", (250, 10)), ("198", "Oak Street", (350, 10)),
             ("5", "Laguna Street", (210, -150))]  # fmt: skip


def _lonlat(x: float, y: float) -> tuple[float, float]:
    return LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT


def _write_town(path: Path) -> None:
    ids = {name: i + 1 for i, name in enumerate(NODES)}
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", "<osm version='0.6'>"]
    for name, (x, y) in NODES.items():
        lon, lat = _lonlat(x, y)
        lines.append(f"<node id='{ids[name]}' lat='{lat:.8f}' lon='{lon:.8f}'/>")
    nid = 1000
    for number, street, (x, y) in ADDRESSES:
        lon, lat = _lonlat(x, y)
        nid += 1
        lines.append(f"<node id='{nid}' lat='{lat:.8f}' lon='{lon:.8f}'>")
        lines.append(f"<tag k='addr:housenumber' v='{number}'/><tag k='addr:street' v='{street}'/>")
        lines.append("</node>")
    lon, lat = _lonlat(100, 150)
    lines.append(f"<node id='2000' lat='{lat:.8f}' lon='{lon:.8f}'>")
    lines.append("<tag k='amenity' v='townhall'/><tag k='name' v='City Hall'/></node>")
    for w, (name, refs, tags) in enumerate(WAYS):
        lines.append(f"<way id='{500 + w}'>")
        lines += [f"<nd ref='{ids[r]}'/>" for r in refs]
        all_tags = {"highway": "residential", **({"name": name} if name else {}), **tags}
        lines += [f"<tag k='{k}' v='{v}'/>" for k, v in all_tags.items()]
        lines.append("</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> network.StreetNetwork:
    path = tmp_path_factory.mktemp("town") / "town.osm"
    _write_town(path)
    return network.network_from_file(path, use_cache=False)


@pytest.fixture(scope="module")
def town_index(town: network.StreetNetwork) -> gc.GeocodeIndex:
    return gc.GeocodeIndex.from_network(town)


def _local(index: gc.GeocodeIndex, m: gc.Match) -> tuple[float, float]:
    """A match's position in the town's metres."""
    lon, lat = (
        gpd.GeoSeries([shapely.Point(m.x, m.y)], crs=index.crs_).to_crs(4326).iloc[0].coords[0]
    )
    return (lon - LON0) * M_PER_DEG_LON, (lat - LAT0) * M_PER_DEG_LAT


def _at(index: gc.GeocodeIndex, text: str) -> tuple[gc.Match, tuple[float, float]]:
    m = index.locate(gc.parse_address(text))
    return m, _local(index, m)


# --------------------------------------------------------------------------- #
# parsing
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("text", "form", "street", "cross", "number", "width"),
    [
        ("123 MAIN ST", "address", "MAIN ST", "", 123, 0),
        ("123 MAIN ST APT 4", "address", "MAIN ST", "", 123, 0),
        ("2209 E PRATT ST #18", "address", "E PRATT ST", "", 2209, 0),
        ("12-14 Yrjönkatu", "address", "YRJONKATU", "", 12, 0),
        ("7 A Erottajankatu", "address", "EROTTAJANKATU", "", 7, 0),
        ("800 BLOCK OF BRYANT ST", "block", "BRYANT ST", "", 800, 100),
        ("800 Block of BRYANT ST", "block", "BRYANT ST", "", 800, 100),
        ("800 BLK BRYANT", "block", "BRYANT", "", 800, 100),
        ("8XX BRYANT", "block", "BRYANT", "", 800, 100),
        ("2X MANNERHEIMINTIE", "block", "MANNERHEIMINTIE", "", 20, 10),
        ("20 BLOCK OF UNIONINKATU", "block", "UNIONINKATU", "", 20, 0),
        ("OAK ST / LAGUNA ST", "intersection", "OAK ST", "LAGUNA ST", -1, 0),
        ("OAK ST & LAGUNA ST", "intersection", "OAK ST", "LAGUNA ST", -1, 0),
        ("OAK ST AND LAGUNA ST", "intersection", "OAK ST", "LAGUNA ST", -1, 0),
        ("oak st at laguna st", "intersection", "OAK ST", "LAGUNA ST", -1, 0),
        ("MAIN ST", "street", "MAIN ST", "", -1, 0),
        ("CITY HALL", "street", "CITY HALL", "", -1, 0),
        ("UNKNOWN", "junk", "", "", -1, 0),
        ("CITYWIDE", "junk", "", "", -1, 0),
        ("", "junk", "", "", -1, 0),
        ("  n/a ", "junk", "", "", -1, 0),
    ],
)
def test_parse_address(
    text: str, form: str, street: str, cross: str, number: int, width: int
) -> None:
    p = gc.parse_address(text)
    assert (p.form, p.street, p.cross_street, p.number, p.block_width) == (
        form,
        street,
        cross,
        number,
        width,
    )


def test_sf_address_shapes_all_parse(shared_data: Path) -> None:
    """Every address shape in the real San Francisco export parses into its form."""
    sf = pd.read_csv(shared_data / "sf_police_incidents_2016_subset.csv", usecols=["Address"])
    parsed = [gc.parse_address(a) for a in sf["Address"]]
    forms = pd.Series([p.form for p in parsed])
    expected = np.where(
        sf["Address"].str.contains(" Block of ", regex=False),
        "block",
        np.where(sf["Address"].str.contains(" / ", regex=False), "intersection", "other"),
    )
    assert set(expected) == {"block", "intersection"}  # the file's two shapes
    assert (forms.to_numpy() == expected).all()
    shares = forms.value_counts(normalize=True)
    assert shares["block"] == pytest.approx(0.7125, abs=0.0005)  # 6,873 of 9,646
    assert shares["intersection"] == pytest.approx(0.2875, abs=0.0005)
    for p, raw in zip(parsed, sf["Address"], strict=True):
        if p.form == "block":
            assert raw.startswith(f"{p.number} Block of ")
            assert p.block_width == (100 if p.number else 0)
        else:
            assert p.street
            assert p.cross_street
            assert "/" not in p.street + p.cross_street


# --------------------------------------------------------------------------- #
# placement on the hand-made town
# --------------------------------------------------------------------------- #
def test_index_contents(town_index: gc.GeocodeIndex) -> None:
    assert town_index.stats_["address_points"] == 5
    assert town_index.numbered_streets_  # 34th, 35th, 36th
    assert town_index.block_size_ == 10  # numbers below 300
    assert "OAK ST" in town_index.streets_
    assert town_index.places_["CITY HALL"][2] == "amenity=townhall"


def test_exact_address_point(town_index: gc.GeocodeIndex) -> None:
    m, (x, y) = _at(town_index, "140 OAK ST")
    assert m.match_type == "address_point"
    assert m.score == 100
    assert (x, y) == pytest.approx((150, 10), abs=0.5)
    m2, _ = _at(town_index, "140 Oak Street Apt 12")  # units are stripped
    assert (m2.match_type, m2.x, m2.y) == (m.match_type, m.x, m.y)


def test_interpolated_address_lies_on_the_street(town_index: gc.GeocodeIndex) -> None:
    m, (x, y) = _at(town_index, "150 OAK ST")
    assert m.match_type == "interpolated"
    # halfway between 140 (x=150) and 160 (x=250), on the street centreline
    assert (x, y) == pytest.approx((200, 0), abs=0.5)


def test_block_between_known_numbers(town_index: gc.GeocodeIndex) -> None:
    m, (x, y) = _at(town_index, "100 BLOCK OF OAK ST")
    assert m.match_type == "interpolated"
    # the block holds 102, 140, 160, 198: their median point, on the street
    assert y == pytest.approx(0, abs=0.5)
    assert 150 <= x <= 250


def test_intersections(town_index: gc.GeocodeIndex) -> None:
    for text in ("OAK ST / LAGUNA ST", "LAGUNA & OAK", "Oak Street AND Laguna Street"):
        m, (x, y) = _at(town_index, text)
        assert m.match_type == "intersection", text
        assert (x, y) == pytest.approx((200, 0), abs=0.5)
    # joined only through a 10 m unnamed connector
    m, (x, y) = _at(town_index, "ELM ST / PINE ST")
    assert m.match_type == "intersection"
    assert (x, y) == pytest.approx((605, -100), abs=1.0)
    m, _ = _at(town_index, "OAK ST / PINE ST")
    assert (m.match_type, m.reason) == ("unmatched", "streets_do_not_meet")


def test_accents_and_alternative_names(town_index: gc.GeocodeIndex) -> None:
    for text in ("JOSE MARTI AVE", "José Martí Avenue", "OLD HARBOR RD"):
        m, _ = _at(town_index, text)
        assert m.match_type == "street", text
        assert m.street == "José Martí Avenue"
    m, (x, y) = _at(town_index, "JOSE MARTI AVE / LAGUNA ST")
    assert (x, y) == pytest.approx((200, 200), abs=0.5)


def test_directionals(town_index: gc.GeocodeIndex) -> None:
    # a wrong directional, one candidate: tolerated and flagged
    m, _ = _at(town_index, "W OAK ST / LAGUNA ST")
    assert m.match_type == "intersection"
    assert "directional_ignored" in m.flags
    # no directional, two candidates (North and South Main): flagged, never silent
    m, _ = _at(town_index, "MAIN ST")
    assert "ambiguous" in m.flags
    assert m.score <= 50
    # ... unless the cross street decides it
    m, (x, y) = _at(town_index, "N MAIN ST / JOSE MARTI AVE")
    assert m.flags == ()
    assert (x, y) == pytest.approx((0, 200), abs=0.5)


def test_typos_are_fuzzy_matched(town_index: gc.GeocodeIndex) -> None:
    m, (x, y) = _at(town_index, "LAGUNNA ST / OAK ST")
    assert m.match_type == "intersection"
    assert "fuzzy" in m.flags
    assert m.score < 95
    assert (x, y) == pytest.approx((200, 0), abs=0.5)
    m, _ = _at(town_index, "140 OAK STRET")  # a misspelt suffix
    assert m.match_type == "address_point"
    m, _ = _at(town_index, "QWERTY BOULEVARD")
    assert (m.match_type, m.reason) == ("unmatched", "street_not_found")


def test_landmark(town_index: gc.GeocodeIndex) -> None:
    m, (x, y) = _at(town_index, "CITY HALL")
    assert m.match_type == "landmark"
    assert (x, y) == pytest.approx((100, 150), abs=0.5)


def test_numbered_street_block_inference(town_index: gc.GeocodeIndex) -> None:
    m, (x, y) = _at(town_index, "3400 BLOCK OF MARKET ST")
    assert m.match_type == "block_inferred"
    # between 34th (x=300) and 35th (x=400)
    assert (x, y) == pytest.approx((350, -200), abs=0.5)


def test_street_level_is_low_precision(town_index: gc.GeocodeIndex) -> None:
    m, (_, y) = _at(town_index, "900 BLOCK OF ELM ST")
    assert m.match_type == "street"
    assert "low_precision" in m.flags
    assert y == pytest.approx(-100, abs=0.5)


def test_centerline_ranges(town: network.StreetNetwork, tmp_path: Path) -> None:
    line = shapely.LineString([_lonlat(200, -200), _lonlat(200, 200)])
    path = tmp_path / "centerlines.geojson"
    gpd.GeoDataFrame(
        {
            "FULLNAME": ["Laguna St"],
            "LFROMADD": [1],
            "LTOADD": [99],
            "RFROMADD": [2],
            "RTOADD": [100],
        },
        geometry=[line],
        crs=4326,
    ).to_file(path)
    index = gc.GeocodeIndex.from_network(town, centerlines=gc.read_centerlines(path))
    m, (x, y) = _at(index, "50 LAGUNA ST")
    assert m.match_type == "range"
    # 50 on the right side, 2..100: (50 - 2) / 98 of the way from y=-200 to y=200
    assert (x, y) == pytest.approx((200, -200 + 400 * 48 / 98), abs=1.0)
    m, _ = _at(index, "5 LAGUNA ST")  # an OSM address point still wins
    assert m.match_type == "address_point"


def test_bad_centerline_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        gc.read_centerlines(tmp_path / "none.gpkg")
    path = tmp_path / "lines.geojson"
    gpd.GeoDataFrame(
        {"name": ["A"]}, geometry=[shapely.LineString([(0, 0), (1, 1)])], crs=4326
    ).to_file(path)
    with pytest.raises(InputFileError, match=r"no 'l_from' column .*LFROMADD"):
        gc.read_centerlines(path)


# --------------------------------------------------------------------------- #
# tables, coordinates and the report
# --------------------------------------------------------------------------- #
def test_geocode_table_keeps_rows_and_snaps_coordinates(
    town: network.StreetNetwork, town_index: gc.GeocodeIndex
) -> None:
    lon, lat = _lonlat(120, 7)
    table = pd.DataFrame(
        {
            "source_row": [1, 2, 3, 4],
            "address": ["140 OAK ST", "UNKNOWN", "", "QWERTY BLVD"],
            "x": [np.nan, np.nan, lon, np.nan],
            "y": [np.nan, np.nan, lat, np.nan],
            "crs": ["", "", "EPSG:4326", ""],
            "call_type": ["PARKING", "NOISE", "PARKING", "NOISE"],
        }
    )
    out = gc.geocode(table, town_index, network=town)
    assert list(out["source_row"]) == [1, 2, 3, 4]
    assert list(out["match_type"]) == ["address_point", "unmatched", "coordinates", "unmatched"]
    assert list(out["unmatched_reason"]) == ["", "no_location", "", "street_not_found"]
    assert out.crs == town_index.crs_
    assert out.geometry.isna().tolist() == [False, True, False, True]
    assert out.loc[2, "snap_dist_m"] == pytest.approx(7.0, abs=0.2)  # 7 m from Oak Street
    # placed on Oak Street itself (y = 0), straight south of the given point
    snapped = _lonlat(120, 0)
    assert (out.loc[2, "lon"], out.loc[2, "lat"]) == pytest.approx(snapped, abs=2e-6)

    report = gc.match_report(out)
    assert report["rows"] == 4
    assert report["matched"] == 2
    assert report["locatable_rows"] == 3  # the empty address had coordinates
    assert report["hit_rate_locatable"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["by_match_type"] == {"unmatched": 2, "address_point": 1, "coordinates": 1}
    assert report["top_unmatched"] == [
        {"address": "UNKNOWN", "count": 1},
        {"address": "QWERTY BLVD", "count": 1},
    ]
    assert report["by_call_type"]["NOISE"] == {"rows": 2, "hit_rate": 0.0}


def test_missing_address_column(town_index: gc.GeocodeIndex) -> None:
    with pytest.raises(InputFileError, match=r"no column 'address'.*Location"):
        gc.geocode(pd.DataFrame({"Location": ["x"]}), town_index)


def test_each_distinct_string_is_resolved_once(
    town_index: gc.GeocodeIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = town_index.locate

    def counting(parsed: gc.ParsedAddress) -> gc.Match:
        calls.append(parsed.text)
        return original(parsed)

    town_index._cache.clear()
    monkeypatch.setattr(town_index, "locate", counting)
    out = town_index.geocode_strings(["160 OAK ST"] * 500 + ["160 Oak Street"] * 500)
    assert len(out) == 1000
    assert (out["match_type"] == "address_point").all()
    assert len(calls) == 1  # one canonical address, resolved once


# --------------------------------------------------------------------------- #
# accuracy against the generator's truth
# --------------------------------------------------------------------------- #
def _score(
    index: gc.GeocodeIndex, cad: pd.DataFrame, truth: pd.DataFrame
) -> tuple[float, dict[str, float], pd.DataFrame]:
    res = index.geocode_strings(cad["address"].fillna(""))
    pts = gpd.GeoSeries(gpd.points_from_xy(truth["lon"], truth["lat"]), crs=4326).to_crs(index.crs_)
    err = np.hypot(res["x"] - pts.x, res["y"] - pts.y)
    locatable = truth["location_type"] != "junk"
    hit_rate = float((res.loc[locatable, "match_type"] != "unmatched").mean())
    medians = err.groupby(truth["location_type"]).median().to_dict()
    return hit_rate, medians, res


def test_sample_city_accuracy(helsinki_net: network.StreetNetwork) -> None:
    cad = pd.read_csv(REPO / "data" / "helsinki_cad_2025.csv", keep_default_na=False)
    truth = pd.read_csv(REPO / "data" / "helsinki_cad_2025.truth.csv")
    index = gc.GeocodeIndex.from_network(helsinki_net)
    hit_rate, medians, res = _score(index, cad, truth)
    assert hit_rate >= 0.99
    assert medians["address"] <= 15
    assert medians["intersection"] <= 15
    assert medians["block"] <= 60
    junk = truth["location_type"] == "junk"
    assert (res.loc[junk, "match_type"] == "unmatched").all()
    assert (res.loc[junk, "unmatched_reason"] == "no_location").all()


def test_baltimore_accuracy(shared_data: Path) -> None:
    net = network.network_from_file(shared_data / "baltimore.osm.pbf")
    sample = synthetic.generate_cad(net, months=6, seed=5)
    index = gc.GeocodeIndex.from_network(net)
    hit_rate, medians, _ = _score(index, sample.cad, sample.truth)
    assert hit_rate >= 0.99
    assert medians["address"] <= 15
    assert medians["intersection"] <= 15
    assert medians["block"] <= 60
    assert index.block_size_ == 100
    assert re.match(
        r"^\d+00 (BLOCK OF|BLK) ",
        sample.cad["address"][sample.truth["location_type"] == "block"].iloc[0],
    )


def test_online_fallback_is_off_by_default(
    town: network.StreetNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    import osmnx as ox  # noqa: PLC0415

    asked: list[str] = []

    def fake_geocode(query: str) -> tuple[float, float]:
        asked.append(query)
        lon, lat = _lonlat(150, 50)
        return lat, lon

    monkeypatch.setattr(ox, "geocode", fake_geocode)
    offline = gc.GeocodeIndex.from_network(town)
    m, _ = _at(offline, "THE OLD MILL")
    assert m.match_type == "unmatched"
    assert asked == []  # nothing leaves the machine unless asked for

    online = gc.GeocodeIndex.from_network(town, online_fallback=True, place_hint="Testville")
    m, (x, y) = _at(online, "THE OLD MILL")
    assert asked == ["THE OLD MILL, Testville"]
    assert m.match_type == "online"
    assert "online" in m.flags
    assert (x, y) == pytest.approx((150, 50), abs=0.5)
    _at(online, "UNKNOWN")  # junk is never sent
    assert len(asked) == 1

    def far_away(query: str) -> tuple[float, float]:
        return 10.0, 10.0

    monkeypatch.setattr(ox, "geocode", far_away)
    m, _ = _at(online, "THE NEW MILL")
    assert m.match_type == "unmatched"  # an answer outside the area is ignored


# --------------------------------------------------------------------------- #
# hostile input
# --------------------------------------------------------------------------- #

_HOSTILE = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            '<img src=x onerror="window.__xss=1">',
            "0 BLOCK OF",
            "9" * 40 + " MAIN ST",
            "/ / /",
            "& AND AT @",
            "XXX",
            "12-",
            "#",
            "\x00\x01 OAK ST",
            "OAK ST /",
            " / LAGUNA ST",
            "800 BLOCK OF / ",
            "1/2",
        ]
    ),
    st.builds(
        lambda n, s, j, t: f"{n} {s}{j}{t}",
        st.integers(-5, 10**12),
        st.sampled_from(["OAK ST", "laguna", "BLOCK OF", "BLK", "XX", ""]),
        st.sampled_from([" / ", " & ", " AND ", "", "#", " APT "]),
        st.text(max_size=12),
    ),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(_HOSTILE, min_size=1, max_size=20))
def test_geocoder_never_crashes_on_hostile_strings(
    town_index: gc.GeocodeIndex, texts: list[str]
) -> None:
    out = town_index.geocode_strings(texts)
    assert len(out) == len(texts)
    assert set(out["match_type"]) <= set(gc.MATCH_TYPES)
    matched = out["match_type"] != "unmatched"
    assert out.loc[matched, ["x", "y"]].notna().all().all()
    assert (out.loc[~matched, "unmatched_reason"] != "").all()
    assert out["match_score"].between(0, 100).all()
    table = pd.DataFrame({"source_row": range(1, len(texts) + 1), "address": texts})
    geocoded = gc.geocode(table, town_index)
    assert list(geocoded["source_row"]) == list(table["source_row"])
    report = gc.match_report(geocoded)
    assert report["rows"] == len(texts)
    assert sum(report["by_match_type"].values()) == len(texts)


def test_missing_and_numeric_addresses_do_not_crash(town_index: gc.GeocodeIndex) -> None:
    out = town_index.geocode_strings([None, float("nan"), 140, "140 OAK ST"])
    assert list(out["match_type"]) == ["unmatched", "unmatched", "unmatched", "address_point"]
    assert list(out["address_form"][:2]) == ["junk", "junk"]


def test_streets_missing_from_the_walk_graph_are_indexed(shared_data: Path) -> None:
    """Baltimore's Locust Point loses its walk edges to separately mapped sidewalks."""
    net = network.network_from_file(shared_data / "baltimore.osm.pbf")
    index = gc.GeocodeIndex.from_network(net)
    m = index.locate(gc.parse_address("COVINGTON ST"))
    assert m.match_type == "street"
    assert m.street == "Covington Street"


def test_parallel_streets_do_not_meet(helsinki_net: network.StreetNetwork) -> None:
    """Streets joined only by a long chain of short links are not an intersection."""
    index = gc.GeocodeIndex.from_network(helsinki_net)
    m = index.locate(gc.parse_address("FABIANINKATU / UNIONINKATU"))  # parallel, 89 m apart
    assert (m.match_type, m.reason) == ("unmatched", "streets_do_not_meet")
    m = index.locate(gc.parse_address("MANNERHEIMINTIE / KALEVANKATU"))  # meet via a crossing
    assert m.match_type == "intersection"
