"""`/api/v1/stats`: situational statistics in the caller's scope over an optional window.

The alert rate is counted per bucket of evidence start (`first_seen`), buckets aligned on the
epoch like the store's, consecutive and with empty ones included, from the window's start (or
the first alert) to its end (or the last alert); a request that would need more than
`MAX_BUCKETS` of them is refused (422) rather than answered with a huge body.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fenghuo.api import filters as f
from fenghuo.api.deps import Caller, Services, ServicesDep, Viewer
from fenghuo.api.ops_views import (
    HostCount,
    IncidentFigures,
    RatePoint,
    Statistics,
    TenantRisk,
    figures_of,
)
from fenghuo.api.problems import Problem
from fenghuo.api.schemas import documented, respond
from fenghuo.intel.reports.model import ReportState
from fenghuo.intel.reports.repository import ReportQuery
from fenghuo.model.alert import Severity
from fenghuo.store.base import AlertQuery, IncidentQuery, epoch_ms
from fenghuo.store.figures import TenantRiskRow

router = APIRouter(prefix="/stats", tags=["situation"])

MAX_BUCKETS = 1000
MAX_BUCKET_S = 366 * 86_400
# Buckets are aligned on the epoch: times far from it would align outside datetime's range.
_EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
TOP_HOSTS = 10
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_BUCKET = re.compile(r"([1-9][0-9]{0,6})([smhd])")

BucketParam = Annotated[
    str,
    Query(
        max_length=8,
        pattern=f"^{_BUCKET.pattern}$",
        description="width of a rate bucket: a number and s, m, h or d (e.g. 5m, 1h)",
    ),
]


def parse_bucket(text: str) -> dt.timedelta:
    match = _BUCKET.fullmatch(text)
    if match is None:
        raise Problem(422, "Invalid request", f"bucket {text!r}: use e.g. 30s, 5m, 1h, 1d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not 0 < seconds <= MAX_BUCKET_S:
        raise Problem(422, "Invalid request", f"bucket {text!r}: between 1s and 366d")
    return dt.timedelta(seconds=seconds)


def checked_window(
    since: dt.datetime | None, until: dt.datetime | None
) -> tuple[dt.datetime | None, dt.datetime | None]:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise Problem(422, "Invalid request", f"{name} needs a time zone (e.g. Z)")
        if value is not None and not _EARLIEST <= value < _LATEST:
            raise Problem(422, "Invalid request", f"{name} must be in the years 1900 to 8999")
    if since is not None and until is not None and until <= since:
        raise Problem(422, "Invalid request", "until must be after since")
    return since, until


def _bucket_of(time: dt.datetime, width_ms: int) -> int:
    return epoch_ms(time) // width_ms * width_ms


def rate_series(
    counts: list[tuple[dt.datetime, int]],
    width: dt.timedelta,
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> list[RatePoint]:
    """Consecutive buckets over the window (or the data), empty ones included."""
    width_ms = int(width.total_seconds() * 1000)
    by_start = {epoch_ms(start): n for start, n in counts}
    starts = list(by_start)
    if since is not None:
        starts.append(_bucket_of(since, width_ms))
    if until is not None:
        starts.append(_bucket_of(until - dt.timedelta(milliseconds=1), width_ms))
    if not starts:
        return []
    first, last = min(starts), max(starts)
    needed = (last - first) // width_ms + 1
    if needed > MAX_BUCKETS:
        raise Problem(
            422,
            "Invalid request",
            f"{needed} buckets; at most {MAX_BUCKETS}: choose a wider bucket or a narrower window",
        )
    return [
        RatePoint(start=_EPOCH + dt.timedelta(milliseconds=ms), alerts=by_start.get(ms, 0))
        for ms in range(first, last + 1, width_ms)
    ]


def tenants_at_risk(
    rows: list[TenantRiskRow], shown: Callable[[str], str | None] = lambda t: t
) -> list[TenantRisk]:
    """Tenants named by open incidents, most severe first, then by risk, then by the id the
    caller is shown (ordering by a real id would hint at a pseudonymised tenant's name)."""
    risks = [
        TenantRisk(
            tenant_id=r.tenant_id,
            open_incidents=r.open_incidents,
            highest_severity=r.highest_severity,
            highest_grade=r.highest_grade,
            risk=r.risk,
        )
        for r in rows
    ]

    def order(r: TenantRisk) -> tuple[int, float, str]:
        rank = r.highest_severity.rank if r.highest_severity is not None else -1
        return (-rank, -r.risk, shown(r.tenant_id) or "")

    return sorted(risks, key=order)


def statistics(
    caller: Caller,
    services: Services,
    since: dt.datetime | None,
    until: dt.datetime | None,
    width: dt.timedelta,
) -> Statistics:
    store, scope = services.store, caller.scope
    stats = store.alerts.stats(
        scope, AlertQuery(since=since, until=until), bucket=width, top=TOP_HOSTS
    )
    rate = rate_series(stats.buckets, width, since, until)
    # Aggregated by the store (GROUP BY on SQLite), not paged into memory.
    figures = store.incidents.aggregate(scope, IncidentQuery(since=since, until=until))
    overdue = ReportQuery(states=frozenset({ReportState.OVERDUE}))
    return Statistics(
        since=since,
        until=until,
        bucket_seconds=int(width.total_seconds()),
        alerts=figures_of({s.value: stats.by_severity.get(s.value, 0) for s in Severity}),
        rate=rate,
        by_detector=dict(sorted(stats.by_detector.items())),
        tenants_at_risk=tenants_at_risk(figures.tenants, caller.redactor.tenant),
        top_hosts=[HostCount(host_id=h, alerts=n) for h, n in stats.top_hosts],
        incidents=IncidentFigures(
            total=figures.total,
            open=figures.open,
            by_status=figures.by_status,
            by_grade=figures.by_grade,
            open_by_grade_severity=figures.open_matrix,
        ),
        reports_overdue=store.reports.count(scope, overdue, services.clock()),
    )


@router.get(
    "",
    summary="Situational statistics: alert rate, severity mix, detectors, tenants at risk, "
    "top hosts, incidents by status and grade",
    responses=documented(Statistics, "Statistics in the caller's scope"),
)
async def get_stats(
    caller: Viewer,
    services: ServicesDep,
    since: f.Since = None,
    until: f.Until = None,
    bucket: BucketParam = "1h",
) -> JSONResponse:
    since, until = checked_window(since, until)
    width = parse_bucket(bucket)
    result = await run_in_threadpool(statistics, caller, services, since, until, width)
    return respond(caller, result)
