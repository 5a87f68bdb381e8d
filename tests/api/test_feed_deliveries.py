"""`GET /api/v1/feed/deliveries` over a real server and a real delivery log: what the pusher
wrote (a failed attempt, then a delivered batch) is what the console reads; no log, no file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from fenghuo.intel.push.log import DeliveryLog
from tests.api.seeded import Hour, SeededApi, replay_hour, seeded_api

PATH = "/api/v1/feed/deliveries"
REMOTE = "http://127.0.0.1:9/taxii2/root/collections/regulator/"


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> Hour:
    return replay_hour(tmp_path_factory.mktemp("deliveries-hour"))


@pytest.fixture
def api(tmp_path: Path, hour: Hour) -> Iterator[SeededApi]:
    with seeded_api(tmp_path, hour) as running:
        yield running


def test_no_push_no_log(api: SeededApi, tmp_path: Path) -> None:
    response = api.get("soc_analyst", PATH)
    assert response.status_code == 200
    assert response.json() == {"configured": False, "items": []}
    assert not (tmp_path / "var" / "feed-push.db").exists()
    assert api.get("viewer:acme", PATH).status_code == 403
    assert api.get("regulator", PATH).status_code == 403


def test_the_log_as_the_pusher_wrote_it(api: SeededApi, tmp_path: Path) -> None:
    log = DeliveryLog(tmp_path / "var" / "feed-push.db")
    refs = [("indicator--00000000-0000-4000-8000-000000000001", "2026-01-05T10:00:00.000Z")]
    batch = log.begin_batch("local-1", REMOTE, None, dt.datetime.now(dt.UTC), refs)
    failed = log.begin_attempt(batch.id, refs, 512)
    log.finish_attempt(failed, "error", error="connection refused")
    ok = log.begin_attempt(batch.id, refs, 512)
    log.finish_attempt(ok, "complete", status_id="s-1", status="complete", counts=(1, 1, 0, 0))
    log.confirm(batch.id, refs, "accepted")
    log.finish_batch(batch, "local-1", REMOTE)
    log.close()

    items = api.get("admin", PATH).json()["items"]
    assert len(items) == 1
    (only,) = items
    assert (only["remote_url"], only["outcome"], only["size"]) == (REMOTE, "delivered", 1)
    assert only["confirmed"] == {"accepted": 1}
    assert [a["outcome"] for a in only["attempts"]] == ["error", "complete"]
    assert only["attempts"][0]["error"] == "connection refused"
    assert (only["attempts"][1]["total"], only["attempts"][1]["success"]) == (1, 1)
