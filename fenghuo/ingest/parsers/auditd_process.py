"""Which VM a host process serves, learned from the audit stream itself.

A VM escape shows up as a QEMU process (or one of its children) doing something a VMM never
does. To say *which* VM, every process is tied to the VM of the QEMU process it is or descends
from: QEMU names its VM on the command line (`-name guest=NAME,...`) and runs under the VM's
sVirt label. The table of pid -> (exe, ppid, VM) is per host, bounded (LRU), and shared by every
parser instance (the HTTP gateway makes one parser per request) and thread that feeds it.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_QEMU_PREFIXES = ("qemu-system-", "qemu-kvm")
LabelLookup = Callable[[str], str | None]


@dataclass(slots=True, frozen=True)
class ProcessInfo:
    """What the table remembers of one pid."""

    exe: str | None
    ppid: int | None
    vm_name: str | None
    label: str | None = None


@dataclass(slots=True, frozen=True)
class Lineage:
    """The VM a process serves (if any) and its parent's executable."""

    vm_name: str | None
    parent_exe: str | None


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def is_qemu(exe: str | None, argv: Sequence[str]) -> bool:
    """QEMU as libvirt starts it: qemu-kvm or qemu-system-ARCH (by exe or argv[0])."""
    if exe and _basename(exe).startswith(_QEMU_PREFIXES):
        return True
    return bool(argv) and _basename(argv[0]).startswith(_QEMU_PREFIXES)


def vm_from_argv(argv: Sequence[str]) -> str | None:
    """The VM name from `-name guest=NAME,debug-threads=on` or `-name NAME` (`,,` escapes `,`)."""
    for index, arg in enumerate(argv[:-1]):
        if arg not in ("-name", "--name"):
            continue
        value = argv[index + 1]
        options = value.replace(",,", "\x00").split(",")
        name = options[0]
        for option in options:
            if option.startswith("guest="):
                name = option[6:]
                break
        name = name.replace("\x00", ",")
        return name or None
    return None


def mcs_categories(label: str) -> str | None:
    """`system_u:system_r:svirt_t:s0:c202,c101` -> `c101,c202` (what tells two VMs apart), the
    same normal form as the inventory's; a range (`s0-s0:c0.c1023`) names no single VM."""
    parts = label.split(":", 4)
    if len(parts) < 5 or "-" in parts[3] or "." in parts[4]:
        return None
    return ",".join(sorted(c for c in parts[4].split(",") if c)) or None


class ProcessTable:
    """Per-host pid table, bounded per host, safe to share between parsers and threads."""

    def __init__(self, max_pids_per_host: int = 100_000, max_labels_per_host: int = 4096) -> None:
        self.max_pids_per_host = max_pids_per_host
        self.max_labels_per_host = max_labels_per_host
        self._hosts: dict[str, OrderedDict[int, ProcessInfo]] = {}
        self._labels: dict[str, OrderedDict[str, str]] = {}
        self._lock = threading.Lock()

    def get(self, host: str, pid: int) -> ProcessInfo | None:
        with self._lock:
            table = self._hosts.get(host)
            if table is None:
                return None
            info = table.get(pid)
            if info is not None:
                table.move_to_end(pid)
            return info

    def put(self, host: str, pid: int, info: ProcessInfo) -> None:
        with self._lock:
            table = self._hosts.get(host)
            if table is None:
                table = self._hosts[host] = OrderedDict()
            table[pid] = info
            table.move_to_end(pid)
            while len(table) > self.max_pids_per_host:
                table.popitem(last=False)

    def forget(self, host: str, pid: int) -> None:
        with self._lock:
            table = self._hosts.get(host)
            if table is not None:
                table.pop(pid, None)

    def forget_vm(self, host: str, vm_name: str) -> None:
        """The VM stopped: its QEMU pid (and its children's) will be reused by others."""
        with self._lock:
            table = self._hosts.get(host)
            if table is not None:
                for pid in [pid for pid, info in table.items() if info.vm_name == vm_name]:
                    del table[pid]

    def learn_label(self, host: str, label: str, vm_name: str) -> None:
        """Remember an sVirt label's VM as libvirt announced it (VIRT_MACHINE_ID)."""
        categories = mcs_categories(label)
        if categories is None:
            return
        with self._lock:
            labels = self._labels.get(host)
            if labels is None:
                labels = self._labels[host] = OrderedDict()
            labels[categories] = vm_name
            labels.move_to_end(categories)
            while len(labels) > self.max_labels_per_host:
                labels.popitem(last=False)

    def vm_for_label(self, host: str, label: str) -> str | None:
        categories = mcs_categories(label)
        if categories is None:
            return None
        with self._lock:
            labels = self._labels.get(host)
            return labels.get(categories) if labels is not None else None

    def __len__(self) -> int:
        with self._lock:
            return sum(len(table) for table in self._hosts.values())


@dataclass(slots=True, frozen=True)
class Observation:
    """One sighting of a process in an audit event."""

    host: str
    pid: int | None
    ppid: int | None
    exe: str | None
    argv: Sequence[str]
    label: str | None


def observe(table: ProcessTable, seen: Observation, label_vm: LabelLookup) -> Lineage:
    """Resolve the sighting's VM and parent, and remember the process for later records.

    A QEMU process names its VM on its command line. Otherwise a process keeps the VM it already
    had (a QEMU that exec'd a shell is still that VM's process), else inherits its parent's, else
    takes the VM its own label belongs to (QEMU, or a shell left in the svirt_t domain).
    """
    if seen.pid is None:
        return Lineage(vm_name=label_vm(seen.label) if seen.label else None, parent_exe=None)
    parent = table.get(seen.host, seen.ppid) if seen.ppid is not None else None
    own = table.get(seen.host, seen.pid)
    if own is not None and _reused(own, seen):
        own = None
    vm: str | None = None
    if is_qemu(seen.exe, seen.argv):
        vm = vm_from_argv(seen.argv)
    if vm is None and own is not None:
        vm = own.vm_name
    if vm is None and parent is not None:
        vm = parent.vm_name
    if vm is None and seen.label:
        vm = label_vm(seen.label)
    exe = seen.exe or (own.exe if own else None)
    label = seen.label or (own.label if own else None)
    info = ProcessInfo(  # interned: a host runs few distinct binaries and labels
        exe=sys.intern(exe) if exe else None,
        ppid=seen.ppid if seen.ppid is not None else (own.ppid if own else None),
        vm_name=vm,
        label=sys.intern(label) if label else None,
    )
    if info != own:
        table.put(seen.host, seen.pid, info)
    return Lineage(vm_name=vm, parent_exe=parent.exe if parent is not None else None)


def _reused(own: ProcessInfo, seen: Observation) -> bool:
    """The pid now belongs to another process: a different parent (other than a reparenting to
    init) or a different SELinux label (sVirt forbids a QEMU domain to transition, so a
    compromised QEMU that execs keeps its label; a new service does not have it)."""
    if seen.ppid is not None and own.ppid is not None and seen.ppid not in (1, own.ppid):
        return True
    return seen.label is not None and own.label is not None and seen.label != own.label
