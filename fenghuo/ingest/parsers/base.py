"""The parser contract: raw lines in, events (or typed record errors) out, streaming.

Recipe for a new format:
1. Subclass `Parser`, set `format`, implement `feed(line)`: yield zero or more `Event`s or
   `RecordError`s for one raw line. Never raise for bad input: a record that cannot be parsed is a
   `RecordError` naming the source, line and reason.
2. If the format spans lines (coalesced audit events, a JSON document), buffer in `feed` and yield
   what is left in `close()`.
3. Register the class in `fenghuo.ingest.parsers.PARSERS`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import msgspec

from fenghuo.model import Event


class RawLine(msgspec.Struct, frozen=True):
    """One line of raw input (without its line ending)."""

    source: str  # file path, "stdin", "http:<key name>"
    line: int  # 1-based
    text: str


class RecordError(msgspec.Struct, frozen=True, kw_only=True):
    """A raw record that could not be turned into an event. It goes to the dead-letter topic."""

    format: str
    source: str
    line: int | None
    reason: str
    raw: str


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class ParseContext:
    """What a parser may know beyond its input.

    `host_id` is the host the input came from when the format does not say (libvirt events);
    `clock` stamps ingest time (injected so tests are deterministic); `vm_for_label` maps an sVirt
    SELinux context (or its MCS categories) to a VM name, from the inventory.
    """

    host_id: str | None = None
    clock: Callable[[], dt.datetime] = _utc_now
    vm_for_label: Callable[[str], str | None] = field(default=lambda _label: None)


ParseResult = Event | RecordError


class Parser:
    """Base class of every format parser. One instance parses one stream (it may keep state)."""

    format: ClassVar[str]

    def __init__(self, context: ParseContext | None = None) -> None:
        self.context = context or ParseContext()

    def feed(self, line: RawLine) -> Iterator[ParseResult]:
        """Parse one raw line; yield the events (or record errors) it completes."""
        raise NotImplementedError

    def close(self) -> Iterator[ParseResult]:
        """End of stream: yield whatever is still buffered. Optional hook."""
        return iter(())

    def error(self, line: RawLine | None, reason: str, raw: str | None = None) -> RecordError:
        """A record error for `line` (or for the end of stream when `line` is None)."""
        return RecordError(
            format=self.format,
            source=line.source if line else "",
            line=line.line if line else None,
            reason=reason,
            raw=raw if raw is not None else (line.text if line else ""),
        )


def parse_lines(parser: Parser, lines: Iterable[RawLine]) -> Iterator[ParseResult]:
    """Feed every line, then close: the whole stream through one parser."""
    for line in lines:
        yield from parser.feed(line)
    yield from parser.close()


def raw_lines(source: str, text_lines: Iterable[str], start: int = 1) -> Iterator[RawLine]:
    """Number lines (stripping line endings) as `RawLine`s."""
    for number, text in enumerate(text_lines, start=start):
        yield RawLine(source, number, text.rstrip("\r\n"))
