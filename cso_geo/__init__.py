"""cso_geo: patrol planning and quality-of-life hotspot analysis for CSO units."""

from __future__ import annotations

__version__ = "0.1.0"

from cso_geo import settings

__all__ = ["__version__", "settings"]
