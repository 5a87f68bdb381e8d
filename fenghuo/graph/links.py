"""Which entities of an alert connect it to other alerts.

Every entity of an alert becomes a node of the entity graph (the incident's graph view shows them
all), but only some entities *link* alerts into one incident. Linking through a hub would merge
unrelated activity, so:

- `tenant` never links on its own: every alert of a tenant names it. A cross-tenant alert links
  through its ordered tenant pair instead (`pair:ACTOR>VICTIM`): two alerts of the same actor
  against the same victim within the window are one campaign (a flow-log probe and the flow it
  found, say), while the tenants' other alerts stay apart.
- `host` links only through the alert's own `host_id`, i.e. activity seen *on* the hypervisor
  (its auditd, libvirt or Falco telemetry). Alerts that merely *mention* hosts (the hosts of a
  credential's source VM, the placements of a co-residency probe) do not link through them: a host
  runs dozens of VMs of many tenants.
- `account` does not link: in this cloud an account is a tenant's whole estate (CloudTrail's
  accountId), as much a hub as the tenant. The credential-then-sharing sequence rule links the
  alerts of one account where it matters (see `sequences`).
- `resource` links when it is a cloud resource (`type:kind:id`, or an ARN) but not when it is a
  container image reference: `docker.io/library/redis:7.2.4` runs in every tenant.
- `vm`, `ip` link, but an alert naming more than `FAN_OUT` of them lists the *targets* of a sweep
  (a port scan's victims, a probe's neighbours): those do not link, only its own `vm_id` does.
- `ip` of a provider shared service (the inventory's `shared_services`, DNS say) never links:
  every tenant talks to it.
- `container` and `process` (host-scoped pid) always link.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.alert import Alert, Entity

FAN_OUT = 3  # more entities of one type than this in one alert: a target list, not an anchor
LINKING_TYPES = frozenset({"host", "vm", "container", "process", "resource", "ip", "pair"})
SWEEP_TYPES = frozenset({"vm", "ip"})


def node_id(entity: Entity) -> str:
    return f"{entity.type}:{entity.id}"


def _cloud_resource(resource_id: str) -> bool:
    """An ARN or the detectors' `service:kind:id` form; not a container image reference."""
    return resource_id.startswith("arn:") or (
        "/" not in resource_id and resource_id.count(":") >= 2
    )


def _shared_service(ip: str, inventory: InventoryIndex) -> bool:
    owner = inventory.owner_of_ip(ip)
    return owner is not None and owner[0] == "service"


def linking_entities(alert: Alert, inventory: InventoryIndex | None = None) -> frozenset[Entity]:
    """The entities through which `alert` connects to others (module docstring)."""
    counts = Counter(e.type for e in alert.entities)
    linking: set[Entity] = set()
    for entity in alert.entities:
        if entity.type == "host":
            continue  # only host_id, below
        if entity.type in SWEEP_TYPES and counts[entity.type] > FAN_OUT:
            continue
        if entity.type == "resource" and not _cloud_resource(entity.id):
            continue
        if entity.type == "ip" and inventory is not None and _shared_service(entity.id, inventory):
            continue
        if entity.type in LINKING_TYPES:
            linking.add(entity)
    if alert.host_id:
        linking.add(Entity("host", alert.host_id))
    if alert.vm_id:
        linking.add(Entity("vm", alert.vm_id))
    if alert.actor_tenant_id and alert.tenant_id and alert.actor_tenant_id != alert.tenant_id:
        linking.add(Entity("pair", f"{alert.actor_tenant_id}>{alert.tenant_id}"))
    return frozenset(linking)


def gap(a: Alert, b: Alert) -> dt.timedelta:
    """Time between two alerts' evidence ranges; zero or negative when they overlap."""
    return max(a.first_seen, b.first_seen) - min(a.last_seen, b.last_seen)
