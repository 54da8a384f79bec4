"""Read agency CAD/RMS exports into one canonical incident table, losing nothing.

Agencies export calls with their own column names, call-type codes, date
formats, encodings and delimiters. `read_incidents` reads CSV (any common
encoding and delimiter), Parquet, GeoPackage or GeoJSON, maps the columns with
a `ColumnMap` (given directly, taken from a TOML `Profile`, or detected from the
header), maps call types onto the taxonomy's categories, and validates every
row. Rows that fail a check go to a quarantine table with a machine-readable
reason (`REASONS`, checked in that order; a row gets the first that applies);
the counts always reconcile: ``n_read == accepted + quarantined``.

Header detection, when neither a profile nor columns are given:

1. a built-in profile whose mapped columns are all in the header (our sample
   export, the San Francisco layout);
2. otherwise each canonical field takes the first header column whose name,
   lower-cased with punctuation folded to ``_``, is in `AUTO_COLUMNS` (for
   example ``address``/``addr``/``location`` for the address, ``incident_id``/
   ``call_number``/``id`` for the incident id). Coordinates found this way are
   taken as WGS 84 longitude/latitude. Without an id column the row number is
   the id; unmapped times stay NaT.

Call types map to a taxonomy category or to ``"unmapped"`` (listed with counts
in `IngestResult.unmapped_types`); ``is_cso`` is false only for ``not_cso``, so
unmapped types count as CSO work until a profile maps them.

What ingest leaves to later stages: junk addresses (``UNKNOWN``,
``CITYWIDE``) and, in exports without coordinates, empty ones, which the
geocoder reports as unmatched. ``missing_location`` applies where the export
has coordinates and a row has neither them nor an address.

Delimited text is parsed with Python's `csv` module (Excel quoting) so that
every row keeps its physical line number; a line whose opening quote is never
closed is quarantined on its own and reading resumes on the next line.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import logging
import re
import statistics
import time
import tomllib
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyogrio
import shapely
from pandas.tseries.api import guess_datetime_format
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from cso_geo._errors import (
    InputFileError,
    InputFileNotFoundError,
    OutputFileError,
    ProfileError,
    ReconciliationError,
)
from cso_geo._io import atomic_path, atomic_write_text
from cso_geo.taxonomy import CATEGORIES, CallType, Taxonomy, load_taxonomy

log = logging.getLogger(__name__)

__all__ = [
    "AUTO_COLUMNS",
    "CANONICAL_COLUMNS",
    "QUARANTINE_COLUMNS",
    "REASONS",
    "UNMAPPED",
    "CallTypeRule",
    "ColumnMap",
    "IngestResult",
    "Profile",
    "available_profiles",
    "load_profile",
    "read_incidents",
    "write_ingest",
    "write_quarantine",
]

#: Columns of `IngestResult.accepted`, in order; ``src_<column>`` columns follow.
CANONICAL_COLUMNS: Final[tuple[str, ...]] = (
    "source_row",
    "source_line",
    "incident_id",
    "received_at",
    "dispatched_at",
    "cleared_at",
    "call_type_code",
    "call_type",
    "category",
    "service_minutes",
    "is_cso",
    "priority",
    "disposition",
    "beat",
    "address",
    "x",
    "y",
    "crs",
)

#: Columns of `IngestResult.quarantine`, in order; ``src_<column>`` columns follow.
QUARANTINE_COLUMNS: Final[tuple[str, ...]] = (
    "source_row",
    "source_line",
    "reason",
    "column",
    "value",
    "message",
    "raw",
)

#: Quarantine reasons, in the order they are checked.
REASONS: Final[tuple[str, ...]] = (
    "malformed_line",  # wrong field count, broken quotes, undecodable bytes
    "missing_incident_id",
    "unparseable_date",  # also: a mapped date column left empty
    "future_date",  # after `now`
    "dispatched_before_received",
    "cleared_before_received",
    "missing_location",  # no address and no coordinates, where the export has coordinates
    "invalid_coordinates",  # non-numeric, non-finite, half missing, out of range
    "coordinates_outside_area",
    "duplicate_incident_id",  # the first row that passes the other checks is kept
)

#: Category of call types that neither the profile nor the taxonomy maps.
UNMAPPED: Final = "unmapped"

#: Header names (normalised: lower case, punctuation folded to ``_``) that
#: auto-detection takes for each field, in order of preference.
AUTO_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "incident_id": (
        "incident_id",
        "incident_number",
        "incident_no",
        "incidentid",
        "incident",
        "event_id",
        "event_number",
        "call_id",
        "call_number",
        "cad_number",
        "case_number",
        "id",
    ),
    "received_at": (
        "received_at",
        "received",
        "call_received",
        "received_time",
        "datetime",
        "date_time",
        "timestamp",
        "reported_at",
        "created_at",
    ),
    "dispatched_at": ("dispatched_at", "dispatched", "dispatch_time"),
    "cleared_at": ("cleared_at", "cleared", "clear_time", "closed_at", "closed"),
    "date": ("date",),
    "time": ("time",),
    "call_type_code": ("call_type_code", "type_code", "nature_code", "code"),
    "call_type": ("call_type", "description", "nature", "type", "category"),
    "priority": ("priority", "prio"),
    "disposition": ("disposition", "dispo", "resolution"),
    "beat": ("beat", "district", "zone", "sector"),
    "address": (
        "address",
        "addr",
        "location",
        "street_address",
        "incident_address",
        "block_address",
        "full_address",
    ),
    "x": ("x", "lon", "lng", "long", "longitude"),
    "y": ("y", "lat", "latitude"),
}

_COLUMN_FIELDS: Final[tuple[str, ...]] = (
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
    "x",
    "y",
    "date",
    "time",
)
_OPTION_FIELDS: Final[tuple[str, ...]] = ("crs", "format", "dayfirst")
_TIME_FIELDS: Final[tuple[str, ...]] = ("received_at", "dispatched_at", "cleared_at")

_DELIMITERS: Final[tuple[str, ...]] = (",", ";", "\t", "|")
# what csv splits a one-column file on: nothing a CAD export contains (ASCII unit
# separator), so commas in an unquoted address stay in the address
_ONE_COLUMN: Final = "\x1f"
_DELIMITER_NAMES: Final[dict[str, str]] = {
    ",": ",",
    ";": ";",
    "\t": "\t",
    "|": "|",
    "comma": ",",
    "semicolon": ";",
    "tab": "\t",
    "pipe": "|",
}
_DELIMITED_SUFFIXES: Final = frozenset({".csv", ".txt", ".tsv", ".tab", ".psv"})
_PARQUET_SUFFIXES: Final = frozenset({".parquet", ".pq"})
_VECTOR_SUFFIXES: Final = frozenset({".gpkg", ".geojson", ".json", ".fgb", ".shp"})
_OUTPUT_SUFFIXES: Final[tuple[str, ...]] = (".csv", ".parquet", ".gpkg")

# pandas' datetime64[ns] range, the dtype of the canonical time columns
_MIN_TIME: Final = pd.Timestamp("1677-09-22")
_MAX_TIME: Final = pd.Timestamp("2262-04-11")

# Formats tried when the first values do not reveal one (guess_datetime_format
# knows ISO-like forms but not US 12-hour clocks or dotted European dates).
_COMMON_FORMATS: Final[tuple[str, ...]] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
)
# a value worth handing to the (slow, lenient) per-value parser: digits, a
# separator and digits, or a month name with a day and a four-digit year
_DATE_LIKE: Final = (
    r"\d{1,4}\s*[-/.]\s*\d{1,2}"
    r"|[A-Za-z]{3,9}\.?\s+\d{1,2},?\s+\d{4}"
    r"|\d{1,2}\.?\s+[A-Za-z]{3,9}\.?,?\s+\d{4}"
)
_TIME_OF_DAY: Final = (
    r"^(?P<h>\d{1,2})(?::?(?P<m>\d{2}))(?::?(?P<s>\d{2}))?(?:\.\d+)?"
    r"\s*(?:(?P<ampm>[AaPp])\.?[Mm]\.?)?$"
)
_PRIORITY: Final = r"^\D*?(-?\d{1,9})\D*$"
_SURROGATE: Final = re.compile("[\udc80-\udcff]")
_NORMALISE: Final = re.compile(r"[^0-9a-z]+")


# --------------------------------------------------------------------------- #
# column maps and profiles
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class ColumnMap:
    """Which input column holds each canonical field.

    Attributes
    ----------
    incident_id, received_at, dispatched_at, cleared_at, call_type_code, call_type,
    priority, disposition, beat, address, x, y
        Input column names; ``None`` leaves the field unmapped.
    date, time
        A date column and a time-of-day column that together give
        ``received_at`` (the date's own time part, usually midnight, is dropped).
    crs
        CRS of `x`/`y`, e.g. ``"EPSG:4326"`` (the default when they are mapped).
    format
        strftime format of the date columns; guessed from the values when ``None``.
    dayfirst
        Read ambiguous dates such as ``01/02/2025`` as 1 February.
    """

    incident_id: str | None = None
    received_at: str | None = None
    dispatched_at: str | None = None
    cleared_at: str | None = None
    call_type_code: str | None = None
    call_type: str | None = None
    priority: str | None = None
    disposition: str | None = None
    beat: str | None = None
    address: str | None = None
    x: str | None = None
    y: str | None = None
    date: str | None = None
    time: str | None = None
    crs: str | None = None
    format: str | None = None
    dayfirst: bool | None = None

    @classmethod
    def from_dict(
        cls, options: Mapping[str, object], *, source: str = "column options"
    ) -> ColumnMap:
        """Build a map from ``field -> column`` options (CLI flags, a profile's table).

        Empty and ``None`` values leave a field unmapped.

        Raises
        ------
        ProfileError
            Naming `source`, the key and the allowed keys or values.
        """
        allowed = _COLUMN_FIELDS + _OPTION_FIELDS
        values: dict[str, Any] = {}
        for key, value in options.items():
            if key not in allowed:
                msg = f"{source}: unknown key {key!r}; allowed keys are {', '.join(allowed)}."
                raise ProfileError(msg)
            if value is None or value == "":
                continue
            if key == "dayfirst":
                if not isinstance(value, bool):
                    msg = f"{source}: dayfirst must be true or false, not {value!r}."
                    raise ProfileError(msg)
            elif not isinstance(value, str):
                msg = f"{source}: {key} must be a column name (a string), not {value!r}."
                raise ProfileError(msg)
            values[key] = value
        cmap = cls(**values)
        cmap.validate(source=source)
        return cmap

    def validate(self, *, source: str = "column map") -> None:
        """Check that the mapped fields fit together.

        Raises
        ------
        ProfileError
            Naming `source` and the fields that conflict.
        """
        if (self.x is None) != (self.y is None):
            msg = f"{source}: map both x and y, or neither (x={self.x!r}, y={self.y!r})."
            raise ProfileError(msg)
        if self.time is not None and self.date is None:
            msg = f"{source}: time={self.time!r} needs a date column too (date=...)."
            raise ProfileError(msg)
        if self.date is not None and self.received_at is not None:
            msg = (
                f"{source}: map received_at={self.received_at!r} or date={self.date!r} "
                "(+ time), not both."
            )
            raise ProfileError(msg)
        if self.crs is not None:
            try:
                CRS.from_user_input(self.crs)
            except CRSError as exc:
                msg = (
                    f"{source}: crs {self.crs!r} is not a CRS pyproj knows; "
                    "use an authority code such as 'EPSG:4326' or 'EPSG:3067'."
                )
                raise ProfileError(msg) from exc

    def mapped(self) -> dict[str, str]:
        """Canonical field -> input column, for the mapped fields."""
        return {f: c for f in _COLUMN_FIELDS if (c := getattr(self, f)) is not None}

    def merged(self, override: ColumnMap) -> ColumnMap:
        """This map with every field `override` sets replaced by its value."""
        changes = {
            f.name: v for f in fields(override) if (v := getattr(override, f.name)) is not None
        }
        if "received_at" in changes:
            changes.setdefault("date", None)
            changes.setdefault("time", None)
        elif "date" in changes:
            changes.setdefault("received_at", None)
        return replace(self, **changes)

    def as_dict(self) -> dict[str, object]:
        """The set fields, for summaries."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}


@dataclass(frozen=True)
class CallTypeRule:
    """One agency call type mapped onto a taxonomy category.

    A rule with both `code` and `description` matches that pair only; one with
    only a description matches it under any code; one with only a code matches
    every description of it. Matching ignores case and repeated spaces.
    """

    category: str
    code: str | None = None
    description: str | None = None
    service_minutes: float | None = None


@dataclass(frozen=True)
class Profile:
    """How to read one agency's export: its columns and call-type codes."""

    name: str
    columns: ColumnMap
    call_types: tuple[CallTypeRule, ...] = ()
    description: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    source: str = ""


_PROFILE_TABLES: Final[tuple[str, ...]] = ("profile", "columns", "call_type")
_PROFILE_KEYS: Final[tuple[str, ...]] = ("name", "description", "encoding", "delimiter")
_RULE_KEYS: Final[tuple[str, ...]] = ("code", "description", "category", "service_minutes")


def available_profiles() -> list[str]:
    """Names of the built-in ingest profiles."""
    root = resources.files("cso_geo").joinpath("profiles")
    return sorted(p.name.removesuffix(".toml") for p in root.iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Read an ingest profile: a built-in one by name, or a TOML file by path.

    Parameters
    ----------
    name_or_path
        A name from `available_profiles()` (``"sf_police"``) or the path of a
        ``.toml`` file laid out like ``cso_geo/profiles/sf_police.toml``.

    Returns
    -------
    profile

    Raises
    ------
    ProfileError
        Naming the file and the key that is wrong, and listing allowed values.
    """
    text_arg = str(name_or_path)
    is_path = (
        isinstance(name_or_path, Path)
        or text_arg.lower().endswith(".toml")
        or "/" in text_arg
        or "\\" in text_arg
    )
    builtin = ", ".join(available_profiles())
    if is_path:
        path = Path(text_arg).expanduser()
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            msg = (
                f"Cannot read profile file {str(path)!r}: {exc.strerror or exc}. Pass an "
                f"existing .toml file or a built-in profile name ({builtin})."
            )
            raise ProfileError(msg) from exc
        source = str(path)
    else:
        key = text_arg.strip().lower()
        if key not in available_profiles():
            msg = (
                f"Unknown ingest profile {text_arg!r}; built-in profiles: {builtin} "
                "(or pass the path of a .toml profile file)."
            )
            raise ProfileError(msg)
        text = resources.files("cso_geo").joinpath(f"profiles/{key}.toml").read_text("utf-8")
        source = f"built-in profile {key}.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"Profile {source!r} is not valid TOML: {exc}"
        raise ProfileError(msg) from exc
    return _profile_from_toml(raw, source=source, default_name=Path(text_arg).stem)


def _profile_from_toml(raw: dict[str, Any], *, source: str, default_name: str) -> Profile:
    for key in raw:
        if key not in _PROFILE_TABLES:
            msg = (
                f"{source}: unknown table {key!r}; a profile has "
                "[profile], [columns] and [[call_type]] entries."
            )
            raise ProfileError(msg)
    head = raw.get("profile", {})
    cols = raw.get("columns", {})
    if not isinstance(head, dict) or not isinstance(cols, dict):
        msg = f"{source}: [profile] and [columns] must be tables."
        raise ProfileError(msg)
    for key in head:
        if key not in _PROFILE_KEYS:
            msg = (
                f"{source}: [profile] has unknown key {key!r}; "
                f"allowed keys are {', '.join(_PROFILE_KEYS)}."
            )
            raise ProfileError(msg)
    columns = ColumnMap.from_dict(cols, source=f"{source} [columns]")
    encoding = head.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(str(encoding))
        except LookupError as exc:
            msg = (
                f"{source}: [profile] encoding {encoding!r} is not a known encoding; "
                "use e.g. 'utf-8', 'cp1252' or 'latin-1', or leave it out to detect it."
            )
            raise ProfileError(msg) from exc
    delimiter = head.get("delimiter")
    if delimiter is not None:
        delimiter = _delimiter_option(str(delimiter), source=f"{source}: [profile] delimiter")
    entries = raw.get("call_type", [])
    if not isinstance(entries, list):
        msg = f"{source}: call types are an array of tables, written [[call_type]]."
        raise ProfileError(msg)
    rules: list[CallTypeRule] = []
    for i, entry in enumerate(entries, start=1):
        where = f"{source}: call_type #{i} ({entry.get('code', entry.get('description', '?'))!r})"
        for key in entry:
            if key not in _RULE_KEYS:
                msg = f"{where} has unknown key {key!r}; allowed keys are {', '.join(_RULE_KEYS)}."
                raise ProfileError(msg)
        if "category" not in entry:
            msg = f"{where} lacks the key 'category' (one of {', '.join(CATEGORIES)})."
            raise ProfileError(msg)
        if entry["category"] not in CATEGORIES:
            msg = f"{where}: category {entry['category']!r} is not one of {', '.join(CATEGORIES)}."
            raise ProfileError(msg)
        code, desc = entry.get("code"), entry.get("description")
        if not code and not desc:
            msg = f"{where} needs a code, a description, or both to match."
            raise ProfileError(msg)
        minutes = entry.get("service_minutes")
        if minutes is not None and (
            isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes <= 0
        ):
            msg = f"{where}: service_minutes must be a positive number, not {minutes!r}."
            raise ProfileError(msg)
        rules.append(
            CallTypeRule(
                category=str(entry["category"]),
                code=str(code) if code else None,
                description=str(desc) if desc else None,
                service_minutes=float(minutes) if minutes is not None else None,
            )
        )
    return Profile(
        name=str(head.get("name", default_name)),
        columns=columns,
        call_types=tuple(rules),
        description=str(head.get("description", "")),
        encoding=str(encoding) if encoding is not None else None,
        delimiter=delimiter,
        source=source,
    )


def _delimiter_option(value: str, *, source: str) -> str:
    if value.lower() in _DELIMITER_NAMES or value in _DELIMITER_NAMES:
        return _DELIMITER_NAMES.get(value, _DELIMITER_NAMES.get(value.lower(), value))
    msg = (
        f"{source} {value!r} is not supported; use one of ',', ';', '\\t' (tab), '|', "
        "or leave it out to detect it."
    )
    raise ProfileError(msg)


# --------------------------------------------------------------------------- #
# the result
# --------------------------------------------------------------------------- #
@dataclass
class IngestResult:
    """A read export: the accepted rows, the quarantined ones, and what did not map.

    Attributes
    ----------
    accepted
        `CANONICAL_COLUMNS` plus ``src_<column>`` for every input column.
    quarantine
        One row per rejected input row: `QUARANTINE_COLUMNS` plus the
        ``src_`` columns where the row parsed (``raw`` holds the text of a
        malformed line).
    n_read
        Every data row seen, malformed ones included.
    unmapped_types
        ``call_type_code``, ``call_type``, ``count`` of the accepted rows whose
        type neither the profile nor the taxonomy maps, most frequent first.
    source
        The file read.
    """

    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    n_read: int
    unmapped_types: pd.DataFrame
    source: str
    profile: str = ""
    columns: ColumnMap = field(default_factory=ColumnMap)
    encoding: str = ""
    delimiter: str = ""
    warnings: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Counts of the read, with quarantine reasons and unmapped call types.

        Raises
        ------
        ReconciliationError
            If ``read != accepted + quarantined`` (a bug; please report it).
        """
        n_acc, n_quar = len(self.accepted), len(self.quarantine)
        if self.n_read != n_acc + n_quar:
            msg = (
                f"Ingest of {self.source!r} does not reconcile: read {self.n_read} rows but "
                f"accepted {n_acc} and quarantined {n_quar}. This is a cso_geo bug; "
                "please report it with the input file."
            )
            raise ReconciliationError(msg)
        counts = self.quarantine["reason"].value_counts() if n_quar else pd.Series(dtype=int)
        by_reason = {r: int(counts[r]) for r in REASONS if r in counts.index}
        return {
            "source": self.source,
            "profile": self.profile,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "columns": self.columns.as_dict(),
            "read": self.n_read,
            "accepted": n_acc,
            "quarantined": n_quar,
            "by_reason": by_reason,
            "unmapped_types": len(self.unmapped_types),
            "unmapped_rows": int(self.unmapped_types["count"].sum()),
            "warnings": dict(self.warnings),
            "reconciles": True,
        }


# --------------------------------------------------------------------------- #
# reading
# --------------------------------------------------------------------------- #
@dataclass
class _Table:
    """The rows of a file before mapping, with where each came from."""

    frame: pd.DataFrame
    source_row: npt.NDArray[np.int64]
    source_line: npt.NDArray[np.int64]
    malformed: pd.DataFrame
    n_read: int
    encoding: str = ""
    delimiter: str = ""
    geometry_xy: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None
    geometry_crs: str = ""
    geometry_column: str = ""


def read_incidents(
    path: str | Path,
    *,
    profile: str | Path | Profile | None = None,
    columns: ColumnMap | None = None,
    taxonomy: Taxonomy | None = None,
    area: shapely.Polygon | shapely.MultiPolygon | None = None,
    now: datetime | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> IngestResult:
    """Read a CAD/RMS export into the canonical incident table.

    Parameters
    ----------
    path
        A CSV (or other delimited text), Parquet, GeoPackage or GeoJSON file.
    profile
        A built-in profile name, a profile file, or a `Profile`.
    columns
        Column mapping; with a profile, the fields it sets override the profile's.
        With neither, the layout is detected from the header (see the module notes).
    taxonomy
        Call types to map codes with after the profile's rules; the built-in one
        by default.
    area
        Polygon in EPSG:4326; rows whose coordinates fall outside it are quarantined.
    now
        Rows with a time after it are quarantined; the current time by default.
    encoding, delimiter
        Override the profile's or the detected text encoding and delimiter.

    Returns
    -------
    result

    Raises
    ------
    InputFileNotFoundError
        When `path` does not exist.
    InputFileError
        When the format is unknown, the file cannot be read, or a mapped column
        is not in the header (the message lists the header's columns).
    ProfileError
        When the profile is unknown or malformed.
    """
    started = time.perf_counter()
    src = Path(path).expanduser()
    kind = _file_kind(src)
    area = _check_area(area)
    prof = profile if isinstance(profile, Profile) or profile is None else load_profile(profile)
    enc = encoding or (prof.encoding if prof else None)
    delim = _delimiter_option(delimiter, source="delimiter") if delimiter else None
    delim = delim or (prof.delimiter if prof else None)
    if kind == "delimited":
        table = _read_delimited(src, encoding=enc, delimiter=delim)
    elif kind == "parquet":
        table = _read_parquet(src)
    else:
        table = _read_vector(src)
    header = [str(c) for c in table.frame.columns]
    if prof is None and columns is None:
        prof = _detect_profile(header)
    if prof is not None:
        cmap = prof.columns.merged(columns) if columns is not None else prof.columns
    elif columns is not None:
        # the flags name some columns; the header still tells the others, except
        # detected columns that hold nothing at all
        detected = _auto_columns(header)
        empty = {
            f: None
            for f, col in detected.mapped().items()
            if getattr(columns, f) is None
            and col in table.frame.columns
            and not _text(table.frame[col]).ne("").any()
        }
        cmap = replace(detected, **empty).merged(columns)
    else:
        cmap = _auto_columns(header)
    cmap.validate(source=prof.source if prof else "columns")
    cmap = _resolve_columns(
        cmap, header, src=src, profile=prof, has_geometry=bool(table.geometry_xy)
    )
    tax = taxonomy if taxonomy is not None else load_taxonomy()
    rules = prof.call_types if prof else ()
    now_ts = _now(now)
    accepted, rejected, warn = _canonicalise(
        table, cmap, rules=rules, taxonomy=tax, area=area, now=now_ts
    )
    src_columns = [f"src_{c}" for c in table.frame.columns]
    quarantine = _join_quarantine(table.malformed, rejected, src_columns)
    unmapped = _unmapped_types(accepted)
    result = IngestResult(
        accepted=accepted,
        quarantine=quarantine,
        n_read=table.n_read,
        unmapped_types=unmapped,
        source=str(src),
        profile=prof.name if prof else "auto",
        columns=cmap,
        encoding=table.encoding,
        delimiter=table.delimiter,
        warnings=warn,
    )
    summary = result.summary()
    log.info(
        "ingested %s (profile %s): read %d, accepted %d, quarantined %d %s, "
        "%d unmapped call types in %.1f s",
        src.name,
        result.profile,
        summary["read"],
        summary["accepted"],
        summary["quarantined"],
        summary["by_reason"],
        summary["unmapped_types"],
        time.perf_counter() - started,
    )
    return result


def _file_kind(src: Path) -> str:
    if not src.exists():
        msg = f"Incident file {str(src)!r} does not exist; check the path."
        raise InputFileNotFoundError(msg)
    if src.is_dir():
        msg = f"Incident file {str(src)!r} is a folder; pass one file."
        raise InputFileError(msg)
    suffix = src.suffix.lower()
    if suffix in _DELIMITED_SUFFIXES:
        return "delimited"
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _VECTOR_SUFFIXES:
        return "vector"
    known = sorted(_DELIMITED_SUFFIXES | _PARQUET_SUFFIXES | _VECTOR_SUFFIXES)
    msg = (
        f"Incident file {str(src)!r} has the unknown format {suffix or '(no suffix)'!r}; "
        f"rename it with one of {', '.join(known)}."
    )
    raise InputFileError(msg)


def _check_area(
    area: shapely.Polygon | shapely.MultiPolygon | None,
) -> shapely.Polygon | shapely.MultiPolygon | None:
    if area is None:
        return None
    if not isinstance(area, shapely.Polygon | shapely.MultiPolygon):
        msg = (
            "read_incidents: area must be a shapely Polygon in EPSG:4326, "
            f"not {type(area).__name__}."
        )
        raise TypeError(msg)
    if area.is_empty:
        msg = "read_incidents: area is empty; pass the polygon of the service area in EPSG:4326."
        raise ValueError(msg)
    minx, miny, maxx, maxy = area.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        msg = (
            f"read_incidents: area bounds {area.bounds} are not longitude/latitude; "
            "pass the area in EPSG:4326 (e.g. gdf.to_crs(4326).union_all())."
        )
        raise ValueError(msg)
    shapely.prepare(area)
    return area


def _now(now: datetime | None) -> pd.Timestamp:
    ts = pd.Timestamp(now if now is not None else datetime.now())
    # times are compared as wall-clock times, like the export's own
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


# ---- delimited text --------------------------------------------------------- #
def _read_delimited(src: Path, *, encoding: str | None, delimiter: str | None) -> _Table:
    try:
        data = src.read_bytes()
    except OSError as exc:
        msg = f"Cannot read incident file {str(src)!r}: {exc.strerror or exc}."
        raise InputFileError(msg) from exc
    text, used_encoding, lossy = _decode(data, encoding)
    del data
    lossy = lossy and _SURROGATE.search(text) is not None
    lines = io.StringIO(text, newline="").readlines()
    del text
    delim = delimiter if delimiter is not None else _sniff_delimiter(lines)
    split_on = delim or _ONE_COLUMN
    header, first = _read_header(lines, split_on, src)
    parsed = _parse_fast(lines, first, split_on, len(header), lossy=lossy, encoding=used_encoding)
    if parsed is None:
        parsed = _parse_careful(lines, first, split_on, len(header), encoding=used_encoding)
    rows, row_no, row_line, bad = parsed
    return _Table(
        frame=_frame_from_rows(rows, header),
        source_row=row_no,
        source_line=row_line,
        malformed=pd.DataFrame(bad, columns=list(QUARANTINE_COLUMNS)),
        n_read=len(row_no) + len(bad),
        encoding=used_encoding,
        delimiter=delim,
    )


_Parsed = tuple[list[list[str]], npt.NDArray[np.int64], npt.NDArray[np.int64], list[dict[str, Any]]]


def _parse_fast(
    lines: list[str], first: int, delimiter: str, n_fields: int, *, lossy: bool, encoding: str
) -> _Parsed | None:
    """Parse in one pass; ``None`` when a quote problem needs `_parse_careful`."""
    reader = csv.reader(
        map(lines.__getitem__, range(first, len(lines))), delimiter=delimiter, strict=True
    )
    try:
        recs = list(reader)
    except csv.Error:
        return None
    lens = np.fromiter(map(len, recs), dtype=np.int64, count=len(recs))
    # physical lines per record: one, plus the line breaks inside quoted fields
    span = np.ones(len(recs), dtype=np.int64)
    if len(recs) != len(lines) - first:
        for i in np.flatnonzero(lens > 0).tolist():
            if any("\n" in v or "\r" in v for v in recs[i]):
                span[i] += sum(v.count("\n") + v.count("\r") - v.count("\r\n") for v in recs[i])
    wrong = (lens != n_fields) & (lens > 0)
    if (wrong & (span > 1)).any():
        return None  # an unbalanced quote swallowed lines
    start = first + np.cumsum(span) - span
    undecodable = np.zeros(len(recs), dtype=bool)
    if lossy:
        for i, rec in enumerate(recs):
            undecodable[i] = any(_SURROGATE.search(v) for v in rec)
    data = lens > 0
    row_no = np.cumsum(data)
    good = data & ~wrong & ~undecodable
    bad = [
        _malformed(
            int(row_no[i]),
            int(start[i]),
            "".join(lines[start[i] : start[i] + span[i]]),
            f"undecodable bytes (the file reads as {encoding})"
            if undecodable[i]
            else f"{lens[i]} fields where the header has {n_fields}",
        )
        for i in np.flatnonzero(data & ~good).tolist()
    ]
    rows = recs if good.all() else [recs[i] for i in np.flatnonzero(good).tolist()]
    return rows, row_no[good].astype(np.int64), (start[good] + 1).astype(np.int64), bad


def _parse_careful(
    lines: list[str], first: int, delimiter: str, n_fields: int, *, encoding: str
) -> _Parsed:
    """Record by record, quarantining a line whose open quote swallowed the next ones."""
    rows: list[list[str]] = []
    row_no: list[int] = []
    row_line: list[int] = []
    bad: list[dict[str, Any]] = []
    n_read = 0
    pos: int | None = first
    while pos is not None:
        restart: int | None = None
        for rec, start, end, csv_error in _records(lines, pos, delimiter):
            if rec is not None and not rec:
                continue  # a blank line, as csv and pandas skip it
            n_read += 1
            spans = end - start > 1
            if rec is None:
                problem = csv_error
            elif len(rec) != n_fields:
                problem = f"{len(rec)} fields where the header has {n_fields}"
            elif any(_SURROGATE.search(v) for v in rec):
                problem, spans = f"undecodable bytes (the file reads as {encoding})", False
            else:
                rows.append(rec)
                row_no.append(n_read)
                row_line.append(start + 1)
                continue
            if spans:
                # quarantine the line that opened the quote alone; read on from the next
                bad.append(_malformed(n_read, start, lines[start], f"{problem} (unbalanced quote)"))
                restart = start + 1
                break
            bad.append(_malformed(n_read, start, "".join(lines[start:end]), problem))
        pos = restart
    return (
        rows,
        np.asarray(row_no, dtype=np.int64),
        np.asarray(row_line, dtype=np.int64),
        bad,
    )


def _decode(data: bytes, encoding: str | None) -> tuple[str, str, bool]:
    """Text, the encoding used, and whether undecodable bytes may remain.

    Undecodable bytes stay in the text as lone surrogates; their rows are
    quarantined as malformed lines.
    """
    if encoding is not None:
        enc = codecs.lookup(encoding).name
        if enc in {"utf-8", "utf-8-sig"} and data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8) :].decode("utf-8", "surrogateescape"), enc, True
        return _decode_with(data, encoding), encoding, True
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", "surrogateescape"), "utf-8-sig", True
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_with(data, "utf-16"), "utf-16", True
    try:
        return data.decode("utf-8"), "utf-8", False
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", "surrogateescape")
    n_bad = len(text.encode("utf-8", "surrogateescape")) - len(text.encode("utf-8", "ignore"))
    n_good = len(text) - len(text.encode("ascii", "ignore")) - n_bad
    if n_good > n_bad:
        # mostly UTF-8 with a few corrupt bytes: those lines are quarantined
        return text, "utf-8", True
    try:
        return data.decode("cp1252"), "cp1252", False
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 decodes every byte
        return data.decode("latin-1"), "latin-1", False


def _decode_with(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding, "surrogateescape")
    except UnicodeDecodeError:
        # multi-byte codecs (UTF-16) cannot escape a truncated unit
        log.warning("%s: some bytes are not %s; they read as U+FFFD", encoding, encoding)
        return data.decode(encoding, "replace")


def _sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits the first lines into as many fields as the header.

    ``""`` when no candidate splits the header: a one-column file.
    """
    sample = lines[:100]
    best, best_score = "", (0.0, 1)
    for delim in _DELIMITERS:
        recs = _sample_records(sample, delim)
        if not recs or len(recs[0]) < 2:
            continue
        width = len(recs[0])
        body = recs[1:-1] or recs[1:]  # the last sampled record may be cut short
        share = sum(len(r) == width for r in body) / len(body) if body else 1.0
        if (share, width) > best_score:
            best, best_score = delim, (share, width)
    return best


def _sample_records(sample: list[str], delimiter: str) -> list[list[str]]:
    """The non-blank records of `sample`, skipping any csv cannot read."""
    reader = csv.reader(sample, delimiter=delimiter)
    out: list[list[str]] = []
    while True:
        try:
            rec = next(reader)
        except StopIteration:
            return out
        except csv.Error:
            continue
        if rec:
            out.append(rec)


def _records(
    lines: list[str], pos: int, delimiter: str
) -> Iterator[tuple[list[str] | None, int, int, str]]:
    """Records from line `pos` on, with their first and end line index (0-based)."""
    reader = csv.reader(
        map(lines.__getitem__, range(pos, len(lines))), delimiter=delimiter, strict=True
    )
    prev = 0
    while True:
        try:
            for rec in reader:
                end = reader.line_num
                yield rec, pos + prev, pos + end, ""
                prev = end
        except csv.Error as exc:
            end = reader.line_num
            yield None, pos + prev, pos + end, str(exc)
            prev = end
        else:
            return


def _read_header(lines: list[str], delimiter: str, src: Path) -> tuple[list[str], int]:
    for rec, start, end, err in _records(lines, 0, delimiter):
        if err:
            msg = (
                f"Cannot read the header of {str(src)!r} (line {start + 1}): {err}. "
                "The first line must name the columns."
            )
            raise InputFileError(msg)
        if rec:
            names = [_printable(v).strip() or f"column_{i + 1}" for i, v in enumerate(rec)]
            return _unique(names), end
    msg = f"Incident file {str(src)!r} is empty; it needs a header line naming the columns."
    raise InputFileError(msg)


def _unique(names: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        out.append(name if not seen[name] else f"{name}.{seen[name]}")
        seen[name] += 1
    return out


def _printable(text: str) -> str:
    """Text with undecodable bytes shown as ``\\xNN`` escapes."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _malformed(row: int, start: int, raw: str, message: str) -> dict[str, Any]:
    return {
        "source_row": row,
        "source_line": start + 1,
        "reason": "malformed_line",
        "column": "",
        "value": "",
        "message": message,
        "raw": _printable(raw).rstrip("\r\n"),
    }


def _frame_from_rows(rows: list[list[str]], header: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({name: pd.Series([], dtype="str") for name in header})
    grid = np.array(rows, dtype=object).reshape(len(rows), len(header))
    return pd.DataFrame({name: pd.Series(grid[:, j], dtype="str") for j, name in enumerate(header)})


# ---- Parquet and vector files ---------------------------------------------- #
def _read_parquet(src: Path) -> _Table:
    try:
        frame = pd.read_parquet(src)
    except (OSError, ValueError) as exc:
        msg = f"Cannot read Parquet file {str(src)!r}: {exc}"
        raise InputFileError(msg) from exc
    return _table_from_frame(frame.reset_index(drop=True))


def _read_vector(src: Path) -> _Table:
    try:
        gdf = gpd.read_file(src)
    except (OSError, ValueError, RuntimeError) as exc:
        msg = f"Cannot read {str(src)!r} as a vector file (GeoPackage, GeoJSON): {exc}"
        raise InputFileError(msg) from exc
    if not isinstance(gdf, gpd.GeoDataFrame):
        return _table_from_frame(pd.DataFrame(gdf).reset_index(drop=True))  # attribute table
    gdf = gdf.reset_index(drop=True)
    geom_name = gdf.geometry.name
    geoms = gdf.geometry.to_numpy()
    # incidents are points; anything else stands at a point on its surface
    points = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    xs = shapely.get_x(points).astype(np.float64)
    ys = shapely.get_y(points).astype(np.float64)
    frame = pd.DataFrame(gdf.drop(columns=geom_name))
    frame[geom_name] = pd.Series(shapely.to_wkt(geoms), dtype="str")
    table = _table_from_frame(frame)
    table.geometry_xy = (xs, ys)
    table.geometry_crs = gdf.crs.to_string() if gdf.crs is not None else ""
    table.geometry_column = str(frame.columns[-1])
    return table


def _table_from_frame(frame: pd.DataFrame) -> _Table:
    frame.columns = _unique([str(c) for c in frame.columns])
    rows = np.arange(1, len(frame) + 1, dtype=np.int64)
    return _Table(
        frame=frame,
        source_row=rows,
        source_line=rows.copy(),
        malformed=pd.DataFrame(columns=list(QUARANTINE_COLUMNS)),
        n_read=len(frame),
    )


# ---- which columns --------------------------------------------------------- #
@functools.cache
def _builtin_profiles() -> tuple[Profile, ...]:
    return tuple(load_profile(name) for name in available_profiles())


def _detect_profile(header: list[str]) -> Profile | None:
    """The built-in profile whose mapped columns are all in the header (most columns wins)."""
    present = set(header)
    fits = [p for p in _builtin_profiles() if set(p.columns.mapped().values()) <= present]
    if not fits:
        return None
    best = max(fits, key=lambda p: len(p.columns.mapped()))
    log.debug("header matches the built-in profile %s", best.name)
    return best


def _norm_name(name: str) -> str:
    return _NORMALISE.sub("_", name.casefold()).strip("_")


def _auto_columns(header: list[str]) -> ColumnMap:
    normal = {_norm_name(h): h for h in reversed(header)}  # first of equal names wins
    taken: set[str] = set()
    found: dict[str, str] = {}
    for fld, names in AUTO_COLUMNS.items():
        for name in names:
            col = normal.get(name)
            if col is not None and col not in taken:
                found[fld] = col
                taken.add(col)
                break
    if "received_at" in found:
        found.pop("date", None)
        found.pop("time", None)
    elif "date" in found and "time" not in found:
        found["received_at"] = found.pop("date")
    elif "time" in found and "date" not in found:
        found.pop("time")
    if ("x" in found) != ("y" in found):
        found.pop("x", None)
        found.pop("y", None)
    crs = "EPSG:4326" if "x" in found else None
    log.debug("auto-detected columns: %s", found)
    options: dict[str, Any] = {**found, "crs": crs}
    return ColumnMap(**options)


def _resolve_columns(
    cmap: ColumnMap, header: list[str], *, src: Path, profile: Profile | None, has_geometry: bool
) -> ColumnMap:
    """Check every mapped column is in the header (forgiving case and spaces)."""
    by_fold: dict[str, list[str]] = {}
    for h in header:
        by_fold.setdefault(h.strip().casefold(), []).append(h)
    changes: dict[str, Any] = {}
    for fld, col in cmap.mapped().items():
        if col in header:
            continue
        near = by_fold.get(col.strip().casefold(), [])
        if len(near) == 1:
            changes[fld] = near[0]
            continue
        origin = f"profile {profile.name!r} ({profile.source})" if profile else "the column map"
        msg = (
            f"{str(src)!r} has no column {col!r}, which {origin} maps to {fld}. "
            f"The file's columns are: {', '.join(header)}. Map {fld} to one of them "
            f"(e.g. columns=ColumnMap({fld}=...)) or fix the profile."
        )
        raise InputFileError(msg)
    if changes:
        cmap = replace(cmap, **changes)
    if cmap.address is None and cmap.x is None and not has_geometry:
        msg = (
            f"{str(src)!r}: no column is mapped to an address or to x/y coordinates, so no "
            f"incident could be placed. The file's columns are: {', '.join(header)}. "
            "Map one, e.g. columns=ColumnMap(address=...)."
        )
        raise InputFileError(msg)
    return cmap


# --------------------------------------------------------------------------- #
# mapping and validation
# --------------------------------------------------------------------------- #
class _Checks:
    """Per-row rejection reasons; the first reason flagged for a row wins."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, "", dtype=object)
        self.column = np.full(n, "", dtype=object)
        self.value = np.full(n, "", dtype=object)
        self.message = np.full(n, "", dtype=object)

    @property
    def ok(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self.reason == "", dtype=bool)

    def flag(
        self,
        reason: str,
        mask: pd.Series | npt.NDArray[np.bool_],
        *,
        column: str,
        values: pd.Series,
        message: str | Callable[[str], str],
    ) -> None:
        hit = np.flatnonzero(np.asarray(mask, dtype=bool) & self.ok)
        if not len(hit):
            return
        vals = [str(v) for v in values.to_numpy(dtype=object)[hit]]
        self.reason[hit] = reason
        self.column[hit] = column
        self.value[hit] = vals
        self.message[hit] = (
            [message(v) for v in vals] if callable(message) else [message] * len(hit)
        )


def _canonicalise(
    table: _Table,
    cmap: ColumnMap,
    *,
    rules: tuple[CallTypeRule, ...],
    taxonomy: Taxonomy,
    area: shapely.Polygon | shapely.MultiPolygon | None,
    now: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    raw = table.frame
    n = len(raw)
    checks = _Checks(n)
    empty = pd.Series([""] * n, dtype="str")

    def text(col: str | None) -> pd.Series:
        return _text(raw[col]) if col is not None else empty

    def time_text(fld: str) -> pd.Series:
        if fld == "received_at" and cmap.date is not None:
            return (text(cmap.date) + " " + text(cmap.time)).str.strip()
        return text(getattr(cmap, fld))

    # ---- identity ----------------------------------------------------------- #
    if cmap.incident_id is not None:
        ids = text(cmap.incident_id)
        checks.flag(
            "missing_incident_id",
            ids == "",
            column=cmap.incident_id,
            values=ids,
            message=f"{cmap.incident_id} is empty; every row needs an incident id",
        )
    else:
        ids = pd.Series(table.source_row.astype(str), dtype="str")

    # ---- times -------------------------------------------------------------- #
    times: dict[str, pd.Series] = {}
    for fld in _TIME_FIELDS:
        col = getattr(cmap, fld)
        if fld == "received_at" and cmap.date is not None:
            times[fld] = _parse_date_time(raw, cmap, checks)
        elif col is not None:
            # cancelled calls leave dispatch and clear times empty; only the
            # received time is required
            times[fld] = _parse_column_times(
                raw[col], col, cmap, checks, required=fld == "received_at"
            )
        else:
            times[fld] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    for fld in _TIME_FIELDS:
        col = _time_column(cmap, fld)
        if col is None:
            continue
        checks.flag(
            "future_date",
            times[fld] > now,
            column=col,
            values=time_text(fld),
            message=lambda v: f"{v!r} is after now ({now:%Y-%m-%d %H:%M})",
        )
    received = times["received_at"]
    for fld, reason in (
        ("dispatched_at", "dispatched_before_received"),
        ("cleared_at", "cleared_before_received"),
    ):
        col = _time_column(cmap, fld)
        if col is None or _time_column(cmap, "received_at") is None:
            continue
        checks.flag(
            reason,
            times[fld] < received,
            column=col,
            values=time_text(fld),
            message=_before_received(fld),
        )

    # ---- location ----------------------------------------------------------- #
    address = text(cmap.address)
    loc = _coordinates(table, cmap, checks, address)
    xs, ys = loc.x, loc.y
    crs_col = pd.Series(np.where(np.isfinite(xs) & np.isfinite(ys), loc.crs, ""), dtype="str")
    if area is not None and not loc.crs and np.isfinite(xs).any():
        log.warning("coordinates have no CRS, so the area is not checked; pass ColumnMap(crs=...)")
    if area is not None and loc.crs:
        lon, lat = _to_lonlat(xs, ys, loc.crs)
        finite = np.isfinite(lon) & np.isfinite(lat)
        outside = finite & ~shapely.intersects_xy(area, np.nan_to_num(lon), np.nan_to_num(lat))
        checks.flag(
            "coordinates_outside_area",
            outside,
            column=loc.column,
            values=loc.values,
            message=lambda v: f"({v}) lies outside the given area",
        )

    # ---- duplicates, among rows that passed every other check -------------- #
    if cmap.incident_id is not None:
        ok = checks.ok
        kept = ids[ok]
        dup = kept.duplicated(keep="first")
        if dup.any():
            first = pd.Series(table.source_row[ok], index=kept.index)[~dup]
            first_of = dict(zip(kept[~dup], first, strict=True))
            mask = np.zeros(n, dtype=bool)
            mask[np.flatnonzero(ok)[dup.to_numpy()]] = True
            checks.flag(
                "duplicate_incident_id",
                mask,
                column=cmap.incident_id,
                values=ids,
                message=lambda v: f"incident id {v!r} already on source_row {first_of.get(v)}",
            )

    # ---- call types and the rest -------------------------------------------- #
    codes, descs = text(cmap.call_type_code), text(cmap.call_type)
    category, minutes = _categorise(codes, descs, rules, taxonomy)
    warn: dict[str, int] = {}
    priority = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    if cmap.priority is not None:
        priority, n_bad = _priorities(text(cmap.priority))
        if n_bad:
            warn["priority_not_a_number"] = n_bad
            log.warning(
                "%d priority values are not numbers (kept in src_%s, priority left empty)",
                n_bad,
                cmap.priority,
            )

    canonical = pd.DataFrame(
        {
            "source_row": table.source_row,
            "source_line": table.source_line,
            "incident_id": ids,
            "received_at": times["received_at"].astype("datetime64[ns]"),
            "dispatched_at": times["dispatched_at"].astype("datetime64[ns]"),
            "cleared_at": times["cleared_at"].astype("datetime64[ns]"),
            "call_type_code": codes,
            "call_type": descs,
            "category": category,
            "service_minutes": minutes,
            "is_cso": (category != "not_cso").astype(bool),
            "priority": priority,
            "disposition": text(cmap.disposition),
            "beat": text(cmap.beat),
            "address": address,
            "x": xs,
            "y": ys,
            "crs": crs_col,
        },
        columns=list(CANONICAL_COLUMNS),
    )
    src = raw.reset_index(drop=True).add_prefix("src_")
    ok = checks.ok
    accepted = pd.concat([canonical[ok], src[ok]], axis=1).reset_index(drop=True)
    bad = ~ok
    rejected = pd.DataFrame(
        {
            "source_row": table.source_row[bad],
            "source_line": table.source_line[bad],
            "reason": checks.reason[bad],
            "column": checks.column[bad],
            "value": checks.value[bad],
            "message": checks.message[bad],
            "raw": "",
        },
        columns=list(QUARANTINE_COLUMNS),
    )
    rejected = pd.concat([rejected, src[bad].reset_index(drop=True)], axis=1)
    return accepted, rejected, warn


def _priorities(ptext: pd.Series) -> tuple[pd.Series, int]:
    """Integer priorities (``P2`` and ``2 - HIGH`` read as 2), and how many were not numbers."""
    given = ptext != ""
    num = pd.to_numeric(ptext.where(given), errors="coerce").astype("float64")
    retry = given & num.isna()
    if retry.any():
        digits = ptext[retry].str.extract(_PRIORITY, expand=False)
        num[retry] = pd.to_numeric(digits, errors="coerce").astype("float64")
    whole = num.notna() & (num == num.round()) & (num.abs() < 1e9)
    priority = num.where(whole).astype("Int64")
    return priority, int((given & ~whole).sum())


def _before_received(fld: str) -> Callable[[str], str]:
    return lambda v: f"{fld} {v!r} is before received_at"


def _time_column(cmap: ColumnMap, fld: str) -> str | None:
    if fld == "received_at" and cmap.date is not None:
        return f"{cmap.date},{cmap.time}" if cmap.time else cmap.date
    col: str | None = getattr(cmap, fld)
    return col


def _text(values: pd.Series) -> pd.Series:
    """Values as stripped text, ``""`` where missing, on a fresh 0..n-1 index."""
    s = values.reset_index(drop=True)
    if pd.api.types.is_float_dtype(s.dtype):
        finite = s.dropna()
        if len(finite) and bool((finite == finite.round()).all()) and finite.abs().max() < 2**53:
            s = s.astype("Int64")  # ids and priorities stored as floats because of NaN
    if not pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
        s = s.astype("str")
    return s.fillna("").str.strip()


# ---- dates -------------------------------------------------------------------- #
def _parse_column_times(
    values: pd.Series, column: str, cmap: ColumnMap, checks: _Checks, *, required: bool = True
) -> pd.Series:
    parsed, how = _parse_datetimes(values, fmt=cmap.format, dayfirst=cmap.dayfirst, column=column)
    _flag_times(parsed, values, column, how, checks, required=required)
    out: pd.Series = parsed.astype("datetime64[ns]")
    return out


def _flag_times(
    parsed: pd.Series,
    values: pd.Series,
    column: str,
    how: str,
    checks: _Checks,
    *,
    required: bool = True,
) -> None:
    raw_text = _text(values)
    if required:
        checks.flag(
            "unparseable_date",
            raw_text == "",
            column=column,
            values=raw_text,
            message=f"{column} is empty",
        )
    checks.flag(
        "unparseable_date",
        parsed.isna() & (raw_text != ""),
        column=column,
        values=raw_text,
        message=lambda v: f"{v!r} is not {how}",
    )


def _parse_datetimes(
    values: pd.Series, *, fmt: str | None, dayfirst: bool | None, column: str = "date"
) -> tuple[pd.Series, str]:
    """Parse a column into datetime64[us] (NaT where unparseable or out of range).

    Returns the times and how they were read, for quarantine messages.

    Raises
    ------
    InputFileError
        When numeric dates could be day/month or month/day and nothing says which.
    """
    values = values.reset_index(drop=True)
    if fmt is None and not pd.api.types.is_datetime64_any_dtype(values.dtype):
        dayfirst = _day_month_order(_text(values), dayfirst=dayfirst, column=column)
    dayfirst = bool(dayfirst)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = _wall_time(values)
        how = "a date"
    else:
        text = _text(values)
        present = text != ""
        fmt_used = _guess_format(text[present], dayfirst=dayfirst) if fmt is None else fmt
        parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
        if fmt_used is not None and present.any():
            parsed = _strptime(text.where(present), fmt_used, dayfirst=dayfirst)
        if fmt is None:
            # values the column's format does not fit: try them one by one, but
            # never numeric day/month ones, which could be read in the other order
            retry = (
                present
                & parsed.isna()
                & text.str.contains(_DATE_LIKE, regex=True)
                & ~text.str.contains(_NUMERIC_DM, regex=True)
            )
            if retry.any():
                parsed[retry] = _strptime(text[retry], "mixed", dayfirst=dayfirst).to_numpy()
            how = f"a date (the column reads as {fmt_used!r})" if fmt_used else "a date"
        else:
            how = f"a date in the format {fmt!r}"
    parsed = parsed.astype("datetime64[us]")
    in_range = (parsed >= _MIN_TIME) & (parsed <= _MAX_TIME)
    return parsed.where(in_range), how


def _strptime(text: pd.Series, fmt: str, *, dayfirst: bool) -> pd.Series:
    """`pd.to_datetime` with NaT for failures, as naive wall-clock datetime64[us]."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' notes on formats and dayfirst
        try:
            out = pd.to_datetime(text, format=fmt, dayfirst=dayfirst, errors="coerce")
        except (ValueError, TypeError, OverflowError):
            # mixed UTC offsets will not share one column: value by value
            one = "mixed" if fmt == "mixed" else fmt
            out = pd.Series(
                [_one_time(v, fmt=one, dayfirst=dayfirst) for v in text],
                index=text.index,
                dtype="datetime64[us]",
            )
    return _wall_time(out).astype("datetime64[us]")


def _wall_time(values: pd.Series) -> pd.Series:
    """Naive wall-clock times; tz-aware values keep their local time."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        naive: pd.Series = values.dt.tz_localize(None)
        return naive
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values
    return pd.Series([_one_time(v) for v in values], index=values.index, dtype="datetime64[us]")


def _one_time(
    value: str | datetime | None, *, fmt: str | None = None, dayfirst: bool = False
) -> datetime | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ts = pd.to_datetime(value, format=fmt, dayfirst=dayfirst, errors="coerce")
    except (ValueError, TypeError, OverflowError):
        return None
    if not isinstance(ts, pd.Timestamp) or pd.isna(ts):
        return None
    ts = ts.tz_localize(None) if ts.tzinfo is not None else ts
    return ts.to_pydatetime() if _MIN_TIME <= ts <= _MAX_TIME else None


_NUMERIC_DM: Final = r"^\s*\d{1,2}\s*[/.-]\s*\d{1,2}\s*[/.-]\s*\d{2,4}\b"


def _day_month_order(text: pd.Series, *, dayfirst: bool | None, column: str) -> bool | None:
    """Tell day/month from month/day order of numeric dates from the values themselves.

    A first part above 12 means day first, a second part above 12 month first.
    When every value fits both orders, the column's own setting decides; with
    none, guessing could swap day and month of every early-month date, so it
    is an error.
    """
    distinct = pd.Series(text.unique())
    parts = distinct.str.extract(r"^\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*\d{2,4}\b")
    parts = parts.dropna().astype(int)
    if parts.empty:
        return dayfirst
    first_big = bool((parts[0] > 12).any())
    second_big = bool((parts[1] > 12).any())
    if first_big and not second_big:
        return True if dayfirst is None else dayfirst
    if second_big and not first_big:
        return False if dayfirst is None else dayfirst
    if dayfirst is None and not first_big and not second_big:
        example = distinct.iloc[int(parts.index[0])]
        msg = (
            f"Column {column!r} holds dates such as {example!r} whose day and month order "
            "cannot be told apart (no part is above 12). Say which: dayfirst = true or "
            "false in the profile's [columns], or --dayfirst / --monthfirst, or give "
            "--date-format."
        )
        raise InputFileError(msg)
    return dayfirst


def _guess_format(text: pd.Series, *, dayfirst: bool) -> str | None:
    """The format that parses most of the first distinct values."""
    sample = text.drop_duplicates().head(50)
    if sample.empty:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guesses = Counter(
            g for v in sample.head(10) if (g := guess_datetime_format(str(v), dayfirst=dayfirst))
        )
    common = list(_COMMON_FORMATS)
    if dayfirst:
        common.sort(key=lambda f: not f.startswith("%d"))
    best, best_ok = None, 0
    for fmt in [g for g, _ in guesses.most_common()] + common:
        n_ok = int(_strptime(sample, fmt, dayfirst=dayfirst).notna().sum())
        if n_ok > best_ok:
            best, best_ok = fmt, n_ok
        if n_ok == len(sample):
            break
    return best


def _parse_date_time(raw: pd.DataFrame, cmap: ColumnMap, checks: _Checks) -> pd.Series:
    """``received_at`` from a date column plus an optional time-of-day column."""
    assert cmap.date is not None  # the caller checked
    day, how = _parse_datetimes(
        raw[cmap.date], fmt=cmap.format, dayfirst=cmap.dayfirst, column=cmap.date
    )
    _flag_times(day, raw[cmap.date], cmap.date, how, checks)
    day = day.dt.normalize()
    if cmap.time is None:
        day_only: pd.Series = day.astype("datetime64[ns]")
        return day_only
    ttext = _text(raw[cmap.time])
    parts = ttext.str.extract(_TIME_OF_DAY)
    hour = pd.to_numeric(parts["h"], errors="coerce")
    minute = pd.to_numeric(parts["m"], errors="coerce")
    second = pd.to_numeric(parts["s"], errors="coerce").fillna(0)
    ampm = parts["ampm"].fillna("").str.upper()
    twelve = ampm != ""
    bad_12 = twelve & ((hour < 1) | (hour > 12))
    hour = hour.where(~twelve, (hour % 12) + np.where(ampm == "P", 12, 0))
    valid = hour.notna() & minute.notna() & (hour < 24) & (minute < 60) & (second < 60) & ~bad_12
    checks.flag(
        "unparseable_date",
        ttext == "",
        column=cmap.time,
        values=ttext,
        message=f"{cmap.time} is empty",
    )
    checks.flag(
        "unparseable_date",
        ~valid,
        column=cmap.time,
        values=ttext,
        message=lambda v: f"{v!r} is not a time of day (HH:MM[:SS] [AM/PM])",
    )
    offset = pd.to_timedelta((hour * 3600 + minute * 60 + second).where(valid), unit="s")
    received: pd.Series = (day + offset.to_numpy()).astype("datetime64[ns]")
    return received


# ---- coordinates --------------------------------------------------------------- #
@dataclass
class _Location:
    x: npt.NDArray[np.float64]  # NaN where absent or invalid
    y: npt.NDArray[np.float64]
    crs: str
    column: str  # the input column(s), for quarantine rows
    values: pd.Series  # their text


def _coordinates(table: _Table, cmap: ColumnMap, checks: _Checks, address: pd.Series) -> _Location:
    """Parse and check x/y (or the geometry); flag rows with no location at all."""
    raw = table.frame
    n = len(raw)
    if cmap.x is not None and cmap.y is not None:
        xs, x_has, x_bad = _numbers(raw[cmap.x])
        ys, y_has, y_bad = _numbers(raw[cmap.y])
        crs = cmap.crs or "EPSG:4326"
        column = f"{cmap.x},{cmap.y}"
        values = _text(raw[cmap.x]) + "," + _text(raw[cmap.y])
    elif table.geometry_xy is not None:
        xs, ys = table.geometry_xy
        x_has, y_has = np.isfinite(xs), np.isfinite(ys)
        x_bad = y_bad = np.zeros(n, dtype=bool)
        crs = cmap.crs or table.geometry_crs
        column = table.geometry_column
        values = _text(raw[column])
    else:
        x_has = y_has = x_bad = y_bad = np.zeros(n, dtype=bool)
        xs, ys = np.full(n, np.nan), np.full(n, np.nan)
        crs, column, values = "", "", address
    if not column:
        # address-only export: an empty address is the geocoder's to report as
        # unmatched, like UNKNOWN or CITYWIDE
        return _Location(xs, ys, "", "", values)
    checks.flag(
        "missing_location",
        (address == "").to_numpy() & ~(x_has | y_has),
        column=f"{cmap.address},{column}" if cmap.address else column,
        values=address,
        message="no address and no coordinates",
    )
    checks.flag(
        "invalid_coordinates",
        x_bad | y_bad,
        column=column,
        values=values,
        message=lambda v: f"({v}) are not finite numbers",
    )
    checks.flag(
        "invalid_coordinates",
        x_has != y_has,
        column=column,
        values=values,
        message=lambda v: f"({v}) gives only one of x and y",
    )
    good = x_has & y_has & ~x_bad & ~y_bad
    crs_obj = CRS.from_user_input(crs) if crs else None
    if crs_obj is not None and crs_obj.is_geographic:
        checks.flag(
            "invalid_coordinates",
            good & ((xs < -180) | (xs > 180) | (ys < -90) | (ys > 90)),
            column=column,
            values=values,
            message=lambda v: f"({v}) is outside longitude -180..180 / latitude -90..90",
        )
        checks.flag(
            "invalid_coordinates",
            good & (xs == 0) & (ys == 0),
            column=column,
            values=values,
            message="(0, 0) is a placeholder for a missing location",
        )
        checks.flag(
            "invalid_coordinates",
            good & (np.abs(ys) == 90),
            column=column,
            values=values,
            message=lambda v: f"({v}) lies on a pole, a placeholder for a missing location",
        )
    elif crs_obj is not None:
        lon, lat = _to_lonlat(np.where(good, xs, 0.0), np.where(good, ys, 0.0), crs)
        checks.flag(
            "invalid_coordinates",
            good & ~(np.isfinite(lon) & np.isfinite(lat)),
            column=column,
            values=values,
            message=lambda v: f"({v}) cannot be transformed from {crs} to longitude/latitude",
        )
    return _Location(
        x=np.where(good, xs, np.nan),
        y=np.where(good, ys, np.nan),
        crs=crs_obj.to_string() if crs_obj is not None else "",
        column=column,
        values=values,
    )


def _numbers(
    values: pd.Series,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Floats, whether a value was given, and whether it was not a finite number."""
    values = values.reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        nums = np.asarray(values.astype("float64").to_numpy(), dtype=np.float64)
        given = np.asarray(~np.isnan(nums), dtype=bool)
        return nums, given, given & ~np.isfinite(nums)
    text = _text(values)
    given = np.asarray((text != "").to_numpy(), dtype=bool)
    nums_s = pd.to_numeric(text.where(text != ""), errors="coerce")
    retry = given & nums_s.isna().to_numpy()
    if retry.any():
        # decimal commas, as in semicolon-delimited European exports
        nums_s[retry] = pd.to_numeric(
            text[retry].str.replace(",", ".", regex=False), errors="coerce"
        ).to_numpy()
    nums = np.asarray(nums_s.astype("float64").to_numpy(), dtype=np.float64)
    return nums, given, given & ~np.isfinite(nums)


def _to_lonlat(
    xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64], crs: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    if CRS.from_user_input(crs).equals(CRS.from_epsg(4326)):
        return xs, ys
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _key(text: str | None) -> str:
    return " ".join(str(text).split()).casefold() if text else ""


def _categorise(
    codes: pd.Series, descs: pd.Series, rules: tuple[CallTypeRule, ...], taxonomy: Taxonomy
) -> tuple[pd.Series, pd.Series]:
    """Category and service minutes of each row.

    Order: the profile's code+description rules, its description-only rules,
    its code-only rules, then the taxonomy by code and by description (and,
    for a lone type column, a description in the code column or vice versa).
    """
    by_pair: dict[tuple[str, str], CallTypeRule] = {}
    by_desc: dict[str, CallTypeRule] = {}
    by_code: dict[str, CallTypeRule] = {}
    for rule in rules:
        c, d = _key(rule.code), _key(rule.description)
        if c and d:
            by_pair.setdefault((c, d), rule)
        elif d:
            by_desc.setdefault(d, rule)
        else:
            by_code.setdefault(c, rule)
    tax_code = {_key(t.code): t for t in taxonomy.call_types}
    tax_desc: dict[str, CallType] = {}
    for t in taxonomy.call_types:
        tax_desc.setdefault(_key(t.description), t)
    overall = float(statistics.median(t.service_minutes for t in taxonomy.call_types))
    cat_minutes = {
        cat: float(
            statistics.median(t.service_minutes for t in taxonomy.call_types if t.category == cat)
        )
        for cat in {t.category for t in taxonomy.call_types}
    }
    codes_at, uniques = pd.factorize(codes + "\x1f" + descs)
    cats: list[str] = []
    mins: list[float] = []
    for k in uniques:
        code, desc = str(k).split("\x1f", 1)
        kc, kd = _key(code), _key(desc)
        hit = by_pair.get((kc, kd)) or by_desc.get(kd) or by_code.get(kc)
        # a lone type column may hold codes or descriptions: try both ways round
        known = (tax_code.get(kc), tax_desc.get(kd), tax_code.get(kd), tax_desc.get(kc))
        ct = next((t for t in known if t is not None), None)
        if hit is not None:
            cats.append(hit.category)
            mins.append(hit.service_minutes or cat_minutes.get(hit.category, overall))
        elif ct is not None:
            cats.append(ct.category)
            mins.append(ct.service_minutes)
        else:
            cats.append(UNMAPPED)
            mins.append(overall)
    category = pd.Series(np.asarray(cats, dtype=object)[codes_at], dtype="str")
    minutes_s = pd.Series(np.asarray(mins, dtype=np.float64)[codes_at], dtype="float64")
    return category, minutes_s


def _unmapped_types(accepted: pd.DataFrame) -> pd.DataFrame:
    cols = ["call_type_code", "call_type", "count"]
    un = accepted.loc[accepted["category"] == UNMAPPED, ["call_type_code", "call_type"]]
    if un.empty:
        return pd.DataFrame(
            {c: pd.Series([], dtype="int64" if c == "count" else "str") for c in cols}
        )
    counts = un.groupby(["call_type_code", "call_type"], sort=False).size().rename("count")
    out = counts.reset_index()
    out = out.sort_values(
        ["count", "call_type_code", "call_type"], ascending=[False, True, True], kind="stable"
    )
    return out.reset_index(drop=True)[cols]


def _join_quarantine(
    malformed: pd.DataFrame, rejected: pd.DataFrame, src_columns: list[str]
) -> pd.DataFrame:
    parts = [p for p in (malformed, rejected) if len(p)]
    if not parts:
        out = rejected.iloc[0:0].copy()
    elif len(parts) == 1:
        out = parts[0].copy()
    else:
        out = pd.concat(parts, ignore_index=True)
    out = out.reindex(columns=[*QUARANTINE_COLUMNS, *src_columns])
    for col in ("source_row", "source_line"):
        out[col] = out[col].astype("int64")
    for col in ("reason", "column", "value", "message", "raw"):
        out[col] = out[col].fillna("").astype("str")
    return out.sort_values("source_row", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- #
# writing
# --------------------------------------------------------------------------- #
def write_ingest(result: IngestResult, out: str | Path) -> dict[str, Path]:
    """Write the accepted rows, the quarantine and a JSON summary, each atomically.

    Parameters
    ----------
    result
        What `read_incidents` returned.
    out
        The accepted rows' file: ``.csv``, ``.parquet`` or ``.gpkg`` (points
        where x/y are known; a plain table when no row has coordinates).
        ``<stem>.quarantine.csv`` and
        ``<stem>.ingest.json`` are written beside it.

    Returns
    -------
    paths
        ``{"accepted": ..., "quarantine": ..., "summary": ...}``.

    Raises
    ------
    OutputFileError
        When `out` has another suffix.
    """
    target = Path(out).expanduser()
    suffix = target.suffix.lower()
    if suffix not in _OUTPUT_SUFFIXES:
        msg = (
            f"Cannot write ingested incidents to {str(target)!r}: the suffix "
            f"{suffix or '(none)'!r} is not one of {', '.join(_OUTPUT_SUFFIXES)}."
        )
        raise OutputFileError(msg)
    summary = result.summary()
    stem = target.name[: -len(target.suffix)]
    paths = {
        "accepted": target,
        "quarantine": target.with_name(f"{stem}.quarantine.csv"),
        "summary": target.with_name(f"{stem}.ingest.json"),
    }
    accepted = result.accepted
    with atomic_path(paths["accepted"]) as tmp:
        if suffix == ".csv":
            _write_csv(accepted, tmp)
        elif suffix == ".parquet":
            accepted.to_parquet(tmp, index=False)
        elif np.isfinite(accepted["x"]).any():
            _points(accepted).to_file(tmp, driver="GPKG", layer="incidents")
        else:
            # nothing to draw: an attribute table, not points of unknown CRS
            pyogrio.write_dataframe(accepted, tmp, driver="GPKG", layer="incidents")
    write_quarantine(result, paths["quarantine"])
    doc = {
        **summary,
        "unmapped_type_counts": [
            {"call_type_code": c, "call_type": d, "count": int(k)}
            for c, d, k in result.unmapped_types.itertuples(index=False)
        ],
        "files": {k: str(v) for k, v in paths.items()},
    }
    atomic_write_text(paths["summary"], json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    log.info(
        "wrote %d accepted rows to %s and %d quarantined to %s",
        summary["accepted"],
        paths["accepted"],
        summary["quarantined"],
        paths["quarantine"],
    )
    return paths


def write_quarantine(result: IngestResult, path: str | Path) -> Path:
    """Write the quarantined rows, with their reasons, to a CSV file atomically."""
    target = Path(path)
    with atomic_path(target) as tmp:
        _write_csv(result.quarantine, tmp)
    return target


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(
        path, index=False, lineterminator="\n", encoding="utf-8", date_format="%Y-%m-%d %H:%M:%S"
    )


def _points(accepted: pd.DataFrame) -> gpd.GeoDataFrame:
    crs_values = sorted({c for c in accepted["crs"] if c})
    if len(crs_values) > 1:
        msg = f"Accepted rows mix CRSs ({', '.join(crs_values)}); write them as .csv or .parquet."
        raise OutputFileError(msg)
    xs, ys = accepted["x"].to_numpy(), accepted["y"].to_numpy()
    known = np.isfinite(xs) & np.isfinite(ys)
    geoms = np.full(len(accepted), None, dtype=object)
    geoms[known] = shapely.points(xs[known], ys[known])
    return gpd.GeoDataFrame(accepted, geometry=geoms, crs=crs_values[0] if crs_values else None)
