"""Attack-sequence rules: an alert of one kind followed by one of another kind, joined by a key
(the host, the tenant), names the story and raises the incident's severity.

A rule is data: its id, title, the detectors of each step, how each step's join keys are read
from an alert (with the inventory, to place a VM on its host), the time allowed between the steps
and the severity the story deserves. Rules also *link*: the two steps join one incident even when
they share no linking entity (see `links`), because the rule is the evidence that they belong
together (credentials stolen from a tenant, then that tenant's snapshot shared out).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.alert import Alert, Severity

KeyFn = Callable[[Alert, InventoryIndex | None], frozenset[str]]

ESCAPE_DETECTORS = frozenset(
    {"vmm-child-process", "vmm-seccomp-violation", "container-escape", "host-tampering"}
)


def _cross_tenant(alert: Alert) -> bool:
    return bool(alert.actor_tenant_id) and alert.actor_tenant_id != alert.tenant_id


def host_of(alert: Alert, inventory: InventoryIndex | None) -> frozenset[str]:
    """The host the alert's activity happened on."""
    return frozenset({f"host:{alert.host_id}"} if alert.host_id else set())


def crash_hosts(alert: Alert, inventory: InventoryIndex | None) -> frozenset[str]:
    """The hosts a crash alert saw crashes on (its host, or the hosts a series names)."""
    hosts = {e.id for e in alert.entities if e.type == "host"}
    if alert.host_id:
        hosts.add(alert.host_id)
    return frozenset(f"host:{h}" for h in hosts)


def actor_hosts(alert: Alert, inventory: InventoryIndex | None) -> frozenset[str]:
    """The hosts a cross-VM or cross-tenant activity came *from*: the host it was seen on, the
    actor's host a flow names, or the host (per the inventory) of the actor or source VM."""
    hosts = {alert.host_id} if alert.host_id else set()
    actor_host = alert.details.get("actor_host")
    if isinstance(actor_host, str):
        hosts.add(actor_host)
    if inventory is not None:
        for key in ("actor_vm", "source_vm"):
            name = alert.details.get(key)
            if isinstance(name, str) and (vm := inventory.vm_by_name(name)):
                hosts.add(vm.host)
    return frozenset(f"host:{h}" for h in hosts)


def owner_tenant(alert: Alert, inventory: InventoryIndex | None) -> frozenset[str]:
    """The tenant whose credentials or resources the alert is about (its victim)."""
    return frozenset({f"tenant:{alert.tenant_id}"} if alert.tenant_id else set())


def _repeated_crashes(alert: Alert) -> bool:
    crashes = alert.details.get("crashes")
    return isinstance(crashes, int) and crashes >= 2


@dataclass(frozen=True)
class SequenceRule:
    id: str
    title: str
    first: frozenset[str]  # detectors of the first step
    then: frozenset[str]  # detectors of the step that follows
    first_keys: KeyFn
    then_keys: KeyFn
    within: dt.timedelta  # from the end of the first step to the start of the next
    severity: Severity
    first_filter: Callable[[Alert], bool] = lambda _alert: True
    then_filter: Callable[[Alert], bool] = lambda _alert: True

    def is_first(self, alert: Alert) -> bool:
        return alert.detector in self.first and self.first_filter(alert)

    def is_then(self, alert: Alert) -> bool:
        return alert.detector in self.then and self.then_filter(alert)

    def follows(self, first: Alert, then: Alert) -> bool:
        """`then` starts no earlier than `first` and within `within` of its end."""
        return first.first_seen <= then.first_seen <= first.last_seen + self.within

    def matches(self, first: Alert, then: Alert, inventory: InventoryIndex | None) -> bool:
        return (
            first.id != then.id
            and self.is_first(first)
            and self.is_then(then)
            and self.follows(first, then)
            and bool(self.first_keys(first, inventory) & self.then_keys(then, inventory))
        )


RULES: tuple[SequenceRule, ...] = (
    SequenceRule(
        id="escape-cross-tenant",
        title="VM escape with cross-tenant impact",
        first=ESCAPE_DETECTORS,
        then=frozenset({"cross-vm-access", "cross-tenant-flow", "cross-tenant-credential-use"}),
        first_keys=host_of,
        then_keys=actor_hosts,
        within=dt.timedelta(hours=1),
        severity=Severity.CRITICAL,
        then_filter=lambda a: a.detector == "cross-vm-access" or _cross_tenant(a),
    ),
    SequenceRule(
        id="credential-theft-then-sharing",
        title="Stolen credentials used to share the tenant's resources out",
        first=frozenset({"cross-tenant-credential-use"}),
        then=frozenset({"cross-tenant-sharing"}),
        first_keys=owner_tenant,
        then_keys=owner_tenant,
        within=dt.timedelta(hours=2),
        severity=Severity.CRITICAL,
    ),
    SequenceRule(
        id="exploit-development-then-escape",
        title="Exploit development then escape",
        first=frozenset({"vmm-crash"}),
        then=frozenset({"vmm-child-process"}),
        first_keys=crash_hosts,
        then_keys=host_of,
        within=dt.timedelta(hours=1),
        severity=Severity.CRITICAL,
        first_filter=_repeated_crashes,
    ),
)
RULES_BY_ID: dict[str, SequenceRule] = {rule.id: rule for rule in RULES}
MAX_WITHIN = max(rule.within for rule in RULES)


def step_keys(
    alert: Alert, inventory: InventoryIndex | None, rules: tuple[SequenceRule, ...] = RULES
) -> list[tuple[str, str, str]]:
    """(node id, rule id, role) for every rule step the alert can play: the graph links an alert
    in role `first` to one in role `then` through the node when the rule matches."""
    keys = []
    for rule in rules:
        if rule.is_first(alert):
            keys += [
                (f"seq:{rule.id}:{k}", rule.id, "first") for k in rule.first_keys(alert, inventory)
            ]
        if rule.is_then(alert):
            keys += [
                (f"seq:{rule.id}:{k}", rule.id, "then") for k in rule.then_keys(alert, inventory)
            ]
    return sorted(set(keys))


def _earliest_pair(
    rule: SequenceRule, ordered: list[Alert], inventory: InventoryIndex | None
) -> tuple[Alert, Alert] | None:
    """The matching (first, then) pair with the earliest first step, then the earliest next
    step, by (first_seen, id); thens are indexed by key and start time, so a large group costs
    n log n rather than n squared."""
    thens: dict[str, list[tuple[dt.datetime, str, Alert]]] = {}
    for alert in ordered:
        if rule.is_then(alert):
            for key in rule.then_keys(alert, inventory):
                thens.setdefault(key, []).append((alert.first_seen, alert.id, alert))
    if not thens:
        return None
    for first in ordered:
        if not rule.is_first(first):
            continue
        best: tuple[dt.datetime, str, Alert] | None = None
        for key in rule.first_keys(first, inventory):
            bucket = thens.get(key, [])
            at = bisect.bisect_left(bucket, (first.first_seen, ""), key=lambda e: (e[0], e[1]))
            for candidate in bucket[at:]:
                if candidate[0] > first.last_seen + rule.within:
                    break
                if candidate[2].id != first.id:
                    if best is None or candidate[:2] < best[:2]:
                        best = candidate
                    break
        if best is not None:
            return first, best[2]
    return None


def matched_rules(
    alerts: list[Alert], inventory: InventoryIndex | None, rules: tuple[SequenceRule, ...] = RULES
) -> list[tuple[SequenceRule, Alert, Alert]]:
    """Every rule that matches within a group, with its earliest matching pair."""
    found = []
    ordered = sorted(alerts, key=lambda a: (a.first_seen, a.id))
    for rule in rules:
        pair = _earliest_pair(rule, ordered, inventory)
        if pair is not None:
            found.append((rule, *pair))
    return found
