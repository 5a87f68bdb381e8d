"""An analyst's work on an incident the correlator retires moves to its successor (real
SQLite store, the real correlator)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fenghuo.graph import Correlator
from fenghuo.graph.carry import carry_over
from fenghuo.model.incident import IncidentStatus
from fenghuo.store.base import ActionKind, AnalystAction, Scope
from fenghuo.store.sqlite import SqliteStore
from tests.graph.support import T0, alert, inventory

ALL = Scope.everything()


def test_a_renamed_incident_keeps_its_analyst_state(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "fenghuo.db")
    correlator = Correlator(inventory())
    (first,) = correlator.add(alert("later", at=10, host="hv-01"))
    store.incidents.upsert([first])
    for n, (kind, comment) in enumerate(
        [(ActionKind.ACKNOWLEDGE, ""), (ActionKind.COMMENT, "host isolated")]
    ):
        store.actions.record(
            ALL,
            AnalystAction(
                id=f"act-{n}",
                target_kind="incident",
                target_id=first.id,
                kind=kind,
                actor="li.wei",
                role="soc_analyst",
                at=T0 + dt.timedelta(minutes=20 + n),
                comment=comment,
            ),
        )
    # An earlier alert on the same host arrives late: the incident is renamed after it.
    (renamed,) = correlator.add(alert("earlier", at=5, host="hv-01"))
    assert correlator.retired == [first.id]
    assert renamed.id != first.id
    store.incidents.upsert([renamed])
    assert carry_over(store, correlator.retired, correlator.incidents()) == 2
    assert carry_over(store, correlator.retired, correlator.incidents()) == 2  # a retry...
    store.incidents.delete(correlator.retired)
    log = store.actions.history(ALL, "incident", renamed.id)
    assert [(a.kind, a.actor, a.details["carried_from"]) for a in log] == [
        (ActionKind.ACKNOWLEDGE, "li.wei", first.id),
        (ActionKind.COMMENT, "li.wei", first.id),
    ]  # ...copies nothing twice
    state = store.actions.state(ALL, "incident", renamed.id)
    assert state is not None
    assert (state.status, state.comments) == (IncidentStatus.ACKNOWLEDGED, 1)
    assert store.incidents.get(ALL, first.id) is None


def test_nothing_moves_without_a_log_or_a_successor(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "fenghuo.db")
    correlator = Correlator(inventory())
    (only,) = correlator.add(alert("x", at=0, host="hv-02"))
    store.incidents.upsert([only])
    assert carry_over(store, [only.id], [only]) == 0  # no log
    assert carry_over(store, ["no-such-incident"], [only]) == 0
    store.actions.record(
        ALL,
        AnalystAction(
            id="a",
            target_kind="incident",
            target_id=only.id,
            kind=ActionKind.RESOLVE,
            actor="x",
            role="admin",
            at=T0,
        ),
    )
    assert carry_over(store, [only.id], []) == 0  # decayed with its alerts: no successor
