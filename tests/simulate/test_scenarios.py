"""What the simulated telemetry says once parsed: each labelled attack leaves the evidence its
detector reads, inside the label's window, and the benign background holds the look-alikes
(qemu started by libvirtd, root writing /etc, sharing within a tenant, peered flows, ...)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fenghuo.model import (
    AccessDenial,
    ApiCall,
    ContainerAlert,
    Event,
    FileAccess,
    Flow,
    HostAudit,
    ProcessCrash,
    ProcessExec,
    SeccompViolation,
    SyscallActivity,
    VmLifecycle,
)
from fenghuo.simulate import AttackLabel, SimulationResult
from fenghuo.simulate.world import World
from tests.simulate.conftest import parse_simulation

Simulation = tuple[Path, SimulationResult]


@pytest.fixture(scope="module")
def events(simulation: Simulation) -> list[Event]:
    parsed, errors = parse_simulation(simulation[0])
    assert not errors
    return [event for _entry, event in parsed]


def _within(label: AttackLabel, events: list[Event]) -> list[Event]:
    return [e for e in events if label.start <= e.event_time <= label.end + dt.timedelta(seconds=1)]


def _evidence(label: AttackLabel, window: list[Event], world: World) -> dict[str, bool]:
    """What the attack's detector needs to see, found (True) or not, among `window`."""
    vm = label.vm_id or ""
    if label.kind == "vm_escape":
        if label.variant == "cron":
            changed = any(
                isinstance(e, FileAccess) and "/etc/cron.d/.sysupdate" in e.paths for e in window
            )
        else:
            syscall = "finit_module" if label.variant == "module" else "bind"
            changed = any(isinstance(e, SyscallActivity) and e.syscall == syscall for e in window)
        return {
            "a program started by the VM's QEMU": any(
                isinstance(e, ProcessExec)
                and e.process.vm_name == vm
                and "qemu" not in (e.process.exe or "")
                for e in window
            ),
            "the host changed": changed,
        }
    if label.kind == "vmm_seccomp":
        return {
            "seccomp": any(
                isinstance(e, SeccompViolation) and e.process.vm_name == vm for e in window
            )
        }
    if label.kind == "vmm_crash_series":
        crashes = [e for e in window if isinstance(e, ProcessCrash) and e.process.vm_name == vm]
        stopped = [e for e in window if isinstance(e, VmLifecycle) and e.state == "crashed"]
        return {"3 QEMU crashes": len(crashes) >= 3, "3 Stopped Crashed": len(stopped) >= 3}
    if label.kind == "cross_vm_access":
        return {
            "a denial across tenants": any(
                isinstance(e, AccessDenial)
                and e.source_vm == vm
                and e.target_vm is not None
                and e.tenant_id == label.actor_tenant_id
                and label.tenant_id in e.related_tenant_ids
                for e in window
            )
        }
    if label.kind == "container_escape":
        return {
            "a Falco alert": any(
                isinstance(e, ContainerAlert) and e.host_id == label.host_id for e in window
            )
        }
    if label.kind == "cross_tenant_flow":
        prefix = world.tenant(label.tenant_id).cidr.rsplit(".", 2)[0] + "."
        return {
            "a flow to the victim": any(
                isinstance(e, Flow) and (e.dst_addr or "").startswith(prefix) for e in window
            )
        }
    if label.kind == "cross_tenant_sharing":
        return {"a grant": any(isinstance(e, ApiCall) and e.grants for e in window)}
    if label.kind == "credential_misuse":
        own = {v.ip for v in world.vms() if v.name == vm}
        return {
            "a role session away from its VM": any(
                isinstance(e, ApiCall)
                and e.actor.session_name is not None
                and e.tenant_id == label.tenant_id
                and e.source_ip not in own
                for e in window
            )
        }
    if label.kind == "anomalous_access":
        burst = [e for e in window if isinstance(e, ApiCall) and e.event_category == "Data"]
        return {"a burst of data events": len(burst) >= 40}
    assert label.kind == "co_residency_probing"
    launches = [e for e in window if isinstance(e, ApiCall) and e.action == "RunInstances"]
    placed = [e for e in window if isinstance(e, VmLifecycle) and e.state == "started"]
    return {"10 launches": len(launches) >= 10, "10 placements": len(placed) >= 10}


def test_each_attack_leaves_its_evidence(simulation: Simulation, events: list[Event]) -> None:
    world = simulation[1].world
    for label in simulation[1].labels:
        found = _evidence(label, _within(label, events), world)
        assert all(found.values()), (label.id, label.kind, label.variant, found)


def test_benign_background_has_the_look_alikes(simulation: Simulation, events: list[Event]) -> None:
    world = simulation[1].world
    libvirtd = {h.id: h.libvirtd_pid for h in world.hosts}
    qemu_starts = [
        e
        for e in events
        if isinstance(e, ProcessExec)
        and e.process.exe == "/usr/libexec/qemu-kvm"
        and e.process.ppid == libvirtd[e.host_id or ""]
        and e.attribution == "attributed"
    ]
    assert qemu_starts
    assert all(e.process.vm_name for e in qemu_starts)
    etc_writes = [
        e
        for e in events
        if isinstance(e, FileAccess) and any(p.startswith("/etc/") for p in e.paths)
    ]
    assert any(e.process.uid == 0 and e.process.vm_name is None for e in etc_writes)
    states = {e.detail for e in events if isinstance(e, VmLifecycle)}
    assert {"Crashed Panicked", "Started Migrated", "Stopped Shutdown", "Started Booted"} <= states
    assert any(isinstance(e, HostAudit) and e.record_type == "USER_LOGIN" for e in events)
    own_shares = [
        e
        for e in events
        if isinstance(e, ApiCall)
        and e.action == "ModifySnapshotAttribute"
        and all(world.tenant_of_account(g.grantee) == e.tenant_id for g in e.grants)
    ]
    assert own_shares
    flows = [e for e in events if isinstance(e, Flow)]
    assert any(e.traffic_path == 4 for e in flows)  # peered
    assert any(e.dst_addr == "10.255.0.2" for e in flows)  # shared DNS
    assert any(e.action == "REJECT" and (e.src_addr or "").startswith("192.0.2.") for e in flows)
    assert any(e.log_status == "NODATA" for e in flows)
    notices = [e for e in events if isinstance(e, ContainerAlert) and e.priority == "Notice"]
    assert any(e.rule == "Terminal shell in container" for e in notices)
    role_calls = [e for e in events if isinstance(e, ApiCall) and e.actor.instance_id]
    assert role_calls
