"""The benchmark inputs by name: one synthetic corpus per format (two for CloudTrail's shapes),
`native` lines made by encoding parsed events, and a mixed set of all of them."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from bench.corpus import Corpus
from bench.synth_cloud import cloudtrail, cloudtrail_documents
from bench.synth_events import falco, libvirt
from bench.synth_hypervisor import auditd
from bench.synth_vpcflow import vpcflow
from fenghuo.demo.samples import demo_inventory_path
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RecordError, raw_lines
from fenghuo.inventory import InventoryStore
from fenghuo.model import encode_event

GENERATORS: dict[str, Callable[[int], Corpus]] = {
    "auditd": auditd,
    "cloudtrail": cloudtrail,
    "cloudtrail-records": cloudtrail_documents,
    "vpcflow": vpcflow,
    "libvirt-events": libvirt,
    "falco": falco,
}
# Formats of the native lines and of the mixed set (CloudTrail once, as NDJSON).
SOURCES = ("auditd", "cloudtrail", "vpcflow", "libvirt-events", "falco")
NAMES = (*GENERATORS, "native")


def normaliser() -> Normaliser:
    """Parse + attribute against the demo inventory, as `fenghuo up` does."""
    return Normaliser(InventoryStore(demo_inventory_path()))


def native(records: int) -> Corpus:
    """`native` lines: events of the other formats, parsed, attributed and encoded, interleaved."""
    share = -(-records // len(SOURCES))
    streams: list[list[str]] = []
    norm = normaliser()
    for name in SOURCES:
        corpus = GENERATORS[name](share * 6 if name == "auditd" else share)  # ~5.5 records/event
        lines: list[str] = []
        for result in norm.stream(corpus.format, raw_lines(name, corpus.lines()), corpus.host_id):
            if isinstance(result, RecordError):
                msg = f"synthetic {name} input has a bad record: {result}"
                raise AssertionError(msg)
            lines.append(encode_event(result).decode())
        streams.append(lines[:share])
    mixed = [line for group in itertools.zip_longest(*streams) for line in group if line]
    return Corpus.of("native", "native", [[line] for line in mixed[:records]], host_id=None)


def build(name: str, records: int) -> Corpus:
    return native(records) if name == "native" else GENERATORS[name](records)


def mixed(records: int) -> list[Corpus]:
    """The mixed set: every source format and native, about `records` records in all."""
    share = max(1, records // (len(SOURCES) + 1))
    return [build(name, share) for name in (*SOURCES, "native")]
