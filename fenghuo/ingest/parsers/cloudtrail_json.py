"""Framing of CloudTrail input: find each record's JSON text, value and first line in a stream.

CloudTrail arrives in three shapes: a `{"Records": [...]}` file (one line as delivered to object
storage, or pretty-printed), a JSON array of records (the Stratus Red Team samples, pretty-printed
over many lines), or one record per line (NDJSON, as streamed by most shippers). The shape is
decided per document from its first line:

* a line that is a complete JSON value by itself is a whole document, and the stream is then read
  line by line from there on, so one broken NDJSON line costs only itself;
* a first line that is an incomplete JSON value (the JSON error is at its very end) opens a
  document spanning lines: lines are buffered until the brackets balance again (a small
  incremental scanner tracks depth and strings), then the document is split into records;
* anything else is a broken line and becomes a fault naming that line.

Documents are split with `json.JSONDecoder.raw_decode`, one array element at a time, so every record
keeps its exact text and first line, and the records before a JSON syntax error are not lost; the
error itself becomes one fault with its line and column.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

# Beyond this a document spanning lines is not buffered any further (a runaway unterminated input).
MAX_DOCUMENT_CHARS = 256 * 1024 * 1024

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")
_RECORDS_ARRAY = re.compile(r'\{[ \t\n\r]*"Records"[ \t\n\r]*:[ \t\n\r]*\[')
_OUTSIDE_STRING = re.compile(r'["\[\]{}]')
_INSIDE_STRING = re.compile(r'["\\]')


@dataclass(frozen=True, slots=True)
class Chunk:
    """One record candidate: its decoded JSON value (any JSON type), exact text and first line."""

    line: int
    text: str
    value: object


@dataclass(frozen=True, slots=True)
class JsonFault:
    """JSON that could not be decoded. `at_end` tells an incomplete document from a broken one."""

    line: int
    reason: str
    text: str
    at_end: bool = False


Framed = Chunk | JsonFault
# Yields what it finds; returns the offset after the value, or None after a fault.
_Splitter = Generator[Framed, None, int | None]


class _Document:
    """The text of one complete JSON document with the line number of every offset."""

    def __init__(self, text: str, first_line: int) -> None:
        self.text = text
        self.first_line = first_line
        self._starts = [0]
        self._starts.extend(m.end() for m in re.finditer("\n", text))

    def line_of(self, offset: int) -> int:
        return self.first_line + bisect_right(self._starts, offset) - 1

    def position(self, offset: int) -> str:
        index = bisect_right(self._starts, offset) - 1
        return f"line {self.first_line + index} column {offset - self._starts[index] + 1}"

    def skip_ws(self, offset: int) -> int:
        match = _WS.match(self.text, offset)
        return match.end() if match else offset

    def fault(self, offset: int, message: str, start: int) -> JsonFault:
        at_end = offset >= len(self.text.rstrip())
        reason = f"invalid JSON: {message} at {self.position(offset)}"
        return JsonFault(self.line_of(start), reason, self.text[start:], at_end)

    def decode_at(self, offset: int) -> tuple[object, int] | JsonFault:
        try:
            value, end = _DECODER.raw_decode(self.text, offset)
        except json.JSONDecodeError as exc:
            return self.fault(exc.pos, exc.msg, offset)
        except RecursionError:
            return self.fault(offset, "nested too deeply", offset)
        return value, end


def split_document(text: str, first_line: int) -> Iterator[Framed]:
    """Split one JSON document (array, Records file or single record) into record chunks."""
    doc = _Document(text, first_line)
    start = doc.skip_ws(0)
    if start >= len(text):
        return
    if text[start] == "[":
        end = yield from _split_array(doc, start)
    elif _RECORDS_ARRAY.match(text, start):
        end = yield from _split_records_object(doc, start)
    else:
        end = yield from _split_value(doc, start)
    if end is None:
        return
    tail = doc.skip_ws(end)
    if tail < len(text):
        yield doc.fault(tail, "extra data after the document", tail)


def _split_array(doc: _Document, start: int) -> _Splitter:
    """Yield each element of the array at `start`; return the offset after `]` (None on error)."""
    text = doc.text
    offset = doc.skip_ws(start + 1)
    if offset < len(text) and text[offset] == "]":
        return offset + 1
    while True:
        decoded = doc.decode_at(offset)
        if isinstance(decoded, JsonFault):
            yield decoded
            return None
        value, end = decoded
        yield Chunk(doc.line_of(offset), text[offset:end], value)
        offset = doc.skip_ws(end)
        if offset < len(text) and text[offset] == ",":
            offset = doc.skip_ws(offset + 1)
            continue
        if offset < len(text) and text[offset] == "]":
            return offset + 1
        yield doc.fault(offset, "expecting ',' or ']' after an array element", offset)
        return None


def _split_records_object(doc: _Document, start: int) -> _Splitter:
    """`{"Records": [...], ...}`, Records first (as CloudTrail writes it), element by element."""
    match = _RECORDS_ARRAY.match(doc.text, start)
    assert match is not None
    end = yield from _split_array(doc, match.end() - 1)
    if end is None:
        return None
    offset = doc.skip_ws(end)
    text = doc.text
    if offset < len(text) and text[offset] == "}":
        return offset + 1
    if offset < len(text) and text[offset] == ",":
        # Other members after Records: check they are valid JSON by decoding them as an object.
        try:
            _, rest_end = _DECODER.raw_decode("{" + text[offset + 1 :])
        except json.JSONDecodeError as exc:
            yield doc.fault(offset + exc.pos, exc.msg, offset)
            return None
        except RecursionError:
            yield doc.fault(offset, "nested too deeply", offset)
            return None
        return offset + rest_end
    yield doc.fault(offset, "expecting ',' or '}' after the Records array", offset)
    return None


def _split_value(doc: _Document, start: int) -> _Splitter:
    """Any other value: one record, or a Records object whose Records member is not first."""
    decoded = doc.decode_at(start)
    if isinstance(decoded, JsonFault):
        yield decoded
        return None
    value, end = decoded
    wrapper = value if isinstance(value, dict) else {}
    records = wrapper.get("Records")
    if isinstance(records, list) and "eventTime" not in wrapper:
        line = doc.line_of(start)
        for record in records:
            yield Chunk(line, json.dumps(record, ensure_ascii=False), record)
    else:
        yield Chunk(doc.line_of(start), doc.text[start:end], value)
    return end


@dataclass
class _Scanner:
    """Incremental bracket/string tracker: tells where a JSON value spanning lines ends."""

    depth: int = 0
    in_string: bool = False
    escape: bool = False

    def feed(self, text: str) -> int | None:
        """Consume `text`; return the offset just after the value's closing bracket, if in it."""
        offset = 0
        if self.escape:
            self.escape = False
            offset = 1
        while True:
            if self.in_string:
                match = _INSIDE_STRING.search(text, offset)
                if match is None:
                    return None
                offset = match.end()
                if match.group() == "\\":
                    if offset >= len(text):
                        self.escape = True
                        return None
                    offset += 1
                else:
                    self.in_string = False
                continue
            match = _OUTSIDE_STRING.search(text, offset)
            if match is None:
                return None
            offset = match.end()
            char = match.group()
            if char == '"':
                self.in_string = True
            elif char in "[{":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth <= 0:
                    return offset


@dataclass
class Framer:
    """Turns numbered lines into record chunks and JSON faults (see the module docstring)."""

    max_document_chars: int = MAX_DOCUMENT_CHARS
    _line_mode: bool = False
    _scanner: _Scanner | None = None
    _lines: list[str] = field(default_factory=list)
    _size: int = 0
    _first_line: int = 0
    _discarding: bool = False

    @property
    def buffering(self) -> bool:
        return self._scanner is not None

    def feed(self, number: int, text: str) -> Iterator[Framed]:
        if self._scanner is None:
            yield from self._start(number, text)
            return
        end = self._scanner.feed(text)
        self._append(text if end is None else text[:end])
        if self._size > self.max_document_chars and not self._discarding:
            reason = f"document spanning lines exceeds {self.max_document_chars} characters"
            yield JsonFault(self._first_line, reason, self._lines[0][:1000])
            self._discarding = True
        if end is None:
            return
        yield from self._finish()
        if text[end:].strip():
            yield from self._start(number, text[end:])

    def close(self) -> Iterator[Framed]:
        if self._scanner is not None:
            yield from self._finish()

    def _start(self, number: int, text: str) -> Iterator[Framed]:
        stripped = text.lstrip()
        if not stripped:
            return
        if stripped[0] not in "[{":
            reason = "not JSON: a CloudTrail record or document starts with '{' or '['"
            yield JsonFault(number, reason, text)
            return
        items = list(split_document(text, number))
        last = items[-1] if items else None
        if isinstance(last, JsonFault) and last.at_end and not self._line_mode:
            self._scanner = _Scanner()
            self._first_line = number
            end = self._scanner.feed(text)
            self._append(text)
            if end is not None:  # cannot balance on its own line yet be incomplete; be safe
                yield from self._finish()
            return
        self._line_mode = True
        yield from items

    def _append(self, text: str) -> None:
        if not self._discarding:
            self._lines.append(text)
            self._size += len(text) + 1

    def _finish(self) -> Iterator[Framed]:
        lines, first, discarded = self._lines, self._first_line, self._discarding
        self._scanner, self._lines, self._size, self._discarding = None, [], 0, False
        if not discarded:
            yield from split_document("\n".join(lines), first)
