"""Attribution of each event family against the demo inventory."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.inventory import InventoryIndex, load_inventory
from fenghuo.inventory.attribution import attribute
from fenghuo.model import (
    AccessDenial,
    Actor,
    ApiCall,
    ContainerAlert,
    FileAccess,
    Flow,
    Grant,
    HostAudit,
    Process,
    ProcessExec,
    RawRef,
    Resource,
    VmLifecycle,
)

T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
ACME_QEMU = "system_u:system_r:svirt_t:s0:c101,c202"
GLOBEX_IMAGE = "system_u:object_r:svirt_image_t:s0:c303,c404"


@pytest.fixture(scope="module")
def index() -> InventoryIndex:
    return InventoryIndex(load_inventory(demo_inventory_path()))


def envelope(fmt: str = "auditd", **extra: Any) -> dict[str, Any]:
    return {
        "id": "e1",
        "event_time": T0,
        "ingest_time": T0,
        "source_format": fmt,
        "raw": RawRef(source="test"),
        **extra,
    }


def test_qemu_child_is_attributed_to_its_vm_tenant_by_name(index: InventoryIndex) -> None:
    event = ProcessExec(
        **envelope(host_id="hv-01"),
        process=Process(pid=2, exe="/bin/sh", vm_name="acme-web-1"),
    )
    out = attribute(index, event)
    assert (out.tenant_id, out.related_tenant_ids, out.attribution) == ("acme", (), "attributed")
    assert out.attribution_via == ("vmm:acme-web-1",)


def test_svirt_label_identifies_the_vm_and_fills_host(index: InventoryIndex) -> None:
    event = ProcessExec(**envelope(), process=Process(pid=2, selinux_context=ACME_QEMU))
    out = attribute(index, event)
    assert isinstance(out, ProcessExec)
    assert out.tenant_id == "acme"
    assert out.host_id == "hv-01"
    assert out.process.vm_name == "acme-web-1"


def test_cross_vm_denial_names_actor_then_victim(index: InventoryIndex) -> None:
    event = AccessDenial(
        **envelope(host_id="hv-01"),
        process=Process(pid=7, comm="qemu-kvm"),
        source_context=ACME_QEMU,
        target_context=GLOBEX_IMAGE,
        target_path="/var/lib/libvirt/images/globex-db-1.qcow2",
    )
    out = attribute(index, event)
    assert isinstance(out, AccessDenial)
    assert (out.tenant_id, out.related_tenant_ids) == ("acme", ("globex",))
    assert (out.source_vm, out.target_vm) == ("acme-web-1", "globex-db-1")
    assert out.process.vm_name == "acme-web-1"


def test_disk_path_of_another_tenant_vm(index: InventoryIndex) -> None:
    event = FileAccess(
        **envelope(host_id="hv-01"),
        process=Process(pid=7, vm_name="acme-web-1"),
        operation="open",
        paths=("/var/lib/libvirt/images/globex-db-1.qcow2",),
    )
    out = attribute(index, event)
    assert isinstance(out, FileAccess)
    assert (out.tenant_id, out.related_tenant_ids, out.target_vm) == (
        "acme",
        ("globex",),
        "globex-db-1",
    )


def test_host_process_is_provider_on_known_host_and_unattributed_elsewhere(
    index: InventoryIndex,
) -> None:
    login = HostAudit(**envelope(host_id="hv-02"), record_type="USER_LOGIN")
    out = attribute(index, login)
    assert (out.tenant_id, out.attribution, out.attribution_via) == (
        None,
        "provider",
        ("host:hv-02",),
    )
    stranger = attribute(index, HostAudit(**envelope(host_id="hv-99"), record_type="USER_LOGIN"))
    assert stranger.attribution == "unattributed"


def test_unknown_vm_or_container_is_unattributed_not_provider(index: InventoryIndex) -> None:
    vm = VmLifecycle(
        **envelope("libvirt-events", host_id="hv-01"),
        vm_name="ghost",
        state="started",
        event_type="lifecycle",
    )
    assert attribute(index, vm).attribution == "unattributed"
    qemu = ProcessExec(
        **envelope(host_id="hv-01"),
        process=Process(selinux_context="system_u:system_r:svirt_t:s0:c9,c10"),
    )
    assert attribute(index, qemu).attribution == "unattributed"
    alert = ContainerAlert(
        **envelope("falco", host_id="hv-02"), rule="r", priority="Critical", container_id="ffff"
    )
    assert attribute(index, alert).attribution == "unattributed"


def test_vm_lifecycle_and_container(index: InventoryIndex) -> None:
    vm = VmLifecycle(
        **envelope("libvirt-events"), vm_name="globex-db-1", state="crashed", event_type="lifecycle"
    )
    out = attribute(index, vm)
    assert (out.tenant_id, out.host_id) == ("globex", "hv-01")
    alert = ContainerAlert(
        **envelope("falco"),
        rule="Detect release_agent File Container Escapes",
        priority="Critical",
        container_id="3f2a1b4c5d6e",
    )
    out = attribute(index, alert)
    assert (out.tenant_id, out.host_id) == ("acme", "hv-02")


def test_cross_tenant_grant_and_credentials(index: InventoryIndex) -> None:
    snapshot = Resource(type="ec2:snapshot", id="snap-1", account_id="017622104382")
    call = ApiCall(
        **envelope("cloudtrail"),
        service="ec2.amazonaws.com",
        action="ModifySnapshotAttribute",
        account_id="017622104382",
        actor=Actor(account_id="017622104382", instance_id="i-0umbrella0000001"),
        source_ip="10.5.3.3",
        resources=(snapshot,),
        grants=(
            Grant(
                resource=snapshot,
                grantee_kind="account",
                grantee="846424999548",
                grantee_account_id="846424999548",
            ),
            Grant(
                resource=snapshot,
                grantee_kind="account",
                grantee="098797384747",
                grantee_account_id="098797384747",
            ),
        ),
    )
    out = attribute(index, call)
    # initech's account; umbrella's instance credentials; an address of hooli's; the grantee
    # 846424999548 is umbrella's account again; 098797384747 is outside the platform.
    assert out.tenant_id == "initech"
    assert out.related_tenant_ids == ("umbrella", "hooli")
    assert "grantee:846424999548" in out.attribution_via
    assert out.host_id is None


def test_flow_between_tenants(index: InventoryIndex) -> None:
    flow = Flow(
        **envelope("vpcflow"),
        version=2,
        account_id="111111111111",
        interface_id="eni-0acme0001",
        src_addr="10.1.0.11",
        dst_addr="10.2.0.21",
        start=T0,
        end=T0,
        action="ACCEPT",
    )
    out = attribute(index, flow)
    assert (out.tenant_id, out.related_tenant_ids, out.host_id) == ("acme", ("globex",), "hv-01")
    internet = attribute(
        index, Flow(**envelope("vpcflow"), version=2, src_addr="8.8.8.8", start=T0, end=T0)
    )
    assert internet.attribution == "unattributed"


def test_attribution_is_deterministic(index: InventoryIndex) -> None:
    event = ProcessExec(**envelope(), process=Process(selinux_context=ACME_QEMU))
    assert attribute(index, event) == attribute(index, event)


def test_apparmor_profile_names_the_vm_by_uuid(index: InventoryIndex) -> None:
    event = ProcessExec(
        **envelope(host_id="hv-01"),
        process=Process(pid=3, selinux_context="libvirt-5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"),
    )
    out = attribute(index, event)
    assert isinstance(out, ProcessExec)
    assert (out.tenant_id, out.process.vm_name) == ("globex", "globex-db-1")
