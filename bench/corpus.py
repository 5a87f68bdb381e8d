"""A benchmark input: raw lines of one format, grouped in units that are never split.

A unit is what one record (or one auditd event, or one `{"Records": [...]}` document) occupies,
so an input can be cut into request bodies or ingest calls without breaking a record; `header`
(the VPC flow log header) starts every piece, as it starts every delivered file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Piece:
    """Consecutive units of a corpus, with the header: one ingest call or one request body."""

    lines: list[str]
    records: int

    def body(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode()


@dataclass(frozen=True)
class Corpus:
    name: str  # e.g. "cloudtrail-records"
    format: str  # the parser's format name
    units: list[list[str]]
    unit_records: list[int]  # input records in each unit
    host_id: str | None = None
    header: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        name: str,
        format_name: str,
        units: list[list[str]],
        *,
        host_id: str | None,
        header: tuple[str, ...] = (),
        unit_records: list[int] | None = None,
    ) -> Corpus:
        """`unit_records` defaults to one record per line (auditd: per audit record)."""
        counts = unit_records if unit_records is not None else [len(u) for u in units]
        return cls(name, format_name, units, counts, host_id, header)

    @property
    def records(self) -> int:
        return sum(self.unit_records)

    def lines(self) -> list[str]:
        out = list(self.header)
        for unit in self.units:
            out.extend(unit)
        return out

    def nbytes(self) -> int:
        """Size of the input as a file: UTF-8 lines with their newlines."""
        return sum(len(line.encode()) + 1 for line in self.lines())

    def pieces(self, max_records: int) -> Iterator[Piece]:
        """The corpus cut into pieces of at most `max_records` records (at least one unit)."""
        lines = list(self.header)
        records = 0
        for unit, count in zip(self.units, self.unit_records, strict=True):
            if records and records + count > max_records:
                yield Piece(lines, records)
                lines, records = list(self.header), 0
            lines.extend(unit)
            records += count
        if records:
            yield Piece(lines, records)
