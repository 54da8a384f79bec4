"""Street-name keys: one folding for CAD strings and OSM names alike."""

from __future__ import annotations

import pytest

from cso_geo.streetnames import abbreviate, fold_accents, infer_block_size, street_key


@pytest.mark.parametrize(
    ("names", "full"),
    [
        (["East Pratt Street", "E. PRATT ST", "e pratt st", "EAST PRATT STREET"], "E PRATT ST"),
        (["Saint Paul Street", "ST PAUL ST", "St. Paul St"], "SAINT PAUL ST"),
        (["19th Avenue", "19 AV", "Nineteenth Avenue", "19TH AVE"], "19TH AVE"),
        (["Shafter Avenue", "SHAFTER AV"], "SHAFTER AVE"),
        (["Sunset Boulevard", "SUNSET BL", "Sunset Blvd"], "SUNSET BLVD"),
        (["O'Farrell Street", "OFARRELL ST"], "OFARRELL ST"),
        (["José Martí Avenue", "JOSE MARTI AVE"], "JOSE MARTI AVE"),
        (["Töölönkatu", "TOOLONKATU", "Toolonkatu"], "TOOLONKATU"),
        (["Main Street North", "MAIN ST N"], "MAIN ST N"),
    ],
)
def test_same_street_same_key(names: list[str], full: str) -> None:
    assert {street_key(n).full for n in names} == {full}


def test_key_parts() -> None:
    k = street_key("South Van Ness Avenue")
    assert (k.prefix_dir, k.base, k.suffix, k.suffix_dir) == ("S", "VAN NESS", "AVE", "")
    assert k.no_dir == "VAN NESS AVE"
    assert k.no_suffix == "S VAN NESS"
    # a street called North: the directional is the name
    assert street_key("North Avenue").base == "NORTH"
    assert street_key("").full == ""


def test_abbreviate_and_fold() -> None:
    assert abbreviate("East Pratt Street") == "E PRATT ST"
    assert abbreviate("North Avenue") == "NORTH AVE"
    assert fold_accents("Töölönlahdenkatu") == "Toolonlahdenkatu"


def test_block_size() -> None:
    assert infer_block_size([1, 2, 3, 40, 120]) == 10
    assert infer_block_size([100, 250, 800, 1200, 2209]) == 100
    assert infer_block_size([]) == 10
