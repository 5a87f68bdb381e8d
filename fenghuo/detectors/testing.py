"""Running detector cases without a JVM: records are parsed and attributed against the demo
inventory, exactly as ingest does, then replayed through the engine with only that detector."""

from __future__ import annotations

import datetime as dt
from functools import cache

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.detectors.base import Case, Detector, Expect
from fenghuo.detectors.config import DetectionConfig
from fenghuo.detectors.engine import DetectionEngine
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RecordError, raw_lines
from fenghuo.inventory import InventoryStore
from fenghuo.model import Event
from fenghuo.model.alert import Alert
from fenghuo.streaming.replay import replay

FIXED_NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


@cache
def demo_inventory() -> InventoryStore:
    return InventoryStore(demo_inventory_path())


class CaseInputError(ValueError):
    """A case's records do not parse: the case itself is broken."""


def case_events(case: Case) -> list[Event]:
    normaliser = Normaliser(demo_inventory(), clock=lambda: FIXED_NOW)
    events: list[Event] = []
    for index, records in enumerate(case.records):
        source = f"{case.name}#{index}"
        for result in normaliser.stream(
            records.format, raw_lines(source, records.text.strip().splitlines()), records.host_id
        ):
            if isinstance(result, RecordError):
                msg = f"case {case.name!r}: {result.source}:{result.line}: {result.reason}"
                raise CaseInputError(msg)
            events.append(result)
    return events


def run_case(detector: Detector, case: Case) -> list[Alert]:
    config = DetectionConfig().with_settings(detector.meta.id, case.settings)
    engine = DetectionEngine([detector], demo_inventory().current, config, clock=lambda: FIXED_NOW)
    return replay(case_events(case), engine).alerts


def _matches(expect: Expect, alert: Alert) -> bool:
    return (
        alert.severity == expect.severity
        and alert.tenant_id == expect.tenant_id
        and alert.actor_tenant_id == expect.actor_tenant_id
        and (expect.host_id is None or alert.host_id == expect.host_id)
        and expect.summary_contains in alert.summary
    )


def case_problems(case: Case, alerts: list[Alert]) -> list[str]:
    """Why the alerts do not meet the case (empty when they do): every expectation matched by
    its own alert, and no alert left over."""
    left = list(alerts)
    problems = []
    for expect in case.expect:
        hit = next((a for a in left if _matches(expect, a)), None)
        if hit is None:
            problems.append(f"no alert matches {expect}")
        else:
            left.remove(hit)
    problems += [
        f"unexpected alert {a.severity} tenant={a.tenant_id} actor={a.actor_tenant_id} "
        f"host={a.host_id}: {a.summary}"
        for a in left
    ]
    return problems
