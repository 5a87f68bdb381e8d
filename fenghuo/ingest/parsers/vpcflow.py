"""VPC Flow Logs (versions 2 to 5, plus the ECS and reject-reason fields of 7 and 8).

Records are space-separated; which value is which comes from the header line that object-storage
delivery writes at the top of every file (`version account-id interface-id srcaddr ...`). A header
line met mid-stream (concatenated files, a changed custom format) switches the order from there on.
Input without any header is read in the default (version 2) order, the only order that can be
assumed: `version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes
start end action log-status`.

`-` is an absent value. NODATA and SKIPDATA records are kept as `Flow` events with `log_status` set
and the traffic fields empty: a gap in telemetry is itself worth seeing. Fields the model has no
attribute for (sublocation-*, pkt-*-aws-service, ecs-*, reject-reason) and header names this parser
does not know are kept as text in `Flow.extra` under their log field name, unless absent (`-`).
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from fenghuo.ingest.parsers.base import ParseContext, Parser, ParseResult, RawLine
from fenghuo.model import Flow, event_id
from fenghuo.model.events import raw_ref

FORMAT = "vpcflow"

DEFAULT_FIELDS: tuple[str, ...] = (
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
)

# Versions AWS has published (there is no version 6).
KNOWN_VERSIONS = frozenset({2, 3, 4, 5, 7, 8})

_UINT = re.compile(r"[0-9]{1,20}")
_FIELD_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z


class _BadValue(ValueError):
    """A field value that does not fit its field; the message is the record error's reason."""


def _uint(text: str, what: str, maximum: int) -> int:
    if _UINT.fullmatch(text) is None:
        msg = f"not a {what}: {text!r}"
        raise _BadValue(msg)
    value = int(text)
    if value > maximum:
        msg = f"{what} out of range: {text}"
        raise _BadValue(msg)
    return value


def _version(text: str) -> int:
    value = _uint(text, "version number", 1_000)
    if value not in KNOWN_VERSIONS:
        msg = f"unknown flow log version {value} (known: 2-5, 7, 8)"
        raise _BadValue(msg)
    return value


def _port(text: str) -> int:
    return _uint(text, "port number", 65_535)


def _protocol(text: str) -> int:
    return _uint(text, "IANA protocol number", 255)


def _count(text: str) -> int:
    return _uint(text, "non-negative integer", 2**63 - 1)


def _time(text: str) -> dt.datetime:
    seconds = _uint(text, "unix time in seconds", _MAX_UNIX_SECONDS)
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


@functools.lru_cache(maxsize=65536)
def _address(text: str) -> str:
    # Cached: flow logs repeat the same few addresses on most lines.
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        msg = f"not an IP address: {text!r}"
        raise _BadValue(msg) from None


def _text(text: str) -> str:
    return text


def _choice(*allowed: str) -> Callable[[str], str]:
    choices = frozenset(allowed)

    def convert(text: str) -> str:
        if text not in choices:
            msg = f"{text!r} is not one of {', '.join(allowed)}"
            raise _BadValue(msg)
        return text

    return convert


# header name -> (Flow attribute, converter, version that introduced it)
_Spec = tuple[str, Callable[[str], object], int]
_MAPPED: dict[str, _Spec] = {
    "version": ("version", _version, 2),
    "account-id": ("account_id", _text, 2),
    "interface-id": ("interface_id", _text, 2),
    "srcaddr": ("src_addr", _address, 2),
    "dstaddr": ("dst_addr", _address, 2),
    "srcport": ("src_port", _port, 2),
    "dstport": ("dst_port", _port, 2),
    "protocol": ("protocol", _protocol, 2),
    "packets": ("packets", _count, 2),
    "bytes": ("bytes", _count, 2),
    "start": ("start", _time, 2),
    "end": ("end", _time, 2),
    "action": ("action", _choice("ACCEPT", "REJECT"), 2),
    "log-status": ("log_status", _choice("OK", "NODATA", "SKIPDATA"), 2),
    "vpc-id": ("vpc_id", _text, 3),
    "subnet-id": ("subnet_id", _text, 3),
    "instance-id": ("instance_id", _text, 3),
    "tcp-flags": ("tcp_flags", _count, 3),
    "type": ("traffic_type", _text, 3),
    "pkt-srcaddr": ("pkt_src_addr", _address, 3),
    "pkt-dstaddr": ("pkt_dst_addr", _address, 3),
    "region": ("region", _text, 4),
    "az-id": ("az_id", _text, 4),
    "flow-direction": ("flow_direction", _choice("ingress", "egress"), 5),
    "traffic-path": ("traffic_path", _count, 5),
}
# Documented fields the model does not carry: accepted, counted for the version, kept in `extra`.
_UNMAPPED: dict[str, int] = {
    "sublocation-type": 4,
    "sublocation-id": 4,
    "pkt-src-aws-service": 5,
    "pkt-dst-aws-service": 5,
    "ecs-cluster-arn": 7,
    "ecs-cluster-name": 7,
    "ecs-container-instance-arn": 7,
    "ecs-container-instance-id": 7,
    "ecs-container-id": 7,
    "ecs-second-container-id": 7,
    "ecs-service-name": 7,
    "ecs-task-definition-arn": 7,
    "ecs-task-arn": 7,
    "ecs-task-id": 7,
    "reject-reason": 8,
}
KNOWN_FIELDS = frozenset(_MAPPED) | frozenset(_UNMAPPED)


@dataclass(frozen=True, slots=True)
class _Layout:
    """The field order of the records that follow a header (or the default order)."""

    names: tuple[str, ...]
    # (position, header name, Flow attribute, converter) for every field the model carries
    slots: tuple[tuple[int, str, str, Callable[[str], object]], ...]
    # (position, header name) of every other field: its value goes to `Flow.extra`
    extras: tuple[tuple[int, str], ...]
    version: int  # the version the fields imply, used when a record has no `version` value
    where: str  # "header on line N" or "default v2 order", for error messages

    @classmethod
    def build(cls, names: tuple[str, ...], where: str) -> _Layout:
        slots = tuple(
            (index, name, _MAPPED[name][0], _MAPPED[name][1])
            for index, name in enumerate(names)
            if name in _MAPPED
        )
        extras = tuple((index, name) for index, name in enumerate(names) if name not in _MAPPED)
        versions = [_MAPPED[n][2] if n in _MAPPED else _UNMAPPED.get(n, 2) for n in names]
        return cls(names, slots, extras, max(versions, default=2), where)


_DEFAULT_LAYOUT = _Layout.build(DEFAULT_FIELDS, "default v2 field order: no header seen")


def _is_header(tokens: list[str]) -> bool:
    """Field names only, at least one of them documented: data values never look like that."""
    return all(_FIELD_NAME.fullmatch(t) for t in tokens) and any(t in KNOWN_FIELDS for t in tokens)


class VpcFlowParser(Parser):
    """One `Flow` per record line; header lines set the field order and yield nothing."""

    format: ClassVar[str] = FORMAT

    def __init__(self, context: ParseContext | None = None) -> None:
        super().__init__(context)
        self._layout: _Layout | None = _DEFAULT_LAYOUT
        self._layout_error = ""

    def feed(self, line: RawLine) -> Iterator[ParseResult]:
        tokens = line.text.split()
        if not tokens:
            return
        if _is_header(tokens):
            problem = self._set_header(tokens, line.line)
            if problem:
                yield self.error(line, problem)
            return
        if self._layout is None:
            yield self.error(line, self._layout_error)
            return
        yield self._record(line, tokens, self._layout)

    def _set_header(self, tokens: list[str], number: int) -> str:
        """Adopt a header; on a bad one, refuse the records under it rather than misread them."""
        counts = Counter(tokens)
        duplicates = sorted(name for name, n in counts.items() if n > 1)
        missing = [name for name in ("start", "end") if name not in counts]
        if duplicates:
            problem = f"header names {', '.join(duplicates)} more than once"
        elif missing:
            problem = f"header has no {' or '.join(missing)} field: records need their time window"
        else:
            self._layout = _Layout.build(tuple(tokens), f"header on line {number}")
            return ""
        self._layout = None
        self._layout_error = f"no usable field order: the header on line {number} is invalid"
        return f"invalid header: {problem}"

    def _record(self, line: RawLine, tokens: list[str], layout: _Layout) -> ParseResult:
        if len(tokens) != len(layout.names):
            return self.error(
                line,
                f"expected {len(layout.names)} fields ({layout.where}), got {len(tokens)}",
            )
        values: dict[str, Any] = {}
        for index, name, attr, convert in layout.slots:
            text = tokens[index]
            if text == "-":
                continue
            try:
                values[attr] = convert(text)
            except _BadValue as exc:
                return self.error(line, f"{name}: {exc}")
        for required in ("start", "end"):
            if required not in values:
                return self.error(line, f"{required} is absent: a flow needs its time window")
        values.setdefault("version", layout.version)
        extra = {name: tokens[index] for index, name in layout.extras if tokens[index] != "-"}
        if extra:
            values["extra"] = extra
        return Flow(
            id=event_id(FORMAT, line.text.strip()),
            event_time=values["start"],
            ingest_time=self.context.clock(),
            source_format=FORMAT,
            raw=raw_ref(line.source, line.line, line.text),
            **values,
        )
