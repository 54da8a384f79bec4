"""Tests of cso_geo.ingest: agency exports into the canonical table, nothing lost."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer

from cso_geo import ingest
from cso_geo._errors import (
    InputFileError,
    InputFileNotFoundError,
    OutputFileError,
    ProfileError,
)
from cso_geo.ingest import (
    CANONICAL_COLUMNS,
    QUARANTINE_COLUMNS,
    ColumnMap,
    IngestResult,
    load_profile,
    read_incidents,
    write_ingest,
)
from cso_geo.taxonomy import CATEGORIES

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "data" / "helsinki_cad_2025.csv"
SAMPLE_TRUTH = REPO_ROOT / "data" / "helsinki_cad_2025.truth.csv"
SF_FILE = "sf_police_incidents_2016_subset.csv"
NOW = datetime(2026, 6, 1)
# central Helsinki, lon/lat
HELSINKI = shapely.box(24.80, 60.10, 25.10, 60.30)


def write(folder: Path, name: str, text: str, *, encoding: str = "utf-8") -> Path:
    """Write `text` byte for byte (no newline translation)."""
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def table(result: IngestResult, cols: tuple[str, ...]) -> list[tuple[object, ...]]:
    """Quarantine rows as plain tuples, for exact comparisons."""
    return list(result.quarantine[list(cols)].itertuples(index=False, name=None))


# --------------------------------------------------------------------------- #
# the committed sample and the real San Francisco layout
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def sample_result() -> IngestResult:
    return read_incidents(SAMPLE, now=NOW)


def test_sample_ingests_without_quarantine(sample_result: IngestResult) -> None:
    summary = sample_result.summary()
    assert summary["profile"] == "cso_geo_sample"
    rows = SAMPLE.read_text(encoding="utf-8").count("\n") - 1  # every data line, no header
    assert (summary["read"], summary["accepted"], summary["quarantined"]) == (rows, rows, 0)
    assert summary["unmapped_types"] == 0
    acc = sample_result.accepted
    assert list(acc.columns[: len(CANONICAL_COLUMNS)]) == list(CANONICAL_COLUMNS)
    assert [c for c in acc.columns if c.startswith("src_")] == [
        "src_incident_id",
        "src_received_at",
        "src_dispatched_at",
        "src_cleared_at",
        "src_call_type_code",
        "src_call_type",
        "src_priority",
        "src_disposition",
        "src_beat",
        "src_address",
    ]
    # one physical line per row after the header
    assert acc["source_row"].tolist() == list(range(1, rows + 1))
    assert (acc["source_line"] == acc["source_row"] + 1).all()
    for col in ("received_at", "dispatched_at", "cleared_at"):
        assert acc[col].dtype == "datetime64[ns]"
        assert acc[col].notna().all()
    assert acc["received_at"].iloc[0] == pd.Timestamp(acc["src_received_at"].iloc[0])
    assert acc["priority"].dtype == "Int64"
    assert acc["priority"].between(1, 5).all()
    assert acc["x"].isna().all()
    assert (acc["crs"] == "").all()


def test_sample_categories_match_the_truth_row_for_row(sample_result: IngestResult) -> None:
    truth = pd.read_csv(SAMPLE_TRUTH, dtype=str, keep_default_na=False)
    acc = sample_result.accepted
    assert acc["incident_id"].tolist() == truth["incident_id"].tolist()
    assert acc["category"].tolist() == truth["category"].tolist()
    assert (acc["is_cso"] == (truth["category"] != "not_cso")).all()
    # service minutes come from the taxonomy
    assert set(acc.loc[acc["call_type_code"] == "PARK", "service_minutes"]) == {15.0}


@pytest.mark.shared_data
def test_sf_incidents_map_and_reconcile(shared_data: Path) -> None:
    result = read_incidents(shared_data / SF_FILE, now=NOW)
    summary = result.summary()
    assert summary["profile"] == "sf_police"  # detected from the header
    assert (summary["read"], summary["accepted"], summary["quarantined"]) == (9646, 9646, 0)
    assert summary["unmapped_types"] == 0
    assert result.unmapped_types.empty
    acc = result.accepted
    assert acc["category"].value_counts().to_dict() == {
        "not_cso": 4796,
        "other_cso": 2973,
        "welfare_check": 863,
        "graffiti_vandalism": 448,
        "found_property": 419,
        "abandoned_vehicle": 76,
        "noise": 42,
        "animal": 14,
        "property_damage": 8,
        "traffic": 7,
    }
    assert acc["incident_id"].is_unique
    first = acc.iloc[0]
    assert first["incident_id"] == "12005827212120"
    assert first["received_at"] == pd.Timestamp("2016-01-29 11:00")
    assert first["src_IncidntNum"] == "120058272"
    assert (first["call_type_code"], first["category"]) == ("WEAPON LAWS", "not_cso")
    assert (first["beat"], first["disposition"]) == ("SOUTHERN", "ARREST, BOOKED")
    assert acc["x"].between(-122.52, -122.36).all()
    assert acc["y"].between(37.70, 37.82).all()
    assert (acc["crs"] == "EPSG:4326").all()
    assert acc["dispatched_at"].isna().all()  # not in the layout


@pytest.mark.shared_data
def test_sf_without_profile_rules_reports_unmapped_types(shared_data: Path) -> None:
    bare = replace(load_profile("sf_police"), call_types=())
    result = read_incidents(shared_data / SF_FILE, profile=bare, now=NOW)
    summary = result.summary()
    assert (summary["unmapped_types"], summary["unmapped_rows"]) == (395, 7935)
    assert summary["accepted"] == 9646  # unmapped types stay in, as "unmapped"
    top = result.unmapped_types.iloc[0]
    assert (top["call_type_code"], top["call_type"], top["count"]) == (
        "LARCENY/THEFT",
        "GRAND THEFT FROM LOCKED AUTO",
        382,
    )
    assert result.unmapped_types["count"].is_monotonic_decreasing
    # the taxonomy still maps what it knows: FOUND PROPERTY by description, and
    # the categories VANDALISM and ASSAULT, which are taxonomy descriptions
    assert result.accepted["category"].value_counts().to_dict() == {
        "unmapped": 7935,
        "not_cso": 1035,
        "graffiti_vandalism": 448,
        "found_property": 228,
    }


@pytest.mark.shared_data
def test_sf_incident_numbers_repeat_across_offences(shared_data: Path) -> None:
    result = read_incidents(
        shared_data / SF_FILE,
        profile="sf_police",
        columns=ColumnMap(incident_id="IncidntNum"),
        now=NOW,
    )
    summary = result.summary()
    assert summary["by_reason"] == {"duplicate_incident_id": 1761}
    assert summary["accepted"] == 7885
    first = result.quarantine.iloc[0]
    assert (first["source_row"], first["source_line"], first["value"]) == (2, 3, "120058272")
    assert "source_row 1" in first["message"]


SF_HEADER = (
    "IncidntNum,Category,Descript,DayOfWeek,Date,Time,PdDistrict,Resolution,Address,X,Y,"
    "Location,PdId\n"
)


def test_sf_layout_without_the_shared_file(tmp_path: Path) -> None:
    text = SF_HEADER + (
        "1,VANDALISM,MALICIOUS MISCHIEF,Friday,01/29/2016 12:00:00 AM,23:05,MISSION,NONE,"
        '16TH ST / MISSION ST,-122.4196,37.7650,"(37.7650, -122.4196)",101\n'
        "1,NON-CRIMINAL,LOST PROPERTY,Friday,01/29/2016 12:00:00 AM,23:05,MISSION,NONE,"
        '16TH ST / MISSION ST,-122.4196,37.7650,"(37.7650, -122.4196)",102\n'
        "2,NON-CRIMINAL,AIDED CASE,Friday,01/29/2027 12:00:00 AM,11:00,PARK,NONE,"
        '800 Block of HAIGHT ST,-122.4380,37.7710,"(37.7710, -122.4380)",201\n'
        "3,WARRANTS,WARRANT ARREST,Friday,01/29/2016 12:00:00 AM,9:5,PARK,NONE,"
        '800 Block of HAIGHT ST,-122.4380,37.7710,"(37.7710, -122.4380)",301\n'
        "4,ROBBERY,ROBBERY,Friday,01/29/2016 12:00:00 AM,12:00,PARK,NONE,"
        '800 Block of HAIGHT ST,-120.5,90,"(90, -120.5)",401\n'
        "5,ROBBERY,ROBBERY,Friday,01/29/2016 12:00:00 AM,12:00,PARK,NONE,"
        '800 Block of HAIGHT ST,0,0,"(0, 0)",501\n'
    )
    result = read_incidents(write(tmp_path, "sf.csv", text), now=NOW)
    assert result.profile == "sf_police"
    assert table(result, ("source_row", "reason", "column", "value")) == [
        (3, "future_date", "Date,Time", "01/29/2027 12:00:00 AM 11:00"),
        (4, "unparseable_date", "Time", "9:5"),
        (5, "invalid_coordinates", "X,Y", "-120.5,90"),
        (6, "invalid_coordinates", "X,Y", "0,0"),
    ]
    acc = result.accepted
    assert acc["received_at"].tolist() == [pd.Timestamp("2016-01-29 23:05")] * 2
    assert acc["category"].tolist() == ["graffiti_vandalism", "found_property"]
    assert acc["incident_id"].tolist() == ["101", "102"]


# --------------------------------------------------------------------------- #
# every quarantine reason, with its row and physical line
# --------------------------------------------------------------------------- #
REASONS_CSV = """\
id,received,dispatched,cleared,code,address,lon,lat
A1,2025-03-01 10:00:00,2025-03-01 10:05:00,2025-03-01 10:30:00,PARK,1 ALEKSANTERINKATU,24.95,60.17
A2,2025-03-01 11:00:00,2025-03-01 11:05:00,2025-03-01 11:30:00,NOIS,"2 MANNERHEIMINTIE
APT 3",24.94,60.17
,2025-03-01 12:00:00,2025-03-01 12:05:00,2025-03-01 12:30:00,PARK,3 ESPLANADI,24.95,60.17
A4,2025-02-30 10:00:00,2025-03-01 10:05:00,2025-03-01 10:30:00,PARK,4 ESPLANADI,24.95,60.17
A5,2027-06-01 10:00:00,2027-06-01 10:05:00,2027-06-01 10:30:00,PARK,5 ESPLANADI,24.95,60.17
A6,2025-03-01 10:00:00,2025-03-01 09:55:00,2025-03-01 10:30:00,PARK,6 ESPLANADI,24.95,60.17
A7,2025-03-01 10:00:00,2025-03-01 10:05:00,2025-03-01 09:30:00,PARK,7 ESPLANADI,24.95,60.17
A8,2025-03-01 10:00:00,2025-03-01 10:05:00,2025-03-01 10:30:00,PARK,,,
A9,2025-03-01 10:00:00,2025-03-01 10:05:00,2025-03-01 10:30:00,PARK,9 ESPLANADI,abc,60.17
A10,2025-03-01 10:00:00,2025-03-01 10:05:00,2025-03-01 10:30:00,PARK,10 ESPLANADI,24.95,95.0
A11,2025-03-01 10:00:00,2025-03-01 10:05:00,2025-03-01 10:30:00,PARK,11 RUE DE RIVOLI,2.35,48.86
A1,2025-03-02 10:00:00,2025-03-02 10:05:00,2025-03-02 10:30:00,PARK,1 ALEKSANTERINKATU,24.95,60.17
A13,2025-03-01 10:00:00,too,few

A15,2025-03-01 10:00:00,2025-03-01 10:05:00,2025-03-01 10:30:00,UNKNOWN CODE,UNKNOWN,24.95,60.17
"""
REASONS_MAP = ColumnMap(
    incident_id="id",
    received_at="received",
    dispatched_at="dispatched",
    cleared_at="cleared",
    call_type_code="code",
    address="address",
    x="lon",
    y="lat",
)


def test_every_row_level_reason(tmp_path: Path) -> None:
    path = write(tmp_path, "calls.csv", REASONS_CSV)
    result = read_incidents(path, columns=REASONS_MAP, area=HELSINKI, now=NOW)
    assert table(result, ("source_row", "source_line", "reason", "column")) == [
        (3, 5, "missing_incident_id", "id"),
        (4, 6, "unparseable_date", "received"),
        (5, 7, "future_date", "received"),
        (6, 8, "dispatched_before_received", "dispatched"),
        (7, 9, "cleared_before_received", "cleared"),
        (8, 10, "missing_location", "address,lon,lat"),
        (9, 11, "invalid_coordinates", "lon,lat"),
        (10, 12, "invalid_coordinates", "lon,lat"),
        (11, 13, "coordinates_outside_area", "lon,lat"),
        (12, 14, "duplicate_incident_id", "id"),
        (13, 15, "malformed_line", ""),
    ]
    q = result.quarantine.set_index("source_row")
    assert q.loc[4, "value"] == "2025-02-30 10:00:00"
    assert q.loc[9, "value"] == "abc,60.17"
    assert "already on source_row 1" in q.loc[12, "message"]
    assert q.loc[13, "raw"] == "A13,2025-03-01 10:00:00,too,few"
    assert q.loc[13, "message"] == "4 fields where the header has 8"
    assert q.loc[12, "src_received"] == "2025-03-02 10:00:00"  # parsed rows keep src_ columns
    assert pd.isna(q.loc[13, "src_id"])
    acc = result.accepted
    assert acc["incident_id"].tolist() == ["A1", "A2", "A15"]
    assert acc["source_row"].tolist() == [1, 2, 14]
    assert acc["source_line"].tolist() == [2, 3, 17]  # a quoted newline, then a blank line
    assert acc.loc[1, "address"] == "2 MANNERHEIMINTIE\nAPT 3"
    # a junk address is the geocoder's to report, and an unknown code stays in
    assert acc.loc[2, "address"] == "UNKNOWN"
    assert acc.loc[2, "category"] == "unmapped"
    assert result.unmapped_types.to_dict("records") == [
        {"call_type_code": "UNKNOWN CODE", "call_type": "", "count": 1}
    ]
    summary = result.summary()
    assert (summary["read"], summary["accepted"], summary["quarantined"]) == (14, 3, 11)
    assert summary["by_reason"]["invalid_coordinates"] == 2


def test_without_area_or_now_those_checks_do_not_apply(tmp_path: Path) -> None:
    path = write(tmp_path, "calls.csv", REASONS_CSV)
    result = read_incidents(path, columns=REASONS_MAP, now=datetime(2030, 1, 1))
    reasons = result.summary()["by_reason"]
    assert "coordinates_outside_area" not in reasons
    assert "future_date" not in reasons
    assert result.summary()["accepted"] == 5


def test_missing_times_are_allowed_only_when_unmapped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "calls.csv",
        "id,received,cleared,address\n1,2025-01-01 10:00,,1 A ST\n2,,,2 B ST\n",
    )
    result = read_incidents(
        path,
        columns=ColumnMap(incident_id="id", received_at="received", address="address"),
        now=NOW,
    )
    assert result.summary()["by_reason"] == {"unparseable_date": 1}
    assert result.quarantine.loc[0, "message"] == "received is empty"
    assert result.accepted["cleared_at"].isna().all()  # unmapped: NaT allowed
    assert result.accepted.loc[0, "received_at"] == pd.Timestamp("2025-01-01 10:00")


def test_empty_dispatch_and_clear_times_are_kept(tmp_path: Path) -> None:
    """Cancelled calls have no dispatch or clear time; a bad one is still quarantined."""
    path = write(
        tmp_path,
        "calls.csv",
        "id,received,dispatched,cleared,address\n"
        "1,2025-01-01 10:00,,,1 A ST\n"
        "2,2025-01-01 11:00,2025-01-01 11:05,,2 B ST\n"
        "3,2025-01-01 12:00,soon,,3 C ST\n",
    )
    result = read_incidents(
        path,
        columns=ColumnMap(
            incident_id="id",
            received_at="received",
            dispatched_at="dispatched",
            cleared_at="cleared",
            address="address",
        ),
        now=NOW,
    )
    assert list(result.accepted["incident_id"]) == ["1", "2"]
    assert result.accepted["cleared_at"].isna().all()
    assert result.accepted["dispatched_at"].isna().tolist() == [True, False]
    assert list(result.quarantine["reason"]) == ["unparseable_date"]
    assert list(result.quarantine["source_row"]) == [3]


def test_broken_quotes_quarantine_one_line_and_reading_goes_on(tmp_path: Path) -> None:
    text = (
        "id,address,lon,lat\n"
        'B1,"1 OPEN QUOTE ST,24.9,60.1\n'
        "B2,2 ELM ST,24.9,60.1\n"
        'B3,"3 ""QUOTED"" ST",24.9,60.1\n'
        'B4,"4 "BAD" ST",24.9,60.1\n'
        'B5,"5 MULTI\n'
        'LINE ST",24.9,60.1\n'
        "B6,6 END ST,24.9,60.1\n"
        'B7,"7 NEVER CLOSED,24.9,60.1\n'
        "B8,8 LAST ST,24.9,60.1\n"
    )
    result = read_incidents(write(tmp_path, "q.csv", text), now=NOW)
    assert table(result, ("source_row", "source_line", "reason")) == [
        (1, 2, "malformed_line"),
        (4, 5, "malformed_line"),
        (7, 9, "malformed_line"),
    ]
    assert result.quarantine["raw"].tolist() == [
        'B1,"1 OPEN QUOTE ST,24.9,60.1',
        'B4,"4 "BAD" ST",24.9,60.1',
        'B7,"7 NEVER CLOSED,24.9,60.1',
    ]
    assert "unbalanced quote" in result.quarantine.loc[0, "message"]
    acc = result.accepted
    assert acc["incident_id"].tolist() == ["B2", "B3", "B5", "B6", "B8"]
    assert acc["source_row"].tolist() == [2, 3, 5, 6, 8]
    assert acc["source_line"].tolist() == [3, 4, 6, 8, 10]
    assert acc.loc[1, "address"] == '3 "QUOTED" ST'
    assert result.n_read == 8


def test_a_field_over_the_csv_size_limit_is_a_malformed_line(tmp_path: Path) -> None:
    text = "id,address\n1," + "X" * 200_000 + "\n2,Kaivokatu 1\n"
    result = read_incidents(write(tmp_path, "long.csv", text), now=NOW)
    assert table(result, ("source_row", "source_line", "reason")) == [(1, 2, "malformed_line")]
    assert "field larger than field limit" in result.quarantine.loc[0, "message"]
    assert len(result.quarantine.loc[0, "raw"]) == 200_002  # kept whole
    assert result.accepted["address"].tolist() == ["Kaivokatu 1"]


def test_times_with_mixed_utc_offsets_keep_their_wall_clock(tmp_path: Path) -> None:
    text = (
        "id,received,address\n"
        "1,2025-01-01T10:00:00+02:00,a\n"
        "2,2025-01-01T10:00:00Z,b\n"
        "3,2025-01-01 10:00,c\n"
        "4,January 5 2025,d\n"
        "5,yesterday,e\n"
    )
    result = read_incidents(write(tmp_path, "tz.csv", text), now=NOW)
    assert result.accepted["received_at"].tolist() == [
        pd.Timestamp("2025-01-01 10:00"),
        pd.Timestamp("2025-01-01 10:00"),
        pd.Timestamp("2025-01-01 10:00"),
        pd.Timestamp("2025-01-05"),
    ]
    assert table(result, ("source_row", "reason", "value")) == [
        (5, "unparseable_date", "yesterday")
    ]


def test_undecodable_bytes_quarantine_their_line(tmp_path: Path) -> None:
    data = (
        "id,address\n1,TÖÖLÖNKATU 1\n".encode()
        + b"2,\xff\xfe BAD BYTES\n"
        + '3,"MULTI\nLINE ÄÄ"\n4,HELSINGINKATU Å\n'.encode()
    )
    path = tmp_path / "bytes.csv"
    path.write_bytes(data)
    result = read_incidents(path, now=NOW)
    assert result.encoding == "utf-8"
    assert table(result, ("source_row", "source_line", "reason", "raw")) == [
        (2, 3, "malformed_line", "2,\\xff\\xfe BAD BYTES"),
    ]
    assert "undecodable bytes" in result.quarantine.loc[0, "message"]
    assert result.accepted["address"].tolist() == [
        "TÖÖLÖNKATU 1",
        "MULTI\nLINE ÄÄ",
        "HELSINGINKATU Å",
    ]
    assert result.accepted["source_line"].tolist() == [2, 4, 6]


# --------------------------------------------------------------------------- #
# encodings, delimiters and formats
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("delimiter", "name"),
    [(";", "semi.csv"), ("\t", "tabs.tsv"), ("|", "pipes.txt")],
)
def test_delimiters_are_sniffed(tmp_path: Path, delimiter: str, name: str) -> None:
    rows = [
        ["id", "address", "lon", "lat", "type"],
        ["1", "Mannerheimintie 1, A 2", "24,9414", "60,1699", "PARK"],
        ["2", "Aleksanterinkatu 5", "24.9500", "60.1690", "NOIS"],
    ]
    text = "\n".join(delimiter.join(r) for r in rows) + "\n"
    if delimiter != ";":
        text = text.replace("24,9414", "24.9414").replace("60,1699", "60.1699")
    result = read_incidents(write(tmp_path, name, text), now=NOW)
    assert result.delimiter == delimiter
    acc = result.accepted
    assert acc["address"].tolist() == ["Mannerheimintie 1, A 2", "Aleksanterinkatu 5"]
    assert acc["x"].tolist() == [24.9414, 24.95]  # decimal commas read too
    assert acc["y"].tolist() == [60.1699, 60.169]
    assert acc["category"].tolist() == ["parking", "noise"]


def test_cp1252_file(tmp_path: Path) -> None:
    text = "id,address,type\n1,Café Ekberg BULEVARDI 9,FOUND PROPERTY\n2,Rue de l'Église 3,PARK\n"
    result = read_incidents(write(tmp_path, "legacy.csv", text, encoding="cp1252"), now=NOW)
    assert result.encoding == "cp1252"
    assert result.accepted["address"].tolist() == ["Café Ekberg BULEVARDI 9", "Rue de l'Église 3"]
    assert result.accepted["category"].tolist() == ["found_property", "parking"]
    assert result.quarantine.empty


def test_utf8_bom_file(tmp_path: Path) -> None:
    text = "\ufeffincident_id,address\nX-1,Töölöntori 2\n"
    result = read_incidents(write(tmp_path, "bom.csv", text), now=NOW)
    assert result.encoding == "utf-8-sig"
    assert result.columns.incident_id == "incident_id"  # the BOM is not part of the name
    assert result.accepted["incident_id"].tolist() == ["X-1"]
    assert "src_incident_id" in result.accepted.columns


def test_plain_address_list(tmp_path: Path) -> None:
    text = 'address\n1 Main St\n"2 Elm St, Apt 4"\n\n3 Oak Ave, Springfield\n""\n'
    result = read_incidents(write(tmp_path, "addresses.csv", text), now=NOW)
    acc = result.accepted
    assert result.summary()["read"] == 4
    assert result.delimiter == ""  # one column: commas stay in the address
    assert acc["incident_id"].tolist() == ["1", "2", "3", "4"]
    assert acc["address"].tolist() == ["1 Main St", "2 Elm St, Apt 4", "3 Oak Ave, Springfield", ""]
    assert acc["source_line"].tolist() == [2, 3, 5, 6]
    assert acc["received_at"].isna().all()
    assert (acc["category"] == "unmapped").all()
    assert acc["x"].isna().all()
    assert result.unmapped_types.to_dict("records") == [
        {"call_type_code": "", "call_type": "", "count": 4}
    ]
    # with no coordinates a GeoPackage holds a plain table, which reads back in
    paths = write_ingest(result, tmp_path / "addresses.gpkg")
    back = gpd.read_file(paths["accepted"])
    assert not isinstance(back, gpd.GeoDataFrame)
    columns = ColumnMap(incident_id="incident_id", address="address")
    again = read_incidents(paths["accepted"], columns=columns, now=NOW)
    assert again.accepted["address"].tolist() == acc["address"].tolist()
    assert again.accepted["src_source_line"].tolist() == [2, 3, 5, 6]


def test_header_detection_by_name(tmp_path: Path) -> None:
    text = (
        "Incident Number,Call Type,Location,Latitude,Longitude,Date,Time,Priority\n"
        "9001,NOISE COMPLAINT,Kaivokatu 1,60.171,24.941,01/02/2025,9:05 PM,P2\n"
        "9002,WELFARE CHECK,Kaivokatu 3,60.172,24.942,01/03/2025,0930,high\n"
    )
    path = write(tmp_path, "other_agency.csv", text)
    # 01/02/2025 could be 1 February or 2 January: ingest will not guess
    with pytest.raises(InputFileError, match=r"'Date' holds dates such as '01/02/2025'"):
        read_incidents(path, now=NOW)
    result = read_incidents(path, columns=ColumnMap(dayfirst=False), now=NOW)
    assert result.profile == "auto"
    cmap = result.columns
    assert (cmap.incident_id, cmap.call_type, cmap.address) == (
        "Incident Number",
        "Call Type",
        "Location",
    )
    assert (cmap.x, cmap.y, cmap.date, cmap.time) == ("Longitude", "Latitude", "Date", "Time")
    acc = result.accepted
    assert acc["received_at"].tolist() == [
        pd.Timestamp("2025-01-02 21:05"),
        pd.Timestamp("2025-01-03 09:30"),
    ]
    assert acc["category"].tolist() == ["noise", "welfare_check"]
    assert acc["priority"].tolist() == [2, pd.NA]
    assert result.warnings == {"priority_not_a_number": 1}


def test_day_first_export_sorted_by_time_is_never_swapped(tmp_path: Path) -> None:
    """The first days of each month fit both orders; the rest tell which one holds."""
    times = pd.date_range("2025-01-01", "2025-03-31 22:30", freq="90min")
    lines = ["id,received,address"] + [
        f"{i},{t:%d/%m/%Y %H:%M},{i} Main St" for i, t in enumerate(times)
    ]
    result = read_incidents(
        write(tmp_path, "dayfirst.csv", "\n".join(lines) + "\n"),
        columns=ColumnMap(incident_id="id", received_at="received", address="address"),
        now=NOW,
    )
    assert len(result.quarantine) == 0
    assert result.accepted["received_at"].tolist() == list(times)


def test_column_flags_keep_header_detection_for_the_rest(tmp_path: Path) -> None:
    text = (
        "incident_id,received_at,call_type,Location\n"
        "A1,2025-01-01 10:00,NOISE COMPLAINT,1 Main St\n"
        "A1,2025-01-01 11:00,NOISE COMPLAINT,2 Main St\n"
        "A2,2099-01-01 10:00,NOISE COMPLAINT,3 Main St\n"
    )
    result = read_incidents(
        write(tmp_path, "partial.csv", text), columns=ColumnMap(address="Location"), now=NOW
    )
    assert result.accepted["incident_id"].tolist() == ["A1"]
    assert sorted(result.quarantine["reason"]) == ["duplicate_incident_id", "future_date"]
    assert result.accepted["category"].tolist() == ["noise"]


def test_parquet_input(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "CallNo": [101, 102, 103],
            "Received": pd.to_datetime(
                ["2025-05-01 08:00", "2025-05-01 09:00", "2025-05-01 10:00"]
            ).tz_localize("Europe/Helsinki"),
            "Type": ["PARK", "NOIS", "XYZ"],
            "Street": ["1 A KATU", "2 B KATU", "3 C KATU"],
            "Lon": [24.95, np.nan, 24.94],
            "Lat": [60.17, np.nan, np.nan],
            "Prio": pd.array([4, 3, None], dtype="Int64"),
        }
    )
    path = tmp_path / "calls.parquet"
    frame.to_parquet(path)
    cmap = ColumnMap(
        incident_id="CallNo",
        received_at="Received",
        call_type_code="Type",
        address="Street",
        x="Lon",
        y="Lat",
        priority="Prio",
    )
    result = read_incidents(path, columns=cmap, now=NOW)
    assert table(result, ("source_row", "source_line", "reason")) == [(3, 3, "invalid_coordinates")]
    acc = result.accepted
    assert acc["incident_id"].tolist() == ["101", "102"]
    # wall-clock time in the data's own zone
    assert acc["received_at"].tolist() == [
        pd.Timestamp("2025-05-01 08:00"),
        pd.Timestamp("2025-05-01 09:00"),
    ]
    assert acc["priority"].tolist() == [4, 3]
    assert acc.loc[0, "x"] == 24.95
    assert np.isnan(acc.loc[1, "x"])
    assert acc["crs"].tolist() == ["EPSG:4326", ""]
    assert acc["src_CallNo"].tolist() == [101, 102]  # original dtype kept


def test_geojson_input(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame(
        {
            "event": ["G1", "G2", "G3"],
            "nature": ["GRAFFITI", "ANIMAL COMPLAINT", "PARKING VIOLATION"],
            "address": ["Kaivokatu 8", "Keskuskatu 1", ""],
            "reported": ["2025-06-01T10:00:00", "2025-06-02T11:30:00", "2025-06-03T12:00:00"],
        },
        geometry=[shapely.Point(24.941, 60.171), None, None],
        crs="EPSG:4326",
    )
    path = tmp_path / "calls.geojson"
    gdf.to_file(path, driver="GeoJSON")
    cmap = ColumnMap(incident_id="event", call_type="nature", address="address")
    result = read_incidents(path, columns=cmap, now=NOW)
    assert table(result, ("source_row", "reason", "column")) == [
        (3, "missing_location", "address,geometry")
    ]
    acc = result.accepted
    assert acc["category"].tolist() == ["graffiti_vandalism", "animal"]
    assert acc.loc[0, ["x", "y"]].tolist() == pytest.approx([24.941, 60.171])
    assert acc["crs"].tolist() == ["EPSG:4326", ""]
    assert acc.loc[0, "src_geometry"] == "POINT (24.941 60.171)"


def test_geopackage_in_a_projected_crs_with_an_area(tmp_path: Path) -> None:
    to_tm35 = Transformer.from_crs("EPSG:4326", "EPSG:3067", always_xy=True)
    helsinki = shapely.Point(*to_tm35.transform(24.941, 60.171))
    tampere = shapely.Point(*to_tm35.transform(23.761, 61.498))
    gdf = gpd.GeoDataFrame(
        {"id": ["T1", "T2"], "received_at": ["2025-01-05 10:00:00", "2025-01-05 11:00:00"]},
        geometry=[helsinki, tampere],
        crs="EPSG:3067",
    )
    path = tmp_path / "calls.gpkg"
    gdf.to_file(path, driver="GPKG")
    result = read_incidents(path, area=HELSINKI, now=NOW)
    assert table(result, ("source_row", "reason")) == [(2, "coordinates_outside_area")]
    acc = result.accepted
    assert acc["incident_id"].tolist() == ["T1"]
    assert acc.loc[0, "x"] == pytest.approx(helsinki.x)  # kept in the file's CRS
    assert acc.loc[0, "crs"] == "EPSG:3067"


# --------------------------------------------------------------------------- #
# profiles and errors
# --------------------------------------------------------------------------- #
def test_builtin_profiles() -> None:
    assert ingest.available_profiles() == ["cso_geo_sample", "sf_police"]
    sf = load_profile("sf_police")
    assert sf.columns.mapped() == {
        "incident_id": "PdId",
        "call_type_code": "Category",
        "call_type": "Descript",
        "disposition": "Resolution",
        "beat": "PdDistrict",
        "address": "Address",
        "x": "X",
        "y": "Y",
        "date": "Date",
        "time": "Time",
    }
    assert sf.columns.crs == "EPSG:4326"
    assert {r.category for r in sf.call_types} <= set(CATEGORIES)
    rules = {(r.code, r.description): r.category for r in sf.call_types}
    assert rules[("VANDALISM", None)] == "graffiti_vandalism"
    assert rules[("NON-CRIMINAL", "LOST PROPERTY")] == "found_property"
    assert rules[("ROBBERY", None)] == "not_cso"
    # the same file by path
    path = Path(ingest.__file__).parent / "profiles" / "sf_police.toml"
    assert load_profile(path) == replace(sf, source=str(path))


def test_profile_file_with_its_own_mapping(tmp_path: Path) -> None:
    profile = write(
        tmp_path,
        "town.toml",
        """
[profile]
name = "town"
delimiter = ";"

[columns]
incident_id = "Nro"
received_at = "Aika"
address = "Osoite"
call_type_code = "Koodi"
format = "%d.%m.%Y %H:%M"

[[call_type]]
code = "MEL"
category = "noise"
service_minutes = 12
""",
    )
    data = write(
        tmp_path,
        "export.csv",
        "Nro;Aika;Osoite;Koodi\n"
        "1;05.03.2025 22:15;Kalevankatu 4;MEL\n"
        "2;2025-03-06;Annankatu 1;PARK\n",
    )
    result = read_incidents(data, profile=profile, now=NOW)
    assert result.profile == "town"
    assert result.accepted["received_at"].tolist() == [pd.Timestamp("2025-03-05 22:15")]
    assert result.accepted[["category", "service_minutes"]].values.tolist() == [["noise", 12.0]]
    # an explicit format is a contract: other forms are quarantined, not guessed
    assert table(result, ("source_row", "reason", "value")) == [
        (2, "unparseable_date", "2025-03-06")
    ]


def test_missing_file() -> None:
    with pytest.raises(InputFileNotFoundError, match=r"nowhere\.csv' does not exist"):
        read_incidents("/no/such/dir/nowhere.csv")
    with pytest.raises(FileNotFoundError):
        read_incidents("/no/such/dir/nowhere.csv")


def test_unknown_format(tmp_path: Path) -> None:
    path = write(tmp_path, "calls.xlsx", "not really")
    with pytest.raises(InputFileError, match=r"unknown format '\.xlsx'.*\.csv"):
        read_incidents(path)


def test_profile_column_absent_from_the_file(tmp_path: Path) -> None:
    profile = write(tmp_path, "p.toml", '[columns]\naddress = "Adres"\nincident_id = "id"\n')
    data = write(tmp_path, "calls.csv", "id,street,when\n1,Kaivokatu 1,2025-01-01\n")
    with pytest.raises(InputFileError) as err:
        read_incidents(data, profile=profile)
    message = str(err.value)
    assert "no column 'Adres'" in message
    assert "maps to address" in message
    assert "p.toml" in message
    assert "The file's columns are: id, street, when" in message


def test_mapped_columns_forgive_case(tmp_path: Path) -> None:
    data = write(tmp_path, "calls.csv", "ID,Street\n1,Kaivokatu 1\n")
    result = read_incidents(data, columns=ColumnMap(incident_id="id", address="street"))
    assert (result.columns.incident_id, result.columns.address) == ("ID", "Street")
    assert result.accepted["address"].tolist() == ["Kaivokatu 1"]


def test_no_location_column(tmp_path: Path) -> None:
    data = write(tmp_path, "calls.csv", "id,what\n1,noise\n")
    with pytest.raises(InputFileError, match=r"no column is mapped to an address.*id, what"):
        read_incidents(data)


def test_unknown_profile_name() -> None:
    with pytest.raises(ProfileError, match="built-in profiles: cso_geo_sample, sf_police"):
        load_profile("sf_polise")
    with pytest.raises(ProfileError, match="Unknown ingest profile 'nyc'"):
        read_incidents(SAMPLE, profile="nyc")


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[columns]\nadress = "a"\n',
            r"\[columns\]: unknown key 'adress'; allowed keys are incident_id",
        ),
        (
            '[columns]\naddress = "a"\n[[call_type]]\ncode = "X"\ncategory = "parkin"\n',
            r"category 'parkin' is not one of parking, abandoned_vehicle",
        ),
        ('[profile]\ndelimiter = ":"\n', r"delimiter ':' is not supported; use one of ','"),
        ('[profile]\nencoding = "klingon"\n', r"encoding 'klingon' is not a known encoding"),
        ('[columns]\nx = "lon"\n', r"map both x and y"),
        ('[columns]\ncrs = "EPSG:999999"\n', r"crs 'EPSG:999999' is not a CRS"),
        ('[[call_type]]\ncategory = "noise"\n', r"needs a code, a description, or both"),
        ("[colums]\n", r"unknown table 'colums'"),
    ],
)
def test_bad_profiles_name_file_key_and_allowed_values(
    tmp_path: Path, toml: str, expected: str
) -> None:
    path = write(tmp_path, "bad.toml", toml)
    with pytest.raises(ProfileError, match=expected) as err:
        load_profile(path)
    assert "bad.toml" in str(err.value)


def test_column_options_from_cli_style_pairs() -> None:
    cmap = ColumnMap.from_dict({"address": "Addr", "x": "lon", "y": "lat", "dayfirst": True})
    assert (cmap.address, cmap.x, cmap.y, cmap.dayfirst) == ("Addr", "lon", "lat", True)
    with pytest.raises(ProfileError, match="unknown key 'adress'"):
        ColumnMap.from_dict({"adress": "Addr"})


def test_area_must_be_a_polygon(tmp_path: Path) -> None:
    data = write(tmp_path, "calls.csv", "address\nKaivokatu 1\n")
    with pytest.raises(TypeError, match="not Point"):
        read_incidents(data, area=shapely.Point(24.9, 60.1))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- #
# writing
# --------------------------------------------------------------------------- #
@pytest.fixture
def mixed_result(tmp_path: Path) -> IngestResult:
    path = write(tmp_path, "calls.csv", REASONS_CSV)
    return read_incidents(path, columns=REASONS_MAP, area=HELSINKI, now=NOW)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".gpkg"])
def test_write_ingest(tmp_path: Path, mixed_result: IngestResult, suffix: str) -> None:
    out = tmp_path / "out" / f"incidents{suffix}"
    paths = write_ingest(mixed_result, out)
    assert paths == {
        "accepted": out,
        "quarantine": out.with_name("incidents.quarantine.csv"),
        "summary": out.with_name("incidents.ingest.json"),
    }
    # nothing else (no temporary files) is left in the folder
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(p.name for p in paths.values())
    doc = json.loads(paths["summary"].read_text("utf-8"))
    assert doc["read"] == doc["accepted"] + doc["quarantined"] == 14
    assert doc["accepted"] == 3
    assert doc["by_reason"]["malformed_line"] == 1
    assert doc["unmapped_type_counts"] == [
        {"call_type_code": "UNKNOWN CODE", "call_type": "", "count": 1}
    ]
    quarantine = pd.read_csv(paths["quarantine"], dtype=str, keep_default_na=False)
    assert list(quarantine.columns[: len(QUARANTINE_COLUMNS)]) == list(QUARANTINE_COLUMNS)
    assert quarantine["source_line"].tolist() == [str(n) for n in range(5, 16)]
    if suffix == ".csv":
        back = pd.read_csv(out, dtype=str, keep_default_na=False)
        assert back["incident_id"].tolist() == ["A1", "A2", "A15"]
        assert back.loc[0, "received_at"] == "2025-03-01 10:00:00"
    elif suffix == ".parquet":
        back = pd.read_parquet(out)
        assert back["received_at"].dtype == "datetime64[ns]"
        assert back["source_line"].tolist() == [2, 3, 17]
    else:
        back = gpd.read_file(out)
        assert back.crs.to_epsg() == 4326
        assert back.geometry.x.round(2).tolist() == [24.95, 24.94, 24.95]


def test_write_ingest_is_atomic(
    tmp_path: Path, mixed_result: IngestResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "incidents.parquet"
    out.write_bytes(b"previous")

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fail)
    with pytest.raises(OSError, match="disk full"):
        write_ingest(mixed_result, out)
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir() if p.suffix != ".csv"] == ["incidents.parquet"]


def test_write_ingest_rejects_other_suffixes(tmp_path: Path, mixed_result: IngestResult) -> None:
    with pytest.raises(OutputFileError, match=r"'\.xlsx' is not one of \.csv, \.parquet, \.gpkg"):
        write_ingest(mixed_result, tmp_path / "out.xlsx")


# --------------------------------------------------------------------------- #
# hostile input never crashes and always reconciles
# --------------------------------------------------------------------------- #
HOSTILE = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            '"',
            '""',
            '"unbalanced',
            ",",
            ";",
            "\t",
            "|",
            "\n",
            "\r\n",
            "\r",
            "\x00",
            "\udcff\udcfe",  # written as the invalid UTF-8 bytes FF FE
            "caf\udce9",  # a lone cp1252 byte
            "<script>alert(1)</script>",
            "x" * 5000,
            "UNKNOWN",
            "2025-13-45 25:61:00",
            "2025-02-29 10:00:00",
            "9999-12-31 23:59:59",
            "0001-01-01",
            "2025-01-01T10:00:00+02:00",
            "2025-01-01T10:00:00Z",
            "January 5 2025",
            "nan",
            "-inf",
            "1e308",
            "200",
            "60.17",
            "24.94",
        ]
    ),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
FUZZ_HEADER = ["incident_id", "received_at", "cleared_at", "call_type", "address", "lon", "lat"]


def _spoil(row: list[str], index: int, value: str) -> list[str]:
    return [value if i == index else v for i, v in enumerate(row)]


# plausible rows (repeating ids) with one hostile field, and wholly hostile rows
PLAUSIBLE = st.builds(
    lambda n, when, address: [f"F{n}", when, when, "NOISE COMPLAINT", address, "24.94", "60.17"],
    st.integers(0, 15),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2026, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%d %H:%M:%S")
    ),
    st.text(max_size=20),
)
FUZZ_ROW = st.one_of(
    st.lists(HOSTILE, min_size=7, max_size=7),
    st.builds(_spoil, PLAUSIBLE, st.integers(0, 6), HOSTILE),
    PLAUSIBLE,
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(FUZZ_ROW, max_size=12))
def test_hostile_rows_never_crash_and_reconcile(tmp_path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(FUZZ_HEADER)
    writer.writerows(rows)
    text = buffer.getvalue()
    path = tmp_path / "fuzz.csv"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    # where each record starts, counted the way csv reads the file
    reader = csv.reader(io.StringIO(text, newline=""))
    starts, prev = [], 0
    for rec in reader:
        if rec:
            starts.append(prev + 1)
        prev = reader.line_num
    expected = len(starts) - 1  # the header

    result = read_incidents(path, area=HELSINKI, now=NOW)

    assert result.n_read == expected == len(rows)
    both = pd.concat([result.accepted, result.quarantine])[["source_row", "source_line"]]
    assert both.sort_values("source_row")["source_line"].tolist() == starts[1:]
    assert result.n_read == len(result.accepted) + len(result.quarantine)
    summary = result.summary()
    assert summary["read"] == summary["accepted"] + summary["quarantined"]
    assert set(result.quarantine["reason"]) <= set(ingest.REASONS)
    assert result.quarantine["source_row"].is_unique
    assert set(result.accepted["source_row"]).isdisjoint(result.quarantine["source_row"])
    assert set(result.accepted["category"]) <= {*CATEGORIES, "unmapped"}
    paths = write_ingest(result, tmp_path / "fuzz_out.parquet")
    doc = json.loads(paths["summary"].read_text("utf-8"))
    assert doc["read"] == doc["accepted"] + doc["quarantined"] == len(rows)
    assert len(pd.read_parquet(paths["accepted"])) == doc["accepted"]
