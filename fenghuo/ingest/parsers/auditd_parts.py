"""Sort the records of one coalesced audit event into its parts and decide what kind of event it
is. Kept apart from building the model objects so the decision table reads in one place."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

from fenghuo.ingest.parsers.auditd_records import AuditRecord
from fenghuo.ingest.parsers.auditd_syscalls import (
    CARRIER_SYSCALLS,
    EXEC_SYSCALLS,
    FILE_SYSCALLS,
    syscall_name,
)
from fenghuo.ingest.parsers.auditd_values import (
    cwd_relative,
    execve_argv,
    octal_int,
    present,
    proctitle_argv,
    resolve_path,
    to_int,
)

# Records that only add detail to the event's main record (a SYSCALL, an AVC, ...).
AUXILIARY_TYPES: Final = frozenset(
    {
        "SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE", "SOCKADDR", "EOE", "BPRM_FCAPS",
        "CAPSET", "MMAP", "FD_PAIR", "OBJ_PID", "IPC", "IPC_SET_PERM", "MQ_OPEN", "MQ_SENDRECV",
        "MQ_NOTIFY", "MQ_GETSETATTR", "SOCKETCALL", "KERN_MODULE", "BPF", "URINGOP", "OPENAT2",
        "AVC_PATH",
    }
)  # fmt: skip
_DENIAL_APPARMOR: Final = frozenset({"DENIED", "ALLOWED"})
# Records the model already carries (SYSCALL, argv, paths, cwd, address) or that say nothing (EOE).
_MAPPED_TYPES: Final = frozenset(
    {"SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE", "SOCKADDR", "EOE"}
)
# Side-record fields that repeat the acting process (NETFILTER_CFG, CAPSET, ... carry them).
_PROCESS_FIELDS: Final = frozenset(
    {
        "pid", "ppid", "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "auid",
        "ses", "subj", "comm", "exe", "tty",
    }
)  # fmt: skip
MAX_DETAIL: Final = 32


class Kind(enum.Enum):
    ACCESS_DENIAL = "access_denial"
    SECCOMP = "seccomp_violation"
    CRASH = "process_crash"
    EXEC = "process_exec"
    FILE = "file_access"
    SYSCALL = "syscall"
    HOST_AUDIT = "host_audit"


def is_denial(record: AuditRecord) -> bool:
    """An SELinux `avc: denied|granted {...}` or an AppArmor DENIED/ALLOWED decision."""
    fields = record.fields
    if "seresult" in fields:
        return True
    if record.type in ("APPARMOR_DENIED", "APPARMOR_ALLOWED"):
        return True
    return fields.get("apparmor", "").upper() in _DENIAL_APPARMOR


@dataclass(slots=True)
class EventParts:
    """The records of one event, by role."""

    records: list[AuditRecord]
    syscall: AuditRecord | None = None
    execve: list[AuditRecord] = field(default_factory=list)
    paths: list[AuditRecord] = field(default_factory=list)
    denials: list[AuditRecord] = field(default_factory=list)
    seccomp: AuditRecord | None = None
    abend: AuditRecord | None = None
    primary: AuditRecord | None = None  # first record that is not auxiliary
    cwd: str | None = None
    proctitle: str | None = None
    saddr: str | None = None
    avc_path: str | None = None
    openat2_flags: int | None = None
    _path_names: tuple[str, ...] | None = None

    @classmethod
    def of(cls, records: list[AuditRecord]) -> EventParts:
        parts = cls(records=records)
        for record in records:
            kind, fields = record.type, record.fields
            if kind == "SYSCALL":
                parts.syscall = parts.syscall or record
            elif kind == "EXECVE":
                parts.execve.append(record)
            elif kind == "PATH":
                parts.paths.append(record)
            elif kind == "CWD":
                parts.cwd = parts.cwd or present(fields.get("cwd"))
            elif kind == "PROCTITLE":
                parts.proctitle = parts.proctitle or fields.get("proctitle")
            elif kind == "SOCKADDR":
                parts.saddr = parts.saddr or fields.get("saddr")
            elif kind == "AVC_PATH":
                parts.avc_path = parts.avc_path or present(fields.get("path"))
            elif kind == "OPENAT2":
                parts.openat2_flags = octal_int(fields.get("oflag"))
            elif kind == "SECCOMP":
                parts.seccomp = parts.seccomp or record
            elif kind == "ANOM_ABEND":
                parts.abend = parts.abend or record
            if kind not in AUXILIARY_TYPES:
                parts.primary = parts.primary or record
                if is_denial(record):
                    parts.denials.append(record)
        parts.paths.sort(key=lambda r: to_int(r.fields.get("item")) or 0)
        return parts

    # --- derived values -----------------------------------------------------------------------

    @property
    def syscall_fields(self) -> dict[str, str]:
        return self.syscall.fields if self.syscall is not None else {}

    @property
    def syscall_nr(self) -> int | None:
        return to_int(self.syscall_fields.get("syscall"))

    @property
    def syscall_name(self) -> str | None:
        fields = self.syscall_fields
        return name_of_syscall(fields.get("arch"), fields.get("syscall"), fields.get("SYSCALL"))

    def argv(self) -> tuple[str, ...]:
        """The new image's argv (EXECVE), else the process title."""
        if self.execve:
            return execve_argv(self.execve)
        return proctitle_argv(self.proctitle)

    def path_names(self) -> tuple[str, ...]:
        """The PATH names the syscall acted on (parent directories only when nothing else),
        absolute when the CWD applies."""
        if self._path_names is None:
            self._path_names = self._resolve_paths()
        return self._path_names

    def _resolve_paths(self) -> tuple[str, ...]:
        relative_ok = cwd_relative(self.syscall_name, self.syscall_fields)
        chosen = [p for p in self.paths if _nametype(p) != "PARENT"] or self.paths
        names: list[str] = []
        for record in chosen:
            path = resolve_path(record.fields.get("name"), self.cwd, relative_to_cwd=relative_ok)
            if path is not None and path not in names:
                names.append(path)
        return tuple(names)

    def side_detail(self) -> dict[str, str]:
        """What the side records (KERN_MODULE, NETFILTER_CFG, OBJ_PID, MMAP, BPF, ...) say that
        no model attribute carries, keyed `RECORDTYPE.field`: process fields and absent values
        left out, the first record of a type only, at most `MAX_DETAIL` entries."""
        detail: dict[str, str] = {}
        seen: set[str] = set()
        for record in self.records:
            if record.type in _MAPPED_TYPES or record.type in seen:
                continue
            seen.add(record.type)
            for key, value in record.fields.items():
                if key in _PROCESS_FIELDS or present(value) is None:
                    continue
                if len(detail) == MAX_DETAIL:
                    return detail
                detail[f"{record.type}.{key}"] = value
        return detail

    def object_types(self) -> set[str]:
        return {_nametype(p) for p in self.paths}

    def kind(self) -> Kind:
        """The decision table: what this event is in the model."""
        if self.denials:
            return Kind.ACCESS_DENIAL
        if self.seccomp is not None:
            return Kind.SECCOMP
        if self.abend is not None and to_int(self.abend.fields.get("sig")) is not None:
            return Kind.CRASH
        if self.syscall is not None:
            name = self.syscall_name
            if self.primary is not None and (name is None or name in CARRIER_SYSCALLS):
                return Kind.HOST_AUDIT  # CONFIG_CHANGE via sendto, LOGIN via write, ...
            if name in EXEC_SYSCALLS:
                return Kind.EXEC
            if name in FILE_SYSCALLS and self.path_names():
                return Kind.FILE
            return Kind.SYSCALL
        if self.execve and self.primary is None:
            return Kind.EXEC  # an EXECVE whose SYSCALL record was lost
        return Kind.HOST_AUDIT


def name_of_syscall(arch: str | None, number: str | None, enriched: str | None) -> str | None:
    """From the arch's table; `ausearch -i` output already has the name; log_format=ENRICHED
    spells it out after the GS byte (upper-case `SYSCALL=`)."""
    if number and not number.isdigit():
        return present(number)
    return syscall_name(arch, to_int(number)) or present(enriched)


def _nametype(record: AuditRecord) -> str:
    fields = record.fields
    return fields.get("nametype") or fields.get("objtype") or ""
