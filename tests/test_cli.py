"""The command line: each command is a thin call into the library."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cso_geo import network
from cso_geo.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "command", ["network", "sample", "ingest", "geocode", "hotspots", "evaluate", "demo"]
)
def test_help_has_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert "cso-geo " + command in result.output


def test_network_json(cache_folder: Path) -> None:
    result = runner.invoke(app, ["network", "--osm", "helsinki", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["crs"] == "EPSG:32635"
    assert summary["drive"]["nodes"] > 100
    assert summary["walk"]["street_km"] > summary["drive"]["street_km"] > 10


def test_network_out_then_reuse(
    cache_folder: Path, tmp_path: Path, helsinki_net: network.StreetNetwork
) -> None:
    result = runner.invoke(app, ["network", "--osm", "helsinki", "--out", str(tmp_path / "net")])
    assert result.exit_code == 0, result.output
    assert "walk" in result.stdout
    assert "drive" in result.stdout
    loaded = network.load_network(tmp_path / "net")
    assert loaded.drive.number_of_edges() == helsinki_net.drive.number_of_edges()

    out = tmp_path / "calls.csv"
    result = runner.invoke(
        app,
        [
            "sample",
            "--network",
            str(tmp_path / "net"),
            "--months",
            "1",
            "--seed",
            "3",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    cad = pd.read_csv(out)
    truth = pd.read_csv(tmp_path / "calls.truth.csv")
    # one month at the default density: 12.5 calls per km of named street (24 km here)
    assert len(cad) == len(truth)
    assert 200 < len(cad) < 400
    assert pd.to_datetime(cad["received_at"]).dt.month.unique().tolist() == [1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["network", "--osm", "nowhere.osm.pbf"], "does not exist"),
        (["network", "--osm", "atlantis"], "does not exist"),
        (["network", "--bbox", "24.96,60.15,24.92,60.18"], "wrong order"),
        (["network", "--bbox", "24.9,north"], "numbers separated by commas"),
        (["network"], "Give exactly one street-network source"),
        (["network", "--osm", "helsinki", "--place", "Helsinki"], "got --osm, --place"),
        (["sample", "--out", "x.csv", "--network", "missing_dir"], "does not exist"),
    ],
)
def test_user_errors_are_one_clear_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "error:" in result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("cso-geo ")


def test_geocode_command(tmp_path: Path) -> None:
    src = tmp_path / "calls.csv"
    src.write_text(
        "Location,When\n"
        "16 YRJÖNKATU,2025-03-01 10:00\n"
        "MANNERHEIMINTIE / KALEVANKATU,2025-03-01 11:00\n"
        "UNKNOWN,2025-03-01 12:00\n",
        encoding="utf-8",
    )
    out = tmp_path / "calls.gpkg"
    result = runner.invoke(
        app,
        [
            "geocode",
            str(src),
            "--osm",
            "helsinki",
            "--address-col",
            "Location",
            "--time-col",
            "When",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "read 3 = accepted 3 + quarantined 0" in result.stdout
    report = json.loads((tmp_path / "calls.report.json").read_text())
    assert report["match"]["by_match_type"] == {
        "address_point": 1,
        "intersection": 1,
        "unmatched": 1,
    }
    assert (tmp_path / "calls.quarantine.csv").exists()
    import geopandas as gpd  # noqa: PLC0415

    gdf = gpd.read_file(out)
    assert list(gdf["src_Location"]) == [
        "16 YRJÖNKATU",
        "MANNERHEIMINTIE / KALEVANKATU",
        "UNKNOWN",
    ]
    assert list(gdf["source_row"]) == [1, 2, 3]


def test_ingest_command(tmp_path: Path) -> None:
    src = tmp_path / "calls.csv"
    src.write_text(
        "id,addr,t\n1,16 YRJÖNKATU,2025-03-01 10:00\n1,dup,2025-03-01 10:00\n2,,2025-03-01 10:00\n",
        encoding="utf-8",
    )
    out = tmp_path / "clean.csv"
    result = runner.invoke(
        app,
        [
            "ingest",
            str(src),
            "--address-col",
            "addr",
            "--id-col",
            "id",
            "--time-col",
            "t",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    # an empty address in an address-only export is kept: the geocoder reports it
    assert "read 3 = accepted 2 + quarantined 1" in result.stdout
    assert "duplicate_incident_id: 1" in result.stdout
    quarantine = pd.read_csv(tmp_path / "clean.quarantine.csv")
    assert list(quarantine["reason"]) == ["duplicate_incident_id"]
    assert list(quarantine["source_row"]) == [2]
    assert list(pd.read_csv(out)["incident_id"]) == [1, 2]


def test_geocode_command_snaps_given_coordinates(tmp_path: Path) -> None:
    src = tmp_path / "points.csv"
    src.write_text(
        "case,lon,lat,addr\n"
        "A1,24.9421703,60.1654046,\n"  # beside Yrjönkatu 16
        "A2,24.90,60.10,\n"  # open sea, 6 km south of the extract
        "A3,abc,60.16,\n",  # not a number: quarantined
        encoding="utf-8",
    )
    out = tmp_path / "points.gpkg"
    result = runner.invoke(
        app,
        [
            "geocode",
            str(src),
            "--osm",
            "helsinki",
            "--id-col",
            "case",
            "--x-col",
            "lon",
            "--y-col",
            "lat",
            "--crs",
            "EPSG:4326",
            "--address-col",
            "addr",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "read 3 = accepted 1 + quarantined 2" in result.stdout
    import geopandas as gpd  # noqa: PLC0415

    gdf = gpd.read_file(out)
    assert list(gdf["match_type"]) == ["coordinates"]
    assert gdf.loc[0, "snap_dist_m"] < 30
    # placed on the street: the written point is the snapped one, not the raw one
    raw = gpd.GeoSeries(gpd.points_from_xy([24.9421703], [60.1654046]), crs=4326).to_crs(gdf.crs)
    assert raw.distance(gdf.geometry.iloc[0]).iloc[0] == pytest.approx(
        gdf.loc[0, "snap_dist_m"], abs=0.1
    )
    quarantine = pd.read_csv(tmp_path / "points.quarantine.csv")
    assert sorted(quarantine["reason"]) == ["coordinates_outside_area", "invalid_coordinates"]


@pytest.fixture(scope="module")
def geocoded_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("geo") / "calls.gpkg"
    repo = Path(__file__).resolve().parents[1]
    result = runner.invoke(
        app,
        [
            "geocode",
            str(repo / "data" / "helsinki_cad_2025.csv"),
            "--osm",
            "helsinki",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_evaluate_command(geocoded_sample: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "eval.json"
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(geocoded_sample),
            "--osm",
            "helsinki",
            "--cut",
            "2025-12-01",
            "--cuts",
            "2",
            "--horizon",
            "30D",
            "--coverage",
            "0.01,0.05,0.10",
            "--json",
            str(report_path),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["cuts"] == ["2025-11-01", "2025-12-01"]
    for name in ("segment", "naive", "kde", "naive_grid"):
        for key in ("pai@0.05", "hit@0.05", "pei@0.05", "rri"):
            assert isinstance(report["methods"][name][key], float)
    assert "naive" in result.stdout


def test_hotspots_command(geocoded_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "noise.gpkg"
    result = runner.invoke(
        app,
        [
            "hotspots",
            str(geocoded_sample),
            "--osm",
            "helsinki",
            "--category",
            "noise",
            "--shift",
            "20:00-04:00",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    import geopandas as gpd  # noqa: PLC0415

    found = gpd.read_file(out)
    assert len(found) > 0
    assert list(found["rank"]) == list(range(1, len(found) + 1))
    assert (found["count_noise"] == found["count"]).all()  # only noise was selected
    assert found["top_call_types"].str.startswith("NOIS:").all()
    meta = json.loads(out.with_suffix(".meta.json").read_text())
    assert meta["filters"]["shift"] == "20:00-04:00"
    # an empty selection is a clear error, not an empty file
    result = runner.invoke(
        app,
        [
            "hotspots",
            str(geocoded_sample),
            "--osm",
            "helsinki",
            "--category",
            "noise",
            "--start",
            "2030-01-01",
            "--out",
            str(tmp_path / "none.gpkg"),
        ],
    )
    assert result.exit_code == 2
    assert "No incidents match the selection" in result.output
    assert not (tmp_path / "none.gpkg").exists()
    # weekends only, ranked by whole segment, no tuning: every call counted is on a weekend
    weekend = tmp_path / "weekend.gpkg"
    args = ["hotspots", str(geocoded_sample), "--osm", "helsinki", "--day", "weekend"]
    result = runner.invoke(
        app, [*args, "--rank-by", "segment", "--no-tuned", "--out", str(weekend)]
    )
    assert result.exit_code == 0, result.output
    found = gpd.read_file(weekend)
    profiles = np.array([json.loads(p) for p in found["profile"]])  # 7 x 24 per hotspot
    assert profiles[:, :5, :].sum() == 0
    assert profiles[:, 5:, :].sum() == found["count"].sum() > 0
    assert found["risk"].is_monotonic_decreasing
    meta = json.loads(weekend.with_suffix(".meta.json").read_text())
    assert meta["filters"]["days"] == [5, 6]
    assert meta["rank_by"] == "segment"
    bad = runner.invoke(app, [*args[:4], "--day", "someday", "--out", str(tmp_path / "x.gpkg")])
    assert bad.exit_code == 2
    assert "Unknown day 'someday'" in bad.output


def test_error_messages_are_not_read_as_markup(tmp_path: Path) -> None:
    src = tmp_path / "calls.csv"
    src.write_text("id,[/x]\n1,2\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["ingest", str(src), "--address-col", "[bold]where[/]", "--out", str(tmp_path / "o.csv")],
    )
    assert result.exit_code == 2
    assert "[bold]where[/]" in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_network_out_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "keep.txt").write_text("x")
    result = runner.invoke(app, ["network", "--osm", "helsinki", "--out", str(tmp_path / "docs")])
    assert result.exit_code == 2
    assert "not a network folder" in " ".join(result.output.split())
    assert (tmp_path / "docs" / "keep.txt").exists()
