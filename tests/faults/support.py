"""What the fault tests count: records acknowledged, read back, lost and duplicated by id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from fenghuo.ingest.kafka.consume import read_to_end
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RawLine, RecordError, raw_lines
from fenghuo.inventory import InventoryStore
from fenghuo.model import decode_event


@dataclass(frozen=True)
class Tally:
    """Acknowledged records against what the topics hold, by id (multisets: a source may
    legitimately carry the same event twice)."""

    acknowledged: int
    expected: Counter[str]
    found: Counter[str]

    @property
    def read_back(self) -> int:
        return sum(self.found.values())

    @property
    def lost(self) -> int:
        return sum((self.expected - self.found).values())

    @property
    def duplicated(self) -> int:
        return sum((self.found - self.expected).values())

    def line(self, what: str, **extra: object) -> str:
        more = "".join(f" {k}={v}" for k, v in extra.items())
        return (
            f"{what}: acknowledged={self.acknowledged} read_back={self.read_back} "
            f"lost={self.lost} duplicated={self.duplicated}{more}"
        )


def expected_ids(format_name: str, path: Path, inventory: Path) -> Counter[str]:
    """The ids of the events ingest makes of a file (ids are deterministic from content)."""
    normaliser = Normaliser(InventoryStore(inventory))
    with path.open(encoding="utf-8") as handle:
        results = normaliser.stream(format_name, raw_lines(str(path), handle), None)
        return Counter(r.id for r in results if not isinstance(r, RecordError))


def ids_of_lines(format_name: str, lines: Iterable[str], inventory: Path) -> Counter[str]:
    """The ids of the events ingest makes of some lines of one body or file."""
    normaliser = Normaliser(InventoryStore(inventory))
    raw = (RawLine("body", n, text) for n, text in enumerate(lines, start=1))
    results = normaliser.stream(format_name, raw, None)
    return Counter(r.id for r in results if not isinstance(r, RecordError))


def ids_in(bootstrap: str, topics: Iterable[str], timeout: float = 60.0) -> Counter[str]:
    """The ids of every event the topics hold, up to their high watermarks."""
    found: Counter[str] = Counter()
    for topic in topics:
        for message in read_to_end(bootstrap, topic, timeout):
            found[decode_event(message.value or b"").id] += 1
    return found


class Watermarks:
    """How many records some topics hold (sum of high watermarks), asked again and again."""

    def __init__(self, bootstrap: str, topics: Iterable[str], partitions: int = 3) -> None:
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fenghuo-faults"})
        self._partitions = [TopicPartition(t, p) for t in topics for p in range(partitions)]

    def total(self) -> int:
        return sum(
            self._consumer.get_watermark_offsets(tp, timeout=5, cached=False)[1]
            for tp in self._partitions
        )

    def close(self) -> None:
        self._consumer.close()
