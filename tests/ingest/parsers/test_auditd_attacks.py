"""VM-escape telemetry as a hypervisor's auditd writes it, and what the parser makes of it.

The records are written in the exact raw format of RHEL 9 / kernel 5.14 auditd (field order,
quoting, hex encoding of unsafe strings, `a0=ffffff9c` for AT_FDCWD), for a host running two VMs:
acme-web-1 (sVirt categories c101,c202) and globex-db-1 (c303,c404).
"""

from __future__ import annotations

import datetime as dt

from fenghuo.ingest.parsers.auditd import AuditdParser, ProcessTable
from fenghuo.ingest.parsers.base import ParseContext
from fenghuo.model import (
    AccessDenial,
    Event,
    FileAccess,
    HostAudit,
    ProcessCrash,
    ProcessExec,
    SeccompViolation,
    SyscallActivity,
    event_id,
)
from tests.ingest.parsers.helpers import FIXED, run, split

ACME = "system_u:system_r:svirt_t:s0:c101,c202"
GLOBEX_IMAGE = "system_u:object_r:svirt_image_t:s0:c303,c404"
QEMU = "/usr/libexec/qemu-kvm"
VMS_BY_CATEGORIES = {"c101,c202": "acme-web-1", "c303,c404": "globex-db-1"}
ACME_UUID = "9f0c5d1e-2a43-4c1b-8d77-1e2f3a4b5c6d"


def vm_for_label(label: str) -> str | None:
    if label.startswith("libvirt-"):
        return "acme-web-1" if label.split(" ")[0] == f"libvirt-{ACME_UUID}" else None
    return VMS_BY_CATEGORIES.get(label.rsplit(":", 1)[-1])


def context(*, labels: bool = True, host_id: str | None = "hv-01") -> ParseContext:
    if labels:
        return ParseContext(host_id=host_id, clock=lambda: FIXED, vm_for_label=vm_for_label)
    return ParseContext(host_id=host_id, clock=lambda: FIXED)


def hexs(*argv: str) -> str:
    """argv as auditd hex-encodes it (PROCTITLE, unsafe EXECVE args): NUL-separated, upper."""
    return "00".join(arg.encode().hex().upper() for arg in argv)


def parse(text: str, parser: AuditdParser | None = None) -> list[Event]:
    parser = parser or AuditdParser(context())
    lines = [line.strip() for line in text.strip().splitlines()]
    events, errors = split(run(parser, lines, "test.log"))
    assert not errors, errors
    return events


def by_record(events: list[Event]) -> dict[str, Event]:
    return {str(event.raw.record_id): event for event in events}


QEMU_ARGV = (
    QEMU,
    "-name",
    "guest=acme-web-1,debug-threads=on",
    "-S",
    "-machine",
    "pc-q35-rhel9.2.0,usb=off,dump-guest-core=off",
)
QEMU_START = f"""
type=SYSCALL msg=audit(1767607200.100:5001): arch=c000003e syscall=59 success=yes exit=0 a0=7f3a1c0041a0 a1=7f3a1c00b3d0 a2=7f3a1c013e80 a3=0 items=2 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="{QEMU}" subj={ACME} key="vmm-exec"
type=EXECVE msg=audit(1767607200.100:5001): argc=6 a0="{QEMU}" a1="-name" a2="guest=acme-web-1,debug-threads=on" a3="-S" a4="-machine" a5="pc-q35-rhel9.2.0,usb=off,dump-guest-core=off"
type=CWD msg=audit(1767607200.100:5001): cwd="/"
type=PATH msg=audit(1767607200.100:5001): item=0 name="{QEMU}" inode=1706134 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:qemu_exec_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=PATH msg=audit(1767607200.100:5001): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=1180383 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:ld_so_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=PROCTITLE msg=audit(1767607200.100:5001): proctitle={hexs(*QEMU_ARGV)}
type=EOE msg=audit(1767607200.100:5001):
"""  # noqa: E501

SHELL_FROM_QEMU = f"""
type=SYSCALL msg=audit(1767607260.200:5102): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c8a3b2a0 a1=55d0c8a3b2f0 a2=55d0c8a3b310 a3=8 items=2 ppid=4242 pid=4300 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="sh" exe="/usr/bin/bash" subj={ACME} key="vmm-exec"
type=EXECVE msg=audit(1767607260.200:5102): argc=3 a0="/bin/sh" a1="-c" a2={hexs("id ; cat /etc/shadow")}
type=CWD msg=audit(1767607260.200:5102): cwd="/"
type=PATH msg=audit(1767607260.200:5102): item=0 name="/bin/sh" inode=1180512 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:shell_exec_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=PATH msg=audit(1767607260.200:5102): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=1180383 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:ld_so_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=PROCTITLE msg=audit(1767607260.200:5102): proctitle={hexs("/bin/sh", "-c", "id ; cat /etc/shadow")}
type=EOE msg=audit(1767607260.200:5102):
"""  # noqa: E501

SECCOMP_KILL = f"""
type=SECCOMP msg=audit(1767607261.300:5103): auid=4294967295 uid=107 gid=107 ses=4294967295 subj={ACME} pid=4242 comm="qemu-kvm" exe="{QEMU}" sig=31 arch=c000003e syscall=59 compat=0 ip=0x7f0e3c2e4f1b code=0x80000000
"""  # noqa: E501

ABEND = f"""
type=ANOM_ABEND msg=audit(1767607262.400:5104): auid=4294967295 uid=107 gid=107 ses=4294967295 subj={ACME} pid=4242 comm="qemu-kvm" exe="{QEMU}" sig=11 res=1
"""  # noqa: E501

AVC_OTHER_DISK = f"""
type=AVC msg=audit(1767607263.500:5105): avc:  denied  {{ read write }} for  pid=4242 comm="qemu-kvm" name="globex-db-1.qcow2" dev="dm-0" ino=3407873 scontext={ACME} tcontext={GLOBEX_IMAGE} tclass=file permissive=0
type=SYSCALL msg=audit(1767607263.500:5105): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7f0e2c01a2b0 a2=80002 a3=0 items=1 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="{QEMU}" subj={ACME} key=(null)
type=CWD msg=audit(1767607263.500:5105): cwd="/"
type=PATH msg=audit(1767607263.500:5105): item=0 name="/var/lib/libvirt/images/globex-db-1.qcow2" inode=3407873 dev=fd:00 mode=0100600 ouid=107 ogid=107 rdev=00:00 obj={GLOBEX_IMAGE} nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=PROCTITLE msg=audit(1767607263.500:5105): proctitle={hexs(*QEMU_ARGV[:3])}
type=EOE msg=audit(1767607263.500:5105):
"""  # noqa: E501

OPEN_OTHER_DISK = f"""
type=SYSCALL msg=audit(1767607264.600:5106): arch=c000003e syscall=257 success=yes exit=27 a0=ffffff9c a1=7f0e2c01a2b0 a2=80000 a3=0 items=1 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="{QEMU}" subj={ACME} key="vm-disks"
type=CWD msg=audit(1767607264.600:5106): cwd="/var/lib/libvirt/qemu"
type=PATH msg=audit(1767607264.600:5106): item=0 name="../images/globex-db-1.qcow2" inode=3407873 dev=fd:00 mode=0100600 ouid=107 ogid=107 rdev=00:00 obj={GLOBEX_IMAGE} nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=PROCTITLE msg=audit(1767607264.600:5106): proctitle={hexs(*QEMU_ARGV[:3])}
type=EOE msg=audit(1767607264.600:5106):
"""  # noqa: E501

MODULE_FROM_QEMU_CHILD = f"""
type=SYSCALL msg=audit(1767607265.700:5107): arch=c000003e syscall=59 success=yes exit=0 a0=5581c7d69f10 a1=5581c7d6a010 a2=5581c7d6a0b0 a3=0 items=2 ppid=4300 pid=4310 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="insmod" exe="/usr/bin/kmod" subj={ACME} key="vmm-exec"
type=EXECVE msg=audit(1767607265.700:5107): argc=2 a0="insmod" a1="/tmp/.x/vhost_esc.ko"
type=CWD msg=audit(1767607265.700:5107): cwd="/"
type=PATH msg=audit(1767607265.700:5107): item=0 name="/usr/sbin/insmod" inode=1181002 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:insmod_exec_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=PATH msg=audit(1767607265.700:5107): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=1180383 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:ld_so_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=PROCTITLE msg=audit(1767607265.700:5107): proctitle={hexs("insmod", "/tmp/.x/vhost_esc.ko")}
type=EOE msg=audit(1767607265.700:5107):
type=SYSCALL msg=audit(1767607265.710:5108): arch=c000003e syscall=313 success=yes exit=0 a0=3 a1=5581c7d6a4a0 a2=0 a3=0 items=0 ppid=4300 pid=4310 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="insmod" exe="/usr/bin/kmod" subj={ACME} key="modules"
type=KERN_MODULE msg=audit(1767607265.710:5108): name="vhost_esc"
type=PROCTITLE msg=audit(1767607265.710:5108): proctitle={hexs("insmod", "/tmp/.x/vhost_esc.ko")}
type=EOE msg=audit(1767607265.710:5108):
"""  # noqa: E501


def test_qemu_child_shell_belongs_to_the_vm_named_on_the_qemu_command_line() -> None:
    # No inventory labels: the VM name comes from `-name guest=...` alone.
    events = by_record(parse(QEMU_START + SHELL_FROM_QEMU, AuditdParser(context(labels=False))))
    qemu = events["1767607200.100:5001"]
    assert isinstance(qemu, ProcessExec)
    assert qemu.process.argv == QEMU_ARGV
    assert qemu.process.vm_name == "acme-web-1"
    assert qemu.process.selinux_context == ACME
    assert qemu.host_id == "hv-01"

    shell = events["1767607260.200:5102"]
    assert isinstance(shell, ProcessExec)
    assert shell.success is True
    assert shell.process.pid == 4300
    assert shell.process.ppid == 4242
    assert shell.process.exe == "/usr/bin/bash"
    assert shell.process.argv == ("/bin/sh", "-c", "id ; cat /etc/shadow")
    assert shell.process.parent_exe == QEMU
    assert shell.process.vm_name == "acme-web-1"
    assert shell.process.uid == 107
    assert shell.process.auid is None  # 4294967295: never logged in
    assert shell.id == event_id("auditd", "hv-01", "1767607260.200:5102")
    assert shell.event_time == dt.datetime(2026, 1, 5, 10, 1, 0, 200000, tzinfo=dt.UTC)
    assert shell.raw.line == 9  # 7 records of the qemu exec, a blank line, then this one
    assert shell.raw.record_id == "1767607260.200:5102"


def test_vm_from_the_svirt_label_when_qemu_was_never_seen() -> None:
    (shell,) = parse(SHELL_FROM_QEMU)
    assert isinstance(shell, ProcessExec)
    assert shell.process.vm_name == "acme-web-1"  # svirt_t:s0:c101,c202 -> inventory
    assert shell.process.parent_exe is None


def test_process_table_is_shared_between_parser_instances() -> None:
    table = ProcessTable()
    parse(QEMU_START, AuditdParser(context(labels=False), processes=table))
    (shell,) = parse(SHELL_FROM_QEMU, AuditdParser(context(labels=False), processes=table))
    assert isinstance(shell, ProcessExec)
    assert shell.process.vm_name == "acme-web-1"
    assert shell.process.parent_exe == QEMU
    (alone,) = parse(SHELL_FROM_QEMU, AuditdParser(context(labels=False)))
    assert isinstance(alone, ProcessExec)
    assert alone.process.vm_name is None


def test_seccomp_kill_by_qemu() -> None:
    events = by_record(parse(QEMU_START + SECCOMP_KILL, AuditdParser(context(labels=False))))
    seccomp = events["1767607261.300:5103"]
    assert isinstance(seccomp, SeccompViolation)
    assert (seccomp.syscall, seccomp.syscall_nr, seccomp.arch) == ("execve", 59, "x86_64")
    assert (seccomp.action, seccomp.signal) == ("kill_process", 31)
    assert seccomp.process.exe == QEMU
    assert seccomp.process.comm == "qemu-kvm"
    assert seccomp.process.vm_name == "acme-web-1"  # from the table (no labels here)


def test_seccomp_on_aarch64_logged_then_followed_by_its_syscall() -> None:
    text = f"""
    type=SECCOMP msg=audit(1767607300.000:6001): auid=4294967295 uid=107 gid=107 ses=4294967295 subj={ACME} pid=7001 comm="qemu-system-aar" exe="/usr/bin/qemu-system-aarch64" sig=0 arch=c00000b7 syscall=221 compat=0 ip=0xffff8a2b3c4c code=0x7ffc0000
    type=SYSCALL msg=audit(1767607300.000:6001): arch=c00000b7 syscall=221 success=no exit=-13 a0=aaaae1f0 a1=aaaae200 a2=aaaae210 a3=0 items=0 ppid=1 pid=7001 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-system-aar" exe="/usr/bin/qemu-system-aarch64" subj={ACME} key=(null)
    type=EOE msg=audit(1767607300.000:6001):
    """  # noqa: E501
    (seccomp,) = parse(text)
    assert isinstance(seccomp, SeccompViolation)
    assert (seccomp.syscall, seccomp.arch, seccomp.action, seccomp.signal) == (
        "execve",
        "aarch64",
        "log",
        None,
    )
    assert seccomp.process.ppid == 1
    assert seccomp.process.vm_name == "acme-web-1"


def test_qemu_crash() -> None:
    (crash,) = parse(ABEND)
    assert isinstance(crash, ProcessCrash)
    assert (crash.signal, crash.signal_name) == (11, "SIGSEGV")
    assert crash.process.pid == 4242
    assert crash.process.exe == QEMU
    assert crash.process.vm_name == "acme-web-1"


def test_selinux_denial_of_another_vms_image() -> None:
    (denial,) = parse(AVC_OTHER_DISK)
    assert isinstance(denial, AccessDenial)
    assert denial.mechanism == "selinux"
    assert denial.denied is True
    assert denial.permissions == ("read", "write")
    assert denial.source_context == ACME
    assert denial.target_context == GLOBEX_IMAGE
    assert denial.target_class == "file"
    assert denial.target_path == "/var/lib/libvirt/images/globex-db-1.qcow2"
    assert denial.permissive is False
    assert (denial.source_vm, denial.target_vm) == ("acme-web-1", "globex-db-1")
    assert denial.process.exe == QEMU
    assert denial.process.pid == 4242
    assert denial.process.vm_name == "acme-web-1"


def test_avc_without_its_syscall_uses_name() -> None:
    first_line = AVC_OTHER_DISK.strip().splitlines()[0].replace("permissive=0", "permissive=1")
    (denial,) = parse(first_line)
    assert isinstance(denial, AccessDenial)
    assert denial.target_path == "globex-db-1.qcow2"
    assert denial.permissive is True


def test_vm_labels_learned_from_libvirt_records() -> None:
    text = f"""
    type=VIRT_MACHINE_ID msg=audit(1767607100.000:4900): pid=1187 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:virtd_t:s0-s0:c0.c1023 msg='virt=kvm vm="globex-db-1" uuid=2b7e1c4a-5d6f-4a8b-9c0d-1e2f3a4b5c6d vm-ctx=system_u:system_r:svirt_t:s0:c303,c404 img-ctx={GLOBEX_IMAGE} model=selinux exe="/usr/sbin/libvirtd" hostname=? addr=? terminal=? res=success'
    type=VIRT_CONTROL msg=audit(1767607100.100:4901): pid=1187 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:virtd_t:s0-s0:c0.c1023 msg='virt=kvm op=start reason=booted vm="acme-web-1" uuid={ACME_UUID} vm-pid=4242 exe="/usr/sbin/libvirtd" hostname=? addr=? terminal=? res=success'
    """  # noqa: E501
    parser = AuditdParser(context(labels=False))
    machine, control = parse(text, parser)
    assert isinstance(machine, HostAudit)
    assert machine.fields["vm"] == "globex-db-1"
    assert isinstance(control, HostAudit)
    assert control.record_type == "VIRT_CONTROL"
    (seccomp,) = parse(SECCOMP_KILL, parser)
    assert isinstance(seccomp, SeccompViolation)
    assert seccomp.process.vm_name == "acme-web-1"  # pid 4242 from VIRT_CONTROL vm-pid=
    (denial,) = parse(AVC_OTHER_DISK, parser)
    assert isinstance(denial, AccessDenial)
    assert denial.target_vm == "globex-db-1"  # from VIRT_MACHINE_ID img-ctx=
    assert denial.source_vm is None  # acme-web-1's label was never announced
    stop = f"""
    type=VIRT_CONTROL msg=audit(1767608000.000:9900): pid=1187 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:virtd_t:s0-s0:c0.c1023 msg='virt=kvm op=stop reason=shutdown vm="acme-web-1" uuid={ACME_UUID} vm-pid=-1 exe="/usr/sbin/libvirtd" hostname=? addr=? terminal=? res=success'
    """  # noqa: E501
    parse(stop, parser)
    (after,) = parse(SECCOMP_KILL, parser)
    assert isinstance(after, SeccompViolation)
    assert after.process.vm_name is None  # pid 4242 is no longer acme-web-1's


def test_qemu_opens_another_vms_disk() -> None:
    (opened,) = parse(OPEN_OTHER_DISK)
    assert isinstance(opened, FileAccess)
    assert opened.syscall == "openat"
    assert opened.operation == "read"
    assert opened.paths == ("/var/lib/libvirt/images/globex-db-1.qcow2",)
    assert opened.success is True
    assert opened.target_vm is None  # attribution fills it from the inventory's disks
    assert opened.process.vm_name == "acme-web-1"
    assert opened.process.argv == QEMU_ARGV[:3]
    assert opened.process.cwd == "/var/lib/libvirt/qemu"


def test_module_loaded_by_a_grandchild_of_qemu() -> None:
    events = by_record(
        parse(
            QEMU_START + SHELL_FROM_QEMU + MODULE_FROM_QEMU_CHILD,
            AuditdParser(context(labels=False)),
        )
    )
    insmod = events["1767607265.700:5107"]
    assert isinstance(insmod, ProcessExec)
    assert insmod.process.parent_exe == "/usr/bin/bash"
    assert insmod.process.vm_name == "acme-web-1"
    load = events["1767607265.710:5108"]
    assert isinstance(load, SyscallActivity)
    assert (load.syscall, load.syscall_nr, load.arch) == ("finit_module", 313, "x86_64")
    assert load.audit_key == "modules"
    assert load.process.vm_name == "acme-web-1"
    assert load.process.parent_exe == "/usr/bin/bash"
    assert load.process.argv == ("insmod", "/tmp/.x/vhost_esc.ko")
    assert load.detail == {"KERN_MODULE.name": "vhost_esc"}
    # auid and ses 4294967295 (never set), tty (none): a daemon's descendant, no login session
    assert (load.process.auid, load.process.ses, load.process.tty) == (None, None, None)


def test_interactive_module_load_keeps_session_and_side_records() -> None:
    text = f"""
    type=SYSCALL msg=audit(1767607300.000:6000): arch=c000003e syscall=313 success=yes exit=0 a0=3 a1=5581c7d6a4a0 a2=0 a3=0 items=0 ppid=5100 pid=5200 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="modprobe" exe="/usr/bin/kmod" subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 key="modules"
    type=KERN_MODULE msg=audit(1767607300.000:6000): name="iptable_filter"
    type=NETFILTER_CFG msg=audit(1767607300.000:6000): table=filter:2 family=2 entries=0 op=register pid=5200 subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 comm="modprobe"
    type=NETFILTER_CFG msg=audit(1767607300.000:6000): table=filter:3 family=10 entries=0 op=register pid=5200 subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 comm="modprobe"
    type=PROCTITLE msg=audit(1767607300.000:6000): proctitle={hexs("modprobe", "iptable_filter")}
    type=EOE msg=audit(1767607300.000:6000):
    """  # noqa: E501
    (load,) = parse(text)
    assert isinstance(load, SyscallActivity)
    assert (load.process.auid, load.process.ses, load.process.tty) == (1000, 3, "pts0")
    assert load.detail == {  # the first record of a type; process fields left out
        "KERN_MODULE.name": "iptable_filter",
        "NETFILTER_CFG.table": "filter:2",
        "NETFILTER_CFG.family": "2",
        "NETFILTER_CFG.entries": "0",
        "NETFILTER_CFG.op": "register",
    }


def test_qemu_exec_in_place_keeps_its_vm_and_failed_exec_reports_the_target() -> None:
    text = f"""
    type=SYSCALL msg=audit(1767607270.000:5200): arch=c000003e syscall=59 success=no exit=-13 a0=7f0e2c000b60 a1=7f0e2c000b80 a2=7ffd9b1c0f28 a3=0 items=1 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" exe="{QEMU}" subj={ACME} key="vmm-exec"
    type=CWD msg=audit(1767607270.000:5200): cwd="/"
    type=PATH msg=audit(1767607270.000:5200): item=0 name="/bin/sh" inode=1180512 dev=fd:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:shell_exec_t:s0 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
    type=PROCTITLE msg=audit(1767607270.000:5200): proctitle={hexs(*QEMU_ARGV[:3])}
    type=EOE msg=audit(1767607270.000:5200):
    type=SYSCALL msg=audit(1767607271.000:5201): arch=c000003e syscall=59 success=yes exit=0 a0=7f0e2c000b60 a1=7f0e2c000b80 a2=7ffd9b1c0f28 a3=0 items=2 ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="sh" exe="/usr/bin/bash" subj={ACME} key="vmm-exec"
    type=EXECVE msg=audit(1767607271.000:5201): argc=1 a0="/bin/sh"
    type=EOE msg=audit(1767607271.000:5201):
    """  # noqa: E501
    failed, shell = parse(text, AuditdParser(context(labels=False)))
    assert isinstance(failed, ProcessExec)
    assert failed.success is False
    assert failed.process.exe == "/bin/sh"
    assert failed.process.argv == ()
    assert failed.process.vm_name == "acme-web-1"  # the caller is qemu (its title names the VM)
    assert isinstance(shell, ProcessExec)
    assert shell.process.exe == "/usr/bin/bash"
    assert shell.process.vm_name == "acme-web-1"  # same pid, same label: still that VM's process


def test_reused_pid_with_another_label_does_not_inherit_the_vm() -> None:
    table = ProcessTable()
    parse(QEMU_START, AuditdParser(context(labels=False), processes=table))
    text = """
    type=SYSCALL msg=audit(1767607900.000:7000): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=2 ppid=1 pid=4242 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="chronyd" exe="/usr/sbin/chronyd" subj=system_u:system_r:chronyd_t:s0 key=(null)
    type=EOE msg=audit(1767607900.000:7000):
    """  # noqa: E501
    (other,) = parse(text, AuditdParser(context(labels=False), processes=table))
    assert isinstance(other, ProcessExec)
    assert other.process.vm_name is None


def test_node_prefix_sets_the_host_and_separates_events() -> None:
    line = SECCOMP_KILL.strip()
    text = f"node=hv-01 {line}\nnode=hv-02 {line}"
    first, second = parse(text, AuditdParser(context(host_id=None)))
    assert (first.host_id, second.host_id) == ("hv-01", "hv-02")
    assert first.id == event_id("auditd", "hv-01", "1767607261.300:5103")
    assert second.id == event_id("auditd", "hv-02", "1767607261.300:5103")


def test_hex_exe_and_cwd_and_proctitle_argv() -> None:
    exe = "/tmp/my tools/evil"  # a space: auditd hex-encodes it
    text = f"""
    type=SYSCALL msg=audit(1767607400.000:8000): arch=c000003e syscall=101 success=yes exit=0 a0=10 a1=10f2 a2=0 a3=0 items=0 ppid=4300 pid=4400 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="evil" exe=2F746D702F6D7920746F6F6C732F6576696C subj={ACME} key="ptrace"
    type=CWD msg=audit(1767607400.000:8000): cwd=2F746D702F6D7920746F6F6C73
    type=PROCTITLE msg=audit(1767607400.000:8000): proctitle={hexs("./evil", "--pid", "4242")}
    type=EOE msg=audit(1767607400.000:8000):
    """  # noqa: E501
    (ptrace,) = parse(text)
    assert isinstance(ptrace, SyscallActivity)
    assert ptrace.syscall == "ptrace"
    assert ptrace.process.exe == exe
    assert ptrace.process.cwd == "/tmp/my tools"
    assert ptrace.process.argv == ("./evil", "--pid", "4242")
    assert ptrace.audit_key == "ptrace"


def test_apparmor_denial_of_a_libvirt_profile() -> None:
    text = f"""
    type=AVC msg=audit(1767607500.000:9000): apparmor="DENIED" operation="open" class="file" profile="libvirt-{ACME_UUID}" name="/var/lib/libvirt/images/globex-db-1.qcow2" pid=4242 comm="qemu-system-x86" requested_mask="wr" denied_mask="wr" fsuid=64055 ouid=64055
    """  # noqa: E501
    (denial,) = parse(text)
    assert isinstance(denial, AccessDenial)
    assert denial.mechanism == "apparmor"
    assert denial.permissions == ("wr",)
    assert denial.target_path == "/var/lib/libvirt/images/globex-db-1.qcow2"
    assert denial.target_class == "file"
    assert denial.source_vm == "acme-web-1"


def test_interleaved_attack_events_give_the_same_events() -> None:
    text = QEMU_START + AVC_OTHER_DISK + OPEN_OTHER_DISK
    lines = [line for line in text.strip().splitlines() if line]
    # Deal the records of the three events alternately, keeping each event's own order.
    groups: dict[str, list[str]] = {}
    for line in lines:
        groups.setdefault(line.split("msg=audit(", 1)[1].split(")")[0], []).append(line)
    interleaved: list[str] = []
    while any(groups.values()):
        for queue in groups.values():
            if queue:
                interleaved.append(queue.pop(0))
    straight = parse(text)
    mixed = parse("\n".join(interleaved))
    assert sorted(e.id for e in straight) == sorted(e.id for e in mixed)
    assert {type(e).__name__ for e in mixed} == {"ProcessExec", "AccessDenial", "FileAccess"}
