"""libvirt (virsh event) parser: sample, state mapping, multi-line events, bad lines, robustness."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fenghuo.ingest.parsers import ParseContext, ParseResult, RecordError, raw_lines
from fenghuo.ingest.parsers.libvirt import LibvirtEventsParser, lifecycle_state
from fenghuo.model import VmLifecycle
from tests.ingest.parsers.helpers import NOW, check_results, errors, only, run

TS = "2026-01-05 10:00:01.120+0000"


def parse(lines: list[str], host_id: str | None = "hv-01") -> list[ParseResult]:
    parser = LibvirtEventsParser(ParseContext(host_id=host_id, clock=lambda: NOW))
    return run(parser, lines, "virsh.log")


def events(results: list[ParseResult]) -> list[VmLifecycle]:
    return only(results, VmLifecycle)


def sample_lines(samples: Path) -> list[str]:
    return (samples / "libvirt" / "virsh-events.log").read_text().splitlines()


def test_sample(samples: Path) -> None:
    result = events(parse(sample_lines(samples)))

    assert len(result) == 6
    assert [(e.vm_name, e.state, e.event_type, e.detail) for e in result] == [
        ("acme-web-1", "started", "lifecycle", "Started Booted"),
        ("globex-db-1", "resumed", "lifecycle", "Resumed Unpaused"),
        ("acme-web-1", "rebooted", "reboot", None),
        ("globex-db-1", "guest_panic", "lifecycle", "Crashed Panicked"),  # the guest's kernel
        ("acme-web-1", "crashed", "lifecycle", "Stopped Crashed"),  # the QEMU process
        ("acme-web-1", "stopped", "lifecycle", "Stopped Shutdown"),
    ]
    first = result[0]
    assert first.event_time == dt.datetime(2026, 1, 5, 10, 0, 1, 120_000, tzinfo=dt.UTC)
    assert first.ingest_time == NOW
    assert first.host_id == "hv-01"
    assert first.vm_uuid is None
    assert first.source_format == "libvirt-events"
    assert [(e.raw.source, e.raw.line) for e in result] == [("virsh.log", n) for n in range(1, 7)]


def test_sample_is_deterministic(samples: Path) -> None:
    first = events(parse(sample_lines(samples)))
    again = events(parse(sample_lines(samples)))
    assert first == again
    assert len({e.id for e in first}) == 6


def test_the_host_is_part_of_the_id() -> None:
    line = f"{TS}: event 'reboot' for domain 'acme-web-1'"
    (on_one,) = events(parse([line], host_id="hv-01"))
    (on_other,) = events(parse([line], host_id="hv-02"))
    (unknown,) = events(parse([line], host_id=None))
    assert len({on_one.id, on_other.id, unknown.id}) == 3
    assert unknown.host_id is None


@pytest.mark.parametrize(
    ("words", "state"),
    [
        ("Defined Added", "defined"),
        ("Defined Updated", "defined"),
        ("Undefined Removed", "undefined"),
        ("Started Booted", "started"),
        ("Started Restored", "started"),
        ("Started Event wakeup", "started"),
        ("Started Migrated", "migrated"),  # incoming migration
        ("Suspended Paused", "suspended"),
        ("Suspended I/O Error", "suspended"),
        ("Suspended Migrated", "suspended"),  # the pause before an outgoing migration completes
        ("Suspended Post-copy Error", "suspended"),
        ("Resumed Unpaused", "resumed"),
        ("Resumed Migrated", "resumed"),
        ("Stopped Shutdown", "stopped"),
        ("Stopped Destroyed", "stopped"),
        ("Stopped Failed", "stopped"),
        ("Stopped Saved", "stopped"),
        ("Stopped Crashed", "crashed"),
        ("Stopped Migrated", "migrated"),  # outgoing migration done
        ("Shutdown Finished", "shutdown"),
        ("Shutdown Finished after guest request", "shutdown"),
        ("PMSuspended Memory", "pmsuspended"),
        ("PMSuspended Disk", "pmsuspended"),
        ("Crashed Panicked", "guest_panic"),
        ("Crashed Crashloaded", "guest_panic"),
        ("unknown unknown", "other"),
    ],
)
def test_lifecycle_states(words: str, state: str) -> None:
    assert lifecycle_state(words) == state
    (event,) = events(parse([f"{TS}: event 'lifecycle' for domain 'vm-1': {words}"]))
    assert (event.state, event.detail) == (state, words)


@pytest.mark.parametrize(
    ("rest", "event_type", "detail"),
    [
        ("event 'device-added' for domain 'vm-1': net1", "device-added", "net1"),
        ("event 'watchdog' for domain 'vm-1': reset", "watchdog", "reset"),
        ("event 'rtc-change' for domain 'vm-1': -3600", "rtc-change", "-3600"),
        (
            "event 'io-error' for domain 'vm-1': /var/lib/libvirt/images/vm-1.qcow2 (virtio-disk0)"
            " pause due to enospc",
            "io-error",
            "/var/lib/libvirt/images/vm-1.qcow2 (virtio-disk0) pause due to enospc",
        ),
        (
            "event 'agent-lifecycle' for domain 'vm-1': state: 'connected' reason: 'channel event'",
            "agent-lifecycle",
            "state: 'connected' reason: 'channel event'",
        ),
        (
            "event 'block-job' for domain 'vm-1': Block Copy for vda ready",
            "block-job",
            "Block Copy for vda ready",
        ),
        (
            "event 'metadata-change' for domain 'vm-1': type element, uri http://x/",
            "metadata-change",
            "type element, uri http://x/",
        ),
        (
            "event 'disk-change' for domain 'vm-1' disk ua-cd: /a.iso -> /b.iso: changed",
            "disk-change",
            "disk ua-cd: /a.iso -> /b.iso: changed",
        ),
        ("event 'control-error' for domain 'vm-1'", "control-error", None),
    ],
)
def test_other_event_types(rest: str, event_type: str, detail: str | None) -> None:
    (event,) = events(parse([f"{TS}: {rest}"]))
    assert (event.state, event.event_type, event.detail, event.vm_name) == (
        "other",
        event_type,
        detail,
        "vm-1",
    )


def test_domain_names_with_quotes_and_colons() -> None:
    (event,) = events(parse([f"{TS}: event 'lifecycle' for domain 'o'brien:db': Started Booted"]))
    assert event.vm_name == "o'brien:db"
    assert event.state == "started"


def test_offsets_are_converted_to_utc() -> None:
    (event,) = events(parse(["2026-01-05 18:00:00.5+0800: event 'reboot' for domain 'vm-1'"]))
    assert event.event_time == dt.datetime(2026, 1, 5, 10, 0, 0, 500_000, tzinfo=dt.UTC)


def test_multi_line_events_collect_their_continuation_lines() -> None:
    lines = [
        f"{TS}: event 'tunable' for domain 'vm-1':",
        "\tcputune.vcpu_period: 100000",
        "\tcputune.vcpu_quota: -1",
        f"{TS}: event 'graphics' for domain 'vm-1': connect local[IPv4 127.0.0.1 5900] "
        "remote[IPv4 10.0.0.5 50123] none",
        "\tx509dname=CN=operator",
        f"{TS}: event 'memory-failure' for domain 'vm-1':",
        "recipient: guest",
        "action: inject",
        "flags:",
        "\taction required: 0",
        "\trecursive: 0",
        "events received: 3",
    ]
    tunable, graphics, memory = events(parse(lines))
    assert tunable.detail == "cputune.vcpu_period: 100000; cputune.vcpu_quota: -1"
    assert tunable.raw.line == 1
    assert graphics.detail == (
        "connect local[IPv4 127.0.0.1 5900] remote[IPv4 10.0.0.5 50123] none; x509dname=CN=operator"
    )
    assert graphics.raw.line == 4
    assert memory.detail == (
        "recipient: guest; action: inject; flags:; action required: 0; recursive: 0"
    )
    assert {tunable.state, graphics.state, memory.state} == {"other"}


def test_a_multi_line_event_waits_for_the_next_line_or_close() -> None:
    parser = LibvirtEventsParser(ParseContext(host_id="hv-01", clock=lambda: NOW))
    lines = list(raw_lines("virsh.log", [f"{TS}: event 'job-completed' for domain 'vm-1':"]))
    assert list(parser.feed(lines[0])) == []
    (event,) = list(parser.close())
    assert isinstance(event, VmLifecycle)
    assert event.event_type == "job-completed"
    assert event.detail is None
    assert list(parser.close()) == []


def test_continuation_lines_are_part_of_the_id() -> None:
    head = f"{TS}: event 'tunable' for domain 'vm-1':"
    (one,) = events(parse([head, "\tcputune.vcpu_quota: -1"]))
    (two,) = events(parse([head, "\tcputune.vcpu_quota: 1000"]))
    assert one.id != two.id


def test_a_line_unlike_a_continuation_ends_a_pending_event() -> None:
    lines = [f"{TS}: event 'tunable' for domain 'vm-1':", "\tcpu_shares: 1024", "12345 garbage"]
    results = parse(lines)
    assert isinstance(results[0], VmLifecycle)
    assert results[0].detail == "cpu_shares: 1024"
    assert isinstance(results[1], RecordError)
    assert (results[1].line, results[1].raw) == (3, "12345 garbage")


def test_virsh_trailer_lines_are_skipped() -> None:
    lines = [
        f"{TS}: event 'reboot' for domain 'vm-1'",
        "event loop interrupted",
        "events received: 1",
    ]
    assert len(events(parse(lines))) == 1


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            "event 'lifecycle' for domain 'vm-1': Started Booted",
            "event without a timestamp: run `virsh event` with --timestamp",
        ),
        (
            "the quick brown fox",
            "not a virsh event line: expected `<timestamp>: event '<type>' for domain '<name>'`",
        ),
        (
            "\tcputune.vcpu_quota: -1",
            "not a virsh event line: expected `<timestamp>: event '<type>' for domain '<name>'`",
        ),
        (
            "2026-01-05 10:00:01.120: event 'reboot' for domain 'vm-1'",
            "timestamp has no UTC offset (virsh writes +0000)",
        ),
        (
            "2026-13-05 10:00:01.120+0000: event 'reboot' for domain 'vm-1'",
            "invalid timestamp: month must be in 1..12",
        ),
        (
            f"{TS}: something else happened",
            "unrecognised text after the timestamp: expected `event '<type>' for domain`",
        ),
        (
            f"{TS}: event 'lifecycle' for domain 'vm-1'",
            "lifecycle event without its state words",
        ),
    ],
)
def test_bad_lines_are_specific_errors(line: str, reason: str) -> None:
    good = f"{TS}: event 'reboot' for domain 'vm-1'"
    results = parse([good, line, good.replace("vm-1", "vm-2")])
    (error,) = errors(results)
    assert (error.line, error.reason, error.raw) == (2, reason, line)
    assert error.format == "libvirt-events"
    assert [r.vm_name for r in results if isinstance(r, VmLifecycle)] == ["vm-1", "vm-2"]


def test_an_unstamped_event_line_ends_a_pending_multi_line_event() -> None:
    lines = [
        f"{TS}: event 'tunable' for domain 'vm-1':",
        "\tcputune.vcpu_quota: -1",
        "event 'reboot' for domain 'vm-1'",
    ]
    results = parse(lines)
    assert isinstance(results[0], VmLifecycle)
    assert results[0].detail == "cputune.vcpu_quota: -1"
    assert isinstance(results[1], RecordError)
    assert results[1].line == 3


# --- robustness -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=8))
def test_random_text_never_raises(lines: list[str]) -> None:
    check_results(parse(lines), VmLifecycle, fed=len(lines))


FRAGMENTS = st.sampled_from(
    ["", "'", ":", ": ", "\t", "+0000", "Z", "event ", "lifecycle", "tunable", "99", "-", " "]
)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_sample_lines_never_raise(samples: Path, data: st.DataObject) -> None:
    lines = []
    for line in data.draw(st.lists(st.sampled_from(sample_lines(samples)), min_size=1, max_size=6)):
        start = data.draw(st.integers(0, len(line)))
        end = data.draw(st.integers(start, len(line)))
        lines.append(line[:start] + data.draw(FRAGMENTS | st.text(max_size=8)) + line[end:])
    check_results(parse(lines), VmLifecycle, fed=len(lines))
