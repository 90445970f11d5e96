"""Serve the operator console (web/dist, built by `make web`) at `/`, beside the API.

Paths under /api, /health, /docs, /redoc and /openapi.json are never answered here: the API's own
routes are registered first, and an unknown API path stays a problem+json 404 instead of turning
into the console's HTML. Other paths that name a built file get that file; the rest get index.html
so the console's client-side routes (/cameras, /events …) survive a reload. Hashed assets
(web/dist/assets/*) are cached for a year, index.html is revalidated on every load so a new build
is picked up at once. Without a build, `/` says how to make one.

Text files (JS, CSS, HTML, SVG, JSON) go gzip-compressed to browsers that accept it — about a third
of the bytes. Each is compressed once per build (memoised by path, size and mtime); the API's own
responses are not compressed here (a middleware would also buffer the event streams).
"""

from __future__ import annotations

import gzip
import mimetypes
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

DEFAULT_DIST = Path(__file__).resolve().parents[3] / "web" / "dist"
API_PREFIXES = ("api/", "api", "health", "docs", "redoc", "openapi.json")
ASSETS_CACHE = "public, max-age=31536000, immutable"
INDEX_CACHE = "no-cache"
COMPRESSIBLE = (".js", ".css", ".html", ".svg", ".json", ".map", ".txt")

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>VMS Console not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The web console is not built yet</h1>
<p>Run <code>make web</code> (or <code>make run</code>, which builds it) in the repository, then reload this page.
It needs Node.js 18 or newer and npm.</p>
<p>The API is running: see <a href="/docs">/docs</a>.</p>
</body></html>
"""


def _is_api_path(path: str) -> bool:
    first = path.split("/", 1)[0]
    return path.startswith("api/") or first in API_PREFIXES


@lru_cache(maxsize=256)
def _gzipped(path: Path, _size: int, _mtime_ns: int) -> bytes:
    """The file's bytes, gzip-compressed; size and mtime are part of the key so a new build is seen."""
    return gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)


def _file(path: Path, request: Request, cache_control: str) -> Response:
    """The file, compressed when it is text and the browser accepts gzip."""
    headers = {"Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if path.suffix in COMPRESSIBLE and "gzip" in request.headers.get("accept-encoding", ""):
        stat = path.stat()
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        body = _gzipped(path, stat.st_size, stat.st_mtime_ns)
        headers["Content-Encoding"] = "gzip"
        return Response(body if request.method != "HEAD" else b"", media_type=media_type, headers=headers)
    return FileResponse(path, headers=headers)


def mount_console(app: FastAPI, dist: Path | None = None) -> None:
    """Add the console's catch-all route; call after every API router so those keep priority."""
    root = (dist or DEFAULT_DIST).resolve()

    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def web_console(path: str, request: Request) -> Response:
        """A built file, or index.html for the console's own routes."""
        if _is_api_path(path):
            raise StarletteHTTPException(404, f"No API route {request.url.path}.")
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": INDEX_CACHE})
        if path:
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file() and candidate != index:
                immutable = candidate.is_relative_to(root / "assets")
                return _file(candidate, request, ASSETS_CACHE if immutable else INDEX_CACHE)
            if path.startswith("assets/") or "." in path.rsplit("/", 1)[-1]:
                # A missing file (an old chunk after a new build) must not come back as HTML with status 200.
                raise StarletteHTTPException(404, f"No file {request.url.path} in the console build.")
        return _file(index, request, INDEX_CACHE)
