"""Property tests of the published OpenAPI: schemathesis generates requests for every operation
from the live server's `/api/v1/openapi.json` and sends each as an admin and as a tenant viewer.

Every answer must not be a server error, must carry a status the operation documents, and a
JSON body valid against the documented schema. Operations with an alert, incident or report id are
also called with a real id (of whatever tenant), so triage actions and report edits with
generated bodies reach real targets. The ingest operation is fuzzed too: the seeded API has no
broker, so an accepted format answers the documented 503 "Ingest is not served here", which is
the one 5xx accepted.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fenghuo.intel.reports import ReportQuery, sync_reports
from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import load_inventory
from fenghuo.store.base import Scope
from tests.api.seeded import SeededApi, replay_hour, seeded_api

CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
INGEST = "/api/v1/ingest/{format_name}"
STREAM = "/api/v1/stream"  # read for 2 s (its first event comes at once), not the default 10 s


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApi]:
    hour = replay_hour(tmp_path_factory.mktemp("fuzz-hour"))
    with pytest.MonkeyPatch.context() as env:
        # Generated requests include unauthenticated ones; the limiter is tested on its own.
        env.setenv("FENGHUO_AUTH_FAILURE_LIMIT", "1000000")
        with seeded_api(tmp_path_factory.mktemp("fuzz-store"), hour) as running:
            yield running


@pytest.fixture(scope="module")
def published_schema(fuzzed: SeededApi) -> Any:
    return schemathesis.openapi.from_url(f"{fuzzed.url}/api/v1/openapi.json")


schema = schemathesis.pytest.from_fixture("published_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32.5's fixture-loaded schemas read and rewrite `node._nodeid` (to name
    # each operation in reports), an attribute pytest 9 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture(scope="module")
def real_ids(fuzzed: SeededApi) -> dict[str, Iterator[str]]:
    """Real ids to substitute, cycling through every alert and incident of the hour and the
    regulator reports drafted for it."""
    now = dt.datetime.now(dt.UTC)
    inventory = InventoryIndex(load_inventory(fuzzed.hour.root / "inventory.yaml"))
    sync_reports(fuzzed.store, fuzzed.hour.incidents, inventory, now)
    reports = fuzzed.store.reports.list(Scope.everything(), ReportQuery(), now)
    return {
        "alert_id": itertools.cycle([a.id for a in fuzzed.hour.alerts]),
        "incident_id": itertools.cycle([i.id for i in fuzzed.hour.incidents]),
        "report_id": itertools.cycle([r.id for r in reports]),
    }


def _server_error_allowed(case: schemathesis.Case[Any], response: Any) -> bool:
    return (
        case.operation.path == INGEST
        and response.status_code == 503
        and bool(response.json().get("title") == "Ingest is not served here")
    )


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_published_operations(
    case: schemathesis.Case[Any], fuzzed: SeededApi, real_ids: dict[str, Iterator[str]]
) -> None:
    viewer = f"viewer:{fuzzed.hour.tenants[0]}"
    variants = [dict(case.path_parameters or {})]
    for name, ids in real_ids.items():
        if case.path_parameters and name in case.path_parameters:
            variants.append({**case.path_parameters, name: next(ids)})
    for who in ("admin", viewer):
        for parameters in variants:
            case.path_parameters = parameters
            reading: dict[str, Any] = {"timeout": 2} if case.operation.path == STREAM else {}
            response = case.call(headers=fuzzed.auth(who), **reading)
            if _server_error_allowed(case, response):
                continue
            case.validate_response(
                response, checks=[not_a_server_error, *CHECKS], headers=fuzzed.auth(who)
            )
