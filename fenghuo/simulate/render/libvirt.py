"""Lines as `LC_ALL=C virsh event --all --loop --timestamp` prints them."""

from __future__ import annotations

import datetime as dt


def virsh_line(time: dt.datetime, event_type: str, domain: str, detail: str | None = None) -> str:
    """`2026-01-05 10:00:01.120+0000: event 'lifecycle' for domain 'acme-web-1': Started Booted`."""
    stamp = time.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    head = (
        f"{stamp}.{time.microsecond // 1000:03d}+0000: event '{event_type}' for domain '{domain}'"
    )
    return f"{head}: {detail}" if detail else head


def lifecycle(time: dt.datetime, domain: str, words: str) -> str:
    """A lifecycle event, e.g. words `Stopped Crashed` (the QEMU process died)."""
    return virsh_line(time, "lifecycle", domain, words)
