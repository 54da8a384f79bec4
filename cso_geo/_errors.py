"""Exceptions a user can cause, each a small subclass of a built-in.

Messages say what was wrong, where (file, row, column, value) and what to do.
"""

from __future__ import annotations


class CsoGeoError(Exception):
    """Base class of every error cso_geo raises on purpose."""


class InputFileError(CsoGeoError, ValueError):
    """An input file is missing, unreadable or malformed."""


class InputFileNotFoundError(InputFileError, FileNotFoundError):
    """An input file does not exist."""


class EmptyNetworkError(CsoGeoError, ValueError):
    """The requested area holds no streets of the requested kind."""


class BoundingBoxError(CsoGeoError, ValueError):
    """A bounding box is in the wrong order or in projected units."""


class CacheError(CsoGeoError, RuntimeError):
    """A cached network is corrupt or stale (it is rebuilt, never used)."""


class UnknownDatasetError(CsoGeoError, KeyError):
    """A bundled dataset name is not known."""

    def __str__(self) -> str:
        # KeyError quotes its argument; show the message as written
        return str(self.args[0]) if self.args else ""


class ProfileError(CsoGeoError, ValueError):
    """An ingest profile or column mapping is unknown or malformed."""


class OutputFileError(CsoGeoError, ValueError):
    """An output path asks for a format cso_geo cannot write."""


class ReconciliationError(CsoGeoError, RuntimeError):
    """Row counts do not reconcile (read != accepted + quarantined): a cso_geo bug."""


class DownloadError(CsoGeoError, ConnectionError):
    """An online source (Overpass, Nominatim) could not be reached."""


class InfeasibleError(CsoGeoError, ValueError):
    """A request no plan can satisfy (zero-length shift, a point off the network, ...)."""


class ConfigError(CsoGeoError, ValueError):
    """A run configuration has an unknown key or a value outside the allowed ones."""
