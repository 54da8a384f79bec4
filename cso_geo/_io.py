"""The one place that writes outputs atomically and hashes files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only on success.

    A reader never sees a half-written file: on any error the temporary file is
    removed and `path` keeps its previous content.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp" + "".join(target.suffixes), dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    # some writers (GDAL drivers) refuse to overwrite an existing empty file
    tmp.unlink()
    try:
        yield tmp
        tmp.replace(target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically and return the path."""
    # newline="" keeps the text byte-identical on every platform
    with atomic_path(path) as tmp, tmp.open("w", encoding=encoding, newline="") as fh:
        fh.write(text)
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def file_sha256(path: str | os.PathLike[str], *, chunk_size: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def read_vector(path: str | os.PathLike[str], *, what: str, hint: str = "") -> gpd.GeoDataFrame:
    """Read a vector file with GeoPandas, or raise an error naming it and what it is.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, Shapefile, ... (anything GDAL reads).
    what
        What the file should hold, for messages (``"centerline file"``).
    hint
        How to make one, appended to the "does not exist" message.
    """
    from cso_geo._errors import InputFileError, InputFileNotFoundError  # noqa: PLC0415

    p = Path(path)
    if not p.exists():
        msg = f"The {what} {str(p)!r} does not exist.{' ' + hint if hint else ''}"
        raise InputFileNotFoundError(msg)
    try:
        return gpd.read_file(p)
    except Exception as exc:  # GDAL raises several types for unreadable files
        msg = f"Cannot read the {what} {str(p)!r}: {exc}"
        raise InputFileError(msg) from exc
