"""`fenghuo evaluate`: the contract's matching rule on hand-built alerts and labels."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fenghuo.evaluate import (
    EvaluationError,
    ScoredAlert,
    evaluate,
    format_report,
    matches,
    read_alerts,
    run_evaluate,
)
from fenghuo.model.alert import Alert, Severity, encode_alert
from fenghuo.simulate.cli import evaluate as evaluate_command
from fenghuo.simulate.labels import AttackLabel, LabelsError, decode_labels, encode_labels

T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)

ATTACK = AttackLabel(
    id="a1",
    kind="vm_escape",
    tenant_id="globex",
    actor_tenant_id="acme",
    host_id="hv-01",
    vm_id="acme-web-1",
    start=T0,
    end=T0 + 240 * S,
    expected_detectors=("vmm-child-process",),
)
CLOUD = AttackLabel(
    id="a2",
    kind="cross_tenant_sharing",
    tenant_id="initech",
    actor_tenant_id=None,
    host_id=None,
    vm_id=None,
    start=T0 + 3600 * S,
    end=T0 + 3600 * S,
)


def alert(
    first: dt.datetime,
    last: dt.datetime | None = None,
    *,
    tenant: str | None = "acme",
    actor: str | None = None,
    host: str | None = "hv-01",
    severity: Severity = Severity.HIGH,
    detector: str = "vmm-child-process",
    alert_id: str = "x",
) -> ScoredAlert:
    return ScoredAlert(
        id=alert_id,
        detector=detector,
        severity=severity,
        tenant_id=tenant,
        actor_tenant_id=actor,
        host_id=host,
        first_seen=first,
        last_seen=last or first,
    )


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (T0 - 60 * S, None, True),  # exactly start - 60 s
        (T0 - 61 * S, None, False),
        (T0 + 540 * S, None, True),  # exactly end + 300 s
        (T0 + 541 * S, None, False),
        (T0 - 3600 * S, T0 - 60 * S, True),  # a long alert ending on the boundary
        (T0 - 3600 * S, T0 - 61 * S, False),
        (T0 - 3600 * S, T0 + 3600 * S, True),  # an alert spanning the whole window
    ],
)
def test_time_window_boundaries(
    first: dt.datetime, last: dt.datetime | None, expected: bool
) -> None:
    assert matches(alert(first, last), ATTACK) is expected


@pytest.mark.parametrize(
    ("tenant", "actor", "expected"),
    [
        ("globex", None, True),  # the victim as tenant
        ("acme", None, True),  # the actor as tenant
        (None, "acme", True),  # the actor as actor
        ("umbrella", "globex", True),  # the victim as actor
        ("umbrella", None, False),
        (None, None, False),
    ],
)
def test_tenant_either_way(tenant: str | None, actor: str | None, expected: bool) -> None:
    assert matches(alert(T0, tenant=tenant, actor=actor), ATTACK) is expected


@pytest.mark.parametrize(("host", "expected"), [("hv-01", True), (None, True), ("hv-02", False)])
def test_host_same_or_null(host: str | None, expected: bool) -> None:
    assert matches(alert(T0, host=host), ATTACK) is expected


def test_attack_without_host_matches_any_host() -> None:
    assert matches(alert(CLOUD.start, tenant="initech", host="hv-07"), CLOUD)


def test_low_severity_neither_detects_nor_counts_as_false_positive() -> None:
    low = alert(T0, severity=Severity.LOW, alert_id="low")
    stray_low = alert(T0 + 7200 * S, severity=Severity.INFO, alert_id="stray")
    report = evaluate([low, stray_low], [ATTACK])
    assert report.recall == 0.0
    assert report.missed == [ATTACK]
    assert report.low_matches["a1"] == ["low"]
    assert report.false_positives == 0
    assert report.precision is None  # no alert of medium or above


def test_recall_precision_and_false_positives() -> None:
    alerts = [
        alert(T0 + 10 * S, alert_id="hit", severity=Severity.MEDIUM),
        alert(T0 + 20 * S, alert_id="hit2", detector="host-tampering", severity=Severity.CRITICAL),
        alert(T0 + 7200 * S, alert_id="fp1"),  # matches nothing in time
        alert(T0, tenant="hooli", alert_id="fp2"),  # wrong tenant
        alert(T0, host="hv-09", alert_id="fp3", detector="host-tampering"),  # wrong host
    ]
    report = evaluate(alerts, [ATTACK, CLOUD], input_events=2_000_000)
    assert report.recall == 0.5
    assert report.detections == {"a1": ["hit", "hit2"], "a2": []}
    assert [a.id for a in report.missed] == ["a2"]
    assert report.counted_alerts == 5
    assert report.matching_alerts == 2
    assert report.precision == pytest.approx(0.4)
    assert [a.id for a in report.false_positive_alerts] == ["fp1", "fp2", "fp3"]
    assert report.fp_per_million == pytest.approx(1.5)
    assert report.detected_as_intended == 1  # a1 by vmm-child-process; a2 names no detector
    by_kind = {k.kind: (k.attacks, k.detected) for k in report.per_kind}
    assert by_kind == {"cross_tenant_sharing": (1, 0), "vm_escape": (1, 1)}
    by_detector = {
        d.detector: (d.alerts, d.matching, d.false_positives) for d in report.per_detector
    }
    assert by_detector == {"host-tampering": (2, 1, 1), "vmm-child-process": (3, 1, 2)}
    text = format_report(report)
    assert "recall 50.0%" in text
    assert "precision 40.0%" in text
    assert "fp3" in text
    document = report.to_dict()
    assert document["false_positives"] == 3
    assert document["missed"][0]["id"] == "a2"


def test_no_alerts_no_attacks() -> None:
    report = evaluate([], [])
    assert report.recall is None
    assert report.precision is None
    assert report.fp_per_million is None
    assert "n/a" in format_report(report)


def _full_alert(alert_id: str, severity: Severity, first: dt.datetime, last: dt.datetime) -> Alert:
    return Alert(
        id=alert_id,
        detector="vmm-child-process",
        title="t",
        summary="s",
        severity=severity,
        confidence=0.9,
        technique="T1611",
        category="c",
        tenant_id="acme",
        host_id="hv-01",
        first_seen=first,
        last_seen=last,
        detected_at=last,
    )


def test_files_and_versions_of_one_alert_are_folded(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    versions = [
        _full_alert("same", Severity.LOW, T0 - 900 * S, T0 - 800 * S),
        _full_alert("same", Severity.HIGH, T0 - 700 * S, T0 - 65 * S),
    ]
    alerts.write_bytes(b"\n".join(encode_alert(a) for a in versions) + b"\n\n")
    (folded,) = read_alerts(alerts)
    assert folded.severity is Severity.HIGH
    assert (folded.first_seen, folded.last_seen) == (T0 - 900 * S, T0 - 65 * S)
    labels = tmp_path / "labels.json"
    labels.write_text(encode_labels([ATTACK]))
    (tmp_path / "manifest.json").write_text(json.dumps([{"events": 750_000}, {"events": 250_000}]))
    report = run_evaluate(alerts, labels)
    assert report.input_events == 1_000_000  # from the manifest beside the labels
    assert report.false_positives == 1
    assert report.fp_per_million == 1.0
    assert run_evaluate(alerts, labels, events=10).input_events == 10


def test_bad_inputs_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "alerts.jsonl"
    bad.write_text('{"id": "x"}\n')
    with pytest.raises(EvaluationError, match=":1: not an alert"):
        read_alerts(bad)
    with pytest.raises(LabelsError, match="duplicate"):
        decode_labels(encode_labels([ATTACK, ATTACK]))
    backwards = AttackLabel(id="b", kind="k", tenant_id="t", start=T0, end=T0 - S)
    with pytest.raises(LabelsError, match="before start"):
        decode_labels(encode_labels([backwards]))
    with pytest.raises(LabelsError, match="not a valid labels file"):
        decode_labels('{"attacks": [{"id": "a"}]}')


def test_cli_text_and_json(tmp_path: Path) -> None:
    alerts, labels = tmp_path / "alerts.jsonl", tmp_path / "labels.json"
    alerts.write_bytes(encode_alert(_full_alert("hit", Severity.CRITICAL, T0, T0)) + b"\n")
    labels.write_text(encode_labels([ATTACK, CLOUD]))
    runner = CliRunner()
    text = runner.invoke(evaluate_command, ["--alerts", str(alerts), "--labels", str(labels)])
    assert text.exit_code == 0, text.output
    assert "recall 50.0%" in text.output
    assert "a2 cross_tenant_sharing" in text.output
    result = runner.invoke(
        evaluate_command,
        ["--alerts", str(alerts), "--labels", str(labels), "--events", "1000", "--json"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["recall"] == 0.5
    assert document["precision"] == 1.0
    assert document["input_events"] == 1000
    assert document["false_positives"] == 0
