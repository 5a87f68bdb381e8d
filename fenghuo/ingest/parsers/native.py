"""Fenghuo's own JSON-lines events (`fenghuo/model/native-event.schema.json`).

Each line is one event as `fenghuo.model.encode_event` writes it. Decoding validates it against
the model (msgspec: tagged by `kind`, timezone-aware times); the event then passes through
unchanged, attribution included, so re-ingesting Fenghuo's own output is lossless and idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import msgspec

from fenghuo.ingest.parsers.base import Parser, ParseResult, RawLine
from fenghuo.model import SCHEMA_VERSION, decode_event

FORMAT = "native"


class NativeParser(Parser):
    """One event per JSON line; msgspec's message (naming the bad field's path) is the reason."""

    format: ClassVar[str] = FORMAT

    def feed(self, line: RawLine) -> Iterator[ParseResult]:
        if not line.text.strip():
            return
        try:
            event = decode_event(line.text)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            yield self.error(line, f"invalid native event: {exc}")
            return
        except UnicodeEncodeError:
            yield self.error(line, "line is not valid UTF-8 text")
            return
        if not event.id.strip():
            yield self.error(line, "invalid native event: `id` is empty - at `$.id`")
        elif event.schema_version > SCHEMA_VERSION:
            yield self.error(
                line,
                f"schema_version {event.schema_version} is newer than this Fenghuo reads "
                f"({SCHEMA_VERSION})",
            )
        else:
            yield event
