"""Our static files' addresses carry a hash of their content (`?v=…`): after an upgrade a
browser asks for the new script and style at once, so nginx may let browsers keep them for a
year, and never serves a week-old script beside new pages."""

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Flask


def content_version(path: Path) -> str | None:
    """A short hash of the file's content; None if there is no such file. Read again only when
    the file changes (a development checkout edits them while the app runs)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _hash(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _hash(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def init_app(app: Flask) -> None:
    folder = Path(app.static_folder or "static")

    @app.url_defaults
    def add_version(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "v" not in values:
            version = content_version(folder / values.get("filename", ""))
            if version:
                values["v"] = version
