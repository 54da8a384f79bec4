"""Tests of cso_geo.report: the monthly hotspot report of the sample city."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _browser import offline_page, png_rgb

from cso_geo import hotspots as hs
from cso_geo import network, pipeline, report

REPO = Path(__file__).resolve().parents[1]
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest.fixture(scope="module")
def geocoded(helsinki_net: network.StreetNetwork, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("report") / "geocoded.gpkg"
    rows, _, _ = pipeline.geocode_file(
        REPO / "data" / "helsinki_cad_2025.csv", out, network=helsinki_net, profile="cso_geo_sample"
    )
    return rows


@pytest.fixture(scope="module")
def month(geocoded: gpd.GeoDataFrame) -> str:
    """The third month of the sample: it has a previous month, and no month a year before."""
    first = pd.to_datetime(geocoded["received_at"]).min().to_period("M")
    return str(first + 2)


@pytest.fixture(scope="module")
def hostile(geocoded: gpd.GeoDataFrame, month: str) -> gpd.GeoDataFrame:
    """The sample with a hostile category on five calls of the month."""
    t = pd.to_datetime(geocoded["received_at"])
    idx = np.flatnonzero((t.dt.strftime("%Y-%m") == month).to_numpy())[:5]
    out = geocoded.copy()
    out.loc[out.index[idx], "category"] = XSS
    return out


@pytest.fixture(scope="module")
def beats(helsinki_net: network.StreetNetwork) -> gpd.GeoDataFrame:
    """Two beats splitting the sample city west/east."""
    xy = np.array([(d["x"], d["y"]) for _, d in helsinki_net.walk.nodes(data=True)])
    x0, y0 = xy.min(axis=0) - 10
    x1, y1 = xy.max(axis=0) + 10
    mid = float(np.median(xy[:, 0]))
    return gpd.GeoDataFrame(
        {"beat_id": [1, 2], "workload": [1000.0, 1200.0]},
        geometry=[shapely.box(x0, y0, mid, y1), shapely.box(mid, y0, x1, y1)],
        crs=helsinki_net.crs,
    )


@pytest.fixture(scope="module")
def written(
    hostile: gpd.GeoDataFrame,
    month: str,
    beats: gpd.GeoDataFrame,
    helsinki_net: network.StreetNetwork,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[report.MonthlyReport, dict[str, Path]]:
    rep = report.monthly_report(hostile, month, beats=beats, network=helsinki_net)
    return rep, report.write_report(rep, tmp_path_factory.mktemp("out"))


@pytest.mark.browser
def test_report_numbers_match_the_data_in_chromium(
    browser: Any,
    hostile: gpd.GeoDataFrame,
    month: str,
    beats: gpd.GeoDataFrame,
    helsinki_net: network.StreetNetwork,
    written: tuple[report.MonthlyReport, dict[str, Path]],
) -> None:
    rep, paths = written
    t = pd.to_datetime(hostile["received_at"])
    ym = t.dt.strftime("%Y-%m")
    prev = str(pd.Period(month) - 1)
    this = hostile[(ym == month).to_numpy()]
    before = hostile[(ym == prev).to_numpy()]
    located = this[(this["match_type"] != "unmatched").to_numpy()]
    with offline_page(browser, paths["html"]) as state:
        page = state.page

        def value(key: str) -> str:
            text: str = page.evaluate(
                """(k) => [...document.querySelectorAll('[data-key]')]
                    .find((e) => e.dataset.key === k).innerText""",
                key,
            )
            return text

        assert value("calls.total") == f"{len(this):,}"
        assert value("calls.previous_month") == f"{len(before):,}"
        change = 100 * (len(this) - len(before)) / len(before)
        assert value("calls.change_vs_previous_pct") == f"{change:+.1f}%"
        # the sample has no data a year earlier: n/a, never NaN
        assert value("calls.same_month_last_year") == "n/a"
        assert value("calls.change_vs_last_year_pct") == "n/a"
        for category, n in this["category"].value_counts().items():
            assert value(f"category.{category}.count") == f"{n:,}", category
            n_prev = int((before["category"] == category).sum())
            assert value(f"category.{category}.previous_month") == f"{n_prev:,}"
        # the hostile category is shown as text, and ran nothing
        shown = page.evaluate(
            """(c) => [...document.querySelectorAll('tr[data-category]')]
                .find((e) => e.dataset.category === c).cells[0].innerText""",
            XSS,
        )
        assert shown == XSS
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert page.evaluate("document.querySelectorAll('img[src=x], td script').length") == 0
        # geocoding match rate of the month
        assert value("geocoding.total") == f"{len(this):,}"
        assert value("geocoding.matched") == f"{len(located):,}"
        assert value("geocoding.match_rate") == f"{100 * len(located) / len(this):.1f}%"
        for match_type, n in this["match_type"].value_counts().items():
            assert value(f"match.{match_type}") == f"{n:,}"
        # calls per beat, counted here with shapely
        pts = located.to_crs(beats.crs)
        for beat in beats.itertuples():
            inside = shapely.within(np.asarray(pts.geometry.values), beat.geometry).sum()
            assert value(f"beat.{beat.beat_id}.calls") == f"{int(inside):,}"
        # the top hotspots are find_hotspots' on the data up to the end of the month
        end = pd.Period(month).end_time.normalize() + pd.Timedelta(days=1)
        found = hs.find_hotspots(
            hs.select_incidents(hostile, end=end), hs.street_units(helsinki_net.walk), at=end
        )
        units = page.eval_on_selector_all(
            "#hotspots tr[data-unit]", "(rows) => rows.map((r) => Number(r.dataset.unit))"
        )
        assert units == found["unit_id"].head(report.TOP_HOTSPOTS).tolist()
        trends = page.eval_on_selector_all(
            "#hotspots tr[data-unit] td:nth-child(5)", "(c) => c.map((x) => x.innerText)"
        )
        assert trends == found["trend"].head(report.TOP_HOTSPOTS).tolist()
        # backtest figures are shown for the quick methods
        for method in report.BACKTEST_METHODS:
            pai = float(value(f"backtest.{method}.pai"))
            assert pai == pytest.approx(rep.data["backtest"]["methods"][method]["pai"], abs=1e-3)
            assert pai > 0
        # the charts are embedded images that load and are not blank
        sizes = page.eval_on_selector_all(
            "img", "(imgs) => imgs.map((i) => [i.id, i.naturalWidth, i.naturalHeight])"
        )
        assert {s[0] for s in sizes} == {"chart-categories", "chart-daily", "chart-map"}
        assert all(w > 100 and h > 100 for _, w, h in sizes)
        shot = png_rgb(page.locator("#chart-daily").screenshot())
        assert (shot.std(axis=(0, 1)) > 10).all()
    assert state.blocked == []
    assert state.failed == []
    assert state.errors == []


def test_report_files_and_json(
    hostile: gpd.GeoDataFrame,
    month: str,
    written: tuple[report.MonthlyReport, dict[str, Path]],
) -> None:
    rep, paths = written
    folder = paths["html"].parent
    assert sorted(p.name for p in folder.iterdir()) == [
        f"report-{month}-categories.png",
        f"report-{month}-daily.png",
        f"report-{month}-map.png",
        f"report-{month}.html",
        f"report-{month}.json",
    ]
    data = json.loads(paths["json"].read_text())
    assert data == json.loads(json.dumps(rep.data))
    # the embedded PNGs are base64: any four letters may occur in them by chance
    text = re.sub(
        r"base64,[A-Za-z0-9+/=]+", "base64,", paths["json"].read_text() + paths["html"].read_text()
    )
    assert "NaN" not in text
    assert "nan" not in text
    t = pd.to_datetime(hostile["received_at"])
    this = t[(t.dt.strftime("%Y-%m") == month).to_numpy()]
    assert sum(data["daily"].values()) == len(this)
    assert data["hourly"] == np.bincount(this.dt.hour, minlength=24).tolist()
    assert len(data["daily"]) == pd.Period(month).days_in_month
    # PNG beside the page are the very images embedded in it
    for name in ("categories", "daily", "map"):
        png = (folder / f"report-{month}-{name}.png").read_bytes()
        assert png == rep.charts[name]
        assert png_rgb(png).std() > 10
    assert "<script" not in paths["html"].read_text().lower()
    assert "http" not in paths["html"].read_text().split("base64,")[0]


def test_report_is_deterministic_and_handles_the_first_month(
    geocoded: gpd.GeoDataFrame,
) -> None:
    first = str(pd.to_datetime(geocoded["received_at"]).min().to_period("M"))
    a = report.monthly_report(geocoded, first)
    b = report.monthly_report(geocoded, first)
    assert a.html == b.html
    assert a.charts == b.charts
    assert a.data["calls"]["previous_month"] is None
    assert a.data["calls"]["change_vs_previous_pct"] is None
    assert all(r["previous_month"] is None for r in a.data["calls"]["by_category"])
    # no network: hotspots, backtest and static map are n/a
    assert a.data["hotspots"] == {"top": None, "new": None, "cooled": None}
    assert a.data["backtest"] is None
    assert set(a.charts) == {"categories", "daily"}
    assert "n/a" in a.html


def test_same_month_last_year_is_compared(geocoded: gpd.GeoDataFrame) -> None:
    """Two years of calls: March 2026 is compared with March 2025, category by category."""
    later = geocoded.copy()
    later["received_at"] = pd.to_datetime(later["received_at"]) + pd.DateOffset(years=1)
    # the second year has one more parking call in March than the first
    t0 = pd.to_datetime(geocoded["received_at"])
    march = geocoded.loc[((t0 >= "2025-03-01") & (t0 < "2025-04-01")).to_numpy()]
    extra = march.loc[march["category"] == "parking"].head(1).copy()
    extra["received_at"] = pd.Timestamp("2026-03-15 10:00")
    both = pd.concat([geocoded, later, extra], ignore_index=True)
    both = gpd.GeoDataFrame(both, geometry="geometry", crs=geocoded.crs)
    rep = report.monthly_report(both, "2026-03")
    calls = rep.data["calls"]
    assert calls["same_month_last_year"] == len(march)
    assert calls["total"] == len(march) + 1
    assert calls["change_vs_last_year_pct"] == pytest.approx(100 / len(march), abs=0.05)
    row = next(r for r in calls["by_category"] if r["category"] == "parking")
    n_parking = int((march["category"] == "parking").sum())
    assert (row["count"], row["same_month_last_year"]) == (n_parking + 1, n_parking)
    others = [r for r in calls["by_category"] if r["category"] != "parking"]
    assert all(r["count"] == r["same_month_last_year"] for r in others)


def test_new_and_cooled_hotspots_compare_top_lists(
    written: tuple[report.MonthlyReport, dict[str, Path]],
    hostile: gpd.GeoDataFrame,
    month: str,
    helsinki_net: network.StreetNetwork,
) -> None:
    rep, _ = written
    hot = rep.data["hotspots"]
    # the two top lists, computed here on their own: up to the month's end and up to its start
    located = hs.select_incidents(hostile)
    t = pd.to_datetime(located["received_at"])
    start = pd.Period(month).start_time
    end = pd.Period(month).end_time.normalize() + pd.Timedelta(days=1)
    st = hs.street_units(helsinki_net.walk)
    now = hs.find_hotspots(located.loc[(t < end).to_numpy()], st, at=end)
    prev = hs.find_hotspots(located.loc[(t < start).to_numpy()], st, at=start)
    top_now = list(now["unit_id"].head(report.TOP_HOTSPOTS))
    top_prev = list(prev["unit_id"].head(report.TOP_HOTSPOTS))
    assert [r["unit_id"] for r in hot["top"]] == top_now
    assert {r["unit_id"] for r in hot["new"]} == set(top_now) - set(top_prev)
    assert {r["unit_id"] for r in hot["cooled"]} == set(top_prev) - set(top_now)
    assert hot["new"]  # the sample's third month does bring new hotspots


def test_hotspots_file_on_other_units_counts_the_month_on_its_own_units(
    geocoded: gpd.GeoDataFrame, month: str, helsinki_net: network.StreetNetwork, tmp_path: Path
) -> None:
    """Hotspots tuned onto 50 m units: this month's calls are counted on those units."""
    located = hs.select_incidents(geocoded)
    end = pd.Period(month).end_time.normalize() + pd.Timedelta(days=1)
    t = pd.to_datetime(located["received_at"])
    upto = located.loc[(t < end).to_numpy()]
    st50 = hs.street_units(helsinki_net.walk, unit_length=50.0)
    found = hs.find_hotspots(upto, st50, at=end)
    path = pipeline.write_hotspots(found, tmp_path / "hot.gpkg", incidents=len(upto))
    src = tmp_path / "geo.gpkg"
    geocoded.to_file(src, driver="GPKG")
    rep, _ = pipeline.report_file(src, month, tmp_path / "rep", network=helsinki_net, hotspots=path)
    this = located.loc[((t >= pd.Period(month).start_time) & (t < end)).to_numpy()]
    unit_of = st50.assign(this.geometry)
    direct = np.bincount(unit_of[unit_of >= 0], minlength=len(st50.units))
    rows = rep.data["hotspots"]["top"]
    assert [r["unit_id"] for r in rows] == found["unit_id"].head(len(rows)).tolist()
    assert [r["calls_this_month"] for r in rows] == [int(direct[r["unit_id"]]) for r in rows]
    assert sum(r["calls_this_month"] for r in rows) > 0
    # without the metadata the units are unknown: the calls are counted by distance instead,
    # and every call counted lies on or beside its hotspot piece
    path.with_suffix(".meta.json").unlink()
    rep2, _ = pipeline.report_file(
        src, month, tmp_path / "rep2", network=helsinki_net, hotspots=path
    )
    rows2 = rep2.data["hotspots"]["top"]
    assert [r["unit_id"] for r in rows2] == [r["unit_id"] for r in rows]
    assert sum(r["calls_this_month"] for r in rows2) >= sum(r["calls_this_month"] for r in rows)


@pytest.mark.parametrize("bad", ["2025-13", "2025/11", "nov", ""])
def test_bad_month_is_refused(geocoded: gpd.GeoDataFrame, bad: str) -> None:
    with pytest.raises(report.ReportError, match="YYYY-MM"):
        report.monthly_report(geocoded, bad)


def test_month_without_calls_is_refused(geocoded: gpd.GeoDataFrame) -> None:
    with pytest.raises(report.ReportError, match="No calls were received in 1999-01"):
        report.monthly_report(geocoded, "1999-01")


def test_report_cli(
    geocoded: gpd.GeoDataFrame, month: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415

    from cso_geo.cli import app  # noqa: PLC0415

    src = tmp_path / "geo.gpkg"
    geocoded.to_file(src, driver="GPKG")
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(src), "--month", month, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    n = int((pd.to_datetime(geocoded["received_at"]).dt.strftime("%Y-%m") == month).sum())
    assert f"{month}: {n:,} calls" in result.output
    assert (tmp_path / f"report-{month}.html").exists()
    data = json.loads((tmp_path / f"report-{month}.json").read_text())
    assert data["calls"]["total"] == n
    bad = runner.invoke(app, ["report", str(src), "--month", "2025-13", "--out", str(tmp_path)])
    assert bad.exit_code == 2
    assert "YYYY-MM" in bad.output


def test_agency_beats_without_workload_and_bad_beats(
    geocoded: gpd.GeoDataFrame, month: str, beats: gpd.GeoDataFrame
) -> None:
    """Today's beat polygons of an agency have no planned workload; that is n/a, not a crash."""
    plain = beats[["beat_id", "geometry"]]
    rep = report.monthly_report(geocoded, month, beats=plain)
    rows = rep.data["beats"]
    assert [r["beat_id"] for r in rows] == [1, 2]
    assert all(r["planned_workload_min"] is None for r in rows)
    t = pd.to_datetime(geocoded["received_at"])
    located = geocoded.loc[
        (t.dt.strftime("%Y-%m") == month).to_numpy() & (geocoded["match_type"] != "unmatched")
    ]
    assert sum(r["calls_this_month"] for r in rows) == len(
        located.to_crs(beats.crs).clip(beats.union_all())
    )
    with pytest.raises(report.ReportError, match="no beat_id column"):
        report.monthly_report(geocoded, month, beats=beats.rename(columns={"beat_id": "id"}))
