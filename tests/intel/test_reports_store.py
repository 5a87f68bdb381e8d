"""The report repository's contract, on SQLite and on the search backend (its code on the
in-memory model of the client, on a real OpenSearch node, and on Elasticsearch when
FENGHUO_ES_URL is set; tests/store/backends.py): idempotent adds,
tenant scope and the regulator's incident set inside the query, states computed from `now` in the
filters exactly as on the returned reports, deadline order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from fenghuo.intel.reports import Report, ReportKind, ReportQuery, ReportState, report_id
from fenghuo.model.incident import Grade
from fenghuo.store.base import Scope, Store
from tests.store.backends import ALL_BACKENDS, open_backend

T = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
ALL = Scope.everything()
HOUR = dt.timedelta(hours=1)


@pytest.fixture(params=ALL_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh store of each backend (tests/store/backends.py)."""
    yield from open_backend(request.param, tmp_path)


def report(
    incident: str,
    tenant: str | None,
    due: dt.datetime | None,
    *,
    kind: ReportKind = ReportKind.INITIAL,
    due_soon: dt.timedelta = 24 * HOUR,
    sequence: int = 1,
) -> Report:
    return Report(
        id=report_id(incident, kind, sequence),
        incident_id=incident,
        kind=kind,
        sequence=sequence,
        tenant_id=tenant,
        grade=Grade.III,
        category="02",
        due_at=due,
        due_from=due - due_soon if due is not None else None,
        created_at=T,
        updated_at=T,
    )


def seed(store: Store) -> dict[str, Report]:
    reports = {
        "acme-1h": report("i1", "acme", T + HOUR),
        "globex-4h": report("i2", "globex", T + 4 * HOUR),
        "acme-closing": report("i1", "acme", T + 30 * 24 * HOUR, kind=ReportKind.CLOSING),
        "update-none": report("i2", "globex", None, kind=ReportKind.UPDATE),
        "unattributed": report("i3", None, T + 2 * HOUR),
    }
    for r in reports.values():
        assert store.reports.add(r) == r
    return reports


def test_add_is_idempotent_and_update_is_scoped(store: Store) -> None:
    reports = seed(store)
    first = reports["acme-1h"]
    again = msgspec.structs.replace(first, category="99")
    assert store.reports.add(again) == first  # the stored one is kept

    def retitle(r: Report) -> Report:
        return msgspec.structs.replace(r, channel="phone", edited_by="a")

    assert store.reports.update(Scope.of("globex"), first.id, retitle) is None
    assert store.reports.update(ALL, "no-such-report", retitle) is None
    changed = store.reports.update(Scope.of("acme"), first.id, retitle)
    assert changed is not None
    assert (changed.channel, changed.edited_by) == ("phone", "a")
    assert store.reports.update(ALL, first.id, lambda r: None) == changed
    got = store.reports.get(ALL, first.id, T)
    assert got is not None
    assert got.channel == "phone"


def test_scope_and_the_regulators_incident_set(store: Store) -> None:
    reports = seed(store)
    acme = store.reports.list(Scope.of("acme"), ReportQuery(), T)
    assert {r.id for r in acme} == {reports["acme-1h"].id, reports["acme-closing"].id}
    assert store.reports.get(Scope.of("globex"), reports["acme-1h"].id, T) is None
    assert store.reports.get(ALL, reports["acme-1h"].id, T, within=frozenset({"i2"})) is None
    assert store.reports.get(ALL, reports["acme-1h"].id, T, within=frozenset({"i1"})) is not None
    assert store.reports.list(ALL, ReportQuery(incident_ids=frozenset()), T) == []
    assert store.reports.count(ALL, ReportQuery(incident_ids=frozenset()), T) == 0
    by_incident = store.reports.list(ALL, ReportQuery(incident_ids=frozenset({"i2", "i3"})), T)
    assert {r.incident_id for r in by_incident} == {"i2", "i3"}
    closing = store.reports.list(ALL, ReportQuery(kinds=frozenset({ReportKind.CLOSING})), T)
    assert [r.id for r in closing] == [reports["acme-closing"].id]


def test_states_from_the_clock_in_filters_and_items(store: Store) -> None:
    reports = seed(store)
    order = ["acme-1h", "unattributed", "globex-4h", "acme-closing", "update-none"]
    listed = store.reports.list(ALL, ReportQuery(), T)
    assert [r.id for r in listed] == [reports[k].id for k in order]  # no deadline last

    sent = msgspec.structs.replace(
        reports["unattributed"], submitted_at=T, channel="phone", state=ReportState.SUBMITTED
    )
    assert store.reports.update(ALL, sent.id, lambda r: sent) is not None
    expected = {
        T: {
            ReportState.DUE: {"acme-1h", "globex-4h"},
            ReportState.DRAFT: {"acme-closing", "update-none"},
            ReportState.SUBMITTED: {"unattributed"},
            ReportState.OVERDUE: set(),
        },
        T + 2 * HOUR: {
            ReportState.DUE: {"globex-4h"},
            ReportState.DRAFT: {"acme-closing", "update-none"},
            ReportState.SUBMITTED: {"unattributed"},
            ReportState.OVERDUE: {"acme-1h"},
        },
        T + 30 * 24 * HOUR: {  # the closing deadline itself: due, not yet overdue
            ReportState.DUE: {"acme-closing"},
            ReportState.DRAFT: {"update-none"},
            ReportState.SUBMITTED: {"unattributed"},
            ReportState.OVERDUE: {"acme-1h", "globex-4h"},
        },
    }
    for now, states in expected.items():
        for state, names in states.items():
            query = ReportQuery(states=frozenset({state}))
            found = store.reports.list(ALL, query, now)
            assert {r.id for r in found} == {reports[n].id for n in names}, (now, state)
            assert all(r.state is state for r in found), (now, state)
            assert store.reports.count(ALL, query, now) == len(names), (now, state)
        both = ReportQuery(states=frozenset({ReportState.DUE, ReportState.OVERDUE}))
        want = states[ReportState.DUE] | states[ReportState.OVERDUE]
        assert store.reports.count(ALL, both, now) == len(want)
        due_order = [r.due_at for r in store.reports.list(ALL, both, now)]
        assert due_order == sorted(d for d in due_order if d is not None)
