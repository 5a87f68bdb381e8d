"""Benign flows, as VPC flow logs v5 record them at every interface in the cloud that sees them:
within a tenant, between peered tenants, to the shared DNS and NTP services, to and from the
internet, rejected internet scans, and idle interfaces (NODATA)."""

from __future__ import annotations

import datetime as dt

from fenghuo.simulate.emission import Timeline
from fenghuo.simulate.rand import Rand
from fenghuo.simulate.render.vpcflow import Interface, flow_line, nodata_line
from fenghuo.simulate.world import Vm, World

Window = tuple[dt.datetime, dt.datetime]

INTERNET_SERVICES = tuple(f"198.51.100.{n}" for n in range(10, 250, 9))
SCANNERS = tuple(f"192.0.2.{n}" for n in range(20, 120, 7))
APP_PORTS = (443, 8080, 5432, 6379, 9092, 3306)


def interface(world: World, vm: Vm) -> Interface:
    tenant = world.tenant(vm.tenant)
    return Interface(tenant.account, vm.eni, tenant.vpc, vm.subnet, vm.instance_id, vm.zone)


def capture(rand: Rand, window: Window) -> tuple[dt.datetime, dt.datetime]:
    """A flow log aggregation interval (about a minute) inside the window, whole seconds."""
    start = rand.moment(window[0], window[1] - dt.timedelta(seconds=70)).replace(microsecond=0)
    return start, start + dt.timedelta(seconds=rand.randint(55, 65))


def conversation(
    tl: Timeline,
    rand: Rand,
    src: tuple[Interface | None, str],
    dst: tuple[Interface | None, str],
    port: int,
    protocol: int,
    interval: tuple[dt.datetime, dt.datetime],
    *,
    path: int,
    scale: int = 1,
) -> int:
    """Both directions of one accepted connection, at every interface in the cloud that saw it."""
    sport = rand.randint(32768, 60999)
    out_packets = rand.randint(1, 400) * scale
    back_packets = max(1, int(out_packets * rand.uniform(0.5, 1.5)))
    out_bytes = out_packets * rand.randint(60, 600)
    back_bytes = back_packets * rand.randint(80, 1400)
    flags = (3, 19) if protocol == 6 else (0, 0)  # SYN+FIN out, SYN-ACK+FIN back
    legs = (
        (src[1], dst[1], sport, port, out_packets, out_bytes, flags[0]),
        (dst[1], src[1], port, sport, back_packets, back_bytes, flags[1]),
    )
    emitted = 0
    for a, b, pa, pb, packets, size, tcp in legs:
        for nic, direction in (
            (src[0], "egress" if a == src[1] else "ingress"),
            (dst[0], "egress" if a == dst[1] else "ingress"),
        ):
            if nic is None:
                continue
            line = flow_line(
                nic,
                a,
                b,
                pa,
                pb,
                protocol,
                packets,
                size,
                interval,
                "ACCEPT",
                direction,
                tcp_flags=tcp,
                traffic_path=path,
            )
            tl.flow(interval[0], line)
            emitted += 1
    return emitted


def flow_background(tl: Timeline, rand: Rand, world: World, window: Window, count: int) -> None:
    vms = world.vms()
    by_tenant = {t.id: [vm for vm in vms if vm.tenant == t.id] for t in world.tenants}
    emitted = 0
    while emitted < count:
        interval = capture(rand, window)
        vm = rand.pick(vms)
        nic = interface(world, vm)
        kind = rand.pick_weighted(
            ("intra", "shared", "peered", "egress", "inbound", "scan", "nodata"),
            (35, 20, 10, 18, 6, 9, 2),
        )
        if kind == "intra" and len(by_tenant[vm.tenant]) > 1:
            other = rand.pick([v for v in by_tenant[vm.tenant] if v is not vm])
            emitted += conversation(
                tl,
                rand,
                (nic, vm.ip),
                (interface(world, other), other.ip),
                rand.pick(APP_PORTS),
                6,
                interval,
                path=1,
            )
        elif kind == "peered" and (peers := _peers(world, vm.tenant)):
            other = rand.pick(by_tenant[rand.pick(peers)])
            emitted += conversation(
                tl,
                rand,
                (nic, vm.ip),
                (interface(world, other), other.ip),
                rand.pick(APP_PORTS),
                6,
                interval,
                path=4,
            )
        elif kind == "shared":
            service = rand.pick([s for s in world.shared_services if s.name != "metadata"])
            emitted += conversation(
                tl,
                rand,
                (nic, vm.ip),
                (None, service.address),
                service.port,
                service.protocol,
                interval,
                path=1,
            )
        elif kind == "egress":
            emitted += conversation(
                tl,
                rand,
                (nic, vm.ip),
                (None, rand.pick(INTERNET_SERVICES)),
                443,
                6,
                interval,
                path=8,
            )
        elif kind == "inbound":
            client = rand.pick(INTERNET_SERVICES)
            emitted += conversation(
                tl, rand, (None, client), (nic, vm.ip), 443, 6, interval, path=8
            )
        elif kind == "scan":
            port = rand.pick((22, 23, 3389, 445, 6379, 9200))
            line = flow_line(
                nic,
                rand.pick(SCANNERS),
                vm.ip,
                rand.randint(1024, 65535),
                port,
                6,
                rand.randint(1, 3),
                44 * rand.randint(1, 3),
                interval,
                "REJECT",
                "ingress",
                tcp_flags=2,
            )
            tl.flow(interval[0], line)
            emitted += 1
        else:
            tl.flow(interval[0], nodata_line(nic, interval))
            emitted += 1


def _peers(world: World, tenant: str) -> list[str]:
    return [b if a == tenant else a for a, b in world.peerings if tenant in (a, b)]
