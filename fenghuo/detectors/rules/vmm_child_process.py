"""vmm-child-process: the VMM spawns a process.

A QEMU process runs one guest; under libvirt it never starts programs. An exec whose parent is a
QEMU process, or any exec inside the sVirt domain (svirt_t) that is not QEMU itself, means code
running in the VMM's context chose to start a program: the classic first step after a VM escape
(e.g. CVE-2015-3456 VENOM, CVE-2019-14378), when the attacker turns control of QEMU into a shell
on the hypervisor.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Iterable
from typing import Any

from fenghuo.detectors.base import Case, Context, Detector, DetectorMeta, Expect, Finding, Records
from fenghuo.detectors.process import in_svirt_domain, is_qemu, is_qemu_path
from fenghuo.detectors.taxonomy import CYBER_ATTACK
from fenghuo.model import Event, ProcessExec
from fenghuo.model.alert import Entity, Severity

# QEMU helpers libvirt may legitimately run from a QEMU process (configurable per deployment).
DEFAULT_ALLOWED = ("/usr/libexec/qemu-bridge-helper", "/usr/lib/qemu/qemu-bridge-helper")


class VmmChildProcess(Detector):
    meta = DetectorMeta(
        id="vmm-child-process",
        title="VMM spawned a process (VM escape)",
        severity=Severity.CRITICAL,
        confidence=0.9,
        technique="T1611",
        category=CYBER_ATTACK,
        description=(
            "A QEMU process (or a process in the sVirt svirt_t domain) executed a program. QEMU "
            "never starts programs in normal operation: code running in the VMM is acting on the "
            "hypervisor."
        ),
        runbook=(
            "1. Isolate the host: stop scheduling, live-migrate other tenants' VMs away. "
            "2. Preserve the QEMU process (gcore) and the child's binary and argv. "
            "3. Pause the VM and snapshot it for forensics. "
            "4. Review the host for persistence (kernel modules, /etc, libvirt config)."
        ),
        dedup_window=dt.timedelta(minutes=30),
    )
    inputs = (ProcessExec,)

    def key(self, event: Event) -> str | None:
        if not isinstance(event, ProcessExec) or is_qemu(event.process):
            return None
        process = event.process
        if is_qemu_path(process.parent_exe) or in_svirt_domain(process):
            return f"{event.host_id or '?'}/{process.vm_name or '?'}"
        return None

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(event, ProcessExec)
        process = event.process
        allowed = ctx.setting("allowed_exes", DEFAULT_ALLOWED)
        if process.exe in allowed:
            return
        vm = process.vm_name or "an unknown VM"
        program = " ".join(process.argv) or process.exe or process.comm or "?"
        uid = f", uid {process.uid}" if process.uid is not None else ""
        yield Finding(
            summary=(
                f"QEMU of {vm} (tenant {event.tenant_id or 'unknown'}) on host "
                f"{event.host_id or '?'} started {posixpath.basename(process.exe or '?')} "
                f"(pid {process.pid}{uid}): {program}"
            ),
            tenant_id=event.tenant_id,
            host_id=event.host_id,
            vm_id=process.vm_name,
            first_seen=event.event_time,
            last_seen=event.event_time,
            evidence=(event.id,),
            entities=(Entity("process", f"{event.host_id}:{process.pid}"),),
            details={"exe": process.exe, "argv": list(process.argv), "success": event.success},
        )

    cases = (
        Case(
            "qemu spawns a shell",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767607200.100:500): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=1800 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="sh" exe="/usr/bin/bash" subj=system_u:system_r:svirt_t:s0:c101,c202 key="exec"
node=hv-01 type=EXECVE msg=audit(1767607200.100:500): argc=3 a0="/bin/sh" a1="-c" a2="id"
node=hv-01 type=EOE msg=audit(1767607200.100:500):
""",
                ),
            ),
            (Expect(Severity.CRITICAL, "acme", host_id="hv-01", summary_contains="acme-web-1"),),
        ),
        Case(
            "libvirtd starts qemu: normal",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767607100.000:400): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=1200 pid=1800 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="exec"
node=hv-01 type=EXECVE msg=audit(1767607100.000:400): argc=4 a0="/usr/libexec/qemu-kvm" a1="-name" a2="guest=acme-web-1,debug-threads=on" a3="-S"
node=hv-01 type=EOE msg=audit(1767607100.000:400):
""",
                ),
            ),
            (),
        ),
        Case(
            "an allow-listed helper",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767607200.100:501): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=1800 pid=4243 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="qemu-bridge-hel" exe="/usr/libexec/qemu-bridge-helper" subj=system_u:system_r:svirt_t:s0:c101,c202 key="exec"
node=hv-01 type=EOE msg=audit(1767607200.100:501):
""",
                ),
            ),
            (),
        ),
    )
