"""cross-tenant-flow: traffic between two tenants' address spaces that nothing sanctions.

Tenant networks are isolated: a packet from one tenant's addresses to another's should only exist
over a peering both agreed to, or to a provider shared service (DNS, metadata). An accepted flow
with payload between two tenants' addresses otherwise means the isolation failed (a routing or
security group error, a compromised virtual switch, an escaped VM on the host) and data crossed
the boundary; when both VMs run on the same host, a host-level breach is the likelier cause.
Rejected flows across the boundary are someone mapping a neighbour: reported as probing, one
alert per (source tenant, target tenant) and window with the count.

The sender's interface and the receiver's each report the same conversation, and each also
reports the replies; every record is oriented to the conversation's initiator (the actor) and
responder (the victim), so all of them fold into one alert. Settings: `exempt_ports` (service
ports never reported), `min_bytes` (smallest accepted flow reported, default 1), `min_rejected`
(rejected flows before probing is reported, default 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fenghuo.detectors.base import Case, Context, Detector, DetectorMeta, Expect, Finding, Records
from fenghuo.detectors.engine import window_start
from fenghuo.detectors.network import FlowEnds, orient
from fenghuo.detectors.taxonomy import CYBER_ATTACK, DATA_SECURITY
from fenghuo.inventory.index import InventoryIndex, VmRecord
from fenghuo.model import Event, Flow
from fenghuo.model.alert import Entity, Severity

PROBING_TECHNIQUE = "T1046"  # Network Service Discovery, for the rejected-flow alerts


@dataclass(frozen=True, slots=True)
class Probe:
    """One rejected cross-tenant flow."""

    event_id: str
    start: dt.datetime
    end: dt.datetime
    initiator: str
    responder: str
    service: str
    reported_by: str | None


@dataclass
class ProbeWindow:
    """Rejected flows of one (actor, victim) pair in one dedup window."""

    actor: str
    victim: str
    start: dt.datetime
    probes: dict[str, Probe] = field(default_factory=dict)
    reported: int = 0  # how many probes the last finding covered


@dataclass
class FlowState:
    windows: dict[str, ProbeWindow] = field(default_factory=dict)


def _tenant(index: InventoryIndex, address: str) -> str | None:
    """The tenant owning an address; None for shared services and unknown (internet) ones."""
    owner = index.owner_of_ip(address)
    return owner[1] if owner is not None and owner[0] == "tenant" else None


def _ports(value: Any) -> frozenset[int]:
    return frozenset(int(p) for p in value or ())


def _service_order(service: str) -> tuple[int, str]:
    port, _, _ = service.partition("/")
    return (int(port) if port.isdigit() else -1, service)


def _vm_text(vm: VmRecord | None) -> str:
    return f", VM {vm.name}" if vm is not None else ""


class CrossTenantFlow(Detector):
    meta = DetectorMeta(
        id="cross-tenant-flow",
        title="Traffic between tenants without a peering",
        severity=Severity.HIGH,
        confidence=0.8,
        technique="T1599",
        category=DATA_SECURITY,
        description=(
            "A VPC flow carried data from one tenant's addresses to another tenant's without a "
            "sanctioned peering or shared service (critical when both VMs share a host), or "
            "rejected flows show one tenant probing another's addresses (medium)."
        ),
        runbook=(
            "1. Confirm the addresses' owners and that no peering or shared service covers them. "
            "2. Find the path: route tables, security groups, the virtual switch and, for "
            "co-resident VMs, the host (escape or vSwitch compromise?). "
            "3. Block the path; inform the victim tenant (details list ports, bytes, VMs). "
            "4. For probing, review the source tenant's VMs for compromise or abuse."
        ),
        dedup_window=dt.timedelta(minutes=30),
    )
    inputs = (Flow,)

    def key(self, event: Event) -> str | None:
        if not isinstance(event, Flow) or event.log_status != "OK" or event.action is None:
            return None
        tenants = {t for t in (event.tenant_id, *event.related_tenant_ids) if t}
        return "|".join(sorted(tenants)) if len(tenants) >= 2 else None

    def new_state(self) -> FlowState:
        return FlowState()

    def is_idle(self, state: Any) -> bool:
        return isinstance(state, FlowState) and not state.windows

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(event, Flow)
        assert isinstance(state, FlowState)
        ends = orient(event)
        if ends is None:
            return
        index = ctx.inventory
        actor = _tenant(index, ends.initiator)
        victim = _tenant(index, ends.responder)
        if actor is None or victim is None or actor == victim or index.peered(actor, victim):
            return
        if ends.service_port in _ports(ctx.setting("exempt_ports", ())):
            return
        if event.action == "ACCEPT":
            if (event.bytes or 0) >= max(1, int(ctx.setting("min_bytes", 1))):
                yield self._accepted(event, ends, actor, victim, index)
            return
        width = self.meta.dedup_window
        start = window_start(event.start, width)
        window = state.windows.setdefault(
            f"{actor}>{victim}@{start.isoformat()}", ProbeWindow(actor, victim, start)
        )
        window.probes[event.id] = Probe(
            event.id,
            event.start,
            event.end,
            ends.initiator,
            ends.responder,
            ends.service,
            event.interface_id,
        )
        ctx.set_timer(start + width)  # report the window once the watermark has passed it
        ctx.set_timer(start + 2 * width)  # then forget it

    def on_timer(self, at: dt.datetime, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(state, FlowState)
        width = self.meta.dedup_window
        least = max(1, int(ctx.setting("min_rejected", 1)))
        for name, window in sorted(state.windows.items()):
            count = len(window.probes)
            if window.start + width <= at and count > window.reported and count >= least:
                window.reported = count
                yield self._probing(window, ctx.inventory)
            if window.start + 2 * width <= at:
                del state.windows[name]

    def _accepted(
        self, flow: Flow, ends: FlowEnds, actor: str, victim: str, index: InventoryIndex
    ) -> Finding:
        src_vm = index.vm_by_ip(ends.initiator)
        dst_vm = index.vm_by_ip(ends.responder)
        shared_host = src_vm.host if src_vm and dst_vm and src_vm.host == dst_vm.host else None
        on_host = f"; both VMs run on host {shared_host}" if shared_host else ""
        replied = ends.initiator != (flow.pkt_src_addr or flow.src_addr)
        direction = f"{victim}->{actor}" if replied else f"{actor}->{victim}"
        entities = [Entity("ip", ends.initiator), Entity("ip", ends.responder)]
        entities += [Entity("vm", vm.name) for vm in (src_vm, dst_vm) if vm is not None]
        return Finding(
            summary=(
                f"Tenant {actor} ({ends.initiator}{_vm_text(src_vm)}) reached "
                f"tenant {victim} ({ends.responder}:{ends.service}"
                f"{_vm_text(dst_vm)}) without a peering: {flow.bytes} bytes {direction} "
                f"accepted{on_host}"
            ),
            tenant_id=victim,
            actor_tenant_id=actor,
            host_id=shared_host,
            vm_id=dst_vm.name if dst_vm else None,
            first_seen=flow.start,
            last_seen=flow.end,
            evidence=(flow.id,),
            entities=tuple(entities),
            severity=Severity.CRITICAL if shared_host else Severity.HIGH,
            dedup_key=f"{actor}>{victim}",
            details={
                "initiator": ends.initiator,
                "responder": ends.responder,
                "service": ends.service,
                "bytes": flow.bytes,
                "bytes_direction": direction,
                "packets": flow.packets,
                "reported_by": flow.interface_id,
                "flow_direction": flow.flow_direction,
                "actor_vm": src_vm.name if src_vm else None,
                "victim_vm": dst_vm.name if dst_vm else None,
                "actor_host": src_vm.host if src_vm else None,
                "victim_host": dst_vm.host if dst_vm else None,
                "co_resident": shared_host is not None,
            },
        )

    def _probing(self, window: ProbeWindow, index: InventoryIndex) -> Finding:
        probes = sorted(window.probes.values(), key=lambda p: (p.start, p.event_id))
        sources = sorted({p.initiator for p in probes})
        targets = sorted({p.responder for p in probes})
        services = sorted({p.service for p in probes}, key=_service_order)
        vms = sorted({vm.name for t in targets if (vm := index.vm_by_ip(t)) is not None})
        return Finding(
            summary=(
                f"Tenant {window.actor} probed tenant {window.victim}: {len(probes)} rejected "
                f"flows from {', '.join(sources)} to {', '.join(targets)} on "
                f"{', '.join(services)}, with no peering between them"
            ),
            tenant_id=window.victim,
            actor_tenant_id=window.actor,
            vm_id=vms[0] if len(vms) == 1 else None,
            first_seen=min(p.start for p in probes),
            last_seen=max(p.end for p in probes),
            evidence=tuple(p.event_id for p in probes),
            entities=tuple(Entity("ip", a) for a in (*sources, *targets))
            + tuple(Entity("vm", vm) for vm in vms),
            severity=Severity.MEDIUM,
            confidence=0.6,
            dedup_key=f"{window.actor}>{window.victim}/rejected",
            title="Tenant probing another tenant's addresses",
            technique=PROBING_TECHNIQUE,
            category=CYBER_ATTACK,
            details={
                "rejected_flows": len(probes),
                "sources": sources,
                "targets": targets,
                "services": services,
                "reported_by": sorted({p.reported_by for p in probes if p.reported_by}),
            },
        )

    cases = (
        Case(
            "acme reaches globex on their shared host, reported by both interfaces",
            (
                Records(
                    "vpcflow",
                    """
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path
5 111111111111 eni-0acme0001 10.1.0.11 10.2.0.21 51234 443 6 14 8120 1767607200 1767607260 ACCEPT OK vpc-0acme01 subnet-0acme01 i-0acme0000000001 3 IPv4 10.1.0.11 10.2.0.21 cn-north-1 cnn1-az1 - - - - egress 1
5 111111111111 eni-0acme0001 10.2.0.21 10.1.0.11 443 51234 6 12 96300 1767607200 1767607260 ACCEPT OK vpc-0acme01 subnet-0acme01 i-0acme0000000001 19 IPv4 10.2.0.21 10.1.0.11 cn-north-1 cnn1-az1 - - - - ingress -
5 222222222222 eni-0globex0001 10.1.0.11 10.2.0.21 51234 443 6 14 8120 1767607200 1767607260 ACCEPT OK vpc-0globex01 subnet-0globex01 i-0globex000000001 3 IPv4 10.1.0.11 10.2.0.21 cn-north-1 cnn1-az1 - - - - ingress -
5 222222222222 eni-0globex0001 10.2.0.21 10.1.0.11 443 51234 6 12 96300 1767607200 1767607260 ACCEPT OK vpc-0globex01 subnet-0globex01 i-0globex000000001 19 IPv4 10.2.0.21 10.1.0.11 cn-north-1 cnn1-az1 - - - - egress 1
""",
                ),
            ),
            (
                Expect(
                    Severity.CRITICAL,
                    "globex",
                    actor_tenant_id="acme",
                    host_id="hv-01",
                    summary_contains="10.2.0.21:443/tcp",
                ),
            ),
        ),
        Case(
            "initech reaches acme's database across hosts",
            (
                Records(
                    "vpcflow",
                    """
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 017622104382 eni-0initech0001 10.3.0.15 10.1.0.12 40312 5432 6 31 5120 1767607320 1767607380 ACCEPT OK
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH, "acme", actor_tenant_id="initech", summary_contains="5120 bytes"
                ),
            ),
        ),
        Case(
            "hooli probes umbrella: six rejected flows, one alert",
            (
                Records(
                    "vpcflow",
                    """
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 756680937392 eni-0umbrella0001 10.5.3.7 10.4.0.31 45001 22 6 1 44 1767607200 1767607260 REJECT OK
2 756680937392 eni-0umbrella0001 10.5.3.7 10.4.0.31 45002 80 6 1 44 1767607200 1767607260 REJECT OK
2 756680937392 eni-0umbrella0001 10.5.3.7 10.4.0.31 45003 443 6 2 88 1767607260 1767607320 REJECT OK
2 756680937392 eni-0umbrella0001 10.5.3.7 10.4.0.31 45004 3306 6 1 44 1767607260 1767607320 REJECT OK
2 756680937392 eni-0umbrella0001 10.5.3.7 10.4.0.31 45005 5432 6 1 44 1767607320 1767607380 REJECT OK
2 756680937392 eni-0umbrella0001 10.5.3.7 10.4.0.31 45006 6379 6 1 44 1767607320 1767607380 REJECT OK
""",
                ),
            ),
            (
                Expect(
                    Severity.MEDIUM,
                    "umbrella",
                    actor_tenant_id="hooli",
                    summary_contains="6 rejected flows",
                ),
            ),
        ),
        Case(
            "own traffic, DNS, the internet and NODATA",
            (
                Records(
                    "vpcflow",
                    """
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 111111111111 eni-0acme0001 10.1.0.11 10.1.0.12 49152 5432 6 20 4249 1767607200 1767607260 ACCEPT OK
2 111111111111 eni-0acme0001 10.1.0.11 10.255.0.2 53011 53 17 2 152 1767607200 1767607260 ACCEPT OK
2 111111111111 eni-0acme0001 198.51.100.9 10.1.0.11 44321 22 6 1 40 1767607200 1767607260 REJECT OK
2 111111111111 eni-0acme0001 10.1.0.11 203.0.113.80 51300 443 6 9 3010 1767607200 1767607260 ACCEPT OK
2 111111111111 eni-0acme0001 - - - - - - - 1767607260 1767607320 - NODATA
""",
                ),
            ),
            (),
        ),
        Case(
            "peered globex and umbrella",
            (
                Records(
                    "vpcflow",
                    """
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path
5 222222222222 eni-0globex0001 10.2.0.21 10.4.0.31 50110 8443 6 40 22100 1767607200 1767607260 ACCEPT OK vpc-0globex01 subnet-0globex01 i-0globex000000001 3 IPv4 10.2.0.21 10.4.0.31 cn-north-1 cnn1-az1 - - - - egress 2
""",
                ),
            ),
            (),
        ),
        Case(
            "an exempt port and a flow below min_bytes",
            (
                Records(
                    "vpcflow",
                    """
version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 111111111111 eni-0acme0001 10.1.0.11 10.3.0.15 40123 123 17 2 152 1767607200 1767607260 ACCEPT OK
2 111111111111 eni-0acme0001 10.1.0.11 10.3.0.15 40124 443 6 3 180 1767607200 1767607260 ACCEPT OK
""",
                ),
            ),
            (),
            settings={"exempt_ports": [123], "min_bytes": 1024},
        ),
    )
