"""Building the world from a seed: tenants (accounts, networks, users, data), hosts, VMs spread
over the hosts so that tenants share them, containers, peerings."""

from __future__ import annotations

import ipaddress

from fenghuo.simulate.config import SimulationConfig
from fenghuo.simulate.rand import Rand
from fenghuo.simulate.world import (
    SHARED_SERVICES,
    ZONES,
    Allocator,
    Container,
    Host,
    IamUser,
    SharedService,
    Tenant,
    World,
)

TENANT_NAMES: tuple[tuple[str, str], ...] = (
    ("acme", "ACME Corp"),
    ("globex", "Globex Corporation"),
    ("initech", "Initech"),
    ("umbrella", "Umbrella Corporation"),
    ("hooli", "Hooli"),
    ("soylent", "Soylent Foods"),
    ("wayne", "Wayne Enterprises"),
    ("stark", "Stark Industries"),
    ("tyrell", "Tyrell Corp"),
    ("cyberdyne", "Cyberdyne Systems"),
    ("wonka", "Wonka Industries"),
    ("aperture", "Aperture"),
    ("vandelay", "Vandelay Industries"),
    ("oscorp", "Oscorp"),
    ("massive", "Massive Dynamic"),
    ("gringotts", "Gringotts Bank"),
    ("nakatomi", "Nakatomi Trading"),
    ("zorg", "Zorg Industries"),
)
CONTAINER_IMAGES: tuple[tuple[str, str, str], ...] = (
    ("web", "docker.io/library/nginx", "1.25.3"),
    ("api", "docker.io/library/python", "3.11-slim"),
    ("worker", "docker.io/library/golang", "1.22-alpine"),
    ("cache", "docker.io/library/redis", "7.2.4"),
    ("job", "docker.io/library/busybox", "1.36"),
)


def _tenant(rand: Rand, position: int, external: list[str]) -> Tenant:
    base_id, name = TENANT_NAMES[position % len(TENANT_NAMES)]
    rounds = position // len(TENANT_NAMES)
    tenant_id = base_id if rounds == 0 else f"{base_id}{rounds + 1}"
    accounts = tuple(rand.account() for _ in range(rand.choice((1, 1, 2, 3))))
    users = tuple(
        IamUser(user, rand.upper_id("AKIA", 16), rand.upper_id("AIDA", 17))
        for user in ("ops-admin", "ci-deployer", rand.pick(("alice", "wang.lei", "li.na", "bob")))
    )
    return Tenant(
        id=tenant_id,
        name=name if rounds == 0 else f"{name} {rounds + 1}",
        index=position + 1,
        accounts=accounts,
        vpc=f"vpc-0{rand.hex(16)}",
        subnets=tuple(f"subnet-0{rand.hex(16)}" for _ in ZONES),
        vpc_endpoint=f"vpce-0{rand.hex(16)}",
        critical=rand.random() < 0.3,
        users=users,
        role_name=f"{tenant_id}-app-instance-role",
        role_id=rand.upper_id("AROA", 17),
        office_ip=external[position % len(external)],
        buckets=tuple(f"{tenant_id}-{kind}-{rand.hex(6)}" for kind in ("data", "logs", "backup")),
        snapshots=tuple(f"snap-0{rand.hex(16)}" for _ in range(3)),
        images=tuple(f"ami-0{rand.hex(16)}" for _ in range(2)),
        db_snapshots=(f"{tenant_id}-db-nightly", f"{tenant_id}-db-premigration"),
        secrets=(f"{tenant_id}/prod/db-password", f"{tenant_id}/prod/api-token"),
    )


def office_addresses() -> list[str]:
    """Tenants' own internet addresses (documentation range 203.0.113.0/24: never routed)."""
    return [str(ip) for ip in ipaddress.ip_network("203.0.113.0/24").hosts()][9:200:7]


def build_world(config: SimulationConfig) -> World:
    """The cloud of this configuration: same seed, same world."""
    rand = Rand.derive(config.seed, "world")
    tenants = [_tenant(rand, i, office_addresses()) for i in range(config.tenants)]
    hosts = [
        Host(
            id=f"hv-{i + 1:02d}",
            ip=f"192.168.10.{11 + i}",
            zone=ZONES[i % len(ZONES)],
            libvirtd_pid=rand.randint(1150, 1250),
            sshd_pid=rand.randint(1050, 1140),
            crond_pid=rand.randint(1260, 1340),
        )
        for i in range(config.hosts)
    ]
    shared = [SharedService(*s) for s in SHARED_SERVICES]
    world = World(config, tenants, hosts, [], shared, Allocator(rand))
    # Tenants differ in size; every tenant has at least one VM.
    weights = [rand.uniform(0.5, 3.0) for _ in tenants]
    owners = list(tenants)
    owners += rand.choices(tenants, weights=weights, k=config.vms - len(tenants))
    for tenant in owners:
        world.add_vm(rand, tenant, rand.pick(hosts))
    _add_containers(rand, tenants, hosts)
    pairs = [(a.id, b.id) for i, a in enumerate(tenants) for b in tenants[i + 1 :]]
    world.peerings = sorted(rand.sample(pairs, max(1, len(tenants) // 3)))
    return world


def _add_containers(rand: Rand, tenants: list[Tenant], hosts: list[Host]) -> None:
    """Tenants' containers on the container-service hosts (every other host)."""
    container_hosts = hosts[::2]
    for tenant in tenants:
        for name, image, tag in rand.sample(CONTAINER_IMAGES, 2):
            host = rand.pick(container_hosts)
            host.containers.append(
                Container(
                    id=rand.hex(12),
                    tenant=tenant.id,
                    host=host.id,
                    name=name,
                    image=image,
                    tag=tag,
                    pod=f"{name}-{rand.hex(10)}-{rand.hex(5)}",
                )
            )
