"""An incident from its group of alerts: a pure function of the set of (final) alert versions and
the inventory, so whatever order the alerts came in, the same group gives the same document.

- id: `stable_id("incident", root)` with root the group's earliest alert (by first_seen, then id).
  Alerts joining later do not change it; when two incidents merge the result keeps the id of the
  one whose root is earlier and the other id is retired; an alert that arrives late with an
  earlier first_seen becomes the root and renames the incident (the correlator reports the
  retired id).
- severity: the highest alert severity, raised to a matched sequence rule's severity.
- category: the GB/T 20986 category with the most severity weight among the alerts.
- risk score 0-100: `severity base x (0.75 + 0.25 x confidence)`, plus 6 if it crosses tenants,
  6 if a critical-infrastructure tenant is affected or exposed, 2 per exposed tenant beyond the
  first (at most 8) and 4 per matched sequence rule; capped at 100.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from fenghuo.graph.grading import Facts, GradingPolicy, grade, reporting
from fenghuo.graph.links import node_id
from fenghuo.graph.sequences import ESCAPE_DETECTORS, matched_rules
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.alert import Alert, Entity, Severity
from fenghuo.model.ids import stable_id
from fenghuo.model.incident import (
    BlastRadius,
    GraphEdge,
    GraphNode,
    Incident,
    TimelineEntry,
)

SEVERITY_BASE = {
    Severity.INFO: 10.0,
    Severity.LOW: 25.0,
    Severity.MEDIUM: 45.0,
    Severity.HIGH: 65.0,
    Severity.CRITICAL: 80.0,
}
_CREDENTIAL_DETECTORS = frozenset({"cross-tenant-credential-use", "anomalous-access-volume"})


def ordered(alerts: Sequence[Alert]) -> list[Alert]:
    return sorted(alerts, key=lambda a: (a.first_seen, a.id))


def incident_id(alerts: Sequence[Alert]) -> str:
    root = min(alerts, key=lambda a: (a.first_seen, a.id))
    return stable_id("incident", root.id)


def _cloud_resources(alert: Alert) -> set[str]:
    found = {e.id for e in alert.entities if e.type == "resource" and "/" not in e.id}
    found |= {e.id for e in alert.entities if e.type == "resource" and e.id.startswith("arn:")}
    principal = alert.details.get("principal")
    if alert.detector in _CREDENTIAL_DETECTORS and isinstance(principal, str):
        found.add(principal)  # what the stolen credentials can reach is the role's access
    return found


def blast_radius(alerts: Sequence[Alert], inventory: InventoryIndex | None) -> BlastRadius:
    """Tenants, VMs, hosts and resources exposed (module `fenghuo.model.incident`)."""
    tenants = {a.tenant_id for a in alerts if a.tenant_id}
    vms = {a.vm_id for a in alerts if a.vm_id}
    vms |= {e.id for a in alerts for e in a.entities if e.type == "vm"}
    hosts = {a.host_id for a in alerts if a.host_id}
    resources: set[str] = set()
    for alert in alerts:
        resources |= _cloud_resources(alert)  # a share's recipients are not exposed: its owner is
    compromised = {a.host_id for a in alerts if a.detector in ESCAPE_DETECTORS and a.host_id}
    if inventory is not None:
        for host_id in compromised:
            host = inventory.hosts.get(host_id)
            if host is None:
                continue
            vms |= {vm.name for vm in host.vms}
            tenants |= {vm.tenant for vm in host.vms} | {c.tenant for c in host.containers}
    return BlastRadius(
        tenants=tuple(sorted(tenants)),
        vms=tuple(sorted(vms)),
        hosts=tuple(sorted(hosts)),
        resources=tuple(sorted(resources)),
    )


def dominant_category(alerts: Sequence[Alert]) -> str:
    weight: dict[str, int] = defaultdict(int)
    for alert in alerts:
        weight[alert.category] += alert.severity.rank + 1
    return max(sorted(weight), key=lambda code: weight[code])  # ties: the lower code


def risk_score(severity: Severity, confidence: float, facts: Facts, sequences: int) -> float:
    score = SEVERITY_BASE[severity] * (0.75 + 0.25 * min(max(confidence, 0.0), 1.0))
    score += 6.0 if facts.cross_tenant else 0.0
    score += 6.0 if facts.critical_infrastructure else 0.0
    score += min(8.0, 2.0 * max(facts.blast_tenants - 1, 0))
    score += 4.0 * sequences
    return round(min(score, 100.0), 1)


def _graph(alerts: Sequence[Alert]) -> tuple[tuple[GraphNode, ...], tuple[GraphEdge, ...]]:
    """Entities as nodes; each alert as edges from where it happened (its VM, else its host,
    else its first entity) to every other entity it names."""
    entities: set[Entity] = set()
    edges: set[tuple[str, str, str, str, dt.datetime]] = set()
    for alert in alerts:
        named = set(alert.entities)
        if alert.vm_id:
            named.add(Entity("vm", alert.vm_id))
        if alert.host_id:
            named.add(Entity("host", alert.host_id))
        entities |= named
        if alert.vm_id:
            anchor = Entity("vm", alert.vm_id)
        elif alert.host_id:
            anchor = Entity("host", alert.host_id)
        else:
            anchor = min(named) if named else Entity("alert", alert.id)
            entities.add(anchor)
        for entity in sorted(named - {anchor}):
            edges.add(
                (node_id(anchor), node_id(entity), alert.id, alert.detector, alert.first_seen)
            )
    nodes = tuple(GraphNode(id=node_id(e), type=e.type, label=e.id) for e in sorted(entities))
    graph_edges = tuple(
        GraphEdge(source=s, target=t, alert_id=i, detector=d, time=alert_time)
        for s, t, i, d, alert_time in sorted(edges, key=lambda e: (e[4], e[2], e[0], e[1]))
    )
    return nodes, graph_edges


def build_incident(
    alerts: Sequence[Alert], inventory: InventoryIndex | None, policy: GradingPolicy
) -> Incident:
    group = ordered(alerts)
    lead = max(group, key=lambda a: (a.severity.rank, -a.first_seen.timestamp(), a.id))
    matched = matched_rules(group, inventory)
    severity = max(
        [lead.severity, *(rule.severity for rule, _, _ in matched)], key=lambda s: s.rank
    )
    radius = blast_radius(group, inventory)
    tenants = sorted({a.tenant_id for a in group if a.tenant_id})
    actors = sorted(
        {a.actor_tenant_id for a in group if a.actor_tenant_id and a.actor_tenant_id != a.tenant_id}
    )
    named_tenants = {e.id for a in group for e in a.entities if e.type == "tenant"}
    cii = inventory is not None and any(
        (t := inventory.tenants.get(name)) is not None and t.critical_infrastructure
        for name in {*radius.tenants, *tenants}
    )
    state_organ = inventory is not None and any(
        (t := inventory.tenants.get(name)) is not None and t.state_organ
        for name in {*radius.tenants, *tenants}
    )
    facts = Facts(
        severity=severity,
        critical_infrastructure=cii,
        state_organ=state_organ,
        cross_tenant=bool(actors) or len(radius.tenants) > 1 or len(named_tenants) > 1,
        blast_tenants=len(radius.tenants),
        sequences=frozenset(rule.id for rule, _, _ in matched),
    )
    incident_grade, basis = grade(policy, facts)
    discovered = min(a.detected_at for a in group)
    hosts = sorted({a.host_id for a in group if a.host_id})
    if matched:
        rule = matched[0][0]
        where = f" on {', '.join(hosts)}" if hosts else ""
        title = f"{rule.title}{where}"
    else:
        title = lead.title if len(group) == 1 else f"{lead.title} (+{len(group) - 1} related)"
    summary = lead.summary
    if matched:
        steps = "; ".join(f"{r.id}: {f.detector} then {t.detector}" for r, f, t in matched)
        summary = f"{steps}. {summary}"
    nodes, edges = _graph(group)
    entities: set[Entity] = set()
    for alert in group:
        entities |= set(alert.entities)
    return Incident(
        id=incident_id(group),
        title=title,
        summary=summary,
        severity=severity,
        alert_ids=tuple(a.id for a in group),
        tenants=tuple(tenants),
        actor_tenants=tuple(actors),
        hosts=tuple(hosts),
        first_seen=group[0].first_seen,
        last_seen=max(a.last_seen for a in group),
        updated_at=max(a.detected_at for a in group),
        category=dominant_category(group),
        grade=incident_grade,
        grade_basis=basis,
        risk_score=risk_score(severity, max(a.confidence for a in group), facts, len(matched)),
        sequences=tuple(rule.id for rule, _, _ in matched),
        blast_radius=radius,
        reporting=reporting(policy, facts, incident_grade, discovered),
        entities=tuple(sorted(entities)),
        timeline=tuple(
            TimelineEntry(
                time=a.first_seen,
                alert_id=a.id,
                detector=a.detector,
                severity=a.severity,
                summary=a.summary,
            )
            for a in group
        ),
        nodes=nodes,
        edges=edges,
        details={
            "sequence_steps": {r.id: [f.id, t.id] for r, f, t in matched},
            "critical_infrastructure": cii,
            "state_organ": state_organ,
            "detected_at": discovered.isoformat(),
        },
    )
