"""The `auditd` format: Linux audit logs as auditd writes them (optionally `node=NAME `-prefixed).

Pipeline per line: tokenise (`auditd_records`) -> reassemble records sharing
`msg=audit(SECONDS.MILLIS:SERIAL)` per host (`auditd_coalesce`) -> map each complete event to the
model (`auditd_parts`, `auditd_mapping`), tying processes to the VM they serve through a
`ProcessTable` that outlives the parser (`auditd_process`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from fenghuo.ingest.parsers.auditd_coalesce import PendingEvent, Reassembler
from fenghuo.ingest.parsers.auditd_mapping import EventBuilder
from fenghuo.ingest.parsers.auditd_process import ProcessTable
from fenghuo.ingest.parsers.auditd_records import BadRecord, parse_record
from fenghuo.ingest.parsers.base import ParseContext, Parser, ParseResult, RawLine

logger = logging.getLogger(__name__)

__all__ = ["AuditdParser", "AuditdStats", "ProcessTable"]


@dataclass(slots=True)
class AuditdStats:
    """Counts that let a caller check nothing was lost: every non-blank line is a record or an
    error, and every record is in an emitted event (or an absorbed EOE)."""

    lines: int = 0
    blank_lines: int = 0
    records: int = 0
    errors: int = 0
    events: int = 0
    late_fragments: int = 0
    absorbed_eoe: int = 0


class AuditdParser(Parser):
    """Streaming auditd parser: `feed` yields the events a line completes, `close` the rest.

    `processes` is the pid -> VM table; pass one shared instance to every parser of a host's
    stream (the HTTP gateway makes one parser per request) so QEMU lineage survives requests.
    `max_open`, `max_age` (seconds of audit time) and `reorder_window` (records) bound how long
    an event without EOE is held; see `auditd_coalesce`.
    """

    format = "auditd"

    def __init__(
        self,
        context: ParseContext | None = None,
        *,
        processes: ProcessTable | None = None,
        max_open: int = 64,
        max_age: float = 2.0,
        reorder_window: int = 16,
    ) -> None:
        super().__init__(context)
        self.processes = processes if processes is not None else ProcessTable()
        self._reassembler = Reassembler(
            max_open=max_open, max_age=max_age, reorder_window=reorder_window
        )
        self._builder = EventBuilder(self.context, self.processes)
        self._lines = 0
        self._blank = 0
        self._errors = 0

    @property
    def stats(self) -> AuditdStats:
        counts = self._reassembler.stats
        return AuditdStats(
            lines=self._lines,
            blank_lines=self._blank,
            records=counts.records,
            errors=self._errors,
            events=counts.events,
            late_fragments=counts.late_fragments,
            absorbed_eoe=counts.absorbed_eoe,
        )

    def feed(self, line: RawLine) -> Iterator[ParseResult]:
        self._lines += 1
        text = line.text
        if not text or text.isspace():
            self._blank += 1
            return
        record = parse_record(line.source, line.line, text)
        if isinstance(record, BadRecord):
            self._errors += 1
            yield self.error(line, record.reason)
            return
        host = record.node or self.context.host_id or ""
        for pending in self._reassembler.push(record, host):
            yield self._build(pending)

    def close(self) -> Iterator[ParseResult]:
        for pending in self._reassembler.flush():
            yield self._build(pending)

    def _build(self, pending: PendingEvent) -> ParseResult:
        try:
            return self._builder.build(pending)
        except Exception as exc:
            # A mapping bug must not stop the stream: the event goes to the dead-letter topic
            # with its raw lines, and the traceback to the log.
            logger.exception("auditd: cannot map event %s", pending.record_id)
            self._errors += 1
            first = pending.records[0]
            return self.error(
                RawLine(first.source, first.line, first.text),
                f"cannot map audit event {pending.record_id}: {exc!r}",
                raw="\n".join(record.text for record in pending.records),
            )
