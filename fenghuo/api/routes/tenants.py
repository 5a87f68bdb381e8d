"""`/api/v1/tenants`: the inventory's tenants with their situation in the caller's scope.

A tenant viewer sees only its own tenant; any other id, existing or not, is the same 404.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import Caller, Services, ServicesDep, Viewer
from fenghuo.api.ops_views import (
    TenantList,
    TenantSummary,
    alert_figures,
    involving,
    open_incidents,
    risk_of,
)
from fenghuo.api.problems import Problem
from fenghuo.api.schemas import documented, respond
from fenghuo.inventory.model import Tenant
from fenghuo.store.base import AlertQuery

router = APIRouter(prefix="/tenants", tags=["situation"])

TenantId = Annotated[str, Path(max_length=200, description="the tenant's id")]


def visible_tenants(caller: Caller, services: Services) -> list[Tenant]:
    """The inventory's tenants the caller may see, by id (none without an inventory)."""
    inventory = services.inventory()
    if inventory is None:
        return []
    tenants = sorted(inventory.tenants.values(), key=lambda t: t.id)
    if caller.tenant is not None:
        tenants = [t for t in tenants if t.id == caller.tenant]
    return tenants


def summaries(caller: Caller, services: Services, tenants: list[Tenant]) -> list[TenantSummary]:
    store, scope = services.store, caller.scope
    inventory = services.inventory()
    vms = Counter(
        vm.tenant for host in (inventory.hosts.values() if inventory else ()) for vm in host.vms
    )
    incidents = open_incidents(store, scope) if tenants else []
    return [
        TenantSummary(
            tenant_id=t.id,
            name=t.name or t.id,
            critical_infrastructure=t.critical_infrastructure,
            vms=vms[t.id],
            alerts=alert_figures(store, scope, AlertQuery(tenant=t.id)),
            incidents=risk_of(involving(incidents, t.id)),
        )
        for t in tenants
    ]


@router.get(
    "",
    summary="Tenants with alert counts, open incidents, grade and risk",
    responses=documented(TenantList, "The tenants the caller may see"),
)
async def list_tenants(caller: Viewer, services: ServicesDep) -> JSONResponse:
    def load() -> TenantList:
        return TenantList(items=summaries(caller, services, visible_tenants(caller, services)))

    return respond(caller, await run_in_threadpool(load))


@router.get(
    "/{tenant_id}",
    summary="One tenant's situation",
    responses=documented(TenantSummary, "The tenant", errors=(401, 403, 404)),
)
async def get_tenant(tenant_id: TenantId, caller: Viewer, services: ServicesDep) -> JSONResponse:
    def load() -> TenantSummary | None:
        chosen = [t for t in visible_tenants(caller, services) if t.id == tenant_id]
        return summaries(caller, services, chosen)[0] if chosen else None

    summary = await run_in_threadpool(load)
    if summary is None:
        raise Problem(404, "Not found", f"no tenant {tenant_id}")
    return respond(caller, summary)
