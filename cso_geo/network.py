"""Street networks for foot and vehicle patrol.

One call gives both graphs a CSO unit needs, from an OSM file on disk or online
through osmnx:

- ``walk``: every way a person may walk, each edge in both directions;
- ``drive``: public drivable streets with one-ways respected, reduced to the
  largest strongly connected component so every node can reach every other.

Both are osmnx-compatible ``MultiDiGraph`` s, topologically simplified, projected
to the local UTM zone, with ``length`` (m), ``speed_kph`` and ``travel_time`` (s)
and a ``geometry`` on every edge. The OSM address points and named places of
the area come along for the geocoder.

Why our own reader for files: osmnx reads only OSM XML and builds the full
unsimplified graph in networkx before simplifying it, which is slow; pyrosm's
network reader crashes on some real PBF files. We read PBF, XML and bz2 XML
with pyosmium (libosmium), choose ways with the very same Overpass-style
filters osmnx uses for its ``network_type`` values, and split ways at
intersections in one vectorised pass, so a graph is built without ever holding
the unsimplified one.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import osmium
import osmnx as ox
import pandas as pd
import pyogrio
import requests
import scipy.sparse as sp
import shapely
from pyproj import Transformer
from scipy.sparse import csgraph

from cso_geo import __version__, settings
from cso_geo._errors import (
    BoundingBoxError,
    CacheError,
    DownloadError,
    EmptyNetworkError,
    InputFileError,
    InputFileNotFoundError,
)
from cso_geo._io import file_sha256

log = logging.getLogger(__name__)

NetworkType = Literal["walk", "drive"]
NETWORK_TYPES: tuple[NetworkType, ...] = ("walk", "drive")

#: Bumped whenever the cached layout or the way graphs are built changes.
CACHE_FORMAT = 1
_MANIFEST = "manifest.json"
_GPKG = "network.gpkg"

_OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".xml", ".osm.xml")


# --------------------------------------------------------------------------- #
# the result
# --------------------------------------------------------------------------- #
@dataclass
class StreetNetwork:
    """The street graphs, address points and named places of one area.

    Attributes
    ----------
    walk, drive
        Projected osmnx-compatible graphs.
    addresses
        OSM address points (``housenumber``, ``street``, ``postcode``, ``city``)
        in the graphs' CRS.
    places
        Named OSM features (shops, parks, schools, ...) in the graphs' CRS.
    crs
        The projected CRS of everything above.
    source
        What the network was built from (a file name or an online query).
    key
        The cache key: source content hash plus the settings that shaped it.
    """

    walk: nx.MultiDiGraph
    drive: nx.MultiDiGraph
    addresses: gpd.GeoDataFrame
    places: gpd.GeoDataFrame
    crs: str
    source: str
    key: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def graph(self, mode: str) -> nx.MultiDiGraph:
        """Return the graph for a patrol mode: ``foot``/``walk`` or ``drive``/``vehicle``."""
        if mode in {"walk", "foot"}:
            return self.walk
        if mode in {"drive", "vehicle"}:
            return self.drive
        msg = f"Unknown patrol mode {mode!r}; use one of 'foot', 'walk', 'drive', 'vehicle'."
        raise ValueError(msg)

    def summary(self) -> dict[str, Any]:
        """Node and edge counts and km of street for both graphs."""
        out: dict[str, Any] = {"source": self.source, "crs": self.crs}
        for name in NETWORK_TYPES:
            G = getattr(self, name)
            out[name] = {
                "nodes": G.number_of_nodes(),
                "edges": G.number_of_edges(),
                "street_km": round(street_km(G), 3),
                "oneway_edges": sum(1 for *_, d in G.edges(data=True) if d.get("oneway")),
            }
        out["address_points"] = len(self.addresses)
        out["named_places"] = len(self.places)
        return out


#: OSM highway classes where CSO calls happen (named streets, not footpaths).
STREET_CLASSES = frozenset(
    {
        "primary",
        "secondary",
        "tertiary",
        "trunk",
        "residential",
        "unclassified",
        "living_street",
        "pedestrian",
        "service",
        "primary_link",
        "secondary_link",
        "tertiary_link",
    }
)


def street_segments(
    G: nx.MultiDiGraph,
    *,
    classes: Iterable[str] | None = STREET_CLASSES,
    named_only: bool = True,
) -> gpd.GeoDataFrame:
    """Named street segments of a graph, one row per street (not per direction).

    Parameters
    ----------
    G
        A walk or drive graph.
    classes
        OSM highway classes to keep (default `STREET_CLASSES`, the streets
        where CSO calls happen); None keeps every class.
    named_only
        Keep only ways with a name (``name`` is "" for the others).

    Returns
    -------
    segments
        Columns ``segment_id`` (``"u-v-key"``), ``u``, ``v``, ``key``,
        ``name``, ``highway``, ``length`` and ``geometry``, sorted by id.
    """
    rows = []
    for u, v, k, d in G.edges(keys=True, data=True):
        if d.get("reversed", False):
            continue
        name = d.get("name")
        hwy = d.get("highway")
        if isinstance(name, list):
            name = name[0]
        if isinstance(hwy, list):
            hwy = hwy[0]
        if not isinstance(name, str) or not name:
            if named_only:
                continue
            name = ""
        if classes is not None and hwy not in classes:
            continue
        rows.append((f"{u}-{v}-{k}", u, v, k, name, hwy, float(d["length"]), d["geometry"]))
    if not rows:
        msg = "The network has no streets of the requested classes."
        raise EmptyNetworkError(msg)
    gdf = gpd.GeoDataFrame(
        rows,
        columns=["segment_id", "u", "v", "key", "name", "highway", "length", "geometry"],
        geometry="geometry",
        crs=G.graph["crs"],
    )
    return gdf.sort_values(["u", "v", "key"], kind="stable").reset_index(drop=True)


def street_km(G: nx.MultiDiGraph) -> float:
    """Kilometres of street in `G`, counting a two-way street once."""
    Gu = ox.convert.to_undirected(G)
    return float(ox.stats.street_length_total(Gu)) / 1000.0


# --------------------------------------------------------------------------- #
# Overpass-style way filters, evaluated locally
# --------------------------------------------------------------------------- #
_CLAUSE = re.compile(r'\[\s*"([^"]+)"\s*(?:(=|!=|~|!~)\s*"([^"]*)"\s*)?\]')


def compile_way_filter(expr: str) -> Callable[[Mapping[str, str]], bool]:
    """Turn an Overpass tag filter (osmnx ``custom_filter`` syntax) into a predicate.

    Supports ``["k"]``, ``["k"="v"]``, ``["k"!="v"]``, ``["k"~"re"]`` and
    ``["k"!~"re"]``; like Overpass, a regex matches anywhere in the value and a
    negated clause holds when the tag is absent.

    Parameters
    ----------
    expr
        The filter, e.g. ``'["highway"]["area"!~"yes"]'``.

    Returns
    -------
    predicate
        ``predicate(tags)`` is True when every clause holds.
    """
    clauses: list[tuple[str, str | None, str | re.Pattern[str] | None]] = []
    pos = 0
    stripped = expr.strip()
    for m in _CLAUSE.finditer(stripped):
        if stripped[pos : m.start()].strip():
            break
        key, op, value = m.group(1), m.group(2), m.group(3)
        if op in {"~", "!~"}:
            clauses.append((key, op, re.compile(value or "")))
        else:
            clauses.append((key, op, value))
        pos = m.end()
    if pos != len(stripped) or not clauses:
        msg = (
            f"Cannot read way filter {expr!r} at character {pos}: write clauses like "
            '\'["highway"]["service"!~"private"]\' (osmnx custom_filter syntax).'
        )
        raise ValueError(msg)

    def predicate(tags: Mapping[str, str]) -> bool:
        for key, op, value in clauses:
            tag = tags.get(key)
            if op is None:
                ok = tag is not None
            elif op == "=":
                ok = tag == value
            elif op == "!=":
                ok = tag != value
            elif op == "~":
                ok = tag is not None and bool(value.search(tag))  # type: ignore[union-attr]
            else:
                ok = tag is None or not value.search(tag)  # type: ignore[union-attr]
            if not ok:
                return False
        return True

    return predicate


# --------------------------------------------------------------------------- #
# reading OSM files
# --------------------------------------------------------------------------- #
_PLACE_KEYS = ("amenity", "shop", "leisure", "tourism", "building", "office", "public_transport")


@dataclass
class OsmExtract:
    """Highway ways, address points and named places read from an OSM file."""

    way_ids: npt.NDArray[np.int64]
    way_tags: list[dict[str, str]]
    way_offsets: npt.NDArray[np.int64]  # ways[i] spans node_ids[offsets[i]:offsets[i+1]]
    node_ids: npt.NDArray[np.int64]
    lons: npt.NDArray[np.float64]
    lats: npt.NDArray[np.float64]
    addresses: pd.DataFrame
    places: pd.DataFrame


def _check_file(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        msg = (
            f"OSM file {str(p)!r} does not exist. Give the path of an .osm.pbf, .osm or "
            ".osm.bz2 file, a bundled dataset name such as 'helsinki', or use --place."
        )
        raise InputFileNotFoundError(msg)
    if p.is_dir():
        msg = f"{str(p)!r} is a folder, not an OSM file; for a built network use --network."
        raise InputFileError(msg)
    if not p.name.lower().endswith(_OSM_SUFFIXES):
        msg = (
            f"{str(p)!r} does not look like an OSM file (expected one of "
            f"{', '.join(_OSM_SUFFIXES)})."
        )
        raise InputFileError(msg)
    return p


def read_osm(path: str | Path) -> OsmExtract:
    """Read highway ways, address points and named places from an OSM file.

    Parameters
    ----------
    path
        An ``.osm.pbf``, ``.osm`` or ``.osm.bz2`` file.

    Returns
    -------
    extract
    """
    p = _check_file(path)
    t0 = time.perf_counter()
    keep_tags = set(settings.way_tags) | {
        "area",
        "foot",
        "motor_vehicle",
        "motorcar",
        "sidewalk",
        "sidewalk:both",
        "sidewalk:left",
        "sidewalk:right",
    }
    way_ids: list[int] = []
    way_tags: list[dict[str, str]] = []
    offsets: list[int] = [0]
    node_ids: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    addr_rows: list[tuple[str, int, str, str, str, str, float, float]] = []
    place_rows: list[tuple[str, int, str, str, float, float]] = []
    n_missing = 0
    try:
        fp = (
            osmium.FileProcessor(str(p), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.KeyFilter("highway", "addr:housenumber", "name"))
        )
        for obj in fp:
            tags = obj.tags
            if isinstance(obj, osmium.osm.Node):
                loc = obj.location
                if not loc.valid():
                    continue
                if "addr:housenumber" in tags and "addr:street" in tags:
                    addr_rows.append(_address_row("node", obj.id, tags, loc.lon, loc.lat))
                elif "name" in tags and "highway" not in tags:
                    kind = _place_kind(tags)
                    if kind:
                        place_rows.append(("node", obj.id, tags["name"], kind, loc.lon, loc.lat))
                continue
            if not isinstance(obj, osmium.osm.Way):
                continue
            coords = [(n.ref, n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            n_missing += len(obj.nodes) - len(coords)
            if "highway" in tags:
                if len(coords) < 2:
                    continue
                way_ids.append(obj.id)
                way_tags.append({k: v for k, v in tags if k in keep_tags})
                for ref, lon, lat in coords:
                    node_ids.append(ref)
                    lons.append(lon)
                    lats.append(lat)
                offsets.append(len(node_ids))
            elif coords:
                # a building or area: its centroid stands for it
                lon_c = float(np.mean([c[1] for c in coords]))
                lat_c = float(np.mean([c[2] for c in coords]))
                if "addr:housenumber" in tags and "addr:street" in tags:
                    addr_rows.append(_address_row("way", obj.id, tags, lon_c, lat_c))
                if "name" in tags:
                    kind = _place_kind(tags)
                    if kind:
                        place_rows.append(("way", obj.id, tags["name"], kind, lon_c, lat_c))
    except RuntimeError as exc:
        msg = (
            f"Cannot read OSM file {str(p)!r}: {exc}. The file is corrupt or not OSM data; "
            "download the extract again."
        )
        raise InputFileError(msg) from exc
    if n_missing:
        log.info("%s: %d way nodes lie outside the extract and were skipped", p.name, n_missing)
    addresses = pd.DataFrame(
        addr_rows,
        columns=["osm_type", "osmid", "housenumber", "street", "postcode", "city", "lon", "lat"],
    )
    places = pd.DataFrame(place_rows, columns=["osm_type", "osmid", "name", "kind", "lon", "lat"])
    log.info(
        "read %s: %d highway ways, %d address points, %d named places in %.2fs",
        p.name,
        len(way_ids),
        len(addresses),
        len(places),
        time.perf_counter() - t0,
    )
    return OsmExtract(
        way_ids=np.asarray(way_ids, dtype=np.int64),
        way_tags=way_tags,
        way_offsets=np.asarray(offsets, dtype=np.int64),
        node_ids=np.asarray(node_ids, dtype=np.int64),
        lons=np.asarray(lons, dtype=np.float64),
        lats=np.asarray(lats, dtype=np.float64),
        addresses=addresses,
        places=places,
    )


def _address_row(
    osm_type: str, osmid: int, tags: Any, lon: float, lat: float
) -> tuple[str, int, str, str, str, str, float, float]:
    return (
        osm_type,
        osmid,
        tags["addr:housenumber"],
        tags["addr:street"],
        tags.get("addr:postcode", ""),
        tags.get("addr:city", ""),
        lon,
        lat,
    )


def _place_kind(tags: Any) -> str:
    for key in _PLACE_KEYS:
        value = tags.get(key)
        if value and value != "no":
            return f"{key}={value}" if key != "building" else "building"
    return ""


# --------------------------------------------------------------------------- #
# building a simplified graph from ways
# --------------------------------------------------------------------------- #
def utm_crs(lon: float, lat: float) -> str:
    """Return the WGS 84 / UTM zone CRS (``EPSG:326xx``/``327xx``) for a point."""
    zone = math.floor((lon + 180.0) / 6.0) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def _oneway_direction(tags: Mapping[str, str], network_type: NetworkType) -> int:
    """1 = one-way along the drawing, -1 = against it, 0 = both ways."""
    if network_type == "walk":
        return 0
    oneway = tags.get("oneway", "").lower()
    if oneway in settings.oneway_values:
        return 1
    if oneway in {"-1", "reverse"}:
        return -1
    if oneway in {"no", "false", "0", "alternating", "reversible"}:
        return 0
    if tags.get("junction") in {"roundabout", "circular"}:
        return 1
    if tags.get("highway") in settings.implied_oneway_highways:
        return 1
    return 0


def _haversine(
    lon1: npt.NDArray[np.float64],
    lat1: npt.NDArray[np.float64],
    lon2: npt.NDArray[np.float64],
    lat2: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    # the same great-circle formula and earth radius osmnx uses for `length`
    r = 6_371_009.0
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2 - lon1)
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * r * np.arcsin(np.sqrt(np.clip(h, 0, 1))), dtype=np.float64)


def graph_from_extract(
    extract: OsmExtract,
    network_type: NetworkType,
    *,
    crs: str | None = None,
    way_filter: str | None = None,
    name: str = "",
) -> nx.MultiDiGraph:
    """Build one simplified, projected street graph from an OSM extract.

    Ways are split at intersections, dead ends and where the street's name,
    class or one-way status changes, and joined across the ends of ways
    elsewhere, so the result has osmnx's simplified topology; ``osmid`` is a
    list where several OSM ways form one edge, as in osmnx. Other tags that
    differ along a joined edge take the value of its longest way.

    Parameters
    ----------
    extract
        What `read_osm` returned.
    network_type
        ``"walk"`` or ``"drive"``.
    crs
        Target projected CRS; by default the UTM zone of the area.
    way_filter
        Overpass-style filter; by default ``settings.way_filters[network_type]``.
    name
        The source's name, for messages.

    Returns
    -------
    G
    """
    if network_type not in NETWORK_TYPES:
        msg = f"network_type must be one of {NETWORK_TYPES}, not {network_type!r}."
        raise ValueError(msg)
    t0 = time.perf_counter()
    keep = compile_way_filter(way_filter or settings.way_filters[network_type])
    selected = [i for i, tags in enumerate(extract.way_tags) if keep(tags)]
    if not selected:
        msg = (
            f"{name or 'The area'} has no {network_type} streets: none of its "
            f"{len(extract.way_tags)} highway ways pass the {network_type} filter. "
            "Check that the extract covers the patrol area."
        )
        raise EmptyNetworkError(msg)

    # ---- per-way arrays -------------------------------------------------- #
    sel = np.asarray(selected, dtype=np.int64)
    starts = extract.way_offsets[sel]
    ends = extract.way_offsets[sel + 1]
    counts = ends - starts
    flat = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)])
    way_of_node = np.repeat(np.arange(len(sel)), counts)  # local way index per node slot
    osm_nodes = extract.node_ids[flat]
    uniq, node_idx = np.unique(osm_nodes, return_inverse=True)
    n_nodes = len(uniq)
    lon_all = np.zeros(n_nodes)
    lat_all = np.zeros(n_nodes)
    lon_all[node_idx] = extract.lons[flat]
    lat_all[node_idx] = extract.lats[flat]

    direction = np.array(
        [_oneway_direction(extract.way_tags[i], network_type) for i in selected], dtype=np.int8
    )
    key_attrs = [
        (
            extract.way_tags[i].get("highway", ""),
            extract.way_tags[i].get("name", ""),
            int(direction[j] != 0),
        )
        for j, i in enumerate(selected)
    ]
    _, way_key = np.unique(np.array([repr(k) for k in key_attrs]), return_inverse=True)

    # ---- raw segments between consecutive nodes ---------------------------- #
    seg_mask = np.ones(len(flat), dtype=bool)
    seg_mask[np.cumsum(counts) - 1] = False  # the last node of each way starts no segment
    a = node_idx[:-1][seg_mask[:-1]]
    b = node_idx[1:][seg_mask[:-1]]
    seg_way = way_of_node[:-1][seg_mask[:-1]]
    seg_dir = direction[seg_way]

    # degrees as osmnx counts them on the unsimplified directed graph
    fwd = seg_dir >= 0
    bwd = seg_dir <= 0
    out_deg = np.bincount(a[fwd], minlength=n_nodes) + np.bincount(b[bwd], minlength=n_nodes)
    in_deg = np.bincount(b[fwd], minlength=n_nodes) + np.bincount(a[bwd], minlength=n_nodes)
    pairs = np.unique(np.stack([np.concatenate([a, b]), np.concatenate([b, a])], axis=1), axis=0)
    self_loop = np.zeros(n_nodes, dtype=bool)
    self_loop[a[a == b]] = True
    n_neighbours = np.bincount(pairs[:, 0][pairs[:, 0] != pairs[:, 1]], minlength=n_nodes)
    degree = in_deg + out_deg
    endpoint = (
        self_loop
        | (in_deg == 0)
        | (out_deg == 0)
        | ~((n_neighbours == 2) & np.isin(degree, (2, 4)))
    )
    # where two ways of different name/class/one-way status meet, keep a node
    node_way = np.unique(np.stack([node_idx, way_key[way_of_node]], axis=1), axis=0)
    endpoint |= np.bincount(node_way[:, 0], minlength=n_nodes) > 1

    # ---- split ways into pieces at endpoints ------------------------------ #
    is_cut = endpoint[node_idx]
    pieces: list[tuple[int, npt.NDArray[np.int64]]] = []  # (local way, node seq)
    way_start = np.concatenate([[0], np.cumsum(counts)])
    for j in range(len(sel)):
        lo, hi = int(way_start[j]), int(way_start[j + 1])
        seq = node_idx[lo:hi]
        bounds = sorted({0, hi - lo - 1, *np.flatnonzero(is_cut[lo:hi]).tolist()})
        for s, e in itertools.pairwise(bounds):
            piece = seq[s : e + 1]
            if direction[j] < 0:
                piece = piece[::-1]
            pieces.append((j, piece))

    chains = _join_pieces(pieces, endpoint)

    # ---- project and measure -------------------------------------------- #
    crs = crs or utm_crs(float(np.mean(lon_all)), float(np.mean(lat_all)))
    to_utm = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x_all, y_all = to_utm.transform(lon_all, lat_all)

    chain_nodes = [
        np.concatenate([p[1] if k == 0 else p[1][1:] for k, p in enumerate(c)]) for c in chains
    ]
    chain_u = np.array([c[0] for c in chain_nodes], dtype=np.int64)
    chain_v = np.array([c[-1] for c in chain_nodes], dtype=np.int64)
    chain_dir = np.array([direction[c[0][0]] for c in chains], dtype=np.int8)

    # keep the largest (strongly, for driving) connected component, found on
    # the chain graph with scipy before any networkx object exists
    keep_chain = _largest_component_mask(
        chain_u, chain_v, chain_dir, n_nodes, strongly=network_type == "drive"
    )
    kept = np.flatnonzero(keep_chain)
    if len(kept) < len(chains):
        log.info(
            "%s: kept the largest %s component, dropping %d of %d edges",
            network_type,
            "strongly connected" if network_type == "drive" else "connected",
            len(chains) - len(kept),
            len(chains),
        )
    chains = [chains[i] for i in kept]
    chain_nodes = [chain_nodes[i] for i in kept]
    chain_u, chain_v, chain_dir = chain_u[kept], chain_v[kept], chain_dir[kept]

    # ---- project and measure -------------------------------------------- #
    crs = crs or utm_crs(float(np.mean(lon_all)), float(np.mean(lat_all)))
    to_utm = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x_all, y_all = to_utm.transform(lon_all, lat_all)
    sizes = np.array([len(c) for c in chain_nodes])
    flat_nodes = np.concatenate(chain_nodes)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    seg_len = _haversine(
        lon_all[flat_nodes[:-1]],
        lat_all[flat_nodes[:-1]],
        lon_all[flat_nodes[1:]],
        lat_all[flat_nodes[1:]],
    )
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    chain_len = cum[offsets[1:] - 1] - cum[offsets[:-1]]
    coords = np.stack([x_all[flat_nodes], y_all[flat_nodes]], axis=1)
    line_of = np.repeat(np.arange(len(chain_nodes)), sizes)
    geoms: npt.NDArray[np.object_] = np.asarray(
        shapely.linestrings(coords, indices=line_of), dtype=object
    )
    # reversed twins of two-way edges: reverse each chain's slice of coords
    two_way = np.flatnonzero(chain_dir == 0)
    rev_idx = (
        np.concatenate([np.arange(offsets[i + 1] - 1, offsets[i] - 1, -1) for i in two_way])
        if len(two_way)
        else np.zeros(0, dtype=np.int64)
    )
    rev_geoms = (
        shapely.linestrings(
            coords[rev_idx], indices=np.repeat(np.arange(len(two_way)), sizes[two_way])
        )
        if len(two_way)
        else np.zeros(0, dtype=object)
    )
    rev_of = dict(zip(two_way.tolist(), rev_geoms, strict=True))

    # ---- assemble the MultiDiGraph ---------------------------------------- #
    G = nx.MultiDiGraph(
        crs=crs,
        simplified=True,
        network_type=network_type,
        source=name,
        created_with=f"cso_geo {__version__}",
    )
    # osmnx's street_count: undirected streets meeting at a node (a loop counts twice)
    street_count = np.bincount(chain_u, minlength=n_nodes) + np.bincount(chain_v, minlength=n_nodes)
    used = np.unique(np.concatenate([chain_u, chain_v]))
    G.add_nodes_from(
        (
            int(uniq[i]),
            {
                "y": float(y_all[i]),
                "x": float(x_all[i]),
                "street_count": int(street_count[i]),
                "lon": float(lon_all[i]),
                "lat": float(lat_all[i]),
            },
        )
        for i in used.tolist()
    )
    wanted = set(settings.way_tags)
    edge_rows: list[tuple[int, int, dict[str, Any]]] = []
    for i, (c, length, geom) in enumerate(zip(chains, chain_len, geoms, strict=True)):
        ways_c = [selected[p[0]] for p in c]
        if len(c) == 1:
            osmid: int | list[int] = int(extract.way_ids[ways_c[0]])
            tags = extract.way_tags[ways_c[0]]
        else:
            ids = list(dict.fromkeys(int(extract.way_ids[w]) for w in ways_c))
            osmid = ids[0] if len(ids) == 1 else ids
            longest = max(range(len(c)), key=lambda k: len(c[k][1]))
            tags = extract.way_tags[ways_c[longest]]
        dir_c = int(chain_dir[i])
        attrs: dict[str, Any] = {k: v for k, v in tags.items() if k in wanted}
        attrs["osmid"] = osmid
        attrs["oneway"] = dir_c != 0
        attrs["length"] = float(length)
        u, v = int(uniq[chain_u[i]]), int(uniq[chain_v[i]])
        edge_rows.append((u, v, {**attrs, "reversed": dir_c < 0, "geometry": geom}))
        if dir_c == 0:
            edge_rows.append((v, u, {**attrs, "reversed": True, "geometry": rev_of[i]}))
    G.add_edges_from(edge_rows)
    add_speeds(G, network_type)
    log.info(
        "built %s graph from %s: %d nodes, %d edges in %.2fs",
        network_type,
        name or "extract",
        G.number_of_nodes(),
        G.number_of_edges(),
        time.perf_counter() - t0,
    )
    return G


def _join_pieces(
    pieces: Sequence[tuple[int, npt.NDArray[np.int64]]],
    endpoint: npt.NDArray[np.bool_],
) -> list[list[tuple[int, npt.NDArray[np.int64]]]]:
    """Join way pieces end to end through nodes that are not endpoints.

    Pieces of one-way ways are already oriented in their direction of travel;
    two-way pieces are flipped as needed. A closed ring with no endpoint at all
    becomes a self-loop at its first node.
    """
    at_node: dict[int, list[int]] = {}
    for k, (_, seq) in enumerate(pieces):
        for n in (int(seq[0]), int(seq[-1])):
            if not endpoint[n]:
                at_node.setdefault(n, []).append(k)

    done = np.zeros(len(pieces), dtype=bool)
    chains: list[list[tuple[int, npt.NDArray[np.int64]]]] = []
    for k in range(len(pieces)):
        if done[k]:
            continue
        done[k] = True
        chain = [pieces[k]]
        # extend forward
        while True:
            end = int(chain[-1][1][-1])
            q = _next_piece(at_node, end, done)
            if q is None:
                break
            done[q] = True
            way, seq = pieces[q]
            chain.append((way, seq if int(seq[0]) == end else seq[::-1]))
        # extend backward
        while True:
            start = int(chain[0][1][0])
            q = _next_piece(at_node, start, done)
            if q is None:
                break
            done[q] = True
            way, seq = pieces[q]
            chain.insert(0, (way, seq if int(seq[-1]) == start else seq[::-1]))
        chains.append(chain)
    return chains


def _next_piece(
    at_node: Mapping[int, list[int]],
    node: int,
    done: npt.NDArray[np.bool_],
) -> int | None:
    """The not-yet-used piece that continues a chain through an interior node."""
    for q in at_node.get(node, ()):
        if not done[q]:
            return q
    return None


def _largest_component_mask(
    u: npt.NDArray[np.int64],
    v: npt.NDArray[np.int64],
    direction: npt.NDArray[np.int8],
    n_nodes: int,
    *,
    strongly: bool,
) -> npt.NDArray[np.bool_]:
    """Which edges lie in the largest (strongly) connected component.

    Edges run from `u` to `v` in their direction of travel; two-way edges
    (`direction` 0) also from `v` to `u`.
    """
    both = direction == 0
    src = np.concatenate([u, v[both]])
    dst = np.concatenate([v, u[both]])
    adj = sp.coo_matrix((np.ones(len(src)), (src, dst)), shape=(n_nodes, n_nodes)).tocsr()
    _, labels = csgraph.connected_components(
        adj, directed=True, connection="strong" if strongly else "weak"
    )
    # only nodes that are edge ends count towards a component's size
    ends = np.unique(np.concatenate([u, v]))
    sizes = np.bincount(labels[ends], minlength=labels.max() + 1)
    best = int(np.argmax(sizes))
    return np.asarray((labels[u] == best) & (labels[v] == best), dtype=bool)


def _largest_component(G: nx.MultiDiGraph, *, strongly: bool) -> nx.MultiDiGraph:
    """Drop, in place, every node outside the largest (strongly) connected component."""
    comps = nx.strongly_connected_components(G) if strongly else nx.weakly_connected_components(G)
    largest = max(comps, key=len)
    if len(largest) < G.number_of_nodes():
        log.info(
            "dropping %d nodes outside the largest component", G.number_of_nodes() - len(largest)
        )
        G.remove_nodes_from([n for n in G if n not in largest])
    return G


def add_speeds(G: nx.MultiDiGraph, network_type: NetworkType) -> nx.MultiDiGraph:
    """Set ``speed_kph`` and ``travel_time`` (s) on every edge, in place.

    Walk edges get ``settings.walk_speed_kph``. Drive edges use their
    ``maxspeed`` tag where it is a number (``"50"``, ``"30 mph"``, or several
    separated by ``;``, averaged), else ``settings.default_speeds_kph`` for
    their highway class (``*_link`` falls back to its parent class), else
    ``settings.fallback_speed_kph``. Zone codes such as ``"FI:urban"`` carry
    no number and fall back to the class default.
    """
    walk_speed = float(settings.walk_speed_kph)
    for *_, d in G.edges(data=True):
        if network_type == "walk":
            speed = walk_speed
        else:
            speed = parse_maxspeed(d.get("maxspeed")) or _class_speed(d.get("highway"))
        d["speed_kph"] = speed
        d["travel_time"] = round(d["length"] / (speed / 3.6), 1)
    return G


_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)


def parse_maxspeed(value: Any) -> float | None:
    """km/h from an OSM ``maxspeed`` value, or None when it holds no number."""
    if value is None:
        return None
    parts = value if isinstance(value, list) else str(value).split(";")
    speeds = []
    for part in parts:
        m = _SPEED.match(str(part))
        if m:
            kph = float(m.group(1)) * (1.609344 if (m.group(2) or "").lower() == "mph" else 1.0)
            if kph > 0:
                speeds.append(kph)
    return float(np.mean(speeds)) if speeds else None


def _class_speed(highway: Any) -> float:
    if isinstance(highway, list):
        highway = highway[0] if highway else None
    if not isinstance(highway, str):
        return float(settings.fallback_speed_kph)
    base = highway.removesuffix("_link")
    return float(settings.default_speeds_kph.get(base, settings.fallback_speed_kph))


# --------------------------------------------------------------------------- #
# the public entry points
# --------------------------------------------------------------------------- #
def _settings_fingerprint() -> dict[str, Any]:
    return {
        "cache_format": CACHE_FORMAT,
        # a new release may build graphs differently: never reuse an older build
        "cso_geo": __version__,
        "walk_speed_kph": settings.walk_speed_kph,
        "default_speeds_kph": dict(sorted(settings.default_speeds_kph.items())),
        "fallback_speed_kph": settings.fallback_speed_kph,
        "way_filters": dict(sorted(settings.way_filters.items())),
        "way_tags": list(settings.way_tags),
        "oneway_values": sorted(settings.oneway_values),
        "implied_oneway_highways": sorted(settings.implied_oneway_highways),
    }


def _cache_key(source_id: str) -> str:
    blob = json.dumps({"source": source_id, **_settings_fingerprint()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def network_from_file(
    path: str | Path,
    *,
    use_cache: bool | None = None,
    cache_folder: str | Path | None = None,
) -> StreetNetwork:
    """Build (or load from cache) the walk and drive networks of an OSM file.

    Parameters
    ----------
    path
        An ``.osm.pbf``, ``.osm`` or ``.osm.bz2`` file, or a bundled dataset
        name such as ``"helsinki"`` (see `cso_geo.datasets.available`).
    use_cache, cache_folder
        Default to ``settings.use_cache`` and ``settings.cache_folder``. The
        cache is keyed by the file's content hash and the settings that shape
        the graphs; a corrupt or stale cache is rebuilt, never used.

    Returns
    -------
    network

    Examples
    --------
    >>> import cso_geo
    >>> net = cso_geo.network.network_from_file("helsinki")
    >>> net.drive.graph["crs"]
    'EPSG:32635'
    """
    from cso_geo import datasets  # noqa: PLC0415 - datasets imports this module

    p = datasets.resolve_osm(path)
    p = _check_file(p)
    use_cache = settings.use_cache if use_cache is None else use_cache
    key = _cache_key("sha256:" + file_sha256(p))
    cache_dir = Path(cache_folder or settings.cache_folder) / f"{_slug(p.name)}-{key[:16]}"
    if use_cache and cache_dir.exists():
        try:
            net = load_network(cache_dir, expect_key=key)
        except CacheError as exc:
            log.warning("%s; rebuilding", exc)
        else:
            log.info("loaded %s from cache %s", p.name, cache_dir)
            return net
    net = _build_from_extract(read_osm(p), source=p.name, key=key)
    if use_cache:
        save_network(net, cache_dir)
    return net


def _build_from_extract(extract: OsmExtract, *, source: str, key: str) -> StreetNetwork:
    if len(extract.way_ids) == 0:
        msg = f"{source} holds no highway ways at all; check that it covers the patrol area."
        raise EmptyNetworkError(msg)
    crs = utm_crs(float(np.mean(extract.lons)), float(np.mean(extract.lats)))
    walk = graph_from_extract(extract, "walk", crs=crs, name=source)
    drive = graph_from_extract(extract, "drive", crs=crs, name=source)
    return StreetNetwork(
        walk=walk,
        drive=drive,
        addresses=_points_gdf(extract.addresses, crs),
        places=_points_gdf(extract.places, crs),
        crs=crs,
        source=source,
        key=key,
    )


def _points_gdf(df: pd.DataFrame, crs: str) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(
        df.drop(columns=["lon", "lat"]).assign(lon=df["lon"], lat=df["lat"]),
        geometry=gpd.points_from_xy(df["lon"], df["lat"]),
        crs="EPSG:4326",
    )
    return gdf.to_crs(crs)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40] or "network"


def check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """Validate a ``(west, south, east, north)`` bounding box in degrees.

    Raises
    ------
    BoundingBoxError
        When it has the wrong length, is in projected units, or is out of order.
    """
    if len(bbox) != 4:
        msg = f"A bounding box has 4 numbers (west, south, east, north), not {len(bbox)}: {bbox}."
        raise BoundingBoxError(msg)
    west, south, east, north = (float(v) for v in bbox)
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        msg = f"Bounding box {bbox} has a value that is not a number."
        raise BoundingBoxError(msg)
    if any(abs(v) > 180 for v in (west, east)) or any(abs(v) > 90 for v in (south, north)):
        msg = (
            f"Bounding box {bbox} is not in degrees (it looks like projected metres). "
            "Give longitude/latitude in EPSG:4326: west, south, east, north."
        )
        raise BoundingBoxError(msg)
    if west >= east or south >= north:
        msg = (
            f"Bounding box {bbox} is in the wrong order: expected west < east and "
            "south < north, given as west, south, east, north (e.g. 24.92,60.15,24.96,60.18)."
        )
        raise BoundingBoxError(msg)
    return west, south, east, north


def network_from_place(
    place: str | None = None,
    *,
    bbox: Sequence[float] | None = None,
    use_cache: bool | None = None,
    cache_folder: str | Path | None = None,
) -> StreetNetwork:
    """Download the walk and drive networks of a place or bounding box with osmnx.

    This needs internet access (Overpass, and Nominatim for a place name).

    Parameters
    ----------
    place
        A place name osmnx can geocode, e.g. ``"Eugene, Oregon, USA"``.
    bbox
        Or a ``(west, south, east, north)`` box in degrees.
    use_cache, cache_folder
        As for `network_from_file`; the key is the query and the settings.
    """
    if (place is None) == (bbox is None):
        msg = "Give exactly one of `place` or `bbox`."
        raise ValueError(msg)
    box = check_bbox(bbox) if bbox is not None else None
    source = place if place is not None else "bbox " + ",".join(f"{v:g}" for v in box or ())
    use_cache = settings.use_cache if use_cache is None else use_cache
    key = _cache_key("query:" + source)
    cache_dir = Path(cache_folder or settings.cache_folder) / f"{_slug(source)}-{key[:16]}"
    if use_cache and cache_dir.exists():
        try:
            return load_network(cache_dir, expect_key=key)
        except CacheError as exc:
            log.warning("%s; downloading again", exc)
    ox.settings.requests_timeout = settings.requests_timeout
    graphs: dict[str, nx.MultiDiGraph] = {}
    for network_type in NETWORK_TYPES:
        try:
            if place is not None:
                G = ox.graph_from_place(place, network_type=network_type, simplify=True)
            else:
                assert box is not None
                G = ox.graph_from_bbox(box, network_type=network_type, simplify=True)
        except (OSError, requests.RequestException) as exc:
            msg = (
                f"Cannot download the street network of {source!r}: {exc}. Check the internet "
                "connection, or build from a file with --osm."
            )
            raise DownloadError(msg) from exc
        graphs[network_type] = G
    tags: dict[str, bool | str | list[str]] = {"addr:housenumber": True}
    try:
        if place is not None:
            feats = ox.features_from_place(place, tags=tags)
        else:
            assert box is not None
            feats = ox.features_from_bbox(box, tags=tags)
    except ox._errors.InsufficientResponseError:
        feats = gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    net = network_from_graphs(graphs["walk"], graphs["drive"], addresses=feats, source=source)
    net.key = key
    if use_cache:
        save_network(net, cache_dir)
    return net


def network_from_graphs(
    walk: nx.MultiDiGraph,
    drive: nx.MultiDiGraph,
    *,
    addresses: gpd.GeoDataFrame | None = None,
    source: str = "osmnx graphs",
) -> StreetNetwork:
    """Turn unprojected osmnx graphs into a `StreetNetwork`.

    Projects both graphs to the local UTM zone, gives straight edges a
    geometry, keeps the largest (strongly, for drive) connected component and
    sets speeds and travel times from `settings`.
    """
    lon = np.array([d["x"] for _, d in walk.nodes(data=True)])
    lat = np.array([d["y"] for _, d in walk.nodes(data=True)])
    if len(lon) == 0:
        msg = f"{source} has no walkable streets."
        raise EmptyNetworkError(msg)
    crs = utm_crs(float(lon.mean()), float(lat.mean()))
    out: dict[str, nx.MultiDiGraph] = {}
    sources: tuple[tuple[NetworkType, nx.MultiDiGraph], ...] = (("walk", walk), ("drive", drive))
    for network_type, G in sources:
        if G.number_of_edges() == 0:
            msg = f"{source} has no {network_type} streets."
            raise EmptyNetworkError(msg)
        H = ox.projection.project_graph(G, to_crs=crs)
        for u, v, _k, d in H.edges(keys=True, data=True):
            if "geometry" not in d:
                nu, nv = H.nodes[u], H.nodes[v]
                d["geometry"] = shapely.LineString([(nu["x"], nu["y"]), (nv["x"], nv["y"])])
        H = _largest_component(H, strongly=network_type == "drive")
        H.graph.update(network_type=network_type, source=source)
        add_speeds(H, network_type)
        out[network_type] = H
    addr = _addresses_from_features(addresses, crs)
    return StreetNetwork(
        walk=out["walk"],
        drive=out["drive"],
        addresses=addr,
        places=_points_gdf(
            pd.DataFrame(columns=["osm_type", "osmid", "name", "kind", "lon", "lat"]), crs
        ),
        crs=crs,
        source=source,
    )


def _addresses_from_features(feats: gpd.GeoDataFrame | None, crs: str) -> gpd.GeoDataFrame:
    cols = ["osm_type", "osmid", "housenumber", "street", "postcode", "city", "lon", "lat"]
    if feats is None or feats.empty or "addr:street" not in feats.columns:
        return _points_gdf(pd.DataFrame(columns=cols), crs)
    f = feats[feats["addr:street"].notna() & feats["addr:housenumber"].notna()]
    pts = f.geometry.representative_point()
    idx = f.index.to_frame(index=False) if isinstance(f.index, pd.MultiIndex) else None
    df = pd.DataFrame(
        {
            "osm_type": idx["element"].to_numpy() if idx is not None else "node",
            "osmid": idx["id"].to_numpy() if idx is not None else f.index.to_numpy(),
            "housenumber": f["addr:housenumber"].astype(str).to_numpy(),
            "street": f["addr:street"].astype(str).to_numpy(),
            "postcode": f.get("addr:postcode", pd.Series("", index=f.index))
            .fillna("")
            .astype(str)
            .to_numpy(),
            "city": f.get("addr:city", pd.Series("", index=f.index))
            .fillna("")
            .astype(str)
            .to_numpy(),
            "lon": pts.x.to_numpy(),
            "lat": pts.y.to_numpy(),
        }
    )
    return _points_gdf(df, crs)


# --------------------------------------------------------------------------- #
# saving and loading (the cache and `--network DIR`)
# --------------------------------------------------------------------------- #


def save_network(net: StreetNetwork, directory: str | Path) -> Path:
    """Write a network to a folder (a GeoPackage and a manifest), atomically.

    The folder is written beside the target and moved into place, so a reader
    never sees half a network. An existing folder is replaced only when it is
    empty or holds a network written here before; anything else is refused,
    never deleted. Reload it with `load_network`.

    Raises
    ------
    InputFileError
        When `directory` is a file, or a folder with other content.
    """
    target = Path(directory)
    if target.exists() and not target.is_dir():
        msg = f"Cannot save a network to {str(target)!r}: it is a file. Give a folder path."
        raise InputFileError(msg)
    if target.is_dir() and any(target.iterdir()) and not (target / _MANIFEST).exists():
        msg = (
            f"Cannot save a network to {str(target)!r}: the folder holds other files and is "
            "not a network folder. Choose a new or empty folder; nothing was changed."
        )
        raise InputFileError(msg)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{time.time_ns()}"
    tmp.mkdir()
    try:
        gpkg = tmp / _GPKG
        counts: dict[str, int] = {}
        list_columns: dict[str, list[str]] = {}
        for name in NETWORK_TYPES:
            G = getattr(net, name)
            nodes, edges = _graph_frames(G)
            # GeoPackage has no list type: lists (osmnx's merged-way values) go as JSON
            edges["osmid"] = edges["osmid"].map(json.dumps)
            for col in edges.columns:
                if col not in {"geometry", "osmid"} and edges[col].dtype == object:
                    has_list = edges[col].map(lambda x: isinstance(x, list | tuple | set))
                    if has_list.any():
                        list_columns.setdefault(name, []).append(col)
                        edges[col] = edges[col].map(_scalar_text)
            pyogrio.write_dataframe(nodes, gpkg, layer=f"{name}_nodes", use_arrow=True)
            pyogrio.write_dataframe(edges, gpkg, layer=f"{name}_edges", use_arrow=True)
            counts[f"{name}_nodes"] = len(nodes)
            counts[f"{name}_edges"] = len(edges)
        for layer in ("addresses", "places"):
            gdf = getattr(net, layer)
            pyogrio.write_dataframe(gdf, gpkg, layer=layer, use_arrow=True)
            counts[layer] = len(gdf)
        manifest = {
            "cache_format": CACHE_FORMAT,
            "key": net.key,
            "source": net.source,
            "crs": net.crs,
            "counts": counts,
            "list_columns": list_columns,
            "gpkg_sha256": file_sha256(gpkg),
            "settings": _settings_fingerprint(),
            "created_with": f"cso_geo {__version__}",
        }
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{time.time_ns()}"
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("saved network %s to %s", net.source, target)
    return target


def _graph_frames(G: nx.MultiDiGraph) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nodes and edges as GeoDataFrames (osmnx's layout, built in one pass)."""
    crs = G.graph["crs"]
    node_df = pd.DataFrame.from_records([{"osmid": n, **d} for n, d in G.nodes(data=True)])
    nodes = gpd.GeoDataFrame(
        node_df, geometry=gpd.points_from_xy(node_df["x"], node_df["y"]), crs=crs
    )
    edge_df = pd.DataFrame.from_records(
        [{"u": u, "v": v, "key": k, **d} for u, v, k, d in G.edges(keys=True, data=True)]
    )
    edges = gpd.GeoDataFrame(edge_df, geometry="geometry", crs=crs)
    return nodes, edges


def _scalar_text(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return json.dumps(sorted(map(str, value)) if isinstance(value, set) else list(value))
    return value


def load_network(directory: str | Path, *, expect_key: str | None = None) -> StreetNetwork:
    """Load a network written by `save_network` (``--network DIR``).

    Raises
    ------
    InputFileNotFoundError
        When the folder does not exist.
    CacheError
        When the folder is corrupt, incomplete, or (with `expect_key`) was
        built from another source or other settings.
    """
    d = Path(directory)
    if not d.is_dir():
        msg = (
            f"Network folder {str(d)!r} does not exist. Build one with "
            "`cso-geo network --osm FILE --out DIR`."
        )
        raise InputFileNotFoundError(msg)
    t0 = time.perf_counter()
    try:
        manifest = json.loads((d / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"Network folder {str(d)!r} has no readable {_MANIFEST} ({exc})"
        raise CacheError(msg) from exc
    if manifest.get("cache_format") != CACHE_FORMAT:
        msg = f"Network folder {str(d)!r} was written by another cso_geo cache format"
        raise CacheError(msg)
    if expect_key is not None and manifest.get("key") != expect_key:
        msg = f"Network folder {str(d)!r} is stale: its source or settings changed"
        raise CacheError(msg)
    gpkg = d / _GPKG
    if not gpkg.exists() or file_sha256(gpkg) != manifest.get("gpkg_sha256"):
        msg = f"Network folder {str(d)!r} is corrupt: {_GPKG} does not match its manifest"
        raise CacheError(msg)
    counts = manifest.get("counts")
    if not isinstance(counts, dict) or "crs" not in manifest or "source" not in manifest:
        msg = f"Network folder {str(d)!r} is corrupt: its manifest lacks counts, crs or source"
        raise CacheError(msg)
    try:
        graphs = {
            name: _graph_from_layers(
                gpkg,
                name,
                manifest["crs"],
                manifest["source"],
                list_columns=manifest.get("list_columns", {}).get(name, []),
            )
            for name in NETWORK_TYPES
        }
        layers = {
            name: pyogrio.read_dataframe(gpkg, layer=name, use_arrow=True)
            for name in ("addresses", "places")
        }
    except Exception as exc:  # GDAL raises several types for a damaged file
        msg = f"Network folder {str(d)!r} is corrupt: {exc}"
        raise CacheError(msg) from exc
    for name, G in graphs.items():
        if (G.number_of_nodes(), G.number_of_edges()) != (
            counts.get(f"{name}_nodes"),
            counts.get(f"{name}_edges"),
        ):
            msg = f"Network folder {str(d)!r} is corrupt: the {name} graph lost nodes or edges"
            raise CacheError(msg)
    log.info("loaded network %s in %.2fs", d, time.perf_counter() - t0)
    return StreetNetwork(
        walk=graphs["walk"],
        drive=graphs["drive"],
        addresses=layers["addresses"],
        places=layers["places"],
        crs=manifest["crs"],
        source=manifest["source"],
        key=manifest.get("key", ""),
        info=manifest,
    )


def _graph_from_layers(
    gpkg: Path, name: str, crs: str, source: str, *, list_columns: Sequence[str] = ()
) -> nx.MultiDiGraph:
    nodes = pyogrio.read_dataframe(gpkg, layer=f"{name}_nodes", read_geometry=False, use_arrow=True)
    edges = pyogrio.read_dataframe(gpkg, layer=f"{name}_edges", use_arrow=True)
    G = nx.MultiDiGraph(crs=crs, simplified=True, network_type=name, source=source)
    node_cols = [c for c in nodes.columns if c != "osmid"]
    G.add_nodes_from(
        zip(nodes["osmid"].astype("int64").tolist(), _records(nodes[node_cols]), strict=True)
    )
    edges["osmid"] = [json.loads(v) if v.startswith("[") else int(v) for v in edges["osmid"]]
    for col in list_columns:
        edges[col] = [
            json.loads(v) if isinstance(v, str) and v.startswith("[") else v for v in edges[col]
        ]
    attr_cols = [c for c in edges.columns if c not in {"u", "v", "key"}]
    G.add_edges_from(
        zip(
            edges["u"].astype("int64").tolist(),
            edges["v"].astype("int64").tolist(),
            edges["key"].astype("int64").tolist(),
            _records(edges[attr_cols]),
            strict=True,
        )
    )
    return G


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Row dicts without missing values (osmnx leaves absent tags out, not NaN)."""
    missing = df.isna().to_numpy()
    cols = list(df.columns)
    dense = [c for j, c in enumerate(cols) if not missing[:, j].any()]
    rows = [
        dict(zip(dense, values, strict=True))
        for values in zip(*(df[c].to_numpy(dtype=object) for c in dense), strict=True)
    ]
    for j, c in enumerate(cols):
        if c in dense:
            continue
        values = df[c].to_numpy(dtype=object)
        for i in np.flatnonzero(~missing[:, j]).tolist():
            rows[i][c] = values[i]
    return rows
