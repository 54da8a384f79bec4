"""`cso-geo demo`: the whole pipeline on the sample city, and its map in a browser."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from _browser import leaflet_layers, offline_page, png_rgb
from typer.testing import CliRunner

from cso_geo import hotspots as hs
from cso_geo import maps, network, pipeline
from cso_geo.cli import app

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("demo")
    stages: list[str] = []
    outputs = pipeline.run_demo(
        out_dir=root / "out",
        maps_dir=root / "maps",
        progress=lambda stage, detail: stages.append(stage),
    )
    assert stages == [
        "street network",
        "sample incidents",
        "geocoding",
        "hotspots",
        "beats",
        "shift assignment",
        "routes",
        "maps",
        "monthly report",
    ]
    return outputs


def test_demo_writes_every_output(
    demo_outputs: dict[str, Path], helsinki_net: network.StreetNetwork
) -> None:
    assert set(demo_outputs) == {
        "network",
        "CAD export",
        "CAD truth",
        "geocoded incidents",
        "ingest quarantine",
        "match report",
        "backtest",
        "hotspots",
        "beats",
        "beats summary",
        "roster (sample)",
        "assignments",
        "routes",
        "analyst map",
        "community map (public)",
        "supervisor map",
        *(f"shift map, beat {b}" for b in range(1, 7)),
        "monthly report",
    }
    for path in demo_outputs.values():
        assert path.exists()
    loaded = network.load_network(demo_outputs["network"])
    assert loaded.walk.number_of_edges() == helsinki_net.walk.number_of_edges()
    # the demo's export is the committed sample, byte for byte
    committed = REPO / "data" / "helsinki_cad_2025.csv"
    assert demo_outputs["CAD export"].read_bytes() == committed.read_bytes()
    rows = committed.read_text(encoding="utf-8").count("\n") - 1
    report = json.loads(demo_outputs["match report"].read_text())
    assert report["ingest"]["read"] == report["ingest"]["accepted"] == rows
    assert report["match"]["hit_rate_locatable"] >= 0.99
    geocoded = gpd.read_file(demo_outputs["geocoded incidents"])
    assert len(geocoded) == rows
    assert (geocoded["match_type"] == "unmatched").sum() == report["match"]["by_match_type"][
        "unmatched"
    ]
    backtest = json.loads(demo_outputs["backtest"].read_text())
    assert backtest["cuts"] == ["2025-10-02", "2025-11-01", "2025-12-01"]
    assert backtest["methods"]["naive"]["pai@0.05"] > 1
    found = gpd.read_file(demo_outputs["hotspots"])
    assert len(found) > 10
    assert (
        found["trend"]
        .isin(
            ["new", "intensifying", "persistent", "diminishing", "intermittent", "sporadic", "none"]
        )
        .all()
    )
    # the segment method beats last month's counts by 20% on the sample city (issue target)
    seg, naive = backtest["methods"]["segment"], backtest["methods"]["naive"]
    assert seg["pai@0.05"] >= 1.2 * naive["pai@0.05"]
    assert backtest["recovery"]["persistent"]["planted"] == 18
    # six contiguous beats within 5% of each other, and a shift's routes for every one
    beats = json.loads(demo_outputs["beats summary"].read_text())
    assert beats["n_beats"] == 6
    assert all(beats["contiguous"].values())
    assert beats["imbalance"] <= 0.05
    routes = json.loads((demo_outputs["routes"] / "routes.json").read_text())
    assert sorted(r["beat_id"] for r in routes) == [1, 2, 3, 4, 5, 6]
    for r in routes:
        assert r["feasible"], r["warnings"]
        assert r["duration_min"] <= 480 + 1e-6
        waits = sum(st["wait_min"] + st["break_min"] for st in r["stops"])
        assert r["duration_min"] == pytest.approx(r["travel_min"] + r["dwell_min"] + waits, abs=0.1)
        assert r["stops"]
        for ext in (".geojson", ".gpx", ".html", ".json"):
            assert (demo_outputs["routes"] / f"{r['route_id']}{ext}").exists()
        assert demo_outputs[f"shift map, beat {r['beat_id']}"].exists()
    assignments = pd.read_csv(demo_outputs["assignments"])
    assert set(assignments["beat_id"].dropna().astype(int)) <= set(range(1, 7))
    for label in ("analyst map", "community map (public)", "supervisor map"):
        page = demo_outputs[label].read_text(encoding="utf-8")
        assert maps.remote_references(page) == []
        assert len(page) < 5_000_000
    # the community map shows no address of any call (a bare street name is on the basemap
    # anyway: addresses with a house number, a block or a cross street are what must not show)
    public = demo_outputs["community map (public)"].read_text(encoding="utf-8")
    cad = pd.read_csv(demo_outputs["CAD export"], keep_default_na=False)
    precise = {a for a in cad["address"] if any(ch.isdigit() for ch in a) or "/" in a}
    assert len(precise) > 1000
    # raw, or escaped as the page would carry it (an `A & B` intersection is `A &amp; B`)
    assert not [a for a in precise if a in public or html.escape(a) in public]
    report = demo_outputs["monthly report"]
    assert report.name == "report-2025-12.html"
    data = json.loads(report.with_suffix(".json").read_text())
    t = pd.to_datetime(cad["received_at"])
    assert data["calls"]["total"] == int((t.dt.strftime("%Y-%m") == "2025-12").sum())


def test_demo_cli_prints_its_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    for name in ("analyst.html", "supervisor.html", "community.html"):
        assert f"maps/{name}" in result.stdout
        assert (tmp_path / "maps" / name).exists()
    assert "out/report/report-2025-12.html" in result.stdout
    assert "Backtest" in result.stdout  # the backtest table
    assert (tmp_path / "out" / "helsinki_cad.csv").exists()


@pytest.mark.browser
def test_demo_maps_are_drawn_with_the_network_cut_off(
    browser: Any, demo_outputs: dict[str, Path]
) -> None:
    hot = gpd.read_file(demo_outputs["hotspots"])
    expected = {
        "analyst map": [f"Hotspots: segment ({len(hot)})", "Minor streets", "Major roads"],
        "community map (public)": ["Minor streets", "Major roads"],
        "supervisor map": ["Beats by workload (6)", f"Hotspots: segment ({len(hot)})"],
        "shift map, beat 1": ["Minor streets"],
    }
    for label, layers in expected.items():
        with offline_page(browser, demo_outputs[label]) as state:
            page = state.page
            page.wait_for_function("typeof window.L === 'object'")
            assert page.evaluate("L.version") == "1.9.3"
            names = leaflet_layers(page)
            for name in layers:
                assert any(n.startswith(name) for n in names), (label, name, names)
            rgb = png_rgb(page.screenshot(type="png")).astype(np.int32)
        background = np.all(rgb == (0xF7, 0xF7, 0xF4), axis=2).mean()
        distinct = len(np.unique(rgb.reshape(-1, 3), axis=0))
        assert background < 0.9, label  # not blank: most of the view is drawn on
        assert distinct > 50, label
        assert state.blocked == [], label
        assert state.failed == [], label
        assert state.errors == [], label


def test_run_config_on_an_agency_export(tmp_path: Path) -> None:
    """`cso-geo init`, then `cso-geo run --config` on an export of the agency's own."""
    runner = CliRunner()
    cfg = tmp_path / "agency.toml"
    result = runner.invoke(app, ["init", str(cfg)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["init", str(cfg)]).exit_code == 2  # never overwrites
    export = tmp_path / "exports" / "calls.csv"
    export.parent.mkdir()
    export.write_bytes((REPO / "data" / "helsinki_cad_2025.csv").read_bytes())
    text = cfg.read_text(encoding="utf-8")
    text = text.replace('osm = "region.osm.pbf"', 'osm = "helsinki"')
    text = text.replace(
        'file = "calls.csv"', 'file = "exports/calls.csv"\nprofile = "cso_geo_sample"'
    )
    text = text.replace("n = 6 ", "n = 4 ").replace('mode = "foot" ', 'mode = "drive" ')
    cfg.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["run", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    beats = json.loads((out / "beats.json").read_text())
    assert beats["n_beats"] == 4
    assert all(beats["contiguous"].values())
    routes = json.loads((out / "routes" / "routes.json").read_text())
    assert len(routes) == 4
    assert {r["mode"] for r in routes} == {"drive"}
    # the defaults the config left open come from the data: the day after the last call,
    # the last full month
    assert {r["shift_start"] for r in routes} == {"2026-01-01T08:00:00"}
    assert (out / "report" / "report-2025-12.html").exists()
    for name in ("analyst.html", "community.html", "supervisor.html"):
        assert (tmp_path / "maps" / name).exists()
    assert "calls_geocoded.gpkg" in result.stdout


def test_run_config_errors_name_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[area]\nosm = "helsinki"\n[incidents]\nsample = {}\n[beats]\nn = 0\n')
    result = CliRunner().invoke(app, ["run", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "[beats] n = 0 is not allowed; use an integer from 1 to 200" in result.output
    missing = CliRunner().invoke(app, ["run", "--config", str(tmp_path / "none.toml")])
    assert missing.exit_code == 2
    assert "cso-geo init" in missing.output


def test_wrong_files_given_as_hotspots_or_beats_are_refused(tmp_path: Path) -> None:
    """A beats file, or the geocoded calls, passed as hotspots: a clear error, not a crash."""
    net = network.network_from_file("helsinki")
    geo = tmp_path / "calls.gpkg"
    rows, _, _ = pipeline.geocode_file(
        REPO / "data" / "helsinki_cad_2025.csv", geo, network=net, profile="cso_geo_sample"
    )
    _, paths = pipeline.beats_file(rows, tmp_path / "beats.gpkg", network=net, n=3)
    with pytest.raises(pipeline.InputFileError, match="has no layer 'hotspots'"):
        pipeline.map_file("analyst", tmp_path / "a.html", geocoded=geo, hotspots=paths["beats"])
    with pytest.raises(pipeline.InputFileError, match=r"lacks column\(s\) rank"):
        pipeline.report_file(geo, "2025-12", tmp_path / "r", network=net, hotspots=geo)
    roster = tmp_path / "roster.csv"
    roster.write_text("cso_id,shift,mode\nA,08:00-16:00,foot\n")
    with pytest.raises(pipeline.InputFileError, match="not the roster"):
        pipeline.map_file(
            "supervisor", tmp_path / "s.html", beats=paths["beats"], assignments=roster
        )


def test_grid_hotspots_go_through_routes_and_the_report(tmp_path: Path) -> None:
    """KDE cells (polygons, no street names) are visited at a point inside and reported."""
    net = network.network_from_file("helsinki")
    geo = tmp_path / "calls.gpkg"
    rows, _, _ = pipeline.geocode_file(
        REPO / "data" / "helsinki_cad_2025.csv", geo, network=net, profile="cso_geo_sample"
    )
    found, hot = pipeline.hotspots_file(geo, tmp_path / "kde.gpkg", network=net, method="kde")
    assert (found.geom_type == "Polygon").all()
    _, paths = pipeline.beats_file(rows, tmp_path / "beats.gpkg", network=net, n=2)
    summaries = pipeline.routes_file(
        paths["beats"], hot, tmp_path / "routes", network=net, shift="2026-01-05 08:00-12:00"
    )
    assert len(summaries) == 2
    assert all(s["feasible"] for s in summaries)
    assert sum(len(s["stops"]) for s in summaries) > 2
    rep, _ = pipeline.report_file(geo, "2025-12", tmp_path / "rep", network=net, hotspots=hot)
    top = rep.data["hotspots"]["top"]
    assert [r["unit_id"] for r in top] == found["unit_id"].head(len(top)).tolist()
    assert all(r["name"] == "" for r in top)
    # this month's calls are counted inside each cell
    month = hs.select_incidents(rows, start="2025-12-01", end="2026-01-01")
    cell = found.geometry.iloc[0]
    assert top[0]["calls_this_month"] == int(month.within(cell).sum())
