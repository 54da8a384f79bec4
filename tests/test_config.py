"""Run configurations: the bundled demo, the starter `cso-geo init` writes, and bad keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from cso_geo import config
from cso_geo._errors import ConfigError, InputFileNotFoundError

MINIMAL = """
[area]
osm = "city.osm.pbf"
[incidents]
file = "exports/calls.csv"
profile = "sf_police"
"""


def test_demo_config() -> None:
    c = config.demo_config(base=Path("/tmp/x"))
    assert c.osm == "helsinki"  # a bundled dataset name stays a name
    assert c.sample == {"months": 12, "seed": 1, "start": "2025-01-01", "calls_per_month": None}
    assert (c.n_beats, c.shift_hours, c.mode, c.report_month) == (
        6,
        "08:00-16:00",
        "foot",
        "2025-12",
    )
    assert c.out_dir == Path("/tmp/x/out")


def test_starter_config_is_valid_and_commented(tmp_path: Path) -> None:
    path = config.write_starter(tmp_path / "agency.toml")
    text = path.read_text(encoding="utf-8")
    assert text.count("#") > 30  # every choice explained
    c = config.load_config(path)
    assert c.osm == str(tmp_path / "region.osm.pbf")  # relative to the config's folder
    assert c.incidents == tmp_path / "calls.csv"
    assert (c.method, c.tuned, c.coverage, c.n_beats, c.dwell) == ("segment", True, 0.05, 6, 15.0)
    with pytest.raises(ConfigError, match="already exists"):
        config.write_starter(path)
    config.write_starter(path, overwrite=True)


def test_minimal_config_defaults(tmp_path: Path) -> None:
    c = config.parse_config(MINIMAL, base=tmp_path)
    assert c.osm == str(tmp_path / "city.osm.pbf")
    assert c.incidents == tmp_path / "exports" / "calls.csv"
    assert c.profile == "sf_police"
    assert (c.n_beats, c.mode, c.shift_hours, c.public) == (6, "foot", "08:00-16:00", False)
    assert c.shift_date is None
    assert c.report_month is None
    assert c.exposure_minutes_per_km == 0.0
    c = config.parse_config(MINIMAL + "[beats]\nexposure_minutes_per_km = 90", base=tmp_path)
    assert c.exposure_minutes_per_km == 90.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[beat]\nn = 4", r"unknown table \[beat\]; the tables are \[area\], \[incidents\]"),
        ("[beats]\ncount = 4", r"unknown key \[beats\] count; \[beats\] takes n, seed"),
        ("[beats]\nn = 0", r"\[beats\] n = 0 is not allowed; use an integer from 1 to 200"),
        ("[beats]\nn = 'six'", r"\[beats\] n = 'six'"),
        ("[hotspots]\nmethod = 'magic'", r"method = 'magic' is not allowed; use one of segment"),
        ("[hotspots]\nmethod = 'kde'\ntuned = true", r"tuned = true applies to method 'segment'"),
        ("[hotspots]\ncategories = ['noise', 'arson']", r"categories = \['noise', 'arson'\]"),
        ("[hotspots]\ncoverage = 5", r"coverage = 5 is not allowed; use a number from 0.001 to 1"),
        ("[shift]\nhours = '8-16'", r"\[shift\] hours = '8-16' is not allowed; use HH:MM-HH:MM"),
        ("[shift]\nmode = 'bike'", r"mode = 'bike' is not allowed; use one of foot, drive"),
        ("[shift]\ndate = '12/01/2025'", r"date = '12/01/2025' is not allowed; use a date like"),
        ("[report]\nmonth = '2025-13'", r"month = '2025-13'"),
        ("[routes]\ndwell = 30", r"dwell = 30 is not allowed; use a number from 10 to 16"),
        ("[routes]\ncoverage = true\n[shift]\nmode = 'drive'", r"coverage = true walks every"),
        ("[beats]\nstation = [24.9, 60.1]", r"station and max_minutes go together"),
        ("[beats]\nstation = [24.9]\nmax_minutes = 5", r"station = \[24.9\]"),
        ("[output]\npublic = 'yes'", r"public = 'yes' is not allowed; use true or false"),
        (
            "[beats]\nexposure_minutes_per_km = -5",
            r"\[beats\] exposure_minutes_per_km = -5 is not allowed; use a number from 0 up",
        ),
    ],
)
def test_config_errors_name_the_key_and_the_allowed_values(
    extra: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=message):
        config.parse_config(MINIMAL + extra, source="agency.toml", base=tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[area]\nosm = 'a.pbf'\nplace = 'Eugene'\n[incidents]\nfile = 'c.csv'", "exactly one"),
        ("[area]\n[incidents]\nfile = 'c.csv'", r"found none"),
        ("[area]\nbbox = [1, 2, 3]\n[incidents]\nfile = 'c.csv'", r"four numbers"),
        ("[area]\nosm = 'helsinki'\n[incidents]\nprofile = 'x'", "exactly one of file"),
        (
            "[area]\nosm = 'helsinki'\n[incidents]\nsample = { months = 2, colour = 1 }",
            r"sample = \['colour'\]",
        ),
        ("[area\nosm = 1", "not valid TOML"),
    ],
)
def test_area_and_incident_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.parse_config(text, source="agency.toml")


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match=r"does not exist; write a starter"):
        config.load_config(tmp_path / "nope.toml")


def test_routes_reserve(tmp_path: Path) -> None:
    assert config.parse_config(MINIMAL, base=tmp_path).reserve == "auto"
    c = config.parse_config(MINIMAL + "[routes]\nreserve = 90\n", base=tmp_path)
    assert c.reserve == 90.0
    with pytest.raises(ConfigError, match=r"\[routes\] reserve = 'lots' is not allowed"):
        config.parse_config(MINIMAL + '[routes]\nreserve = "lots"\n', base=tmp_path)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ("[incidents]\nsample = { months = [1] }\n", r"\[incidents.sample\] months = \[1\]"),
        ('[incidents]\nsample = { start = "soon" }\n', r"\[incidents.sample\] start = 'soon'"),
        ('[shift]\nhours = "25:00-26:00"\n', r"\[shift\] hours = '25:00-26:00'.*above 24"),
    ],
)
def test_values_are_checked_before_any_work(tmp_path: Path, extra: str, match: str) -> None:
    text = '[area]\nosm = "helsinki"\n' + extra
    if "[incidents]" not in extra:
        text += "[incidents]\nsample = {}\n"
    with pytest.raises(ConfigError, match=match):
        config.parse_config(text, base=tmp_path)


def test_missing_input_files_are_named(tmp_path: Path) -> None:
    c = config.parse_config(MINIMAL, base=tmp_path)
    with pytest.raises(
        InputFileNotFoundError, match=r"\[area\] osm = .*city.osm.pbf.* does not exist"
    ):
        c.check_inputs()
    (tmp_path / "city.osm.pbf").write_bytes(b"")
    with pytest.raises(InputFileNotFoundError, match=r"\[incidents\] file = .*calls.csv"):
        c.check_inputs()
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "calls.csv").write_text("x\n")
    c.check_inputs()
