"""What the parser tests share: fixed ingest clocks, running a parser over lines, sorting its
results into events and record errors, and the check every robustness test applies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from fenghuo.ingest.parsers import (
    ParseContext,
    Parser,
    ParseResult,
    RawLine,
    RecordError,
    make_parser,
    parse_lines,
    raw_lines,
)
from fenghuo.model import Event, decode_event, encode_event
from fenghuo.model.events import EventBase

# Parsers stamp `ingest_time` from the context's clock; tests pin it to one of these.
NOW = dt.datetime(2026, 1, 6, 8, 0, tzinfo=dt.UTC)  # falco, libvirt, vpcflow, native
FIXED = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)  # auditd, cloudtrail

# Shared sample files (below the `samples` fixture) of the line-per-event formats.
SAMPLE_FILES = {
    "vpcflow": ("vpcflow/v2-default.log", "vpcflow/v5-custom.log"),
    "libvirt-events": ("libvirt/virsh-events.log",),
    "falco": ("falco/alerts.jsonl",),
}

E = TypeVar("E", bound=EventBase)


def run(
    parser: Parser, lines: Iterable[str], source: str, *, strip: bool = True
) -> list[ParseResult]:
    """Every result of `parser` over `lines` numbered from 1, end of stream included.

    `strip=False` feeds each line exactly as given, line endings and all (property tests whose
    lines are arbitrary text); otherwise they go through `raw_lines` as a file's lines would.
    """
    if strip:
        return list(parse_lines(parser, raw_lines(source, lines)))
    results: list[ParseResult] = []
    for number, text in enumerate(lines, 1):
        results.extend(parser.feed(RawLine(source, number, text)))
    results.extend(parser.close())
    return results


def errors(results: Iterable[ParseResult]) -> list[RecordError]:
    return [r for r in results if isinstance(r, RecordError)]


def split(results: Iterable[ParseResult]) -> tuple[list[Event], list[RecordError]]:
    """(events, record errors), each in stream order."""
    found: list[Event] = []
    failed: list[RecordError] = []
    for result in results:
        if isinstance(result, RecordError):
            failed.append(result)
        else:
            found.append(result)
    return found, failed


def events_of(results: Sequence[ParseResult], kind: type[E]) -> list[E]:
    """The `kind` events, asserting that every other result is a record error."""
    found: list[E] = [r for r in results if isinstance(r, kind)]
    assert len(found) + len(errors(results)) == len(results)
    return found


def only(results: Sequence[ParseResult], kind: type[E]) -> list[E]:
    """The results, asserting that all of them are `kind` events: no record error at all."""
    assert not errors(results), errors(results)
    return events_of(results, kind)


def check_results(
    results: Iterable[ParseResult],
    kind: type[EventBase] = EventBase,
    *,
    fed: int | None = None,
    format_name: str | None = None,
) -> None:
    """What any input must give: record errors with a reason (of `format_name`, on a line in
    `1..fed`, when given) and `kind` events with an id and an aware time that survive a JSON
    round trip unchanged (so every value has its model type)."""
    for result in results:
        if isinstance(result, RecordError):
            assert result.reason
            if format_name is not None:
                assert result.format == format_name
            if fed is not None:
                assert result.line is not None
                assert 1 <= result.line <= fed
        else:
            assert isinstance(result, kind), result
            assert result.id
            assert result.event_time.utcoffset() is not None
            assert decode_event(encode_event(result)) == result


def sample_events(samples: Path) -> list[Event]:
    """Events of several kinds, as the parsers produce them from the shared `SAMPLE_FILES`."""
    found: list[Event] = []
    for format_name, files in SAMPLE_FILES.items():
        for name in files:
            parser = make_parser(format_name, ParseContext(host_id="hv-01", clock=lambda: NOW))
            lines = (samples / name).read_text().splitlines()
            found.extend(split(run(parser, lines, name))[0])
    return found
