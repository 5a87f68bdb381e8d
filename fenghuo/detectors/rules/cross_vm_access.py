"""cross-vm-access: one VM's QEMU process touches another VM's disk image or memory.

Each QEMU process serves exactly one VM and needs only that VM's files. sVirt exists to enforce
it: every VM's QEMU runs as `svirt_t` with its own MCS categories, every VM's images carry
`svirt_image_t` with the same categories, so a QEMU can read only its own disks. A QEMU process
(or anything it started) opening another VM's disk image, RAM backing file or libvirt per-VM
files, or being denied that by SELinux/AppArmor, is a VMM under an attacker's control reaching
for a neighbour: the point of a VM escape in a multi-tenant cloud (steal a database's disk, read
another guest's memory).

Evidence: file accesses whose path is another VM's disk (attribution sets `target_vm` from the
inventory's disk paths) or another VM's libvirt per-VM file (`/var/lib/libvirt/qemu/ram/<id>-<vm>/`,
`domain-<id>-<vm>/`, hugepage backing, NVRAM, vTPM state); and AVC denials whose source is a
VM's sVirt domain (or libvirt AppArmor profile) and whose target carries another VM's label. A
permissive-mode AVC means the access went through.

Critical when the other VM belongs to another tenant: the alert's tenant is the victim (the
target VM's tenant), its actor the tenant whose VM acted. High when both VMs are one tenant's
(still an escape, no other tenant exposed; actor null). Processes that serve no VM (backup
agents, libvirtd, qemu-img run by the provider) are not this detector's business; disks shared
on purpose between VMs are allow-listed with the `allowed_paths` setting (globs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fenghuo.detectors.base import Case, Context, Detector, DetectorMeta, Expect, Finding, Records
from fenghuo.detectors.hypervisor import (
    is_svirt_context,
    libvirt_path_owner,
    matches_any,
    process_phrase,
    tenant_of_vm,
    vm_of_path,
    vm_phrase,
)
from fenghuo.detectors.process import is_qemu
from fenghuo.detectors.taxonomy import CYBER_ATTACK
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model import AccessDenial, Event, FileAccess
from fenghuo.model.alert import Entity, Severity

_VERBS = {
    "open": "opened",
    "read": "opened for reading",
    "write": "opened for writing",
    "create": "created",
    "delete": "deleted",
    "rename": "renamed",
    "chmod": "changed the permissions of",
    "other": "changed the attributes of",
}


@dataclass(frozen=True)
class _Touch:
    """What one event says: which VM's process did what to which other VM's file."""

    actor_vm: str
    target_vm: str
    path: str | None
    action: str  # human words: "opened for reading", "was denied read, write on"
    outcome: str  # succeeded, failed, denied, permissive, granted


def _denial_actor(event: AccessDenial) -> str | None:
    """The VM whose confinement domain the denial's source is."""
    if event.mechanism == "selinux" and not is_svirt_context(event.source_context):
        return None
    if event.mechanism == "apparmor" and not (event.source_context or "").startswith("libvirt-"):
        return None
    return event.source_vm


def _object_kind(index: InventoryIndex, path: str | None) -> str:
    if path is None:
        return "file"
    if index.vm_by_disk(path):
        return "disk image"
    if "/ram/" in path or "hugepages" in path:
        return "memory backing file"
    return "per-VM file"


class CrossVmAccess(Detector):
    meta = DetectorMeta(
        id="cross-vm-access",
        title="VMM accessed another VM's disk or memory",
        severity=Severity.CRITICAL,
        confidence=0.9,
        technique="T1611",
        category=CYBER_ATTACK,
        description=(
            "The QEMU process of one VM (or a process it started) opened, or was denied, another "
            "VM's disk image, memory backing file or libvirt per-VM file. sVirt confines each "
            "VMM to its own VM's files: crossing that line is a compromised VMM reaching for a "
            "neighbour. Critical across tenants (tenant = victim, actor = the acting VM's "
            "tenant), high within one tenant."
        ),
        runbook=(
            "1. Contain: pause the acting VM (virsh suspend <actor vm>) and keep its QEMU "
            "process (gcore PID); do not destroy it. "
            "2. Protect the victim: snapshot the target VM's disk, and if the access succeeded "
            "(not denied), treat the victim's disk or memory contents as disclosed; notify the "
            "victim tenant through the incident process. "
            "3. Check SELinux is enforcing on the host (getenforce; a permissive AVC means the "
            "access went through) and that every VM has its own MCS label (virsh dumpxml, "
            "<seclabel>); relabel and restart VMs whose labels collide. "
            "4. Look for the escape's other traces: vmm-child-process, vmm-seccomp-violation, "
            "host-tampering alerts for the acting VM; migrate the other tenants off the host. "
            "5. If the disk is shared between the VMs on purpose, add it to the detector's "
            "allowed_paths setting."
        ),
        dedup_window=dt.timedelta(minutes=30),
    )
    inputs = (FileAccess, AccessDenial)

    def key(self, event: Event) -> str | None:
        if isinstance(event, AccessDenial):
            actor = _denial_actor(event)
            if actor is None or event.target_vm is None or event.target_vm == actor:
                return None
            return f"{event.host_id or '?'}/{actor}"
        if isinstance(event, FileAccess):
            actor = event.process.vm_name
            if actor is None:
                return None  # a process serving no VM: backup agents, libvirtd, admins
            if (event.target_vm is not None and event.target_vm != actor) or any(
                libvirt_path_owner(p) for p in event.paths
            ):
                return f"{event.host_id or '?'}/{actor}"
        return None

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(event, FileAccess | AccessDenial)
        index = ctx.inventory
        touch = self._denial(event) if isinstance(event, AccessDenial) else self._file(event, index)
        if touch is None:
            return
        if touch.path is not None and matches_any(touch.path, ctx.setting("allowed_paths", ())):
            return
        actor_tenant = tenant_of_vm(index, touch.actor_vm) or (
            event.tenant_id if isinstance(event, FileAccess) else None
        )
        victim = tenant_of_vm(index, touch.target_vm)
        same_tenant = actor_tenant is not None and actor_tenant == victim
        process = event.process
        who = "QEMU" if is_qemu(process) else f"a process of the VMM ({process.exe or '?'})"
        target = f"{touch.target_vm}'s {_object_kind(index, touch.path)}"
        if touch.path:
            target += f" {touch.path}"
        scope = "same tenant" if same_tenant else "cross-tenant"
        yield Finding(
            summary=(
                f"{who} of {vm_phrase(touch.actor_vm, actor_tenant, event.host_id)}, "
                f"{process_phrase(process)}, {touch.action} {target} "
                f"(VM of tenant {victim or 'unknown'}; {scope}, {touch.outcome})"
            ),
            tenant_id=victim,
            actor_tenant_id=None if same_tenant else actor_tenant,
            host_id=event.host_id,
            vm_id=touch.actor_vm,
            severity=Severity.HIGH if same_tenant else Severity.CRITICAL,
            first_seen=event.event_time,
            last_seen=event.event_time,
            evidence=(event.id,),
            entities=(
                Entity("vm", touch.target_vm),
                Entity("process", f"{event.host_id}:{process.pid}"),
            ),
            dedup_key=f"{event.host_id or '?'}/{touch.actor_vm}->{touch.target_vm}",
            details={
                "actor_vm": touch.actor_vm,
                "target_vm": touch.target_vm,
                "path": touch.path,
                "outcome": touch.outcome,
                "exe": process.exe,
                "pid": process.pid,
            },
        )

    @staticmethod
    def _file(event: FileAccess, index: InventoryIndex) -> _Touch | None:
        actor = event.process.vm_name
        if actor is None:
            return None
        verb = _VERBS.get(event.operation, "accessed")
        action = verb if event.success else f"tried and failed: {verb}"
        outcome = "succeeded" if event.success else "failed"
        for path in event.paths:
            vm = vm_of_path(index, event.host_id, path)
            if vm is not None and vm.name != actor:
                return _Touch(actor, vm.name, path, action, outcome)
        if event.target_vm is not None and event.target_vm != actor:  # attributed earlier
            return _Touch(actor, event.target_vm, next(iter(event.paths), None), action, outcome)
        return None

    @staticmethod
    def _denial(event: AccessDenial) -> _Touch | None:
        actor = _denial_actor(event)
        if actor is None or event.target_vm is None or event.target_vm == actor:
            return None
        permissions = ", ".join(event.permissions) or "access"
        mechanism = "SELinux (sVirt)" if event.mechanism == "selinux" else "AppArmor"
        if not event.denied:
            action, outcome = f"was granted {permissions} on", "granted"
        elif event.permissive:
            action = f"was allowed {permissions} (logged as denied, {mechanism} permissive) on"
            outcome = "permissive: the access went through"
        else:
            action, outcome = f"was denied {permissions} by {mechanism} on", "denied"
        return _Touch(actor, event.target_vm, event.target_path, action, outcome)

    cases = (
        Case(
            "acme's qemu denied another tenant's disk by sVirt",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=AVC msg=audit(1767607263.500:5105): avc:  denied  { read write } for  pid=4242 comm="qemu-kvm" name="globex-db-1.qcow2" dev="dm-0" ino=3407873 scontext=system_u:system_r:svirt_t:s0:c101,c202 tcontext=system_u:object_r:svirt_image_t:s0:c303,c404 tclass=file permissive=0
node=hv-01 type=SYSCALL msg=audit(1767607263.500:5105): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7f0e2c01a2b0 a2=80002 a3=0 items=1 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key=(null)
node=hv-01 type=CWD msg=audit(1767607263.500:5105): cwd="/"
node=hv-01 type=PATH msg=audit(1767607263.500:5105): item=0 name="/var/lib/libvirt/images/globex-db-1.qcow2" inode=3407873 dev=fd:00 mode=0100600 ouid=107 ogid=107 rdev=00:00 obj=system_u:object_r:svirt_image_t:s0:c303,c404 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PROCTITLE msg=audit(1767607263.500:5105): proctitle=2F7573722F6C6962657865632F71656D752D6B766D002D6E616D650067756573743D61636D652D7765622D312C64656275672D746872656164733D6F6E
node=hv-01 type=EOE msg=audit(1767607263.500:5105):
""",
                ),
            ),
            (
                Expect(
                    Severity.CRITICAL,
                    "globex",
                    "acme",
                    host_id="hv-01",
                    summary_contains="QEMU of acme-web-1 (tenant acme) on host hv-01, qemu-kvm (pid 4242, uid 107), was denied read, write by SELinux (sVirt) on globex-db-1's disk image /var/lib/libvirt/images/globex-db-1.qcow2",
                ),
            ),
        ),
        Case(
            "acme's qemu opens another tenant's disk",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767607264.600:5106): arch=c000003e syscall=257 success=yes exit=27 a0=ffffff9c a1=7f0e2c01a2b0 a2=80000 a3=0 items=1 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="vm-disks"
node=hv-01 type=CWD msg=audit(1767607264.600:5106): cwd="/var/lib/libvirt/qemu"
node=hv-01 type=PATH msg=audit(1767607264.600:5106): item=0 name="../images/globex-db-1.qcow2" inode=3407873 dev=fd:00 mode=0100600 ouid=107 ogid=107 rdev=00:00 obj=system_u:object_r:svirt_image_t:s0:c303,c404 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PROCTITLE msg=audit(1767607264.600:5106): proctitle=2F7573722F6C6962657865632F71656D752D6B766D002D6E616D650067756573743D61636D652D7765622D312C64656275672D746872656164733D6F6E
node=hv-01 type=EOE msg=audit(1767607264.600:5106):
""",
                ),
            ),
            (
                Expect(
                    Severity.CRITICAL,
                    "globex",
                    "acme",
                    host_id="hv-01",
                    summary_contains="opened for reading globex-db-1's disk image /var/lib/libvirt/images/globex-db-1.qcow2 (VM of tenant globex; cross-tenant, succeeded)",
                ),
            ),
        ),
        Case(
            "qemu opens a sibling VM's disk of the same tenant",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767608100.250:5300): arch=c000003e syscall=257 success=yes exit=31 a0=ffffff9c a1=7f0e2c01b3c0 a2=80002 a3=0 items=1 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="vm-disks"
node=hv-01 type=CWD msg=audit(1767608100.250:5300): cwd="/"
node=hv-01 type=PATH msg=audit(1767608100.250:5300): item=0 name="/var/lib/libvirt/images/acme-db-1.qcow2" inode=3407880 dev=fd:00 mode=0100600 ouid=107 ogid=107 rdev=00:00 obj=system_u:object_r:svirt_image_t:s0:c105,c206 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PROCTITLE msg=audit(1767608100.250:5300): proctitle=2F7573722F6C6962657865632F71656D752D6B766D002D6E616D650067756573743D61636D652D7765622D312C64656275672D746872656164733D6F6E
node=hv-01 type=EOE msg=audit(1767608100.250:5300):
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH,
                    "acme",
                    None,
                    host_id="hv-01",
                    summary_contains="opened for writing acme-db-1's disk image /var/lib/libvirt/images/acme-db-1.qcow2 (VM of tenant acme; same tenant, succeeded)",
                ),
            ),
        ),
        Case(
            "permissive sVirt lets initech's qemu map umbrella's guest RAM",
            (
                Records(
                    "auditd",
                    """
node=hv-02 type=AVC msg=audit(1767609000.731:6410): avc:  denied  { read write open } for  pid=8120 comm="qemu-kvm" name="pc.ram" dev="dm-0" ino=5242881 scontext=system_u:system_r:svirt_t:s0:c410,c511 tcontext=system_u:object_r:svirt_image_t:s0:c612,c713 tclass=file permissive=1
node=hv-02 type=SYSCALL msg=audit(1767609000.731:6410): arch=c000003e syscall=257 success=yes exit=33 a0=ffffff9c a1=7fb2a8004c10 a2=80002 a3=0 items=1 ppid=1 pid=8120 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c410,c511 key=(null)
node=hv-02 type=CWD msg=audit(1767609000.731:6410): cwd="/"
node=hv-02 type=PATH msg=audit(1767609000.731:6410): item=0 name="/var/lib/libvirt/qemu/ram/2-umbrella-api-1/pc.ram" inode=5242881 dev=fd:00 mode=0100600 ouid=107 ogid=107 rdev=00:00 obj=system_u:object_r:svirt_image_t:s0:c612,c713 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-02 type=EOE msg=audit(1767609000.731:6410):
""",
                ),
            ),
            (
                Expect(
                    Severity.CRITICAL,
                    "umbrella",
                    "initech",
                    host_id="hv-02",
                    summary_contains="was allowed read, write, open (logged as denied, SELinux (sVirt) permissive) on umbrella-api-1's memory backing file /var/lib/libvirt/qemu/ram/2-umbrella-api-1/pc.ram",
                ),
            ),
        ),
        Case(
            "without SELinux, qemu known by its command line opens another VM's RAM file",
            (
                Records(
                    "auditd",
                    """
node=hv-02 type=SYSCALL msg=audit(1767608000.100:6300): arch=c000003e syscall=59 success=yes exit=0 a0=7f3a1c0041a0 a1=7f3a1c00b3d0 a2=7f3a1c013e80 a3=0 items=2 ppid=1 pid=8120 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-system-x86" exe="/usr/bin/qemu-system-x86_64" key="vmm-exec"
node=hv-02 type=EXECVE msg=audit(1767608000.100:6300): argc=4 a0="/usr/bin/qemu-system-x86_64" a1="-name" a2="guest=initech-app-1,debug-threads=on" a3="-S"
node=hv-02 type=CWD msg=audit(1767608000.100:6300): cwd="/"
node=hv-02 type=PATH msg=audit(1767608000.100:6300): item=0 name="/usr/bin/qemu-system-x86_64" inode=2359331 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-02 type=PATH msg=audit(1767608000.100:6300): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=1180383 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-02 type=EOE msg=audit(1767608000.100:6300):
node=hv-02 type=SYSCALL msg=audit(1767609300.412:6533): arch=c000003e syscall=257 success=yes exit=29 a0=ffffff9c a1=7fb2a8004c10 a2=80000 a3=0 items=1 ppid=1 pid=8120 auid=4294967295 uid=64055 gid=64055 euid=64055 suid=64055 fsuid=64055 egid=64055 sgid=64055 fsgid=64055 tty=(none) ses=4294967295 comm="qemu-system-x86" exe="/usr/bin/qemu-system-x86_64" key="vm-mem"
node=hv-02 type=CWD msg=audit(1767609300.412:6533): cwd="/"
node=hv-02 type=PATH msg=audit(1767609300.412:6533): item=0 name="/var/lib/libvirt/qemu/ram/2-umbrella-api-1/pc.ram" inode=5242881 dev=fd:00 mode=0100600 ouid=64055 ogid=64055 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-02 type=EOE msg=audit(1767609300.412:6533):
""",
                ),
            ),
            (
                Expect(
                    Severity.CRITICAL,
                    "umbrella",
                    "initech",
                    host_id="hv-02",
                    summary_contains="QEMU of initech-app-1 (tenant initech) on host hv-02, qemu-system-x86 (pid 8120, uid 64055), opened for reading umbrella-api-1's memory backing file",
                ),
            ),
        ),
        Case(
            "a backup agent reading a VM's disk is not a VM",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767620400.010:7700): arch=c000003e syscall=257 success=yes exit=5 a0=ffffff9c a1=55c1e2d3a4b0 a2=0 a3=0 items=1 ppid=1402 pid=30211 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="rsync" exe="/usr/bin/rsync" subj=system_u:system_r:unconfined_service_t:s0 key="vm-disks"
node=hv-01 type=CWD msg=audit(1767620400.010:7700): cwd="/var/lib/libvirt/images"
node=hv-01 type=PATH msg=audit(1767620400.010:7700): item=0 name="globex-db-1.qcow2" inode=3407873 dev=fd:00 mode=0100600 ouid=107 ogid=107 rdev=00:00 obj=system_u:object_r:svirt_image_t:s0:c303,c404 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PROCTITLE msg=audit(1767620400.010:7700): proctitle=7273796E63002D2D737061727365002F7661722F6C69622F6C6962766972742F696D616765732F676C6F6265782D64622D312E71636F7732002F6261636B75702F
node=hv-01 type=EOE msg=audit(1767620400.010:7700):
""",
                ),
            ),
            (),
        ),
        Case(
            "qemu opening its own disk and being denied /etc/shadow",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767607201.020:5002): arch=c000003e syscall=257 success=yes exit=23 a0=ffffff9c a1=7f0e2c0180a0 a2=80002 a3=0 items=1 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="vm-disks"
node=hv-01 type=CWD msg=audit(1767607201.020:5002): cwd="/"
node=hv-01 type=PATH msg=audit(1767607201.020:5002): item=0 name="/var/lib/libvirt/images/acme-web-1.qcow2" inode=3407860 dev=fd:00 mode=0100600 ouid=107 ogid=107 rdev=00:00 obj=system_u:object_r:svirt_image_t:s0:c101,c202 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=EOE msg=audit(1767607201.020:5002):
node=hv-01 type=AVC msg=audit(1767607270.880:5120): avc:  denied  { read } for  pid=4242 comm="qemu-kvm" name="shadow" dev="dm-0" ino=1704025 scontext=system_u:system_r:svirt_t:s0:c101,c202 tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=0
node=hv-01 type=SYSCALL msg=audit(1767607270.880:5120): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7f0e2c01c4d0 a2=80000 a3=0 items=1 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key=(null)
node=hv-01 type=CWD msg=audit(1767607270.880:5120): cwd="/"
node=hv-01 type=PATH msg=audit(1767607270.880:5120): item=0 name="/etc/shadow" inode=1704025 dev=fd:00 mode=0100000 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:shadow_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=EOE msg=audit(1767607270.880:5120):
""",
                ),
            ),
            (),
        ),
        Case(
            "a disk shared on purpose is allow-listed",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767608100.250:5300): arch=c000003e syscall=257 success=yes exit=31 a0=ffffff9c a1=7f0e2c01b3c0 a2=80002 a3=0 items=1 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="vm-disks"
node=hv-01 type=CWD msg=audit(1767608100.250:5300): cwd="/"
node=hv-01 type=PATH msg=audit(1767608100.250:5300): item=0 name="/var/lib/libvirt/images/acme-db-1.qcow2" inode=3407880 dev=fd:00 mode=0100600 ouid=107 ogid=107 rdev=00:00 obj=system_u:object_r:svirt_image_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=EOE msg=audit(1767608100.250:5300):
""",
                ),
            ),
            (),
            settings={"allowed_paths": ["/var/lib/libvirt/images/acme-db-1.qcow2"]},
        ),
    )
