"""Falco alerts written with `json_output: true`, one JSON object per line.

The envelope (`rule`, `priority`, `time`, `output`, `hostname`, `source`, `tags`) is decoded and
type-checked by msgspec; `output_fields` stays a dict inside the parser and is copied whole into
`ContainerAlert.fields`, so a field read into a typed attribute here is never the only copy.
Typed attributes are read leniently (a missing or odd-typed field leaves the attribute empty)
because the rule's output decides which fields exist.

`container.id` `host` means the event happened on the host itself, not in a container: the
container attributes (image, digest, Kubernetes namespace and pod) are then empty. `proc.cmdline`
is Falco's space-joined `name args...`, so `argv` is split on whitespace (arguments containing
spaces cannot be recovered).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import msgspec

from fenghuo.ingest.parsers.base import Parser, ParseResult, RawLine
from fenghuo.model import ContainerAlert, Process, event_id
from fenghuo.model.events import raw_ref

FORMAT = "falco"

_NOT_AVAILABLE = frozenset({"", "<NA>", "N/A"})  # how Falco prints a field it could not resolve
_FILE_FD_TYPES = frozenset({"file", "directory"})
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_INTEGER = re.compile(r"-?[0-9]{1,20}")


class _Alert(msgspec.Struct):
    """The alert envelope Falco writes; unknown keys (e.g. `uuid`) are ignored."""

    rule: str
    priority: str
    time: str | None = None
    output: str = ""
    hostname: str | None = None
    source: str | None = None
    tags: list[str] | None = None
    output_fields: dict[str, Any] | None = None


_DECODER = msgspec.json.Decoder(_Alert)


class _BadAlert(ValueError):
    """The alert is unusable; the message is the record error's reason."""


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if isinstance(value, str) and value not in _NOT_AVAILABLE:
        return value
    return None


def _int(fields: dict[str, Any], name: str) -> int | None:
    value = fields.get(name)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def _from_nanoseconds(value: int) -> dt.datetime:
    try:
        return _EPOCH + dt.timedelta(microseconds=value // 1_000)
    except OverflowError:
        msg = f"evt.time out of range: {value}"
        raise _BadAlert(msg) from None


def _parse_time(text: str) -> dt.datetime:
    try:
        time = dt.datetime.fromisoformat(text)
    except ValueError:
        msg = f"time is not an RFC 3339 timestamp: {text!r}"
        raise _BadAlert(msg) from None
    if time.tzinfo is None:
        msg = f"time has no UTC offset: {text!r}"
        raise _BadAlert(msg)
    try:
        return time.astimezone(dt.UTC)
    except OverflowError:
        msg = f"time out of range: {text!r}"
        raise _BadAlert(msg) from None


def _event_time(alert: _Alert, fields: dict[str, Any]) -> tuple[dt.datetime, str]:
    """The alert time in UTC (nanoseconds truncated to microseconds) and its text for the id."""
    if alert.time is not None:
        return _parse_time(alert.time), alert.time
    # Without `time`, only an integer evt.time (nanoseconds) is usable: a string evt.time is the
    # rule output's formatted time of day, without a date.
    for name in ("evt.time", "evt.rawtime"):
        value = fields.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return _from_nanoseconds(value), str(value)
    msg = "missing time: neither `time` nor an integer output_fields `evt.time` is present"
    raise _BadAlert(msg)


def _process(fields: dict[str, Any]) -> Process | None:
    cmdline = _text(fields, "proc.cmdline")
    process = Process(
        pid=_int(fields, "proc.pid"),
        ppid=_int(fields, "proc.ppid"),
        exe=_text(fields, "proc.exepath") or _text(fields, "proc.exe"),
        comm=_text(fields, "proc.name"),
        argv=tuple(cmdline.split()) if cmdline else (),
        uid=_int(fields, "user.uid"),
        auid=_int(fields, "user.loginuid"),
        parent_exe=_text(fields, "proc.pexepath"),
    )
    return None if process == Process() else process


def _image(fields: dict[str, Any]) -> str | None:
    repository = _text(fields, "container.image.repository")
    if repository is None:
        return _text(fields, "container.image")
    tag = _text(fields, "container.image.tag")
    return f"{repository}:{tag}" if tag else repository


def _file_path(fields: dict[str, Any]) -> str | None:
    fd_type = _text(fields, "fd.type")
    if fd_type is not None and fd_type not in _FILE_FD_TYPES:
        return None  # fd.name of a socket or pipe is not a path
    return _text(fields, "fd.name") or _text(fields, "fs.path.name")


class FalcoParser(Parser):
    """One `ContainerAlert` per JSON line."""

    format: ClassVar[str] = FORMAT

    def feed(self, line: RawLine) -> Iterator[ParseResult]:
        if not line.text.strip():
            return
        try:
            alert = _DECODER.decode(line.text)
        except msgspec.DecodeError as exc:
            yield self.error(line, f"invalid Falco alert: {exc}")
            return
        except UnicodeEncodeError:
            yield self.error(line, "line is not valid UTF-8 text")
            return
        try:
            yield self._alert(line, alert)
        except _BadAlert as exc:
            yield self.error(line, str(exc))

    def _alert(self, line: RawLine, alert: _Alert) -> ContainerAlert:
        if not alert.rule.strip():
            msg = "rule is empty"
            raise _BadAlert(msg)
        if not alert.priority.strip():
            msg = "priority is empty"
            raise _BadAlert(msg)
        fields = alert.output_fields or {}
        event_time, time_text = _event_time(alert, fields)
        on_host = _text(fields, "container.id") == "host"
        hostname = alert.hostname or None
        return ContainerAlert(
            id=event_id(FORMAT, hostname or "", alert.rule, time_text, alert.output),
            event_time=event_time,
            ingest_time=self.context.clock(),
            source_format=FORMAT,
            raw=raw_ref(line.source, line.line, line.text),
            host_id=hostname or self.context.host_id,
            rule=alert.rule,
            priority=alert.priority,
            output=alert.output,
            rule_source=alert.source,
            tags=tuple(alert.tags or ()),
            container_id=None if on_host else _text(fields, "container.id"),
            container_name=None if on_host else _text(fields, "container.name"),
            image=None if on_host else _image(fields),
            image_digest=None if on_host else _text(fields, "container.image.digest"),
            k8s_namespace=None if on_host else _text(fields, "k8s.ns.name"),
            k8s_pod=None if on_host else _text(fields, "k8s.pod.name"),
            process=_process(fields),
            file_path=_file_path(fields),
            syscall=_text(fields, "evt.type"),
            user_name=_text(fields, "user.name"),
            fields=fields,
        )
