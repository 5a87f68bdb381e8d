"""Raw records to Kafka: normalise, route, publish in acknowledged batches, dead-letter the rest.

`ingest()` returns only after the broker acknowledged every message it counts as published; if
the broker fails, it raises with the report so far, so a caller can tell exactly what is safe.
With `batch_size=None` a call is one publish: on a transactional sink (the ingest gateway's) the
whole call is then all or nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from fenghuo.errors import BrokerUnavailableError
from fenghuo.ingest.kafka.producer import OutMessage
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.ingest.meter import RateMeter
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RawLine, RecordError
from fenghuo.ingest.routing import dead_letter_message, event_message

# Record errors kept in a report for display; all of them go to the dead-letter topic.
MAX_REPORTED_ERRORS = 1000


class MessageSink(Protocol):
    def publish(self, messages: Iterable[OutMessage], timeout: float) -> int: ...


@dataclass
class IngestReport:
    format: str
    lines_read: int = 0
    events: int = 0
    published: int = 0  # events acknowledged by the broker
    dead_lettered: int = 0  # record errors acknowledged on the dead-letter topic
    unattributed: int = 0
    per_topic: Counter[str] = field(default_factory=Counter)
    errors: list[RecordError] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.format}: read {self.lines_read} lines, published {self.published} events, "
            f"dead-lettered {self.dead_lettered} records ({self.unattributed} events unattributed)"
        )


class IngestPublishError(BrokerUnavailableError):
    """The broker stopped acknowledging mid-ingest; `report` says what was acknowledged."""

    def __init__(self, report: IngestReport, cause: BrokerUnavailableError) -> None:
        self.report = report
        super().__init__(f"{cause}; acknowledged so far: {report.summary()}")


class _CountingLines:
    def __init__(self, lines: Iterable[RawLine]) -> None:
        self._lines = lines
        self.count = 0

    def __iter__(self) -> Iterator[RawLine]:
        for line in self._lines:
            self.count += 1
            yield line


class Ingestor:
    def __init__(
        self,
        normaliser: Normaliser,
        sink: MessageSink,
        topics: Topics,
        *,
        timeout: float = 10.0,
        batch_size: int | None = 2000,
    ) -> None:
        """`batch_size`: messages per publish; None: one publish per `ingest()` call."""
        self.normaliser = normaliser
        self.sink = sink
        self.topics = topics
        self.timeout = timeout
        self.batch_size = batch_size
        self.meter = RateMeter()  # events acknowledged by the broker, for the live statistics

    def ingest(
        self,
        format_name: str,
        lines: Iterable[RawLine],
        *,
        host_id: str | None = None,
        received_via: str = "cli",
        extra_errors: Iterable[RecordError] = (),
    ) -> IngestReport:
        """Publish the events of `lines` and dead-letter their bad records (and `extra_errors`,
        records the caller rejected before parsing, e.g. lines that are not UTF-8)."""
        report = IngestReport(format=format_name)
        counted = _CountingLines(lines)
        batch: list[OutMessage] = []
        pending_events: Counter[str] = Counter()
        pending_letters = 0
        received_at = dt.datetime.now(dt.UTC)

        def flush() -> None:
            nonlocal pending_letters
            if not batch:
                return
            try:
                self.sink.publish(batch, self.timeout)
            except BrokerUnavailableError as exc:
                report.lines_read = counted.count
                raise IngestPublishError(report, exc) from exc
            report.published += sum(pending_events.values())
            self.meter.add(sum(pending_events.values()))
            report.per_topic.update(pending_events)
            report.dead_lettered += pending_letters
            batch.clear()
            pending_events.clear()
            pending_letters = 0

        results = itertools.chain(
            extra_errors, self.normaliser.stream(format_name, counted, host_id)
        )
        for result in results:
            if isinstance(result, RecordError):
                batch.append(dead_letter_message(result, self.topics, received_via, received_at))
                pending_letters += 1
                if len(report.errors) < MAX_REPORTED_ERRORS:
                    report.errors.append(result)
            else:
                report.events += 1
                if result.attribution == "unattributed":
                    report.unattributed += 1
                message = event_message(result, self.topics)
                batch.append(message)
                pending_events[message.topic] += 1
            if self.batch_size is not None and len(batch) >= self.batch_size:
                flush()
        flush()
        report.lines_read = counted.count
        return report
