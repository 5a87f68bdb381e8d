"""Small facts about host processes that several detectors share."""

from __future__ import annotations

import posixpath
import re

from fenghuo.model import Process

_QEMU = re.compile(r"^(qemu-kvm|qemu-system-[\w-]+|kvm)$")


def is_qemu_path(path: str | None) -> bool:
    return bool(path) and bool(_QEMU.match(posixpath.basename(path or "")))


def is_qemu(process: Process) -> bool:
    """A QEMU/KVM process: by executable, command name or argv[0]."""
    return (
        is_qemu_path(process.exe)
        or is_qemu_path(process.comm)
        or bool(process.argv and is_qemu_path(process.argv[0]))
    )


def selinux_type(context: str | None) -> str | None:
    """The type field of an SELinux context (`user:role:type:level`)."""
    parts = (context or "").split(":")
    return parts[2] if len(parts) >= 3 else None


def in_svirt_domain(process: Process) -> bool:
    """Confined as a VM: the sVirt domain of QEMU processes."""
    return selinux_type(process.selinux_context) in ("svirt_t", "svirt_tcg_t")
