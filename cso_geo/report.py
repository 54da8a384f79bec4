"""The monthly hotspot report for command staff: one self-contained HTML page.

`monthly_report` computes the month's figures from geocoded incidents (calls by
category against the previous month and the same month last year, daily and
hourly counts, the geocoding match rate, top hotspots with their profiles and
trend classes, new and cooled hotspots, beat workloads and the backtest of the
hotspot method) and renders them with matplotlib charts embedded as data URIs.
`write_report` writes ``report-YYYY-MM.html``, the charts as PNG files beside it
and ``report-YYYY-MM.json`` with the numbers.

Every string from the data is HTML-escaped: the report never executes input text.
"""

from __future__ import annotations

import base64
import calendar
import dataclasses
import html
import io
import json
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cso_geo import hotspots as hs
from cso_geo._errors import CsoGeoError
from cso_geo._io import atomic_write_bytes, atomic_write_text
from cso_geo.beats import beat_key
from cso_geo.network import StreetNetwork

__all__ = ["MonthlyReport", "ReportError", "monthly_report", "write_report"]

log = logging.getLogger(__name__)

#: Hotspots listed in the report.
#: Street unit length of hotspots whose own is not known (the hotspot default).
DEFAULT_UNIT_LENGTH: Final = 100.0
TOP_HOTSPOTS: Final = 10
#: Coverage (share of street length) whose backtest figures the report shows.
BACKTEST_COVERAGE: Final = 0.05
#: Methods backtested when no backtest file is given (quick ones).
BACKTEST_METHODS: Final = ("segment", "naive", "counts")
_WEEKDAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_PNG_METADATA: Final = {"Software": None}


class ReportError(CsoGeoError, ValueError):
    """The report cannot be made from what was given (bad month, no data)."""


@dataclass(frozen=True)
class MonthlyReport:
    """A rendered monthly report.

    Attributes
    ----------
    month
        ``YYYY-MM``.
    data
        Every figure in the report (JSON-serialisable; missing comparisons are None).
    html
        The self-contained page (charts as data URIs).
    charts
        PNG bytes of each chart by name.
    """

    month: str
    data: dict[str, Any]
    html: str
    charts: dict[str, bytes] = field(default_factory=dict)


# --- figures -------------------------------------------------------------------------------------


def _month_bounds(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month or ""):
        raise ReportError(f"A month is written YYYY-MM (e.g. 2025-11), not {month!r}.")
    start = pd.Timestamp(f"{month}-01")
    return start, start + pd.offsets.MonthBegin(1)


def _pct(now: int | None, before: int | None) -> float | None:
    if now is None or before is None or before == 0:
        return None
    return round(100.0 * (now - before) / before, 1)


def _covered(t: pd.Series, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    """Whether the data reaches into [start, end) at all (else comparisons are n/a)."""
    return bool(len(t)) and t.min() < end and t.max() >= start


def _calls(incidents: pd.DataFrame, t: pd.Series, month_start: pd.Timestamp) -> dict[str, Any]:
    """Calls by category this month, the previous month and the same month last year."""
    periods = {
        "count": month_start,
        "previous_month": month_start - pd.offsets.MonthBegin(1),
        "same_month_last_year": month_start - pd.DateOffset(years=1),
    }
    cats = incidents["category"].astype(str) if "category" in incidents.columns else None
    by_period: dict[str, dict[str, int] | None] = {}
    totals: dict[str, int | None] = {}
    for key, start in periods.items():
        end = start + pd.offsets.MonthBegin(1)
        if key != "count" and not _covered(t, start, end):
            by_period[key], totals[key] = None, None
            continue
        inside = ((t >= start) & (t < end)).to_numpy()
        totals[key] = int(inside.sum())
        by_period[key] = (
            {str(k): int(v) for k, v in cats[inside].value_counts().items()}
            if cats is not None
            else {}
        )
    names = sorted(
        {c for counts in by_period.values() if counts for c in counts},
        key=lambda c: (-(by_period["count"] or {}).get(c, 0), c),
    )
    rows = []
    for name in names:
        now = (by_period["count"] or {}).get(name, 0)
        prev = (
            None
            if by_period["previous_month"] is None
            else by_period["previous_month"].get(name, 0)
        )
        last = (
            None
            if by_period["same_month_last_year"] is None
            else by_period["same_month_last_year"].get(name, 0)
        )
        rows.append(
            {
                "category": name,
                "count": now,
                "previous_month": prev,
                "same_month_last_year": last,
                "change_vs_previous_pct": _pct(now, prev),
                "change_vs_last_year_pct": _pct(now, last),
            }
        )
    total = totals["count"] or 0
    return {
        "total": total,
        "previous_month": totals["previous_month"],
        "same_month_last_year": totals["same_month_last_year"],
        "change_vs_previous_pct": _pct(total, totals["previous_month"]),
        "change_vs_last_year_pct": _pct(total, totals["same_month_last_year"]),
        "by_category": rows,
    }


def _geocoding(month_rows: pd.DataFrame) -> dict[str, Any]:
    if "match_type" not in month_rows.columns:
        return {"total": len(month_rows), "matched": None, "match_rate": None, "by_match_type": {}}
    types = month_rows["match_type"].astype(str)
    matched = int((types != "unmatched").sum())
    total = len(month_rows)
    return {
        "total": total,
        "matched": matched,
        "match_rate": round(matched / total, 4) if total else None,
        "by_match_type": {str(k): int(v) for k, v in types.value_counts().sort_index().items()},
    }


def _peak_weekday(profile: object) -> str | None:
    try:
        grid = np.asarray(json.loads(str(profile)), dtype=float)
    except (TypeError, ValueError):
        return None
    if grid.shape != (7, 24) or not np.isfinite(grid).all() or grid.sum() <= 0:
        return None
    return _WEEKDAYS[int(grid.sum(axis=1).argmax())]


def _counts_on(
    found: gpd.GeoDataFrame, points: gpd.GeoDataFrame, streets: hs.StreetUnits, method: str
) -> dict[int, int]:
    """Calls in `points` on each hotspot (keyed by ``unit_id``).

    Street hotspots are pieces of `streets` (the units they were made on):
    each call counts on the piece it snaps to. Grid cells and cluster polygons
    count the calls inside them.
    """
    if found.empty or points.empty:
        return {}
    geoms = found.geometry.to_crs(points.crs) if found.crs != points.crs else found.geometry
    ids = found["unit_id"].to_numpy(dtype=np.int64)
    if method in hs.SEGMENT_METHODS:
        n = len(streets.units)
        known = (ids >= 0) & (ids < n)
        same_units = bool(known.all()) and np.allclose(
            geoms.length.to_numpy(), streets.lengths[ids[known]], atol=0.5
        )
        if same_units:
            unit_of = streets.assign(points.geometry)
            counts = np.bincount(unit_of[unit_of >= 0], minlength=n)
            return {int(u): int(counts[u]) for u in ids}
        # hotspots made on other units than these: count each call on the nearest
        # hotspot piece within a few metres of it
        log.info(
            "hotspots are not pieces of %g m units: counting calls by distance", streets.unit_length
        )
        _, near = geoms.sindex.nearest(points.geometry, max_distance=5.0, return_all=False)
    else:
        _, near = geoms.sindex.query(points.geometry, predicate="within")
    per = np.bincount(near, minlength=len(found))
    return {int(u): int(c) for u, c in zip(ids, per, strict=True)}


def _hotspot_rows(
    found: gpd.GeoDataFrame, month_counts: Mapping[int, int] | None, top: int
) -> list[dict[str, Any]]:
    rows = []
    for row in found.head(top).itertuples(index=False):
        unit = int(row.unit_id)
        rows.append(
            {
                "rank": int(row.rank),
                "unit_id": unit,
                # grid cells and clusters have no street name
                "name": "" if pd.isna(getattr(row, "name", None)) else str(row.name),
                "count": int(row.count),
                "calls_this_month": None
                if month_counts is None
                else int(month_counts.get(unit, 0)),
                "trend": str(row.trend),
                "top_call_types": str(row.top_call_types),
                "peak_hours": str(row.peak_hours),
                "peak_weekday": _peak_weekday(getattr(row, "profile", None)),
                "first_seen": str(row.first_seen)[:10],
                "last_seen": str(row.last_seen)[:10],
            }
        )
    return rows


def _beat_rows(beats: gpd.GeoDataFrame, month_points: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Planned workload of each beat and its calls and service minutes this month.

    An agency's own beat polygons carry no planned workload: it is None there.
    """
    if "beat_id" not in beats.columns:
        msg = (
            f"the beats have no beat_id column (columns: {', '.join(map(str, beats.columns))}); "
            "use a file written by `cso-geo beats` or add a beat_id column"
        )
        raise ReportError(msg)
    if beats.crs is None:
        raise ReportError("the beats have no CRS; save them with one (e.g. EPSG:4326)")
    b = beats.to_crs(month_points.crs) if month_points.crs is not None else beats
    joined = gpd.sjoin(
        month_points[
            ["geometry", *(["service_minutes"] if "service_minutes" in month_points else [])]
        ],
        b[["beat_id", "geometry"]],
        how="inner",
        predicate="within",
    )
    calls = joined.groupby("beat_id").size()
    minutes = (
        joined.groupby("beat_id")["service_minutes"].sum()
        if "service_minutes" in joined.columns
        else pd.Series(dtype=float)
    )
    b = b.sort_values("beat_id", kind="stable")
    planned = (
        pd.to_numeric(b["workload"], errors="coerce")
        if "workload" in b.columns
        else pd.Series(np.nan, index=b.index)
    )
    rows = []
    for bid, plan in zip(b["beat_id"], planned, strict=True):
        rows.append(
            {
                "beat_id": _beat_id(bid),
                "planned_workload_min": None if pd.isna(plan) else round(float(plan), 1),
                "calls_this_month": int(calls.get(bid, 0)),
                "service_minutes_this_month": round(float(minutes.get(bid, 0.0)), 1),
            }
        )
    return rows


def _beat_id(value: object) -> int | str:
    """A beat id for the report: ``3`` for 3, 3.0 or "3"; other ids as text."""
    key = beat_key(value)
    return int(key) if re.fullmatch(r"-?\d+", key) else key


def _backtest_rows(report: Mapping[str, Any], coverage: float) -> dict[str, Any]:
    key = f"{coverage:g}"
    methods = {}
    for name, figures in (report.get("methods") or {}).items():
        methods[str(name)] = {
            metric: _finite(figures.get(f"{metric}@{key}")) for metric in ("pai", "hit", "pei")
        } | {"rri": _finite(figures.get("rri"))}
    return {"coverage": coverage, "cuts": list(report.get("cuts") or []), "methods": methods}


def _finite(value: object) -> float | None:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return round(f, 3) if math.isfinite(f) else None


# --- charts --------------------------------------------------------------------------------------


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata=_PNG_METADATA)
    return buf.getvalue()


def _category_chart(calls: Mapping[str, Any]) -> bytes:
    rows = calls["by_category"]
    fig = Figure(figsize=(8, max(2.5, 0.35 * len(rows) + 1)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    series = [
        ("count", "This month", "#c53030"),
        ("previous_month", "Previous month", "#718096"),
        ("same_month_last_year", "Same month last year", "#cbd5e0"),
    ]
    h = 0.27
    for i, (key, label, color) in enumerate(series):
        vals = [r[key] for r in rows]
        if all(v is None for v in vals):
            continue
        ax.barh(y + (i - 1) * h, [v or 0 for v in vals], height=h, label=label, color=color)
    ax.set_yticks(y, [r["category"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("Calls")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Calls by category")
    return _png(fig)


def _daily_chart(daily: Mapping[str, int], hourly: Sequence[int]) -> bytes:
    fig = Figure(figsize=(9, 3), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[3, 2])
    days = list(daily)
    ax1.bar(range(len(days)), list(daily.values()), color="#2b6cb0")
    ax1.set_xticks(range(0, len(days), 7), [d[-5:] for d in days[::7]])
    ax1.set_title("Calls per day")
    ax2.bar(range(24), list(hourly), color="#dd6b20")
    ax2.set_xticks(range(0, 24, 3))
    ax2.set_title("Calls per hour of day")
    return _png(fig)


def _static_map(
    network: StreetNetwork | None,
    found: gpd.GeoDataFrame | None,
    beats: gpd.GeoDataFrame | None,
    top: int,
) -> bytes | None:
    """Streets, beats and the top hotspots drawn with matplotlib (no tiles)."""
    if network is None and (found is None or found.empty):
        return None
    fig = Figure(figsize=(7, 7), layout="constrained")
    ax = fig.add_subplot()
    crs = network.crs if network is not None else found.crs if found is not None else None
    if network is not None:
        edges = [
            d["geometry"]
            for _, _, d in network.walk.edges(data=True)
            if d.get("geometry") is not None
        ]
        _plot_lines(ax, edges, color="#a0aec0", lw=0.5)
    if beats is not None and len(beats):
        b = beats.to_crs(crs) if crs is not None else beats
        for geom in b.geometry:
            _plot_lines(ax, [shapely.boundary(geom)], color="#2f855a", lw=1.5)
    if found is not None and not found.empty:
        f = found.head(top)
        f = f.to_crs(crs) if crs is not None and f.crs is not None else f
        _plot_lines(ax, list(f.geometry), color="#c53030", lw=3.5)
        for rank, geom in zip(f["rank"], f.geometry, strict=True):
            p = geom.representative_point()
            ax.annotate(
                str(int(rank)),
                (p.x, p.y),
                fontsize=8,
                weight="bold",
                color="#742a2a",
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"Top {top} hotspots (red) on the street network")
    return _png(fig)


def _plot_lines(ax: Any, geoms: Sequence[Any], *, color: str, lw: float) -> None:
    from matplotlib.collections import LineCollection  # noqa: PLC0415

    segs = []
    for g in geoms:
        for part in shapely.get_parts(g):
            coords = shapely.get_coordinates(part)
            if len(coords) >= 2:
                segs.append(coords)
    if segs:
        ax.add_collection(LineCollection(segs, colors=color, linewidths=lw))
        ax.autoscale_view()


# --- the report ----------------------------------------------------------------------------------


def monthly_report(
    incidents: gpd.GeoDataFrame,
    month: str,
    *,
    hotspots: gpd.GeoDataFrame | None = None,
    beats: gpd.GeoDataFrame | None = None,
    backtest: Mapping[str, Any] | None = None,
    match_report: Mapping[str, Any] | None = None,
    network: StreetNetwork | None = None,
    hotspots_meta: Mapping[str, Any] | None = None,
    top: int = TOP_HOTSPOTS,
) -> MonthlyReport:
    """Compute and render the hotspot report of one month.

    Parameters
    ----------
    incidents : geopandas.GeoDataFrame
        Geocoded incidents (`cso_geo.pipeline.read_geocoded`), all months available:
        ``received_at``, ``category``, ``match_type``, ``service_minutes``.
    month : str
        ``YYYY-MM``.
    hotspots : geopandas.GeoDataFrame, optional
        Hotspots to list; by default found with `cso_geo.hotspots.find_hotspots`
        (segment method) on the incidents up to the end of the month (needs `network`).
    beats : geopandas.GeoDataFrame, optional
        The ``beats`` layer of a beats GeoPackage: planned workload and this month's
        calls and service minutes per beat.
    backtest : mapping, optional
        A ``backtest.json``; by default the segment, naive and counts methods are
        backtested with one cut at the month start over the month (needs `network`).
    match_report : mapping, optional
        The geocoding match report; its overall hit rate is shown beside the month's.
    network : StreetNetwork, optional
        The street network: hotspots, new/cooled hotspots, backtest, static map.
    hotspots_meta : mapping, optional
        How `hotspots` were made (``method``, ``params``, ``unit_length``: the
        ``X.meta.json`` `cso_geo.pipeline.write_hotspots` writes beside them), so
        this month's calls are counted on the same street units and last
        month's list for new/cooled hotspots is made the same way.
    top : int
        Hotspots listed (and compared for new/cooled).

    Returns
    -------
    MonthlyReport
    """
    start, end = _month_bounds(month)
    if "received_at" not in incidents.columns:
        raise ReportError("the incidents have no received_at column; use geocoded incidents")
    t = pd.to_datetime(incidents["received_at"])
    inside = ((t >= start) & (t < end)).to_numpy()
    month_rows = incidents.loc[inside]
    if month_rows.empty:
        first, last = (t.min(), t.max()) if len(t) else (None, None)
        raise ReportError(
            f"No calls were received in {month}; the data covers {first} to {last}. "
            "Choose a month inside it."
        )
    calls = _calls(incidents, t, start)
    days = pd.date_range(start, end - pd.Timedelta(days=1), freq="D")
    day_counts = t[inside].dt.normalize().value_counts()
    daily = {d.strftime("%Y-%m-%d"): int(day_counts.get(d, 0)) for d in days}
    hourly = np.bincount(t[inside].dt.hour.to_numpy(), minlength=24).astype(int).tolist()
    geocoding = _geocoding(month_rows)
    if match_report is not None and "hit_rate" in match_report:
        geocoding["overall_hit_rate"] = _finite(match_report["hit_rate"])

    located = hs.select_incidents(incidents)
    lt = pd.to_datetime(located["received_at"])
    month_points = located.loc[((lt >= start) & (lt < end)).to_numpy()]
    meta = dict(hotspots_meta or {})
    method = str(meta.get("method") or "segment")
    fields = {f.name for f in dataclasses.fields(hs.MethodParams)}
    params = hs.MethodParams(**{k: v for k, v in (meta.get("params") or {}).items() if k in fields})
    unit_length = float(meta.get("unit_length") or DEFAULT_UNIT_LENGTH)
    streets = (
        hs.street_units(network.walk, unit_length=unit_length) if network is not None else None
    )
    # the hotspots' own selection (category, shift, days) for everything said about them
    filters = meta.get("filters") or {}
    pool = hs.select_incidents(
        located,
        categories=filters.get("categories") or None,
        shift=filters.get("shift"),
        days=filters.get("days"),
    )
    pt = pd.to_datetime(pool["received_at"])
    hot_month = pool.loc[((pt >= start) & (pt < end)).to_numpy()]
    found = hotspots
    new: list[dict[str, Any]] | None = None
    cooled: list[dict[str, Any]] | None = None
    month_counts: dict[int, int] | None = None
    if streets is not None:
        upto = pool.loc[(pt < end).to_numpy()]
        if found is None:
            method = "segment"
            found = hs.find_hotspots(upto, streets, at=end, params=params)
        month_counts = _counts_on(found, hot_month, streets, method)
        before = pool.loc[(pt < start).to_numpy()]
        # cluster ids of two HDBSCAN runs do not match: no new/cooled for them
        if not before.empty and method != "hdbscan":
            prev = hs.find_hotspots(before, streets, method=method, params=params, at=start)
            now_ids = list(found["unit_id"].head(top))
            prev_ids = list(prev["unit_id"].head(top))
            new = _hotspot_rows(
                found[found["unit_id"].isin(set(now_ids) - set(prev_ids))], month_counts, top
            )
            cooled = _hotspot_rows(
                prev[prev["unit_id"].isin(set(prev_ids) - set(now_ids))],
                _counts_on(prev, hot_month, streets, method),
                top,
            )
    hot_rows = None if found is None else _hotspot_rows(found, month_counts, top)

    bt: dict[str, Any] | None = None
    if backtest is not None:
        bt = _backtest_rows(backtest, BACKTEST_COVERAGE) | {"source": "file"}
    elif streets is not None:
        history = located.loc[(lt < end).to_numpy()]
        if (pd.to_datetime(history["received_at"]) < start).any():
            report = hs.backtest(
                history,
                streets,
                cut=start,
                cuts=1,
                horizon_days=(end - start).days,
                coverages=(BACKTEST_COVERAGE,),
                methods=BACKTEST_METHODS,
            )
            bt = _backtest_rows(report, BACKTEST_COVERAGE) | {
                "source": f"computed: cut {start.date()}, horizon {(end - start).days} days"
            }

    beat_rows = None if beats is None else _beat_rows(beats, month_points)
    data: dict[str, Any] = {
        "month": month,
        "period": {"start": str(start.date()), "end": str(end.date())},
        "calls": calls,
        "daily": daily,
        "hourly": hourly,
        "geocoding": geocoding,
        "hotspots": {"top": hot_rows, "new": new, "cooled": cooled},
        "beats": beat_rows,
        "backtest": bt,
    }
    charts = {"categories": _category_chart(calls), "daily": _daily_chart(daily, hourly)}
    static = _static_map(network, found, beats, top)
    if static is not None:
        charts["map"] = static
    page = _render(data, charts)
    log.info(
        "monthly report %s: %d calls, %d categories, %s hotspots, %d charts",
        month,
        calls["total"],
        len(calls["by_category"]),
        "no" if hot_rows is None else len(hot_rows),
        len(charts),
    )
    return MonthlyReport(month, data, page, charts)


# --- HTML ----------------------------------------------------------------------------------------

_CSS: Final = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1a202c; margin: 24px auto; max-width: 1000px;
  padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 28px;
  border-bottom: 2px solid #e2e8f0; padding-bottom: 3px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 3px 8px;
  border-bottom: 1px solid #e2e8f0; text-align: left; } td.n, th.n { text-align: right; }
.kpi { display: inline-block; margin: 6px 18px 6px 0; } .kpi b { font-size: 22px; display: block; }
.muted { color: #718096; } img { max-width: 100%; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; }
  table, img { break-inside: avoid; } }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: object, *, pct: bool = False, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if pct:
        return f"{float(value):+.1f}%"  # type: ignore[arg-type]
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return _e(value)


def _cell(value: object, key: str | None = None, **fmt: Any) -> str:
    attr = f' data-key="{_e(key)}"' if key else ""
    return f'<td class="n"{attr}>{_num(value, **fmt)}</td>'


def _img(charts: Mapping[str, bytes], name: str, alt: str) -> str:
    if name not in charts:
        return ""
    data = base64.b64encode(charts[name]).decode("ascii")
    return f'<img id="chart-{name}" alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _hotspot_table(rows: list[dict[str, Any]] | None, key: str) -> str:
    if rows is None:
        return '<p class="muted">n/a (needs the street network)</p>'
    if not rows:
        return '<p class="muted">none</p>'
    head = (
        "<tr><th>Rank</th><th>Street</th><th class='n'>Calls (all data to month end)</th>"
        "<th class='n'>This month</th><th>Trend</th><th>Top call types</th>"
        "<th>Peak hours</th><th>Peak day</th></tr>"
    )
    body = "".join(
        f'<tr data-unit="{_e(r["unit_id"])}"><td>{_e(r["rank"])}</td><td>{_e(r["name"])}</td>'
        f"{_cell(r['count'])}{_cell(r['calls_this_month'])}<td>{_e(r['trend'])}</td>"
        f"<td>{_e(r['top_call_types'])}</td><td>{_e(r['peak_hours'])}</td>"
        f"<td>{_e(r['peak_weekday'] or 'n/a')}</td></tr>"
        for r in rows
    )
    return f'<table id="{_e(key)}">{head}{body}</table>'


def _render(data: Mapping[str, Any], charts: Mapping[str, bytes]) -> str:
    calls = data["calls"]
    geo = data["geocoding"]
    month = data["month"]
    label = f"{calendar.month_name[int(month[5:])]} {month[:4]}"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Hotspot report {_e(label)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Monthly hotspot report: {_e(label)}</h1>",
        f'<p class="muted">Calls received {_e(data["period"]["start"])} to before '
        f"{_e(data['period']['end'])}.</p>",
        '<div class="kpi">Calls this month<b data-key="calls.total">'
        f"{_num(calls['total'])}</b></div>",
        '<div class="kpi">vs previous month<b data-key="calls.change_vs_previous_pct">'
        f"{_num(calls['change_vs_previous_pct'], pct=True)}</b></div>",
        '<div class="kpi">vs same month last year<b data-key="calls.change_vs_last_year_pct">'
        f"{_num(calls['change_vs_last_year_pct'], pct=True)}</b></div>",
        '<div class="kpi">Geocoded<b data-key="geocoding.match_rate">'
        + ("n/a" if geo["match_rate"] is None else f"{100 * geo['match_rate']:.1f}%")
        + "</b></div>",
        "<h2>Calls by category</h2>",
        '<table id="categories"><tr><th>Category</th><th class="n">This month</th>'
        '<th class="n">Previous month</th><th class="n">Change</th>'
        '<th class="n">Same month last year</th><th class="n">Change</th></tr>',
    ]
    for r in calls["by_category"]:
        c = r["category"]
        parts.append(
            f'<tr data-category="{_e(c)}"><td>{_e(c)}</td>'
            + _cell(r["count"], f"category.{c}.count")
            + _cell(r["previous_month"], f"category.{c}.previous_month")
            + _cell(r["change_vs_previous_pct"], pct=True)
            + _cell(r["same_month_last_year"], f"category.{c}.same_month_last_year")
            + _cell(r["change_vs_last_year_pct"], pct=True)
            + "</tr>"
        )
    parts.append(
        "<tr><th>All</th>"
        + _cell(calls["total"])
        + _cell(calls["previous_month"], "calls.previous_month")
        + _cell(calls["change_vs_previous_pct"], pct=True)
        + _cell(calls["same_month_last_year"], "calls.same_month_last_year")
        + _cell(calls["change_vs_last_year_pct"], pct=True)
        + "</tr></table>"
    )
    parts.append(_img(charts, "categories", "Calls by category"))
    parts.append("<h2>When calls came in</h2>" + _img(charts, "daily", "Calls per day and hour"))
    hot = data["hotspots"]
    parts.append("<h2>Top hotspots</h2>" + _hotspot_table(hot["top"], "hotspots"))
    parts.append(_img(charts, "map", "Map of the top hotspots"))
    parts.append(
        "<h2>New and cooled hotspots</h2><p>New in this month's top list:</p>"
        + _hotspot_table(hot["new"], "new-hotspots")
        + "<p>In last month's top list, not in this month's (cooled):</p>"
        + _hotspot_table(hot["cooled"], "cooled-hotspots")
    )
    parts.append("<h2>Beat workloads</h2>")
    if data["beats"] is None:
        parts.append('<p class="muted">n/a (no beats file given)</p>')
    else:
        parts.append(
            '<table id="beats"><tr><th>Beat</th><th class="n">Planned workload (min)</th>'
            '<th class="n">Calls this month</th><th class="n">Service minutes this month</th></tr>'
            + "".join(
                f"<tr><td>{_e(b['beat_id'])}</td>{_cell(b['planned_workload_min'], digits=1)}"
                + _cell(b["calls_this_month"], f"beat.{b['beat_id']}.calls")
                + f"{_cell(b['service_minutes_this_month'], digits=1)}</tr>"
                for b in data["beats"]
            )
            + "</table>"
        )
    parts.append(
        "<h2>Geocoding</h2>"
        f'<p><span data-key="geocoding.matched">{_num(geo["matched"])}</span> of '
        f'<span data-key="geocoding.total">{_num(geo["total"])}</span> calls of the month '
        "were placed on the map"
        + (
            f" (all months: {100 * geo['overall_hit_rate']:.1f}%)"
            if geo.get("overall_hit_rate") is not None
            else ""
        )
        + ".</p><table id='match-types'><tr><th>Match type</th><th class='n'>Calls</th></tr>"
        + "".join(
            f"<tr><td>{_e(k)}</td>{_cell(v, f'match.{k}')}</tr>"
            for k, v in geo["by_match_type"].items()
        )
        + "</table>"
    )
    parts.append("<h2>How well the hotspot method predicts</h2>")
    bt = data["backtest"]
    if bt is None:
        parts.append('<p class="muted">n/a (needs the street network or a backtest file)</p>')
    else:
        cov = f"{100 * bt['coverage']:g}%"
        parts.append(
            f"<p>Source: {_e(bt['source'])}. Figures at {cov} of street length: hit rate "
            "(share of next-period calls on flagged streets), PAI and PEI.</p>"
            '<table id="backtest"><tr><th>Method</th><th class="n">Hit rate</th>'
            '<th class="n">PAI</th><th class="n">PEI</th><th class="n">RRI</th></tr>'
            + "".join(
                f"<tr><td>{_e(m)}</td>"
                + "".join(
                    _cell(f[k], f"backtest.{m}.{k}", digits=3) for k in ("hit", "pai", "pei", "rri")
                )
                + "</tr>"
                for m, f in bt["methods"].items()
            )
            + "</table>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(report: MonthlyReport, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``report-YYYY-MM.html``, its PNG charts and ``report-YYYY-MM.json`` atomically."""
    folder = Path(out_dir)
    stem = f"report-{report.month}"
    paths: dict[str, Path] = {}
    for name, png in report.charts.items():
        paths[f"chart {name}"] = atomic_write_bytes(folder / f"{stem}-{name}.png", png)
    paths["json"] = atomic_write_text(
        folder / f"{stem}.json", json.dumps(report.data, indent=2, sort_keys=True) + "\n"
    )
    paths["html"] = atomic_write_text(folder / f"{stem}.html", report.html)
    log.info("report %s written to %s (%d files)", report.month, folder, len(paths))
    return paths
