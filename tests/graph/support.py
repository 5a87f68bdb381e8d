"""Alerts and a small inventory for the correlator's tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import parse_inventory
from fenghuo.model.alert import Alert, Entity, Severity

T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)

INVENTORY_YAML = """
tenants:
  - {id: acme, accounts: ["111111111111"], cidrs: ["10.1.0.0/16"], critical_infrastructure: true}
  - {id: globex, accounts: ["222222222222"], cidrs: ["10.2.0.0/16"]}
  - {id: hooli, accounts: ["333333333333"], cidrs: ["10.3.0.0/16"]}
  - {id: initech, accounts: ["444444444444"], cidrs: ["10.4.0.0/16"]}
shared_services:
  - {name: dns, cidr: 10.255.0.0/24}
hosts:
  - id: hv-01
    vms:
      - {name: acme-web-1, tenant: acme, ips: ["10.1.0.11"]}
      - {name: globex-db-1, tenant: globex, ips: ["10.2.0.11"]}
      - {name: hooli-app-1, tenant: hooli, ips: ["10.3.0.11"]}
  - id: hv-02
    vms:
      - {name: initech-web-1, tenant: initech, ips: ["10.4.0.11"]}
      - {name: globex-web-2, tenant: globex, ips: ["10.2.0.12"]}
    containers:
      - {id: 3f2a1b4c5d6e, tenant: initech}
"""


def inventory() -> InventoryIndex:
    return InventoryIndex(parse_inventory(INVENTORY_YAML))


def alert(
    ident: str,
    detector: str = "vmm-child-process",
    *,
    at: float = 0.0,  # minutes after T0
    minutes: float = 0.0,  # duration
    tenant: str | None = "acme",
    actor: str | None = None,
    host: str | None = None,
    vm: str | None = None,
    entities: tuple[tuple[str, str], ...] = (),
    severity: Severity = Severity.HIGH,
    category: str = "02",
    confidence: float = 0.8,
    details: dict[str, Any] | None = None,
    evidence: tuple[str, ...] = (),
) -> Alert:
    first = T0 + dt.timedelta(minutes=at)
    named = {Entity(t, i) for t, i in entities}
    for kind, value in (("tenant", tenant), ("tenant", actor), ("host", host), ("vm", vm)):
        if value:
            named.add(Entity(kind, value))
    return Alert(
        id=ident,
        detector=detector,
        title=f"{detector} title",
        summary=f"{detector} {ident}",
        severity=severity,
        confidence=confidence,
        technique="T1611",
        category=category,
        tenant_id=tenant,
        actor_tenant_id=actor,
        host_id=host,
        vm_id=vm,
        entities=tuple(sorted(named)),
        first_seen=first,
        last_seen=first + dt.timedelta(minutes=minutes),
        detected_at=first + dt.timedelta(minutes=minutes, seconds=5),
        evidence=evidence,
        details=details or {},
    )
