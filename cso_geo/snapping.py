"""Snapping points to the nearest street edge, fast and exact.

Why not ``osmnx.distance.nearest_edges`` or a shapely STRtree: both answer each
point with an R-tree descent and a GEOS distance per candidate, which costs
seconds per 100k points; incident tables have millions. Here every edge is cut
into pieces no longer than ``max_piece`` metres, a k-d tree (scipy) holds the
pieces' midpoints, and the exact point-to-segment distance to the ``k``
nearest pieces is computed in numpy. The nearest piece's midpoint is never
more than ``max_piece / 2`` farther than the true nearest point, so when the
k-th candidate is farther than the best exact distance plus that margin the
answer is exact; the few points where it is not (far from every street) are
answered exactly by a radius query.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from scipy.spatial import cKDTree

log = logging.getLogger(__name__)

__all__ = ["EdgeIndex"]


@dataclass
class EdgeIndex:
    """Street edges cut into short pieces, for nearest-edge queries.

    Build it with `EdgeIndex.from_graph`; query with `snap`.
    """

    edges: npt.NDArray[np.int64]  # (m, 3): u, v, key of each street (one per direction pair)
    a: npt.NDArray[np.float64]  # (p, 2) piece start
    b: npt.NDArray[np.float64]  # (p, 2) piece end
    piece_edge: npt.NDArray[np.int64]  # (p,) edge row of each piece
    piece_offset: npt.NDArray[np.float64]  # (p,) metres along the edge where the piece starts
    tree: cKDTree
    max_piece: float

    def __post_init__(self) -> None:
        # contiguous coordinate columns index faster than (n, 2) rows
        self._ax = np.ascontiguousarray(self.a[:, 0])
        self._ay = np.ascontiguousarray(self.a[:, 1])
        self._bx = np.ascontiguousarray(self.b[:, 0])
        self._by = np.ascontiguousarray(self.b[:, 1])

    @classmethod
    def from_graph(cls, G: nx.MultiDiGraph, *, max_piece: float = 10.0) -> EdgeIndex:
        """Index the edges of a projected graph (one per street, not per direction).

        Parameters
        ----------
        G
            A projected graph whose edges carry a ``geometry``.
        max_piece
            Longest piece in metres; shorter pieces mean more memory and fewer
            exactness fallbacks.
        """
        keys, geoms = [], []
        for u, v, k, d in G.edges(keys=True, data=True):
            if d.get("reversed"):
                continue
            keys.append((u, v, k))
            geoms.append(d["geometry"])
        return cls.from_lines(geoms, keys, max_piece=max_piece)

    @classmethod
    def from_lines(
        cls,
        geoms: Sequence[shapely.LineString] | npt.NDArray[np.object_],
        keys: Sequence[tuple[int, int, int]] | None = None,
        *,
        max_piece: float = 10.0,
    ) -> EdgeIndex:
        """Index any projected lines; `keys` label them (by default ``(i, 0, 0)``)."""
        t0 = time.perf_counter()
        if len(geoms) == 0:
            msg = "Cannot snap to a graph with no edges."
            raise ValueError(msg)
        if keys is None:
            keys = [(i, 0, 0) for i in range(len(geoms))]
        coords, line_idx = shapely.get_coordinates(
            np.asarray(geoms, dtype=object), return_index=True
        )
        same = line_idx[1:] == line_idx[:-1]
        a, b = coords[:-1][same], coords[1:][same]
        seg_edge = line_idx[:-1][same]
        seg_len = np.hypot(*(b - a).T)
        # distance along the edge at which each segment starts
        cum = np.concatenate([[0.0], np.cumsum(seg_len)])
        first_seg = np.searchsorted(seg_edge, seg_edge, side="left")
        seg_start = cum[:-1] - cum[first_seg]
        # cut long segments into pieces of at most max_piece metres
        n_parts = np.maximum(1, np.ceil(seg_len / max_piece)).astype(np.int64)
        rep = np.repeat(np.arange(len(a)), n_parts)
        part = np.arange(len(rep)) - np.repeat(np.cumsum(n_parts) - n_parts, n_parts)
        t0_, t1_ = part / n_parts[rep], (part + 1) / n_parts[rep]
        pa = a[rep] + t0_[:, None] * (b[rep] - a[rep])
        pb = a[rep] + t1_[:, None] * (b[rep] - a[rep])
        offset = seg_start[rep] + t0_ * seg_len[rep]
        tree = cKDTree((pa + pb) / 2.0)
        log.info(
            "edge index: %d edges, %d pieces in %.2fs", len(keys), len(pa), time.perf_counter() - t0
        )
        return cls(
            edges=np.asarray(keys, dtype=np.int64).reshape(-1, 3),
            a=pa,
            b=pb,
            piece_edge=seg_edge[rep].astype(np.int64),
            piece_offset=offset,
            tree=tree,
            max_piece=float(max_piece),
        )

    def snap(
        self, x: npt.ArrayLike, y: npt.ArrayLike, *, k: int = 4, workers: int = -1
    ) -> pd.DataFrame:
        """Nearest edge to each point, the snapped point and its distance.

        Points are in the graph's projected CRS; NaN coordinates give -1 ids.

        Returns
        -------
        snapped
            Columns ``edge`` (row of the line in the index), ``u``, ``v``,
            ``key`` (its key), ``dist`` (m), ``snap_x``, ``snap_y`` and
            ``along`` (metres from the line's start).
        """
        px = np.asarray(x, dtype=float)
        py = np.asarray(y, dtype=float)
        n = len(px)
        ok = np.isfinite(px) & np.isfinite(py)
        best_piece = np.full(n, -1, dtype=np.int64)
        best_d = np.full(n, np.nan)
        best_t = np.zeros(n)
        pts = np.column_stack([px[ok], py[ok]])
        if len(pts):
            bp, bd, bt = self._nearest(pts, k=k, workers=workers)
            idx = np.flatnonzero(ok)
            best_piece[idx], best_d[idx], best_t[idx] = bp, bd, bt
        sel = best_piece >= 0
        p = best_piece[sel]
        snap = np.full((n, 2), np.nan)
        snap[sel] = self.a[p] + best_t[sel, None] * (self.b[p] - self.a[p])
        along = np.full(n, np.nan)
        along[sel] = self.piece_offset[p] + best_t[sel] * np.hypot(*(self.b[p] - self.a[p]).T)
        uvk = np.full((n, 3), -1, dtype=np.int64)
        uvk[sel] = self.edges[self.piece_edge[p]]
        edge = np.full(n, -1, dtype=np.int64)
        edge[sel] = self.piece_edge[p]
        return pd.DataFrame(
            {
                "edge": edge,
                "u": uvk[:, 0],
                "v": uvk[:, 1],
                "key": uvk[:, 2],
                "dist": best_d,
                "snap_x": snap[:, 0],
                "snap_y": snap[:, 1],
                "along": along,
            }
        )

    def _nearest(
        self, pts: npt.NDArray[np.float64], *, k: int, workers: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Exact nearest piece: k nearest midpoints, widening k where unsure."""
        n = len(pts)
        bp = np.full(n, -1, dtype=np.int64)
        bd = np.full(n, np.inf)
        bt = np.zeros(n)
        todo = np.arange(n)
        margin = self.max_piece / 2.0
        while len(todo):
            kk = min(k, len(self.a))
            knn_d, knn_i = self.tree.query(pts[todo], k=kk, workers=workers)
            knn_d = knn_d.reshape(len(todo), kk)
            knn_i = knn_i.reshape(len(todo), kk)
            sub = pts[todo]
            d, t = _point_segment(
                sub[:, 0:1],
                sub[:, 1:2],
                ax=self._ax[knn_i],
                ay=self._ay[knn_i],
                bx=self._bx[knn_i],
                by=self._by[knn_i],
            )
            j = np.argmin(d, axis=1)
            rows = np.arange(len(todo))
            bp[todo], bd[todo], bt[todo] = knn_i[rows, j], d[rows, j], t[rows, j]
            # exact unless a piece beyond the k-th could still be closer
            unsure = (knn_d[:, -1] < bd[todo] + margin) & (kk < len(self.a))
            todo = todo[unsure]
            k *= 4
        return bp, bd, bt


def _point_segment(
    px: npt.NDArray[np.float64],
    py: npt.NDArray[np.float64],
    *,
    ax: npt.NDArray[np.float64],
    ay: npt.NDArray[np.float64],
    bx: npt.NDArray[np.float64],
    by: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Distance from points to segments a-b (broadcast), and where along (0..1)."""
    abx, aby = bx - ax, by - ay
    apx, apy = px - ax, py - ay
    denom = abx * abx + aby * aby
    t = np.clip((apx * abx + apy * aby) / np.where(denom > 0, denom, 1.0), 0.0, 1.0)
    dx, dy = apx - t * abx, apy - t * aby
    return np.sqrt(dx * dx + dy * dy), t
