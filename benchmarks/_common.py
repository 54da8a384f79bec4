"""Shared helpers for the benchmarks: where the real reference data is, timing."""

from __future__ import annotations

import json
import os
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


def emit(record: dict[str, Any]) -> None:
    """Print one machine-readable result line."""
    print("RESULT " + json.dumps(record, sort_keys=True), flush=True)
