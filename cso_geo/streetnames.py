"""The one place for street-name spelling: abbreviations, accents, case.

The generator uses it to write names the way CAD operators type them, and the
geocoder (next stage) to fold both sides of a match to one form.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["DIRECTIONALS", "SUFFIXES", "abbreviate", "fold_accents"]

#: USPS Publication 28 street suffix abbreviations (the common ones).
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

_WORD = re.compile(r"[A-Za-z0-9']+|[^A-Za-z0-9'\s]+")


def fold_accents(text: str) -> str:
    """Strip diacritics: ``"Töölönkatu"`` -> ``"Toolonkatu"``."""
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
