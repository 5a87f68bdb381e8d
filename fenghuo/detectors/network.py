"""Facts about flows and placement that the network and co-residency detectors share.

A VPC flow record describes one direction of one conversation as one interface saw it: the
sender's interface logs its egress, the receiver's its ingress, and each also logs the replies.
`orient` turns any of those records into the conversation's initiator and responder, so that
every report of one conversation names the same (actor, victim) pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from fenghuo.inventory.index import InventoryIndex
from fenghuo.model import Flow

TCP = 6
UDP = 17
PROTOCOL_NAMES = {1: "icmp", TCP: "tcp", UDP: "udp", 58: "icmpv6"}

# VPC flow logs report TCP flags OR-ed over the aggregation interval: FIN 1, SYN 2, RST 4, and
# SYN-ACK as 18 (ACK is only reported together with SYN).
_SYN = 0x02
_ACK = 0x10
# Client ports: Linux picks 32768-60999, Windows and the IANA range start at 49152.
EPHEMERAL_PORTS_FROM = 32768


@dataclass(frozen=True, slots=True)
class FlowEnds:
    """The two ends of the conversation a flow record belongs to."""

    initiator: str
    responder: str
    initiator_port: int | None
    service_port: int | None  # the responder's port: what the initiator reached for
    protocol: int | None

    @property
    def service(self) -> str:
        name = PROTOCOL_NAMES.get(self.protocol or -1, str(self.protocol))
        return f"{self.service_port}/{name}" if self.service_port is not None else name


def _responder_reports(flow: Flow) -> bool:
    """Whether the record's source is the side that answered (a reply direction record)."""
    if flow.protocol == TCP and flow.tcp_flags is not None:
        if flow.tcp_flags & _ACK and flow.tcp_flags & _SYN:
            return True  # SYN-ACK: sent by the responder
        if flow.tcp_flags & _SYN:
            return False  # a bare SYN: sent by the initiator
    if flow.protocol in (TCP, UDP) and flow.src_port is not None and flow.dst_port is not None:
        src_client = flow.src_port >= EPHEMERAL_PORTS_FROM
        dst_client = flow.dst_port >= EPHEMERAL_PORTS_FROM
        return dst_client and not src_client
    return False


def orient(flow: Flow) -> FlowEnds | None:
    """Initiator and responder of the conversation (packet-level addresses when the record has
    them, i.e. the original addresses behind a NAT); None without both addresses."""
    src = flow.pkt_src_addr or flow.src_addr
    dst = flow.pkt_dst_addr or flow.dst_addr
    if src is None or dst is None:
        return None
    if _responder_reports(flow):
        return FlowEnds(dst, src, flow.dst_port, flow.src_port, flow.protocol)
    return FlowEnds(src, dst, flow.src_port, flow.dst_port, flow.protocol)


def tenants_on_host(
    index: InventoryIndex,
    host_id: str | None,
    *,
    exclude: str | None = None,
    containers: bool = False,
) -> dict[str, list[str]]:
    """tenant -> names of its VMs (and, with `containers`, its containers) the inventory places
    on the host, leaving out the tenant `exclude`."""
    host = index.hosts.get(host_id) if host_id else None
    found: dict[str, list[str]] = {}
    if host is None:
        return found
    for vm in host.vms:
        if vm.tenant != exclude:
            found.setdefault(vm.tenant, []).append(vm.name)
    for container in host.containers if containers else ():
        if container.tenant != exclude:
            found.setdefault(container.tenant, []).append(container.name or container.id)
    return {tenant: sorted(names) for tenant, names in sorted(found.items())}
