"""Small facts about hypervisor hosts that the VMM detectors share: how to name a VM and a
process in a summary, which VM a libvirt per-VM path belongs to, and allow-list matching.

libvirt keeps each running VM's files under paths named after the domain's *short name*,
`<domain id>-<name truncated to 20 characters>` (virDomainDefGetShortName): the monitor and
agent sockets under `/var/lib/libvirt/qemu/domain-1-acme-web-1/` and
`.../channel/target/domain-1-acme-web-1/`, file-backed guest RAM under
`/var/lib/libvirt/qemu/ram/1-acme-web-1/` or `/dev/hugepages/libvirt/qemu/1-acme-web-1/`. UEFI
variables are `/var/lib/libvirt/qemu/nvram/<name>_VARS.fd` and vTPM state
`/var/lib/libvirt/swtpm/<uuid>/`.
"""

from __future__ import annotations

import fnmatch
import glob
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fenghuo.detectors.process import in_svirt_domain, selinux_type
from fenghuo.inventory.index import InventoryIndex, VmRecord
from fenghuo.model import Process

SHORT_NAME_CHARS = 20  # libvirt's VIR_DOMAIN_SHORT_NAME_MAX
SVIRT_DOMAINS = ("svirt_t", "svirt_tcg_t")

_SHORT_NAME_DIR = re.compile(
    r"^(?:/var/lib/libvirt/qemu/(?:domain-|ram/|channel/target/domain-)"
    r"|/dev/hugepages[^/]*/libvirt/qemu/)"
    r"\d+-(?P<short>[^/]+)(?:/|$)"
)
_NVRAM = re.compile(r"^/var/lib/libvirt/qemu/nvram/(?P<name>[^/]+)_VARS\.fd$")
_SWTPM = re.compile(r"^/var/lib/libvirt/swtpm/(?P<uuid>[0-9a-fA-F-]{36})(?:/|$)")


@dataclass(frozen=True, slots=True)
class PathOwner:
    """Who a libvirt per-VM path names: a short name, a full name or a domain uuid."""

    short_name: str | None = None
    name: str | None = None
    uuid: str | None = None


def short_name(vm_name: str) -> str:
    """The name part of libvirt's short domain name."""
    return vm_name[:SHORT_NAME_CHARS]


def libvirt_path_owner(path: str) -> PathOwner | None:
    """The VM a libvirt per-VM path names, or None for any other path."""
    path = posixpath.normpath(path) if path.startswith("/") else path
    if match := _SHORT_NAME_DIR.match(path):
        return PathOwner(short_name=match["short"])
    if match := _NVRAM.match(path):
        return PathOwner(name=match["name"])
    if match := _SWTPM.match(path):
        return PathOwner(uuid=match["uuid"].lower())
    return None


def vm_of_path(index: InventoryIndex, host_id: str | None, path: str) -> VmRecord | None:
    """The inventory VM whose disk image or libvirt per-VM file `path` is (a short name is
    resolved among the VMs of `host_id`; an ambiguous one resolves to nothing)."""
    if vm := index.vm_by_disk(path):
        return vm
    owner = libvirt_path_owner(path)
    if owner is None:
        return None
    if owner.name is not None:
        return index.vm_by_name(owner.name)
    if owner.uuid is not None:
        return index.vm_by_uuid(owner.uuid)
    host = index.hosts.get(host_id or "")
    if host is None:
        return None
    names = [vm.name for vm in host.vms if short_name(vm.name) == owner.short_name]
    return index.vm_by_name(names[0]) if len(names) == 1 else None


def tenant_of_vm(index: InventoryIndex, vm_name: str | None) -> str | None:
    vm = index.vm_by_name(vm_name)
    return vm.tenant if vm else None


def in_vmm_context(process: Process) -> bool:
    """QEMU serving a VM or one of its descendants (the auditd parser propagates `vm_name`), or
    anything confined in the sVirt domain."""
    return bool(process.vm_name) or in_svirt_domain(process)


def is_svirt_context(context: str | None) -> bool:
    return selinux_type(context) in SVIRT_DOMAINS


def process_phrase(process: Process) -> str:
    """`qemu-kvm (pid 4242, uid 107)`."""
    name = process.comm or posixpath.basename(process.exe or "") or "?"
    facts = [f"pid {process.pid}" if process.pid is not None else "pid ?"]
    if process.uid is not None:
        facts.append(f"uid {process.uid}")
    if process.euid is not None and process.euid != process.uid:
        facts.append(f"euid {process.euid}")
    return f"{name} ({', '.join(facts)})"


def vm_phrase(vm: str | None, tenant: str | None, host: str | None) -> str:
    """`acme-web-1 (tenant acme) on host hv-01`."""
    return f"{vm or 'an unknown VM'} (tenant {tenant or 'unknown'}) on host {host or '?'}"


def expand_patterns(
    patterns: Iterable[str], vm_name: str | None, vm_uuid: str | None = None
) -> list[str]:
    """Allow-list globs with `{vm}` (the acting VM's name), `{short}` (its libvirt short name)
    and `{uuid}` filled in; a pattern naming a placeholder that is unknown here is dropped (it
    must never match another VM's files)."""
    values = {
        "vm": vm_name,
        "short": short_name(vm_name) if vm_name else None,
        "uuid": vm_uuid.lower() if vm_uuid else None,
    }
    expanded = []
    for pattern in patterns:
        text: str | None = pattern
        for placeholder, value in values.items():
            token = "{" + placeholder + "}"
            if text is not None and token in text:
                text = None if value is None else text.replace(token, glob.escape(value))
        if text:
            expanded.append(text)
    return expanded


def matches_any(path: str, patterns: Sequence[str]) -> bool:
    """fnmatch (case-sensitive; `*` also crosses `/`)."""
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def under_any(path: str, directories: Iterable[str]) -> str | None:
    """The first of `directories` that contains `path` (or is it)."""
    for directory in directories:
        root = directory.rstrip("/") or "/"
        if path == root or path.startswith(root if root == "/" else root + "/"):
            return directory
    return None


def port_allowed(port: int, allowed: Iterable[int | str | Sequence[int]]) -> bool:
    """Whether `port` is in an allow-list of ports, `"lo-hi"` strings or `[lo, hi]` pairs."""
    for entry in allowed:
        if isinstance(entry, int):
            if port == entry:
                return True
            continue
        if isinstance(entry, str):
            low_text, _, high_text = entry.partition("-")
            low, high = int(low_text), int(high_text or low_text)
        else:
            low, high = int(entry[0]), int(entry[-1])
        if low <= port <= high:
            return True
    return False


def address_port(address: str | None) -> int | None:
    """The port of `ip:port` / `[ip6]:port`; None for a unix socket path or nothing."""
    if not address or address.startswith(("/", "@")):
        return None
    _, sep, port = address.rpartition(":")
    return int(port) if sep and port.isdigit() else None
