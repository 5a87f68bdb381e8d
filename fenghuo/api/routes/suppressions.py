"""`/api/v1/suppressions`: the rules "suppress similar" created; list and revoke."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import ServicesDep, Triager, Viewer
from fenghuo.api.problems import PROBLEM_RESPONSES, Problem
from fenghuo.api.schemas import documented, respond
from fenghuo.api.views import SuppressionList
from fenghuo.model.ids import stable_id
from fenghuo.store.base import AuditEntry, SuppressionRule

router = APIRouter(prefix="/suppressions", tags=["triage"])


@router.get(
    "",
    summary="Suppression rules in force (oldest first)",
    responses=documented(SuppressionList, "The rules", errors=(401, 403)),
)
async def list_suppressions(
    caller: Viewer,
    services: ServicesDep,
    include_revoked: Annotated[bool, Query(description="also the revoked rules")] = False,
) -> JSONResponse:
    rules = await run_in_threadpool(
        services.store.suppressions.list, caller.scope, include_revoked=include_revoked
    )
    return respond(caller, SuppressionList(items=rules))


@router.delete(
    "/{rule_id}",
    status_code=204,
    summary="Revoke a suppression rule: similar alerts are raised again",
    responses={code: PROBLEM_RESPONSES[code] for code in (401, 403, 404, 422)},
)
async def revoke_suppression(
    rule_id: Annotated[str, Path(max_length=200)],
    request: Request,
    caller: Triager,
    services: ServicesDep,
) -> Response:
    def revoke() -> SuppressionRule | None:
        """The rule revoked (for the audit entry's tenant), None if none was in force."""
        rule = next((r for r in store.list(caller.scope) if r.id == rule_id), None)
        return rule if rule is not None and store.revoke(caller.scope, rule_id) else None

    store = services.store.suppressions
    rule = await run_in_threadpool(revoke)
    if rule is None:
        raise Problem(404, "Not found", f"no suppression rule {rule_id} in force")
    now = dt.datetime.now(dt.UTC)
    services.store.audit.append(
        AuditEntry(
            id=stable_id("audit", "suppression.revoke", rule_id),
            at=now,
            actor=caller.actor,
            role=caller.key.role.value,
            action="suppression.revoke",
            target=f"suppression:{rule_id}",
            tenant_id=rule.tenant_id,
            request_id=request.headers.get("x-request-id"),
        )
    )
    return Response(status_code=204)
