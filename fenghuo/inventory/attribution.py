"""Tenant attribution: resolve every event to the tenant it belongs to and the other tenants it
involves, through the inventory.

One function per event family. Each collects `(tenant, evidence)` pairs; the first tenant found
by the family's primary key (the VM a process serves, the account a call landed in, the
interface that reported a flow) is the event's `tenant_id`, the rest are `related_tenant_ids`.
Evidence strings (`account:1111...`, `cidr:10.2.0.21`) go to `attribution_via`, so an analyst can
see why an event was attributed as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from fenghuo.inventory.index import InventoryIndex, VmRecord
from fenghuo.model import (
    AccessDenial,
    ApiCall,
    ContainerAlert,
    Event,
    Family,
    FileAccess,
    Flow,
    HostAudit,
    Process,
    ProcessCrash,
    ProcessExec,
    SeccompViolation,
    SyscallActivity,
    VmLifecycle,
)
from fenghuo.model.events import AttributionStatus


@dataclass
class _Found:
    """Tenants found for one event, in the order found, with evidence."""

    tenants: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)
    host_id: str | None = None
    # The event names a VM or container the inventory does not know: never "provider".
    unresolved: bool = False

    def add(self, tenant: str | None, evidence: str) -> None:
        if tenant is None or not evidence:
            return
        if tenant not in self.tenants:
            self.tenants.append(tenant)
        if evidence not in self.via:
            self.via.append(evidence)

    def add_vm(self, vm: VmRecord | None, evidence: str) -> None:
        if vm is not None:
            self.add(vm.tenant, evidence)
            self.host_id = self.host_id or vm.host


def _process_vm(index: InventoryIndex, process: Process | None) -> VmRecord | None:
    """The VM a host process serves: by the name the parser found, else by its sVirt label."""
    if process is None:
        return None
    return index.vm_by_name(process.vm_name) or index.vm_by_label(process.selinux_context)


def _is_svirt(context: str | None) -> bool:
    return context is not None and ":svirt_t:" in context


def _names_a_vm(process: Process) -> bool:
    """A process that says it serves a VM (by name or sVirt label) the inventory lacks."""
    return bool(process.vm_name) or _is_svirt(process.selinux_context)


def _with_vm_name(process: Process, vm: VmRecord | None) -> Process:
    if vm is None or process.vm_name == vm.name:
        return process
    return msgspec.structs.replace(process, vm_name=vm.name)


def _hypervisor(index: InventoryIndex, event: Event, found: _Found) -> Event:
    if isinstance(event, VmLifecycle):
        vm = index.vm_by_name(event.vm_name) or index.vm_by_uuid(event.vm_uuid)
        found.add_vm(vm, f"vm:{event.vm_name}")
        found.unresolved = vm is None
        return event
    if isinstance(event, ContainerAlert):
        container = index.container(event.container_id)
        if container is not None:
            found.add(container.tenant, f"container:{container.id}")
            found.host_id = found.host_id or container.host
        found.unresolved = event.container_id is not None and container is None
        return event
    if isinstance(event, AccessDenial):
        source = index.vm_by_name(event.source_vm) or index.vm_by_label(event.source_context)
        target = index.vm_by_name(event.target_vm) or index.vm_by_label(event.target_context)
        target = target or index.vm_by_disk(event.target_path)
        found.add_vm(source, f"svirt-source:{source.name}" if source else "")
        found.add_vm(target, f"svirt-target:{target.name}" if target else "")
        found.unresolved = source is None and _is_svirt(event.source_context)
        return msgspec.structs.replace(
            event,
            process=_with_vm_name(event.process, source),
            source_vm=source.name if source else event.source_vm,
            target_vm=target.name if target else event.target_vm,
        )
    if isinstance(
        event,
        ProcessExec | SeccompViolation | ProcessCrash | FileAccess | SyscallActivity | HostAudit,
    ):
        vm = _process_vm(index, event.process)
        found.add_vm(vm, f"vmm:{vm.name}" if vm else "")
        process = event.process
        found.unresolved = vm is None and process is not None and _names_a_vm(process)
        if isinstance(event, FileAccess):
            target = next((t for p in event.paths if (t := index.vm_by_disk(p))), None)
            found.add_vm(target, f"disk:{target.name}" if target else "")
            if target is not None and event.target_vm != target.name:
                event = msgspec.structs.replace(event, target_vm=target.name)
        if vm is not None and event.process is not None:
            event = msgspec.structs.replace(event, process=_with_vm_name(event.process, vm))
    return event


def _api_call(index: InventoryIndex, event: ApiCall, found: _Found) -> None:
    found.add(index.tenant_of_account(event.account_id), f"account:{event.account_id}")
    actor = event.actor
    found.add(index.tenant_of_account(actor.account_id), f"actor-account:{actor.account_id}")
    found.add_vm(index.vm_by_instance(actor.instance_id), f"instance:{actor.instance_id}")
    found.add(index.tenant_of_ip(event.source_ip), f"source-ip:{event.source_ip}")
    for resource in event.resources:
        found.add(index.tenant_of_account(resource.account_id), f"owner:{resource.account_id}")
    for grant in event.grants:
        account = grant.grantee_account_id
        found.add(index.tenant_of_account(account), f"grantee:{account}")
    # A control-plane call is not where a VM runs: the host is not the instance's host.
    found.host_id = None


def _flow(index: InventoryIndex, event: Flow, found: _Found) -> None:
    # The reporting side first: its tenant keys the network topic.
    vm = index.vm_by_interface(event.interface_id) or index.vm_by_instance(event.instance_id)
    found.add_vm(vm, f"interface:{event.interface_id}")
    found.add(index.tenant_of_vpc(event.vpc_id), f"vpc:{event.vpc_id}")
    found.add(index.tenant_of_account(event.account_id), f"account:{event.account_id}")
    for addr in (event.src_addr, event.dst_addr, event.pkt_src_addr, event.pkt_dst_addr):
        found.add(index.tenant_of_ip(addr), f"address:{addr}")


def attribute(index: InventoryIndex, event: Event) -> Event:
    """The event with tenant, related tenants, host and VM fields resolved."""
    found = _Found()
    if isinstance(event, ApiCall):
        _api_call(index, event, found)
    elif isinstance(event, Flow):
        _flow(index, event, found)
    else:
        event = _hypervisor(index, event, found)
    host_id = event.host_id or found.host_id
    status: AttributionStatus
    if found.tenants:
        status = "attributed"
    elif (
        not found.unresolved
        and host_id is not None
        and host_id in index.hosts
        and event.family is Family.HYPERVISOR
    ):
        # A host process serving no VM: the provider's own infrastructure.
        status = "provider"
        found.via.append(f"host:{host_id}")
    else:
        status = "unattributed"
    return msgspec.structs.replace(
        event,
        host_id=host_id,
        tenant_id=found.tenants[0] if found.tenants else None,
        related_tenant_ids=tuple(found.tenants[1:]),
        attribution=status,
        attribution_via=tuple(found.via),
    )
