"""The simulated cloud: tenants, hypervisor hosts, VMs, containers, peerings, shared services.

Built from the run's seed alone. VMs of different tenants share hosts (co-residency), as they do
in a public cloud; that is what makes a VM escape a cross-tenant event. The world is written out
as an inventory file (CONTRACTS.md) that `fenghuo.inventory.parse_inventory` accepts, so every
event the simulator emits can be attributed exactly as ingest would attribute real telemetry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from fenghuo.simulate.config import SimulationConfig
from fenghuo.simulate.rand import Rand

VM_ROLES = ("web", "api", "db", "cache", "worker", "batch", "etl", "gw")
REGION = "cn-north-1"
PARTITION = "aws-cn"
ZONES = ("cnn1-az1", "cnn1-az2")
IMAGE_DIR = "/var/lib/libvirt/images"
# Provider services every tenant may reach (name, CIDR, address, port, IANA protocol).
SHARED_SERVICES: tuple[tuple[str, str, str, int, int], ...] = (
    ("dns", "10.255.0.0/24", "10.255.0.2", 53, 17),
    ("ntp", "10.255.1.0/24", "10.255.1.123", 123, 17),
    ("metadata", "169.254.169.0/24", "169.254.169.254", 80, 6),
)


@dataclass(frozen=True)
class IamUser:
    name: str
    access_key_id: str
    principal_id: str


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    index: int  # the second octet of its 10.<index>.0.0/16
    accounts: tuple[str, ...]
    vpc: str
    subnets: tuple[str, ...]  # one per zone
    vpc_endpoint: str  # interface endpoint its instances reach the cloud APIs through
    critical: bool
    users: tuple[IamUser, ...]
    role_name: str  # instance profile role of its VMs
    role_id: str  # AROA... principal id of that role
    office_ip: str  # where its people call the APIs from (outside the cloud)
    buckets: tuple[str, ...]
    snapshots: tuple[str, ...]
    images: tuple[str, ...]
    db_snapshots: tuple[str, ...]
    secrets: tuple[str, ...]

    @property
    def cidr(self) -> str:
        return f"10.{self.index}.0.0/16"

    @property
    def account(self) -> str:
        return self.accounts[0]


@dataclass
class Vm:
    name: str
    tenant: str
    host: str
    uuid: str
    instance_id: str
    ip: str
    eni: str
    subnet: str
    zone: str
    categories: tuple[int, int]
    qemu_pid: int
    churned: bool = False  # short-lived, never in the inventory (launched and terminated)

    @property
    def disk(self) -> str:
        return f"{IMAGE_DIR}/{self.name}.qcow2"

    @property
    def mcs(self) -> str:
        return f"s0:c{self.categories[0]},c{self.categories[1]}"

    @property
    def seclabel(self) -> str:
        return f"system_u:system_r:svirt_t:{self.mcs}"

    @property
    def image_label(self) -> str:
        return f"system_u:object_r:svirt_image_t:{self.mcs}"


@dataclass(frozen=True)
class Container:
    id: str
    tenant: str
    host: str
    name: str
    image: str
    tag: str
    pod: str


@dataclass(frozen=True)
class SharedService:
    name: str
    cidr: str
    address: str
    port: int
    protocol: int


@dataclass
class Host:
    id: str
    ip: str
    zone: str
    libvirtd_pid: int
    sshd_pid: int
    crond_pid: int
    vms: list[Vm] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)

    def tenants(self) -> list[str]:
        """Tenants with a VM or container here, in order of first appearance."""
        seen = [vm.tenant for vm in self.vms] + [c.tenant for c in self.containers]
        return list(dict.fromkeys(seen))


@dataclass(frozen=True)
class AttackPlan:
    """Who attacks whom, where and roughly when (`offset`: fraction of the run); the scenario
    fills in the events. Participants are fixed when the world is built so that the inventory
    holds every VM a scenario launches."""

    id: str
    kind: str
    variant: str
    victim: str
    actor: str | None
    host: str | None = None
    vm: str | None = None  # the attacker's VM, or the VM whose credentials are stolen
    target_vm: str | None = None  # the victim's VM, when one is targeted
    container: str | None = None
    offset: float = 0.5


@dataclass
class World:
    config: SimulationConfig
    tenants: list[Tenant]
    hosts: list[Host]
    peerings: list[tuple[str, str]]
    shared_services: list[SharedService]
    alloc: Allocator = field(repr=False)
    # VMs and containers that attack scenarios use; benign behaviour leaves them alone so their
    # QEMU pid and placement stay what the scenario expects.
    pinned: set[str] = field(default_factory=set)
    attacks: list[AttackPlan] = field(default_factory=list)

    def add_vm(self, rand: Rand, tenant: Tenant, host: Host, *, churned: bool = False) -> Vm:
        """A new VM of `tenant` on `host`, named `<tenant>-<role>-<n>` and listed in the
        inventory; or, `churned`, a short-lived VM the inventory never lists, whose libvirt
        domain is named after its instance id (as AWS-compatible clouds name them)."""
        instance_id = f"i-0{rand.hex(16)}"
        if churned:
            name = instance_id
        else:
            role = rand.pick(VM_ROLES)
            counters = self.alloc.names
            number = counters[(tenant.id, role)] = counters.get((tenant.id, role), 0) + 1
            name = f"{tenant.id}-{role}-{number}"
        zone_index = ZONES.index(host.zone)
        vm = Vm(
            name=name,
            tenant=tenant.id,
            host=host.id,
            uuid=rand.uuid4(),
            instance_id=instance_id,
            ip=self.alloc.address(tenant, zone_index),
            eni=f"eni-0{rand.hex(16)}",
            subnet=tenant.subnets[zone_index],
            zone=host.zone,
            categories=self.alloc.category_pair(),
            qemu_pid=self.alloc.pid(host.id),
            churned=churned,
        )
        if not churned:
            host.vms.append(vm)
        return vm

    def tenant(self, tenant_id: str) -> Tenant:
        return next(t for t in self.tenants if t.id == tenant_id)

    def host(self, host_id: str) -> Host:
        return next(h for h in self.hosts if h.id == host_id)

    def vms(self) -> list[Vm]:
        return [vm for h in self.hosts for vm in h.vms]

    def vm(self, name: str) -> Vm:
        return next(vm for vm in self.vms() if vm.name == name)

    def vms_of(self, tenant_id: str) -> list[Vm]:
        return [vm for vm in self.vms() if vm.tenant == tenant_id]

    def containers(self) -> list[Container]:
        return [c for h in self.hosts for c in h.containers]

    def peered(self, a: str, b: str) -> bool:
        return (a, b) in self.peerings or (b, a) in self.peerings

    def tenant_of_account(self, account: str) -> str | None:
        return next((t.id for t in self.tenants if account in t.accounts), None)

    def inventory(self) -> dict[str, Any]:
        """The inventory document (CONTRACTS.md "Inventory")."""
        return {
            "tenants": [
                {
                    "id": t.id,
                    "name": t.name,
                    "accounts": list(t.accounts),
                    "vpcs": [t.vpc],
                    "cidrs": [t.cidr],
                    "critical_infrastructure": t.critical,
                }
                for t in self.tenants
            ],
            "peerings": [list(pair) for pair in self.peerings],
            "shared_services": [{"name": s.name, "cidr": s.cidr} for s in self.shared_services],
            "hosts": [_host_entry(h) for h in self.hosts],
        }

    def inventory_yaml(self) -> str:
        header = (
            f"# Simulated multi-tenant cloud (fenghuo simulate, seed {self.config.seed}): "
            f"{len(self.tenants)} tenants, {len(self.hosts)} hosts, "
            f"{len(self.vms())} VMs, {len(self.containers())} containers.\n"
        )
        body = yaml.safe_dump(self.inventory(), sort_keys=False, default_flow_style=None, width=100)
        return header + body


def _host_entry(host: Host) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": host.id, "ip": host.ip}
    entry["vms"] = [
        {
            "name": vm.name,
            "uuid": vm.uuid,
            "tenant": vm.tenant,
            "instance_id": vm.instance_id,
            "ips": [vm.ip],
            "interfaces": [vm.eni],
            "disks": [vm.disk],
            "seclabel": vm.seclabel,
        }
        for vm in host.vms
    ]
    entry["containers"] = [
        {"id": c.id, "tenant": c.tenant, "name": c.name} for c in host.containers
    ]
    return entry


class Allocator:
    """Unique addresses, sVirt category pairs, pids and VM names of one world."""

    def __init__(self, rand: Rand) -> None:
        self.rand = rand
        self.categories: set[tuple[int, int]] = set()
        self.addresses: set[str] = set()
        self.pids: dict[str, int] = {}
        self.names: dict[tuple[str, str], int] = {}

    def category_pair(self) -> tuple[int, int]:
        while True:
            low, high = sorted(self.rand.sample(range(1024), 2))
            if (low, high) not in self.categories:
                self.categories.add((low, high))
                return (low, high)

    def address(self, tenant: Tenant, zone_index: int) -> str:
        while True:
            third = zone_index * 64 + self.rand.randint(1, 63)
            ip = f"10.{tenant.index}.{third}.{self.rand.randint(10, 250)}"
            if ip not in self.addresses:
                self.addresses.add(ip)
                return ip

    def pid(self, host: str) -> int:
        self.pids[host] = self.pids.get(host, 2400) + self.rand.randint(7, 90)
        return self.pids[host]
