"""Writing a simulation to files: one file per format (per host for auditd and libvirt), the
inventory, the labels and a manifest saying which file is which format from which host.

Layout of DIR:
  inventory.yaml, labels.json, manifest.json
  auditd/<host>.log, libvirt/<host>.log, falco/alerts.jsonl, cloudtrail/records.jsonl,
  vpcflow/flows.log
`manifest.json` is a list of `{format, path, host, events}` (path relative to DIR; host null for
formats that name their own); replay a file with `--input FORMAT@HOST:DIR/PATH`.
"""

from __future__ import annotations

import json
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fenghuo.simulate.emission import (
    AUDITD,
    CLOUDTRAIL,
    FALCO,
    FORMATS,
    LIBVIRT,
    VPCFLOW,
    AuditEvent,
    Emission,
)
from fenghuo.simulate.generate import Segment
from fenghuo.simulate.labels import encode_labels
from fenghuo.simulate.render.auditd import audit_lines
from fenghuo.simulate.render.vpcflow import HEADER
from fenghuo.simulate.world import World

SINGLE_FILES = {
    FALCO: "falco/alerts.jsonl",
    CLOUDTRAIL: "cloudtrail/records.jsonl",
    VPCFLOW: "vpcflow/flows.log",
}
HOST_DIRS = {AUDITD: "auditd", LIBVIRT: "libvirt"}


class Renderer:
    """Emissions to raw lines; numbers each host's audit events in time order."""

    def __init__(self) -> None:
        self._serials: dict[str, int] = {}

    def lines(self, emission: Emission) -> list[str]:
        payload = emission.payload
        if isinstance(payload, AuditEvent):
            host = emission.host or ""
            serial = self._serials.get(host, 1000 + zlib.crc32(host.encode()) % 90_000) + 1
            self._serials[host] = serial
            return audit_lines(host, emission.time, serial, payload)
        return [payload]


@dataclass(frozen=True)
class ManifestEntry:
    format: str
    path: str
    host: str | None
    events: int

    def replay_input(self, root: Path) -> str:
        """The `fenghuo replay --input` argument for this file."""
        head = f"{self.format}@{self.host}" if self.format == LIBVIRT and self.host else self.format
        return f"{head}:{root / self.path}"


def file_key(emission: Emission) -> tuple[str, str | None]:
    if emission.format in HOST_DIRS:
        return (f"{HOST_DIRS[emission.format]}/{emission.host}.log", emission.host)
    return (SINGLE_FILES[emission.format], None)


def render_files(world: World, emissions: Iterable[Emission]) -> dict[tuple[str, str], list[str]]:
    """(format, relative path) -> lines, for every file of the layout (empty ones included)."""
    files: dict[tuple[str, str], list[str]] = {}
    for fmt in FORMATS:
        if fmt in HOST_DIRS:
            for host in world.hosts:
                files[(fmt, f"{HOST_DIRS[fmt]}/{host.id}.log")] = []
        else:
            files[(fmt, SINGLE_FILES[fmt])] = [HEADER] if fmt == VPCFLOW else []
    renderer = Renderer()
    for emission in emissions:
        path, _host = file_key(emission)
        files[(emission.format, path)].extend(renderer.lines(emission))
    return files


def write_simulation(out: Path, world: World, segment: Segment) -> list[ManifestEntry]:
    """Write every file of the layout under `out`; returns the manifest."""
    emissions = segment.timeline.ordered()
    counts: dict[str, int] = defaultdict(int)
    for emission in emissions:
        counts[file_key(emission)[0]] += 1
    manifest = []
    for (fmt, path), lines in render_files(world, emissions).items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        host = path.rsplit("/", 1)[-1].removesuffix(".log") if fmt in HOST_DIRS else None
        manifest.append(ManifestEntry(fmt, path, host, counts[path]))
    (out / "inventory.yaml").write_text(world.inventory_yaml(), encoding="utf-8")
    config = world.config
    simulation: dict[str, Any] = {
        "seed": config.seed,
        "start": segment.window[0].isoformat().replace("+00:00", "Z"),
        "end": segment.window[1].isoformat().replace("+00:00", "Z"),
        "rate": config.rate,
        "events": len(emissions),
        "tenants": len(world.tenants),
        "hosts": len(world.hosts),
        "vms": len(world.vms()),
    }
    (out / "labels.json").write_text(encode_labels(segment.labels, simulation), encoding="utf-8")
    entries = [
        {"format": e.format, "path": e.path, "host": e.host, "events": e.events} for e in manifest
    ]
    (out / "manifest.json").write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    return manifest


def manifest_events(path: Path) -> int:
    """Total events a manifest lists (the input count for false positives per million)."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    return sum(int(entry.get("events", 0)) for entry in entries)
