"""The one place for street-name spelling: abbreviations, accents, case, keys.

The generator uses it to write names the way CAD operators type them, and the
geocoder to fold both sides of a match (the CAD string and the OSM name) to one
comparable key.

Why not a general address parser (usaddress, libpostal): CAD exports use a
handful of fixed forms (blocks, intersections, house numbers) that those
parsers were not trained on (usaddress splits ``800 BLOCK OF BRYANT ST`` into
a house number and a street called ``BLOCK OF BRYANT``), they are US-only or
need a 2 GB model, and the geocoder must run offline at 100k+ strings per
second. The forms are parsed in `cso_geo.geocode`; the name keys here follow
USPS Publication 28 abbreviations.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DIRECTIONALS",
    "SUFFIXES",
    "StreetKey",
    "abbreviate",
    "fold_accents",
    "infer_block_size",
    "street_key",
]

#: USPS Publication 28 street suffix abbreviations (full word -> abbreviation).
SUFFIXES: dict[str, str] = {
    "ALLEY": "ALY",
    "AVENUE": "AVE",
    "BOULEVARD": "BLVD",
    "CIRCLE": "CIR",
    "COURT": "CT",
    "DRIVE": "DR",
    "EXPRESSWAY": "EXPY",
    "HIGHWAY": "HWY",
    "LANE": "LN",
    "PARKWAY": "PKWY",
    "PLACE": "PL",
    "PLAZA": "PLZ",
    "ROAD": "RD",
    "SQUARE": "SQ",
    "STREET": "ST",
    "TERRACE": "TER",
    "WAY": "WAY",
}

#: Other spellings agencies use for the same suffixes (San Francisco writes AV, BL, WY, HY).
_SUFFIX_VARIANTS: dict[str, str] = {
    "AV": "AVE",
    "AVE": "AVE",
    "AVN": "AVE",
    "BL": "BLVD",
    "BLV": "BLVD",
    "BLVD": "BLVD",
    "WY": "WAY",
    "HY": "HWY",
    "HWY": "HWY",
    "TR": "TER",
    "TERR": "TER",
    "CR": "CIR",
    "PZ": "PLZ",
    "STR": "ST",
    "PKY": "PKWY",
    "EXWY": "EXPY",
}

#: USPS directional abbreviations.
DIRECTIONALS: dict[str, str] = {
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHEAST": "NE",
    "NORTHWEST": "NW",
    "SOUTHEAST": "SE",
    "SOUTHWEST": "SW",
}

_SUFFIX_ABBR: dict[str, str] = {
    **{v: v for v in SUFFIXES.values()},
    **SUFFIXES,
    **_SUFFIX_VARIANTS,
}
_DIR_ABBR: dict[str, str] = {**{v: v for v in DIRECTIONALS.values()}, **DIRECTIONALS}

_ORDINAL_WORDS = {
    "FIRST": 1,
    "SECOND": 2,
    "THIRD": 3,
    "FOURTH": 4,
    "FIFTH": 5,
    "SIXTH": 6,
    "SEVENTH": 7,
    "EIGHTH": 8,
    "NINTH": 9,
    "TENTH": 10,
    "ELEVENTH": 11,
    "TWELFTH": 12,
    "THIRTEENTH": 13,
    "FOURTEENTH": 14,
    "FIFTEENTH": 15,
    "SIXTEENTH": 16,
    "SEVENTEENTH": 17,
    "EIGHTEENTH": 18,
    "NINETEENTH": 19,
    "TWENTIETH": 20,
}
_ORDINAL = re.compile(r"^(\d+)(ST|ND|RD|TH)?$")
_NON_WORD = re.compile(r"[^A-Z0-9 ]+")
_NON_WORD_JOIN = re.compile(r"[^A-Z0-9 /&@]+")


def fold_accents(text: str) -> str:
    """Strip diacritics: ``"Töölönkatu"`` -> ``"Toolonkatu"``."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def abbreviate(name: str, *, suffix: bool = True, directional: bool = True) -> str:
    """Abbreviate a street name's suffix and directionals, USPS style, in upper case.

    ``"East Pratt Street"`` -> ``"E PRATT ST"``. Only the last word counts as
    a suffix and only the first or last word as a directional, so
    ``"North Avenue"`` stays a street called NORTH.
    """
    words = name.upper().split()
    if not words:
        return ""
    if suffix and len(words) > 1 and words[-1] in SUFFIXES:
        words[-1] = SUFFIXES[words[-1]]
    if directional and len(words) > 2 and words[0] in DIRECTIONALS:
        words[0] = DIRECTIONALS[words[0]]
    return " ".join(words)


def ordinal(n: int) -> str:
    """``1`` -> ``"1ST"``, ``12`` -> ``"12TH"``, ``23`` -> ``"23RD"``."""
    if 10 <= n % 100 <= 20:
        return f"{n}TH"
    return str(n) + {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")


@dataclass(frozen=True)
class StreetKey:
    """A street name folded to comparable parts.

    ``full`` is the whole canonical name; ``base`` drops the directionals and
    the suffix, so a CAD string missing either still finds its street.
    """

    full: str
    prefix_dir: str
    base: str
    suffix: str
    suffix_dir: str

    @property
    def no_dir(self) -> str:
        """The name without directionals."""
        return " ".join(p for p in (self.base, self.suffix) if p)

    @property
    def no_suffix(self) -> str:
        """The name without its suffix."""
        return " ".join(p for p in (self.prefix_dir, self.base, self.suffix_dir) if p)


def clean(text: str, *, keep_joiners: bool = False) -> str:
    """Upper-case, accent-free, punctuation-free text with single spaces.

    With `keep_joiners`, the intersection symbols ``/ & @`` survive.
    """
    text = fold_accents(str(text)).upper().replace("'", "").replace("\u2019", "")
    pattern = _NON_WORD_JOIN if keep_joiners else _NON_WORD
    return " ".join(pattern.sub(" ", text).split())


@functools.lru_cache(maxsize=200_000)
def street_key(name: str) -> StreetKey:
    """Fold a street name to its `StreetKey`.

    ``"East Pratt Street"``, ``"E. PRATT ST"`` and ``"e pratt st"`` all give
    ``full == "E PRATT ST"``; ``"Saint Paul St"`` and ``"ST PAUL STREET"``
    give ``"SAINT PAUL ST"``; ``"19 AV"`` and ``"Nineteenth Avenue"`` give
    ``"19TH AVE"``.
    """
    words = clean(name).split()
    if not words:
        return StreetKey("", "", "", "", "")
    prefix_dir = suffix = suffix_dir = ""
    # a trailing directional (``MAIN ST N``), then a suffix, then a leading directional
    if len(words) > 2 and words[-1] in _DIR_ABBR and words[-2] in _SUFFIX_ABBR:
        suffix_dir = _DIR_ABBR[words.pop()]
    if len(words) > 1 and words[-1] in _SUFFIX_ABBR:
        suffix = _SUFFIX_ABBR[words.pop()]
    if len(words) > 1 and words[0] in _DIR_ABBR:
        prefix_dir = _DIR_ABBR[words.pop(0)]
    if len(words) > 1 and words[0] in {"ST", "SAINT", "STE"}:
        words[0] = "SAINT"
    out = []
    for word in words:
        m = _ORDINAL.match(word)
        if word in _ORDINAL_WORDS:
            out.append(ordinal(_ORDINAL_WORDS[word]))
        elif m and (m.group(2) or suffix):
            out.append(ordinal(int(m.group(1))))
        else:
            out.append(word)
    base = " ".join(out)
    full = " ".join(p for p in (prefix_dir, base, suffix, suffix_dir) if p)
    return StreetKey(full, prefix_dir, base, suffix, suffix_dir)


def infer_block_size(house_numbers: Iterable[int]) -> int:
    """Width of an address block: 100 where numbers run into the hundreds, else 10.

    US-style numbering (``800 BLOCK OF BRYANT ST``) counts blocks in hundreds;
    European streets numbered 1, 2, 3, ... along the street get blocks of ten.
    """
    known = np.array([n for n in house_numbers if n >= 0])
    return 100 if len(known) and np.percentile(known, 90) >= 300 else 10
