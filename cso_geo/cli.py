"""The ``cso-geo`` command line: a thin layer over the library.

Every command parses its options, calls one public function, and prints what
it did. All logic lives in the library modules, where it is tested.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import rich.markup
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from cso_geo import __version__, config, hotspots, ingest, pipeline, routes
from cso_geo._errors import CsoGeoError
from cso_geo.maps import PUBLIC_MIN_COUNT
from cso_geo.network import StreetNetwork

app = typer.Typer(
    name="cso-geo",
    help=(
        "Patrol planning and quality-of-life hotspot analysis for Community Service "
        "Officer units. Start with `cso-geo demo`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

T = TypeVar("T")

OsmOpt = Annotated[
    str | None,
    typer.Option(
        "--osm",
        help="OSM file (.osm.pbf, .osm, .osm.bz2) or a bundled dataset name such as 'helsinki'.",
    ),
]
NetworkOpt = Annotated[
    Path | None,
    typer.Option("--network", help="A network folder written by `cso-geo network --out DIR`."),
]


def _print_version(value: bool) -> None:
    if value:
        out.print(f"cso-geo {__version__}")
        raise typer.Exit


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each stage.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Patrol planning and hotspot analysis for CSO units."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )


@contextmanager
def _user_errors() -> Iterator[None]:
    """Show errors a user can cause as one clear line, exit code 2."""
    try:
        yield
    except (CsoGeoError, FileNotFoundError, ValueError) as exc:
        # the message may quote input data: never read it as Rich markup
        console.print(f"[bold red]error:[/] {rich.markup.escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


def _esc(value: object) -> str:
    """Text from the data, shown as it is: never read as Rich markup."""
    return rich.markup.escape(str(value))


def _step(label: str, fn: Callable[[], T]) -> T:
    with console.status(label):
        return fn()


def _print_network(net: StreetNetwork) -> None:
    summary = net.summary()
    table = Table(title=f"Street network: {summary['source']} ({summary['crs']})")
    for col in ("graph", "nodes", "edges", "one-way edges", "street km"):
        table.add_column(col, justify="right" if col != "graph" else "left")
    for name in ("walk", "drive"):
        s = summary[name]
        table.add_row(
            name,
            f"{s['nodes']:,}",
            f"{s['edges']:,}",
            f"{s['oneway_edges']:,}",
            f"{s['street_km']:,.1f}",
        )
    out.print(table)
    out.print(
        f"{summary['address_points']:,} OSM address points, "
        f"{summary['named_places']:,} named places"
    )


@app.command()
def network(
    osm: OsmOpt = None,
    place: Annotated[
        str | None, typer.Option("--place", help="Download a place by name (needs internet).")
    ] = None,
    bbox: Annotated[
        str | None,
        typer.Option("--bbox", help="Download WEST,SOUTH,EAST,NORTH in degrees (needs internet)."),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Save the built network to this folder.")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Build from scratch; ignore and skip the cache.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Build, cache and inspect an area's walk and drive street networks.

    Example: cso-geo network --osm helsinki --out networks/helsinki
    """
    with _user_errors():
        bbox_values = _parse_floats(bbox, "--bbox") if bbox else None
        net = _step(
            "Building street networks",
            lambda: pipeline.load_network(
                osm=osm, place=place, bbox=bbox_values, use_cache=not no_cache
            ),
        )
        if out_dir is not None:
            pipeline.save_network(net, out_dir)
    if as_json:
        out.print_json(json.dumps(net.summary()))
    else:
        _print_network(net)
    if out_dir is not None:
        out.print(f"saved to {out_dir}")


@app.command()
def sample(
    out_file: Annotated[Path, typer.Option("--out", help="CAD export to write (.csv).")],
    osm: OsmOpt = None,
    network_dir: NetworkOpt = None,
    months: Annotated[int, typer.Option(help="Months of calls.", min=1)] = 12,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same file.")] = 1,
    start: Annotated[str, typer.Option(help="First month, YYYY-MM-DD.")] = "2025-01-01",
    calls_per_month: Annotated[
        int | None,
        typer.Option(help="Mean calls a month; by default 12.5 per km of named street.", min=1),
    ] = None,
) -> None:
    """Generate a synthetic CAD export on a network's real streets and addresses.

    The truth file (where each call really was) is written beside it as
    FILE.truth.csv.

    Example: cso-geo sample --osm helsinki --months 12 --seed 1 --out calls.csv
    """
    with _user_errors():
        net = _step(
            "Loading street network",
            lambda: pipeline.load_network(osm=osm, network_dir=network_dir),
        )
        cad_path, truth_path = _step(
            "Generating calls",
            lambda: pipeline.make_sample(
                net,
                out_file,
                months=months,
                seed=seed,
                start=start,
                calls_per_month=calls_per_month,
            ),
        )
    out.print(f"wrote {cad_path} and {truth_path}")


ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="Column profile: a built-in name (cso_geo_sample, sf_police) or a TOML file.",
    ),
]
AddressCol = Annotated[str | None, typer.Option("--address-col", help="Address column.")]
IdCol = Annotated[str | None, typer.Option("--id-col", help="Incident id column.")]
TimeCol = Annotated[str | None, typer.Option("--time-col", help="Received date-time column.")]
TypeCol = Annotated[str | None, typer.Option("--type-col", help="Call-type code column.")]
XCol = Annotated[str | None, typer.Option("--x-col", help="X / longitude column.")]
YCol = Annotated[str | None, typer.Option("--y-col", help="Y / latitude column.")]
CrsOpt = Annotated[str | None, typer.Option("--crs", help="CRS of --x-col/--y-col.")]
DayFirstOpt = Annotated[
    bool | None,
    typer.Option("--dayfirst/--monthfirst", help="Order of numeric dates like 01/02/2025."),
]
DateFormatOpt = Annotated[
    str | None, typer.Option("--date-format", help="strftime format of the dates.")
]


def _columns(**flags: str | bool | None) -> ingest.ColumnMap | None:
    """A column map from the CLI's column flags, or None when none was given."""
    given = {k: v for k, v in flags.items() if v is not None and v != ""}
    return ingest.ColumnMap.from_dict(given, source="command-line flags") if given else None


@app.command("ingest")
def ingest_cmd(
    input_file: Annotated[Path, typer.Argument(help="CAD/RMS export: CSV, Parquet, GPKG.")],
    out_file: Annotated[
        Path, typer.Option("--out", help="Accepted rows: .csv, .parquet or .gpkg.")
    ],
    profile: ProfileOpt = None,
    address_col: AddressCol = None,
    id_col: IdCol = None,
    time_col: TimeCol = None,
    type_col: TypeCol = None,
    x_col: XCol = None,
    y_col: YCol = None,
    crs: CrsOpt = None,
    dayfirst: DayFirstOpt = None,
    date_format: DateFormatOpt = None,
) -> None:
    """Read a CAD export into the canonical table; rejected rows go to quarantine.

    Writes OUT, OUT's .quarantine.csv and .ingest.json beside it, and prints
    read = accepted + quarantined.

    Example: cso-geo ingest calls.csv --profile sf_police --out calls.parquet
    """
    with _user_errors():
        columns = _columns(
            address=address_col,
            incident_id=id_col,
            received_at=time_col,
            call_type_code=type_col,
            x=x_col,
            y=y_col,
            crs=crs,
            dayfirst=dayfirst,
            format=date_format,
        )
        result, paths = _step(
            "Reading incidents",
            lambda: pipeline.ingest_file(input_file, out_file, profile=profile, columns=columns),
        )
    s = result.summary()
    out.print(f"read {s['read']:,} = accepted {s['accepted']:,} + quarantined {s['quarantined']:,}")
    for reason, n in s["by_reason"].items():
        out.print(f"  quarantined {reason}: {n:,}")
    if s["unmapped_types"]:
        out.print(f"  {s['unmapped_types']} unmapped call types ({s['unmapped_rows']:,} rows)")
    for label, path in paths.items():
        out.print(f"{label}: {path}")


@app.command("geocode")
def geocode_cmd(
    input_file: Annotated[Path, typer.Argument(help="CAD/RMS export: CSV, Parquet, GPKG.")],
    out_file: Annotated[Path, typer.Option("--out", help="Geocoded incidents (.gpkg).")],
    osm: OsmOpt = None,
    network_dir: NetworkOpt = None,
    profile: ProfileOpt = None,
    address_col: AddressCol = None,
    id_col: IdCol = None,
    time_col: TimeCol = None,
    type_col: TypeCol = None,
    x_col: XCol = None,
    y_col: YCol = None,
    crs: CrsOpt = None,
    dayfirst: DayFirstOpt = None,
    date_format: DateFormatOpt = None,
    centerline: Annotated[
        Path | None,
        typer.Option("--centerline", help="Agency street centerlines with address ranges."),
    ] = None,
) -> None:
    """Geocode a CAD export offline against the area's OpenStreetMap data.

    Writes OUT, the quarantine (OUT stem + .quarantine.csv) and a JSON match
    report (OUT stem + .report.json), and prints the hit rates.

    Example: cso-geo geocode calls.csv --osm helsinki --out calls.gpkg
    """
    with _user_errors():
        columns = _columns(
            address=address_col,
            incident_id=id_col,
            received_at=time_col,
            call_type_code=type_col,
            x=x_col,
            y=y_col,
            crs=crs,
            dayfirst=dayfirst,
            format=date_format,
        )
        net = _step(
            "Loading street network",
            lambda: pipeline.load_network(osm=osm, network_dir=network_dir),
        )
        _, report, paths = _step(
            "Geocoding",
            lambda: pipeline.geocode_file(
                input_file,
                out_file,
                network=net,
                profile=profile,
                columns=columns,
                centerline=centerline,
            ),
        )
    _print_match_report(report)
    for label, path in paths.items():
        out.print(f"{label}: {path}")


def _print_match_report(report: dict[str, Any]) -> None:
    ing, match = report["ingest"], report["match"]
    out.print(
        f"read {ing['read']:,} = accepted {ing['accepted']:,} + quarantined {ing['quarantined']:,}"
    )
    table = Table(title="Geocoding")
    table.add_column("match type")
    table.add_column("rows", justify="right")
    for kind, n in match["by_match_type"].items():
        table.add_row(kind, f"{n:,}")
    out.print(table)
    out.print(
        f"hit rate {match['hit_rate']:.1%} of all rows, "
        f"{match['hit_rate_locatable']:.1%} of {match['locatable_rows']:,} locatable rows"
    )
    if match["top_unmatched"]:
        top = ", ".join(f"{u['address']!r} ({u['count']})" for u in match["top_unmatched"][:5])
        out.print(f"top unmatched: {_esc(top)}")


UnitLength = Annotated[
    float, typer.Option("--unit-length", help="Street unit length in metres.", min=5)
]
Bandwidth = Annotated[
    float, typer.Option("--bandwidth", help="Network smoothing bandwidth in metres (0 = none).")
]
HalfLife = Annotated[
    float, typer.Option("--half-life", help="Recency half-life in days (0 = no decay).")
]
WeightBy = Annotated[
    str,
    typer.Option(
        "--weight-by",
        help="What each call weighs: 'calls' (one each), 'service_minutes' (workload), or any "
        "numeric column of the input.",
    ),
]
Damping = Annotated[
    str,
    typer.Option(
        "--damping",
        help="How each month's calls on a unit add up: sqrt (a one-month burst counts less "
        "than the same calls spread over months), log1p, or none.",
    ),
]


def _params(
    bandwidth: float,
    half_life: float,
    cell_size: float,
    weight_by: str = "calls",
    damping: str = "sqrt",
) -> hotspots.MethodParams:
    return hotspots.MethodParams(
        bandwidth=bandwidth,
        half_life_days=half_life or None,
        weight_by=None if weight_by in {"calls", "none", ""} else weight_by,
        damping=damping,
        kde_bandwidth=bandwidth if bandwidth > 0 else hotspots.MethodParams().kde_bandwidth,
        cell_size=cell_size,
    )


@app.command("hotspots")
def hotspots_cmd(
    geocoded: Annotated[Path, typer.Argument(help="Geocoded incidents from `cso-geo geocode`.")],
    out_file: Annotated[Path, typer.Option("--out", help="Hotspots to write (.gpkg).")],
    osm: OsmOpt = None,
    network_dir: NetworkOpt = None,
    method: Annotated[
        str,
        typer.Option(
            "--method", help="segment, naive, counts, kde, naive_grid, gistar or hdbscan."
        ),
    ] = "segment",
    category: Annotated[
        list[str] | None, typer.Option("--category", help="Keep this category (repeatable).")
    ] = None,
    shift: Annotated[
        str | None, typer.Option("--shift", help="Time of day, HH:MM-HH:MM (may wrap midnight).")
    ] = None,
    start: Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD.")] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Day after the last, YYYY-MM-DD.")
    ] = None,
    day: Annotated[
        list[str] | None,
        typer.Option(
            "--day", help="Keep these days of the week: mon..sun, weekdays, weekend (repeatable)."
        ),
    ] = None,
    coverage: Annotated[
        float, typer.Option("--coverage", help="Share of street length (or area) to flag.")
    ] = 0.05,
    unit_length: UnitLength = 100.0,
    bandwidth: Bandwidth = 0.0,
    half_life: HalfLife = 180.0,
    weight_by: WeightBy = "calls",
    damping: Damping = "sqrt",
    cell_size: Annotated[float, typer.Option("--cell-size", help="Grid cell in metres.")] = 150.0,
    rank_by: Annotated[
        str,
        typer.Option(
            "--rank-by",
            help="metre: risk per metre of street (most calls per length flagged); segment: "
            "each unit's whole risk (longer troubled stretches first).",
        ),
    ] = "metre",
    tuned: Annotated[
        bool | None,
        typer.Option(
            "--tuned/--no-tuned",
            help="Choose unit length, bandwidth, half-life, damping and weighting (or the "
            "naive baseline) by backtest on the incidents' own history. On by default for "
            "--method segment, so the default never does worse than the naive baseline; "
            "--no-tuned uses --unit-length, --bandwidth, --half-life, --damping and "
            "--weight-by as given.",
        ),
    ] = None,
) -> None:
    """Find quality-of-life hotspots on street segments or a grid.

    Each hotspot carries its rank, score, counts by category, top call types,
    hour x weekday profile, peak hours, first/last seen and trend class.

    Example: cso-geo hotspots calls.gpkg --osm helsinki --category noise
    --shift 20:00-04:00 --out noise.gpkg
    """
    with _user_errors():
        net = _step(
            "Loading street network",
            lambda: pipeline.load_network(osm=osm, network_dir=network_dir),
        )
        found, path = _step(
            "Finding hotspots",
            lambda: pipeline.hotspots_file(
                geocoded,
                out_file,
                network=net,
                method=method,
                categories=category,
                shift=shift,
                start=start,
                end=end,
                days=hotspots.parse_weekdays(day) if day else None,
                unit_length=unit_length,
                coverage=coverage,
                params=_params(bandwidth, half_life, cell_size, weight_by, damping),
                tuned=(method == "segment") if tuned is None else tuned,
                rank_by=rank_by,
            ),
        )
    if "tuning" in found.attrs:
        tuning = found.attrs["tuning"]
        out.print(
            f"tuned on history ({', '.join(tuning['cuts'])}): chose {tuning['chosen']} with "
            f"PAI@{tuning['coverage']:.0%} {tuning['score']:.2f} vs naive "
            f"{tuning['naive_score']:.2f}"
            + ("" if tuning["beats_naive"] else " (nothing beat the naive baseline: using it)")
        )
    table = Table(title=f"Top hotspots ({found.attrs.get('method', method)})")
    for col in ("rank", "count", "top call types", "peak hours", "trend", "where"):
        table.add_column(col)
    for row in found.head(10).itertuples():
        where = getattr(row, "name", "") or f"cell {row.unit_id}"
        table.add_row(
            str(row.rank),
            f"{row.count:,}",
            _esc(row.top_call_types),
            row.peak_hours,
            row.trend,
            _esc(where),
        )
    out.print(table)
    out.print(f"{len(found):,} hotspots written to {path}")


@app.command("evaluate")
def evaluate_cmd(
    geocoded: Annotated[Path, typer.Argument(help="Geocoded incidents from `cso-geo geocode`.")],
    cut: Annotated[str, typer.Option("--cut", help="Last cut date, YYYY-MM-DD.")],
    osm: OsmOpt = None,
    network_dir: NetworkOpt = None,
    cuts: Annotated[int, typer.Option("--cuts", help="How many cut dates.", min=1)] = 3,
    horizon: Annotated[str, typer.Option("--horizon", help="Test period, e.g. 30D.")] = "30D",
    coverage: Annotated[
        str, typer.Option("--coverage", help="Coverage levels, comma-separated.")
    ] = "0.01,0.05,0.10",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the full report as JSON.")
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Without a network: read GEOCODED as an export with coordinates, with this "
            "column profile (e.g. sf_police).",
        ),
    ] = None,
    unit_length: UnitLength = 100.0,
    bandwidth: Bandwidth = 0.0,
    half_life: HalfLife = 180.0,
    weight_by: WeightBy = "calls",
    damping: Damping = "sqrt",
    cell_size: Annotated[float, typer.Option("--cell-size", help="Grid cell in metres.")] = 150.0,
) -> None:
    """Backtest the hotspot methods against the naive baseline (PAI, PEI, RRI).

    Without --osm/--network only the grid methods run, on any export that
    carries coordinates (read with --profile).

    Example: cso-geo evaluate calls.gpkg --osm helsinki --cut 2025-12-01
    --cuts 3 --horizon 30D --json eval.json

    Example: cso-geo evaluate sf.csv --profile sf_police --cut 2016-04-01 --cuts 2
    """
    with _user_errors():
        levels = _parse_floats(coverage, "--coverage")
        net = (
            None
            if osm is None and network_dir is None
            else _step(
                "Loading street network",
                lambda: pipeline.load_network(osm=osm, network_dir=network_dir),
            )
        )
        report = _step(
            "Backtesting",
            lambda: pipeline.evaluate_file(
                geocoded,
                network=net,
                cut=cut,
                cuts=cuts,
                horizon=horizon,
                coverages=levels,
                unit_length=unit_length,
                params=_params(bandwidth, half_life, cell_size, weight_by, damping),
                json_out=json_out,
                profile=profile,
            ),
        )
    _print_backtest(report)
    if json_out is not None:
        out.print(f"report written to {json_out}")


def _print_backtest(report: dict[str, Any]) -> None:
    key = 0.05 if 0.05 in report["coverages"] else report["coverages"][0]
    table = Table(
        title=f"Backtest, cuts {', '.join(report['cuts'])}, "
        f"{report['horizon_days']}-day horizon, {key:.0%} coverage"
    )
    for col in ("method", "basis", "hit", "PAI", "PEI", "RRI"):
        table.add_column(col, justify="left" if col in {"method", "basis"} else "right")
    for name, r in report["methods"].items():
        rri = r.get("rri")
        table.add_row(
            name,
            r["basis"],
            f"{r[f'hit@{key:g}']:.3f}",
            f"{r[f'pai@{key:g}']:.2f}",
            f"{r[f'pei@{key:g}']:.2f}",
            "-" if rri is None else f"{rri:.2f}",
        )
    out.print(table)


@app.command("routes")
def routes_cmd(
    beats_file: Annotated[
        Path, typer.Option("--beats", help="Beats (.gpkg, layer 'beats' with beat_id).")
    ],
    hotspots_file: Annotated[
        Path, typer.Option("--hotspots", help="Hotspots from `cso-geo hotspots` (.gpkg).")
    ],
    shift: Annotated[
        str, typer.Option("--shift", help="'YYYY-MM-DD HH:MM-HH:MM' (may wrap past midnight).")
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the route files.")],
    osm: OsmOpt = None,
    network_dir: NetworkOpt = None,
    beat: Annotated[str, typer.Option("--beat", help="A beat_id, or 'all'.")] = "all",
    mode: Annotated[str, typer.Option("--mode", help="foot or drive.")] = "foot",
    start: Annotated[
        str | None, typer.Option("--start", help="Start LON,LAT (default: the beat's centre).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="End LON,LAT (default: the start).")
    ] = None,
    dwell: Annotated[
        float, typer.Option("--dwell", help="Minutes at each hotspot (10-16).")
    ] = 15.0,
    coverage: Annotated[
        bool, typer.Option("--coverage", help="Walk every street of the beat (foot only).")
    ] = False,
    breaks: Annotated[
        list[str] | None,
        typer.Option("--break", help="A break as HH:MM/MINUTES, e.g. 12:00/30 (repeatable)."),
    ] = None,
    shift_hours_only: Annotated[
        bool,
        typer.Option("--shift-hours-only", help="Only hotspots with calls in the shift's hours."),
    ] = False,
    avoid_street: Annotated[
        list[str] | None, typer.Option("--avoid-street", help="Street name to avoid (repeatable).")
    ] = None,
    require_street: Annotated[
        list[str] | None,
        typer.Option("--require-street", help="Street name to visit (repeatable)."),
    ] = None,
    avoid_area: Annotated[
        Path | None,
        typer.Option("--avoid-area", help="Polygon file (GeoJSON, .gpkg) of areas to avoid."),
    ] = None,
    require_area: Annotated[
        Path | None,
        typer.Option("--require-area", help="Polygon file of areas the tour must visit."),
    ] = None,
    revisit_every: Annotated[
        float,
        typer.Option("--revisit-every", help="Minutes between revisits of top hotspots (0: off)."),
    ] = 120.0,
    seed: Annotated[int, typer.Option("--seed", help="Solver seed (same seed, same route).")] = 0,
    reserve: Annotated[
        str,
        typer.Option(
            "--reserve",
            help="Minutes of the shift kept free for calls: 'auto' (the beat's expected call "
            "workload in the shift, from the beats file) or a number.",
        ),
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summaries as JSON.")] = False,
) -> None:
    """Plan foot or vehicle patrol routes per beat for one shift.

    Writes per route <route_id>.geojson, .gpx, .html (printable sheet) and
    .json (summary), and routes.json with all summaries.

    Example: cso-geo routes --beats beats.gpkg --hotspots hotspots.gpkg --osm helsinki
    --beat all --shift "2025-12-01 08:00-16:00" --mode foot --out routes/
    """
    with _user_errors():
        start_pt = _lonlat(start, "--start")
        end_pt = _lonlat(end, "--end")
        break_list = [routes.parse_break(b) for b in breaks or []]
        net = _step(
            "Loading street network",
            lambda: pipeline.load_network(osm=osm, network_dir=network_dir),
        )
        summaries = _step(
            "Planning routes",
            lambda: pipeline.routes_file(
                beats_file,
                hotspots_file,
                out_dir,
                network=net,
                shift=shift,
                beat=beat,
                mode=mode,
                start=start_pt,
                end=end_pt,
                dwell=dwell,
                coverage=coverage,
                breaks=break_list,
                shift_hours_only=shift_hours_only,
                avoid_streets=avoid_street or [],
                require_streets=require_street or [],
                avoid_areas=avoid_area,
                require_areas=require_area,
                revisit_every=revisit_every,
                seed=seed,
                reserve=reserve,
            ),
        )
    if as_json:
        out.print_json(json.dumps(summaries))
        return
    table = Table(title=f"Routes for {shift} ({mode})")
    for col in ("route", "stops", "km", "min", "risk covered", "feasible"):
        table.add_column(col, justify="left" if col == "route" else "right")
    for s in summaries:
        n_stops = sum(1 for st in s.get("stops", []) if st["kind"] == "stop")
        table.add_row(
            _esc(s["route_id"]),
            str(n_stops),
            f"{s.get('distance_km', 0.0):.1f}",
            f"{s.get('duration_min', 0.0):.0f}",
            f"{s.get('risk_covered', 0.0):.3g} / {s.get('risk_available', 0.0):.3g}",
            "yes" if s["feasible"] else "no",
        )
    out.print(table)
    for s in summaries:
        for w in s.get("warnings", []):
            console.print(
                f"[yellow]{rich.markup.escape(s['route_id'])}:[/] {rich.markup.escape(w)}"
            )
    out.print(f"{len(summaries)} routes written to {out_dir}")


def _lonlat(text: str | None, flag: str) -> tuple[float, float] | None:
    if text is None:
        return None
    values = _parse_floats(text, flag)
    if len(values) != 2:
        msg = f"{flag} takes LON,LAT (two numbers), not {text!r}."
        raise ValueError(msg)
    return values[0], values[1]


@app.command("beats")
def beats_cmd(
    geocoded: Annotated[Path, typer.Argument(help="Geocoded incidents from `cso-geo geocode`.")],
    out_file: Annotated[Path, typer.Option("--out", help="Beats to write (.gpkg).")],
    n: Annotated[int, typer.Option("--n", help="Number of beats.")] = 6,
    osm: OsmOpt = None,
    network_dir: NetworkOpt = None,
    shift: Annotated[
        str | None,
        typer.Option("--shift", help="Balance only this time of day, HH:MM-HH:MM."),
    ] = None,
    existing: Annotated[
        Path | None,
        typer.Option("--existing", help="Today's beats (GeoPackage/GeoJSON polygons) to compare."),
    ] = None,
    station: Annotated[
        str | None,
        typer.Option("--station", help="LON,LAT of a station every beat must reach."),
    ] = None,
    max_minutes: Annotated[
        float | None, typer.Option("--max-minutes", help="Time limit from --station.")
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="foot or vehicle, for --max-minutes.")
    ] = "vehicle",
    method: Annotated[
        str, typer.Option("--method", help="auto, power, pmedian, grow or skater.")
    ] = "auto",
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    unit_length: Annotated[
        float, typer.Option("--unit-length", help="Longest street unit in metres.")
    ] = 50.0,
    exposure: Annotated[
        float,
        typer.Option(
            "--exposure-minutes-per-km",
            min=0.0,
            help="Patrol minutes per street km added to the workload (over the whole "
            "incident period), so long quiet streets count too.",
        ),
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Split the area into N contiguous, compact beats of equal workload.

    Writes layers `beats` and `units` to --out and a JSON summary beside it
    (imbalance, contiguity, compactness, workload per beat, a k-means baseline).

    Example: cso-geo beats calls.gpkg --network net/ --n 6 --out beats.gpkg
    """
    with _user_errors():
        lonlat = _lonlat(station, "--station")
        net = _step(
            "Loading street network",
            lambda: pipeline.load_network(osm=osm, network_dir=network_dir),
        )
        plan, paths = _step(
            "Building beats",
            lambda: pipeline.beats_file(
                geocoded,
                out_file,
                network=net,
                n=n,
                shift=shift,
                existing=existing,
                station=lonlat,
                max_minutes=max_minutes,
                mode=mode,
                method=method,
                seed=seed,
                unit_length=unit_length,
                exposure_minutes_per_km=exposure,
            ),
        )
    if as_json:
        out.print_json(json.dumps(plan.summary))
        return
    used = plan.summary["method"]
    table = Table(title=f"{n} beats ({used}), imbalance {plan.summary['imbalance']:.1%}")
    for col in ("beat", "workload min", "street km", "units", "Polsby-Popper", "max km", "contig"):
        table.add_column(col)
    for row in plan.beats.itertuples():
        table.add_row(
            str(row.beat_id),
            f"{row.workload:,.0f}",
            f"{row.street_km:.1f}",
            str(row.units),
            f"{row.polsby_popper:.2f}",
            f"{row.max_network_km:.2f}",
            "yes" if row.contiguous else "NO",
        )
    out.print(table)
    base = plan.summary["baseline"]
    out.print(
        f"k-means baseline: imbalance {base['imbalance']:.1%}, mean Polsby-Popper "
        f"{base['mean_polsby_popper']:.2f} (proposed {plan.summary['mean_polsby_popper']:.2f}), "
        f"max network km {base['max_network_km']:.2f} (proposed "
        f"{plan.summary['max_network_km']:.2f}), all contiguous: {base['all_contiguous']}"
    )
    if "existing" in plan.summary:
        ex = plan.summary["existing"]
        out.print(
            f"existing beats: imbalance {ex['imbalance']:.1%}, mean Polsby-Popper "
            f"{ex['mean_polsby_popper']:.2f}; units changed: {plan.summary['units_changed']:,}"
        )
    out.print(f"beats written to {paths['beats']} and {paths['summary']}")


@app.command("assign")
def assign_cmd(
    beats_path: Annotated[Path, typer.Option("--beats", help="Beats from `cso-geo beats`.")],
    roster: Annotated[Path, typer.Option("--roster", help="Roster CSV: cso_id,shift,mode,skills.")],
    shift: Annotated[str, typer.Option("--shift", help="The shift, HH:MM-HH:MM.")],
    out_file: Annotated[Path, typer.Option("--out", help="Assignments to write (.csv).")],
    max_per_beat: Annotated[int, typer.Option("--max-per-beat", help="Most CSOs on one beat.")] = 2,
) -> None:
    """Assign the CSOs of one shift to beats, busiest beats first.

    Example: cso-geo assign --beats beats.gpkg --roster roster.csv
    --shift 08:00-16:00 --out assignments.csv
    """
    with _user_errors():
        table, summary, paths = pipeline.assign_file(
            beats_path, roster, out_file, shift=shift, max_per_beat=max_per_beat
        )
    view = Table(title=f"Shift {shift}: {summary['assigned']} of {summary['csos']} CSOs assigned")
    for col in ("cso", "mode", "beat", "expected min", "skills"):
        view.add_column(col)
    for row in table.itertuples():
        beat = str(row.beat_id) if row.status == "assigned" else ""
        view.add_row(
            _esc(row.cso_id), _esc(row.mode), _esc(beat), f"{row.expected_workload:.0f}",
            _esc(row.skills),
        )  # fmt: skip
    out.print(view)
    uncovered = summary["uncovered_beats"]
    out.print(
        f"uncovered beats: {_esc(', '.join(map(str, uncovered))) if uncovered else 'none'}; "
        f"written to {paths['assignments']} and {paths['summary']}"
    )
    for w in summary.get("warnings", []):
        console.print(f"[yellow]warning:[/] {rich.markup.escape(w)}")


def _print_run(result: dict[str, Path], title: str) -> None:
    backtest = result.get("backtest")
    if backtest is not None and backtest.exists():
        _print_backtest(json.loads(backtest.read_text(encoding="utf-8")))
    table = Table(title=title)
    table.add_column("output")
    table.add_column("path", overflow="fold")
    for label, path in result.items():
        table.add_row(label, str(path))
    out.print(table)


@app.command()
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for data outputs (maps go to --maps).")
    ] = Path("out"),
    maps_dir: Annotated[Path, typer.Option("--maps", help="Folder for maps.")] = Path("maps"),
) -> None:
    """Run the whole pipeline on the bundled sample city (central Helsinki).

    This is `cso-geo run` with the bundled configuration: geocoded calls,
    backtested hotspots, 6 beats, a roster assignment, routes with GPX and
    route sheets for every beat, the analyst, community, supervisor and shift
    maps, and the monthly report.

    Example: cso-geo demo
    """
    with _user_errors():
        result = pipeline.run_demo(out_dir=out_dir, maps_dir=maps_dir, progress=_report)
    _print_run(result, "cso-geo demo outputs")


@app.command()
def run(
    config_file: Annotated[
        Path, typer.Option("--config", help="Run configuration (TOML; `cso-geo init` writes one).")
    ],
) -> None:
    """Run the whole pipeline on your agency's own inputs, as set in a configuration.

    Writes what `cso-geo demo` writes: geocoded calls with quarantine and
    match report, backtest, hotspots, beats, assignments, routes, maps and
    the monthly report.

    Example: cso-geo init agency.toml && cso-geo run --config agency.toml
    """
    with _user_errors():
        cfg = config.load_config(config_file)
        result = pipeline.run_pipeline(cfg, progress=_report)
    _print_run(result, f"cso-geo run {config_file} outputs")


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the configuration.")] = Path(
        "agency.toml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter configuration for `cso-geo run --config`.

    Example: cso-geo init agency.toml
    """
    with _user_errors():
        written = config.write_starter(path, overwrite=force)
    out.print(f"starter configuration written to {written}; edit it, then run:")
    out.print(f"  cso-geo run --config {written}")


def _report(stage: str, detail: dict[str, Any]) -> None:
    text = ", ".join(
        f"{k}={'yes' if v else 'no'}"
        if isinstance(v, bool)
        else (f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}")
        for k, v in detail.items()
    )
    console.print(f"[green]✓[/] {stage}: {text}", highlight=False)


def _parse_floats(text: str, flag: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        msg = f"{flag} takes numbers separated by commas, not {text!r}."
        raise ValueError(msg) from None


# --- maps and the monthly report -----------------------------------------------------------------

map_app = typer.Typer(
    help="Interactive maps (self-contained HTML): analyst, supervisor and CSO shift maps.",
    no_args_is_help=True,
)
app.add_typer(map_app, name="map")

MapOut = Annotated[Path, typer.Option("--out", help="Map page to write (.html).")]
PublicOpt = Annotated[
    bool,
    typer.Option(
        "--public",
        help="For residents: no incident points, addresses or CSO names; counts on hexagons "
        f"and hotspots with at least {PUBLIC_MIN_COUNT} calls.",
    ),
]
OfflineOpt = Annotated[
    bool,
    typer.Option(
        "--offline/--online",
        help="Offline (default): every script inlined, no tiles. Online: CDN links and "
        "optional OpenStreetMap tiles.",
    ),
]
HotspotsOpt = Annotated[
    Path | None, typer.Option("--hotspots", help="Hotspots from `cso-geo hotspots` (.gpkg).")
]


def _map(kind: str, out_file: Path, osm: str | None, network_dir: Path | None, **kw: Any) -> None:
    with _user_errors():
        net = (
            _step(
                "Loading street network",
                lambda: pipeline.load_network(osm=osm, network_dir=network_dir),
            )
            if osm is not None or network_dir is not None
            else None
        )
        path = _step(
            f"Drawing the {kind} map",
            lambda: pipeline.map_file(kind, out_file, network=net, **kw),
        )
    size = path.stat().st_size / 1e6
    out.print(
        f"{kind} map written to {path} ({size:.1f} MB, {'offline' if kw['offline'] else 'online'})"
    )


@map_app.command("analyst")
def map_analyst(
    geocoded: Annotated[Path, typer.Argument(help="Geocoded incidents from `cso-geo geocode`.")],
    out_file: MapOut,
    network_dir: NetworkOpt = None,
    osm: OsmOpt = None,
    hotspots_file: HotspotsOpt = None,
    public: PublicOpt = False,
    offline: OfflineOpt = True,
) -> None:
    """Calls per hexagon (with time-of-day layers), incident clusters and hotspots by
    method and category, coloured by trend.

    Example: cso-geo map analyst calls.gpkg --network net/ --out analyst.html
    """
    _map(
        "analyst",
        out_file,
        osm,
        network_dir,
        geocoded=geocoded,
        hotspots=hotspots_file,
        public=public,
        offline=offline,
    )


@map_app.command("supervisor")
def map_supervisor(
    beats_file: Annotated[Path, typer.Option("--beats", help="Beats from `cso-geo beats`.")],
    out_file: MapOut,
    assignments: Annotated[
        Path | None, typer.Option("--assignments", help="Assignments CSV from `cso-geo assign`.")
    ] = None,
    hotspots_file: HotspotsOpt = None,
    network_dir: NetworkOpt = None,
    osm: OsmOpt = None,
    public: PublicOpt = False,
    offline: OfflineOpt = True,
) -> None:
    """Beats coloured by workload with their CSOs, and the hotspots on top.

    Example: cso-geo map supervisor --beats beats.gpkg --assignments assignments.csv
    --out supervisor.html
    """
    _map(
        "supervisor",
        out_file,
        osm,
        network_dir,
        beats=beats_file,
        assignments=assignments,
        hotspots=hotspots_file,
        public=public,
        offline=offline,
    )


@map_app.command("shift")
def map_shift(
    route: Annotated[
        Path,
        typer.Option("--route", help="A route from `cso-geo routes` (.geojson, or its folder)."),
    ],
    out_file: MapOut,
    network_dir: NetworkOpt = None,
    osm: OsmOpt = None,
    public: PublicOpt = False,
    offline: OfflineOpt = True,
) -> None:
    """One CSO's route: numbered stops with times and reasons, directions in a side panel.

    Example: cso-geo map shift --route routes/beat-3_2025-12-01_0800-1600_foot.geojson
    --out shift.html
    """
    _map("shift", out_file, osm, network_dir, route=route, public=public, offline=offline)


@app.command("report")
def report_cmd(
    geocoded: Annotated[Path, typer.Argument(help="Geocoded incidents from `cso-geo geocode`.")],
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the report into.")],
    network_dir: NetworkOpt = None,
    osm: OsmOpt = None,
    hotspots_file: HotspotsOpt = None,
    beats_file: Annotated[
        Path | None, typer.Option("--beats", help="Beats from `cso-geo beats`.")
    ] = None,
    backtest: Annotated[
        Path | None, typer.Option("--backtest", help="backtest.json from `cso-geo evaluate`.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Monthly hotspot report for command staff: one self-contained HTML page with charts.

    Example: cso-geo report calls.gpkg --month 2025-11 --osm helsinki --out reports/
    """
    with _user_errors():
        net = (
            _step(
                "Loading street network",
                lambda: pipeline.load_network(osm=osm, network_dir=network_dir),
            )
            if osm is not None or network_dir is not None
            else None
        )
        rep, paths = _step(
            f"Writing the report of {month}",
            lambda: pipeline.report_file(
                geocoded,
                month,
                out_dir,
                network=net,
                hotspots=hotspots_file,
                beats=beats_file,
                backtest=backtest,
            ),
        )
    if as_json:
        out.print_json(json.dumps(rep.data))
        return
    calls = rep.data["calls"]
    change = calls["change_vs_previous_pct"]
    out.print(
        f"{month}: {calls['total']:,} calls"
        + ("" if change is None else f" ({change:+.1f}% vs previous month)")
    )
    out.print(f"report written to {paths['html']}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
