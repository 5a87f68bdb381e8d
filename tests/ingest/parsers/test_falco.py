"""Falco JSON alert parser: sample, field mapping, bad alerts, robustness, determinism."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fenghuo.ingest.parsers import ParseContext, ParseResult
from fenghuo.ingest.parsers.falco import FalcoParser
from fenghuo.model import ContainerAlert, Process
from tests.ingest.parsers.helpers import NOW, check_results, errors, only, run


def parse(lines: list[str], host_id: str | None = "hv-ctx") -> list[ParseResult]:
    return run(FalcoParser(ParseContext(host_id=host_id, clock=lambda: NOW)), lines, "alerts.jsonl")


def alerts(results: list[ParseResult]) -> list[ContainerAlert]:
    return only(results, ContainerAlert)


def sample_lines(samples: Path) -> list[str]:
    return (samples / "falco" / "alerts.jsonl").read_text().splitlines()


def alert_line(**overrides: Any) -> str:
    alert: dict[str, Any] = {
        "hostname": "hv-03",
        "output": "12:00:00.000000000: Warning something",
        "output_fields": {"container.id": "abcdef123456", "proc.name": "nc"},
        "priority": "Warning",
        "rule": "Test rule",
        "source": "syscall",
        "tags": ["test"],
        "time": "2026-01-05T12:00:00.000000000Z",
    }
    for key, value in overrides.items():
        if value is None:
            alert.pop(key, None)
        else:
            alert[key] = value
    return json.dumps(alert)


def test_sample(samples: Path) -> None:
    escape, shell = alerts(parse(sample_lines(samples)))

    assert escape.rule == "Detect release_agent File Container Escapes"
    assert escape.priority == "Critical"
    assert escape.rule_source == "syscall"
    assert escape.tags == ("T1611", "container", "maturity_stable", "mitre_privilege_escalation",
                           "process")  # fmt: skip
    assert escape.host_id == "hv-02"
    assert escape.container_id == "3f2a1b4c5d6e"
    assert escape.container_name == "web"
    assert escape.image is None
    assert escape.event_time == dt.datetime(2026, 1, 5, 10, 42, 10, 123456, tzinfo=dt.UTC)
    assert escape.ingest_time == NOW
    assert escape.file_path == "/tmp/cgrp/release_agent"
    assert escape.syscall == "openat"
    assert escape.user_name == "root"
    assert escape.process == Process(
        exe="/bin/busybox",
        comm="sh",
        argv=("sh", "-c", "echo", "/cmd", ">", "/tmp/cgrp/release_agent"),
        uid=0,
    )
    assert escape.fields["evt.time"] == 1767609730123456789
    assert escape.output.startswith("10:42:10.123456789: Critical")
    assert (escape.raw.source, escape.raw.line) == ("alerts.jsonl", 1)
    assert escape.source_format == "falco"

    assert shell.rule == "Terminal shell in container"
    assert shell.priority == "Notice"
    assert shell.container_id == "3f2a1b4c5d6e"
    assert shell.host_id == "hv-02"
    assert shell.process == Process(comm="bash", argv=("bash",))
    assert shell.file_path is None
    assert shell.syscall is None
    assert shell.event_time == dt.datetime(2026, 1, 5, 10, 43, 1, tzinfo=dt.UTC)


def test_sample_is_deterministic(samples: Path) -> None:
    first = alerts(parse(sample_lines(samples)))
    again = alerts(parse(sample_lines(samples), host_id=None))  # hostname given: context unused
    assert first == again
    assert first[0].id != first[1].id


def test_host_container_means_no_container() -> None:
    fields = {
        "container.id": "host",
        "container.name": "host",
        "container.image.digest": "<NA>",
        "k8s.ns.name": "kube-system",
        "k8s.pod.name": "kube-proxy-x",
        "proc.name": "insmod",
    }
    (alert,) = alerts(parse([alert_line(output_fields=fields)]))
    assert (alert.container_id, alert.container_name, alert.image) == (None, None, None)
    assert (alert.image_digest, alert.k8s_namespace, alert.k8s_pod) == (None, None, None)
    assert alert.fields["container.id"] == "host"


def test_image_digest_and_kubernetes_fields() -> None:
    digest = "sha256:" + "ab" * 32
    fields = {
        "container.id": "abcdef123456",
        "container.image.repository": "registry.example/acme/web",
        "container.image.digest": digest,
        "k8s.ns.name": "acme-prod",
        "k8s.pod.name": "web-7d9f8-x2x4k",
    }
    (alert,) = alerts(parse([alert_line(output_fields=fields)]))
    assert (alert.image, alert.image_digest) == ("registry.example/acme/web", digest)
    assert (alert.k8s_namespace, alert.k8s_pod) == ("acme-prod", "web-7d9f8-x2x4k")
    bare = {"container.id": "abcdef123456", "k8s.ns.name": "<NA>", "k8s.pod.name": 7}
    (alert,) = alerts(parse([alert_line(output_fields=bare)]))
    assert (alert.image_digest, alert.k8s_namespace, alert.k8s_pod) == (None, None, None)


def test_hostname_missing_falls_back_to_the_context() -> None:
    (alert,) = alerts(parse([alert_line(hostname=None)]))
    assert alert.host_id == "hv-ctx"
    (alert,) = alerts(parse([alert_line(hostname="")], host_id=None))
    assert alert.host_id is None


def test_full_process_and_image_fields() -> None:
    fields = {
        "container.id": "abcdef123456",
        "container.image.repository": "registry.example/acme/web",
        "container.image.tag": "1.4",
        "proc.pid": 4242,
        "proc.ppid": "4200",
        "proc.exe": "nc",
        "proc.name": "nc",
        "proc.cmdline": "nc -lvp 4444",
        "proc.pexepath": "/usr/bin/bash",
        "user.uid": 1000,
        "user.loginuid": -1,
        "fd.type": "ipv4",
        "fd.name": "10.0.0.5:4444->10.0.0.9:51000",
        "evt.type": "accept",
    }
    (alert,) = alerts(parse([alert_line(output_fields=fields)]))
    assert alert.image == "registry.example/acme/web:1.4"
    assert alert.process == Process(
        pid=4242,
        ppid=4200,
        exe="nc",
        comm="nc",
        argv=("nc", "-lvp", "4444"),
        uid=1000,
        auid=-1,
        parent_exe="/usr/bin/bash",
    )
    assert alert.file_path is None  # a socket's fd.name is not a path
    assert alert.syscall == "accept"


def test_image_without_repository_and_unavailable_values() -> None:
    fields = {"container.id": "abc", "container.image": "nginx:1.27", "proc.name": "<NA>"}
    (alert,) = alerts(parse([alert_line(output_fields=fields)]))
    assert alert.image == "nginx:1.27"
    assert alert.process is None


def test_time_falls_back_to_integer_evt_time() -> None:
    line = alert_line(time=None, output_fields={"evt.time": 1767609730123456789})
    (alert,) = alerts(parse([line]))
    assert alert.event_time == dt.datetime(2026, 1, 5, 10, 42, 10, 123456, tzinfo=dt.UTC)


def test_offsets_are_converted_to_utc() -> None:
    (alert,) = alerts(parse([alert_line(time="2026-01-05T20:00:00.5+08:00")]))
    assert alert.event_time == dt.datetime(2026, 1, 5, 12, 0, 0, 500_000, tzinfo=dt.UTC)


def test_optional_envelope_keys() -> None:
    (alert,) = alerts(parse([alert_line(tags=None, source=None, output_fields=None, output=None)]))
    assert (alert.tags, alert.rule_source, alert.fields, alert.output) == ((), None, {}, "")
    assert alert.process is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("Falco initialized with configuration file", "invalid Falco alert: JSON is malformed"),
        ('{"rule": "x"', "invalid Falco alert: Input data was truncated"),
        ("[1, 2]", "invalid Falco alert: Expected `object`, got `array`"),
        (alert_line(rule=None), "invalid Falco alert: Object missing required field `rule`"),
        (
            alert_line(priority=None),
            "invalid Falco alert: Object missing required field `priority`",
        ),
        (alert_line(rule=7), "invalid Falco alert: Expected `str`, got `int` - at `$.rule`"),
        (
            alert_line(tags="T1611"),
            "invalid Falco alert: Expected `array | null`, got `str` - at `$.tags`",
        ),
        (alert_line(rule="  "), "rule is empty"),
        (alert_line(priority=""), "priority is empty"),
        (
            alert_line(time=None),
            "missing time: neither `time` nor an integer output_fields `evt.time` is present",
        ),
        (
            alert_line(time=None, output_fields={"evt.time": "10:42:10.123456789"}),
            "missing time: neither `time` nor an integer output_fields `evt.time` is present",
        ),
        (alert_line(time="yesterday"), "time is not an RFC 3339 timestamp: 'yesterday'"),
        (alert_line(time="2026-01-05T12:00:00"), "time has no UTC offset: '2026-01-05T12:00:00'"),
    ],
)
def test_bad_alerts_are_specific_errors(line: str, reason: str) -> None:
    results = parse([alert_line(), line, alert_line(rule="Another")])
    (error,) = errors(results)
    assert error.reason.startswith(reason)
    assert (error.line, error.raw, error.format) == (2, line, "falco")
    assert [r.rule for r in results if isinstance(r, ContainerAlert)] == ["Test rule", "Another"]


def test_blank_lines_yield_nothing() -> None:
    assert parse(["", "   "]) == []


# --- robustness -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=8))
def test_random_text_never_raises(lines: list[str]) -> None:
    check_results(parse(lines), ContainerAlert, fed=len(lines))


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
KEYS = st.sampled_from(
    ["rule", "priority", "time", "hostname", "output", "source", "tags", "output_fields"]
)
FIELD_KEYS = st.sampled_from(
    ["container.id", "container.name", "container.image.repository", "container.image.tag",
     "container.image", "proc.pid", "proc.ppid", "proc.exepath", "proc.exe", "proc.name",
     "proc.cmdline", "proc.pexepath", "user.uid", "user.loginuid", "user.name", "fd.name",
     "fd.type", "fs.path.name", "evt.type", "evt.time", "evt.rawtime", "container.image.digest",
     "k8s.ns.name", "k8s.pod.name"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_sample_alerts_never_raise(samples: Path, data: st.DataObject) -> None:
    lines = []
    for line in data.draw(st.lists(st.sampled_from(sample_lines(samples)), min_size=1, max_size=4)):
        alert = json.loads(line)
        for _ in range(data.draw(st.integers(0, 3))):
            if data.draw(st.booleans()):
                alert[data.draw(KEYS)] = data.draw(JSON_VALUES)
            else:
                fields = alert.get("output_fields")
                if isinstance(fields, dict):
                    fields[data.draw(FIELD_KEYS)] = data.draw(JSON_VALUES)
        text = json.dumps(alert)
        if data.draw(st.booleans()):  # and sometimes damage the text itself
            cut = data.draw(st.integers(0, len(text)))
            text = text[:cut] + data.draw(st.text(max_size=4)) + text[cut + 1 :]
        lines.append(text)
    check_results(parse(lines), ContainerAlert, fed=len(lines))
