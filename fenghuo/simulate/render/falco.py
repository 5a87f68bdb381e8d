"""Falco alerts as `json_output: true` writes them: one object per line, keys sorted (Falco's
JSON library orders them), nanosecond times, `output` prefixed with the time of day and the
priority."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fenghuo.simulate.world import Container

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def container_fields(container: Container) -> dict[str, object]:
    """The container fields Falco adds to a rule's output fields."""
    return {
        "container.id": container.id,
        "container.image.repository": container.image,
        "container.image.tag": container.tag,
        "container.name": container.name,
        "k8s.ns.name": "default",
        "k8s.pod.name": container.pod,
    }


def falco_line(
    time: dt.datetime,
    hostname: str,
    rule: str,
    priority: str,
    text: str,
    fields: dict[str, Any],
    tags: tuple[str, ...],
    nanos: int = 0,
) -> str:
    """`priority` as Falco names it (`Critical`, `Warning`, `Notice`, ...); `nanos` (below a
    millisecond) adds the digits Falco's nanosecond clock reports beyond `time`'s millisecond."""
    delta = time - _EPOCH
    sub_second = (delta.microseconds // 1000) * 1_000_000 + nanos % 1_000_000
    epoch_ns = (delta.days * 86400 + delta.seconds) * 10**9 + sub_second
    fraction = f"{sub_second:09d}"
    alert = {
        "hostname": hostname,
        "output": f"{time:%H:%M:%S}.{fraction}: {priority} {text}",
        "output_fields": {"evt.time": epoch_ns, **fields},
        "priority": priority,
        "rule": rule,
        "source": "syscall",
        "tags": sorted(tags),
        "time": f"{time:%Y-%m-%dT%H:%M:%S}.{fraction}Z",
    }
    return json.dumps(alert, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
