"""vmm-seccomp-violation: a QEMU process tried a syscall its seccomp sandbox forbids.

libvirt starts QEMU with `-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,
resourcecontrol=deny`: a seccomp filter that kills (or fails) any syscall a VMM never needs, such
as execve, fork, setuid or sched_setaffinity. QEMU itself never makes those calls, so the kernel's
SECCOMP audit record for a QEMU process means code other than QEMU's is running in it: the
shellcode of a guest-to-host exploit (CVE-2015-3456 VENOM, CVE-2020-14364 USB, ...) trying to
spawn a shell or raise its privileges, stopped by the sandbox. (Rarely, a QEMU bug on an
unusual path; the runbook tells the two apart.) Descendants of QEMU inherit its filter and count
too. Seccomp violations of other programs (a browser's renderer, a container under the runtime's
default profile) are not this detector's business.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from fenghuo.detectors.base import Case, Context, Detector, DetectorMeta, Expect, Finding, Records
from fenghuo.detectors.hypervisor import in_vmm_context, process_phrase, vm_phrase
from fenghuo.detectors.process import is_qemu
from fenghuo.detectors.taxonomy import CYBER_ATTACK
from fenghuo.model import Event, SeccompViolation
from fenghuo.model.alert import Entity, Severity

# Seccomp return actions that do not stop the call: "allow" is never logged by a filter; "log"
# (SECCOMP_RET_LOG) is, and still reported (the call went through, which is worse).
_NOT_VIOLATIONS = frozenset({"allow"})


class VmmSeccompViolation(Detector):
    meta = DetectorMeta(
        id="vmm-seccomp-violation",
        title="VMM violated its seccomp sandbox (VM escape attempt)",
        severity=Severity.HIGH,
        confidence=0.85,
        technique="T1611",
        category=CYBER_ATTACK,
        description=(
            "The kernel reported a seccomp violation by a QEMU process (or a descendant that "
            "inherited its filter): a syscall the VMM's sandbox forbids (execve, fork, setuid, "
            "...). QEMU never makes them; exploit code running inside the VMM does."
        ),
        runbook=(
            "1. Identify the VM, its tenant and the syscall and action in the alert details. "
            "2. If the action did not kill the process (errno, trap, log), pause the VM now "
            "(virsh suspend) and keep the QEMU process for a core (gcore PID). "
            "3. Collect the QEMU log (/var/log/libvirt/qemu/<vm>.log), the domain XML and the "
            "QEMU version; check the QEMU build against known CVEs of the emulated devices. "
            "4. Look for companion alerts on the host: vmm-child-process, vmm-crash, "
            "cross-vm-access, host-tampering. Any of them means escalate to incident response. "
            "5. A lone violation on a rarely used path after a QEMU upgrade may be a QEMU bug: "
            "reproduce in a lab before closing; otherwise treat the VM's tenant as hostile and "
            "migrate other tenants' VMs off the host."
        ),
        dedup_window=dt.timedelta(minutes=30),
    )
    inputs = (SeccompViolation,)

    def key(self, event: Event) -> str | None:
        if not isinstance(event, SeccompViolation):
            return None
        process = event.process
        if not (is_qemu(process) or in_vmm_context(process)):
            return None
        return f"{event.host_id or '?'}/{process.vm_name or f'pid {process.pid}'}"

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(event, SeccompViolation)
        if event.action in _NOT_VIOLATIONS:
            return
        process = event.process
        syscall = event.syscall or (
            f"#{event.syscall_nr}" if event.syscall_nr is not None else "an unknown syscall"
        )
        arch = f" ({event.arch})" if event.arch else ""
        action = event.action or "unknown"
        signal = f", signal {event.signal}" if event.signal else ""
        who = "QEMU" if is_qemu(process) else f"a child of QEMU ({process.exe or '?'})"
        yield Finding(
            summary=(
                f"{who} of {vm_phrase(process.vm_name, event.tenant_id, event.host_id)}, "
                f"{process_phrase(process)}, tried syscall {syscall}{arch} forbidden by its "
                f"seccomp sandbox; action {action}{signal}"
            ),
            tenant_id=event.tenant_id,
            host_id=event.host_id,
            vm_id=process.vm_name,
            first_seen=event.event_time,
            last_seen=event.event_time,
            evidence=(event.id,),
            entities=(Entity("process", f"{event.host_id}:{process.pid}"),),
            details={
                "syscall": event.syscall,
                "syscall_nr": event.syscall_nr,
                "arch": event.arch,
                "action": event.action,
                "signal": event.signal,
                "exe": process.exe,
                "pid": process.pid,
                "qemu": is_qemu(process),
            },
        )

    cases = (
        Case(
            "qemu shellcode tries execve, sandbox kills it",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SECCOMP msg=audit(1767607261.300:5103): auid=4294967295 uid=107 gid=107 ses=4294967295 subj=system_u:system_r:svirt_t:s0:c101,c202 pid=4242 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" sig=31 arch=c000003e syscall=59 compat=0 ip=0x7f0e3c2e4f1b code=0x80000000
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH,
                    "acme",
                    host_id="hv-01",
                    summary_contains="acme-web-1 (tenant acme) on host hv-01, qemu-kvm (pid 4242, uid 107), tried syscall execve (x86_64) forbidden by its seccomp sandbox; action kill_process",
                ),
            ),
        ),
        Case(
            "qemu-system-x86_64 known by its command line tries setuid, gets EPERM",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767610800.000:7001): arch=c000003e syscall=59 success=yes exit=0 a0=55f1c2a0b1d0 a1=55f1c2a0c2e0 a2=55f1c2a0d3f0 a3=0 items=2 ppid=1 pid=5151 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-system-x86" exe="/usr/bin/qemu-system-x86_64" key="vmm-exec"
node=hv-01 type=EXECVE msg=audit(1767610800.000:7001): argc=6 a0="/usr/bin/qemu-system-x86_64" a1="-name" a2="guest=globex-db-1,debug-threads=on" a3="-S" a4="-sandbox" a5="on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
node=hv-01 type=CWD msg=audit(1767610800.000:7001): cwd="/"
node=hv-01 type=PATH msg=audit(1767610800.000:7001): item=0 name="/usr/bin/qemu-system-x86_64" inode=2359331 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PATH msg=audit(1767610800.000:7001): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=1180383 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=EOE msg=audit(1767610800.000:7001):
node=hv-01 type=SECCOMP msg=audit(1767611342.517:7204): auid=4294967295 uid=107 gid=107 ses=4294967295 pid=5151 comm="qemu-system-x86" exe="/usr/bin/qemu-system-x86_64" sig=0 arch=c000003e syscall=105 compat=0 ip=0x7f83a4d1e8bb code=0x50001
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH,
                    "globex",
                    host_id="hv-01",
                    summary_contains="QEMU of globex-db-1 (tenant globex) on host hv-01, qemu-system-x86 (pid 5151, uid 107), tried syscall setuid (x86_64) forbidden by its seccomp sandbox; action errno",
                ),
            ),
        ),
        Case(
            "a browser renderer's seccomp errno is not a VMM",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SECCOMP msg=audit(1767607400.120:6100): auid=1000 uid=1000 gid=1000 ses=3 subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 pid=9312 comm="chrome" exe="/opt/google/chrome/chrome" sig=0 arch=c000003e syscall=165 compat=0 ip=0x7f4e1a2b3c4d code=0x50001
""",
                ),
            ),
            (),
        ),
        Case(
            "a container's seccomp-blocked unshare is not a VMM",
            (
                Records(
                    "auditd",
                    """
node=hv-02 type=SECCOMP msg=audit(1767607500.000:6200): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=system_u:system_r:container_t:s0:c12,c845 pid=20417 comm="unshare" exe="/usr/bin/unshare" sig=0 arch=c000003e syscall=272 compat=0 ip=0x7f1d2e3f4a5b code=0x50001
""",
                ),
            ),
            (),
        ),
    )
