"""`fenghuo feed push` end to end: the platform's SQLite store -> the pusher -> a loopback proxy
that fails on demand -> medallion (the OASIS TAXII 2.1 reference server, memory backend, in its
own process). Every (id, version) must reach medallion exactly once, whatever the link does."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from taxii2client.v21 import Collection as RemoteCollection
from taxii2client.v21 import as_pages

from fenghuo.intel.collections import Collection
from fenghuo.intel.push import DeliveryLog, Pusher, PushPolicy, PushTarget
from fenghuo.store.sqlite import SqliteStore
from tests.intel.test_push_support import (
    REMOTE_PASSWORD,
    REMOTE_USER,
    FaultyProxy,
    Medallion,
    Ref,
    ref_of,
    running,
    stix_versions,
    wait_until,
)

LOCAL = "9a6f4d2c-7b1e-4f35-8c0d-2e5a1b3c4d5e"
POLICY = PushPolicy(
    batch_max_objects=40,
    request_timeout_s=5.0,
    status_timeout_s=5.0,
    status_poll_first_s=0.01,
    backoff_first_s=0.02,
    backoff_max_s=0.2,
)


@dataclass
class Rig:
    store: SqliteStore
    medallion: Medallion
    proxy: FaultyProxy
    log_path: Path

    @property
    def target(self) -> PushTarget:
        url = self.medallion.collection_url(self.proxy.base)
        return PushTarget(LOCAL, url, REMOTE_USER, REMOTE_PASSWORD)

    def pusher(self, policy: PushPolicy = POLICY) -> tuple[Pusher, DeliveryLog]:
        delivery_log = DeliveryLog(self.log_path)
        return Pusher(self.store.objects, self.target, delivery_log, policy=policy), delivery_log

    def add_local(self, ids: int, versions: int, seed: int = 0) -> list[Ref]:
        made = stix_versions(ids, versions, seed=seed)
        assert len(self.store.objects.append(LOCAL, made)) == len(made)
        return [ref_of(o) for o in made]

    def read_back(self) -> list[Ref]:
        """What medallion serves, all versions, through taxii2-client (paged)."""
        remote = RemoteCollection(
            self.medallion.collection_url(), user=REMOTE_USER, password=REMOTE_PASSWORD
        )
        found: list[Ref] = []
        for page in as_pages(remote.get_objects, per_request=100, version="all"):
            found += [ref_of(o) for o in page.get("objects", [])]
        remote.close()
        return found


@pytest.fixture(scope="module")
def medallion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Medallion]:
    server = Medallion(tmp_path_factory.mktemp("medallion"), max_content_length=16 * 1024)
    yield server
    server.stop()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    # One medallion per test: its memory backend cannot be emptied through the API.
    server = Medallion(tmp_path, max_content_length=16 * 1024)
    proxy = FaultyProxy(server.port)
    store = SqliteStore(tmp_path / "fenghuo.db")
    store.collections.create(
        Collection(id=LOCAL, title="regulator feed", created_at=dt.datetime.now(dt.UTC))
    )
    yield Rig(store, server, proxy, tmp_path / "var" / "feed-push.db")
    store.close()
    proxy.close()
    server.stop()


def _exactly_once(rig: Rig, expected: list[Ref]) -> None:
    held = rig.medallion.held()
    assert Counter(held) == Counter(expected), "the remote store differs"
    assert sorted(rig.read_back()) == sorted(expected)


def test_medallion_keeps_one_copy_of_a_repeated_version_and_calls_it_a_failure(
    medallion: Medallion,
) -> None:
    remote = RemoteCollection(
        medallion.collection_url(), user=REMOTE_USER, password=REMOTE_PASSWORD
    )
    objs = stix_versions(2, 1, seed=9)
    first = remote.add_objects({"objects": objs}, wait_for_completion=False)
    again = remote.add_objects({"objects": objs}, wait_for_completion=False)
    assert (first.success_count, first.failure_count) == (2, 0)
    assert (again.status, again.success_count, again.failure_count) == ("complete", 0, 2)
    assert {f["message"] for f in again.failures} == {"Unable to process object"}
    assert Counter(medallion.held())[ref_of(objs[0])] == 1


def test_several_hundred_versions_arrive_exactly_once(rig: Rig) -> None:
    expected = rig.add_local(ids=100, versions=3)  # 300 versions of 100 objects
    pusher, delivery_log = rig.pusher()
    started = time.monotonic()
    summary = pusher.push_pending(threading.Event())
    elapsed = time.monotonic() - started
    assert summary.caught_up
    assert summary.objects == 300
    assert summary.failed_attempts == 0
    _exactly_once(rig, expected)
    batches = delivery_log.batches(limit=1000)
    assert len(batches) >= 300 / POLICY.batch_max_objects
    assert all(b.outcome == "delivered" and len(b.attempts) == 1 for b in batches)
    assert all(a.sent_bytes <= 16 * 1024 for b in batches for a in b.attempts)
    assert delivery_log.sent_refs(LOCAL, rig.target.url) == expected
    print(f"pushed 300 versions in {len(batches)} batches in {elapsed:.2f} s")


def test_an_outage_mid_run_delays_and_loses_nothing(rig: Rig) -> None:
    expected = rig.add_local(ids=60, versions=3)
    pusher, delivery_log = rig.pusher()
    rig.proxy.cut_after_posts(3)  # the third POST finds the link down
    with running(lambda: pusher.push_pending(threading.Event())) as outcome:
        wait_until(lambda: rig.proxy.is_cut, what="the cut")
        wait_until(
            lambda: _failed_attempts(delivery_log) >= 3, what="three failed attempts in the log"
        )
        rig.proxy.restore()
    (summary,) = outcome
    assert summary.caught_up
    assert summary.failed_attempts >= 3
    _exactly_once(rig, expected)
    errors = [
        a for b in delivery_log.batches(limit=100) for a in b.attempts if a.outcome == "error"
    ]
    assert len(errors) >= 3
    assert all(a.error for a in errors)
    assert delivery_log.position(LOCAL, rig.target.url) == _last_added(rig)


@pytest.mark.parametrize("mode", ["reset", "502"])
def test_an_answer_lost_after_the_post_is_not_a_second_copy(rig: Rig, mode: str) -> None:
    expected = rig.add_local(ids=40, versions=3)
    pusher, delivery_log = rig.pusher()
    rig.proxy.fail_posts(1, mode)  # the first batch reaches medallion; its answer does not
    assert pusher.push_pending(threading.Event()).caught_up
    _exactly_once(rig, expected)
    first = delivery_log.batches(limit=100)[0]
    assert [a.outcome for a in first.attempts] == ["error", "present"]
    assert first.confirmed == {"present": first.size}
    assert rig.proxy.failed_posts == 1
    assert rig.proxy.posts == len(delivery_log.batches(limit=100))  # the lost one not re-sent
    assert Counter(delivery_log.sent_refs(LOCAL, rig.target.url)).most_common(1)[0][1] == 1


def test_a_restart_resumes_from_the_saved_position(rig: Rig) -> None:
    first = rig.add_local(ids=50, versions=2)
    pusher, delivery_log = rig.pusher()
    assert pusher.push_pending(threading.Event()).objects == len(first)
    pusher.close()
    delivery_log.close()
    posts_before = rig.proxy.posts
    second = rig.add_local(ids=30, versions=1, seed=1)
    pusher, delivery_log = rig.pusher()  # a new process: only the log file is shared
    summary = pusher.push_pending(threading.Event())
    assert summary.objects == len(second)
    assert rig.proxy.posts - posts_before == 1  # 30 new versions, one batch, nothing re-sent
    _exactly_once(rig, first + second)
    assert delivery_log.sent_refs(LOCAL, rig.target.url) == first + second


def test_a_crash_between_accept_and_save_resends_nothing(rig: Rig) -> None:
    expected = rig.add_local(ids=30, versions=1)

    class CrashingLog(DeliveryLog):
        def finish_batch(self, *args: object, **kwargs: object) -> None:
            raise KeyboardInterrupt  # the process dies after medallion accepted the batch

    crashing = CrashingLog(rig.log_path)
    pusher = Pusher(rig.store.objects, rig.target, crashing, policy=POLICY)
    with pytest.raises(KeyboardInterrupt):
        pusher.push_pending(threading.Event())
    crashing.close()
    posts = rig.proxy.posts
    pusher, delivery_log = rig.pusher()
    assert pusher.push_pending(threading.Event()).caught_up
    assert rig.proxy.posts == posts  # the manifest said it was there
    _exactly_once(rig, expected)
    assert delivery_log.batches()[0].confirmed == {"accepted": 30}


def test_the_cli_pushes_and_prints_the_log(
    rig: Rig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fenghuo.cli import main
    from fenghuo.settings import get_settings

    # The CLI opens the store and the log from settings: point them at this rig.
    monkeypatch.setenv("FENGHUO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FENGHUO_FEED_PUSH_PASSWORD", REMOTE_PASSWORD)
    get_settings.cache_clear()
    expected = rig.add_local(ids=10, versions=2)
    try:
        runner = CliRunner()
        url = rig.medallion.collection_url()
        pushed = runner.invoke(
            main,
            ["feed", "push", "--collection", LOCAL, "--to", url, "--user", REMOTE_USER, "--once"],
        )
        assert pushed.exit_code == 0, pushed.output
        assert "pushed 20 versions in 1 batches" in pushed.output
        shown = runner.invoke(main, ["feed", "log"])
        assert shown.exit_code == 0, shown.output
        assert "delivered" in shown.output
        assert "success 20 failure 0" in shown.output
    finally:
        get_settings.cache_clear()
    _exactly_once(rig, expected)


def _failed_attempts(delivery_log: DeliveryLog) -> int:
    return sum(a.outcome == "error" for b in delivery_log.batches(limit=1000) for a in b.attempts)


def _last_added(rig: Rig) -> dt.datetime:
    from fenghuo.intel.objects import ObjectQuery

    page = rig.store.objects.page(LOCAL, ObjectQuery(versions=("all",)), limit=1000)
    return page.objects[-1].date_added


def test_the_push_service_follows_new_versions_until_stopped(rig: Rig, tmp_path: Path) -> None:
    from pydantic import SecretStr

    from fenghuo.intel.push import PushService
    from fenghuo.settings import Settings

    assert PushService.from_settings(Settings(data_dir=tmp_path), rig.store) is None
    settings = Settings(
        data_dir=tmp_path / "svc",
        feed_push_collection=LOCAL,
        feed_push_url=rig.target.url,
        feed_push_user=REMOTE_USER,
        feed_push_password=SecretStr(REMOTE_PASSWORD),
        feed_push_interval_s=0.05,
    )
    service = PushService.from_settings(settings, rig.store)
    assert service is not None
    first = rig.add_local(ids=20, versions=2)
    stop = threading.Event()
    with running(lambda: service.run(stop)) as outcome:
        wait_until(lambda: len(rig.medallion.held()) == len(first), what="the first versions")
        rig.proxy.fail_posts(1, "reset")
        second = rig.add_local(ids=10, versions=1, seed=2)
        wait_until(
            lambda: len(rig.medallion.held()) == len(first + second), what="the new versions"
        )
        stop.set()
    assert outcome == [None]
    _exactly_once(rig, first + second)
    assert (tmp_path / "svc" / "feed-push.db").exists()
