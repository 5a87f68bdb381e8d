"""Lookup tables over a validated inventory, built once per (re)load so attribution of each event
is a handful of dict look-ups."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

from fenghuo.inventory.model import Host, Inventory, IpNetwork, Tenant, Vm, mcs_categories

# Falco reports the 12-character short container id; an inventory may hold the full 64.
_SHORT_CONTAINER_ID = 12
# libvirt confines each VM under AppArmor with the profile `libvirt-<domain uuid>`.
_APPARMOR_PREFIX = "libvirt-"


@dataclass(frozen=True, slots=True)
class VmRecord:
    name: str
    tenant: str
    host: str
    uuid: str | None
    instance_id: str | None
    ips: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ContainerRecord:
    id: str
    tenant: str
    host: str


@functools.lru_cache(maxsize=65536)
def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    # Flow logs repeat the same addresses heavily; parsing dominated attribution of flows.
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


class InventoryIndex:
    """Read-only views of one inventory: by account, VPC, interface, address, VM and container."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.tenants: dict[str, Tenant] = {t.id: t for t in inventory.tenants}
        self.hosts: dict[str, Host] = {h.id: h for h in inventory.hosts}
        self._account: dict[str, str] = {a: t.id for t in inventory.tenants for a in t.accounts}
        self._vpc: dict[str, str] = {v: t.id for t in inventory.tenants for v in t.vpcs}
        self._peers: set[frozenset[str]] = {frozenset(p) for p in inventory.peerings}
        self._vm_name: dict[str, VmRecord] = {}
        self._vm_uuid: dict[str, VmRecord] = {}
        self._vm_instance: dict[str, VmRecord] = {}
        self._vm_label: dict[str, VmRecord] = {}
        self._vm_disk: dict[str, VmRecord] = {}
        self._vm_interface: dict[str, VmRecord] = {}
        self._vm_ip: dict[str, VmRecord] = {}
        self._container: dict[str, ContainerRecord] = {}
        self._host_ip: dict[str, str] = {}
        for host in inventory.hosts:
            if host.ip is not None:
                self._host_ip[str(host.ip)] = host.id
            for vm in host.vms:
                self._add_vm(host.id, vm)
            for c in host.containers:
                record = ContainerRecord(c.id, c.tenant, host.id)
                self._container[c.id] = record
                self._container.setdefault(c.id[:_SHORT_CONTAINER_ID], record)
        # Longest-prefix match over a few prefix lengths instead of scanning every CIDR.
        self._nets: dict[int, dict[tuple[int, int], tuple[str, str]]] = {}
        for tenant in inventory.tenants:
            for net in tenant.cidrs:
                self._add_net(net, ("tenant", tenant.id))
        for service in inventory.shared_services:
            self._add_net(service.cidr, ("service", service.name))
        self._prefix_lengths = sorted(self._nets, reverse=True)

    def _add_vm(self, host_id: str, vm: Vm) -> None:
        record = VmRecord(
            vm.name, vm.tenant, host_id, vm.uuid, vm.instance_id, frozenset(str(i) for i in vm.ips)
        )
        self._vm_name[vm.name] = record
        if vm.uuid:
            self._vm_uuid[vm.uuid.lower()] = record
        if vm.instance_id:
            self._vm_instance[vm.instance_id.lower()] = record
        if vm.seclabel and (cats := mcs_categories(vm.seclabel)):
            self._vm_label[cats] = record
        for disk in vm.disks:
            self._vm_disk[disk] = record
        for eni in vm.interfaces:
            self._vm_interface[eni] = record
        for ip in vm.ips:
            self._vm_ip[str(ip)] = record

    def _add_net(self, net: IpNetwork, owner: tuple[str, str]) -> None:
        key = (net.version, int(net.network_address))
        self._nets.setdefault(net.prefixlen, {})[key] = owner

    # --- look-ups -----------------------------------------------------------------------------

    def tenant_of_account(self, account_id: str | None) -> str | None:
        return self._account.get(account_id) if account_id else None

    def tenant_of_vpc(self, vpc_id: str | None) -> str | None:
        return self._vpc.get(vpc_id) if vpc_id else None

    def vm_by_name(self, name: str | None) -> VmRecord | None:
        return self._vm_name.get(name) if name else None

    def vm_by_uuid(self, uuid: str | None) -> VmRecord | None:
        return self._vm_uuid.get(uuid.lower()) if uuid else None

    def vm_by_instance(self, instance_id: str | None) -> VmRecord | None:
        return self._vm_instance.get(instance_id.lower()) if instance_id else None

    def vm_by_label(self, context: str | None) -> VmRecord | None:
        """The VM a confinement label names: the sVirt categories of an SELinux context
        (process or image label), or libvirt's AppArmor profile `libvirt-<uuid>`."""
        if not context:
            return None
        if context.startswith(_APPARMOR_PREFIX):
            return self.vm_by_uuid(context.removeprefix(_APPARMOR_PREFIX).split(" ", 1)[0])
        cats = mcs_categories(context)
        return self._vm_label.get(cats) if cats else None

    def vm_name_for_label(self, context: str) -> str | None:
        vm = self.vm_by_label(context)
        return vm.name if vm else None

    def vm_by_disk(self, path: str | None) -> VmRecord | None:
        return self._vm_disk.get(path) if path else None

    def vm_by_interface(self, interface_id: str | None) -> VmRecord | None:
        return self._vm_interface.get(interface_id) if interface_id else None

    def vm_by_ip(self, ip: str | None) -> VmRecord | None:
        return self._vm_ip.get(ip) if ip else None

    def container(self, container_id: str | None) -> ContainerRecord | None:
        if not container_id:
            return None
        return self._container.get(container_id) or self._container.get(
            container_id[:_SHORT_CONTAINER_ID]
        )

    def host_of_ip(self, ip: str | None) -> str | None:
        return self._host_ip.get(ip) if ip else None

    def owner_of_ip(self, ip: str | None) -> tuple[str, str] | None:
        """("tenant", id) or ("service", name) owning an address: a VM's own address first,
        then the longest matching CIDR."""
        if not ip:
            return None
        if vm := self._vm_ip.get(ip):
            return ("tenant", vm.tenant)
        addr = _parse_ip(ip)
        if addr is None:
            return None
        value = int(addr)
        bits = addr.max_prefixlen
        for prefix in self._prefix_lengths:
            if prefix > bits:
                continue
            key = (addr.version, value >> (bits - prefix) << (bits - prefix))
            if owner := self._nets[prefix].get(key):
                return owner
        return None

    def tenant_of_ip(self, ip: str | None) -> str | None:
        owner = self.owner_of_ip(ip)
        return owner[1] if owner and owner[0] == "tenant" else None

    def peered(self, tenant_a: str, tenant_b: str) -> bool:
        return frozenset((tenant_a, tenant_b)) in self._peers
