"""The pusher's logic against a scripted remote and a list-backed repository: batching, status
polling, failures, uncertain outcomes, backoff, giving up, positions across restarts."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence, Set
from pathlib import Path

import pytest

from fenghuo.intel.push import DeliveryLog, Pusher, PushError, PushPolicy, PushTarget
from fenghuo.intel.push.remote import RemoteError, RemoteStatus
from tests.intel.test_push_support import ListObjects, Ref, ref_of, running, stix_versions

LOCAL = "local-collection"
TARGET = PushTarget(LOCAL, "http://regulator.invalid/api1/collections/c1/", "u", "p")
FAST = PushPolicy(
    batch_max_objects=20, backoff_first_s=0.001, backoff_max_s=0.01, status_poll_first_s=0.001
)


class ScriptedRemote:
    """Holds (id, version) pairs once each, like medallion (a repeat is a failure); `script`
    says what each POST does: "ok", "fail:N" (the first N objects fail), "pending" (complete
    after two status polls), "lost" (stored, then the answer is lost), "down" (not stored)."""

    def __init__(self, max_content_length: int = 1_000_000) -> None:
        self.held: list[Ref] = []
        self.script: list[str] = []
        self.posts: list[list[Ref]] = []
        self.sizes: list[int] = []
        self.max_length = max_content_length
        self.polls = 0
        self._pending: dict[str, RemoteStatus] = {}
        self.manifest_queries = 0

    def max_content_length(self) -> int:
        return self.max_length

    def add(self, envelope: bytes) -> RemoteStatus:
        refs = [ref_of(o) for o in json.loads(envelope)["objects"]]
        self.posts.append(refs)
        self.sizes.append(len(envelope))
        assert len(envelope) <= self.max_length
        step = self.script.pop(0) if self.script else "ok"
        if step == "down":
            raise RemoteError("connection refused", transient=True)
        failing = int(step.split(":")[1]) if step.startswith("fail:") else 0
        successes, failures = [], []
        for index, ref in enumerate(refs):
            if index < failing or ref in self.held:
                failures.append((ref, "Unable to process object"))
            else:
                self.held.append(ref)
                successes.append(ref)
        if step == "lost":
            raise RemoteError("adding objects: HTTP 502", transient=True, http_status=502)
        status = RemoteStatus(
            id=f"status-{len(self.posts)}",
            status="complete",
            total=len(refs),
            success=len(successes),
            failure=len(failures),
            pending=0,
            successes=tuple(successes),
            failures=tuple(failures),
        )
        if step == "pending":
            self._pending[status.id] = status
            return RemoteStatus(status.id, "pending", len(refs), 0, 0, len(refs))
        return status

    def status(self, status_id: str) -> RemoteStatus:
        self.polls += 1
        final = self._pending[status_id]
        if self.polls < 2:
            return RemoteStatus(status_id, "pending", final.total, 0, 0, final.total)
        return final

    def present(self, refs: Sequence[Ref], any_version: Set[str] = frozenset()) -> set[Ref]:
        self.manifest_queries += 1
        return {r for r in refs if r in self.held}

    def close(self) -> None:
        pass


def _setup(tmp_path: Path, count_ids: int = 10, versions: int = 3) -> tuple[ListObjects, list[Ref]]:
    objects = ListObjects()
    made = stix_versions(count_ids, versions)
    objects.append(LOCAL, made)
    return objects, [ref_of(o) for o in made]


def _pusher(
    objects: ListObjects, remote: ScriptedRemote, path: Path, policy: PushPolicy = FAST
) -> tuple[Pusher, DeliveryLog]:
    delivery_log = DeliveryLog(path / "feed-push.db")
    return Pusher(objects, TARGET, delivery_log, policy=policy, remote=remote), delivery_log


def test_batches_are_bounded_by_count_and_by_max_content_length(tmp_path: Path) -> None:
    objects, refs = _setup(tmp_path)
    remote = ScriptedRemote(max_content_length=2_500)  # a handful of indicators per POST
    pusher, delivery_log = _pusher(objects, remote, tmp_path)
    summary = pusher.push_pending(threading.Event())
    assert summary.caught_up
    assert summary.objects == len(refs)
    assert remote.held == refs  # every version once, in date-added order
    assert all(size <= 2_500 for size in remote.sizes)
    assert all(len(post) <= FAST.batch_max_objects for post in remote.posts)
    assert len(remote.posts) > len(refs) / FAST.batch_max_objects
    assert delivery_log.position(LOCAL, TARGET.url) == objects.items[-1].date_added
    assert delivery_log.delivered_count(LOCAL, TARGET.url) == len(refs)


def test_failed_objects_are_recorded_and_retried_before_the_position_moves(
    tmp_path: Path,
) -> None:
    objects, refs = _setup(tmp_path, count_ids=5, versions=1)
    remote = ScriptedRemote()
    remote.script = ["fail:2", "down"]
    pusher, delivery_log = _pusher(objects, remote, tmp_path)
    assert pusher.push_pending(threading.Event()).caught_up
    assert sorted(remote.held) == sorted(refs)
    # Attempt 1 sent 5 (2 failed), attempt 2 failed on the network, attempt 3 sent the 2.
    assert [len(p) for p in remote.posts] == [5, 2, 2]
    (batch,) = delivery_log.batches()
    assert [a.outcome for a in batch.attempts] == ["partial", "error", "complete"]
    assert batch.attempts[0].counts == (5, 3, 2, 0)
    assert [f[0] for f in delivery_log.failures_of(batch.attempts[0].id)] == refs[:2]
    assert batch.outcome == "delivered"
    assert batch.confirmed == {"accepted": 5}


def test_a_pending_status_is_polled_until_complete(tmp_path: Path) -> None:
    objects, _refs = _setup(tmp_path, count_ids=3, versions=1)
    remote = ScriptedRemote()
    remote.script = ["pending"]
    pusher, delivery_log = _pusher(objects, remote, tmp_path)
    assert pusher.push_pending(threading.Event()).caught_up
    assert remote.polls == 2
    assert len(remote.posts) == 1
    (batch,) = delivery_log.batches()
    assert batch.attempts[0].status == "complete"
    assert batch.attempts[0].outcome == "complete"


def test_an_uncertain_outcome_is_checked_in_the_manifest_not_resent(tmp_path: Path) -> None:
    objects, refs = _setup(tmp_path, count_ids=4, versions=2)
    remote = ScriptedRemote()
    remote.script = ["lost"]
    pusher, delivery_log = _pusher(objects, remote, tmp_path)
    assert pusher.push_pending(threading.Event()).caught_up
    assert len(remote.posts) == 1
    assert remote.held == refs
    assert remote.manifest_queries == 1
    (batch,) = delivery_log.batches()
    assert [a.outcome for a in batch.attempts] == ["error", "present"]
    assert batch.confirmed == {"present": len(refs)}


def test_a_restart_resumes_at_the_saved_position(tmp_path: Path) -> None:
    objects, refs = _setup(tmp_path, count_ids=10, versions=2)
    remote = ScriptedRemote()
    pusher, delivery_log = _pusher(objects, remote, tmp_path)
    pusher.push_pending(threading.Event())
    delivery_log.close()
    more = stix_versions(5, 1, seed=1)
    objects.append(LOCAL, more)
    pusher, delivery_log = _pusher(objects, remote, tmp_path)
    assert pusher.push_pending(threading.Event()).objects == len(more)
    assert remote.held == refs + [ref_of(o) for o in more]
    assert delivery_log.sent_refs(LOCAL, TARGET.url) == remote.held  # nothing sent twice


def test_a_crash_before_the_position_is_saved_resends_nothing(tmp_path: Path) -> None:
    objects, refs = _setup(tmp_path, count_ids=5, versions=1)
    remote = ScriptedRemote()

    class CrashingLog(DeliveryLog):
        def finish_batch(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("power cut")

    crashing = CrashingLog(tmp_path / "feed-push.db")
    with pytest.raises(RuntimeError, match="power cut"):
        Pusher(objects, TARGET, crashing, policy=FAST, remote=remote).push_pending(
            threading.Event()
        )
    crashing.close()
    pusher, delivery_log = _pusher(objects, remote, tmp_path)
    assert delivery_log.position(LOCAL, TARGET.url) is None
    assert pusher.push_pending(threading.Event()).caught_up
    assert len(remote.posts) == 1
    assert remote.held == refs
    assert delivery_log.position(LOCAL, TARGET.url) == objects.items[-1].date_added


def test_giving_up_keeps_the_position(tmp_path: Path) -> None:
    objects, _ = _setup(tmp_path, count_ids=2, versions=1)
    remote = ScriptedRemote()
    remote.script = ["down"] * 3
    policy = PushPolicy(backoff_first_s=0.001, max_attempts=3)
    pusher, delivery_log = _pusher(objects, remote, tmp_path, policy)
    with pytest.raises(PushError, match="3 failed attempts"):
        pusher.push_pending(threading.Event())
    assert delivery_log.position(LOCAL, TARGET.url) is None
    assert [b.outcome for b in delivery_log.batches()] == ["open"]


def test_an_object_larger_than_the_remote_accepts_is_not_skipped(tmp_path: Path) -> None:
    objects, _ = _setup(tmp_path, count_ids=2, versions=1)
    remote = ScriptedRemote(max_content_length=100)
    policy = PushPolicy(stop_on_rejection=True)
    pusher, delivery_log = _pusher(objects, remote, tmp_path, policy)
    with pytest.raises(PushError, match="larger"):
        pusher.push_pending(threading.Event())
    assert remote.posts == []
    assert delivery_log.position(LOCAL, TARGET.url) is None


def test_the_stop_event_cuts_the_backoff_short(tmp_path: Path) -> None:
    objects, _ = _setup(tmp_path, count_ids=2, versions=1)
    remote = ScriptedRemote()
    remote.script = ["down"] * 1000
    slow = PushPolicy(backoff_first_s=60.0, backoff_max_s=600.0)
    pusher, _ = _pusher(objects, remote, tmp_path, slow)
    stop = threading.Event()
    with running(lambda: pusher.push_pending(stop)) as outcome:
        from tests.intel.test_push_support import wait_until

        wait_until(lambda: len(remote.posts) >= 1, what="the first failed POST")
        stop.set()
    (summary,) = outcome
    assert not summary.caught_up
    assert summary.failed_attempts == 1


def test_backoff_is_exponential_and_bounded() -> None:
    policy = PushPolicy(backoff_first_s=0.5, backoff_max_s=4.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
