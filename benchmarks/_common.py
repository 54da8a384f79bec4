"""Shared helpers for the benchmarks: where the real reference data is, timing."""

from __future__ import annotations

import json
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path | None:
    """The real reference data folder beside the checkout, if present."""
    env = os.environ.get("CSO_GEO_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


def benchmark_area() -> tuple[str, Path]:
    """Baltimore from the shared reference data when present, else the bundled Helsinki."""
    from cso_geo import datasets  # noqa: PLC0415

    shared = shared_data()
    if shared is not None and (shared / "baltimore.osm.pbf").exists():
        return "baltimore", shared / "baltimore.osm.pbf"
    print("shared reference data not found: benchmarking Helsinki")
    return "helsinki", datasets.get_path("helsinki")


def timed(fn: Callable[[], Any], *, repeat: int = 1) -> tuple[float, Any]:
    """Median wall-clock seconds of `repeat` calls, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def true_positions(sample: Any, net: Any) -> Any:
    """A generated sample's located calls at their true positions, in the network CRS.

    Geocoding is benchmarked on its own: these benchmarks start from placed calls.
    """
    import geopandas as gpd  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    from cso_geo.taxonomy import load_taxonomy  # noqa: PLC0415

    located = sample.truth["lon"].notna().to_numpy()
    cad, truth = sample.cad.loc[located], sample.truth.loc[located]
    minutes = {t.code: t.service_minutes for t in load_taxonomy().call_types}
    return gpd.GeoDataFrame(
        {
            "received_at": pd.to_datetime(cad["received_at"]).to_numpy(),
            "call_type_code": cad["call_type_code"].to_numpy(),
            "category": truth["category"].to_numpy(),
            "service_minutes": cad["call_type_code"].map(minutes).to_numpy(),
        },
        geometry=gpd.points_from_xy(truth["lon"], truth["lat"]),
        crs="EPSG:4326",
    ).to_crs(net.crs)


def emit(record: dict[str, Any]) -> None:
    """Print one machine-readable result line."""
    print("RESULT " + json.dumps(record, sort_keys=True), flush=True)
