"""A seeded generator of synthetic CAD exports placed on a real street network.

The export looks like what an agency's CAD system hands an analyst: one row a
call, with received/dispatched/cleared times, an agency call-type code,
priority, disposition, beat and an address typed the way dispatchers type
them. A separate truth file holds where each call really was, so the geocoder
and the hotspot methods can be scored against known answers.

What makes it realistic (see the project's domain notes):

- calls concentrate on few street segments (Weisburd's law: about half the
  calls on 3-6% of segments), through persistent hotspots plus ones that
  emerge or fade during the period, over a heavy-tailed background;
- every month some segments flare up for that month only (a party house, a
  dumped car), the noise that makes last month's counts a poor forecast;
- the default density (`CALLS_PER_KM_MONTH`) is that of a busy downtown, so a
  hotspot sees a handful of calls a month, not dozens;
- each call type keeps its own hour-of-day and day-of-week profile and season;
- near-repeat bursts: some calls are followed by more of the same type on the
  same or an adjacent segment within hours or days;
- addresses come as house numbers where OSM has them, ``N00 BLOCK OF``
  blocks, intersections (``A / B``, ``A & B``, ``A AND B``, ``A AT B``) and
  bare streets, in mixed case with USPS abbreviations, with about 2% typos
  and about 1% unlocatable junk (``UNKNOWN``, ``CITYWIDE``, empty).
"""

from __future__ import annotations

import calendar
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import Transformer
from scipy.sparse import csgraph

from cso_geo._io import atomic_path
from cso_geo.network import StreetNetwork, street_segments
from cso_geo.streetnames import abbreviate, fold_accents, infer_block_size
from cso_geo.taxonomy import CallType, Taxonomy, load_taxonomy

log = logging.getLogger(__name__)

__all__ = [
    "CAD_COLUMNS",
    "CALLS_PER_KM_MONTH",
    "TRUTH_COLUMNS",
    "SampleCad",
    "generate_cad",
    "hotspot_segments",
    "truth_path_for",
    "write_sample",
]

#: Columns of the generated CAD export, in order.
CAD_COLUMNS: tuple[str, ...] = (
    "incident_id",
    "received_at",
    "dispatched_at",
    "cleared_at",
    "call_type_code",
    "call_type",
    "priority",
    "disposition",
    "beat",
    "address",
)

#: Columns of the truth file written beside it.
TRUTH_COLUMNS: tuple[str, ...] = (
    "incident_id",
    "lon",
    "lat",
    "location_type",
    "segment_id",
    "street",
    "cross_street",
    "housenumber",
    "category",
    "hotspot_id",
    "hotspot_kind",
    "near_repeat",
    "typo",
)

_JUNK = ("UNKNOWN", "CITYWIDE", "", "N/A", "UNK", "VARIOUS LOCATIONS", "REFUSED")
_JOINERS = ((" / ", 0.5), (" & ", 0.2), (" AND ", 0.2), (" AT ", 0.1))
_UNITS = ("APT {n}", "#{n}", "UNIT {n}", "STE {n}")
_LEADING_INT = re.compile(r"^\s*(\d+)")
_PLAIN_HOUSENUMBER = r"\d+ ?[A-Za-z]?(?:-\d+ ?[A-Za-z]?)?"


#: Default call density: CSO calls a month per km of named street. Sized for a
#: busy downtown: a whole city sees a few calls per street-km a month, a
#: centre several times that. Denser synthetic data makes every hotspot so
#: loud that one month of counts already finds it, which no real series does.
CALLS_PER_KM_MONTH = 12.5

#: How much busier a one-month flare is than a planted hotspot of the same strength.
FLARE_STRENGTH = 2.0


@dataclass
class SampleCad:
    """A generated CAD export and its truth table, row for row."""

    cad: pd.DataFrame
    truth: pd.DataFrame
    hotspots: pd.DataFrame
    crs: str


# --------------------------------------------------------------------------- #
# the street units calls are placed on
# --------------------------------------------------------------------------- #
def _name_key(name: str) -> str:
    return fold_accents(name).casefold().strip()


def _snap_addresses(
    segments: gpd.GeoDataFrame, addresses: gpd.GeoDataFrame, max_dist: float = 100.0
) -> npt.NDArray[np.int64]:
    """Segment index of each address point (same street name, nearest), or -1."""
    out = np.full(len(addresses), -1, dtype=np.int64)
    if addresses.empty:
        return out
    tree = shapely.STRtree(segments.geometry.to_numpy())
    pts = addresses.geometry.to_numpy()
    ai, si = tree.query(pts, predicate="dwithin", distance=max_dist)
    seg_names = np.array([_name_key(n) for n in segments["name"]])
    addr_names = np.array([_name_key(str(n)) for n in addresses["street"]])
    same = seg_names[si] == addr_names[ai]
    ai, si = ai[same], si[same]
    if len(ai) == 0:
        return out
    dist = shapely.distance(pts[ai], segments.geometry.to_numpy()[si])
    order = np.lexsort((si, dist, ai))
    ai, si = ai[order], si[order]
    first = np.concatenate([[True], ai[1:] != ai[:-1]])
    out[ai[first]] = si[first]
    return out


def _intersection_names(segments: gpd.GeoDataFrame) -> dict[int, list[str]]:
    """Street names meeting at each node where two or more names meet."""
    names: dict[int, set[str]] = {}
    for u, v, name in zip(segments["u"], segments["v"], segments["name"], strict=True):
        names.setdefault(int(u), set()).add(name)
        names.setdefault(int(v), set()).add(name)
    return {n: sorted(s) for n, s in names.items() if len(s) >= 2}


# --------------------------------------------------------------------------- #
# the generator
# --------------------------------------------------------------------------- #
def generate_cad(
    network: StreetNetwork,
    *,
    months: int = 12,
    start: str | date = "2025-01-01",
    seed: int = 1,
    calls_per_month: int | None = None,
    taxonomy: Taxonomy | None = None,
    block_size: int | None = None,
    hotspot_share: float = 0.6,
    hotspot_reach: float = 0.0,
    hotspot_drift: float = 0.8,
    flares_per_month: float = 0.01,
    typo_share: float = 0.02,
    junk_share: float = 0.01,
) -> SampleCad:
    """Generate a synthetic CAD export on the streets and addresses of `network`.

    Parameters
    ----------
    network
        The area's street network (its walk graph and OSM address points).
    months
        Length of the export; it starts on the first of `start`'s month.
    start
        First day, ``YYYY-MM-DD``.
    seed
        Same seed, same network and same options give an identical export.
    calls_per_month
        Mean number of calls in a month before seasonality; by default
        `CALLS_PER_KM_MONTH` for every km of named street.
    taxonomy
        Call types with shares and profiles; the built-in one by default.
    block_size
        House-number block width for ``N00 BLOCK OF`` addresses; by default
        100 where house numbers run into the hundreds (US-style), else 10.
    hotspot_share
        Share of the calls that come from hotspots.
    hotspot_reach
        Metres along the streets over which a hotspot's calls spill from its
        centre segment onto neighbouring ones, fading linearly (a bar strip,
        a park or a transit stop troubles a stretch of street, not one block).
    hotspot_drift
        Month-to-month variation (lognormal sigma) of where inside its reach a
        hotspot's calls fall: the problem corner moves, the area stays.
    flares_per_month
        Share of segments that flare up for one month only (a party house, a
        dumped car, a week of graffiti), kind ``flare`` in the hotspot table:
        the noise a prior-month baseline chases.
    typo_share, junk_share
        Shares of rows with a typo in the street name and of unlocatable rows.

    Returns
    -------
    sample
        The export (`CAD_COLUMNS`), the truth table (`TRUTH_COLUMNS`) and the
        hotspot segments the generator planted.
    """
    if months < 1:
        msg = f"months must be at least 1, not {months}."
        raise ValueError(msg)
    segments = street_segments(network.walk)
    if calls_per_month is None:
        calls_per_month = max(1, round(CALLS_PER_KM_MONTH * segments["length"].sum() / 1000.0))
    if calls_per_month < 1:
        msg = f"calls_per_month must be at least 1, not {calls_per_month}."
        raise ValueError(msg)
    if hotspot_reach < 0 or hotspot_drift < 0 or flares_per_month < 0:
        msg = (
            f"hotspot_reach, hotspot_drift and flares_per_month must not be negative, not "
            f"{hotspot_reach}, {hotspot_drift} and {flares_per_month}."
        )
        raise ValueError(msg)
    for label, share in (
        ("hotspot_share", hotspot_share),
        ("typo_share", typo_share),
        ("junk_share", junk_share),
    ):
        if not 0.0 <= share <= 1.0:
            msg = f"{label} must lie between 0 and 1, not {share}."
            raise ValueError(msg)
    start_day = _parse_start(start)
    rng = np.random.default_rng(seed)
    tax = taxonomy or load_taxonomy()
    types = list(tax.call_types)
    shares = np.array([t.share for t in types], dtype=float)
    if shares.sum() <= 0:
        shares = np.ones(len(types))
    shares /= shares.sum()

    n_seg = len(segments)
    addresses = network.addresses.sort_values(["osm_type", "osmid"], kind="stable")
    addresses = addresses.reset_index(drop=True)
    addr_seg = _snap_addresses(segments, addresses)
    seg_addrs: list[list[int]] = [[] for _ in range(n_seg)]
    # OSM house numbers sometimes carry notes ("4, katutaso/Street level"):
    # dispatchers would not type those, so such points are not used
    plain = addresses["housenumber"].astype(str).str.fullmatch(_PLAIN_HOUSENUMBER).to_numpy()
    for ai, si in enumerate(addr_seg.tolist()):
        if si >= 0 and plain[ai]:
            seg_addrs[si].append(ai)
    house_ints = np.array([_house_int(h) for h in addresses["housenumber"].astype(str)])
    if block_size is None:
        block_size = infer_block_size(house_ints.tolist())
    node_names = _intersection_names(segments)
    nearest_cross = _nearest_cross(segments, node_names, network.walk)
    lengths = segments["length"].to_numpy()

    # ---- where: background and planted hotspots --------------------------- #
    background = np.sqrt(np.maximum(lengths, 5.0)) * rng.lognormal(0.0, 1.0, n_seg)
    background /= background.sum()
    cso_cats = sorted({t.category for t in types if t.is_cso})
    cat_share = np.array(
        [sum(s for t, s in zip(types, shares, strict=True) if t.category == c) for c in cso_cats]
    )
    cat_share /= cat_share.sum()
    n_persist = max(3, round(0.025 * n_seg))
    n_emerge = max(2, round(0.01 * n_seg))
    n_fade = max(2, round(0.01 * n_seg))
    pick_w = 1.0 + np.array([len(a) for a in seg_addrs], dtype=float)
    pick_w /= pick_w.sum()
    n_flare = max(1, round(flares_per_month * n_seg)) if flares_per_month > 0 else 0
    n_hot = min(n_seg, n_persist + n_emerge + n_fade + n_flare * months)
    hot_idx = rng.choice(n_seg, size=n_hot, replace=False, p=pick_w)
    kinds = (
        ["persistent"] * n_persist
        + ["emerging"] * n_emerge
        + ["fading"] * n_fade
        + ["flare"] * (n_flare * months)
    )[:n_hot]
    hot_cat = rng.choice(len(cso_cats), size=n_hot, p=cat_share)
    hot_strength = rng.lognormal(0.0, 0.4, n_hot)
    onset = rng.integers(max(1, months // 4), max(2, months - max(1, months // 4)) + 1, n_hot)
    # flares come n_flare a month, each for its month only
    is_flare = np.array([k == "flare" for k in kinds])
    onset[is_flare] = np.arange(int(is_flare.sum())) // max(n_flare, 1)
    intensity = np.zeros((months, n_hot))
    for j, kind in enumerate(kinds):
        for m in range(months):
            if kind == "persistent":
                level = 1.0
            elif kind == "emerging":
                level = float(np.clip((m - onset[j] + 1) / 2.0, 0.0, 1.0))
            elif kind == "flare":
                level = FLARE_STRENGTH if m == onset[j] else 0.0
            else:
                level = 1.0 if m < onset[j] else 0.5 ** (m - onset[j] + 1)
            intensity[m, j] = level * hot_strength[j] * rng.lognormal(0.0, 0.15)
    hotspots = pd.DataFrame(
        {
            "hotspot_id": [f"H{j + 1:03d}" for j in range(n_hot)],
            "segment_id": segments["segment_id"].to_numpy()[hot_idx],
            "kind": kinds,
            "category": [cso_cats[c] for c in hot_cat],
            "onset_month": [
                (
                    _add_months(start_day, int(onset[j])).strftime("%Y-%m")
                    if k != "persistent"
                    else ""
                )
                for j, k in enumerate(kinds)
            ],
            "street": segments["name"].to_numpy()[hot_idx],
        }
    )

    # each hotspot's reach: its centre segment and the segments around it,
    # weighted by how far along the streets they lie (a sparse n_hot x n_seg matrix)
    reach = _hotspot_reach(segments, network.walk, hot_idx, hotspot_reach)
    # which hotspot a call on a segment belongs to: the one weighing most there
    hot_of_seg = np.full(n_seg, -1, dtype=np.int64)
    dense = reach.toarray()
    covered = dense.max(axis=0) > 0
    hot_of_seg[covered] = dense[:, covered].argmax(axis=0)
    hot_of_seg[hot_idx] = np.arange(n_hot)

    # ---- when and what ---------------------------------------------------- #
    rows_seg: list[npt.NDArray[np.int64]] = []
    rows_type: list[npt.NDArray[np.int64]] = []
    rows_time: list[npt.NDArray[np.int64]] = []
    rows_hot: list[npt.NDArray[np.int64]] = []
    for m in range(months):
        # where inside its reach each hotspot's calls fall this month
        drift = reach.copy()
        drift.data = drift.data * rng.lognormal(0.0, hotspot_drift, drift.nnz)
        drift = sp.diags(1.0 / np.asarray(drift.sum(axis=1)).ravel()) @ drift
        month_start = _add_months(start_day, m)
        n_days = calendar.monthrange(month_start.year, month_start.month)[1]
        for ti, ct in enumerate(types):
            season = 1.0 + ct.season_amplitude * np.cos(
                2 * np.pi * (month_start.month - ct.season_peak_month) / 12.0
            )
            n_calls = int(rng.poisson(calls_per_month * shares[ti] * season))
            if n_calls == 0:
                continue
            affinity = np.where(np.array([cso_cats[c] for c in hot_cat]) == ct.category, 1.0, 0.12)
            hot_w = np.asarray(drift.T @ (intensity[m] * affinity), dtype=float)
            p = background
            if hot_w.sum() > 0:
                p = (1.0 - hotspot_share) * background + hotspot_share * hot_w / hot_w.sum()
            seg = rng.choice(n_seg, size=n_calls, p=p / p.sum())
            rows_seg.append(seg)
            rows_type.append(np.full(n_calls, ti))
            rows_time.append(
                _sample_times(
                    rng, month_start=month_start, n_days=n_days, n=n_calls, tax=tax, ct=ct
                )
            )
            rows_hot.append(hot_of_seg[seg])
    seg_arr = np.concatenate(rows_seg)
    type_arr = np.concatenate(rows_type)
    time_arr = np.concatenate(rows_time)
    repeat_arr = np.zeros(len(seg_arr), dtype=bool)

    # ---- near-repeat bursts ------------------------------------------------ #
    end_ts = _epoch(_add_months(start_day, months))
    neighbours = _segment_neighbours(segments)
    cso_mask = np.array([types[t].is_cso for t in type_arr])
    seeds = np.flatnonzero(cso_mask & (rng.random(len(seg_arr)) < 0.05))
    rep_seg, rep_type, rep_time = [], [], []
    for s in seeds.tolist():
        for _ in range(1 + int(rng.poisson(0.8))):
            t = int(time_arr[s] + rng.exponential(30 * 3600))
            if t >= end_ts:
                continue
            nb = neighbours[int(seg_arr[s])]
            target = int(seg_arr[s]) if (not nb or rng.random() < 0.7) else int(rng.choice(nb))
            rep_seg.append(target)
            rep_type.append(int(type_arr[s]))
            rep_time.append(t)
    if rep_seg:
        seg_arr = np.concatenate([seg_arr, rep_seg])
        type_arr = np.concatenate([type_arr, rep_type])
        time_arr = np.concatenate([time_arr, rep_time])
        repeat_arr = np.concatenate([repeat_arr, np.ones(len(rep_seg), dtype=bool)])
    order = np.lexsort((seg_arr, type_arr, time_arr))
    seg_arr, type_arr, time_arr, repeat_arr = (
        seg_arr[order],
        type_arr[order],
        time_arr[order],
        repeat_arr[order],
    )

    # ---- where exactly, and how the address is written -------------------- #
    to_lonlat = Transformer.from_crs(segments.crs, "EPSG:4326", always_xy=True)
    seg_geom = segments.geometry.to_numpy()
    seg_names = segments["name"].to_numpy()
    node_xy = {n: (d["x"], d["y"]) for n, d in network.walk.nodes(data=True)}
    addr_x = addresses.geometry.x.to_numpy() if len(addresses) else np.zeros(0)
    addr_y = addresses.geometry.y.to_numpy() if len(addresses) else np.zeros(0)
    n_rows = len(seg_arr)
    loc_type = np.empty(n_rows, dtype=object)
    address = np.empty(n_rows, dtype=object)
    street = np.empty(n_rows, dtype=object)
    cross = np.full(n_rows, "", dtype=object)
    house = np.full(n_rows, "", dtype=object)
    xs = np.full(n_rows, np.nan)
    ys = np.full(n_rows, np.nan)
    typo = np.zeros(n_rows, dtype=bool)
    u_arr = segments["u"].to_numpy()
    v_arr = segments["v"].to_numpy()
    for i in range(n_rows):
        s = int(seg_arr[i])
        name = str(seg_names[s])
        street[i] = name
        addrs = seg_addrs[s]
        ends = [n for n in (int(u_arr[s]), int(v_arr[s])) if n in node_names]
        if not ends and nearest_cross[s] >= 0:
            # dispatchers name the nearest cross street of the same street
            ends = [int(nearest_cross[s])]
        slip = rng.random() < typo_share  # this row's street name gets a typo
        r = rng.random()
        if addrs and r < 0.45:
            kind = "address"
        elif addrs and r < 0.75:
            kind = "block"
        elif ends and r < 0.95:
            kind = "intersection"
        else:
            kind = "street"
        if kind in {"address", "block"}:
            a = addrs[int(rng.integers(len(addrs)))]
            num = int(house_ints[a])
            if kind == "block" and num < 0:
                kind = "address"
            xs[i], ys[i] = addr_x[a], addr_y[a]
            house[i] = str(addresses["housenumber"].iat[a])
            cad_street = _cad_street(rng, name)
            if slip:
                cad_street = _typo(rng, cad_street)
            if kind == "address":
                text = f"{house[i]} {cad_street}"
                if rng.random() < 0.04:
                    unit = _UNITS[int(rng.integers(len(_UNITS)))]
                    text += " " + unit.format(n=int(rng.integers(1, 40)))
            else:
                text = _block_text(rng, num, block_size, cad_street)
        elif kind == "intersection":
            node = ends[int(rng.integers(len(ends)))]
            others = [n for n in node_names[node] if n != name]
            other = others[int(rng.integers(len(others)))]
            cross[i] = other
            xs[i], ys[i] = node_xy[node]
            first, second = _cad_street(rng, name), _cad_street(rng, other)
            if slip:
                first = _typo(rng, first)
            if rng.random() < 0.5:
                first, second = second, first
            joiner = _choose(rng, _JOINERS)
            text = f"{first}{joiner}{second}"
        else:
            pt = seg_geom[s].interpolate(float(rng.uniform(0.2, 0.8)), normalized=True)
            xs[i], ys[i] = pt.x, pt.y
            text = _cad_street(rng, name)
            if slip:
                text = _typo(rng, text)
        typo[i] = slip
        loc_type[i] = kind
        address[i] = text
    junk = rng.random(n_rows) < junk_share
    for i in np.flatnonzero(junk).tolist():
        address[i] = _JUNK[int(rng.integers(len(_JUNK)))]
        loc_type[i] = "junk"
        xs[i] = ys[i] = np.nan
        typo[i] = False
        street[i], cross[i], house[i] = "", "", ""
    lon, lat = to_lonlat.transform(xs, ys)

    # ---- CAD columns ------------------------------------------------------- #
    received = pd.to_datetime(time_arr, unit="s")
    prio_base = np.array([types[t].priority for t in type_arr])
    priority = np.clip(prio_base + rng.choice([-1, 0, 0, 0, 0, 0, 1], size=n_rows), 1, 5)
    dispatch_delay = rng.exponential(np.array([2, 4, 8, 15, 25])[priority - 1] * 60.0)
    service = np.array([types[t].service_minutes for t in type_arr])
    on_scene = rng.gamma(4.0, service / 4.0) * 60.0 + rng.uniform(180, 900, n_rows)
    dispatched = received + pd.to_timedelta(np.round(dispatch_delay), unit="s")
    cleared = dispatched + pd.to_timedelta(np.round(on_scene), unit="s")
    disposition = np.empty(n_rows, dtype=object)
    for ti, ct in enumerate(types):
        rows_t = np.flatnonzero(type_arr == ti)
        options = list(ct.dispositions.items()) or [("ADV", 1.0)]
        weights = np.array([w for _, w in options], dtype=float)
        picks = rng.choice(len(options), size=len(rows_t), p=weights / weights.sum())
        disposition[rows_t] = np.array([code for code, _ in options], dtype=object)[picks]
    beat = _beats(segments)[seg_arr]
    year2 = start_day.strftime("%y")
    cad = pd.DataFrame(
        {
            "incident_id": [f"C{year2}-{i + 1:06d}" for i in range(n_rows)],
            "received_at": received.strftime("%Y-%m-%d %H:%M:%S"),
            "dispatched_at": dispatched.strftime("%Y-%m-%d %H:%M:%S"),
            "cleared_at": cleared.strftime("%Y-%m-%d %H:%M:%S"),
            "call_type_code": [types[t].code for t in type_arr],
            "call_type": [types[t].description for t in type_arr],
            "priority": priority.astype(int),
            "disposition": disposition,
            "beat": beat,
            "address": address,
        },
        columns=list(CAD_COLUMNS),
    )
    hot_row = hot_of_seg[seg_arr]
    # a flare owns its segment's calls in its own month only
    call_month = np.asarray(
        (received.year - start_day.year) * 12 + received.month - start_day.month, dtype=np.int64
    )
    flare_row = (hot_row >= 0) & is_flare[np.maximum(hot_row, 0)]
    hot_row[flare_row & (call_month != onset[np.maximum(hot_row, 0)])] = -1
    hot_row[junk] = -1  # an unlocatable call is nobody's hotspot
    truth = pd.DataFrame(
        {
            "incident_id": cad["incident_id"],
            "lon": lon,
            "lat": lat,
            "location_type": loc_type,
            "segment_id": np.where(junk, "", segments["segment_id"].to_numpy()[seg_arr]),
            "street": street,
            "cross_street": cross,
            "housenumber": house,
            "category": [types[t].category for t in type_arr],
            "hotspot_id": [f"H{h + 1:03d}" if h >= 0 else "" for h in hot_row],
            "hotspot_kind": [kinds[h] if h >= 0 else "" for h in hot_row],
            "near_repeat": repeat_arr,
            "typo": typo,
        },
        columns=list(TRUTH_COLUMNS),
    )
    log.info(
        "generated %d calls over %d months on %d segments (%d planted hotspots, %d near repeats)",
        n_rows,
        months,
        n_seg,
        n_hot,
        int(repeat_arr.sum()),
    )
    return SampleCad(cad=cad, truth=truth, hotspots=hotspots, crs=str(segments.crs))


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _parse_start(start: str | date) -> date:
    if isinstance(start, datetime):
        return start.date().replace(day=1)
    if isinstance(start, date):
        return start.replace(day=1)
    try:
        return datetime.strptime(str(start), "%Y-%m-%d").date().replace(day=1)
    except ValueError as exc:
        msg = f"start must be a date written YYYY-MM-DD, not {start!r}."
        raise ValueError(msg) from exc


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def _epoch(d: date) -> int:
    return int((datetime(d.year, d.month, d.day) - datetime(1970, 1, 1)).total_seconds())


def _sample_times(
    rng: np.random.Generator,
    *,
    month_start: date,
    n_days: int,
    n: int,
    tax: Taxonomy,
    ct: CallType,
) -> npt.NDArray[np.int64]:
    hours = np.array(tax.hour_profiles.get(ct.hours, (1.0,) * 24))
    days = np.array(tax.day_profiles.get(ct.days, (1.0,) * 7))
    weekday0 = month_start.weekday()
    day_w = days[(weekday0 + np.arange(n_days)) % 7]
    day = rng.choice(n_days, size=n, p=day_w / day_w.sum())
    hour = rng.choice(24, size=n, p=hours / hours.sum())
    sec = rng.integers(0, 3600, size=n)
    base = _epoch(month_start)
    return np.asarray(base + day * 86400 + hour * 3600 + sec, dtype=np.int64)


def _nearest_cross(
    segments: gpd.GeoDataFrame, node_names: dict[int, list[str]], G: nx.MultiDiGraph
) -> npt.NDArray[np.int64]:
    """For each segment, the nearest intersection node on a street of the same name."""
    out = np.full(len(segments), -1, dtype=np.int64)
    by_name: dict[str, list[int]] = {}
    for u, v, name in zip(segments["u"], segments["v"], segments["name"], strict=True):
        for n in (int(u), int(v)):
            if n in node_names:
                by_name.setdefault(name, []).append(n)
    mid = segments.geometry.interpolate(0.5, normalized=True)
    for i, (name, pt) in enumerate(zip(segments["name"], mid, strict=True)):
        cands = sorted(set(by_name.get(name, [])))
        if not cands:
            continue
        xy = np.array([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in cands])
        d = np.hypot(xy[:, 0] - pt.x, xy[:, 1] - pt.y)
        out[i] = cands[int(np.argmin(d))]
    return out


def _hotspot_reach(
    segments: gpd.GeoDataFrame, G: nx.MultiDiGraph, centres: npt.NDArray[np.int64], reach: float
) -> sp.csr_matrix:
    """Weight of every segment in each hotspot: 1 at the centre, fading to 0 at `reach` metres.

    The distance between two segments is the walk along the streets from the
    middle of one to the middle of the other.
    """
    n_seg = len(segments)
    rows, cols, vals = [], [], []
    lengths = segments["length"].to_numpy(dtype=float)
    if reach > 0:
        nodes = list(G.nodes)
        pos = {n: i for i, n in enumerate(nodes)}
        lengths_uv = nx.to_scipy_sparse_array(
            G.to_undirected(as_view=False), nodelist=nodes, weight="length", format="csr"
        )
        seg_u = np.array([pos[int(u)] for u in segments["u"]])
        seg_v = np.array([pos[int(v)] for v in segments["v"]])
        ends = np.unique(np.concatenate([seg_u[centres], seg_v[centres]]))
        dist = csgraph.dijkstra(
            sp.csr_matrix(lengths_uv), directed=False, indices=ends, limit=reach + lengths.max()
        )
        row_of = {int(e): i for i, e in enumerate(ends)}
    for j, c in enumerate(centres.tolist()):
        rows.append(j)
        cols.append(c)
        vals.append(1.0)
        if reach <= 0:
            continue
        du, dv = dist[row_of[int(seg_u[c])]], dist[row_of[int(seg_v[c])]]
        # centre middle -> each node, then node -> the other segment's middle
        to_node = np.minimum(du, dv) + lengths[c] / 2.0
        d = np.minimum(to_node[seg_u], to_node[seg_v]) + lengths / 2.0
        near = np.flatnonzero(d < reach)
        near = near[near != c]
        rows.extend([j] * len(near))
        cols.extend(near.tolist())
        vals.extend((1.0 - d[near] / reach).tolist())
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(centres), n_seg))


def _segment_neighbours(segments: gpd.GeoDataFrame) -> list[list[int]]:
    by_node: dict[int, list[int]] = {}
    for i, (u, v) in enumerate(zip(segments["u"], segments["v"], strict=True)):
        by_node.setdefault(int(u), []).append(i)
        by_node.setdefault(int(v), []).append(i)
    out: list[list[int]] = []
    for i, (u, v) in enumerate(zip(segments["u"], segments["v"], strict=True)):
        nb = {j for j in by_node[int(u)] + by_node[int(v)] if j != i}
        out.append(sorted(nb))
    return out


def _beats(segments: gpd.GeoDataFrame) -> npt.NDArray[np.object_]:
    """CAD beat labels: the area cut into 3 x 2 bands of equal segment counts."""
    mid = segments.geometry.interpolate(0.5, normalized=True)
    x, y = mid.x.to_numpy(), mid.y.to_numpy()
    xb = np.searchsorted(np.quantile(x, [1 / 3, 2 / 3]), x, side="right")
    yb = np.searchsorted(np.quantile(y, [0.5]), y, side="right")
    return np.array(
        [f"{int(a) + 1}{'AB'[int(b)]}" for a, b in zip(xb, yb, strict=True)], dtype=object
    )


def _house_int(housenumber: str) -> int:
    m = _LEADING_INT.match(housenumber)
    return int(m.group(1)) if m else -1


def _choose(rng: np.random.Generator, options: tuple[tuple[str, float], ...]) -> str:
    # one uniform draw against cumulative weights: far cheaper per row than rng.choice
    total = sum(w for _, w in options)
    r = rng.random() * total
    for value, w in options:
        r -= w
        if r < 0:
            return value
    return options[-1][0]


def _cad_street(rng: np.random.Generator, name: str) -> str:
    """A street name as a dispatcher might type it."""
    if rng.random() < 0.5:
        name = fold_accents(name)
    r = rng.random()
    if r < 0.75:
        return abbreviate(name)
    if r < 0.9:
        return name.upper()
    return name


def _block_text(rng: np.random.Generator, num: int, block_size: int, street: str) -> str:
    block = (num // block_size) * block_size
    r = rng.random()
    if block >= block_size and r < 0.15:
        digits = len(str(block_size)) - 1
        return f"{str(block)[:-digits]}{'X' * digits} {street}"
    if r < 0.3:
        return f"{block} BLK {street}"
    return f"{block} BLOCK OF {street}"


def _typo(rng: np.random.Generator, text: str) -> str:
    """One keyboard slip in the longest word of a street name (not its first letter)."""
    words = [(m.start(), m.end()) for m in re.finditer(r"[^\W\d_]+", text)]
    if not words:
        return text
    start, end = max(words, key=lambda w: w[1] - w[0])
    if end - start < 4:
        return text
    i = int(rng.integers(start + 1, end - 1))
    op = int(rng.integers(4))
    if op == 0 and i + 1 < len(text) and text[i + 1].isalpha() and text[i] != text[i + 1]:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if op == 1:
        return text[:i] + text[i + 1 :]
    if op == 2:
        return text[:i] + text[i] + text[i:]
    alphabet = "ABCDEFGHIJKLMNOPRSTUVY" if text[i].isupper() else "abcdefghijklmnoprstuvy"
    repl = alphabet[int(rng.integers(len(alphabet)))]
    if repl == text[i]:
        repl = alphabet[(alphabet.index(repl) + 1) % len(alphabet)]
    return text[:i] + repl + text[i + 1 :]


# --------------------------------------------------------------------------- #
# writing
# --------------------------------------------------------------------------- #
def hotspot_segments(hotspots: pd.DataFrame, network: StreetNetwork) -> gpd.GeoDataFrame:
    """The planted hotspots of a `SampleCad` with their segment geometry (walk graph CRS).

    For scoring hotspot methods against the generator's truth, e.g. with
    `cso_geo.evaluate.recovery`.
    """
    segments = street_segments(network.walk)
    merged = hotspots.merge(segments[["segment_id", "geometry"]], on="segment_id", how="left")
    if merged["geometry"].isna().any():
        missing = merged.loc[merged["geometry"].isna(), "segment_id"].tolist()[:3]
        msg = (
            f"hotspot_segments: segments {missing} are not in this network; pass the network "
            "the sample was generated on."
        )
        raise ValueError(msg)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=segments.crs)


def truth_path_for(path: str | Path) -> Path:
    """Where the truth file of a CAD export lives: ``X.csv`` -> ``X.truth.csv``."""
    p = Path(path)
    return p.with_name(p.name.removesuffix(".csv") + ".truth.csv")


def write_sample(sample: SampleCad, path: str | Path) -> tuple[Path, Path]:
    """Write the CAD export and its truth file (beside it) atomically.

    Both are plain UTF-8 CSV with ``\\n`` line ends and fixed float formats, so
    the same sample always gives byte-identical files.
    """
    cad_path = Path(path)
    truth_path = truth_path_for(cad_path)
    truth = sample.truth.copy()
    for col in ("lon", "lat"):
        truth[col] = [f"{v:.7f}" if np.isfinite(v) else "" for v in truth[col]]
    for col in ("near_repeat", "typo"):
        truth[col] = truth[col].astype(int)
    with atomic_path(cad_path) as tmp:
        sample.cad.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
    with atomic_path(truth_path) as tmp:
        truth.to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
    log.info("wrote %d rows to %s and its truth to %s", len(sample.cad), cad_path, truth_path)
    return cad_path, truth_path
