"""Linux audit records as auditd writes them (RHEL 9, `log_format = RAW`, `name_format = NODE`).

A kernel event is SYSCALL then its auxiliary records (EXECVE, CWD, PATH..., PROCTITLE) and EOE,
all sharing `msg=audit(SECONDS.MILLIS:SERIAL)`; SECCOMP and ANOM_ABEND are logged alone, outside
syscall context; user-space messages (sshd, PAM, libvirtd, systemd) are one record each.
Untrusted strings (comm, exe, cwd, name, argv, proctitle) are quoted, or hex when the kernel
would not print them (a space, a quote, a control byte), exactly as `audit_log_untrustedstring`.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, replace

from fenghuo.simulate.emission import AuditEvent

ARCH = "c000003e"  # x86_64
UNSET = 4294967295  # auid/ses never set
LD_SO = "/lib64/ld-linux-x86-64.so.2"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_PATH_TAIL = "cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"

# x86_64 syscall numbers used here.
EXECVE, OPENAT, RENAME, BIND, LISTEN, FINIT_MODULE, WRITE, NEWFSTATAT = (
    59,
    257,
    82,
    49,
    50,
    313,
    1,
    262,
)
O_RDONLY, O_WRONLY_CREAT_TRUNC, O_RDWR = 0x80000, 0x80241, 0x80002


def untrusted(value: str) -> str:
    """`"value"`, or upper-case hex when it holds a quote, a space or a control byte."""
    if value and all(0x21 <= ord(c) <= 0x7E and c != '"' for c in value):
        return f'"{value}"'
    return value.encode().hex().upper()


def proctitle(argv: tuple[str, ...]) -> str:
    """argv NUL-joined and cut at 128 bytes, as the kernel logs it."""
    raw = "\x00".join(argv).encode()[:128]
    text = raw.decode("utf-8", "replace")
    return untrusted(text) if "\x00" not in text else raw.hex().upper()


def inode(path: str) -> int:
    """A stable inode number for a path."""
    return 1_000_000 + zlib.crc32(path.encode()) % 4_000_000


@dataclass(frozen=True)
class Proc:
    """A process as audit records describe it."""

    pid: int
    ppid: int
    exe: str
    comm: str
    argv: tuple[str, ...]
    subj: str
    uid: int = 0
    gid: int = 0
    auid: int = UNSET
    ses: int = UNSET
    tty: str = "(none)"
    cwd: str = "/"

    def child(self, pid: int, exe: str, argv: tuple[str, ...], **changes: object) -> Proc:
        """The process `pid` forked by this one, after it exec'd `exe` (same label, ids, tty).
        Its comm is the name it was invoked by (argv[0]), as the kernel takes it from the path
        given to execve."""
        name = argv[0] if argv else exe
        comm = name.rsplit("/", 1)[-1].lstrip("-")[:15]
        base = replace(self, pid=pid, ppid=self.pid, exe=exe, comm=comm, argv=argv)
        return replace(base, **changes)  # type: ignore[arg-type]

    def ids(self) -> str:
        u, g = self.uid, self.gid
        return (
            f"ppid={self.ppid} pid={self.pid} auid={self.auid} uid={u} gid={g} euid={u} suid={u} "
            f"fsuid={u} egid={g} sgid={g} fsgid={g} tty={self.tty} ses={self.ses}"
        )


def _key(key: str | None) -> str:
    return f"key={untrusted(key)}" if key else "key=(null)"


def syscall(
    proc: Proc,
    nr: int,
    *,
    exit_code: int = 0,
    args: tuple[int, int, int, int] = (0, 0, 0, 0),
    items: int = 0,
    key: str | None = None,
) -> tuple[str, str]:
    success = "no" if exit_code < 0 else "yes"
    a = " ".join(f"a{i}={value:x}" for i, value in enumerate(args))
    return (
        "SYSCALL",
        f"arch={ARCH} syscall={nr} success={success} exit={exit_code} {a} items={items} "
        f"{proc.ids()} comm={untrusted(proc.comm)} exe={untrusted(proc.exe)} subj={proc.subj} "
        f"{_key(key)}",
    )


def path(
    item: int,
    name: str,
    obj: str,
    *,
    nametype: str = "NORMAL",
    mode: str = "0100755",
    owner: int = 0,
) -> tuple[str, str]:
    return (
        "PATH",
        f"item={item} name={untrusted(name)} inode={inode(name)} dev=fd:00 mode={mode} "
        f"ouid={owner} ogid={owner} rdev=00:00 obj={obj} nametype={nametype} {_PATH_TAIL}",
    )


def tail(proc: Proc) -> tuple[tuple[str, str], tuple[str, str]]:
    return (("PROCTITLE", f"proctitle={proctitle(proc.argv)}"), ("EOE", ""))


def exec_event(proc: Proc, exe_type: str, *, key: str | None = "exec") -> AuditEvent:
    """`proc` has just exec'd its `exe` with its `argv` (SYSCALL, EXECVE, CWD, PATH x2, ...)."""
    argv = " ".join(f"a{i}={untrusted(arg)}" for i, arg in enumerate(proc.argv))
    ptr = 0x55D0C8A30000 + proc.pid * 0x40
    # PATH item 0 is the path given to execve: argv[0] when it is one, else the binary.
    invoked = proc.argv[0] if proc.argv and proc.argv[0].startswith("/") else proc.exe
    return AuditEvent(
        (
            syscall(proc, EXECVE, args=(ptr, ptr + 0x50, ptr + 0x70, 0), items=2, key=key),
            ("EXECVE", f"argc={len(proc.argv)} {argv}"),
            ("CWD", f"cwd={untrusted(proc.cwd)}"),
            path(0, invoked, f"system_u:object_r:{exe_type}:s0"),
            path(1, LD_SO, "system_u:object_r:ld_so_t:s0"),
            *tail(proc),
        )
    )


def open_event(
    proc: Proc,
    name: str,
    obj: str,
    *,
    flags: int = O_RDONLY,
    exit_code: int = 3,
    create: bool = False,
    owner: int = 0,
    key: str | None = None,
) -> AuditEvent:
    """openat of `name`; with `create`, the PATH records of a new file (parent, then CREATE)."""
    records: list[tuple[str, str]] = [
        syscall(
            proc,
            OPENAT,
            exit_code=exit_code,
            args=(0xFFFFFF9C, 0x7F0E2C01A2B0, flags, 0o644),
            items=2 if create else 1,
            key=key,
        ),
        ("CWD", f"cwd={untrusted(proc.cwd)}"),
    ]
    if create:
        parent = name.rsplit("/", 1)[0] + "/"
        records.append(path(0, parent, obj, nametype="PARENT", mode="040755"))
        records.append(path(1, name, obj, nametype="CREATE", mode="0100644", owner=owner))
    else:
        records.append(path(0, name, obj, mode="0100600", owner=owner))
    return AuditEvent((*records, *tail(proc)))


def rename_event(proc: Proc, source: str, target: str, obj: str, *, key: str | None) -> AuditEvent:
    """rename(2) of a temporary file over its final name (how rpm installs a file)."""
    directory = target.rsplit("/", 1)[0] + "/"
    return AuditEvent(
        (
            syscall(proc, RENAME, args=(0x5581C7D69F10, 0x5581C7D6A010, 0, 0), items=4, key=key),
            ("CWD", f"cwd={untrusted(proc.cwd)}"),
            path(0, directory, obj, nametype="PARENT", mode="040755"),
            path(1, directory, obj, nametype="PARENT", mode="040755"),
            path(2, source, obj, nametype="DELETE", mode="0100644"),
            path(3, target, obj, nametype="CREATE", mode="0100644"),
            *tail(proc),
        )
    )


def module_load_event(proc: Proc, module: str, *, key: str | None = "modules") -> AuditEvent:
    """finit_module(2) with the KERN_MODULE record naming the module."""
    return AuditEvent(
        (
            syscall(proc, FINIT_MODULE, args=(3, 0x5581C7D6A4A0, 0, 0), key=key),
            ("KERN_MODULE", f"name={untrusted(module)}"),
            *tail(proc),
        )
    )


def sockaddr_ipv4(address: str, port: int) -> str:
    octets = bytes(int(part) for part in address.split("."))
    return ("0200" + f"{port:04X}" + octets.hex().upper()).ljust(32, "0")


def socket_event(
    proc: Proc, nr: int, address: str, port: int, *, key: str | None = "network"
) -> AuditEvent:
    """bind(2) or connect(2) on an IPv4 socket, with its SOCKADDR."""
    return AuditEvent(
        (
            syscall(proc, nr, args=(3, 0x7FFD9B1C0F20, 16, 0), key=key),
            ("SOCKADDR", f"saddr={sockaddr_ipv4(address, port)}"),
            *tail(proc),
        )
    )


def listen_event(proc: Proc, *, key: str | None = "network") -> AuditEvent:
    return AuditEvent((syscall(proc, LISTEN, args=(3, 1, 0, 0), key=key), *tail(proc)))


def _context(proc: Proc) -> str:
    return f"auid={proc.auid} uid={proc.uid} gid={proc.gid} ses={proc.ses} subj={proc.subj}"


def seccomp_event(proc: Proc, nr: int, *, sig: int = 31, code: str = "0x80000000") -> AuditEvent:
    """The kernel's seccomp record: the filter's action `code` on syscall `nr`."""
    body = (
        f"{_context(proc)} pid={proc.pid} comm={untrusted(proc.comm)} exe={untrusted(proc.exe)} "
        f"sig={sig} arch={ARCH} syscall={nr} compat=0 ip=0x7f0e3c2e4f1b code={code}"
    )
    return AuditEvent((("SECCOMP", body),))


def abend_event(proc: Proc, sig: int) -> AuditEvent:
    """ANOM_ABEND: the process dumped core on signal `sig`."""
    body = (
        f"{_context(proc)} pid={proc.pid} comm={untrusted(proc.comm)} exe={untrusted(proc.exe)} "
        f"sig={sig} res=1"
    )
    return AuditEvent((("ANOM_ABEND", body),))


def avc_open_event(
    proc: Proc,
    target: str,
    tcontext: str,
    *,
    permissions: str = "read write",
    permissive: bool = False,
) -> AuditEvent:
    """An SELinux denial, then the syscall it stopped (failed unless the domain is permissive):
    openat for read/write permissions, newfstatat for getattr."""
    name = target.rsplit("/", 1)[-1]
    avc = (
        f"avc:  denied  {{ {permissions} }} for  pid={proc.pid} comm={untrusted(proc.comm)} "
        f'name={untrusted(name)} dev="dm-0" ino={inode(target)} scontext={proc.subj} '
        f"tcontext={tcontext} tclass=file permissive={int(permissive)}"
    )
    if permissions == "getattr":
        nr, args, ok = NEWFSTATAT, (0xFFFFFF9C, 0x7F0E2C01A2B0, 0x7FFD9B1C0F20, 0), 0
    else:
        flags = O_RDWR if "write" in permissions else O_RDONLY
        nr, args, ok = OPENAT, (0xFFFFFF9C, 0x7F0E2C01A2B0, flags, 0), 27
    return AuditEvent(
        (
            ("AVC", avc),
            syscall(proc, nr, exit_code=ok if permissive else -13, args=args, items=1),
            ("CWD", f"cwd={untrusted(proc.cwd)}"),
            path(0, target, tcontext, mode="0100600", owner=107),
            *tail(proc),
        )
    )


def user_message(
    record_type: str,
    proc: Proc,
    message: str,
    *,
    hostname: str = "?",
    addr: str = "?",
    terminal: str = "?",
    result: str = "success",
) -> AuditEvent:
    """A user-space record (PAM, sshd, libvirtd, systemd): one record, its own event."""
    body = (
        f"pid={proc.pid} uid={proc.uid} auid={proc.auid} ses={proc.ses} subj={proc.subj} "
        f"msg='{message} exe={untrusted(proc.exe)} hostname={hostname} addr={addr} "
        f"terminal={terminal} res={result}'"
    )
    return AuditEvent(((record_type, body),))


def login_event(proc: Proc, auid: int, ses: int) -> AuditEvent:
    """LOGIN: pam_loginuid wrote /proc/self/loginuid (with its write(2) syscall)."""
    body = (
        f"pid={proc.pid} uid={proc.uid} subj={proc.subj} old-auid={UNSET} auid={auid} "
        f"tty={proc.tty} old-ses={UNSET} ses={ses} res=1"
    )
    return AuditEvent(
        (
            ("LOGIN", body),
            syscall(proc, WRITE, exit_code=4, args=(3, 0x7FFC8E1C2B40, 4, 0)),
            *tail(proc),
        )
    )


def audit_lines(host: str, time: dt.datetime, serial: int, event: AuditEvent) -> list[str]:
    """The raw lines of one event, `node=`-prefixed."""
    delta = time - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    stamp = f"{seconds}.{delta.microseconds // 1000:03d}:{serial}"
    return [
        f"node={host} type={kind} msg=audit({stamp}): {body}".rstrip()
        for kind, body in event.records
    ]
