"""The call-type taxonomy: agency codes -> quality-of-life categories.

The built-in table (``cso_geo/data/call_types.toml``) lists typical CSO call
types with their category, default service minutes and priority; an agency
passes its own TOML file with the same layout to override it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cso_geo._errors import InputFileError

__all__ = ["CATEGORIES", "CallType", "Taxonomy", "load_taxonomy"]

#: Quality-of-life categories, in display order.
CATEGORIES: tuple[str, ...] = (
    "parking",
    "abandoned_vehicle",
    "noise",
    "animal",
    "graffiti_vandalism",
    "traffic",
    "found_property",
    "welfare_check",
    "property_damage",
    "other_cso",
    "not_cso",
)


@dataclass(frozen=True)
class CallType:
    """One agency call type."""

    code: str
    description: str
    category: str
    service_minutes: float
    priority: int
    share: float = 0.0
    hours: str = "allday"
    days: str = "flat"
    season_peak_month: int = 1
    season_amplitude: float = 0.0
    dispositions: dict[str, float] = field(default_factory=dict)

    @property
    def is_cso(self) -> bool:
        """Whether CSOs handle this call type."""
        return self.category != "not_cso"


@dataclass(frozen=True)
class Taxonomy:
    """Call types plus the named hour-of-day and day-of-week profiles."""

    call_types: tuple[CallType, ...]
    hour_profiles: dict[str, tuple[float, ...]]
    day_profiles: dict[str, tuple[float, ...]]
    source: str

    def by_code(self) -> dict[str, CallType]:
        """Call types keyed by code."""
        return {ct.code: ct for ct in self.call_types}


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read a call-type taxonomy TOML file (the built-in one by default).

    Raises
    ------
    InputFileError
        Naming the file, the call type and the key that is wrong.
    """
    if path is None:
        text = resources.files("cso_geo").joinpath("data/call_types.toml").read_text("utf-8")
        source = "built-in call_types.toml"
    else:
        p = Path(path)
        try:
            text = p.read_text("utf-8")
        except OSError as exc:
            msg = f"Cannot read call-type file {str(p)!r}: {exc}"
            raise InputFileError(msg) from exc
        source = str(p)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"Call-type file {source!r} is not valid TOML: {exc}"
        raise InputFileError(msg) from exc
    profiles = raw.get("profiles", {})
    hours = {k: tuple(float(x) for x in v) for k, v in profiles.get("hours", {}).items()}
    days = {k: tuple(float(x) for x in v) for k, v in profiles.get("days", {}).items()}
    for name, prof in hours.items():
        if len(prof) != 24:
            msg = f"{source}: hour profile {name!r} has {len(prof)} values; it needs 24."
            raise InputFileError(msg)
    for name, prof in days.items():
        if len(prof) != 7:
            msg = f"{source}: day profile {name!r} has {len(prof)} values; it needs 7 (Mon-Sun)."
            raise InputFileError(msg)
    types: list[CallType] = []
    for i, entry in enumerate(raw.get("call_type", []), start=1):
        where = f"{source}: call_type #{i} ({entry.get('code', '?')!r})"
        for key in ("code", "description", "category", "service_minutes", "priority"):
            if key not in entry:
                msg = f"{where} lacks the key {key!r}."
                raise InputFileError(msg)
        if entry["category"] not in CATEGORIES:
            msg = f"{where}: category {entry['category']!r} is not one of {', '.join(CATEGORIES)}."
            raise InputFileError(msg)
        for key, table in (("hours", hours), ("days", days)):
            if key in entry and entry[key] not in table:
                msg = (
                    f"{where}: {key} profile {entry[key]!r} is not defined under [profiles.{key}]."
                )
                raise InputFileError(msg)
        types.append(
            CallType(
                code=str(entry["code"]),
                description=str(entry["description"]),
                category=str(entry["category"]),
                service_minutes=float(entry["service_minutes"]),
                priority=int(entry["priority"]),
                share=float(entry.get("share", 0.0)),
                hours=str(entry.get("hours", "allday")),
                days=str(entry.get("days", "flat")),
                season_peak_month=int(entry.get("season_peak_month", 1)),
                season_amplitude=float(entry.get("season_amplitude", 0.0)),
                dispositions={str(k): float(v) for k, v in entry.get("dispositions", {}).items()},
            )
        )
    if not types:
        msg = f"Call-type file {source!r} defines no [[call_type]] entries."
        raise InputFileError(msg)
    codes = [t.code for t in types]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        msg = f"Call-type file {source!r} defines these codes twice: {', '.join(dupes)}."
        raise InputFileError(msg)
    return Taxonomy(tuple(types), hours, days, source)
