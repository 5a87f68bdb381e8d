"""Turn one coalesced audit event into a Fenghuo model event.

The decision of *what* an event is lives in `EventParts.kind`; this module fills the model
objects: the envelope (deterministic id from host and `ts:serial`), the process with the VM it
serves (via the shared `ProcessTable`), and the kind-specific fields.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from fenghuo.ingest.parsers.auditd_coalesce import PendingEvent
from fenghuo.ingest.parsers.auditd_parts import EventParts, Kind, name_of_syscall
from fenghuo.ingest.parsers.auditd_process import (
    Observation,
    ProcessInfo,
    ProcessTable,
    observe,
)
from fenghuo.ingest.parsers.auditd_records import AuditRecord
from fenghuo.ingest.parsers.auditd_syscalls import (
    CLONE_SYSCALLS,
    EXIT_SYSCALLS,
    FILE_SYSCALLS,
    arch_name,
)
from fenghuo.ingest.parsers.auditd_values import (
    audit_key,
    file_operation,
    login_id,
    present,
    proctitle_argv,
    resolve_path,
    seccomp_action,
    signal_name,
    sockaddr_address,
    success_of,
    to_int,
)
from fenghuo.ingest.parsers.base import ParseContext
from fenghuo.model import (
    AccessDenial,
    Event,
    FileAccess,
    HostAudit,
    Process,
    ProcessCrash,
    ProcessExec,
    SeccompViolation,
    SyscallActivity,
    event_id,
)
from fenghuo.model.events import raw_ref

FORMAT: Final = "auditd"
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def event_time(seconds: str, millis: str) -> dt.datetime:
    """The audit timestamp as an aware UTC datetime."""
    micros = int(millis.ljust(6, "0")[:6])
    return _EPOCH + dt.timedelta(seconds=int(seconds), microseconds=micros)


class EventBuilder:
    """Maps `PendingEvent`s of one stream to model events, updating the process table."""

    def __init__(self, context: ParseContext, processes: ProcessTable) -> None:
        self.context = context
        self.processes = processes

    def build(self, pending: PendingEvent) -> Event:
        parts = EventParts.of(pending.records)
        host = pending.host
        env = self._envelope(pending)
        kind = parts.kind()
        if kind is Kind.ACCESS_DENIAL:
            return self._denial(env, host, parts)
        if kind is Kind.SECCOMP:
            return self._seccomp(env, host, parts)
        if kind is Kind.CRASH:
            return self._crash(env, host, parts)
        if kind is Kind.EXEC:
            return self._exec(env, host, parts)
        if kind is Kind.FILE or kind is Kind.SYSCALL:
            return self._syscall(env, host, parts, kind)
        return self._host_audit(env, host, parts)

    # --- envelope and process -----------------------------------------------------------------

    def _envelope(self, pending: PendingEvent) -> dict[str, Any]:
        first = pending.records[0]
        record_id = pending.record_id
        host_id = pending.host or None
        parts: tuple[str, ...] = (record_id,)
        if pending.fragment:
            parts = (record_id, f"fragment-{pending.fragment}")
        return {
            "id": event_id(FORMAT, host_id or "", *parts),
            "event_time": event_time(pending.seconds, pending.millis),
            "ingest_time": self.context.clock(),
            "source_format": FORMAT,
            "raw": raw_ref(
                first.source,
                first.line,
                "\n".join(record.text for record in pending.records),
                record_id=record_id,
            ),
            "host_id": host_id,
        }

    def label_vm(self, host: str, label: str) -> str | None:
        """The VM an sVirt label (SELinux MCS categories, or a libvirt AppArmor profile) names:
        the inventory first, then what libvirt announced in VIRT_MACHINE_ID records."""
        if ":c" not in label and not label.startswith("libvirt-"):
            return None
        return self.context.vm_for_label(label) or self.processes.vm_for_label(host, label)

    def _process(
        self,
        host: str,
        fields: dict[str, str],
        *,
        argv: tuple[str, ...] = (),
        cwd: str | None = None,
        exe: str | None = None,
        lineage_argv: tuple[str, ...] | None = None,
    ) -> Process:
        """A Process from a record's fields, with the VM and parent the table resolves.

        `exe` overrides the reported one (a failed exec reports what it tried to run) while
        the record's own exe and `lineage_argv` say what the process really is.
        """
        pid = to_int(fields.get("pid"))
        ppid = to_int(fields.get("ppid"))
        own_exe = present(fields.get("exe"))
        label = present(fields.get("subj")) or present(fields.get("scontext"))
        lineage = observe(
            self.processes,
            Observation(
                host=host,
                pid=pid,
                ppid=ppid,
                exe=own_exe,
                argv=argv if lineage_argv is None else lineage_argv,
                label=label,
            ),
            lambda value: self.label_vm(host, value),
        )
        return Process(
            pid=pid,
            ppid=ppid,
            exe=exe or own_exe,
            comm=present(fields.get("comm")),
            argv=argv,
            uid=to_int(fields.get("uid")),
            euid=to_int(fields.get("euid")),
            auid=login_id(fields.get("auid")),
            ses=login_id(fields.get("ses")),
            tty=present(fields.get("tty")),
            selinux_context=label,
            cwd=cwd,
            parent_exe=lineage.parent_exe,
            vm_name=lineage.vm_name,
        )

    # --- kinds --------------------------------------------------------------------------------

    def _exec(self, env: dict[str, Any], host: str, parts: EventParts) -> ProcessExec:
        fields = parts.syscall_fields
        success = success_of(fields) if parts.syscall is not None else True
        if parts.syscall is None:
            # EXECVE without its SYSCALL (lost or filtered): PATH item 0 is the program.
            tried = parts.path_names()
            process = self._process(
                host, fields, argv=parts.argv(), cwd=parts.cwd, exe=tried[0] if tried else None
            )
        elif success is False:
            # The exec failed: the process is still the caller; report the path it tried.
            tried = parts.path_names()
            process = self._process(
                host,
                fields,
                cwd=parts.cwd,
                exe=tried[0] if tried else None,
                lineage_argv=proctitle_argv(parts.proctitle),
            )
        else:
            process = self._process(host, fields, argv=parts.argv(), cwd=parts.cwd)
        return ProcessExec(**env, process=process, success=success is not False)

    def _syscall(
        self, env: dict[str, Any], host: str, parts: EventParts, kind: Kind
    ) -> FileAccess | SyscallActivity:
        fields = parts.syscall_fields
        name = parts.syscall_name
        process = self._process(host, fields, argv=parts.argv(), cwd=parts.cwd)
        success = success_of(fields) is not False
        exit_code = to_int(fields.get("exit"))
        self._follow_lifecycle(host, name, success, exit_code, process)
        if kind is Kind.FILE and name is not None:
            operation = file_operation(
                FILE_SYSCALLS[name], name, fields, parts.object_types(), parts.openat2_flags
            )
            return FileAccess(
                **env,
                process=process,
                syscall=name,
                operation=operation,
                paths=parts.path_names(),
                success=success,
            )
        return SyscallActivity(
            **env,
            process=process,
            syscall=name,
            syscall_nr=parts.syscall_nr,
            arch=arch_name(fields.get("arch")),
            success=success,
            exit_code=exit_code,
            paths=parts.path_names(),
            address=sockaddr_address(parts.saddr),
            audit_key=audit_key(fields.get("key")),
            detail=parts.side_detail(),
        )

    def _follow_lifecycle(
        self, host: str, name: str | None, success: bool, exit_code: int | None, proc: Process
    ) -> None:
        """A fork's child inherits the VM; a process that exits frees its pid."""
        if proc.pid is None:
            return
        if name in CLONE_SYSCALLS and success and exit_code is not None and exit_code > 0:
            child = ProcessInfo(
                exe=proc.exe, ppid=proc.pid, vm_name=proc.vm_name, label=proc.selinux_context
            )
            self.processes.put(host, exit_code, child)
        elif name in EXIT_SYSCALLS:
            self.processes.forget(host, proc.pid)

    def _seccomp(self, env: dict[str, Any], host: str, parts: EventParts) -> SeccompViolation:
        record = parts.seccomp
        assert record is not None
        fields = {**parts.syscall_fields, **record.fields}
        number = to_int(record.fields.get("syscall"))
        arch = record.fields.get("arch")
        signal = to_int(record.fields.get("sig"))
        return SeccompViolation(
            **env,
            process=self._process(host, fields, argv=parts.argv(), cwd=parts.cwd),
            syscall=name_of_syscall(
                arch, record.fields.get("syscall"), record.fields.get("SYSCALL")
            ),
            syscall_nr=number,
            arch=arch_name(arch),
            action=seccomp_action(record.fields.get("code")),
            signal=signal or None,  # sig=0: no signal (log, errno, allow)
        )

    def _crash(self, env: dict[str, Any], host: str, parts: EventParts) -> ProcessCrash:
        record = parts.abend
        assert record is not None
        fields = {**parts.syscall_fields, **record.fields}
        signal = to_int(record.fields.get("sig")) or 0
        process = self._process(host, fields, argv=parts.argv(), cwd=parts.cwd)
        if process.pid is not None:
            self.processes.forget(host, process.pid)  # it dumped core: the pid is free
        return ProcessCrash(**env, process=process, signal=signal, signal_name=signal_name(signal))

    def _denial(self, env: dict[str, Any], host: str, parts: EventParts) -> AccessDenial:
        first = parts.denials[0]
        fields = {**parts.syscall_fields, **first.fields}
        process = self._process(host, fields, argv=parts.argv(), cwd=parts.cwd)
        if "seresult" in first.fields:
            return self._selinux_denial(env, host, parts, first, process)
        return self._apparmor_denial(env, host, first, process)

    def _selinux_denial(
        self,
        env: dict[str, Any],
        host: str,
        parts: EventParts,
        first: AuditRecord,
        process: Process,
    ) -> AccessDenial:
        permissions: list[str] = []
        for record in parts.denials:
            for permission in record.fields.get("seperms", "").split(","):
                if permission and permission not in permissions:
                    permissions.append(permission)
        fields = first.fields
        source = present(fields.get("scontext"))
        target = present(fields.get("tcontext"))
        return AccessDenial(
            **env,
            process=process,
            mechanism="selinux",
            denied=fields.get("seresult") == "denied",
            permissions=tuple(permissions),
            source_context=source,
            target_context=target,
            target_class=present(fields.get("tclass")),
            target_path=self._denial_path(parts, fields),
            permissive=fields.get("permissive") == "1",
            source_vm=self.label_vm(host, source) if source else None,
            target_vm=self.label_vm(host, target) if target else None,
        )

    def _denial_path(self, parts: EventParts, fields: dict[str, str]) -> str | None:
        """path= (or AVC_PATH), else the full PATH record name, else the bare name=."""
        path = present(fields.get("path")) or parts.avc_path
        if path is not None:
            return path
        names = parts.path_names()
        absolute = [name for name in names if name.startswith("/")]
        if absolute:
            return absolute[0]
        return resolve_path(fields.get("name"), None) or (names[0] if names else None)

    def _apparmor_denial(
        self, env: dict[str, Any], host: str, record: AuditRecord, process: Process
    ) -> AccessDenial:
        fields = record.fields
        decision = fields.get("apparmor", "").upper() or record.type.removeprefix("APPARMOR_")
        profile = present(fields.get("profile"))
        peer = present(fields.get("peer")) or present(fields.get("target"))
        mask = fields.get("denied_mask") or fields.get("requested_mask") or ""
        return AccessDenial(
            **env,
            process=process,
            mechanism="apparmor",
            denied=True,
            permissions=tuple(mask.split()),
            source_context=profile,
            target_context=peer,
            target_class=present(fields.get("class")) or present(fields.get("operation")),
            target_path=present(fields.get("name")) or present(fields.get("path")),
            permissive=decision == "ALLOWED",  # complain mode logs what it would deny
            source_vm=self.label_vm(host, profile) if profile else None,
            target_vm=self.label_vm(host, peer) if peer else None,
        )

    def _host_audit(self, env: dict[str, Any], host: str, parts: EventParts) -> HostAudit:
        main = parts.primary or parts.records[0]
        fields = dict(main.fields)
        for record in parts.records:
            if record is not main:
                for key, value in record.fields.items():
                    fields.setdefault(key, value)
        name = parts.syscall_name
        if name is not None:
            fields.setdefault("syscall_name", name)
        process: Process | None = None
        if to_int(fields.get("pid")) is not None:
            process = self._process(host, fields, argv=parts.argv(), cwd=parts.cwd)
        self._learn_from_libvirt(host, main)
        success = success_of(main.fields)
        if success is None:
            success = success_of(fields)
        return HostAudit(
            **env, record_type=main.type, fields=fields, process=process, success=success
        )

    def _learn_from_libvirt(self, host: str, record: AuditRecord) -> None:
        """libvirtd announces each VM's QEMU pid (VIRT_CONTROL op=start vm-pid=), its end
        (op=stop) and its sVirt labels (VIRT_MACHINE_ID vm-ctx=, img-ctx=)."""
        fields = record.fields
        vm = present(fields.get("vm"))
        if vm is None or success_of(fields) is False:
            return
        if record.type == "VIRT_CONTROL" and fields.get("op") == "start":
            vm_pid = to_int(fields.get("vm-pid"))
            if vm_pid is not None and vm_pid > 0:
                self.processes.put(host, vm_pid, ProcessInfo(exe=None, ppid=None, vm_name=vm))
        elif record.type == "VIRT_CONTROL" and fields.get("op") == "stop":
            self.processes.forget_vm(host, vm)
        elif record.type == "VIRT_MACHINE_ID":
            for key in ("vm-ctx", "img-ctx"):
                label = present(fields.get(key))
                if label is not None:
                    self.processes.learn_label(host, label, vm)
