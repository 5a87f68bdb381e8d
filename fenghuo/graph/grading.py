"""GB/T 20986-2023 grade and reporting duty of an incident, by the rules in `grading.yaml`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import msgspec
import yaml

from fenghuo.errors import ConfigError
from fenghuo.model.alert import Severity
from fenghuo.model.incident import Grade, Reporting

_GRADE_ORDER = {Grade.IV: 0, Grade.III: 1, Grade.II: 2, Grade.I: 3}


class GradingError(ConfigError):
    """A grading file that cannot be used."""


class Conditions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    min_severity: Severity | None = None
    critical_infrastructure: bool | None = None
    state_organ: bool | None = None
    cross_tenant: bool | None = None
    sequences_any: tuple[str, ...] = ()
    min_blast_tenants: int | None = None
    min_grade: Grade | None = None


class GradeRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    grade: Grade
    source: str
    when: Conditions = Conditions()


class ReportingRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    deadline_minutes: int
    source: str
    when: Conditions = Conditions()


class GradingPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    grades: tuple[GradeRule, ...]
    reporting: tuple[ReportingRule, ...] = ()


@dataclass(frozen=True)
class Facts:
    """What the rules can ask about an incident."""

    severity: Severity
    critical_infrastructure: bool
    cross_tenant: bool
    blast_tenants: int
    sequences: frozenset[str] = field(default_factory=frozenset)
    # An affected or exposed tenant is a state organ (inventory `state_organ: true`): the
    # national reporting rules give it a shorter deadline. Last, with a default, so existing
    # positional constructions keep their meaning.
    state_organ: bool = False


def _holds(when: Conditions, facts: Facts, grade: Grade | None = None) -> bool:
    if when.min_severity is not None and not facts.severity.at_least(when.min_severity):
        return False
    if (
        when.critical_infrastructure is not None
        and facts.critical_infrastructure != when.critical_infrastructure
    ):
        return False
    if when.state_organ is not None and facts.state_organ != when.state_organ:
        return False
    if when.cross_tenant is not None and facts.cross_tenant != when.cross_tenant:
        return False
    if when.sequences_any and not facts.sequences & set(when.sequences_any):
        return False
    if when.min_blast_tenants is not None and facts.blast_tenants < when.min_blast_tenants:
        return False
    return when.min_grade is None or (
        grade is not None and _GRADE_ORDER[grade] >= _GRADE_ORDER[when.min_grade]
    )


def grade(policy: GradingPolicy, facts: Facts) -> tuple[Grade, str]:
    """The grade of the first rule that holds, and its basis (`rule id: source`)."""
    for rule in policy.grades:
        if _holds(rule.when, facts):
            return rule.grade, f"{rule.id}: {rule.source}"
    return Grade.IV, "no grading rule matched"


def reporting(
    policy: GradingPolicy, facts: Facts, incident_grade: Grade, discovered: dt.datetime
) -> Reporting:
    for rule in policy.reporting:
        if _holds(rule.when, facts, incident_grade):
            return Reporting(
                required=True,
                deadline=discovered + dt.timedelta(minutes=rule.deadline_minutes),
                basis=f"{rule.id}: {rule.source}",
            )
    return Reporting(required=False, basis="below 较大 (III): no report required")


def parse_policy(text: str, source: str = "<grading>") -> GradingPolicy:
    try:
        return msgspec.convert(yaml.safe_load(text), GradingPolicy)
    except (yaml.YAMLError, msgspec.ValidationError) as exc:
        msg = f"{source}: not a valid grading policy: {exc}"
        raise GradingError(msg) from None


def load_policy(path: Path | None = None) -> GradingPolicy:
    """The policy in `path`, or the packaged `grading.yaml`."""
    if path is None:
        text = resources.files("fenghuo.graph").joinpath("grading.yaml").read_text("utf-8")
        return parse_policy(text, "fenghuo/graph/grading.yaml")
    return parse_policy(path.read_text("utf-8"), str(path))
