"""ASGI middleware: a request body limit for every route but ingest, and request ids.

`BodyLimit` refuses a body larger than the limit with 413 problem+json: at once when the declared
Content-Length says so, and as soon as a streamed (chunked) body passes it. The ingest route has
its own, larger limit (`ingest_max_body_bytes`, with bounded gzip inflation) and is left alone.

`RequestId` gives every request an `X-Request-ID`: a sane incoming one is kept (so a caller can
follow its request through the audit trail), anything else is replaced by a fresh one; the id
is echoed on the response and seen by the routes in the request headers.
"""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fenghuo.api.problems import problem_response

INGEST_PREFIX = "/api/v1/ingest/"
REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


class _BodyTooLarge(Exception):
    """Raised from `receive` once a streamed body passes the limit."""


class BodyLimit:
    def __init__(
        self, app: ASGIApp, max_bytes: int, exempt_prefix: str | tuple[str, ...] = INGEST_PREFIX
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt_prefix = exempt_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefix):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return

        received = 0
        too_large = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                # The route turned the interrupted read into some other answer (FastAPI makes
                # it a 400); ours replaces it, unless the response had already started.
                if not started and message["type"] == "http.response.start":
                    started = True
                    await self._refuse(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_bytes
        response = problem_response(
            413, "Body too large", f"the limit is {limit} bytes", limit=limit
        )
        response.headers["Connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, REQUEST_ID_HEADER.encode())
        if incoming is not None and _SANE_REQUEST_ID.fullmatch(incoming):
            request_id = incoming
        else:
            request_id = uuid.uuid4().hex
        name = REQUEST_ID_HEADER.encode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != name]
        scope["headers"] = [*headers, (name, request_id.encode())]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != name]
                message["headers"] = [*kept, (name, request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
