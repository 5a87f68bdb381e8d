"""One parser per input format (CONTRACTS.md `FORMAT`)."""

from __future__ import annotations

import importlib

from fenghuo.ingest.parsers.base import (
    ParseContext,
    Parser,
    ParseResult,
    RawLine,
    RecordError,
    parse_lines,
    raw_lines,
)

# format -> "module:Class"; imported lazily so a CLI call loads only the parser it uses.
_PARSERS: dict[str, str] = {
    "auditd": "fenghuo.ingest.parsers.auditd:AuditdParser",
    "libvirt-events": "fenghuo.ingest.parsers.libvirt:LibvirtEventsParser",
    "falco": "fenghuo.ingest.parsers.falco:FalcoParser",
    "cloudtrail": "fenghuo.ingest.parsers.cloudtrail:CloudTrailParser",
    "vpcflow": "fenghuo.ingest.parsers.vpcflow:VpcFlowParser",
    "native": "fenghuo.ingest.parsers.native:NativeParser",
}

FORMATS: tuple[str, ...] = tuple(_PARSERS)


class UnknownFormatError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown format {name!r}; expected one of: {', '.join(FORMATS)}")


def parser_class(format_name: str) -> type[Parser]:
    try:
        target = _PARSERS[format_name]
    except KeyError:
        raise UnknownFormatError(format_name) from None
    module_name, class_name = target.split(":")
    cls: type[Parser] = getattr(importlib.import_module(module_name), class_name)
    return cls


def make_parser(format_name: str, context: ParseContext | None = None) -> Parser:
    return parser_class(format_name)(context)


__all__ = [
    "FORMATS",
    "ParseContext",
    "ParseResult",
    "Parser",
    "RawLine",
    "RecordError",
    "UnknownFormatError",
    "make_parser",
    "parse_lines",
    "parser_class",
    "raw_lines",
]
