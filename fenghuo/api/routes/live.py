"""The console's session routes: `/whoami` (who the key is and what it may do, for the page to
choose its navigation; the API still decides every access) and `/stream` (live updates as
server-sent events, see `fenghuo.api.stream`)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from fenghuo.api.deps import CurrentKey, ReportReader, ServicesDep, caller_for
from fenghuo.api.problems import PROBLEM_MEDIA_TYPE
from fenghuo.api.schemas import documented, respond
from fenghuo.api.stream import StreamHub
from fenghuo.store.keys import Role

router = APIRouter(tags=["console"])

_READS: dict[Role, tuple[str, ...]] = {
    Role.ADMIN: (
        "alerts", "incidents", "stats", "tenants", "hosts", "detectors", "suppressions",
        "audit", "reports", "collections", "keys", "taxii",
    ),
    Role.SOC_ANALYST: (
        "alerts", "incidents", "stats", "tenants", "hosts", "detectors", "suppressions",
        "audit", "reports", "taxii",
    ),
    Role.TENANT_VIEWER: (
        "alerts", "incidents", "stats", "tenants", "hosts", "detectors", "suppressions",
        "audit", "reports", "taxii",
    ),
    Role.REGULATOR: ("reports", "taxii"),
    Role.INGEST: (),
}  # fmt: skip


class Whoami(msgspec.Struct, frozen=True, kw_only=True):
    """The caller's key and what its role may do. `reads` names the resources it may list
    (`taxii`: the TAXII collections granted to it, or all of them for analysts)."""

    key_id: str
    name: str
    role: str
    tenant_id: str | None  # a tenant viewer's tenant, else null
    can_triage: bool
    can_admin: bool
    can_ingest: bool
    can_stream: bool
    reads: list[str]


@router.get(
    "/whoami",
    summary="The caller's key, role, tenant and permissions (for the console's navigation)",
    responses=documented(Whoami, "Who the key is", errors=(401,)),
)
async def whoami(key: CurrentKey, services: ServicesDep) -> JSONResponse:
    body = Whoami(
        key_id=key.id,
        name=key.name,
        role=key.role.value,
        tenant_id=key.tenant_id if key.role is Role.TENANT_VIEWER else None,
        can_triage=key.role in (Role.ADMIN, Role.SOC_ANALYST),
        can_admin=key.role is Role.ADMIN,
        can_ingest=key.role in (Role.ADMIN, Role.INGEST),
        can_stream=key.role is not Role.INGEST,
        reads=list(_READS[key.role]),
    )
    return respond(caller_for(key, services), body)


_EVENTS = (
    "Server-sent events: `alert`, `incident`, `report` (with `id:` the change sequence), "
    "`stats` (on connect and every few seconds), `heartbeat`, `resync` (re-read the lists), "
    "`bye` (the server closes)."
)
EVENT_NAMES = ("alert", "incident", "report", "stats", "heartbeat", "resync", "bye")
# One server-sent event (the OpenAPI 3.2 way of describing text/event-stream items); `data` is
# one JSON object, described in fenghuo.api.stream.
_EVENT_SCHEMA = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": list(EVENT_NAMES)},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "retry": {"type": "integer"},
    },
}
_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": _EVENTS,
        "content": {
            "text/event-stream": {
                "schema": {"type": "array", "items": _EVENT_SCHEMA},  # the stream as a whole
                "itemSchema": _EVENT_SCHEMA,  # each event (OpenAPI 3.2)
            }
        },
    },
    **{
        code: {"description": text, "content": {PROBLEM_MEDIA_TYPE: {}}}
        for code, text in (
            (401, "Missing or invalid API key"),
            (403, "The key's role may not do this"),
            (422, "Invalid request"),
            (429, "Too many failed authentications; retry after the given seconds"),
            (503, "Too many live streams; retry after the given seconds"),
        )
    },
}


def hub_of(request: Request) -> StreamHub:
    hub: StreamHub = request.app.state.stream_hub
    return hub


@router.get(
    "/stream",
    summary="Live updates in the caller's scope (server-sent events; send the Authorization "
    "header, e.g. with fetch() streaming)",
    response_class=StreamingResponse,
    responses=_STREAM_RESPONSES,
)
async def stream(
    request: Request,
    caller: ReportReader,
    services: ServicesDep,
    max_events: Annotated[
        int | None,
        Query(ge=1, le=10_000, description="close after this many events (scripts, tests)"),
    ] = None,
) -> StreamingResponse:
    hub = hub_of(request)
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    subscriber = await hub.subscribe(caller, token)

    def still_valid(secret: str) -> bool:
        return services.store.keys.verify(secret) is not None

    return StreamingResponse(
        hub.events(subscriber, max_events, still_valid),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
