"""The correlator: alerts in, incidents out, in any order.

The entity graph (networkx) holds one node per entity (`host:hv-01`, `vm:acme-web-1`, ...),
one node per alert, and time-stamped links between an alert and the entities it names (edge
attributes `first_seen`, `last_seen`, and `link`: whether the entity may join alerts, see
`links`). Sequence-rule keys are nodes too (`seq:<rule>:<key>`, edges with role `first` or
`then`). Two alerts belong to one incident when they share a linking entity and their evidence
lies within `window` of each other, or when an attack-sequence rule joins them (see
`sequences`). An incident is a connected group of alerts under that relation.

Groups are kept incrementally: a new alert (or a version that only adds links) merges its own
group with its neighbours' groups; a version that loses a link (`merge_alerts` took another
host or tenant from a more severe version) recomputes the components of its old group, which
may split. The incident of a group is built once per `add_many` batch.

Order independence. Versions of an alert are folded by id (`merge_alerts`). The groups are the
connected components of the relation over the folded alerts and `build.build_incident` is a pure
function of a group and the inventory, so the incidents depend only on the set of alert versions
seen, not on their order (tested by property over shuffled versions). One caveat comes from
`merge_alerts` itself: it is commutative, but which version's wording leads is not associative
when a less severe version has a later `last_seen` than two versions of the top severity.

Decay. The newest event time seen (`last_seen` of any alert) drives an event-time horizon,
`newest - retention`. An incident whose alerts all ended before the horizon is final: it and its
alerts leave the graph, so memory holds only the recent incidents. The order-independence
guarantee holds for alerts that arrive no later than `retention - max(window, sequence windows)`
behind the newest (an alert later than that may find its partners gone). An incident that keeps
receiving alerts stays in memory with all of them.

Cost. Adding an alert scans the alerts on its linking entities and rebuilds its incident, so it
is linear in the size of that incident; a consumer should feed `add_many` one poll batch at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import networkx as nx

from fenghuo.graph.build import build_incident
from fenghuo.graph.grading import GradingPolicy, load_policy
from fenghuo.graph.links import gap, linking_entities, node_id
from fenghuo.graph.sequences import MAX_WITHIN, RULES_BY_ID, step_keys
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.alert import Alert, merge_alerts
from fenghuo.model.ids import stable_id
from fenghuo.model.incident import Incident

DEFAULT_WINDOW = dt.timedelta(minutes=15)
DEFAULT_RETENTION = dt.timedelta(hours=3)
BATCH = 1000  # alerts per add_many in `correlate`: an incident is built once per batch


@dataclass(frozen=True)
class CorrelatorConfig:
    window: dt.timedelta = DEFAULT_WINDOW  # the largest gap between alerts linked by an entity
    retention: dt.timedelta = DEFAULT_RETENTION  # event time an idle incident is kept

    def __post_init__(self) -> None:
        if self.retention < max(self.window, MAX_WITHIN):
            msg = "retention must be at least the correlation window and every sequence window"
            raise ValueError(msg)


def _alert_node(alert_id: str) -> str:
    return f"alert:{alert_id}"


@dataclass
class Correlator:
    """Feed alerts (versions in any order) with `add` or `add_many`; each returns the incidents
    it changed. A consumer writes those by id and deletes the ids listed in `retired` (merged
    into another incident, or renamed because an earlier alert joined). `incidents()` is what is
    still in memory; decayed incidents were final when last returned."""

    inventory: InventoryIndex | None = None
    config: CorrelatorConfig = field(default_factory=CorrelatorConfig)
    policy: GradingPolicy = field(default_factory=load_policy)
    graph: nx.Graph[str] = field(default_factory=nx.Graph, init=False)
    retired: list[str] = field(default_factory=list, init=False)  # ids gone in the last add
    _alerts: dict[str, Alert] = field(default_factory=dict, init=False)
    _group_of: dict[str, str] = field(default_factory=dict, init=False)  # alert -> incident
    _groups: dict[str, frozenset[str]] = field(default_factory=dict, init=False)
    _root: dict[str, str] = field(default_factory=dict, init=False)  # incident -> its root
    _dirty: set[str] = field(default_factory=set, init=False)  # groups changed in this batch
    _incidents: dict[str, Incident] = field(default_factory=dict, init=False)
    _newest: dt.datetime | None = field(default=None, init=False)

    # --- the graph ---------------------------------------------------------------------------

    def _link(self, alert: Alert) -> None:
        """(Re)attach the alert's node to its entities and sequence-step keys."""
        node = _alert_node(alert.id)
        if node in self.graph:
            self.graph.remove_edges_from(list(self.graph.edges(node)))
        self.graph.add_node(node, kind="alert", alert_id=alert.id)
        linking = linking_entities(alert, self.inventory)
        times = {"first_seen": alert.first_seen, "last_seen": alert.last_seen}
        for entity in {*alert.entities, *linking}:
            target = node_id(entity)
            self.graph.add_node(target, kind="entity", type=entity.type, label=entity.id)
            self.graph.add_edge(node, target, link=entity in linking, role="entity", **times)
        for key, rule_id, role in step_keys(alert, self.inventory):
            self.graph.add_node(key, kind="sequence", rule=rule_id)
            self.graph.add_edge(node, key, link=True, role=role, **times)

    def _linked(self, a: Alert, b: Alert, via: str, role_a: str, role_b: str) -> bool:
        if role_a == "entity":
            return gap(a, b) <= self.config.window
        if role_a == role_b:
            return False
        rule = RULES_BY_ID[self.graph.nodes[via]["rule"]]
        first, then = (a, b) if role_a == "first" else (b, a)
        return rule.follows(first, then)

    def _neighbours(self, alert_id: str, skip: Callable[[str], bool]) -> Iterator[str]:
        """Alerts linked to this one, except those `skip` rules out (before the link test,
        which is the costly part on an entity with many alerts)."""
        alert = self._alerts[alert_id]
        node = _alert_node(alert_id)
        for via, data in self.graph.adj[node].items():
            if not data["link"]:
                continue
            for other_node, other in self.graph.adj[via].items():
                if other_node == node or not other["link"]:
                    continue
                other_id = self.graph.nodes[other_node]["alert_id"]
                if skip(other_id):
                    continue
                if self._linked(alert, self._alerts[other_id], via, data["role"], other["role"]):
                    yield other_id

    def _component(self, start: str) -> set[str]:
        seen = {start}
        todo = [start]
        while todo:
            for other in self._neighbours(todo.pop(), seen.__contains__):
                seen.add(other)
                todo.append(other)
        return seen

    def _root_key(self, alert_id: str) -> tuple[dt.datetime, str]:
        return (self._alerts[alert_id].first_seen, alert_id)

    def _set_group(self, members: set[str], root: str) -> None:
        ident = stable_id("incident", root)  # as build.incident_id: the earliest alert
        self._groups[ident] = frozenset(members)
        self._root[ident] = root
        for member in members:
            self._group_of[member] = ident
        self._dirty.add(ident)

    def _fold(self, alert: Alert) -> None:
        known = self._alerts.get(alert.id)
        folded = alert if known is None else merge_alerts(known, alert)
        if folded == known:
            return
        before: set[str] = set()
        if known is not None:
            before = set(self._neighbours(alert.id, lambda _other: False))
        self._alerts[alert.id] = folded
        if self._newest is None or folded.last_seen > self._newest:
            self._newest = folded.last_seen
        self._link(folded)
        old_group = self._group_of.get(alert.id)
        if before and not before <= set(self._neighbours(alert.id, lambda _other: False)):
            # A link was lost (a version changed the alert's host or tenants): the old group
            # may split; recompute the components around it.
            assert old_group is not None
            affected = set(self._groups.pop(old_group)) | {alert.id}
            self._root.pop(old_group)
            while affected:
                component = self._component(min(affected))
                affected -= component
                for other in {self._group_of[a] for a in component if a in self._group_of}:
                    if other != old_group and other in self._groups:
                        self._groups.pop(other)
                        self._root.pop(other)
                self._set_group(component, min(component, key=self._root_key))
            return
        # Links were only added: the alert's group absorbs the groups of its new neighbours.
        groups = {old_group} if old_group is not None else set()
        members = {alert.id}
        for other in self._neighbours(
            alert.id, lambda other: self._group_of.get(other) in groups or other in members
        ):
            group = self._group_of.get(other)
            if group is None:
                members.add(other)
            else:
                groups.add(group)
        roots = [alert.id] + [self._root[g] for g in groups]
        for group in groups:
            members |= self._groups.pop(group)
            self._root.pop(group)
        self._set_group(members, min(roots, key=self._root_key))

    # --- the interface -----------------------------------------------------------------------

    def add(self, alert: Alert) -> list[Incident]:
        """Take one alert (or a new version of one); return the incidents it changed, ordered by
        id. `retired` then lists the ids of incidents that no longer exist (merged or renamed)."""
        return self.add_many([alert])

    def add_many(
        self, alerts: Iterable[Alert], *, event_time: dt.datetime | None = None
    ) -> list[Incident]:
        """`add` for a batch: each changed incident is built once, at the end of the batch.

        Decay runs against `event_time` when given (a consumer of several partitions passes
        the slowest partition's progress, so one partition read ahead cannot age out what
        another has yet to deliver), else against the newest alert seen."""
        self.retired = []
        for alert in alerts:
            self._fold(alert)
        changed = []
        for ident in sorted(self._dirty):
            if ident not in self._groups:
                continue  # merged into another within the batch
            incident = build_incident(
                [self._alerts[a] for a in self._groups[ident]], self.inventory, self.policy
            )
            if self._incidents.get(ident) != incident:
                self._incidents[ident] = incident
                changed.append(incident)
        self._dirty.clear()
        for gone in sorted(set(self._incidents) - set(self._groups)):
            del self._incidents[gone]
            self.retired.append(gone)
        self._expire(event_time)
        return changed

    def incidents(self) -> list[Incident]:
        """The incidents in memory (not yet decayed), ordered by (first_seen, id)."""
        return sorted(self._incidents.values(), key=lambda i: (i.first_seen, i.id))

    def __len__(self) -> int:
        """Alerts held in memory."""
        return len(self._alerts)

    def _expire(self, event_time: dt.datetime | None) -> None:
        reference = (
            self._newest if event_time is None else min(event_time, self._newest or event_time)
        )
        if reference is None:
            return
        horizon = reference - self.config.retention
        for ident, incident in list(self._incidents.items()):
            if incident.last_seen >= horizon:
                continue
            self._root.pop(ident)
            for member in self._groups.pop(ident):
                del self._alerts[member]
                del self._group_of[member]
                node = _alert_node(member)
                neighbours = list(self.graph.adj[node])
                self.graph.remove_node(node)
                self.graph.remove_nodes_from(n for n in neighbours if self.graph.degree(n) == 0)
            del self._incidents[ident]


def correlate(
    alerts: Iterable[Alert],
    inventory: InventoryIndex | None = None,
    config: CorrelatorConfig | None = None,
    policy: GradingPolicy | None = None,
) -> list[Incident]:
    """Every final incident of a bounded set of alerts (versions in any order), as replay writes
    them: the last version of each incident emitted, minus retired ids, ordered by
    (first_seen, id). Decayed incidents are included: they were final when they left memory."""
    correlator = Correlator(
        inventory, config or CorrelatorConfig(), policy if policy is not None else load_policy()
    )
    final: dict[str, Incident] = {}
    batch: list[Alert] = []

    def flush() -> None:
        for incident in correlator.add_many(batch):
            final[incident.id] = incident
        for gone in correlator.retired:
            final.pop(gone, None)
        batch.clear()

    for alert in alerts:
        batch.append(alert)
        if len(batch) >= BATCH:
            flush()
    flush()
    return sorted(final.values(), key=lambda i: (i.first_seen, i.id))
