"""`fenghuo evaluate`: score alerts against labelled attacks (CONTRACTS.md "Labels and scoring").

An alert matches an attack when
- its `[first_seen, last_seen]` overlaps `[start - 60 s, end + 300 s]`,
- it names the attack's `tenant_id` or `actor_tenant_id` (as its `tenant_id` or
  `actor_tenant_id`), and
- where the attack gives a `host_id`, the alert has the same `host_id` or none.

Recall is the share of attacks with at least one matching alert of severity medium or above.
Precision is matching alerts of medium or above over all alerts of medium or above; a false
positive is an alert of medium or above that matches no attack, also reported per million input
events. Alerts below medium neither detect an attack nor count as false positives.

Several versions of one alert (an update stream) are folded by id first: the widest time range
and the highest severity.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import msgspec

from fenghuo.errors import ConfigError
from fenghuo.model.alert import Severity
from fenghuo.simulate.labels import AttackLabel, load_labels

BEFORE = dt.timedelta(seconds=60)
AFTER = dt.timedelta(seconds=300)
COUNTED = Severity.MEDIUM

UtcDatetime = Annotated[dt.datetime, msgspec.Meta(tz=True)]


class EvaluationError(ConfigError):
    """The alerts or the input counts cannot be read."""


class ScoredAlert(msgspec.Struct, frozen=True, kw_only=True):
    """The fields of an alert (CONTRACTS.md "Alert") that scoring reads; the rest is ignored."""

    id: str
    detector: str = ""
    summary: str = ""
    severity: Severity
    tenant_id: str | None = None
    actor_tenant_id: str | None = None
    host_id: str | None = None
    vm_id: str | None = None
    first_seen: UtcDatetime
    last_seen: UtcDatetime

    @property
    def counted(self) -> bool:
        return self.severity.at_least(COUNTED)


def matches(alert: ScoredAlert, attack: AttackLabel) -> bool:
    """The contract's matching rule (module docstring)."""
    if alert.first_seen > attack.end + AFTER or alert.last_seen < attack.start - BEFORE:
        return False
    named = {alert.tenant_id, alert.actor_tenant_id} - {None}
    if not named & ({attack.tenant_id, attack.actor_tenant_id} - {None}):
        return False
    return attack.host_id is None or alert.host_id is None or alert.host_id == attack.host_id


def _fold(alerts: Iterable[ScoredAlert]) -> list[ScoredAlert]:
    final: dict[str, ScoredAlert] = {}
    for alert in alerts:
        known = final.get(alert.id)
        if known is None:
            final[alert.id] = alert
            continue
        lead = alert if alert.severity.rank > known.severity.rank else known
        final[alert.id] = msgspec.structs.replace(
            lead,
            first_seen=min(known.first_seen, alert.first_seen),
            last_seen=max(known.last_seen, alert.last_seen),
        )
    return sorted(final.values(), key=lambda a: (a.first_seen, a.id))


def read_alerts(path: Path) -> list[ScoredAlert]:
    """Alerts as JSON lines (what `fenghuo replay --out` writes); blank lines are skipped."""
    decoder = msgspec.json.Decoder(ScoredAlert)
    alerts = []
    try:
        handle = path.open("rb")
    except OSError as exc:
        msg = f"cannot read alerts {path}: {exc.strerror or exc}"
        raise EvaluationError(msg) from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                alerts.append(decoder.decode(line))
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                msg = f"{path}:{number}: not an alert: {exc}"
                raise EvaluationError(msg) from None
    return _fold(alerts)


@dataclass
class KindScore:
    kind: str
    attacks: int = 0
    detected: int = 0
    detected_as_intended: int = 0  # by one of the label's expected detectors

    @property
    def recall(self) -> float | None:
        return self.detected / self.attacks if self.attacks else None


@dataclass
class DetectorScore:
    detector: str
    alerts: int = 0  # of medium or above
    matching: int = 0
    false_positives: int = 0


@dataclass
class EvaluationReport:
    attacks: list[AttackLabel]
    alerts: int  # every alert read (after folding versions)
    counted_alerts: int  # of medium or above
    matching_alerts: int  # of medium or above, matching at least one attack
    input_events: int | None
    detections: dict[str, list[str]]  # attack id -> matching alert ids (medium or above)
    low_matches: dict[str, list[str]]  # attack id -> matching alert ids below medium
    false_positive_alerts: list[ScoredAlert]
    per_kind: list[KindScore]
    per_detector: list[DetectorScore] = field(default_factory=list)
    detectors_of: dict[str, str] = field(default_factory=dict)  # alert id -> detector

    def intended(self, attack: AttackLabel) -> bool:
        """Detected by one of the detectors the label expects (when it names any)."""
        expected = set(attack.expected_detectors)
        return any(self.detectors_of.get(a) in expected for a in self.detections[attack.id])

    @property
    def detected_as_intended(self) -> int | None:
        """Attacks caught by an expected detector, among the labels that name one."""
        named = [a for a in self.attacks if a.expected_detectors]
        return sum(self.intended(a) for a in named) if named else None

    @property
    def detected(self) -> int:
        return sum(1 for attack in self.attacks if self.detections[attack.id])

    @property
    def missed(self) -> list[AttackLabel]:
        return [attack for attack in self.attacks if not self.detections[attack.id]]

    @property
    def false_positives(self) -> int:
        return len(self.false_positive_alerts)

    @property
    def recall(self) -> float | None:
        return self.detected / len(self.attacks) if self.attacks else None

    @property
    def precision(self) -> float | None:
        return self.matching_alerts / self.counted_alerts if self.counted_alerts else None

    @property
    def fp_per_million(self) -> float | None:
        if not self.input_events:
            return None
        return self.false_positives * 1_000_000 / self.input_events

    def to_dict(self) -> dict[str, Any]:
        return {
            "attacks": len(self.attacks),
            "detected": self.detected,
            "recall": self.recall,
            "detected_by_expected_detector": self.detected_as_intended,
            "alerts": self.alerts,
            "alerts_medium_or_above": self.counted_alerts,
            "matching_alerts": self.matching_alerts,
            "precision": self.precision,
            "false_positives": self.false_positives,
            "input_events": self.input_events,
            "false_positives_per_million_events": self.fp_per_million,
            "per_kind": [
                {
                    "kind": k.kind,
                    "attacks": k.attacks,
                    "detected": k.detected,
                    "recall": k.recall,
                    "detected_by_expected_detector": k.detected_as_intended,
                }
                for k in self.per_kind
            ],
            "per_detector": [
                {
                    "detector": d.detector,
                    "alerts": d.alerts,
                    "matching": d.matching,
                    "false_positives": d.false_positives,
                }
                for d in self.per_detector
            ],
            "detections": {
                attack: [{"alert": a, "detector": self.detectors_of.get(a)} for a in ids]
                for attack, ids in self.detections.items()
            },
            "missed": [
                {**msgspec.to_builtins(a), "low_severity_matches": self.low_matches[a.id]}
                for a in self.missed
            ],
            "false_positive_alerts": [msgspec.to_builtins(a) for a in self.false_positive_alerts],
        }


def evaluate(
    alerts: Sequence[ScoredAlert], attacks: Sequence[AttackLabel], input_events: int | None = None
) -> EvaluationReport:
    counted = [a for a in alerts if a.counted]
    detections: dict[str, list[str]] = {attack.id: [] for attack in attacks}
    low: dict[str, list[str]] = {attack.id: [] for attack in attacks}
    false_positives = []
    matching = 0
    detectors: dict[str, DetectorScore] = {}
    for alert in alerts:
        hits = [attack.id for attack in attacks if matches(alert, attack)]
        for attack_id in hits:
            (detections if alert.counted else low)[attack_id].append(alert.id)
        if not alert.counted:
            continue
        score = detectors.setdefault(alert.detector, DetectorScore(alert.detector))
        score.alerts += 1
        if hits:
            matching += 1
            score.matching += 1
        else:
            score.false_positives += 1
            false_positives.append(alert)
    detectors_of = {alert.id: alert.detector for alert in alerts}
    kinds: dict[str, KindScore] = {}
    for attack in attacks:
        kind = kinds.setdefault(attack.kind, KindScore(attack.kind))
        kind.attacks += 1
        kind.detected += bool(detections[attack.id])
        expected = set(attack.expected_detectors)
        kind.detected_as_intended += any(detectors_of[a] in expected for a in detections[attack.id])
    return EvaluationReport(
        attacks=list(attacks),
        alerts=len(alerts),
        counted_alerts=len(counted),
        matching_alerts=matching,
        input_events=input_events,
        detections=detections,
        low_matches=low,
        false_positive_alerts=false_positives,
        per_kind=sorted(kinds.values(), key=lambda k: k.kind),
        per_detector=sorted(detectors.values(), key=lambda d: d.detector),
        detectors_of=detectors_of,
    )


def _manifest_events(path: Path) -> int:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return sum(int(entry.get("events", 0)) for entry in entries)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        msg = f"cannot read the input event count from {path}: {exc}"
        raise EvaluationError(msg) from None


def run_evaluate(
    alerts_path: Path,
    labels_path: Path,
    *,
    events: int | None = None,
    manifest_path: Path | None = None,
) -> EvaluationReport:
    """Score an alerts file against a labels file. The input event count (for false positives
    per million) is `events`, else the sum over `manifest_path` (default: the `manifest.json`
    beside the labels, when there is one), else unknown."""
    attacks = load_labels(labels_path)
    alerts = read_alerts(alerts_path)
    if events is None:
        manifest = manifest_path or labels_path.parent / "manifest.json"
        if manifest_path is not None or manifest.is_file():
            events = _manifest_events(manifest)
    return evaluate(alerts, attacks, events)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def format_report(report: EvaluationReport) -> str:
    """The report as text, for a terminal."""
    fp_rate = report.fp_per_million
    intended = report.detected_as_intended
    lines = [
        f"attacks {len(report.attacks)}, detected {report.detected}: "
        f"recall {_percent(report.recall)}"
        + (f" ({intended} by the detector meant for them)" if intended is not None else ""),
        f"alerts {report.alerts} ({report.counted_alerts} medium or above, "
        f"{report.matching_alerts} matching): precision {_percent(report.precision)}",
        f"false positives {report.false_positives}"
        + (
            f" ({fp_rate:.2f} per million of {report.input_events} input events)"
            if fp_rate is not None
            else " (input event count unknown)"
        ),
        "",
        "per attack kind:",
    ]
    for kind in report.per_kind:
        lines.append(
            f"  {kind.kind:<24} {kind.detected}/{kind.attacks}  {_percent(kind.recall):>6}"
            f"  (by the intended detector: {kind.detected_as_intended})"
        )
    lines += ["", "attacks:"]
    for a in report.attacks:
        found = sorted({report.detectors_of[i] for i in report.detections[a.id]})
        lines.append(
            f"  {a.id} {a.kind}/{a.variant or '-'} victim {a.tenant_id} "
            f"actor {a.actor_tenant_id or '-'}: {', '.join(found) or 'MISSED'}"
        )
    if report.per_detector:
        lines += ["", "per detector (alerts of medium or above):"]
        for d in report.per_detector:
            lines.append(
                f"  {d.detector:<28} {d.alerts} alerts, {d.matching} matching, "
                f"{d.false_positives} false positives"
            )
    if report.missed:
        lines += ["", "missed attacks:"]
        for a in report.missed:
            low = report.low_matches[a.id]
            note = f" (only low-severity alerts: {len(low)})" if low else ""
            lines.append(
                f"  {a.id} {a.kind} victim {a.tenant_id} actor {a.actor_tenant_id or '-'} "
                f"host {a.host_id or '-'} {a.start:%H:%M:%S}-{a.end:%H:%M:%S}{note}"
            )
    if report.false_positive_alerts:
        lines += ["", "false positives:"]
        for fp in report.false_positive_alerts:
            lines.append(
                f"  {fp.id} {fp.detector} {fp.severity} tenant {fp.tenant_id or '-'} "
                f"host {fp.host_id or '-'} {fp.first_seen:%H:%M:%S}: {fp.summary}"
            )
    return "\n".join(lines)
