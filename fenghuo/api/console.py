"""The SOC console: the static files of top-level `ui/` (ES modules, no build step) served at `/`.

The files ship inside the package as `fenghuo/ui` (a symlink to `ui/` in the source tree, so
`pip install -e .` serves the working copy and a wheel carries a real copy); `console_dir()` is
the one place that knows where they are.

Every answer carries a strict Content-Security-Policy (no inline script or style, connections to
this origin only), `nosniff` and `no-referrer`. App code is revalidated on every load
(`no-cache` with the ETag StaticFiles computes), so an upgrade never runs a stale module next to
a new one; a 304 makes the revalidation cheap.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

import fenghuo

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Python 3.11's mimetypes says application/javascript for .js and nothing for .mjs; module
# scripts need a JavaScript MIME type, and the HTML standard names text/javascript.
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}
# First path segments the API owns: an unknown path below them is the API's 404, not a deep link.
API_ROOTS = frozenset({"api", "taxii2", "healthz", "readyz", "metrics"})
# Sources of the tooling, not for the browser.
_HIDDEN_SUFFIXES = frozenset({".py", ".sh", ".pyc"})


def console_dir() -> Path:
    """Where the console's files are: `FENGHUO_CONSOLE_DIR` if set (development of the page
    against an installed API), else the package's `ui` directory."""
    override = os.environ.get("FENGHUO_CONSOLE_DIR")
    if override:
        return Path(override)
    return Path(fenghuo.__file__).resolve().parent / "ui"


class ConsoleFiles(StaticFiles):
    """StaticFiles with the console's headers, MIME types, and `index.html` for the page's own
    routes (a path without a file extension that is no file), so a shared deep link loads."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)
        self._root = directory

    async def check_config(self) -> None:
        """A missing directory is not a start-up error: `/` then says the page is missing."""
        if self._root.is_dir():
            await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.split("/", 1)[0] in API_ROOTS:
            raise HTTPException(404)  # the API's own 404 (a problem document), not the page
        if PurePosixPath(path).suffix in _HIDDEN_SUFFIXES:
            return _secured(_not_found())
        if not (self._root / "index.html").is_file():
            return _secured(_not_found("The console is not installed here (no index.html)."))
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
            if PurePosixPath(path).suffix:
                return _secured(_not_found())
            response = await super().get_response("index.html", scope)
        return _secured(response)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        media = MEDIA_TYPES.get(Path(full_path).suffix)
        if media is not None and isinstance(response, FileResponse):
            response.media_type = media
            response.headers["content-type"] = media
        return response


def _not_found(text: str = "Not Found") -> Response:
    return PlainTextResponse(text, status_code=404)


def _secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-cache"
    return response
