"""Decoders for auditd field values: numbers, argv, socket addresses, signals, seccomp actions,
open flags and paths. Pure functions over strings so the mapper stays readable and each rule is
unit-testable on its own."""

from __future__ import annotations

import ipaddress
import posixpath
from typing import Final

from fenghuo.ingest.parsers.auditd_records import AuditRecord
from fenghuo.ingest.parsers.auditd_syscalls import OPEN_FLAGS_ARG, FileOperation

# Values auditd prints for "nothing here".
_ABSENT: Final = frozenset({"", "?", "(null)", "(none)"})
_UNSET_ID: Final = frozenset({"4294967295", "-1"})  # auid/ses never set (daemons, boot)

_O_ACCMODE: Final = 0o3
_O_CREAT: Final = 0o100
_O_TRUNC: Final = 0o1000
_AT_FDCWD: Final = frozenset({"ffffff9c", "ffffffffffffff9c"})

SIGNAL_NAMES: Final[dict[int, str]] = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
    7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
    13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT",
    19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU",
    25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR",
    31: "SIGSYS",
}  # fmt: skip

# SECCOMP_RET_ACTION_FULL values (include/uapi/linux/seccomp.h).
SECCOMP_ACTIONS: Final[dict[int, str]] = {
    0x80000000: "kill_process",
    0x00000000: "kill_thread",
    0x00030000: "trap",
    0x00050000: "errno",
    0x7FC00000: "user_notif",
    0x7FF00000: "trace",
    0x7FFC0000: "log",
    0x7FFF0000: "allow",
}
_SECCOMP_ACTION_MASK: Final = 0xFFFF0000


def present(value: str | None) -> str | None:
    """None for auditd's placeholders (`?`, `(null)`, `(none)`, empty)."""
    if value is None or value in _ABSENT:
        return None
    return value


def to_int(value: str | None) -> int | None:
    """A decimal field, or None when absent or not a number."""
    if not value:
        return None
    text = value[1:] if value[0] == "-" else value
    if not text.isdigit() or len(text) > 20:  # isdigit accepts non-ASCII digits; int() too
        return None
    return int(value)


def login_id(value: str | None) -> int | None:
    """auid/ses: None when never set (printed as 4294967295, "unset", or -1)."""
    if value is None or value in _UNSET_ID:
        return None
    return to_int(value)


def hex_int(value: str | None) -> int | None:
    """A hex field (syscall arguments, seccomp code), with or without 0x."""
    if not value:
        return None
    text = value[2:] if value[:2] in ("0x", "0X") else value
    if not text or len(text) > 16:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


def success_of(fields: dict[str, str]) -> bool | None:
    """`success=yes|no` (SYSCALL) or `res=success|failed|1|0` (everything else)."""
    value = fields.get("success") or fields.get("res")
    if value in ("yes", "success", "1"):
        return True
    if value in ("no", "failed", "0"):
        return False
    return None


def execve_argv(records: list[AuditRecord]) -> tuple[str, ...]:
    """argv from EXECVE records: `argc`, `aN`, and the split form `aN_len` + `aN[0]`, `aN[1]`...

    Long argument lists span several EXECVE records of one event; they are merged in order.
    """
    fields: dict[str, str] = {}
    for record in records:
        for key, value in record.fields.items():
            fields.setdefault(key, value)
    argc = to_int(fields.get("argc"))
    if argc is None:
        argc = sum(1 for key in fields if key[:1] == "a" and key[1:].isdigit())
    argv: list[str] = []
    for index in range(min(argc, 100_000)):
        whole = fields.get(f"a{index}")
        if whole is None:
            parts: list[str] = []
            while (part := fields.get(f"a{index}[{len(parts)}]")) is not None:
                parts.append(part)
            if not parts and f"a{index}_len" not in fields:
                break
            whole = "".join(parts)
        argv.append(whole)
    return tuple(argv)


def proctitle_argv(value: str | None) -> tuple[str, ...]:
    """PROCTITLE's (already hex-decoded) NUL-separated argv; at most 128 bytes in the kernel."""
    if not value or value in _ABSENT:
        return ()
    return tuple(value.rstrip("\x00").split("\x00"))


def sockaddr_address(saddr: str | None) -> str | None:
    """SOCKADDR `saddr=HEX` -> "ip:port", "[ip6]:port", a unix path ("@name" when abstract)."""
    if not saddr or len(saddr) < 4 or len(saddr) % 2:
        return None
    try:
        raw = bytes.fromhex(saddr)
    except ValueError:
        return None
    family = int.from_bytes(raw[:2], "little")
    if family == 2 and len(raw) >= 8:  # AF_INET
        port = int.from_bytes(raw[2:4], "big")
        return f"{ipaddress.IPv4Address(raw[4:8])}:{port}"
    if family == 10 and len(raw) >= 24:  # AF_INET6
        port = int.from_bytes(raw[2:4], "big")
        return f"[{ipaddress.IPv6Address(raw[8:24])}]:{port}"
    if family == 1:  # AF_UNIX
        path = raw[2:]
        if path[:1] == b"\x00":
            name = path[1:].rstrip(b"\x00")
            return "@" + name.decode("utf-8", "replace") if name else None
        path = path.split(b"\x00", 1)[0]
        return path.decode("utf-8", "replace") or None
    return None


def signal_name(number: int | None) -> str | None:
    return SIGNAL_NAMES.get(number) if number is not None else None


def seccomp_action(code: str | None) -> str | None:
    """`code=0x80000000` -> `kill_process`; unknown actions keep their hex."""
    value = hex_int(code)
    if value is None:
        return None
    action = value & _SECCOMP_ACTION_MASK
    return SECCOMP_ACTIONS.get(action, f"0x{action:08x}")


def audit_key(value: str | None) -> str | None:
    """The rule key(s): `(null)` -> None; several keys (hex, \\x01-separated) joined by commas."""
    value = present(value)
    if value is None:
        return None
    keys = [key for key in value.split("\x01") if key]
    return ",".join(keys) or None


def cwd_relative(syscall: str | None, args: dict[str, str]) -> bool:
    """Whether a relative PATH name is relative to the CWD: not for *at calls given a dirfd."""
    if syscall is not None and (syscall.endswith(("at", "at2")) or syscall == "open_by_handle_at"):
        return args.get("a0", "").lower() in _AT_FDCWD
    return True


def resolve_path(name: str | None, cwd: str | None, *, relative_to_cwd: bool = True) -> str | None:
    """An absolute, normalised path when the name is absolute or the CWD applies."""
    name = present(name)
    if name is None:
        return None
    if name.startswith("/"):
        return posixpath.normpath(name)
    if cwd and relative_to_cwd and cwd.startswith("/"):
        return posixpath.normpath(posixpath.join(cwd, name))
    return name


def file_operation(
    base: FileOperation,
    syscall: str,
    args: dict[str, str],
    objtypes: set[str],
    openat2_flags: int | None = None,
) -> FileOperation:
    """Refine an open-family syscall from its flags and the PATH records' object types."""
    if base != "open":
        return base
    if syscall == "creat" or "CREATE" in objtypes:
        return "create"
    flags = openat2_flags if syscall == "openat2" else None
    arg = OPEN_FLAGS_ARG.get(syscall)
    if arg is not None:
        flags = hex_int(args.get(arg))
    if flags is None:
        return "open"
    if flags & _O_ACCMODE or flags & (_O_CREAT | _O_TRUNC):
        return "write"
    return "read"


def octal_int(value: str | None) -> int | None:
    """OPENAT2 `oflag=0100441`."""
    if not value:
        return None
    try:
        return int(value, 8)
    except ValueError:
        return None
