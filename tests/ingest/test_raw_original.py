"""Every event of the real-format samples keeps its raw record (`raw.original`), as read: the
evidence an analyst opens from an alert without access to the source file."""

from __future__ import annotations

import json
from pathlib import Path

from fenghuo.demo.samples import sample_files
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RecordError, raw_lines
from fenghuo.inventory import InventoryStore
from fenghuo.model.events import MAX_ORIGINAL, raw_ref


def test_every_sample_event_keeps_its_record(samples: Path, inventory: InventoryStore) -> None:
    normaliser = Normaliser(inventory)
    seen: set[str] = set()
    for sample, path in sample_files(samples):
        text = path.read_text()
        lines = set(text.splitlines())
        with path.open() as handle:
            for result in normaliser.stream(sample.format, raw_lines(str(path), handle), None):
                if isinstance(result, RecordError):
                    continue
                original = result.raw.original
                assert original, f"{path}: {result.id} has no raw text"
                assert not result.raw.original_truncated
                if sample.format == "cloudtrail":
                    # One record of a document: its exact text, and that record as JSON.
                    assert original in text
                    assert json.loads(original)["eventID"] == result.raw.record_id
                else:
                    # Line formats: the record's lines as read (auditd: every line of the event).
                    assert set(original.splitlines()) <= lines, f"{path}: {original[:80]!r}"
                    first = text.splitlines()[(result.raw.line or 1) - 1]
                    assert original.splitlines()[0] == first.strip() or original.startswith(first)
                seen.add(sample.format)
    assert seen == {"auditd", "libvirt-events", "falco", "cloudtrail", "vpcflow"}


def test_long_records_are_cut_and_flagged() -> None:
    short = raw_ref("f.log", 3, "x" * MAX_ORIGINAL)
    assert short.original == "x" * MAX_ORIGINAL
    assert not short.original_truncated
    long = raw_ref("f.log", 3, "y" * (MAX_ORIGINAL + 5), record_id="r1")
    assert long.original == "y" * MAX_ORIGINAL
    assert long.original_truncated
    assert long.record_id == "r1"
