"""Native JSON-lines parser: lossless round trip, validation errors, robustness."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fenghuo.ingest.parsers import (
    ParseContext,
    ParseResult,
    RecordError,
    make_parser,
    parse_lines,
    raw_lines,
)
from fenghuo.ingest.parsers.native import NativeParser
from fenghuo.model import Event, encode_event

NOW = dt.datetime(2026, 1, 6, 8, 0, tzinfo=dt.UTC)
SAMPLE_FILES = {
    "vpcflow": ("vpcflow/v2-default.log", "vpcflow/v5-custom.log"),
    "libvirt-events": ("libvirt/virsh-events.log",),
    "falco": ("falco/alerts.jsonl",),
}


def parse(lines: list[str]) -> list[ParseResult]:
    parser = NativeParser(ParseContext(clock=lambda: NOW))
    return list(parse_lines(parser, raw_lines("events.jsonl", lines)))


def errors(results: list[ParseResult]) -> list[RecordError]:
    return [r for r in results if isinstance(r, RecordError)]


def sample_events(samples: Path) -> list[Event]:
    """Events of several kinds, as the other parsers produce them from the shared samples."""
    found: list[Event] = []
    for format_name, files in SAMPLE_FILES.items():
        for name in files:
            parser = make_parser(format_name, ParseContext(host_id="hv-01", clock=lambda: NOW))
            lines = raw_lines(name, (samples / name).read_text().splitlines())
            found.extend(r for r in parse_lines(parser, lines) if not isinstance(r, RecordError))
    return found


def lines_of(events: list[Event]) -> list[str]:
    return [encode_event(e).decode() for e in events]


def test_events_pass_through_unchanged(samples: Path) -> None:
    events = sample_events(samples)
    assert {type(e).__name__ for e in events} == {"Flow", "VmLifecycle", "ContainerAlert"}
    assert parse(lines_of(events)) == events


def test_attribution_is_kept(samples: Path) -> None:
    attributed = [
        msgspec.structs.replace(
            e,
            tenant_id="acme",
            related_tenant_ids=("globex",),
            attribution="attributed",
            attribution_via=("account:111111111111",),
        )
        for e in sample_events(samples)
    ]
    assert parse(lines_of(attributed)) == attributed


def test_other_offsets_are_accepted(samples: Path) -> None:
    record = json.loads(lines_of(sample_events(samples))[0])
    record["event_time"] = "2026-01-05T18:00:00+08:00"
    (event,) = parse([json.dumps(record)])
    assert not isinstance(event, RecordError)
    assert event.event_time == dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


def _broken(samples: Path, key: str, value: object) -> str:
    record = json.loads(lines_of(sample_events(samples))[0])  # a Flow
    if value is None:
        del record[key]
    else:
        record[key] = value
    return json.dumps(record)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("id", None, "invalid native event: Object missing required field `id`"),
        ("id", "", "invalid native event: `id` is empty - at `$.id`"),
        ("kind", "teleport", "invalid native event: Invalid value 'teleport' - at `$.kind`"),
        ("kind", None, "invalid native event: Object missing required field `kind`"),
        (
            "event_time",
            "2026-01-05T10:00:00",
            "invalid native event: Expected `datetime` with a timezone component"
            " - at `$.event_time`",
        ),
        (
            "src_port",
            "22",
            "invalid native event: Expected `int | null`, got `str` - at `$.src_port`",
        ),
        (
            "raw",
            {"line": 3},
            "invalid native event: Object missing required field `source` - at `$.raw`",
        ),
        ("schema_version", 99, "schema_version 99 is newer than this Fenghuo reads (1)"),
    ],
)
def test_invalid_events_are_errors_naming_the_field(
    samples: Path, key: str, value: object, reason: str
) -> None:
    good = lines_of(sample_events(samples))[:2]
    bad = _broken(samples, key, value)
    results = parse([good[0], bad, good[1]])
    (error,) = errors(results)
    assert (error.line, error.reason, error.raw, error.format) == (2, reason, bad, "native")
    assert len(results) == 3


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not json", "invalid native event: JSON is malformed: invalid character (byte 4)"),
        ("[]", "invalid native event: Expected `object`, got `array`"),
        ('{"kind": "flow"', "invalid native event: Input data was truncated"),
        ("\ud800", "line is not valid UTF-8 text"),
    ],
)
def test_malformed_lines(line: str, reason: str) -> None:
    (error,) = errors(parse(["", line]))
    assert (error.line, error.reason) == (2, reason)


# --- robustness -------------------------------------------------------------------------------


def _check(results: list[ParseResult], fed: int) -> None:
    for result in results:
        if isinstance(result, RecordError):
            assert result.reason
            assert result.line is not None
            assert 1 <= result.line <= fed
        else:
            assert result.id


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=8))
def test_random_text_never_raises(lines: list[str]) -> None:
    _check(parse(lines), len(lines))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_events_never_raise(samples: Path, data: st.DataObject) -> None:
    lines = []
    for line in data.draw(st.lists(st.sampled_from(lines_of(sample_events(samples))), max_size=4)):
        start = data.draw(st.integers(0, len(line)))
        end = data.draw(st.integers(start, min(len(line), start + 12)))
        lines.append(line[:start] + data.draw(st.text(max_size=6)) + line[end:])
    _check(parse(lines), len(lines))
