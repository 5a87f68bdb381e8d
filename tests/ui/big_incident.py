"""A big incident for the browser suite: one VM escape on a host followed by a wide lateral
sweep (cross-tenant flows to most other tenants' VMs, co-residency probes, second-stage escapes on
six more hosts, stolen instance credentials), raised as real alerts of the hour's detectors on the
hour's six tenants spread over twelve more hosts, and correlated by the real correlator into one
incident of about 310 entities and 230 alerts.

Also what the console's entity graph must draw for it (`expected_entities`, `neighbourhood`),
computed from the incident and the estate, not from the page.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import yaml

from fenghuo.graph import correlate
from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import parse_inventory
from fenghuo.model.alert import Alert, Entity
from fenghuo.model.ids import stable_id
from fenghuo.model.incident import Incident
from tests.api.seeded import Hour

# ---------------------------------------------------------------------------------------------
# The estate: the hour's six tenants on twelve more hosts (ten VMs and three containers each).

HOSTS = [f"hv-{n}" for n in range(10, 22)]
VMS_PER_HOST = 10
CONTAINERS_PER_HOST = 3
WORKLOADS = ("web", "api", "db", "etl", "cache", "worker", "gw", "batch")
ATTACKER = "globex"
T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)  # after the hour: nothing joins it


@dataclass(frozen=True)
class Vm:
    name: str
    tenant: str
    host: str
    ip: str


@dataclass(frozen=True)
class Estate:
    doc: dict[str, Any]  # the inventory document (the hour's, grown)
    vms: list[Vm]
    containers: list[tuple[str, str, str]]  # (id, tenant, host)
    accounts: dict[str, str]  # tenant -> its first account


def grow(doc: dict[str, Any], rng: random.Random) -> Estate:
    """The inventory `doc` with HOSTS added: VMs of random tenants (the first one on hv-10 the
    attacker's), addresses in their tenants' CIDRs; checked by the inventory's own parser."""
    tenants = [t["id"] for t in doc["tenants"]]
    prefix = {t["id"]: str(t["cidrs"][0]).rsplit(".", 2)[0] for t in doc["tenants"]}  # "10.1"
    taken = {str(ip) for h in doc["hosts"] for v in h.get("vms", []) for ip in v.get("ips", [])}
    serial = dict.fromkeys(tenants, 20)
    vms: list[Vm] = []
    containers: list[tuple[str, str, str]] = []
    hosts = []
    for h, host in enumerate(HOSTS):
        placed = []
        for slot in range(VMS_PER_HOST):
            tenant = ATTACKER if (h, slot) == (0, 0) else rng.choice(tenants)
            serial[tenant] += 1
            ip = f"{prefix[tenant]}.{200 + h}.{10 + slot}"
            assert ip not in taken
            vm = Vm(
                f"{tenant}-{WORKLOADS[slot % len(WORKLOADS)]}-{serial[tenant]}", tenant, host, ip
            )
            vms.append(vm)
            placed.append({"name": vm.name, "tenant": tenant, "ips": [ip]})
        boxes = []
        for _ in range(CONTAINERS_PER_HOST):
            cid, tenant = f"{rng.getrandbits(48):012x}", rng.choice(tenants)
            containers.append((cid, tenant, host))
            boxes.append(
                {"id": cid, "tenant": tenant, "name": rng.choice(["api", "job", "sidecar"])}
            )
        hosts.append({"id": host, "ip": f"192.168.11.{h + 10}", "vms": placed, "containers": boxes})
    grown = {**doc, "hosts": [*doc["hosts"], *hosts]}
    parse_inventory(yaml.safe_dump(grown))  # still a valid inventory
    accounts = {t["id"]: str(t["accounts"][0]) for t in doc["tenants"]}
    return Estate(grown, vms, containers, accounts)


# ---------------------------------------------------------------------------------------------
# The attack, as the detectors would raise it (wording and metadata from the hour's alerts).


class Raise:
    """Builds alerts of the hour's detectors with new entities, times and dedup keys."""

    def __init__(self, templates: dict[str, Alert]) -> None:
        self.templates = templates
        self.alerts: list[Alert] = []

    def __call__(
        self,
        detector: str,
        key: str,
        start: dt.datetime,
        *,
        tenant: str,
        entities: list[Entity],
        summary: str,
        actor: str | None = None,
        host: str | None = None,
        vm: str | None = None,
        minutes: float = 2.0,
        details: dict[str, Any] | None = None,
    ) -> Alert:
        window = start.replace(minute=0, second=0, microsecond=0)
        end = start + dt.timedelta(minutes=minutes)
        alert = msgspec.structs.replace(
            self.templates[detector],
            id=stable_id("alert", detector, key, window.isoformat()),
            summary=summary,
            tenant_id=tenant,
            actor_tenant_id=actor,
            host_id=host,
            vm_id=vm,
            entities=tuple(sorted(set(entities))),
            first_seen=start,
            last_seen=end,
            detected_at=end + dt.timedelta(seconds=5),
            evidence=(),
            evidence_count=3,
            dedup_key=key,
            window_start=window,
            details=details or {},
        )
        self.alerts.append(alert)
        return alert


def ents(*ids: str) -> list[Entity]:
    """Entities from graph node ids ("vm:acme-web-21")."""
    return [Entity(*i.split(":", 1)) for i in ids]


def attack(estate: Estate, templates: dict[str, Alert], rng: random.Random) -> list[Alert]:
    """The alerts of the attack, from T0 over about forty minutes."""
    raise_ = Raise(templates)
    entry = estate.vms[0]  # the attacker's VM on hv-10
    pids = iter(range(4100, 9999, 7))

    def at(minutes: float) -> dt.datetime:
        return T0 + dt.timedelta(minutes=minutes)

    def escape(vm: Vm, minute: float, *, cross_vm: bool) -> None:
        """On `vm`'s host: its VMM spawns a shell and writes host files, (opens other tenants'
        disks,) and the containers beside it break out."""
        host, name, tenant = f"host:{vm.host}", f"vm:{vm.name}", f"tenant:{vm.tenant}"
        shell = [f"process:{vm.host}:{next(pids)}" for _ in range(5)]
        raise_(
            "vmm-child-process",
            f"{vm.host}/{vm.name}",
            at(minute),
            tenant=vm.tenant,
            host=vm.host,
            vm=vm.name,
            entities=ents(host, tenant, name, *shell),
            summary=f"QEMU of {vm.name} (tenant {vm.tenant}) on host {vm.host} started bash",
        )
        raise_(
            "host-tampering",
            f"{vm.host}/{vm.name}/file",
            at(minute + 1),
            tenant=vm.tenant,
            host=vm.host,
            vm=vm.name,
            entities=ents(host, tenant, name, shell[-1]),
            summary=f"a process started by QEMU of {vm.name} wrote /root/.ssh/authorized_keys",
        )
        qemu = f"process:{vm.host}:{next(pids)}"
        others = [v for v in estate.vms if v.host == vm.host and v.tenant != vm.tenant]
        for i, other in enumerate(others[:6] if cross_vm else []):
            raise_(
                "cross-vm-access",
                f"{vm.host}/{vm.name}->{other.name}",
                at(minute + 2 + i / 4),
                tenant=other.tenant,
                actor=vm.tenant,
                host=vm.host,
                vm=vm.name,
                entities=ents(
                    host, qemu, tenant, f"tenant:{other.tenant}", name, f"vm:{other.name}"
                ),
                summary=f"QEMU of {vm.name} opened {other.name}'s disk image for writing",
                details={"actor_vm": vm.name, "target_vm": other.name},
            )
        for cid, owner, on in estate.containers:
            if on == vm.host:
                raise_(
                    "container-escape",
                    f"{on}/{cid}",
                    at(minute + 3),
                    tenant=owner,
                    host=on,
                    entities=ents(
                        f"container:{cid}",
                        host,
                        f"tenant:{owner}",
                        f"process:{on}:{next(pids)}",
                        "resource:docker.io/library/busybox:1.36",
                    ),
                    summary=f"Container {cid} of tenant {owner} on host {on} attempted an "
                    "escape: kernel core_pattern overwrite",
                )

    escape(entry, 0, cross_vm=True)
    # The sweep: flows from the escaped VM to most VMs of the other tenants, two services each.
    targets = [v for v in estate.vms if v.tenant != ATTACKER]
    rng.shuffle(targets)
    reached = targets[:84]
    for i, vm in enumerate(reached):
        for j, service in enumerate(("22/tcp", "6379/tcp" if i % 2 else "3306/tcp")):
            raise_(
                "cross-tenant-flow",
                f"{ATTACKER}>{vm.tenant}/{vm.name}/{service}",
                at(4 + i / 3 + j),
                tenant=vm.tenant,
                actor=ATTACKER,
                vm=vm.name,
                entities=ents(
                    f"ip:{entry.ip}",
                    f"ip:{vm.ip}",
                    f"tenant:{ATTACKER}",
                    f"tenant:{vm.tenant}",
                    f"vm:{entry.name}",
                    f"vm:{vm.name}",
                ),
                summary=f"Tenant {ATTACKER} ({entry.ip}, VM {entry.name}) reached tenant "
                f"{vm.tenant} ({vm.ip}:{service}, VM {vm.name}) without a peering",
                details={"actor_vm": entry.name, "victim_vm": vm.name, "actor_host": entry.host},
            )
    # Co-residency probes: the attacker's VM churn lists every VM of each victim on these hosts.
    for tenant in sorted({v.tenant for v in targets}):
        theirs = [v for v in estate.vms if v.tenant == tenant]
        raise_(
            "co-residency-probing",
            f"{ATTACKER}>{tenant}",
            at(5),
            minutes=30,
            tenant=tenant,
            actor=ATTACKER,
            entities=ents(
                f"tenant:{ATTACKER}",
                f"tenant:{tenant}",
                *{f"host:{v.host}" for v in theirs},
                *(f"vm:{v.name}" for v in theirs),
            ),
            summary=f"Tenant {ATTACKER} launched VMs landing beside tenant {tenant}",
        )
    # Second-stage escapes from reached VMs on six other hosts; their instance roles stolen.
    second: dict[str, Vm] = {}
    for vm in reached:
        if vm.host != entry.host:
            second.setdefault(vm.host, vm)
    for vm in list(second.values())[:6]:
        escape(vm, 8 + reached.index(vm) / 3, cross_vm=False)
    for k, vm in enumerate(reached[:12]):
        account = estate.accounts[vm.tenant]
        raise_(
            "cross-tenant-credential-use",
            f"{vm.name}|{entry.ip}",
            at(5 + k / 3),
            tenant=vm.tenant,
            actor=ATTACKER,
            vm=vm.name,
            entities=ents(
                f"account:{account}",
                f"host:{vm.host}",
                f"ip:{entry.ip}",
                f"tenant:{ATTACKER}",
                f"tenant:{vm.tenant}",
                f"vm:{entry.name}",
                f"vm:{vm.name}",
            ),
            summary=f"Tenant {vm.tenant}'s instance role credentials of {vm.name} called "
            f"GetObject from {entry.ip} (VM {entry.name}, tenant {ATTACKER})",
            details={"principal": f"arn:aws-cn:sts::{account}:assumed-role/app/{vm.name}"},
        )
    return raise_.alerts


@dataclass(frozen=True)
class Big:
    hour: Hour  # the hour plus the big incident's alerts, on the grown inventory
    incident: Incident
    estate: Estate


def build(hour: Hour, root: Path, seed: int = 7) -> Big:
    """The hour plus the big incident, its inventory written under `root` (the Hour's root)."""
    rng = random.Random(seed)
    estate = grow(yaml.safe_load((hour.root / "inventory.yaml").read_text()), rng)
    (root / "inventory.yaml").write_text(yaml.safe_dump(estate.doc))
    index = InventoryIndex(parse_inventory((root / "inventory.yaml").read_text()))
    alerts = attack(estate, {a.detector: a for a in hour.alerts}, rng)
    incidents = correlate(alerts, index)
    assert len(incidents) == 1, f"the attack should be one incident, not {len(incidents)}"
    incident = incidents[0]
    assert set(incident.alert_ids) == {a.id for a in alerts}
    return Big(Hour(root, [*hour.alerts, *alerts], [*hour.incidents, incident]), incident, estate)


def expected_entities(big: Big) -> set[str]:
    """What the graph draws: the incident's nodes and link ends, the blast radius (tenants,
    hosts, VMs, resources) and the tenants owning a drawn VM or container (ui/js/graph/)."""
    inc, radius = big.incident, big.incident.blast_radius
    ids = {n.id for n in inc.nodes} | {e.source for e in inc.edges} | {e.target for e in inc.edges}
    ids |= {f"tenant:{t}" for t in (*inc.actor_tenants, *inc.tenants, *radius.tenants)}
    ids |= {f"host:{h}" for h in (*inc.hosts, *radius.hosts)}
    ids |= {f"vm:{v}" for v in radius.vms} | {f"resource:{r}" for r in radius.resources}
    owner = {f"vm:{v.name}": v.tenant for v in big.estate.vms}
    owner |= {f"container:{c}": t for c, t, _ in big.estate.containers}
    return ids | {f"tenant:{owner[i]}" for i in ids if i in owner}


def neighbourhood(big: Big, node: str) -> set[str]:
    """A VM or other entity (not a resource) and what an alert link or ownership (a VM's
    tenant) ties it to in the graph."""
    found = {node}
    for e in big.incident.edges:
        if node in (e.source, e.target):
            found |= {e.source, e.target}
    owner = {f"vm:{v.name}": v.tenant for v in big.estate.vms}
    if node in owner:
        found.add(f"tenant:{owner[node]}")
    return found
