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

from cso_geo import __version__, hotspots, ingest, pipeline
from cso_geo._errors import CsoGeoError
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
    calls_per_month: Annotated[int, typer.Option(help="Mean calls a month.", min=1)] = 2500,
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
        out.print(f"top unmatched: {top}")


UnitLength = Annotated[
    float, typer.Option("--unit-length", help="Street unit length in metres.", min=5)
]
Bandwidth = Annotated[
    float, typer.Option("--bandwidth", help="Network smoothing bandwidth in metres (0 = none).")
]
HalfLife = Annotated[
    float, typer.Option("--half-life", help="Recency half-life in days (0 = no decay).")
]


def _params(bandwidth: float, half_life: float, cell_size: float) -> hotspots.MethodParams:
    return hotspots.MethodParams(
        bandwidth=bandwidth,
        half_life_days=half_life or None,
        kde_bandwidth=bandwidth if bandwidth > 0 else cell_size / 2,
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
    coverage: Annotated[
        float, typer.Option("--coverage", help="Share of street length (or area) to flag.")
    ] = 0.05,
    unit_length: UnitLength = 100.0,
    bandwidth: Bandwidth = 150.0,
    half_life: HalfLife = 90.0,
    cell_size: Annotated[float, typer.Option("--cell-size", help="Grid cell in metres.")] = 150.0,
    tuned: Annotated[
        bool,
        typer.Option(
            "--tuned",
            help="Choose unit length, bandwidth and half-life (or the naive baseline) by "
            "backtest on the incidents' own history.",
        ),
    ] = False,
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
                unit_length=unit_length,
                coverage=coverage,
                params=_params(bandwidth, half_life, cell_size),
                tuned=tuned,
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
            row.top_call_types,
            row.peak_hours,
            row.trend,
            str(where),
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
    unit_length: UnitLength = 100.0,
    bandwidth: Bandwidth = 150.0,
    half_life: HalfLife = 90.0,
    cell_size: Annotated[float, typer.Option("--cell-size", help="Grid cell in metres.")] = 150.0,
) -> None:
    """Backtest the hotspot methods against the naive baseline (PAI, PEI, RRI).

    Example: cso-geo evaluate calls.gpkg --osm helsinki --cut 2025-12-01
    --cuts 3 --horizon 30D --json eval.json
    """
    with _user_errors():
        levels = _parse_floats(coverage, "--coverage")
        net = _step(
            "Loading street network",
            lambda: pipeline.load_network(osm=osm, network_dir=network_dir),
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
                params=_params(bandwidth, half_life, cell_size),
                json_out=json_out,
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


@app.command()
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for data outputs (maps go to --maps).")
    ] = Path("out"),
    maps_dir: Annotated[Path, typer.Option("--maps", help="Folder for maps.")] = Path("maps"),
) -> None:
    """Run the whole pipeline on the bundled sample city (central Helsinki).

    Example: cso-geo demo
    """
    with _user_errors():
        result = pipeline.run_demo(out_dir=out_dir, maps_dir=maps_dir, progress=_report)
    table = Table(title="cso-geo demo outputs")
    table.add_column("output")
    table.add_column("path")
    for label, path in result.items():
        table.add_row(label, str(path))
    out.print(table)


def _report(stage: str, detail: dict[str, Any]) -> None:
    text = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in detail.items())
    console.print(f"[green]✓[/] {stage}: {text}", highlight=False)


def _parse_floats(text: str, flag: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        msg = f"{flag} takes numbers separated by commas, not {text!r}."
        raise ValueError(msg) from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
