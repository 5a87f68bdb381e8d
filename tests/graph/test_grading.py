"""Grades and reporting duty from grading.yaml."""

from __future__ import annotations

import datetime as dt

import pytest

from fenghuo.graph import correlate, load_policy
from fenghuo.graph.grading import Facts, GradingError, grade, parse_policy, reporting
from fenghuo.model.alert import Severity
from fenghuo.model.incident import Grade
from tests.graph.support import alert, inventory

T = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def facts(severity: Severity, *, cii: bool = False, cross: bool = False, blast: int = 1,
          sequences: frozenset[str] = frozenset()) -> Facts:  # fmt: skip
    return Facts(severity, cii, cross, blast, sequences)


def test_every_rule_names_its_source() -> None:
    policy = load_policy()
    assert [r.grade for r in policy.grades][-1] is Grade.IV  # a catch-all last
    for grade_rule in policy.grades:
        assert "GB/T 20986-2023" in grade_rule.source
    for report_rule in policy.reporting:
        assert "网络安全事件报告管理办法" in report_rule.source


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (facts(Severity.CRITICAL, cii=True, sequences=frozenset({"escape-cross-tenant"})), Grade.I),
        (facts(Severity.CRITICAL, cii=True), Grade.II),
        (facts(Severity.CRITICAL, blast=3, sequences=frozenset({"escape-cross-tenant"})), Grade.II),
        (facts(Severity.CRITICAL), Grade.III),
        (facts(Severity.HIGH, cross=True), Grade.III),
        (facts(Severity.HIGH), Grade.IV),
        (facts(Severity.MEDIUM, cross=True), Grade.IV),
    ],
)
def test_grades(f: Facts, expected: Grade) -> None:
    assert grade(load_policy(), f)[0] is expected


def test_reporting_deadlines_follow_the_2025_measures() -> None:
    policy = load_policy()
    cii = reporting(policy, facts(Severity.CRITICAL, cii=True), Grade.II, T)
    assert cii.required
    assert cii.deadline == T + dt.timedelta(hours=1)
    assert cii.basis.startswith("cii-1h")
    other = reporting(policy, facts(Severity.CRITICAL), Grade.III, T)
    assert other.required
    assert other.deadline == T + dt.timedelta(hours=4)
    minor = reporting(policy, facts(Severity.HIGH), Grade.IV, T)
    assert not minor.required
    assert minor.deadline is None


def test_the_clock_starts_at_the_first_detection() -> None:
    (incident,) = correlate([alert("a", tenant="acme", severity=Severity.CRITICAL)], inventory())
    assert incident.grade is Grade.II
    first_detection = incident.timeline[0].time + dt.timedelta(seconds=5)
    assert incident.reporting.deadline == first_detection + dt.timedelta(hours=1)


def test_a_broken_policy_is_refused() -> None:
    with pytest.raises(GradingError):
        parse_policy("grades: [{id: x, grade: V, source: s}]")
    with pytest.raises(GradingError):
        parse_policy("grades: [{id: x, grade: I, source: s, when: {colour: red}}]")


def test_a_share_to_another_tenant_is_cross_tenant_without_exposing_the_recipient() -> None:
    share = alert("s", "cross-tenant-sharing", tenant="globex", category="03",
                  entities=(("tenant", "acme"), ("resource", "ec2:snapshot:snap-1")))  # fmt: skip
    (incident,) = correlate([share], inventory())
    assert incident.blast_radius.tenants == ("globex",)
    assert incident.grade is Grade.III  # high and cross-tenant; acme (CII) only received it
    assert incident.reporting.basis.startswith("operator-4h")
