"""Helpers for the browser tests: open a page with the network cut off, read pixels."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def hex_rgb(color: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` -> ``(r, g, b)``."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def png_rgb(png: bytes) -> np.ndarray:
    """A PNG screenshot as an (h, w, 3) uint8 array."""
    with Image.open(io.BytesIO(png)) as img:
        return np.asarray(img.convert("RGB"))


@dataclass
class OfflinePage:
    """A page whose every non-file request was blocked, with what went wrong."""

    page: Any
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextmanager
def offline_page(
    browser: Any, path: Path, *, viewport: dict[str, int] | None = None
) -> Iterator[OfflinePage]:
    """Open `path` in a new context where every request but ``file://`` is refused."""
    context = browser.new_context(viewport=viewport or {"width": 1000, "height": 750})
    page = context.new_page()
    state = OfflinePage(page)

    def route(r: Any) -> None:
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            state.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("requestfailed", lambda req: state.failed.append(f"{req.url}: {req.failure}"))
    page.on("pageerror", lambda exc: state.errors.append(str(exc)))
    page.on("console", lambda msg: state.errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(path.resolve().as_uri(), wait_until="load")
        yield state
    finally:
        context.close()


def background_share(rgb: np.ndarray, background: tuple[int, int, int]) -> float:
    """Share of pixels exactly of the `background` colour."""
    return float(np.all(rgb == background, axis=2).mean())


def colour_share(rgb: np.ndarray, colour: tuple[int, int, int], *, tol: int = 12) -> float:
    """Share of pixels within `tol` (per channel) of `colour`."""
    diff = np.abs(rgb.astype(np.int32) - np.asarray(colour, dtype=np.int32)[None, None, :])
    return float((diff.max(axis=2) <= tol).mean())


#: Clicks (a Leaflet click event, propagated as a user's click is) the first feature layer
#: with a popup whose `prop` is in `values`; returns the popup's text and how many elements
#: the data could have injected into it.
OPEN_FEATURE_POPUP = """([prop, values]) => {
    const map = window[document.querySelector('.folium-map').id];
    const hasPopup = (l) => (l.getPopup && l.getPopup())
        || Object.values(l._eventParents || {}).some((p) => p.getPopup && p.getPopup());
    let found = null;
    map.eachLayer((layer) => {
        if (!found && layer.feature && values.includes(layer.feature.properties[prop])
            && hasPopup(layer)) { found = layer; }
    });
    if (!found) { return null; }
    map.closePopup();
    const at = found.getLatLng ? found.getLatLng() : found.getCenter();
    found.fire('click', {latlng: at}, true);
    const popup = document.querySelector('.leaflet-popup-content');
    return popup && {text: popup.innerText,
                     elements: popup.querySelectorAll('img, script').length};
}"""


#: Clicks the incident point of `incident` (as a user would, once its cluster is spread out)
#: and returns the text of the popup built for it and how many elements it holds. The map
#: jumps to the point unanimated once the opening zoom animation is over (a jump during it
#: is undone when it ends).
OPEN_POINT_POPUP = """(incident) => new Promise((done, fail) => {
    const map = window[document.querySelector('.folium-map').id];
    map.closePopup();
    let group = null;
    map.eachLayer((g) => { if (g instanceof L.MarkerClusterGroup) { group = g; } });
    const m = group.getLayers().find((x) => x.csoRow && x.csoRow[2] === incident);
    const lazy = typeof m.getPopup().getContent() === 'function';
    const click = () => {
        try {
            m.fire('click', {latlng: m.getLatLng()}, true);
            const p = [...document.querySelectorAll('.leaflet-popup-content')].pop();
            done({lazy: lazy, text: p.innerText,
                  elements: p.querySelectorAll('img, script').length});
        } catch (e) { fail(e); }
    };
    let tries = 0;
    const jump = () => {
        if (map._animatingZoom) { setTimeout(jump, 50); return; }
        map.setView(m.getLatLng(), map.getMaxZoom(), {animate: false});
        wait();
    };
    const wait = () => {
        if (map.hasLayer(m) && !group._inZoomAnimation) { setTimeout(click, 300); return; }
        if (++tries > 100) { fail(new Error('point never shown')); return; }
        // points at one spot stay clustered at the highest zoom: spread them out
        if (m.__parent && m.__parent._icon && !group._inZoomAnimation
            && group._spiderfied !== m.__parent) { m.__parent.spiderfy(); }
        setTimeout(wait, 50);
    };
    jump();
})"""


def leaflet_layers(page: Any) -> list[str]:
    """Names of the overlays in the page's layer control."""
    names: list[str] = page.eval_on_selector_all(
        ".leaflet-control-layers-overlays label span",
        "(els) => els.map((e) => e.innerText.trim())",
    )
    return names
