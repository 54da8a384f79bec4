"""Shared pytest fixtures."""

from __future__ import annotations

# --- headless browser (tests marked `browser`) ---------------------------------------------------
# Self-contained: Chromium comes from the system (Debian's `chromium` package), never from
# `playwright install`. Set CSO_GEO_CHROMIUM to use another binary, and
# CSO_GEO_REQUIRE_BROWSER=1 (e.g. in CI) to fail instead of skipping when it is missing.
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _browser_missing(message: str) -> NoReturn:
    """Skip the browser test, or fail it when CSO_GEO_REQUIRE_BROWSER=1."""
    if os.environ.get("CSO_GEO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message} (CSO_GEO_REQUIRE_BROWSER=1 makes a missing browser an error)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Path of the Chromium binary the browser tests drive."""
    candidate = os.environ.get("CSO_GEO_CHROMIUM") or "/usr/bin/chromium"
    resolved = shutil.which(candidate)
    if resolved is not None and Path(resolved).is_file():
        return resolved
    _browser_missing(
        f"Chromium not found at {candidate!r} (set CSO_GEO_CHROMIUM to its path); "
        "install it with `apt-get install chromium`"
    )


@pytest.fixture(scope="session")
def browser(chromium_executable: str) -> Iterator[Any]:
    """A headless Chromium launched through Playwright's sync API, shared by the session."""
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        _browser_missing("Playwright is not installed; install it with `pip install -e '.[dev]'`")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# --- street networks and shared data ------------------------------------------------------------
# Built once per session from the bundled Helsinki extract, with the cache in a temporary folder so
# tests never read or write the user's cache.
from cso_geo import network as _network  # noqa: E402
from cso_geo import settings as _settings  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point `settings.cache_folder` at a session temp folder."""
    folder = tmp_path_factory.mktemp("cso_geo_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_settings, "cache_folder", folder)
        yield folder


@pytest.fixture(scope="session")
def helsinki_net(cache_folder: Path) -> _network.StreetNetwork:
    """The walk and drive networks of the bundled central-Helsinki extract."""
    return _network.network_from_file("helsinki")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real reference data beside the checkout; tests using it skip without it."""
    env = os.environ.get("CSO_GEO_SHARED_DATA")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    if not (path / "baltimore.osm.pbf").exists():
        pytest.skip(f"shared reference data not found at {path}")
    return path
