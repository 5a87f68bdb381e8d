"""Parse and attribute: raw lines of one format in, attributed events or record errors out.

The one path shared by `fenghuo parse`, `fenghuo ingest`, the HTTP gateway and replay.
It owns the state that must outlive one input stream: the auditd per-host process table, so a
qemu process seen in one upload still attributes its children in the next.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fenghuo.ingest.parsers import (
    ParseContext,
    Parser,
    ParseResult,
    RawLine,
    RecordError,
    parse_lines,
    parser_class,
)
from fenghuo.inventory.attribution import attribute
from fenghuo.inventory.store import InventoryStore


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Normaliser:
    def __init__(
        self,
        inventory: InventoryStore | None,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.inventory = inventory
        self.clock = clock
        self._shared: dict[str, dict[str, Any]] = {}

    def _vm_for_label(self, context: str) -> str | None:
        return self.inventory.current().vm_name_for_label(context) if self.inventory else None

    def parser(self, format_name: str, host_id: str | None = None) -> Parser:
        cls = parser_class(format_name)
        context = ParseContext(host_id=host_id, clock=self.clock, vm_for_label=self._vm_for_label)
        if format_name == "auditd":
            from fenghuo.ingest.parsers.auditd_process import ProcessTable

            shared = self._shared.setdefault(format_name, {"processes": ProcessTable()})
            return cls(context, **shared)
        return cls(context)

    def stream(
        self, format_name: str, lines: Iterable[RawLine], host_id: str | None = None
    ) -> Iterator[ParseResult]:
        """Events attributed against the inventory as it is now; record errors as they come."""
        parser = self.parser(format_name, host_id)
        index = self.inventory.current() if self.inventory else None
        for result in parse_lines(parser, lines):
            if index is None or isinstance(result, RecordError):
                yield result
            else:
                yield attribute(index, result)
