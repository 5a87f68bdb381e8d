"""Native JSON-lines parser: lossless round trip, validation errors, robustness."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fenghuo.ingest.parsers import ParseContext, ParseResult, RecordError
from fenghuo.ingest.parsers.native import NativeParser
from fenghuo.model import ApiCall, ContainerAlert, Event, Flow, SyscallActivity, encode_event
from tests.ingest.parsers.helpers import NOW, check_results, errors, run, sample_events


def parse(lines: list[str]) -> list[ParseResult]:
    return run(NativeParser(ParseContext(clock=lambda: NOW)), lines, "events.jsonl")


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


ENVELOPE = (
    '"id": "e1", "event_time": "2026-01-05T10:00:00Z", "ingest_time": "2026-01-05T10:00:01Z", '
    '"raw": {"source": "old.jsonl"}'
)
# Lines as Fenghuo wrote them before the optional enrichment fields existed.
OLDER_LINES = [
    "{" + ENVELOPE + ', "kind": "flow", "source_format": "vpcflow", "version": 2, '
    '"start": "2026-01-05T10:00:00Z", "end": "2026-01-05T10:01:00Z"}',
    "{" + ENVELOPE + ', "kind": "api_call", "source_format": "cloudtrail", '
    '"service": "s3.amazonaws.com", "action": "PutBucketPolicy", "actor": {}, "grants": '
    '[{"resource": {"type": "s3:bucket", "id": "b"}, "grantee_kind": "everyone", "grantee": "*"}]}',
    "{" + ENVELOPE + ', "kind": "syscall", "source_format": "auditd", '
    '"process": {"pid": 4242, "auid": 1000}}',
    "{" + ENVELOPE + ', "kind": "container_alert", "source_format": "falco", "rule": "r", '
    '"priority": "Warning"}',
]


def test_events_without_the_newer_optional_fields_decode_with_defaults() -> None:
    flow, call, syscall, alert = parse(OLDER_LINES)
    assert isinstance(flow, Flow)
    assert flow.extra == {}
    assert isinstance(call, ApiCall)
    assert (call.event_type, call.event_category) == (None, None)
    assert call.grants[0].conditional is False
    assert isinstance(syscall, SyscallActivity)
    assert syscall.detail == {}
    assert (syscall.process.auid, syscall.process.ses, syscall.process.tty) == (1000, None, None)
    assert isinstance(alert, ContainerAlert)
    assert (alert.image_digest, alert.k8s_namespace, alert.k8s_pod) == (None, None, None)


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


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=8))
def test_random_text_never_raises(lines: list[str]) -> None:
    check_results(parse(lines), fed=len(lines))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_events_never_raise(samples: Path, data: st.DataObject) -> None:
    lines = []
    for line in data.draw(st.lists(st.sampled_from(lines_of(sample_events(samples))), max_size=4)):
        start = data.draw(st.integers(0, len(line)))
        end = data.draw(st.integers(start, min(len(line), start + 12)))
        lines.append(line[:start] + data.draw(st.text(max_size=6)) + line[end:])
    check_results(parse(lines), fed=len(lines))
