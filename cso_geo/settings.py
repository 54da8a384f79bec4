"""Global settings, read by every stage when an argument is left as ``None``.

Change them at run time like osmnx's settings::

    import cso_geo
    cso_geo.settings.walk_speed_kph = 4.5

Every value that shapes a built network is part of the network cache key, so
changing one makes the next build rebuild instead of reusing a stale cache.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Where built street networks are cached (keyed by source-file hash and settings).
cache_folder: Path = Path(
    os.environ.get("CSO_GEO_CACHE", str(Path("~/.cache/cso_geo").expanduser()))
).expanduser()

#: Whether to reuse cached networks at all.
use_cache: bool = True

#: Walking speed of a CSO on foot patrol, km/h (a typical urban walking pace).
walk_speed_kph: float = 4.8

#: Speeds used where a drivable way has no usable ``maxspeed`` tag, km/h, by
#: OSM ``highway`` value (``*_link`` ways fall back to their parent class).
default_speeds_kph: dict[str, float] = {
    "motorway": 100.0,
    "trunk": 80.0,
    "primary": 50.0,
    "secondary": 50.0,
    "tertiary": 40.0,
    "unclassified": 40.0,
    "residential": 30.0,
    "living_street": 10.0,
    "road": 30.0,
    "busway": 30.0,
}

#: Speed for drivable highway values that are not listed above, km/h.
fallback_speed_kph: float = 30.0

#: Overpass-style way filters (the same syntax and defaults as osmnx's
#: ``network_type`` filters) that decide which OSM ways form each graph.
#: Osmnx excludes ways whose sidewalks are mapped separately from the walk
#: graph, because the separate footways carry the pedestrians instead.
way_filters: dict[str, str] = {
    "drive": (
        '["highway"]["area"!~"yes"]["access"!~"private"]'
        '["highway"!~"abandoned|bridleway|bus_guideway|construction|corridor|cycleway|'
        "elevator|escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|"
        'razed|rest_area|service|services|steps|track"]'
        '["motor_vehicle"!~"no"]["motorcar"!~"no"]'
        '["service"!~"alley|driveway|emergency_access|parking|parking_aisle|private"]'
    ),
    "walk": (
        '["highway"]["area"!~"yes"]["access"!~"private"]'
        '["highway"!~"abandoned|bus_guideway|construction|cycleway|motor|no|planned|'
        'platform|proposed|raceway|razed|rest_area|services"]'
        '["foot"!~"no"]["service"!~"private"]'
        '["sidewalk"!~"separate"]["sidewalk:both"!~"separate"]'
        '["sidewalk:left"!~"separate"]["sidewalk:right"!~"separate"]'
    ),
}

#: OSM way tags kept as edge attributes (osmnx's useful_tags_way plus names
#: the geocoder reads).
way_tags: tuple[str, ...] = (
    "highway",
    "name",
    "alt_name",
    "old_name",
    "ref",
    "oneway",
    "lanes",
    "maxspeed",
    "junction",
    "access",
    "service",
    "bridge",
    "tunnel",
    "width",
)

#: Values of the OSM ``oneway`` tag meaning "one-way in the drawing direction"
#: (``-1``/``reverse`` are handled as one-way against it).
oneway_values: frozenset[str] = frozenset({"yes", "true", "1"})

#: Highway classes that are one-way unless tagged otherwise (OSM wiki: motorways
#: and their links imply oneway=yes; roundabouts are handled by ``junction``).
implied_oneway_highways: frozenset[str] = frozenset({"motorway"})

#: Seconds to wait for an online (Overpass) request before giving up.
requests_timeout: int = 180
