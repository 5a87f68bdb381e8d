"""Report drafts from the simulated hour: which incidents get a report and by when (computed here
from the grades and the inventory flags, not by the reporting code), the 1 h / 2 h / 4 h deadlines,
idempotent drafting, analysts' edits kept, the closing report after handling ends, and the state
computed from the clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
import pytest
import yaml

from fenghuo.graph import correlate, load_policy
from fenghuo.graph.grading import Facts, reporting
from fenghuo.intel.reports import ReportKind, ReportQuery, ReportState, report_id, sync_reports
from fenghuo.intel.reports.actions import Actor, SectionEdit, edit_sections, submit
from fenghuo.intel.reports.model import load_config, state_at
from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import load_inventory
from fenghuo.model.alert import Alert, Severity
from fenghuo.model.ids import stable_id
from fenghuo.model.incident import Grade, Incident
from fenghuo.store.base import ActionKind, AnalystAction, Scope
from fenghuo.store.sqlite import SqliteStore
from tests.api.seeded import Hour

REPORTABLE = {Grade.I, Grade.II, Grade.III}
EVERYTHING = Scope.everything()
ANALYST = Actor("analyst-1", "soc_analyst")


def discovered(incident: Incident, alerts: list[Alert]) -> dt.datetime:
    return min(a.detected_at for a in alerts if a.id in incident.alert_ids)


def expected_minutes(incident: Incident, flags: dict[str, dict[str, bool]]) -> int:
    involved = {*incident.tenants, *incident.blast_radius.tenants}
    if any(flags.get(t, {}).get("critical_infrastructure") for t in involved):
        return 60
    if any(flags.get(t, {}).get("state_organ") for t in involved):
        return 120
    return 240


def tenant_flags(path: Path) -> dict[str, dict[str, bool]]:
    data = yaml.safe_load(path.read_text())
    return {
        t["id"]: {
            "critical_infrastructure": bool(t.get("critical_infrastructure")),
            "state_organ": bool(t.get("state_organ")),
        }
        for t in data["tenants"]
    }


def fresh_store(tmp_path: Path, incidents: list[Incident]) -> SqliteStore:
    store = SqliteStore(tmp_path / "fenghuo.db")
    store.incidents.upsert(incidents)
    return store


def check_initial_reports(
    store: SqliteStore, incidents: list[Incident], alerts: list[Alert], inventory_path: Path
) -> set[int]:
    flags = tenant_flags(inventory_path)
    later = max(i.updated_at for i in incidents) + dt.timedelta(days=1)
    reports = store.reports.list(EVERYTHING, ReportQuery(), later)
    reportable = [i for i in incidents if i.grade in REPORTABLE]
    assert reportable, "the hour should have reportable incidents"
    assert {r.incident_id for r in reports} == {i.id for i in reportable}
    minutes_seen = set()
    for incident in reportable:
        (report,) = [r for r in reports if r.incident_id == incident.id]
        minutes = expected_minutes(incident, flags)
        minutes_seen.add(minutes)
        assert report.kind is ReportKind.INITIAL
        assert report.id == report_id(incident.id, ReportKind.INITIAL)
        assert report.due_at == discovered(incident, alerts) + dt.timedelta(minutes=minutes)
        assert report.grade is incident.grade
        assert report.state is ReportState.OVERDUE  # a day later, nothing submitted
        keys = [s.key for s in report.sections]
        assert keys[:2] == ["reporting_unit", "affected_system"]
        assert [s.first for s in report.sections[:3]] == [True, True, False]
        assert ("escalation" in keys) == (incident.grade in {Grade.I, Grade.II})
    return minutes_seen


def test_the_hours_reportable_incidents_get_initial_reports(hour: Hour, tmp_path: Path) -> None:
    store = fresh_store(tmp_path, hour.incidents)
    inventory = InventoryIndex(load_inventory(hour.root / "inventory.yaml"))
    now = max(i.updated_at for i in hour.incidents)
    created = sync_reports(store, hour.incidents, inventory, now)
    assert created == len([i for i in hour.incidents if i.grade in REPORTABLE])
    assert sync_reports(store, hour.incidents, inventory, now) == 0  # idempotent
    assert sync_reports(store, hour.incidents, inventory, now + dt.timedelta(hours=1)) == 0
    check_initial_reports(store, hour.incidents, hour.alerts, hour.root / "inventory.yaml")


def _with_state_organ(hour: Hour, tmp_path: Path) -> Path:
    """A copy of the inventory with one tenant made a state organ, chosen so that the hour has
    incidents of all three deadlines."""
    flags = tenant_flags(hour.root / "inventory.yaml")
    four_hours = [
        i for i in hour.incidents if i.grade in REPORTABLE and expected_minutes(i, flags) == 240
    ]
    for incident in four_hours:
        for tenant in incident.tenants:
            others = [i for i in four_hours if tenant not in {*i.tenants, *i.blast_radius.tenants}]
            if others:
                data = yaml.safe_load((hour.root / "inventory.yaml").read_text())
                for record in data["tenants"]:
                    if record["id"] == tenant:
                        record["state_organ"] = True
                path = tmp_path / "inventory.yaml"
                path.write_text(yaml.safe_dump(data, allow_unicode=True))
                return path
    pytest.fail("no tenant separates two 4-hour incidents of the hour")


def test_deadlines_of_one_two_and_four_hours(hour: Hour, tmp_path: Path) -> None:
    path = _with_state_organ(hour, tmp_path)
    inventory = InventoryIndex(load_inventory(path))
    incidents = correlate(hour.alerts, inventory)
    store = fresh_store(tmp_path, incidents)
    sync_reports(store, incidents, inventory, max(i.updated_at for i in incidents))
    assert check_initial_reports(store, incidents, hour.alerts, path) == {60, 120, 240}
    bases = {r.basis.split(":")[0] for r in store.reports.list(EVERYTHING, ReportQuery(), _T)}
    assert bases == {"cii-1h", "state-organ-2h", "operator-4h"}


_T = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def test_a_tenant_both_cii_and_state_organ_gets_one_hour() -> None:
    policy = load_policy()
    both = Facts(Severity.CRITICAL, True, False, 1, frozenset(), state_organ=True)
    organ = Facts(Severity.CRITICAL, False, False, 1, frozenset(), state_organ=True)
    assert reporting(policy, both, Grade.III, _T).deadline == _T + dt.timedelta(hours=1)
    assert reporting(policy, organ, Grade.III, _T).deadline == _T + dt.timedelta(hours=2)
    assert not reporting(policy, organ, Grade.IV, _T).required


def _one_reportable(hour: Hour) -> Incident:
    return next(i for i in hour.incidents if i.grade in REPORTABLE)


def test_untouched_drafts_follow_the_incident_edited_and_submitted_ones_do_not(
    hour: Hour, tmp_path: Path
) -> None:
    incidents = [i for i in hour.incidents if i.grade in REPORTABLE][:3]
    store = fresh_store(tmp_path, incidents)
    sync_reports(store, incidents, None, _T)
    edited, submitted, untouched = (report_id(i.id, ReportKind.INITIAL) for i in incidents)
    edit = {"measures": SectionEdit(zh="已隔离虚拟机", en="VM isolated")}
    assert edit_sections(store, EVERYTHING, edited, edit, ANALYST, _T) is not None
    sent = submit(
        store, EVERYTHING, submitted, channel="12387", submitted_at=None, submitted_by=None,
        actor=ANALYST, now=_T,
    )  # fmt: skip
    assert sent is not None
    assert sent.state is ReportState.SUBMITTED
    # The correlator regrades the incidents and moves their deadlines.
    later = _T + dt.timedelta(minutes=5)
    changed = [
        msgspec.structs.replace(
            i,
            grade=Grade.I,
            reporting=msgspec.structs.replace(i.reporting, deadline=later),
        )
        for i in incidents
    ]
    assert sync_reports(store, changed, None, later) == 1
    after = {r.id: r for r in store.reports.list(EVERYTHING, ReportQuery(), later)}
    assert after[untouched].grade is Grade.I
    assert after[untouched].due_at == later
    assert after[edited].grade is incidents[0].grade
    (measures,) = [s for s in after[edited].sections if s.key == "measures"]
    assert (measures.zh, measures.en) == ("已隔离虚拟机", "VM isolated")
    assert after[submitted].grade is incidents[1].grade
    assert after[submitted].channel == "12387"
    audit = store.audit.list(EVERYTHING).items
    assert {(e.action, e.target) for e in audit} == {
        ("report.edit", f"report:{edited}"),
        ("report.submit", f"report:{submitted}"),
    }


def test_the_closing_report_is_due_30_days_after_handling_ends(hour: Hour, tmp_path: Path) -> None:
    incident = _one_reportable(hour)
    store = fresh_store(tmp_path, [incident])
    assert sync_reports(store, [incident], None, _T) == 1  # only the initial report
    resolved_at = _T + dt.timedelta(hours=3)
    store.actions.record(
        EVERYTHING,
        AnalystAction(
            id=stable_id("test", "resolve"),
            target_kind="incident",
            target_id=incident.id,
            kind=ActionKind.RESOLVE,
            actor="analyst-1",
            role="soc_analyst",
            at=resolved_at,
        ),
    )
    assert sync_reports(store, [incident], None, resolved_at) == 1
    closing = store.reports.get(EVERYTHING, report_id(incident.id, ReportKind.CLOSING), resolved_at)
    assert closing is not None
    assert closing.due_at == resolved_at + dt.timedelta(days=load_config().closing.deadline_days)
    assert closing.due_at == resolved_at + dt.timedelta(days=30)
    assert [s.key for s in closing.sections] == [
        "cause",
        "attack_path",
        "losses",
        "measures",
        "lessons",
    ]
    # A draft a month away; due in its last week; overdue after it.
    assert closing.state is ReportState.DRAFT
    assert state_at(closing, resolved_at + dt.timedelta(days=25)) is ReportState.DUE
    assert state_at(closing, resolved_at + dt.timedelta(days=31)) is ReportState.OVERDUE
    for state, when in [
        (ReportState.DRAFT, resolved_at),
        (ReportState.DUE, resolved_at + dt.timedelta(days=25)),
        (ReportState.OVERDUE, resolved_at + dt.timedelta(days=31)),
    ]:
        found = store.reports.list(
            EVERYTHING,
            ReportQuery(states=frozenset({state}), kinds=frozenset({ReportKind.CLOSING})),
            when,
        )
        assert [r.id for r in found] == [closing.id], state
    assert sync_reports(store, [incident], None, resolved_at) == 0
