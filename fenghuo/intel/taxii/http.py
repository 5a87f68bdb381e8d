"""TAXII 2.1 on the wire: media types, content negotiation and the error message.

Every TAXII answer, errors included, is `application/taxii+json;version=2.1` (TAXII 2.1 §1.6.8):
the OASIS client (taxii2-client 2.3.0) raises unless a GET answers `application/taxii+json` with
`version=2.1`, and a client that reads an error expects the TAXII error message (`title`,
`description`, `http_status`...), not the /api/v1 problem document. Object envelopes may also be
answered as `application/stix+json;version=2.1` when the client's Accept prefers it.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from fenghuo.api.limits import BodyLimit
from fenghuo.api.problems import Problem

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
_VERSION = "2.1"
_ENC = msgspec.json.Encoder()


class TaxiiError(Exception):
    """Raise to answer with a TAXII error message (status, title, description)."""

    def __init__(
        self,
        status: int,
        title: str,
        description: str = "",
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description or title)
        self.status = status
        self.title = title
        self.description = description
        self.headers = headers or {}


def taxii_response(
    body: Any,
    *,
    status: int = 200,
    media_type: str = TAXII_MEDIA_TYPE,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(_ENC.encode(body), status_code=status, media_type=media_type, headers=headers)


def error_response(
    status: int, title: str, description: str = "", headers: dict[str, str] | None = None
) -> Response:
    body: dict[str, Any] = {"title": title, "http_status": str(status)}
    if description:
        body["description"] = description
    return Response(
        _ENC.encode(body), status_code=status, media_type=TAXII_MEDIA_TYPE, headers=headers
    )


def _parse_range(item: str) -> tuple[str, dict[str, str], float] | None:
    """(type/subtype, parameters, q) of one Accept or Content-Type entry, or None."""
    parts = [p.strip() for p in item.split(";")]
    media = parts[0].lower()
    if "/" not in media:
        return None
    params: dict[str, str] = {}
    for part in parts[1:]:
        name, _, value = part.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    try:
        q = float(params.pop("q", "1"))
    except ValueError:
        return None
    return media, params, q


def _covers(media: str, params: dict[str, str], offer: str) -> bool:
    kind, _, sub = media.partition("/")
    offer_kind, _, offer_sub = offer.partition(";")[0].partition("/")
    if kind not in ("*", offer_kind) or sub not in ("*", offer_sub):
        return False
    return params.get("version", _VERSION) == _VERSION


def negotiate(request: Request, offers: tuple[str, ...] = (TAXII_MEDIA_TYPE,)) -> str:
    """The media type to answer with: the offer the Accept header ranks highest (earlier
    offers win ties; no Accept means the first offer); 406 when none is acceptable."""
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return offers[0]
    best: tuple[float, int] | None = None
    for item in accept.split(","):
        parsed = _parse_range(item)
        if parsed is None or parsed[2] <= 0:
            continue
        media, params, q = parsed
        for index, offer in enumerate(offers):
            rank = (q, -index)
            if _covers(media, params, offer) and (best is None or rank > best):
                best = rank
    if best is None:
        raise TaxiiError(
            406,
            "Not acceptable",
            f"this resource is available as {' or '.join(offers)}; the Accept header asks"
            " for neither",
        )
    return offers[-best[1]]


def require_taxii_content(request: Request) -> None:
    """415 unless the body is declared `application/taxii+json` (version 2.1 or none)."""
    parsed = _parse_range(request.headers.get("content-type", ""))
    if (
        parsed is None
        or parsed[0] != "application/taxii+json"
        or not _covers(parsed[0], parsed[1], TAXII_MEDIA_TYPE)
    ):
        raise TaxiiError(
            415,
            "Unsupported media type",
            f"POST an envelope as {TAXII_MEDIA_TYPE}",
        )


class TaxiiBodyLimit(BodyLimit):
    """The API's body limit, refusing with a TAXII error (413) instead of a problem document;
    its limit is the API root's `max_content_length`."""

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "Body too large",
            f"the limit is {self.max_bytes} bytes (the API root's max_content_length)",
            {"Connection": "close"},
        )
        await response(scope, receive, send)


def install_taxii_errors(app: FastAPI) -> None:
    """Every error of the TAXII app as a TAXII error message, whatever raised it."""

    async def on_taxii(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TaxiiError)
        return error_response(exc.status, exc.title, exc.description, exc.headers)

    async def on_problem(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)  # e.g. 429 from the failed-authentication limiter
        return error_response(exc.status, exc.title, exc.detail, exc.headers)

    async def on_http(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        titles = {404: "Not found", 405: "Method not allowed"}
        title = titles.get(exc.status_code, str(exc.detail))
        description = "no such TAXII endpoint" if exc.status_code == 404 else str(exc.detail)
        return error_response(exc.status_code, title, description, dict(exc.headers or {}))

    async def on_validation(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        where = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        )
        return error_response(400, "Bad request", where)

    async def on_crash(_request: Request, _exc: Exception) -> Response:
        return error_response(500, "Internal server error", "the error was logged")

    app.add_exception_handler(TaxiiError, on_taxii)
    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_crash)
