"""`cso-geo demo`: the whole pipeline on the sample city, and its map in a browser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
from _browser import offline_page, png_rgb
from typer.testing import CliRunner

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
        "overview map",
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
        "overview map",
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
    page = demo_outputs["overview map"].read_text(encoding="utf-8")
    assert maps.remote_references(page) == []
    assert len(page) < 5_000_000


def test_demo_cli_prints_its_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "maps/overview.html" in result.stdout
    assert (tmp_path / "maps" / "overview.html").exists()
    assert (tmp_path / "out" / "helsinki_cad.csv").exists()


@pytest.mark.browser
def test_demo_map_is_drawn_with_the_network_cut_off(
    browser: Any, demo_outputs: dict[str, Path]
) -> None:
    with offline_page(browser, demo_outputs["overview map"]) as state:
        page = state.page
        page.wait_for_function("document.querySelectorAll('path.leaflet-interactive').length > 0")
        assert page.evaluate("typeof window.L") == "object"
        n_paths = page.evaluate("document.querySelectorAll('path.leaflet-interactive').length")
        n_street_features = sum(
            int(label.rsplit("(", 1)[1].rstrip(")").replace(",", ""))
            for label in page.eval_on_selector_all(
                ".leaflet-control-layers-overlays label", "els => els.map(e => e.innerText)"
            )
            if not label.strip().startswith("Incidents")
        )
        assert n_street_features > 3000  # the walk network, drawn from the graph
        assert n_paths > n_street_features  # streets plus the incident grid
        rgb = png_rgb(page.screenshot(type="png")).astype(np.int32)
    background = np.all(rgb == (0xF7, 0xF7, 0xF4), axis=2).mean()
    distinct = len(np.unique(rgb.reshape(-1, 3), axis=0))
    assert background < 0.9  # not blank: most of the view is drawn on
    assert distinct > 50
    assert state.blocked == []
    assert state.failed == []
    assert state.errors == []
