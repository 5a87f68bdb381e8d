"""Fixtures for ingest tests: the demo inventory, a mixed file set and its expected counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from fenghuo.demo.samples import demo_inventory_path, sample_files
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RecordError, raw_lines
from fenghuo.ingest.routing import topic_for
from fenghuo.inventory import InventoryStore

# Records that must be rejected, one file per format: each line below is one bad record.
BAD_RECORDS: dict[str, list[str]] = {
    "vpcflow": [
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
        "start end action log-status",
        "2 111111111111 eni-0acme0001 10.1.0.11 10.1.0.12 not-a-port 5432 6 20 4249 "
        "1767607200 1767607260 ACCEPT OK",
        "2 111111111111 eni-0acme0001 10.1.0.11",
    ],
    "falco": ['{"rule": "x"', "[1, 2, 3]"],
    "libvirt-events": ["event 'lifecycle' for domain 'acme-web-1': Started Booted"],
    "native": ['{"kind": "flow"}'],
}
BAD_COUNTS = {"vpcflow": 2, "falco": 2, "libvirt-events": 1, "native": 1}


@dataclass
class FileSet:
    files: list[tuple[str, Path, str | None]]  # (format, path, host)
    per_topic: Counter[str]  # expected events per topic (for the default Topics())
    # Expected event ids per topic, as multisets: the same audit event in two files (normal and
    # out-of-order logs) is the same event, with the same deterministic id, twice.
    ids_per_topic: dict[str, Counter[str]]
    dead_letters: int


@pytest.fixture
def inventory() -> InventoryStore:
    return InventoryStore(demo_inventory_path())


@pytest.fixture
def mixed_files(samples: Path, tmp_path: Path, inventory: InventoryStore) -> FileSet:
    """Every shared sample plus files of bad records; expected counts from parsing them here."""
    files: list[tuple[str, Path, str | None]] = [
        (s.format, path, s.host_id) for s, path in sample_files(samples)
    ]
    for fmt, lines in BAD_RECORDS.items():
        path = tmp_path / f"bad-{fmt}.log"
        path.write_text("\n".join(lines) + "\n")
        files.append((fmt, path, "hv-01"))
    normaliser = Normaliser(inventory)
    per_topic: Counter[str] = Counter()
    ids: dict[str, Counter[str]] = {}
    errors = 0
    for fmt, path, host in files:
        with path.open() as handle:
            for result in normaliser.stream(fmt, raw_lines(str(path), handle), host):
                if isinstance(result, RecordError):
                    errors += 1
                else:
                    topic = topic_for(result, Topics())
                    per_topic[topic] += 1
                    ids.setdefault(topic, Counter())[result.id] += 1
    return FileSet(files, per_topic, ids, errors)
