"""`/api/v1/hosts`: the inventory's hypervisor hosts with what runs on them and their alerts,
in the caller's scope.

A tenant viewer sees only the hosts where its own VMs or containers run, and on them only its
own workloads: neither the names nor the number of co-resident workloads of other tenants. Any
other host id, existing or not, is the same 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import Caller, Services, ServicesDep, Viewer
from fenghuo.api.ops_views import (
    ContainerRef,
    HostList,
    HostSummary,
    VmRef,
    alert_figures,
    on_host,
    open_incidents,
    risk_of,
)
from fenghuo.api.problems import Problem
from fenghuo.api.schemas import documented, respond
from fenghuo.store.base import AlertQuery

router = APIRouter(prefix="/hosts", tags=["situation"])

HostId = Annotated[str, Path(max_length=200, description="the host's id")]


@dataclass(frozen=True)
class _Placement:
    """A host and the workloads on it that the caller may see."""

    host_id: str
    ip: str | None
    vms: list[VmRef]
    containers: list[ContainerRef]


def _visible(caller: Caller, services: Services) -> list[_Placement]:
    inventory = services.inventory()
    if inventory is None:
        return []
    own = caller.tenant
    found = []
    for host in sorted(inventory.hosts.values(), key=lambda h: h.id):
        vms = [VmRef(name=v.name, tenant_id=v.tenant) for v in host.vms if own in (None, v.tenant)]
        containers = [
            ContainerRef(id=c.id, tenant_id=c.tenant)
            for c in host.containers
            if own in (None, c.tenant)
        ]
        if own is None or vms or containers:
            ip = str(host.ip) if host.ip is not None else None
            found.append(_Placement(host.id, ip, vms, containers))
    return found


def _summaries(caller: Caller, services: Services, hosts: list[_Placement]) -> list[HostSummary]:
    store, scope = services.store, caller.scope
    incidents = open_incidents(store, scope) if hosts else []
    return [
        HostSummary(
            host_id=h.host_id,
            ip=h.ip,
            vms=h.vms,
            containers=h.containers,
            alerts=alert_figures(store, scope, AlertQuery(host_id=h.host_id)),
            incidents=risk_of(on_host(incidents, h.host_id)),
        )
        for h in hosts
    ]


@router.get(
    "",
    summary="Hosts with their VMs and containers, alert counts and open incidents",
    responses=documented(HostList, "The hosts the caller may see"),
)
async def list_hosts(caller: Viewer, services: ServicesDep) -> JSONResponse:
    def load() -> HostList:
        return HostList(items=_summaries(caller, services, _visible(caller, services)))

    return respond(caller, await run_in_threadpool(load))


@router.get(
    "/{host_id}",
    summary="One host's workloads and situation",
    responses=documented(HostSummary, "The host", errors=(401, 403, 404)),
)
async def get_host(host_id: HostId, caller: Viewer, services: ServicesDep) -> JSONResponse:
    def load() -> HostSummary | None:
        chosen = [h for h in _visible(caller, services) if h.host_id == host_id]
        return _summaries(caller, services, chosen)[0] if chosen else None

    summary = await run_in_threadpool(load)
    if summary is None:
        raise Problem(404, "Not found", f"no host {host_id}")
    return respond(caller, summary)
