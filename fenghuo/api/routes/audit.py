"""`/api/v1/audit`: the audit trail, newest first, in cursor pages.

Admins and SOC analysts read every entry; a tenant viewer reads the entries about its tenant
(the store scopes the query), with other tenants by pseudonym.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fenghuo.api import filters as f
from fenghuo.api.deps import ServicesDep, Viewer
from fenghuo.api.ops_views import AuditPage
from fenghuo.api.routes.alerts import checked_cursor
from fenghuo.api.schemas import documented, respond

router = APIRouter(prefix="/audit", tags=["audit"])

AuditLimit = Annotated[int, Query(ge=1, le=f.MAX_PAGE, description="page size")]


@router.get(
    "",
    summary="The audit trail (newest first, cursor pagination)",
    responses=documented(AuditPage, "A page of audit entries", errors=(400, 401, 403)),
)
async def list_audit(
    caller: Viewer, services: ServicesDep, limit: AuditLimit = 100, cursor: f.Cursor = None
) -> JSONResponse:
    page = await run_in_threadpool(
        services.store.audit.list, caller.scope, limit=limit, cursor=checked_cursor(cursor)
    )
    return respond(caller, AuditPage(items=page.items, next_cursor=page.next_cursor))
