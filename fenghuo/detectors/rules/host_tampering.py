"""host-tampering: the VMM, or a process it started, changes the host.

After a VM escape the attacker holds the QEMU process (user qemu, the VM's sVirt label) or a shell
it spawned, and makes the foothold last: loads a kernel module (a rootkit, or a driver exposing
more attack surface), writes host configuration (`/etc`: cron, sshd, sudoers, ld.so.preload;
`/root`: authorized_keys; `/var/lib/libvirt`: other VMs' definitions and images), or opens a
listening socket as a backdoor. A QEMU process never does any of that; neither does anything it
starts. Ordinary administration (a root shell from sshd) serves no VM and is not this detector's
business.

Actor: any process serving a VM, which the auditd parser marks with `vm_name` (QEMU and every
descendant of a QEMU process), or confined in the sVirt domain (svirt_t).

What QEMU does legitimately is allow-listed, as configuration (settings):
* `protected_dirs` (default `/etc`, `/root`, `/var/lib/libvirt`): where writes, creations,
  deletions, renames and permission changes count; a unix socket bound there counts as a file
  created there.
* `allowed_paths`: globs (`*` crosses `/`) QEMU may write in those directories, with `{vm}`,
  `{short}` (libvirt's 20-character short name) and `{uuid}` standing for the acting VM. The
  defaults cover libvirt's per-VM runtime directory (monitor, VNC, SPICE, agent sockets it binds
  at start), the guest agent channel directory, file-backed RAM, UEFI variables, vTPM state and
  disk images named after the VM; the VM's own disks in the inventory are always allowed. A file
  access to another VM's disk or per-VM file is left to cross-vm-access (a socket bound in
  another VM's directory is not: that detector reads no binds).
* `allowed_ports`: TCP/UDP ports QEMU may bind (VNC/SPICE displays 5900-5999, VNC websockets
  5700-5799, migration 49152-49215: libvirt's qemu.conf defaults narrowed to 100 displays). A
  bare `listen()` carries no address: QEMU's own is judged by its `bind`, anyone else's alerts.

Severity: critical when the change succeeded; high for a failed module load or file change (the
attempt is as telling; the kernel or file permissions stopped it). One alert per (host, VM, kind
of change) and dedup window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from fenghuo.detectors.base import Case, Context, Detector, DetectorMeta, Expect, Finding, Records
from fenghuo.detectors.hypervisor import (
    address_port,
    expand_patterns,
    in_vmm_context,
    matches_any,
    port_allowed,
    process_phrase,
    under_any,
    vm_of_path,
    vm_phrase,
)
from fenghuo.detectors.process import is_qemu
from fenghuo.detectors.taxonomy import CYBER_ATTACK
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model import Event, FileAccess, Process, SyscallActivity
from fenghuo.model.alert import Entity, Severity

MODULE_SYSCALLS = frozenset({"init_module", "finit_module"})
SOCKET_SYSCALLS = frozenset({"bind", "listen"})
CHANGES = {
    "write": "wrote",
    "create": "created",
    "delete": "deleted",
    "rename": "renamed",
    "chmod": "changed the mode or owner of",
}
DEFAULT_PROTECTED_DIRS = ("/etc", "/root", "/var/lib/libvirt")
DEFAULT_ALLOWED_PATHS = (
    "/var/lib/libvirt/qemu/domain-*-{short}/*",
    "/var/lib/libvirt/qemu/channel/target/domain-*-{short}/*",
    "/var/lib/libvirt/qemu/ram/*-{short}/*",
    "/var/lib/libvirt/qemu/nvram/{vm}_VARS.fd",
    "/var/lib/libvirt/swtpm/{uuid}/*",
    "/var/lib/libvirt/images/{vm}*",
)
DEFAULT_ALLOWED_PORTS = ("5900-5999", "5700-5799", "49152-49215")

_TITLES = {
    "module": "Kernel module load from a VMM (host tampering after VM escape)",
    "file": "VMM changed host files (host tampering after VM escape)",
    "socket": "VMM opened a listening socket (host backdoor after VM escape)",
}


def _kind(event: Event) -> str | None:
    if isinstance(event, SyscallActivity):
        if event.syscall in MODULE_SYSCALLS:
            return "module"
        if event.syscall in SOCKET_SYSCALLS and event.success:
            return "socket"
    if isinstance(event, FileAccess) and event.operation in CHANGES:
        return "file"
    return None


def _who(process: Process) -> str:
    if is_qemu(process):
        return "QEMU"
    return "a process started by QEMU" if process.vm_name else "a process in the sVirt domain"


class HostTampering(Detector):
    meta = DetectorMeta(
        id="host-tampering",
        title="VMM tampered with the host (after VM escape)",
        severity=Severity.CRITICAL,
        confidence=0.9,
        technique="T1611",
        category=CYBER_ATTACK,
        description=(
            "A QEMU process or one of its descendants (or anything in the sVirt domain) loaded a "
            "kernel module, changed files under /etc, /root or /var/lib/libvirt beyond its own "
            "VM's runtime files, or bound a listening port outside the display and migration "
            "ranges: an attacker who escaped the VM making the foothold on the host last."
        ),
        runbook=(
            "1. Treat the host as compromised: stop scheduling to it, live-migrate other "
            "tenants' VMs away (their memory and disks are exposed), cut its management network "
            "access except for forensics. "
            "2. Kernel module: lsmod, cat /proc/modules, and keep a copy of the .ko named in the "
            "alert; a module loaded after the escape means the kernel cannot be trusted: capture "
            "memory (LiME/kdump) before rebooting. "
            "3. Files: diff the paths in the alert against the package manager (rpm -Va / "
            "debsums) and configuration management; look for cron, sshd, sudoers, "
            "ld.so.preload and libvirt domain XML changes (qemu:commandline, hostdev). "
            "4. Socket: ss -lntup to find the listener and its process tree; block the port. "
            "5. Preserve the QEMU process of the acting VM (gcore) and pause the VM; rebuild the "
            "host from a known-good image, do not clean it in place."
        ),
        dedup_window=dt.timedelta(minutes=30),
    )
    inputs = (SyscallActivity, FileAccess)

    def key(self, event: Event) -> str | None:
        if not isinstance(event, SyscallActivity | FileAccess) or not in_vmm_context(event.process):
            return None
        if _kind(event) is None:
            return None
        return f"{event.host_id or '?'}/{event.process.vm_name or '?'}"

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(event, SyscallActivity | FileAccess)
        kind = _kind(event)
        if kind == "module":
            assert isinstance(event, SyscallActivity)
            yield from self._module(event)
        elif kind == "socket":
            assert isinstance(event, SyscallActivity)
            yield from self._socket(event, ctx)
        elif kind == "file":
            assert isinstance(event, FileAccess)
            yield from self._file(event, ctx)

    # --- the three kinds of change ------------------------------------------------------------

    def _module(self, event: SyscallActivity) -> Iterable[Finding]:
        name = event.detail.get("KERN_MODULE.name") or next(
            (a for a in event.process.argv[1:] if a.endswith((".ko", ".ko.xz", ".ko.zst"))), "?"
        )
        if event.success:
            what = f"loaded kernel module {name} into the host kernel ({event.syscall})"
        else:
            failed = f"{event.syscall} failed, exit {event.exit_code}"
            what = f"tried to load kernel module {name} ({failed})"
        yield self._finding(
            event,
            "module",
            what,
            success=event.success,
            details={"module": name, "syscall": event.syscall, "exit": event.exit_code},
            extra_techniques=("T1547.006",),
        )

    def _socket(self, event: SyscallActivity, ctx: Context) -> Iterable[Finding]:
        process = event.process
        if event.syscall == "listen":
            if is_qemu(process):
                return  # QEMU's own listeners are judged by their bind (which has the address)
            what = "started listening on a socket (listen)"
            yield self._finding(event, "socket", what, success=True, details={"syscall": "listen"})
            return
        address = event.address
        if address is None:
            return  # netlink, packet, vsock...: not a listening socket of the host's network
        port = address_port(address)
        if port is None:  # a unix socket: a file created where it is bound
            if self._path_allowed(address, event, ctx) or not self._protected(address, ctx):
                return
        elif port_allowed(port, ctx.setting("allowed_ports", DEFAULT_ALLOWED_PORTS)):
            return
        what = f"bound a listening socket on {address} on the host"
        yield self._finding(
            event,
            "socket",
            what,
            success=True,
            details={"syscall": "bind", "address": address, "port": port},
        )

    def _file(self, event: FileAccess, ctx: Context) -> Iterable[Finding]:
        changed = [
            path
            for path in event.paths
            if self._protected(path, ctx) and not self._path_allowed(path, event, ctx)
        ]
        if not changed:
            return
        verb = CHANGES[event.operation]
        shown = ", ".join(changed)
        if event.success:
            what = f"{verb} host file {shown}"
        else:
            what = f"tried to change host file {shown} ({event.operation}), failed"
        yield self._finding(
            event,
            "file",
            what,
            success=event.success,
            details={"operation": event.operation, "paths": changed, "syscall": event.syscall},
        )

    # --- helpers ------------------------------------------------------------------------------

    @staticmethod
    def _protected(path: str, ctx: Context) -> bool:
        dirs = ctx.setting("protected_dirs", DEFAULT_PROTECTED_DIRS)
        return path.startswith("/") and under_any(path, dirs) is not None

    @staticmethod
    def _path_allowed(path: str, event: SyscallActivity | FileAccess, ctx: Context) -> bool:
        """QEMU's own files (allow-list), or another VM's (cross-vm-access reports those)."""
        index: InventoryIndex = ctx.inventory
        vm_name = event.process.vm_name
        own = index.vm_by_name(vm_name)
        owner = vm_of_path(index, event.host_id, path)
        if owner is not None and (owner.name == vm_name or isinstance(event, FileAccess)):
            return True  # its own disk or per-VM file; another VM's: cross-vm-access
        patterns = expand_patterns(
            ctx.setting("allowed_paths", DEFAULT_ALLOWED_PATHS),
            vm_name,
            own.uuid if own else None,
        )
        return matches_any(path, patterns)

    def _finding(
        self,
        event: SyscallActivity | FileAccess,
        kind: str,
        what: str,
        *,
        success: bool,
        details: dict[str, Any],
        extra_techniques: tuple[str, ...] = (),
    ) -> Finding:
        process = event.process
        return Finding(
            summary=(
                f"{_who(process)} of {vm_phrase(process.vm_name, event.tenant_id, event.host_id)}"
                f", {process_phrase(process)}, {what}"
            ),
            title=_TITLES[kind],
            tenant_id=event.tenant_id,
            host_id=event.host_id,
            vm_id=process.vm_name,
            severity=Severity.CRITICAL if success else Severity.HIGH,
            first_seen=event.event_time,
            last_seen=event.event_time,
            evidence=(event.id,),
            entities=(Entity("process", f"{event.host_id}:{process.pid}"),),
            dedup_key=f"{event.host_id or '?'}/{process.vm_name or '?'}/{kind}",
            details={
                "kind": kind,
                "exe": process.exe,
                "argv": list(process.argv),
                "pid": process.pid,
                "uid": process.uid,
                "success": success,
                "techniques": ["T1611", *extra_techniques],
                **details,
            },
        )

    cases = (
        Case(
            "a grandchild of qemu loads a kernel module",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767607200.100:5001): arch=c000003e syscall=59 success=yes exit=0 a0=7f3a1c0041a0 a1=7f3a1c00b3d0 a2=7f3a1c013e80 a3=0 items=2 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="vmm-exec"
node=hv-01 type=EXECVE msg=audit(1767607200.100:5001): argc=4 a0="/usr/libexec/qemu-kvm" a1="-name" a2="guest=acme-web-1,debug-threads=on" a3="-S"
node=hv-01 type=CWD msg=audit(1767607200.100:5001): cwd="/"
node=hv-01 type=PATH msg=audit(1767607200.100:5001): item=0 name="/usr/libexec/qemu-kvm" inode=1706134 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:qemu_exec_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PROCTITLE msg=audit(1767607200.100:5001): proctitle=2F7573722F6C6962657865632F71656D752D6B766D002D6E616D650067756573743D61636D652D7765622D312C64656275672D746872656164733D6F6E002D53
node=hv-01 type=EOE msg=audit(1767607200.100:5001):
node=hv-01 type=SYSCALL msg=audit(1767607260.200:5102): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c8a3b2a0 a1=55d0c8a3b2f0 a2=55d0c8a3b310 a3=8 items=2 ppid=4242 pid=4300 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="sh" exe="/usr/bin/bash" subj=system_u:system_r:svirt_t:s0:c101,c202 key="vmm-exec"
node=hv-01 type=EXECVE msg=audit(1767607260.200:5102): argc=1 a0="/bin/sh"
node=hv-01 type=CWD msg=audit(1767607260.200:5102): cwd="/"
node=hv-01 type=PATH msg=audit(1767607260.200:5102): item=0 name="/bin/sh" inode=1180512 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:shell_exec_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PROCTITLE msg=audit(1767607260.200:5102): proctitle=2F62696E2F7368
node=hv-01 type=EOE msg=audit(1767607260.200:5102):
node=hv-01 type=SYSCALL msg=audit(1767607265.700:5107): arch=c000003e syscall=59 success=yes exit=0 a0=5581c7d69f10 a1=5581c7d6a010 a2=5581c7d6a0b0 a3=0 items=2 ppid=4300 pid=4310 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="insmod" exe="/usr/bin/kmod" subj=system_u:system_r:svirt_t:s0:c101,c202 key="vmm-exec"
node=hv-01 type=EXECVE msg=audit(1767607265.700:5107): argc=2 a0="insmod" a1="/tmp/.x/vhost_esc.ko"
node=hv-01 type=CWD msg=audit(1767607265.700:5107): cwd="/"
node=hv-01 type=PATH msg=audit(1767607265.700:5107): item=0 name="/usr/sbin/insmod" inode=1181002 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:insmod_exec_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PROCTITLE msg=audit(1767607265.700:5107): proctitle=696E736D6F64002F746D702F2E782F76686F73745F6573632E6B6F
node=hv-01 type=EOE msg=audit(1767607265.700:5107):
node=hv-01 type=SYSCALL msg=audit(1767607265.710:5108): arch=c000003e syscall=313 success=yes exit=0 a0=3 a1=5581c7d6a4a0 a2=0 a3=0 items=0 ppid=4300 pid=4310 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="insmod" exe="/usr/bin/kmod" subj=system_u:system_r:svirt_t:s0:c101,c202 key="modules"
node=hv-01 type=KERN_MODULE msg=audit(1767607265.710:5108): name="vhost_esc"
node=hv-01 type=PROCTITLE msg=audit(1767607265.710:5108): proctitle=696E736D6F64002F746D702F2E782F76686F73745F6573632E6B6F
node=hv-01 type=EOE msg=audit(1767607265.710:5108):
""",
                ),
            ),
            (
                Expect(
                    Severity.CRITICAL,
                    "acme",
                    host_id="hv-01",
                    summary_contains="a process started by QEMU of acme-web-1 (tenant acme) on host hv-01, insmod (pid 4310, uid 0), loaded kernel module vhost_esc into the host kernel (finit_module)",
                ),
            ),
        ),
        Case(
            "qemu's child without root tries to load a module and fails",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767611000.410:8100): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c8a3b2a0 a1=55d0c8a3b2f0 a2=55d0c8a3b310 a3=0 items=2 ppid=4242 pid=4620 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="insmod" exe="/usr/bin/kmod" subj=system_u:system_r:svirt_t:s0:c101,c202 key="vmm-exec"
node=hv-01 type=EXECVE msg=audit(1767611000.410:8100): argc=2 a0="insmod" a1="/dev/shm/.k/kvm_probe.ko"
node=hv-01 type=CWD msg=audit(1767611000.410:8100): cwd="/"
node=hv-01 type=PROCTITLE msg=audit(1767611000.410:8100): proctitle=696E736D6F64002F6465762F73686D2F2E6B2F6B766D5F70726F62652E6B6F
node=hv-01 type=EOE msg=audit(1767611000.410:8100):
node=hv-01 type=SYSCALL msg=audit(1767611000.418:8101): arch=c000003e syscall=313 success=no exit=-1 a0=3 a1=55e4a1b2c4a0 a2=0 a3=0 items=0 ppid=4242 pid=4620 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="insmod" exe="/usr/bin/kmod" subj=system_u:system_r:svirt_t:s0:c101,c202 key="modules"
node=hv-01 type=PROCTITLE msg=audit(1767611000.418:8101): proctitle=696E736D6F64002F6465762F73686D2F2E6B2F6B766D5F70726F62652E6B6F
node=hv-01 type=EOE msg=audit(1767611000.418:8101):
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH,
                    "acme",
                    host_id="hv-01",
                    summary_contains="tried to load kernel module /dev/shm/.k/kvm_probe.ko (finit_module failed, exit -1)",
                ),
            ),
        ),
        Case(
            "without SELinux, a shell from globex's qemu plants cron and ssh keys",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767610800.000:7001): arch=c000003e syscall=59 success=yes exit=0 a0=55f1c2a0b1d0 a1=55f1c2a0c2e0 a2=55f1c2a0d3f0 a3=0 items=2 ppid=1 pid=5151 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-system-x86" exe="/usr/bin/qemu-system-x86_64" key="vmm-exec"
node=hv-01 type=EXECVE msg=audit(1767610800.000:7001): argc=4 a0="/usr/bin/qemu-system-x86_64" a1="-name" a2="guest=globex-db-1,debug-threads=on" a3="-S"
node=hv-01 type=CWD msg=audit(1767610800.000:7001): cwd="/"
node=hv-01 type=PATH msg=audit(1767610800.000:7001): item=0 name="/usr/bin/qemu-system-x86_64" inode=2359331 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=EOE msg=audit(1767610800.000:7001):
node=hv-01 type=SYSCALL msg=audit(1767612100.330:7402): arch=c000003e syscall=59 success=yes exit=0 a0=5604a1b2c3d0 a1=5604a1b2c4e0 a2=5604a1b2c5f0 a3=0 items=2 ppid=5151 pid=5190 auid=4294967295 uid=107 gid=107 euid=0 suid=0 fsuid=0 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="sh" exe="/usr/bin/dash" key="vmm-exec"
node=hv-01 type=EXECVE msg=audit(1767612100.330:7402): argc=1 a0="sh"
node=hv-01 type=CWD msg=audit(1767612100.330:7402): cwd="/"
node=hv-01 type=EOE msg=audit(1767612100.330:7402):
node=hv-01 type=SYSCALL msg=audit(1767612131.905:7410): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=5604a1b2d010 a2=241 a3=1b6 items=2 ppid=5151 pid=5190 auid=4294967295 uid=107 gid=107 euid=0 suid=0 fsuid=0 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="sh" exe="/usr/bin/dash" key="etc-writes"
node=hv-01 type=CWD msg=audit(1767612131.905:7410): cwd="/"
node=hv-01 type=PATH msg=audit(1767612131.905:7410): item=0 name="/etc/cron.d/" inode=1572871 dev=fd:00 mode=040755 ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PATH msg=audit(1767612131.905:7410): item=1 name="/etc/cron.d/0hourly-sync" inode=1573012 dev=fd:00 mode=0100644 ouid=0 ogid=107 rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PROCTITLE msg=audit(1767612131.905:7410): proctitle=7368
node=hv-01 type=EOE msg=audit(1767612131.905:7410):
node=hv-01 type=SYSCALL msg=audit(1767612140.117:7415): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=5604a1b2d230 a2=441 a3=1b6 items=1 ppid=5151 pid=5190 auid=4294967295 uid=107 gid=107 euid=0 suid=0 fsuid=0 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="sh" exe="/usr/bin/dash" key="root-writes"
node=hv-01 type=CWD msg=audit(1767612140.117:7415): cwd="/"
node=hv-01 type=PATH msg=audit(1767612140.117:7415): item=0 name="/root/.ssh/authorized_keys" inode=2883655 dev=fd:00 mode=0100600 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PROCTITLE msg=audit(1767612140.117:7415): proctitle=7368
node=hv-01 type=EOE msg=audit(1767612140.117:7415):
""",
                ),
            ),
            (
                Expect(
                    Severity.CRITICAL,
                    "globex",
                    host_id="hv-01",
                    summary_contains="a process started by QEMU of globex-db-1 (tenant globex) on host hv-01, sh (pid 5190, uid 107, euid 0), wrote host file",
                ),
            ),
        ),
        Case(
            "qemu binds a backdoor port",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767613000.250:7600): arch=c000003e syscall=49 success=yes exit=0 a0=2c a1=7f0e2c01d5e0 a2=10 a3=0 items=0 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="net-bind"
node=hv-01 type=SOCKADDR msg=audit(1767613000.250:7600): saddr=0200115C000000000000000000000000
node=hv-01 type=PROCTITLE msg=audit(1767613000.250:7600): proctitle=2F7573722F6C6962657865632F71656D752D6B766D002D6E616D650067756573743D61636D652D7765622D312C64656275672D746872656164733D6F6E
node=hv-01 type=EOE msg=audit(1767613000.250:7600):
node=hv-01 type=SYSCALL msg=audit(1767613000.251:7601): arch=c000003e syscall=50 success=yes exit=0 a0=2c a1=1 a2=0 a3=0 items=0 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="net-listen"
node=hv-01 type=PROCTITLE msg=audit(1767613000.251:7601): proctitle=2F7573722F6C6962657865632F71656D752D6B766D002D6E616D650067756573743D61636D652D7765622D312C64656275672D746872656164733D6F6E
node=hv-01 type=EOE msg=audit(1767613000.251:7601):
""",
                ),
            ),
            (
                Expect(
                    Severity.CRITICAL,
                    "acme",
                    host_id="hv-01",
                    summary_contains="QEMU of acme-web-1 (tenant acme) on host hv-01, qemu-kvm (pid 4242, uid 107), bound a listening socket on 0.0.0.0:4444 on the host",
                ),
            ),
        ),
        Case(
            "qemu's normal start: monitor socket, VNC port, own disk and NVRAM, certificates",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767607200.310:5003): arch=c000003e syscall=49 success=yes exit=0 a0=9 a1=7ffd4e1c2a30 a2=6e a3=0 items=2 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="net-bind"
node=hv-01 type=SOCKADDR msg=audit(1767607200.310:5003): saddr=01002F7661722F6C69622F6C6962766972742F71656D752F646F6D61696E2D312D61636D652D7765622D312F6D6F6E69746F722E736F636B000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
node=hv-01 type=CWD msg=audit(1767607200.310:5003): cwd="/"
node=hv-01 type=PATH msg=audit(1767607200.310:5003): item=0 name="/var/lib/libvirt/qemu/domain-1-acme-web-1/" inode=3145754 dev=fd:00 mode=040750 ouid=107 ogid=107 rdev=00:00 obj=system_u:object_r:qemu_var_run_t:s0:c101,c202 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PATH msg=audit(1767607200.310:5003): item=1 name="/var/lib/libvirt/qemu/domain-1-acme-web-1/monitor.sock" inode=3145760 dev=fd:00 mode=0140775 ouid=107 ogid=107 rdev=00:00 obj=system_u:object_r:qemu_var_run_t:s0:c101,c202 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PROCTITLE msg=audit(1767607200.310:5003): proctitle=2F7573722F6C6962657865632F71656D752D6B766D002D6E616D650067756573743D61636D652D7765622D312C64656275672D746872656164733D6F6E
node=hv-01 type=EOE msg=audit(1767607200.310:5003):
node=hv-01 type=SYSCALL msg=audit(1767607200.311:5004): arch=c000003e syscall=50 success=yes exit=0 a0=9 a1=1 a2=0 a3=0 items=0 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="net-listen"
node=hv-01 type=PROCTITLE msg=audit(1767607200.311:5004): proctitle=2F7573722F6C6962657865632F71656D752D6B766D002D6E616D650067756573743D61636D652D7765622D312C64656275672D746872656164733D6F6E
node=hv-01 type=EOE msg=audit(1767607200.311:5004):
node=hv-01 type=SYSCALL msg=audit(1767607200.520:5005): arch=c000003e syscall=49 success=yes exit=0 a0=1a a1=55d3e4f5a6b0 a2=10 a3=0 items=0 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="net-bind"
node=hv-01 type=SOCKADDR msg=audit(1767607200.520:5005): saddr=0200170C000000000000000000000000
node=hv-01 type=PROCTITLE msg=audit(1767607200.520:5005): proctitle=2F7573722F6C6962657865632F71656D752D6B766D002D6E616D650067756573743D61636D652D7765622D312C64656275672D746872656164733D6F6E
node=hv-01 type=EOE msg=audit(1767607200.520:5005):
node=hv-01 type=SYSCALL msg=audit(1767607201.020:5006): arch=c000003e syscall=257 success=yes exit=23 a0=ffffff9c a1=7f0e2c0180a0 a2=80002 a3=0 items=1 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="vm-disks"
node=hv-01 type=CWD msg=audit(1767607201.020:5006): cwd="/"
node=hv-01 type=PATH msg=audit(1767607201.020:5006): item=0 name="/var/lib/libvirt/images/acme-web-1.qcow2" inode=3407860 dev=fd:00 mode=0100600 ouid=107 ogid=107 rdev=00:00 obj=system_u:object_r:svirt_image_t:s0:c101,c202 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=EOE msg=audit(1767607201.020:5006):
node=hv-01 type=SYSCALL msg=audit(1767607201.044:5007): arch=c000003e syscall=257 success=yes exit=24 a0=ffffff9c a1=7f0e2c018200 a2=80002 a3=0 items=1 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="libvirt-writes"
node=hv-01 type=CWD msg=audit(1767607201.044:5007): cwd="/"
node=hv-01 type=PATH msg=audit(1767607201.044:5007): item=0 name="/var/lib/libvirt/qemu/nvram/acme-web-1_VARS.fd" inode=3145801 dev=fd:00 mode=0100600 ouid=107 ogid=107 rdev=00:00 obj=system_u:object_r:svirt_image_t:s0:c101,c202 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=EOE msg=audit(1767607201.044:5007):
node=hv-01 type=SYSCALL msg=audit(1767607201.090:5008): arch=c000003e syscall=257 success=yes exit=25 a0=ffffff9c a1=7f0e2c018360 a2=80000 a3=0 items=1 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="etc-reads"
node=hv-01 type=CWD msg=audit(1767607201.090:5008): cwd="/"
node=hv-01 type=PATH msg=audit(1767607201.090:5008): item=0 name="/etc/pki/qemu/ca-cert.pem" inode=1572990 dev=fd:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:cert_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=EOE msg=audit(1767607201.090:5008):
""",
                ),
            ),
            (),
        ),
        Case(
            "an administrator's modprobe and qemu.conf edit over ssh",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767607300.000:6000): arch=c000003e syscall=313 success=yes exit=0 a0=3 a1=5581c7d6a4a0 a2=0 a3=0 items=0 ppid=5100 pid=5200 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="modprobe" exe="/usr/bin/kmod" subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 key="modules"
node=hv-01 type=KERN_MODULE msg=audit(1767607300.000:6000): name="iptable_filter"
node=hv-01 type=PROCTITLE msg=audit(1767607300.000:6000): proctitle=6D6F6470726F62650069707461626C655F66696C746572
node=hv-01 type=EOE msg=audit(1767607300.000:6000):
node=hv-01 type=SYSCALL msg=audit(1767607420.615:6012): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=55b7c8d9e0f0 a2=241 a3=1a4 items=2 ppid=5100 pid=5230 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="vim" exe="/usr/bin/vim" subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 key="libvirt-conf"
node=hv-01 type=CWD msg=audit(1767607420.615:6012): cwd="/root"
node=hv-01 type=PATH msg=audit(1767607420.615:6012): item=0 name="/etc/libvirt/" inode=1573100 dev=fd:00 mode=040700 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:virt_etc_t:s0 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PATH msg=audit(1767607420.615:6012): item=1 name="/etc/libvirt/qemu.conf" inode=1573122 dev=fd:00 mode=0100600 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:virt_etc_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
node=hv-01 type=PROCTITLE msg=audit(1767607420.615:6012): proctitle=76696D002F6574632F6C6962766972742F71656D752E636F6E66
node=hv-01 type=EOE msg=audit(1767607420.615:6012):
""",
                ),
            ),
            (),
        ),
        Case(
            "an allow-listed NBD port for storage migration",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=SYSCALL msg=audit(1767614000.900:7800): arch=c000003e syscall=49 success=yes exit=0 a0=31 a1=55d3e4f5b7c0 a2=1c a3=0 items=0 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" subj=system_u:system_r:svirt_t:s0:c101,c202 key="net-bind"
node=hv-01 type=SOCKADDR msg=audit(1767614000.900:7800): saddr=0A002A39000000000000000000000000000000000000000000000000
node=hv-01 type=PROCTITLE msg=audit(1767614000.900:7800): proctitle=2F7573722F6C6962657865632F71656D752D6B766D002D6E616D650067756573743D61636D652D7765622D312C64656275672D746872656164733D6F6E
node=hv-01 type=EOE msg=audit(1767614000.900:7800):
""",
                ),
            ),
            (),
            settings={"allowed_ports": [10809, "5900-5999"]},
        ),
    )
