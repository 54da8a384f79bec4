"""Offline geocoding of CAD addresses against the area's OpenStreetMap data.

CAD exports locate calls as house numbers, blocks (``800 BLOCK OF BRYANT ST``,
``8XX BRYANT``), intersections (``OAK ST / LAGUNA ST``), bare streets and
landmarks, with typos and abbreviations. Public geocoders handle the first
well and the rest badly (Nominatim has no intersection search), so we build a
reference index from the same OSM extract the routes use:

- address points (``addr:housenumber`` + ``addr:street``),
- named street segments (``name``, ``alt_name``, ``old_name``, ``ref``),
- intersections, including streets joined through short unnamed connectors,
- named places (malls, parks, schools, ...),
- optionally an agency street-centerline file with address ranges.

Placement, best available first: exact address point; interpolation between
known house numbers along the street; centerline address ranges; numbered
cross-street inference for blocks; the street itself (low precision).

Every result carries ``match_type``, a 0-100 ``match_score``, ``flags`` for
fuzzy, ambiguous or low-precision matches, and the reason when unmatched.
Each distinct address string is resolved once, so throughput grows with the
repetition real CAD data has.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import osmnx as ox
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import shapely
from pyproj import Transformer
from rapidfuzz import fuzz, process

from cso_geo._errors import InputFileError
from cso_geo._io import atomic_path, read_vector
from cso_geo.network import StreetNetwork, street_segments
from cso_geo.snapping import EdgeIndex
from cso_geo.streetnames import SUFFIXES, clean, infer_block_size, ordinal, street_key

log = logging.getLogger(__name__)

__all__ = [
    "MATCH_TYPES",
    "GeocodeIndex",
    "ParsedAddress",
    "geocode",
    "match_report",
    "parse_address",
    "read_centerlines",
    "write_geocoded",
]

#: Every ``match_type`` a result can have.
MATCH_TYPES: tuple[str, ...] = (
    "address_point",
    "interpolated",
    "range",
    "block_inferred",
    "intersection",
    "landmark",
    "street",
    "coordinates",
    "online",
    "unmatched",
)

#: Base score of each placement method (before fuzzy/ambiguity penalties).
_BASE_SCORE = {
    "address_point": 100,
    "intersection": 95,
    "interpolated": 90,
    "range": 88,
    "landmark": 85,
    "block_inferred": 75,
    "coordinates": 100,
    "street": 40,
    "online": 60,
    "unmatched": 0,
}

#: Strings dispatchers use when there is no location.
JUNK = frozenset(
    {
        "",
        "UNKNOWN",
        "UNK",
        "CITYWIDE",
        "CITY WIDE",
        "N A",
        "NA",
        "NONE",
        "REFUSED",
        "VARIOUS",
        "VARIOUS LOCATIONS",
        "NO ADDRESS",
        "NOT GIVEN",
        "TBD",
    }
)

# a slash between digits is a fraction ("5 1/2 ST"), not an intersection
_JOINER = re.compile(r"\s*(?:(?<!\d)/|/(?!\d)|&|@|\bAND\b|\bAT\b)\s*")
_BLOCK = re.compile(r"^(\d+)\s+(?:BLOCK|BLK|BL)\s+(?:OF\s+)?(.+)$")
_XBLOCK = re.compile(r"^(\d*?)(X+)\s+(.+)$")
_LETTER = re.compile(r"[A-Z]")
_HAS_SYMBOL = re.compile(r"[/&@]")
_SYMBOLS = re.compile(r"\s*[/&@]\s*")
_MAY_JOIN = re.compile(r"[/&@]|\bAND\b|\bAT\b")
_RANGE = re.compile(r"^(\s*\d+\s*[A-Za-z]?)\s*-\s*\d+[A-Za-z]?\b")
# a house number, with a letter ("12A", "7 A": not N/S/E/W, which start a street) and a range
_HOUSE = re.compile(
    r"^(\d+)(?:([A-Z])\b|\s([A-DF-MO-RT-VX-Z])(?=\s))?(?:\s*-\s*\d+[A-Z]?\b)?\s+(.+)$"
)
_UNIT = re.compile(
    r"\s+(?:APT|APARTMENT|UNIT|STE|SUITE|RM|ROOM|FL|FLOOR|BLDG|NO)\s*\S*$|\s*#\s*\S*$"
)
_FUZZY_CUTOFF = 85.0
_CONNECTOR_M = 30.0
_MAX_SPREAD_M = 80.0


# --------------------------------------------------------------------------- #
# parsing the address forms
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ParsedAddress:
    """A CAD address string split into its form and parts."""

    form: str  # address, block, intersection, street, junk
    street: str = ""
    cross_street: str = ""
    number: int = -1
    block_width: int = 0
    unit: str = ""
    text: str = ""


def parse_address(text: str | None) -> ParsedAddress:
    """Classify a CAD address string and split it into parts.

    Forms: ``address`` (``123 MAIN ST APT 4``), ``block`` (``800 BLOCK OF
    BRYANT ST``, ``800 BLK BRYANT``, ``8XX BRYANT``), ``intersection``
    (``A / B``, ``A & B``, ``A AND B``, ``A AT B``), ``street`` (a bare street
    or a landmark) and ``junk`` (empty, ``UNKNOWN``, ``CITYWIDE``, ...).

    Examples
    --------
    >>> parse_address("800 Block of BRYANT ST").form
    'block'
    >>> parse_address("KEITH ST / SHAFTER AV").cross_street
    'SHAFTER AV'
    """
    raw = "" if text is None else str(text)
    # "12-14 MAIN ST": a range of house numbers stands for its first
    sym = clean(_RANGE.sub(r"\1 ", raw.replace("#", " UNIT ")), keep_joiners=True)
    t = _SYMBOLS.sub(" ", sym).strip() if _HAS_SYMBOL.search(sym) else sym
    if t in JUNK or not _LETTER.search(t):
        return ParsedAddress("junk", text=raw)
    parts = [p.strip() for p in _JOINER.split(sym) if p.strip()] if _MAY_JOIN.search(sym) else []
    if len(parts) >= 2:
        a, b = _SYMBOLS.sub(" ", parts[0]).strip(), _SYMBOLS.sub(" ", parts[1]).strip()
        a, b = " ".join(a.split()), " ".join(b.split())
        mb = _BLOCK.match(a)
        if mb:
            a = mb.group(2)
        if a and b and a not in JUNK and b not in JUNK:
            return ParsedAddress("intersection", street=a, cross_street=b, text=raw)
    m = _BLOCK.match(t)
    if m:
        num = int(m.group(1))
        width = 100 if num % 100 == 0 and num > 0 else 0  # 0 = decide from the street
        return ParsedAddress("block", street=m.group(2), number=num, block_width=width, text=raw)
    m = _XBLOCK.match(t)
    if m and (m.group(1) or len(m.group(2)) >= 2):
        width = 10 ** len(m.group(2))
        num = int(m.group(1) or 0) * width
        return ParsedAddress("block", street=m.group(3), number=num, block_width=width, text=raw)
    unit = ""
    um = _UNIT.search(t)
    if um and um.start() > 0:
        unit = t[um.start() :].strip()
        t = t[: um.start()].strip()
    m = _HOUSE.match(t)
    if m and _LETTER.search(m.group(4)):
        letter = m.group(2) or m.group(3) or ""
        return ParsedAddress(
            "address", street=m.group(4), number=int(m.group(1)), unit=letter or unit, text=raw
        )
    return ParsedAddress("street", street=t, text=raw)


# --------------------------------------------------------------------------- #
# the reference index
# --------------------------------------------------------------------------- #
@dataclass
class _Street:
    name: str
    segments: list[int] = field(default_factory=list)
    numbers: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    xy: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 2)))
    labels: list[str] = field(default_factory=list)


@dataclass
class Match:
    """Where one address string was placed."""

    match_type: str
    score: float
    x: float = float("nan")
    y: float = float("nan")
    street: str = ""
    cross_street: str = ""
    flags: tuple[str, ...] = ()
    reason: str = ""


class GeocodeIndex:
    """Reference index of an area's addresses, streets, intersections and places.

    Build it with `GeocodeIndex.from_network`; resolve strings with
    `geocode_strings`. Attributes ending in ``_`` are set by building.
    """

    def __init__(self) -> None:
        self.crs_: str = ""
        self.streets_: dict[str, _Street] = {}
        self.by_no_dir_: dict[str, set[str]] = {}
        self.by_base_: dict[str, set[str]] = {}
        self.by_no_suffix_: dict[str, set[str]] = {}
        self.intersections_: dict[tuple[str, str], list[tuple[float, float]]] = {}
        self.places_: dict[str, tuple[float, float, str]] = {}
        self.segments_: gpd.GeoDataFrame | None = None
        self.centerlines_: gpd.GeoDataFrame | None = None
        self.block_size_: int = 100
        self.numbered_streets_: bool = False
        self.stats_: dict[str, int] = {}
        self.online_fallback_: bool = False
        self.place_hint_: str = ""
        self.bounds_: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
        self._cache: dict[tuple[str, str, str, int, int, str], Match] = {}
        self._choices: list[str] = []
        self._resolved: dict[str, tuple[list[str], tuple[str, ...], float]] = {}
        self._centres: dict[str, tuple[float, float]] = {}

    # ---- building -------------------------------------------------------- #
    @classmethod
    def from_network(
        cls,
        network: StreetNetwork,
        *,
        centerlines: gpd.GeoDataFrame | None = None,
        numbered_streets: bool | None = None,
        block_size: int | None = None,
        online_fallback: bool = False,
        place_hint: str = "",
    ) -> GeocodeIndex:
        """Build the index from a network's walk graph, address points and places.

        Parameters
        ----------
        network
            The area's `StreetNetwork`.
        centerlines
            Optional agency centerlines with address ranges (see `read_centerlines`).
        numbered_streets
            Infer blocks from numbered cross streets (the 3400 block lies
            between 34th and 35th); by default on when the area has numbered streets.
        block_size
            Width of an address block; by default inferred from the house numbers.
        online_fallback
            Ask Nominatim (through osmnx, which rate-limits to its usage policy
            and caches responses) for strings nothing offline matched. Off by
            default: it needs internet and sends addresses to a third party.
        place_hint
            Appended to online queries (e.g. ``"Baltimore, MD"``).
        """
        t0 = time.perf_counter()
        self = cls()
        self.crs_ = network.crs
        segs = street_segments(network.walk, classes=None)
        # streets the walk graph lost (e.g. cut off by separately mapped
        # sidewalks) are still streets: take them from the drive graph
        walk_names = {street_key(n).full for n in segs["name"]}
        drive = street_segments(network.drive, classes=None)
        extra = drive[[street_key(n).full not in walk_names for n in drive["name"]]]
        if len(extra):
            segs = pd.concat([segs, extra], ignore_index=True)
        self.segments_ = segs
        seg_keys: list[str] = []
        for i, name in enumerate(segs["name"]):
            key = street_key(name).full
            seg_keys.append(key)
            self._add_street(key, name).segments.append(i)
        segs["street_key"] = seg_keys
        # alternative names lead to the same street entry
        for u, v, k, d in network.walk.edges(keys=True, data=True):
            if d.get("reversed"):
                continue
            main = d.get("name")
            if isinstance(main, list):
                main = main[0]
            if not isinstance(main, str):
                continue
            for tag in ("alt_name", "old_name", "ref"):
                alt = d.get(tag)
                for a in alt if isinstance(alt, list) else [alt]:
                    if isinstance(a, str) and a:
                        for part in a.split(";"):
                            self._alias(street_key(part).full, street_key(main).full)
            del u, v, k

        self._add_addresses(network.addresses)
        self._add_intersections(network.walk)
        self._add_places(network.places)
        if centerlines is not None:
            self.centerlines_ = centerlines.to_crs(self.crs_).reset_index(drop=True)
            self.centerlines_["street_key"] = [
                street_key(n).full for n in self.centerlines_["street"]
            ]
        all_numbers = np.concatenate(
            [s.numbers for s in self.streets_.values()] or [np.zeros(0, dtype=np.int64)]
        )
        self.block_size_ = block_size or infer_block_size(all_numbers.astype(int).tolist())
        n_numbered = sum(1 for k in self.streets_ if re.match(r"^\d+(ST|ND|RD|TH)\b", k))
        self.numbered_streets_ = n_numbered >= 3 if numbered_streets is None else numbered_streets
        self._choices = sorted(self.streets_)
        self.online_fallback_ = online_fallback
        self.place_hint_ = place_hint
        xmin, ymin, xmax, ymax = segs.total_bounds
        self.bounds_ = (xmin - 1000, ymin - 1000, xmax + 1000, ymax + 1000)
        self.stats_ = {
            "streets": len(self.streets_),
            "segments": len(segs),
            "address_points": int(sum(len(s.numbers) for s in self.streets_.values())),
            "intersections": len(self.intersections_),
            "places": len(self.places_),
            "centerlines": 0 if centerlines is None else len(centerlines),
        }
        log.info("geocode index: %s in %.2fs", self.stats_, time.perf_counter() - t0)
        return self

    def _add_street(self, key: str, name: str) -> _Street:
        st = self.streets_.get(key)
        if st is None:
            st = self.streets_[key] = _Street(name)
            sk = street_key(name)
            self.by_no_dir_.setdefault(sk.no_dir, set()).add(key)
            self.by_base_.setdefault(sk.base, set()).add(key)
            self.by_no_suffix_.setdefault(sk.no_suffix, set()).add(key)
        return st

    def _alias(self, alias: str, key: str) -> None:
        if alias and alias != key and alias not in self.streets_:
            self.streets_[alias] = self.streets_[key]
            sk = street_key(alias)
            self.by_no_dir_.setdefault(sk.no_dir, set()).add(alias)
            self.by_base_.setdefault(sk.base, set()).add(alias)
            self.by_no_suffix_.setdefault(sk.no_suffix, set()).add(alias)

    def _add_addresses(self, addresses: gpd.GeoDataFrame) -> None:
        if addresses.empty:
            return
        addr = addresses.to_crs(self.crs_)
        nums = [_leading_int(h) for h in addr["housenumber"].astype(str)]
        keys = [street_key(s).full for s in addr["street"].astype(str)]
        xs, ys = addr.geometry.x.to_numpy(), addr.geometry.y.to_numpy()
        grouped: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            if nums[i] >= 0 and k:
                grouped.setdefault(k, []).append(i)
        for k, idx in grouped.items():
            st = self.streets_.get(k) or self._add_street(k, str(addr["street"].iat[idx[0]]))
            order = sorted(idx, key=lambda i: (nums[i], str(addr["housenumber"].iat[i])))
            st.numbers = np.array([nums[i] for i in order], dtype=np.int64)
            st.xy = np.column_stack([xs[order], ys[order]])
            st.labels = [clean(str(addr["housenumber"].iat[i])).replace(" ", "") for i in order]

    def _add_intersections(self, G: nx.MultiDiGraph) -> None:
        """Nodes where differently named streets meet, also across short unnamed links."""
        names: dict[int, set[str]] = {}
        parent: dict[int, int] = {}

        def find(n: int) -> int:
            while parent.get(n, n) != n:
                n = parent[n]
            return n

        for u, v, d in G.edges(data=True):
            if d.get("reversed"):
                continue
            name = d.get("name")
            values = name if isinstance(name, list) else [name]
            keys = {street_key(x).full for x in values if isinstance(x, str) and x}
            if keys:
                names.setdefault(u, set()).update(keys)
                names.setdefault(v, set()).update(keys)
            elif d.get("length", 1e9) <= _CONNECTOR_M:
                ru, rv = find(u), find(v)
                if ru != rv:
                    parent[max(ru, rv)] = min(ru, rv)
        clusters: dict[int, list[int]] = {}
        for n in names:
            clusters.setdefault(find(n), []).append(n)
        for members in clusters.values():
            for n in members:
                self._pairs(names[n], (G.nodes[n]["x"], G.nodes[n]["y"]))
            if len(members) > 1:
                # streets meet through connectors where nodes bearing their names lie
                # within a connector's length; a long chain of links is no junction
                joined = set().union(*(names[n] for n in members))
                for a, b in _name_pairs(joined):
                    if (a, b) in self.intersections_:
                        continue
                    pa = np.array(
                        [(G.nodes[n]["x"], G.nodes[n]["y"]) for n in members if a in names[n]]
                    )
                    pb = np.array(
                        [(G.nodes[n]["x"], G.nodes[n]["y"]) for n in members if b in names[n]]
                    )
                    d = np.hypot(pa[:, None, 0] - pb[None, :, 0], pa[:, None, 1] - pb[None, :, 1])
                    i, j = np.unravel_index(int(np.argmin(d)), d.shape)
                    if d[i, j] <= _CONNECTOR_M:
                        mid = (pa[i] + pb[j]) / 2.0
                        self.intersections_[(a, b)] = [(float(mid[0]), float(mid[1]))]

    def _pairs(self, keys: set[str], xy: tuple[float, float]) -> None:
        for pair in _name_pairs(keys):
            self.intersections_.setdefault(pair, []).append((float(xy[0]), float(xy[1])))

    def _add_places(self, places: gpd.GeoDataFrame) -> None:
        if places.empty:
            return
        pts = places.to_crs(self.crs_)
        for name, kind, geom in zip(pts["name"], pts["kind"], pts.geometry, strict=True):
            key = clean(str(name))
            if key and key not in self.places_:
                self.places_[key] = (float(geom.x), float(geom.y), str(kind))

    # ---- resolving --------------------------------------------------------- #
    def resolve_street(self, text: str) -> tuple[list[str], tuple[str, ...], float]:
        """Street keys a CAD street string may mean, with flags and a similarity 0-100."""
        hit = self._resolved.get(text)
        if hit is None:
            hit = self._resolved[text] = self._resolve_street(text)
        return hit

    def _resolve_street(self, text: str) -> tuple[list[str], tuple[str, ...], float]:
        sk = street_key(text)
        if not sk.full:
            return [], (), 0.0
        if sk.full in self.streets_:
            return [sk.full], (), 100.0
        for variants, flag in (
            (self.by_no_dir_.get(sk.no_dir), "directional_ignored"),
            (self.by_no_suffix_.get(sk.no_suffix), "suffix_ignored"),
            (self.by_base_.get(sk.base), "directional_ignored"),
        ):
            if variants:
                return sorted(variants), (flag,), 95.0
        repaired = _repair_suffix(text)
        if repaired is not None:
            keys, flags, sim = self.resolve_street(repaired)
            if keys:
                return keys, (*flags, "fuzzy"), min(sim, 90.0)
        hit = process.extractOne(
            sk.full, self._choices, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF
        )
        if hit is None and sk.base != sk.full:
            bases = sorted(self.by_base_)
            hb = process.extractOne(sk.base, bases, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
            if hb is not None:
                return sorted(self.by_base_[hb[0]]), ("fuzzy",), float(hb[1])
        if hit is None:
            return [], (), 0.0
        return [hit[0]], ("fuzzy",), float(hit[1])

    def locate(self, parsed: ParsedAddress) -> Match:
        """Place one parsed address (offline; online only if enabled and nothing matched)."""
        m = self._locate_offline(parsed)
        if m.match_type == "unmatched" and self.online_fallback_ and parsed.form != "junk":
            return self._online(parsed) or m
        return m

    def _online(self, parsed: ParsedAddress) -> Match | None:
        query = ", ".join(p for p in (parsed.text.strip(), self.place_hint_) if p)
        try:
            lat, lon = ox.geocode(query)
        except (ox._errors.InsufficientResponseError, ValueError, OSError) as exc:
            log.info("online geocoding found nothing for %r: %s", query, exc)
            return None
        x, y = Transformer.from_crs("EPSG:4326", self.crs_, always_xy=True).transform(lon, lat)
        xmin, ymin, xmax, ymax = self.bounds_
        if not (xmin <= x <= xmax and ymin <= y <= ymax):
            log.info("online result for %r lies outside the area; ignored", query)
            return None
        return Match("online", _BASE_SCORE["online"], float(x), float(y), flags=("online",))

    def _locate_offline(self, parsed: ParsedAddress) -> Match:
        if parsed.form == "junk":
            return Match("unmatched", 0, reason="no_location")
        if parsed.form == "intersection":
            return self._intersection(parsed)
        keys, flags, sim = self.resolve_street(parsed.street)
        if not keys:
            place = self._place(parsed)
            if place is not None:
                return place
            return Match("unmatched", 0, reason="street_not_found")
        if parsed.form == "street":
            exact_place = self.places_.get(clean(parsed.street))
            if exact_place is not None and "fuzzy" in flags:
                return self._place(parsed) or self._street(keys, flags, sim)
            return self._street(keys, flags, sim)
        if parsed.form == "block":
            width = parsed.block_width or self.block_size_
            return self._number(keys, flags, sim, number=parsed.number, width=width, parsed=parsed)
        return self._number(keys, flags, sim, number=parsed.number, width=0, parsed=parsed)

    def _score(self, kind: str, sim: float, flags: Sequence[str]) -> float:
        score = _BASE_SCORE[kind] * (sim / 100.0)
        if "directional_ignored" in flags or "suffix_ignored" in flags:
            score -= 5
        if "ambiguous" in flags:
            score = min(score, 50)
        return round(max(score, 1.0), 1)

    def _pick(self, keys: list[str], number: int) -> tuple[str, tuple[str, ...]]:
        """One street among candidates: the one holding the number, else flagged."""
        if len(keys) == 1:
            return keys[0], ()
        holding = [
            k
            for k in keys
            if len(self.streets_[k].numbers)
            and (self.streets_[k].numbers.min() <= number <= self.streets_[k].numbers.max())
        ]
        if len(holding) == 1:
            return holding[0], ()
        return sorted(keys)[0], ("ambiguous",)

    def _number(
        self,
        keys: list[str],
        flags: tuple[str, ...],
        sim: float,
        *,
        number: int,
        width: int,
        parsed: ParsedAddress,
    ) -> Match:
        key, extra = self._pick(keys, number)
        flags = flags + extra
        st = self.streets_[key]
        nums = st.numbers
        is_block = width > 0
        if not is_block and len(nums):
            label = f"{number}{parsed.unit}" if len(parsed.unit) == 1 else str(number)
            exact = [i for i, lab in enumerate(st.labels) if lab == label]
            if not exact:
                exact = np.flatnonzero(nums == number).tolist()
            if exact:
                # several OSM objects may carry one address (entrances, building parts)
                pts = st.xy[exact]
                x, y = np.median(pts, axis=0)
                if len(pts) > 1 and np.hypot(*(pts - (x, y)).T).max() > _MAX_SPREAD_M:
                    flags = (*flags, "ambiguous")
                    x, y = pts[0]
                return Match(
                    "address_point",
                    self._score("address_point", sim, flags),
                    x,
                    y,
                    st.name,
                    flags=flags,
                )
        target = number + width / 2.0 if is_block else float(number)
        if len(nums):
            if is_block:
                inside = (nums >= number) & (nums < number + width)
                if inside.any():
                    x, y = np.median(st.xy[inside], axis=0)
                    x, y = self._onto_street(st, x, y)
                    return Match(
                        "interpolated",
                        self._score("interpolated", sim, flags),
                        x,
                        y,
                        st.name,
                        flags=flags,
                    )
            point = _interpolate(nums, st.xy, target, tolerance=max(width, 10))
            if point is not None:
                x, y = self._onto_street(st, *point)
                return Match(
                    "interpolated",
                    self._score("interpolated", sim, flags),
                    x,
                    y,
                    st.name,
                    flags=flags,
                )
        ranged = self._range(key, target)
        if ranged is not None:
            return Match("range", self._score("range", sim, flags), *ranged, st.name, flags=flags)
        if is_block and self.numbered_streets_:
            inferred = self._numbered_block(key, number, width)
            if inferred is not None:
                return Match(
                    "block_inferred",
                    self._score("block_inferred", sim, flags),
                    *inferred,
                    st.name,
                    flags=flags,
                )
        return self._street([key], (*flags, "low_precision"), sim)

    def _street(self, keys: list[str], flags: tuple[str, ...], sim: float) -> Match:
        key = sorted(keys)[0]
        if len(keys) > 1 and "ambiguous" not in flags:
            flags = (*flags, "ambiguous")
        if "low_precision" not in flags:
            flags = (*flags, "low_precision")
        st = self.streets_[key]
        if not st.segments:
            if len(st.xy):
                x, y = np.median(st.xy, axis=0)
                return Match(
                    "street", self._score("street", sim, flags), x, y, st.name, flags=flags
                )
            return Match("unmatched", 0, reason="street_not_found")
        assert self.segments_ is not None
        geoms = self.segments_.geometry.to_numpy()[st.segments]
        centre = shapely.centroid(shapely.union_all(geoms))
        pt = _nearest_on(geoms, centre.x, centre.y)
        return Match(
            "street", self._score("street", sim, flags), pt[0], pt[1], st.name, flags=flags
        )

    def _intersection(self, parsed: ParsedAddress) -> Match:
        a_keys, a_flags, a_sim = self.resolve_street(parsed.street)
        b_keys, b_flags, b_sim = self.resolve_street(parsed.cross_street)
        flags = tuple(dict.fromkeys(a_flags + b_flags))
        sim = min(a_sim, b_sim) if a_keys and b_keys else 0.0
        found: list[tuple[float, float]] = []
        pair_names = ("", "")
        for a in a_keys:
            for b in b_keys:
                pts = self.intersections_.get((a, b) if a < b else (b, a))
                if pts:
                    found.extend(pts)
                    pair_names = (self.streets_[a].name, self.streets_[b].name)
        if not found:
            if a_keys and b_keys:
                return Match("unmatched", 0, reason="streets_do_not_meet")
            return Match("unmatched", 0, reason="street_not_found")
        if len(found) == 1:
            return Match(
                "intersection",
                self._score("intersection", sim, flags),
                found[0][0],
                found[0][1],
                pair_names[0],
                pair_names[1],
                flags=flags,
            )
        xy = np.array(found)
        centre = xy.mean(axis=0)
        spread = float(np.hypot(*(xy - centre).T).max())
        if spread > _MAX_SPREAD_M:
            # the streets meet more than once, far apart: take the first, say so
            flags = (*flags, "ambiguous")
            centre = xy[0]
        return Match(
            "intersection",
            self._score("intersection", sim, flags),
            float(centre[0]),
            float(centre[1]),
            pair_names[0],
            pair_names[1],
            flags=flags,
        )

    def _place(self, parsed: ParsedAddress) -> Match | None:
        key = clean(parsed.street)
        hit = self.places_.get(key)
        flags: tuple[str, ...] = ()
        sim = 100.0
        if hit is None and self.places_:
            best = process.extractOne(key, list(self.places_), scorer=fuzz.ratio, score_cutoff=90)
            if best is None:
                return None
            hit, flags, sim = self.places_[best[0]], ("fuzzy",), float(best[1])
        if hit is None:
            return None
        return Match(
            "landmark", self._score("landmark", sim, flags), hit[0], hit[1], hit[2], flags=flags
        )

    def _range(self, key: str, number: float) -> tuple[float, float] | None:
        cl = self.centerlines_
        if cl is None:
            return None
        rows = cl[cl["street_key"] == key]
        fits: list[tuple[bool, float, Any]] = []
        for row in rows.itertuples(index=False):
            for lo, hi in ((row.l_from, row.l_to), (row.r_from, row.r_to)):
                if pd.isna(lo) or pd.isna(hi):
                    continue
                a, b = float(lo), float(hi)
                if min(a, b) <= number <= max(a, b):
                    frac = 0.5 if a == b else (number - a) / (b - a)
                    # odd and even numbers lie on opposite sides: prefer the matching side
                    fits.append((int(a) % 2 != int(number) % 2, frac, row.geometry))
        if not fits:
            return None
        _, frac, line = min(fits, key=lambda f: f[0])
        pt = line.interpolate(frac, normalized=True)
        return float(pt.x), float(pt.y)

    def _numbered_block(self, key: str, number: int, width: int) -> tuple[float, float] | None:
        k = number // width if width else 0
        if k < 1:
            return None
        ends = []
        for n in (k, k + 1):
            pts: list[tuple[float, float]] = []
            for suffix in ("ST", "AVE"):
                cross = street_key(f"{ordinal(n)} {suffix}").full
                pair = (key, cross) if key < cross else (cross, key)
                pts.extend(self.intersections_.get(pair, []))
            if pts:
                ends.append(np.mean(pts, axis=0))
        if len(ends) == 2:
            mid = (ends[0] + ends[1]) / 2.0
            return float(mid[0]), float(mid[1])
        return None

    def _onto_street(self, st: _Street, x: float, y: float) -> tuple[float, float]:
        if not st.segments or self.segments_ is None:
            return float(x), float(y)
        return _nearest_on(self.segments_.geometry.to_numpy()[st.segments], x, y)

    # ---- many strings ----------------------------------------------------- #
    def geocode_strings(self, addresses: Iterable[str | None]) -> pd.DataFrame:
        """Resolve address strings; each distinct string is resolved once.

        Returns
        -------
        result
            One row per input string: ``address_form``, ``match_type``,
            ``match_score``, ``x``, ``y`` (in `crs_`), ``matched_street``,
            ``matched_cross_street``, ``flags`` (``;``-joined) and
            ``unmatched_reason``.
        """
        # addresses may arrive as NaN, None or numbers: all become text
        texts = [
            "" if a is None or (isinstance(a, float) and math.isnan(a)) else str(a)
            for a in addresses
        ]
        raw = pa.array(texts, type=pa.string())
        # case and spacing never change a match: fold them for the whole column at once
        folded = pc.utf8_trim_whitespace(pc.utf8_upper(raw))
        codes, uniques = pd.factorize(pd.Series(folded.to_pylist(), dtype=object), sort=False)
        rows = []
        for text in uniques:
            parsed = parse_address(text)
            # strings that differ only in case, spelling of suffixes or units share a result
            key = (
                parsed.form,
                street_key(parsed.street).full,
                street_key(parsed.cross_street).full,
                parsed.number,
                parsed.block_width,
                parsed.unit if len(parsed.unit) == 1 else "",
            )
            m = self._cache.get(key)
            if m is None:
                m = self.locate(parsed)
                self._cache[key] = m
            rows.append(
                (
                    parsed.form,
                    m.match_type,
                    m.score,
                    m.x,
                    m.y,
                    m.street,
                    m.cross_street,
                    ";".join(m.flags),
                    m.reason,
                )
            )
        table = pd.DataFrame(
            rows,
            columns=[
                "address_form",
                "match_type",
                "match_score",
                "x",
                "y",
                "matched_street",
                "matched_cross_street",
                "flags",
                "unmatched_reason",
            ],
        )
        if len(raw) == 0:
            return table
        return table.iloc[codes].reset_index(drop=True)


_SUFFIX_WORDS = sorted({*SUFFIXES, *SUFFIXES.values()})


def _repair_suffix(text: str) -> str | None:
    """Fix a misspelt street suffix (``BOND STRSET`` -> ``BOND STREET``), if there is one."""
    words = clean(text).split()
    if len(words) < 2 or words[-1] in _SUFFIX_WORDS or len(words[-1]) < 4:
        return None
    hit = process.extractOne(words[-1], _SUFFIX_WORDS, scorer=fuzz.ratio, score_cutoff=75)
    if hit is None:
        return None
    return " ".join([*words[:-1], hit[0]])


def _name_pairs(keys: set[str]) -> list[tuple[str, str]]:
    ks = sorted(keys)
    return [(a, b) for i, a in enumerate(ks) for b in ks[i + 1 :]]


def _leading_int(text: str) -> int:
    m = re.match(r"^\s*(\d+)", text)
    return int(m.group(1)) if m else -1


def _interpolate(
    nums: npt.NDArray[np.int64], xy: npt.NDArray[np.float64], target: float, *, tolerance: int
) -> tuple[float, float] | None:
    """Point for a house number between known ones on the same street."""
    parity = int(target) % 2
    same = (nums % 2) == parity
    for mask in (same, np.ones(len(nums), dtype=bool)):
        n, p = nums[mask], xy[mask]
        if len(n) == 0:
            continue
        i = int(np.searchsorted(n, target))
        if 0 < i < len(n):
            lo, hi = n[i - 1], n[i]
            if hi - lo <= 4 * max(tolerance, 1) or hi == lo:
                t = 0.5 if hi == lo else (target - lo) / (hi - lo)
                q = p[i - 1] + t * (p[i] - p[i - 1])
                return float(q[0]), float(q[1])
        # beyond the known numbers: take the nearest if it is close in number
        j = int(np.argmin(np.abs(n - target)))
        if abs(n[j] - target) <= tolerance:
            return float(p[j][0]), float(p[j][1])
    return None


def _nearest_on(geoms: npt.NDArray[np.object_], x: float, y: float) -> tuple[float, float]:
    pt = shapely.Point(x, y)
    d = shapely.distance(geoms, pt)
    line = geoms[int(np.argmin(d))]
    q = line.interpolate(line.project(pt))
    return float(q.x), float(q.y)


# --------------------------------------------------------------------------- #
# geocoding an ingested table
# --------------------------------------------------------------------------- #
def geocode(
    incidents: pd.DataFrame,
    index: GeocodeIndex,
    *,
    network: StreetNetwork | None = None,
    address_col: str = "address",
    max_snap_m: float = 250.0,
) -> gpd.GeoDataFrame:
    """Geocode incidents: snap given coordinates, geocode addresses otherwise.

    Parameters
    ----------
    incidents
        A table with an address column and optionally ``x``, ``y`` and ``crs``
        (as `cso_geo.ingest.read_incidents` returns); every column is kept.
    index
        The area's `GeocodeIndex`.
    network
        Needed only to snap rows that come with coordinates: they are placed
        at the nearest point of the nearest street (``snap_dist_m`` away).
    address_col
        Column holding the address strings.
    max_snap_m
        Coordinates farther than this from any street are flagged ``far_from_street``.

    Returns
    -------
    geocoded
        The input columns plus ``address_form``, ``match_type``,
        ``match_score``, ``matched_street``, ``matched_cross_street``,
        ``flags``, ``unmatched_reason``, ``lon``, ``lat`` and a projected
        point geometry (empty where unmatched).
    """
    if address_col not in incidents.columns:
        msg = (
            f"geocode: no column {address_col!r}; columns are "
            f"{', '.join(map(str, incidents.columns))}. Map the address column first."
        )
        raise InputFileError(msg)
    t0 = time.perf_counter()
    result = index.geocode_strings(incidents[address_col].tolist())
    result.index = incidents.index
    has_xy = _coordinates_given(incidents)
    if has_xy.any():
        if network is None:
            msg = "geocode: rows carry coordinates; pass `network` so they can be snapped."
            raise ValueError(msg)
        sub = incidents.loc[has_xy]
        x, y = _to_crs(sub, index.crs_)
        snapped = EdgeIndex.from_graph(network.walk).snap(x, y)
        far = snapped["dist"].to_numpy() > max_snap_m
        result.loc[has_xy, "match_type"] = "coordinates"
        result.loc[has_xy, "match_score"] = np.where(far, 50.0, 100.0)
        # the incident is placed on its street; the raw point stays in the src_ columns
        result.loc[has_xy, "x"] = snapped["snap_x"].to_numpy()
        result.loc[has_xy, "y"] = snapped["snap_y"].to_numpy()
        result.loc[has_xy, "flags"] = np.where(far, "far_from_street", "")
        result.loc[has_xy, "unmatched_reason"] = ""
        result.loc[has_xy, "snap_dist_m"] = snapped["dist"].round(1).to_numpy()
    lon, lat = Transformer.from_crs(index.crs_, "EPSG:4326", always_xy=True).transform(
        result["x"].to_numpy(), result["y"].to_numpy()
    )
    out = incidents.drop(columns=[c for c in result.columns if c in incidents.columns]).copy()
    for col in result.columns:
        if col not in {"x", "y"}:
            out[col] = result[col].to_numpy()
    out["lon"] = np.round(lon, 7)
    out["lat"] = np.round(lat, 7)
    geometry = gpd.points_from_xy(result["x"], result["y"])
    gdf = gpd.GeoDataFrame(out, geometry=geometry, crs=index.crs_)
    gdf.loc[gdf["match_type"] == "unmatched", "geometry"] = None
    log.info(
        "geocoded %d rows (%d distinct strings) in %.2fs: %d matched",
        len(gdf),
        incidents[address_col].nunique(),
        time.perf_counter() - t0,
        int((gdf["match_type"] != "unmatched").sum()),
    )
    return gdf


def _coordinates_given(df: pd.DataFrame) -> npt.NDArray[np.bool_]:
    if "x" not in df.columns or "y" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    x = pd.to_numeric(df["x"], errors="coerce")
    y = pd.to_numeric(df["y"], errors="coerce")
    return np.asarray(x.notna() & y.notna(), dtype=bool)


def _to_crs(df: pd.DataFrame, crs: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    src = df["crs"].iloc[0] if "crs" in df.columns and df["crs"].iloc[0] else "EPSG:4326"
    tr = Transformer.from_crs(src, crs, always_xy=True)
    x, y = tr.transform(df["x"].astype(float).to_numpy(), df["y"].astype(float).to_numpy())
    return np.asarray(x), np.asarray(y)


# --------------------------------------------------------------------------- #
# the match report
# --------------------------------------------------------------------------- #
def match_report(
    geocoded: pd.DataFrame, *, type_col: str = "call_type", top: int = 25
) -> dict[str, Any]:
    """What an analyst needs to judge and fix the geocoding.

    Hit rate overall and among locatable rows (not junk), by match type, by
    address form and by call type, flag counts, and the most frequent
    unmatched address strings.
    """
    n = len(geocoded)
    matched = geocoded["match_type"] != "unmatched"
    locatable = geocoded["address_form"] != "junk"
    if "match_type" in geocoded and "coordinates" in set(geocoded["match_type"]):
        locatable = locatable | (geocoded["match_type"] == "coordinates")
    report: dict[str, Any] = {
        "rows": n,
        "matched": int(matched.sum()),
        "hit_rate": _rate(matched.sum(), n),
        "locatable_rows": int(locatable.sum()),
        "hit_rate_locatable": _rate((matched & locatable).sum(), locatable.sum()),
        "by_match_type": {k: int(v) for k, v in geocoded["match_type"].value_counts().items()},
        "by_address_form": {},
        "by_call_type": {},
        "flags": dict(
            Counter(f for flags in geocoded["flags"] for f in str(flags).split(";") if f)
        ),
        "unmatched_reasons": {
            k: int(v) for k, v in geocoded.loc[~matched, "unmatched_reason"].value_counts().items()
        },
        "top_unmatched": [],
    }
    for form, grp in geocoded.groupby("address_form", sort=True):
        hits = grp["match_type"] != "unmatched"
        report["by_address_form"][str(form)] = {
            "rows": len(grp),
            "hit_rate": _rate(hits.sum(), len(grp)),
        }
    if type_col in geocoded.columns:
        for ct, grp in geocoded.groupby(type_col, sort=True):
            hits = grp["match_type"] != "unmatched"
            report["by_call_type"][str(ct)] = {
                "rows": len(grp),
                "hit_rate": _rate(hits.sum(), len(grp)),
            }
    addr_col = "address" if "address" in geocoded.columns else None
    if addr_col:
        top_unmatched = geocoded.loc[~matched, addr_col].fillna("").value_counts().head(top)
        report["top_unmatched"] = [
            {"address": str(a), "count": int(c)} for a, c in top_unmatched.items()
        ]
    return report


def _rate(k: float, n: float) -> float:
    return round(float(k) / float(n), 5) if n else 0.0


# --------------------------------------------------------------------------- #
# agency centerlines with address ranges
# --------------------------------------------------------------------------- #
#: Column names tried for each centerline field (TIGER/Line first).
CENTERLINE_COLUMNS: dict[str, tuple[str, ...]] = {
    "street": ("FULLNAME", "street", "name", "STREET", "ST_NAME"),
    "l_from": ("LFROMADD", "l_from", "LEFT_FROM", "L_F_ADD", "FROMLEFT"),
    "l_to": ("LTOADD", "l_to", "LEFT_TO", "L_T_ADD", "TOLEFT"),
    "r_from": ("RFROMADD", "r_from", "RIGHT_FROM", "R_F_ADD", "FROMRIGHT"),
    "r_to": ("RTOADD", "r_to", "RIGHT_TO", "R_T_ADD", "TORIGHT"),
}


def read_centerlines(path: str | Path) -> gpd.GeoDataFrame:
    """Read an agency street-centerline file with address ranges.

    Accepts any format GeoPandas reads (GeoPackage, Shapefile, GeoJSON) with
    a street name and left/right from/to house numbers, under TIGER/Line
    names (``FULLNAME``, ``LFROMADD``, ``LTOADD``, ``RFROMADD``, ``RTOADD``) or
    the plain ``street``, ``l_from``, ``l_to``, ``r_from``, ``r_to``.
    """
    p = Path(path)
    gdf = read_vector(p, what="centerline file")
    out = {}
    for field_name, options in CENTERLINE_COLUMNS.items():
        col = next((c for c in options if c in gdf.columns), None)
        if col is None:
            msg = (
                f"Centerline file {str(p)!r} has no {field_name!r} column (looked for "
                f"{', '.join(options)}); its columns are {', '.join(map(str, gdf.columns))}."
            )
            raise InputFileError(msg)
        out[field_name] = (
            gdf[col] if field_name == "street" else pd.to_numeric(gdf[col], errors="coerce")
        )
    if gdf.crs is None:
        msg = f"Centerline file {str(p)!r} has no CRS; set one (e.g. EPSG:4326) and try again."
        raise InputFileError(msg)
    return gpd.GeoDataFrame(out, geometry=gdf.geometry.to_numpy(), crs=gdf.crs)


# --------------------------------------------------------------------------- #
# writing
# --------------------------------------------------------------------------- #
def write_geocoded(geocoded: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write geocoded incidents atomically (GeoPackage, GeoJSON or Parquet by suffix).

    Rows that did not match keep an empty geometry, so the file holds every row.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    with atomic_path(p) as tmp:
        if suffix == ".parquet":
            geocoded.to_parquet(tmp)
        elif suffix in {".gpkg", ".geojson", ".json"}:
            driver = "GPKG" if suffix == ".gpkg" else "GeoJSON"
            pyogrio.write_dataframe(geocoded, tmp, driver=driver, layer="incidents")
        else:
            msg = f"Cannot write {str(p)!r}: use a .gpkg, .geojson or .parquet file name."
            raise ValueError(msg)
    return p
