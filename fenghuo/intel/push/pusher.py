"""Push one local collection's object versions to one remote TAXII 2.1 collection, at least
once on the wire and exactly once in effect.

The recipe, per batch:
1. Read the versions added after the saved position (`ObjectQuery(versions=("all",),
   added_after=...)`: date added is unique and increasing per collection, so this range never
   skips or repeats a version), at most `batch_max_objects`, and cut the batch so that its
   envelope fits the remote API root's `max_content_length`. Open the batch in the log.
2. POST the versions of the batch not yet confirmed; poll the status resource with backoff
   until it is complete (or `status_timeout_s` has passed).
3. Confirm each version the status lists as a success. When every version of the batch is
   confirmed, close the batch and save its last date added as the position, in one transaction.
4. Anything else (network error, timeout, 5xx, a status with failures or still pending) leaves
   the batch open: wait (exponential backoff, bounded, cut short by the stop event) and go to 2.

Re-sends are made harmless by asking first: before any re-send of a batch (after an error, an
uncertain outcome, failures, or a crash found as an open batch at start), the pusher reads the
remote manifest for the batch's ids (all versions) and confirms the versions already there
(`present`); only the rest is sent again. This matters with medallion, the OASIS reference
server: it keeps one copy per (id, modified) but reports a repeated version as a *failure*
("Unable to process object"), so without the manifest check a re-sent batch would look failed
forever; on a server that would store duplicates, the check keeps it from doing so.

A version is never skipped: a batch stays open until every version of it is confirmed, however
long the remote is away. An answer that retrying cannot fix (401, 403, 413: an object larger
than the remote accepts, ...) is recorded and retried at the slowest pace, or raised at once
with `PushPolicy.stop_on_rejection` (the command line's `--once`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fenghuo.errors import FenghuoError
from fenghuo.intel.objects import ObjectQuery, ObjectRepository, StoredObject
from fenghuo.intel.push.history import Ref
from fenghuo.intel.push.log import DeliveryLog, OpenBatch
from fenghuo.intel.push.remote import Remote, RemoteError, RemoteStatus, TaxiiRemote, ref_key

log = logging.getLogger(__name__)

_ENVELOPE_OVERHEAD = len(b'{"objects":[]}')


class PushError(FenghuoError):
    """The push cannot go on (gave up after `max_attempts`, or a rejection with
    `stop_on_rejection`); nothing was skipped: the next run resumes at the saved position."""


@dataclass(frozen=True, slots=True)
class PushTarget:
    """One (local collection -> remote collection) pair and the remote's credentials."""

    collection_id: str
    url: str
    user: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never show the password
        return f"PushTarget({self.collection_id!r} -> {self.url!r}, user={self.user!r})"


@dataclass(frozen=True, slots=True)
class PushPolicy:
    batch_max_objects: int = 100
    request_timeout_s: float = 30.0
    # A status still pending after this long makes the attempt uncertain (manifest check next).
    status_timeout_s: float = 120.0
    status_poll_first_s: float = 0.2
    backoff_first_s: float = 0.5
    backoff_max_s: float = 60.0
    # Failed attempts in a row before PushError (None: never give up, the service's choice).
    max_attempts: int | None = None
    stop_on_rejection: bool = False
    follow_interval_s: float = 5.0  # how often --follow looks for new versions

    def backoff(self, failures: int) -> float:
        """Delay after the `failures`-th failed attempt in a row (1, 2, ...)."""
        return float(min(self.backoff_max_s, self.backoff_first_s * 2 ** max(0, failures - 1)))


@dataclass(slots=True)
class PushSummary:
    batches: int = 0  # delivered in this run
    objects: int = 0  # versions confirmed in this run
    failed_attempts: int = 0
    caught_up: bool = False


def _body(obj: StoredObject) -> bytes:
    return json.dumps(obj.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def envelope(bodies: Sequence[bytes]) -> bytes:
    return b'{"objects":[' + b",".join(bodies) + b"]}"


class Pusher:
    """Pushes `target` from `objects` (the local repository), remembering in `delivery_log`."""

    def __init__(
        self,
        objects: ObjectRepository,
        target: PushTarget,
        delivery_log: DeliveryLog,
        *,
        policy: PushPolicy | None = None,
        remote: Remote | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.objects = objects
        self.target = target
        self.log = delivery_log
        self.policy = policy or PushPolicy()
        self.remote: Remote = remote or TaxiiRemote(
            target.url,
            user=target.user,
            password=target.password,
            timeout=self.policy.request_timeout_s,
        )
        self._monotonic = monotonic
        self._max_length: int | None = None
        self._resumed = False

    def close(self) -> None:
        self.remote.close()

    # -- running -------------------------------------------------------------------------------

    def push_pending(self, stop: threading.Event) -> PushSummary:
        """Deliver every version after the saved position, batch by batch, until none is left
        (`caught_up`) or `stop` is set. Failed attempts are retried with backoff."""
        summary = PushSummary()
        failures_in_row = 0
        while not stop.is_set():
            try:
                delivered = self._step(stop, summary)
            except RemoteError as exc:
                failures_in_row += 1
                summary.failed_attempts += 1
                self._give_up_or_wait(exc, failures_in_row, stop)
                continue
            if delivered is None:
                summary.caught_up = True
                return summary
            if delivered:
                failures_in_row = 0
            else:  # some versions failed or stayed pending: retry after backoff
                failures_in_row += 1
                summary.failed_attempts += 1
                self._give_up_or_wait(None, failures_in_row, stop)
        return summary

    def follow(self, stop: threading.Event) -> None:
        """Push new versions as they are added, until `stop` is set."""
        while not stop.is_set():
            summary = self.push_pending(stop)
            if summary.batches:
                log.info("pushed %d versions to %s", summary.objects, self.target.url)
            stop.wait(self.policy.follow_interval_s)

    def _give_up_or_wait(
        self, error: RemoteError | None, failures_in_row: int, stop: threading.Event
    ) -> None:
        what = str(error) if error else "not every version was confirmed"
        limit = self.policy.max_attempts
        if error is not None and not error.transient:
            if self.policy.stop_on_rejection:
                msg = f"push to {self.target.url} rejected: {error}"
                raise PushError(msg) from error
            delay = self.policy.backoff_max_s
        else:
            delay = self.policy.backoff(failures_in_row)
        if limit is not None and failures_in_row >= limit:
            msg = f"push to {self.target.url}: {failures_in_row} failed attempts, last: {what}"
            raise PushError(msg) from error
        log.warning("push to %s: %s; retrying in %.1f s", self.target.url, what, delay)
        stop.wait(delay)

    # -- one attempt ---------------------------------------------------------------------------

    def _step(self, stop: threading.Event, summary: PushSummary) -> bool | None:
        """One attempt on the current batch: None when there is nothing to send, True when
        the batch got delivered, False when it stays open."""
        batch, bodies = self._current_batch()
        if batch is None:
            return None
        remaining = batch.remaining
        if remaining:
            attempt = self.log.begin_attempt(batch.id, [], 0)
            try:
                confirmed = self._attempt(batch, attempt, remaining, bodies, stop)
            except RemoteError as exc:
                self.log.finish_attempt(attempt, "error", error=str(exc))
                raise
            except BaseException as exc:  # recorded, then passed on: the batch stays open
                self.log.finish_attempt(attempt, "error", error=f"{type(exc).__name__}: {exc}")
                raise
            summary.objects += len(confirmed)
            remaining = [r for r in remaining if r not in confirmed]
        if remaining:
            return False
        self.log.finish_batch(batch, self.target.collection_id, self.target.url)
        summary.batches += 1
        return True

    def _attempt(
        self,
        batch: OpenBatch,
        attempt: int,
        remaining: list[Ref],
        bodies: dict[Ref, bytes],
        stop: threading.Event,
    ) -> set[Ref]:
        """Send what is not confirmed yet (after asking the manifest, on a re-send); return
        what this attempt confirmed. The attempt's log record is finished here unless the
        remote fails (the caller records that)."""
        present: set[Ref] = set()
        if batch.attempts:
            versionless = {r[0] for r in remaining if _versionless(bodies[r])}
            present = self.remote.present(remaining, versionless)
            if present:
                self.log.confirm(batch.id, present, "present")
        refs = [r for r in remaining if r not in present]
        if not refs:
            self.log.finish_attempt(attempt, "present", error=f"{len(present)} already present")
            return present
        payload = envelope([bodies[r] for r in refs])
        self.log.set_sent(attempt, refs, len(payload))
        status = self._poll(self.remote.add(payload), stop)
        confirmed = _succeeded(status, refs)
        failed = list(status.failures)
        if not status.complete:
            outcome = "stopped" if stop.is_set() else "pending"
        else:
            outcome = "complete" if len(confirmed) == len(refs) else "partial"
        self.log.finish_attempt(
            attempt,
            outcome,
            status_id=status.id,
            status=status.status,
            counts=status.counts,
            failures=failed,
            error=f"{len(present)} already present" if present else None,
        )
        if confirmed:
            self.log.confirm(batch.id, confirmed, "accepted")
        if failed:
            log.warning(
                "push to %s: %d of %d versions failed (status %s), first: %s",
                self.target.url,
                len(failed),
                len(refs),
                status.id,
                failed[0],
            )
        return confirmed | present

    def _poll(self, status: RemoteStatus, stop: threading.Event) -> RemoteStatus:
        deadline = self._monotonic() + self.policy.status_timeout_s
        delay = self.policy.status_poll_first_s
        while not status.complete and not stop.is_set():
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                break
            if stop.wait(min(delay, remaining)):
                break
            status = self.remote.status(status.id)
            delay = min(delay * 2, self.policy.backoff_max_s)
        return status

    # -- reading the local side ----------------------------------------------------------------

    def _current_batch(self) -> tuple[OpenBatch | None, dict[Ref, bytes]]:
        local, remote = self.target.collection_id, self.target.url
        batch = self.log.open_batch(local, remote)
        if batch is not None:
            if not self._resumed and self.log.interrupt_dangling(batch.id):
                log.warning("push to %s: resuming batch %d after a crash", remote, batch.id)
            self._resumed = True
            objects = self._read(batch.start_after, len(batch.refs))
            if [_ref(o) for o in objects] == batch.refs:
                return batch, {_ref(o): _body(o) for o in objects}
            log.warning("push to %s: batch %d changed locally; re-reading it", remote, batch.id)
            self.log.supersede_batch(batch.id)
        self._resumed = True
        start = self.log.position(local, remote)
        objects = self._read(start, self.policy.batch_max_objects)
        if not objects:
            return None, {}
        chosen = self._fit(objects)
        batch = self.log.begin_batch(
            local, remote, start, chosen[-1].date_added, [_ref(o) for o in chosen]
        )
        return batch, {_ref(o): _body(o) for o in chosen}

    def _read(self, after: dt.datetime | None, limit: int) -> list[StoredObject]:
        query = ObjectQuery(versions=("all",), added_after=after)
        return self.objects.page(self.target.collection_id, query, limit=limit).objects

    def _fit(self, objects: list[StoredObject]) -> list[StoredObject]:
        """The longest prefix whose envelope fits the remote's max_content_length."""
        if self._max_length is None:
            self._max_length = self.remote.max_content_length()
        size = _ENVELOPE_OVERHEAD
        chosen: list[StoredObject] = []
        for obj in objects:
            size += len(_body(obj)) + (1 if chosen else 0)
            if size > self._max_length:
                break
            chosen.append(obj)
        if not chosen:
            msg = (
                f"version {_ref(objects[0])} is larger ({len(_body(objects[0]))} bytes) than"
                f" the remote accepts (max_content_length {self._max_length})"
            )
            self._max_length = None  # read again next time: the remote may raise its limit
            raise RemoteError(msg, transient=False, http_status=413)
        return chosen


def _ref(obj: StoredObject) -> Ref:
    return (obj.id, obj.version)


def _succeeded(status: RemoteStatus, sent: list[Ref]) -> set[Ref]:
    """The sent versions the status confirms. A complete status whose counts say everything
    succeeded confirms everything even when it leaves out the (optional) success details."""
    if (
        status.complete
        and status.failure == 0
        and status.pending == 0
        and status.success == status.total == len(sent)
    ):
        return set(sent)
    by_key = {ref_key(r): r for r in sent}
    return {by_key[k] for k in map(ref_key, status.successes) if k in by_key}


def _versionless(body: bytes) -> bool:
    """An object without `modified` or `created` (a cyber observable): servers version it by
    their own clock, so only its id can be looked for."""
    obj = json.loads(body)
    return "modified" not in obj and "created" not in obj
