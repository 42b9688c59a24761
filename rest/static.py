"""The live page's files (rest/static/), served as they are: no build step, nothing fetched from elsewhere.

The files hold no data (the page reads GET /v1/topology with the caller's credentials), so they are
served to anyone; a content security policy keeps the page to its own scripts and this server.
"""

from __future__ import annotations

from pathlib import Path

from .faults import NotFound
from .routes import Raw

FOLDER = Path(__file__).with_name("static")
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
MEDIA = tuple(sorted({t.split(";")[0] for t in TYPES.values()}))
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class AssetNotFound(NotFound):
    """No file of that name in the page."""


def _load() -> dict[str, Raw]:
    return {p.name: Raw(TYPES[p.suffix], p.read_bytes(), HEADERS) for p in sorted(FOLDER.iterdir())
            if p.is_file() and p.suffix in TYPES}


ASSETS = _load()


def asset(name: str) -> Raw:
    found = ASSETS.get(name)
    if found is None:
        raise AssetNotFound(f"the page has no file {name[:64]!r}")
    return found
