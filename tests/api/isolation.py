"""What the isolation matrix needs besides its tests: who calls, what each caller may see of
which object, and the other tenants' identifiers a tenant viewer must never read.

Everything here is computed from the replayed hour and the inventory file, independently of the
API's own scope and pseudonym code.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fenghuo.intel.collections import Collection
from fenghuo.intel.reports import Report, ReportKind, ReportQuery, load_config, sync_reports
from fenghuo.intel.reports.actions import Actor, create_report
from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import load_inventory as load_inventory_file
from fenghuo.model.alert import Alert
from fenghuo.model.incident import Incident
from fenghuo.store.base import Scope, SuppressionRule
from fenghuo.store.keys import Role
from tests.api.seeded import Hour, SeededApi

API = "/api/v1"


class Access(enum.Enum):
    """Who may call an operation at all."""

    PUBLIC = "public"  # no key needed
    READ = "read"  # admin, soc_analyst, tenant_viewer (its own tenant's objects)
    TRIAGE = "triage"  # admin, soc_analyst
    ADMIN = "admin"
    INGEST = "ingest"  # ingest, admin
    REPORTS = "reports"  # READ's roles and regulator (the reports its grants select)
    ANY_KEY = "any_key"  # every valid key, whatever its role (e.g. /whoami)


ALLOWED: dict[Access, frozenset[str]] = {
    Access.READ: frozenset({"admin", "soc_analyst", "tenant_viewer"}),
    Access.TRIAGE: frozenset({"admin", "soc_analyst"}),
    Access.ADMIN: frozenset({"admin"}),
    Access.INGEST: frozenset({"admin", "ingest"}),
    Access.REPORTS: frozenset({"admin", "soc_analyst", "tenant_viewer", "regulator"}),
    Access.ANY_KEY: frozenset({"admin", "soc_analyst", "tenant_viewer", "regulator", "ingest"}),
}

# Kinds of caller; "tenant_viewer" stands for one viewer of each tenant.
CALLER_KINDS = (
    "anonymous",
    "invalid",
    "revoked",
    "ingest",
    "regulator",
    "tenant_viewer",
    "soc_analyst",
    "admin",
)


@dataclass(frozen=True)
class Who:
    name: str  # "viewer:acme", "admin", "anonymous", ...
    role: str | None  # None: not authenticated (no key, a wrong secret, a revoked key)
    tenant: str | None
    headers: dict[str, str]


def callers(api: SeededApi, kind: str) -> list[Who]:
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    if kind == "anonymous":
        return [Who(kind, None, None, {})]
    if kind in ("invalid", "revoked"):
        return [Who(kind, None, None, bearer(api.tokens[kind]))]
    if kind == "tenant_viewer":
        return [Who(f"viewer:{t}", kind, t, api.auth(f"viewer:{t}")) for t in api.hour.tenants]
    return [Who(kind, kind, None, api.auth(kind))]


@dataclass(frozen=True)
class Target:
    """An id to put in a path: `owners` are the tenants whose viewers may see it (None: any
    caller allowed the operation); `exists` is False for the random id nothing has."""

    id: str
    owners: frozenset[str] | None
    exists: bool = True
    regulator_sees: bool = True  # False: a regulator gets 404 (no collection granted selects it)

    def describe(self) -> str:
        if not self.exists:
            return f"{self.id} (nonexistent)"
        owners = "any" if self.owners is None else ",".join(sorted(self.owners)) or "nobody"
        return f"{self.id} (visible to {owners})"


def nonexistent() -> Target:
    return Target(str(uuid.uuid4()), None, exists=False)


def alert_owners(alert: Alert) -> frozenset[str]:
    return frozenset(t for t in (alert.tenant_id, alert.actor_tenant_id) if t)


def incident_owners(incident: Incident) -> frozenset[str]:
    return frozenset((*incident.tenants, *incident.actor_tenants))


def targets(kind: str, api: SeededApi, inventory: dict[str, Any]) -> list[Target]:
    """Every object of a kind (and, first, a random id of none): alerts, incidents, tenants and
    hosts with the tenants that may see them; formats and keys are nobody's. `new-...` kinds
    are made for the probe, because the probe destroys them (a revoked key or rule)."""
    hour = api.hour
    found: list[Target]
    if kind == "alert":
        found = [Target(a.id, alert_owners(a)) for a in hour.alerts]
    elif kind == "incident":
        found = [Target(i.id, incident_owners(i)) for i in hour.incidents]
    elif kind == "tenant":
        found = [Target(t["id"], frozenset({t["id"]})) for t in inventory["tenants"]]
    elif kind == "host":
        # A tenant viewer sees a host only where its own VMs or containers run.
        found = [
            Target(
                h["id"],
                frozenset(w["tenant"] for w in (*h.get("vms", []), *h.get("containers", []))),
            )
            for h in inventory["hosts"]
        ]
    elif kind == "format":
        found = [Target("native", None)]
    elif kind in ("report", "new-report"):
        found = [
            Target(r.id, frozenset([r.tenant_id] if r.tenant_id else []), regulator_sees=False)
            for r in reports_to_probe(api, fresh=kind == "new-report")
        ]
    elif kind == "new-key":
        key, _token = api.store.keys.create(Role.REGULATOR, name="probe-to-revoke")
        found = [Target(key.id, None)]
    elif kind == "collection":
        found = [Target(new_collection(api).id, None)]
    elif kind == "new-suppression":
        found = [
            Target(new_rule(api, a).id, frozenset({tenant}))
            for tenant, a in one_per_tenant(hour).items()
        ]
    else:
        msg = f"no targets for {kind!r}"
        raise AssertionError(msg)
    return [nonexistent(), *found]


def one_per_tenant(hour: Hour) -> dict[str, Alert]:
    """The first alert of each victim tenant."""
    first: dict[str, Alert] = {}
    for alert in hour.alerts:
        if alert.tenant_id:
            first.setdefault(alert.tenant_id, alert)
    return first


def new_collection(api: SeededApi) -> Collection:
    """A TAXII collection to probe (admins manage collections; nobody else sees them here)."""
    return api.store.collections.create(
        Collection(id=str(uuid.uuid4()), title="probe", created_at=dt.datetime.now(dt.UTC))
    )


def reports_to_probe(api: SeededApi, *, fresh: bool) -> list[Report]:
    """The hour's initial reports (drafted here, idempotently), or `fresh` update reports made
    for the probe (one per reportable incident), because submitting one is final."""
    inventory = InventoryIndex(load_inventory_file(api.hour.root / "inventory.yaml"))
    now = dt.datetime.now(dt.UTC)
    sync_reports(api.store, api.hour.incidents, inventory, now)
    initial = api.store.reports.list(
        Scope.everything(), ReportQuery(kinds=frozenset({ReportKind.INITIAL})), now
    )
    if not fresh:
        return initial
    incidents = {i.id: i for i in api.hour.incidents}
    return [
        create_report(
            api.store,
            incidents[r.incident_id],
            inventory,
            load_config(),
            kind=ReportKind.UPDATE,
            due_at=None,
            actor=Actor("isolation-test", "admin"),
            now=now,
        )
        for r in initial
    ]


def new_rule(api: SeededApi, alert: Alert) -> SuppressionRule:
    return api.store.suppressions.add(
        SuppressionRule(
            id=str(uuid.uuid4()),
            detector=alert.detector,
            tenant_id=alert.tenant_id,
            host_id=alert.host_id,
            created_by="isolation-test",
            created_at=dt.datetime.now(dt.UTC),
            source_alert=alert.id,
        )
    )


def expected_status(access: Access, ok: int, who: Who, target: Target | None) -> int:
    if access is Access.PUBLIC:
        return ok
    if who.role is None:
        return 401
    if who.role not in ALLOWED[access]:
        return 403
    if target is None:
        return ok
    if not target.exists:
        return 404
    if who.role == "regulator" and not target.regulator_sees:
        return 404
    if who.tenant is not None and target.owners is not None and who.tenant not in target.owners:
        return 404
    return ok


# --- other tenants' identifiers ------------------------------------------------------------


def load_inventory(hour: Hour) -> dict[str, Any]:
    inventory: dict[str, Any] = yaml.safe_load(Path(hour.root / "inventory.yaml").read_text())
    return inventory


def hidden_identifiers(inventory: dict[str, Any], tenant: str) -> dict[str, str]:
    """Every identifier of another tenant or its property, from the inventory file: value ->
    what it is (for the failure message)."""
    hidden: dict[str, str] = {}
    for t in inventory["tenants"]:
        if t["id"] == tenant:
            continue
        owner = t["id"]
        hidden[owner] = f"tenant id of {owner}"
        if t.get("name"):
            hidden[t["name"]] = f"tenant name of {owner}"
        for account in t.get("accounts", []):
            hidden[str(account)] = f"account of {owner}"
        for vpc in t.get("vpcs", []):
            hidden[vpc] = f"VPC of {owner}"
    for host in inventory["hosts"]:
        for vm in host.get("vms", []):
            if vm["tenant"] == tenant:
                continue
            what = f"of {vm['tenant']}'s VM {vm['name']}"
            hidden[vm["name"]] = f"name {what}"
            for field in ("uuid", "instance_id"):
                if vm.get(field):
                    hidden[str(vm[field])] = f"{field} {what}"
            for ip in vm.get("ips", []):
                hidden[str(ip)] = f"address {what}"
            for interface in vm.get("interfaces", []):
                hidden[interface] = f"interface {what}"
        for container in host.get("containers", []):
            if container["tenant"] != tenant:
                hidden[container["id"]] = f"container id of {container['tenant']}"
    return hidden


class LeakScanner:
    """Finds another tenant's identifiers in a response text, as whole identifiers (not as
    part of a longer name: "acme-web-1" does not name tenant "acme"), case-insensitively."""

    def __init__(self, hidden: dict[str, str]) -> None:
        self.hidden = {k.casefold(): v for k, v in hidden.items()}
        names = "|".join(re.escape(n) for n in sorted(hidden, key=len, reverse=True))
        self.pattern = re.compile(
            rf"(?<![A-Za-z0-9_\-])(?:{names})(?![A-Za-z0-9_\-])", re.IGNORECASE
        )

    def __call__(self, text: str) -> list[str]:
        found = {m.group(0) for m in self.pattern.finditer(text)}
        return [f"{f!r} ({self.hidden[f.casefold()]})" for f in sorted(found)]


def scanners(hour: Hour, inventory: dict[str, Any]) -> dict[str, LeakScanner]:
    return {t: LeakScanner(hidden_identifiers(inventory, t)) for t in hour.tenants}


# --- what a tenant viewer may see --------------------------------------------------------------


def visible_alerts(hour: Hour, tenant: str) -> list[Alert]:
    return [a for a in hour.alerts if tenant in alert_owners(a)]


def visible_incidents(hour: Hour, tenant: str) -> list[Incident]:
    return [i for i in hour.incidents if tenant in incident_owners(i)]


def words(text: str) -> set[str]:
    """Tokens as the full-text index splits them (alphanumeric runs, case folded)."""
    return set(re.findall(r"[0-9a-z]+", text.casefold()))


def walk(api: SeededApi, who: Who, path: str, params: dict[str, Any]) -> tuple[list[Any], str]:
    """Every item of a paged list (following next_cursor) and the pages' texts."""
    items: list[Any] = []
    texts: list[str] = []
    cursor: str | None = None
    while True:
        page_params = {**params, **({"cursor": cursor} if cursor else {})}
        response = api.client.get(path, headers=who.headers, params=page_params)
        assert response.status_code == 200, f"{path} {params} as {who.name}: {response.text}"
        texts.append(response.text)
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, "\n".join(texts)
