"""Run configurations: an agency's inputs and choices for `cso-geo run --config`.

A configuration is a TOML file with one table per stage (see
``cso_geo/data/starter.toml``, written by `cso-geo init`). `load_config`
checks every key and value and resolves relative paths against the file's
folder, so a mistake is reported before any work starts, naming the key and
the allowed values.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from cso_geo._errors import ConfigError, InputFileNotFoundError
from cso_geo._io import atomic_write_text
from cso_geo.hotspots import GRID_METHODS, SEGMENT_METHODS, parse_shift
from cso_geo.taxonomy import CATEGORIES

__all__ = [
    "DEMO_CONFIG",
    "RunConfig",
    "demo_config",
    "load_config",
    "parse_config",
    "starter_config",
    "write_starter",
]

#: The bundled configuration `cso-geo demo` runs.
DEMO_CONFIG = "demo.toml"

_SHIFT = re.compile(r"\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}")

# every table and key a configuration may hold
_KEYS: dict[str, tuple[str, ...]] = {
    "area": ("osm", "network", "place", "bbox"),
    "incidents": ("file", "profile", "sample"),
    "hotspots": ("method", "tuned", "coverage", "categories", "backtest_cut", "backtest_cuts"),
    "beats": ("n", "seed", "existing", "station", "max_minutes", "exposure_minutes_per_km"),
    "roster": ("file", "sample_size"),
    "shift": ("date", "hours", "mode"),
    "routes": ("dwell", "coverage", "reserve"),
    "report": ("month",),
    "output": ("folder", "maps", "public"),
}
_SAMPLE_KEYS = ("months", "seed", "start", "calls_per_month")


@dataclass(frozen=True)
class RunConfig:
    """Everything `cso_geo.pipeline.run_pipeline` needs, checked and with absolute paths."""

    source: str
    osm: str | None = None
    network: Path | None = None
    place: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    incidents: Path | None = None
    profile: str | None = None
    sample: dict[str, Any] | None = None
    method: str = "segment"
    tuned: bool = True
    coverage: float = 0.05
    categories: tuple[str, ...] = ()
    backtest_cut: str | None = None
    backtest_cuts: int = 3
    n_beats: int = 6
    seed: int = 0
    existing_beats: Path | None = None
    station: tuple[float, float] | None = None
    max_minutes: float | None = None
    exposure_minutes_per_km: float = 0.0
    roster: Path | None = None
    roster_size: int = 6
    shift_date: str | None = None
    shift_hours: str = "08:00-16:00"
    mode: str = "foot"
    dwell: float = 15.0
    street_coverage: bool = False
    reserve: float | str = "auto"
    report_month: str | None = None
    out_dir: Path = Path("out")
    maps_dir: Path = Path("maps")
    public: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def check_inputs(self) -> None:
        """Raise when a file or folder the configuration names does not exist.

        Called by `cso_geo.pipeline.run_pipeline` before any work starts; the
        message names the key and the path.
        """
        named = {
            "[area] osm": Path(self.osm)
            if self.osm and ("/" in self.osm or "." in self.osm)
            else None,
            "[area] network": self.network,
            "[incidents] file": self.incidents,
            "[beats] existing": self.existing_beats,
            "[roster] file": self.roster,
        }
        for key, path in named.items():
            if path is not None and not path.exists():
                msg = f"{self.source}: {key} = {str(path)!r} does not exist; fix the path."
                raise InputFileNotFoundError(msg)


def _fail(source: str, key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"{source}: {key} = {value!r} is not allowed; use {allowed}.")


class _Reader:
    """Typed access to one table, raising `ConfigError` that names the key."""

    def __init__(self, source: str, base: Path, table: str, data: dict[str, Any]) -> None:
        self.source, self.base, self.table, self.data = source, base, table, data

    def key(self, name: str) -> str:
        return f"[{self.table}] {name}"

    def get(self, name: str) -> Any:
        return self.data.get(name)

    def text(self, name: str, default: str | None = None) -> str | None:
        v = self.data.get(name, default)
        if v is not None and not (isinstance(v, str) and v.strip()):
            raise _fail(self.source, self.key(name), v, "a non-empty string")
        return v

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        v = self.data.get(name, default)
        if v not in allowed:
            raise _fail(self.source, self.key(name), v, "one of " + ", ".join(allowed))
        return str(v)

    def boolean(self, name: str, default: bool) -> bool:
        v = self.data.get(name, default)
        if not isinstance(v, bool):
            raise _fail(self.source, self.key(name), v, "true or false")
        return v

    def integer(self, name: str, default: int, *, low: int, high: int | None = None) -> int:
        v = self.data.get(name, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < low or (high and v > high):
            span = f"an integer from {low}" + (f" to {high}" if high else " up")
            raise _fail(self.source, self.key(name), v, span)
        return v

    def number(
        self, name: str, default: float | None, *, low: float, high: float | None = None
    ) -> float | None:
        v = self.data.get(name, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or v < low or (high and v > high):
            span = f"a number from {low:g}" + (f" to {high:g}" if high else " up")
            raise _fail(self.source, self.key(name), v, span)
        return float(v)

    def path(self, name: str) -> Path | None:
        v = self.text(name)
        if v is None:
            return None
        p = Path(v).expanduser()
        return p if p.is_absolute() else (self.base / p)

    def day(self, name: str, pattern: str = "%Y-%m-%d") -> str | None:
        v = self.text(name)
        if v is None:
            return None
        try:
            if pattern == "%Y-%m":
                date.fromisoformat(f"{v}-01")
                if not re.fullmatch(r"\d{4}-\d{2}", v):
                    raise ValueError(v)
            else:
                date.fromisoformat(v)
        except ValueError:
            example = "2025-11" if pattern == "%Y-%m" else "2025-12-01"
            raise _fail(self.source, self.key(name), v, f"a date like {example!r}") from None
        return v

    def pair(self, name: str, what: str) -> tuple[float, float] | None:
        v = self.data.get(name)
        if v is None:
            return None
        if (
            not isinstance(v, list)
            or len(v) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
        ):
            raise _fail(self.source, self.key(name), v, what)
        return float(v[0]), float(v[1])


def load_config(path: str | Path) -> RunConfig:
    """Read and check a run configuration.

    Raises
    ------
    InputFileNotFoundError
        When `path` does not exist.
    ConfigError
        On a TOML syntax error, an unknown table or key, a value of the wrong
        type or outside the allowed ones, or contradictory choices; the
        message names the key and the allowed values.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"The configuration {str(p)!r} does not exist; write a starter with `cso-geo init`."
        raise InputFileNotFoundError(msg)
    return parse_config(p.read_text(encoding="utf-8"), source=str(p), base=p.parent.resolve())


def parse_config(text: str, *, source: str = "<config>", base: Path | None = None) -> RunConfig:
    """`load_config` on TOML text; relative paths resolve against `base` (the CWD by default)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{source}: not valid TOML ({exc}); see `cso-geo init` for the layout."
        raise ConfigError(msg) from exc
    root = (base or Path.cwd()).resolve()
    for table, body in data.items():
        if table not in _KEYS:
            msg = (
                f"{source}: unknown table [{table}]; the tables are "
                + ", ".join(f"[{t}]" for t in _KEYS)
                + "."
            )
            raise ConfigError(msg)
        if not isinstance(body, dict):
            msg = f"{source}: {table} must be a table ([{table}] with keys), not {body!r}."
            raise ConfigError(msg)
        for k in body:
            if k not in _KEYS[table]:
                msg = (
                    f"{source}: unknown key [{table}] {k}; [{table}] takes "
                    + ", ".join(_KEYS[table])
                    + "."
                )
                raise ConfigError(msg)

    def r(table: str) -> _Reader:
        return _Reader(source, root, table, data.get(table, {}))

    area = r("area")
    given = [k for k in _KEYS["area"] if area.get(k) is not None]
    if len(given) != 1:
        msg = (
            f"{source}: [area] needs exactly one of osm, network, place or bbox "
            f"(found {', '.join(given) or 'none'})."
        )
        raise ConfigError(msg)
    bbox = area.get("bbox")
    if bbox is not None and (
        not isinstance(bbox, list)
        or len(bbox) != 4
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in bbox)
    ):
        raise _fail(source, "[area] bbox", bbox, "four numbers [west, south, east, north]")
    osm = area.text("osm")
    if osm is not None and (Path(osm).suffix or "/" in osm):
        osm = str(area.path("osm"))  # a file, not a bundled dataset name

    inc = r("incidents")
    sample = inc.get("sample")
    if (inc.get("file") is None) == (sample is None):
        msg = f"{source}: [incidents] needs exactly one of file (your export) or sample."
        raise ConfigError(msg)
    if sample is not None and (not isinstance(sample, dict) or set(sample) - set(_SAMPLE_KEYS)):
        extra = sorted(set(sample) - set(_SAMPLE_KEYS)) if isinstance(sample, dict) else sample
        raise _fail(source, "[incidents] sample", extra, "a table of " + ", ".join(_SAMPLE_KEYS))
    if sample is not None:
        smp = _Reader(source, root, "incidents.sample", sample)
        sample = {
            "months": smp.integer("months", 12, low=1, high=120),
            "seed": smp.integer("seed", 1, low=0),
            "start": smp.day("start") or "2025-01-01",
            "calls_per_month": (
                None
                if sample.get("calls_per_month") is None
                else smp.integer("calls_per_month", 1, low=1)
            ),
        }

    hot = r("hotspots")
    method = hot.choice("method", (*SEGMENT_METHODS, *GRID_METHODS), "segment")
    tuned = hot.boolean("tuned", method == "segment")
    if tuned and method != "segment":
        msg = f"{source}: [hotspots] tuned = true applies to method 'segment' only, not {method!r}."
        raise ConfigError(msg)
    cats = hot.get("categories") or []
    if not isinstance(cats, list) or any(c not in CATEGORIES for c in cats):
        raise _fail(source, "[hotspots] categories", cats, "a list of " + ", ".join(CATEGORIES))

    beats, shift, routes, out = r("beats"), r("shift"), r("routes"), r("output")
    station = beats.pair("station", "[longitude, latitude]")
    max_minutes = beats.number("max_minutes", None, low=0.1)
    if (station is None) != (max_minutes is None):
        msg = f"{source}: [beats] station and max_minutes go together (give both or neither)."
        raise ConfigError(msg)
    hours = shift.text("hours", "08:00-16:00")
    if hours is None or not _SHIFT.fullmatch(hours.strip()):
        raise _fail(source, "[shift] hours", hours, "HH:MM-HH:MM, e.g. '08:00-16:00'")
    try:
        parse_shift(hours)
    except ValueError as exc:
        raise _fail(source, "[shift] hours", hours, f"a real time of day ({exc})") from None
    mode = shift.choice("mode", ("foot", "drive"), "foot")
    street_coverage = routes.boolean("coverage", False)
    reserve: float | str = "auto"
    if routes.get("reserve") not in (None, "auto"):
        reserve = float(routes.number("reserve", 0.0, low=0.0, high=1440.0) or 0.0)
    if street_coverage and mode != "foot":
        msg = (
            f"{source}: [routes] coverage = true walks every street: it needs [shift] mode 'foot'."
        )
        raise ConfigError(msg)
    return RunConfig(
        source=source,
        osm=osm,
        network=area.path("network"),
        place=area.text("place"),
        bbox=tuple(float(x) for x in bbox) if bbox is not None else None,  # type: ignore[arg-type]
        incidents=inc.path("file"),
        profile=inc.text("profile"),
        sample=dict(sample) if sample is not None else None,
        method=method,
        tuned=tuned,
        coverage=float(hot.number("coverage", 0.05, low=0.001, high=1.0) or 0.05),
        categories=tuple(cats),
        backtest_cut=hot.day("backtest_cut"),
        backtest_cuts=hot.integer("backtest_cuts", 3, low=1, high=24),
        n_beats=beats.integer("n", 6, low=1, high=200),
        seed=beats.integer("seed", 0, low=0),
        existing_beats=beats.path("existing"),
        station=station,
        max_minutes=max_minutes,
        exposure_minutes_per_km=float(beats.number("exposure_minutes_per_km", 0.0, low=0.0) or 0.0),
        roster=r("roster").path("file"),
        roster_size=r("roster").integer("sample_size", 6, low=1, high=500),
        shift_date=shift.day("date"),
        shift_hours=hours.strip(),
        mode=mode,
        dwell=float(routes.number("dwell", 15.0, low=10.0, high=16.0) or 15.0),
        street_coverage=street_coverage,
        reserve=reserve,
        report_month=r("report").day("month", "%Y-%m"),
        out_dir=out.path("folder") or root / "out",
        maps_dir=out.path("maps") or root / "maps",
        public=out.boolean("public", False),
        raw=data,
    )


def starter_config() -> str:
    """The commented starter configuration `cso-geo init` writes."""
    return resources.files("cso_geo").joinpath("data", "starter.toml").read_text(encoding="utf-8")


def demo_config(*, base: Path | None = None) -> RunConfig:
    """The bundled sample-city configuration `cso-geo demo` runs."""
    text = resources.files("cso_geo").joinpath("data", DEMO_CONFIG).read_text(encoding="utf-8")
    return parse_config(text, source=f"bundled {DEMO_CONFIG}", base=base)


def write_starter(path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the starter configuration to `path`; never overwrite unless asked."""
    p = Path(path)
    if p.exists() and not overwrite:
        msg = f"{str(p)!r} already exists; pick another name or pass --force to overwrite it."
        raise ConfigError(msg)
    return atomic_write_text(p, starter_config())
