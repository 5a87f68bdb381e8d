"""Publishing to Kafka with confluent-kafka (librdkafka); see bench/README.md for why this client.

`Publisher.publish` returns only once the broker has acknowledged every message of the call
(idempotent producer, acks=all), so a caller may answer "accepted" as soon as it returns.

Thread safety: one Publisher may be shared by many threads (e.g. a FastAPI app calling publish()
from its threadpool). librdkafka's producer is thread-safe; each call tracks its own messages
through its own delivery-report counter, and a single background thread serves the reports.
Call close() once, after the last publish() has returned (e.g. on application shutdown).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from fenghuo.errors import BrokerUnavailableError

log = logging.getLogger(__name__)

Header = tuple[str, bytes]
_WARN_EVERY = 60.0

DEFAULT_CONFIG: Mapping[str, Any] = {
    "enable.idempotence": True,  # implies acks=all; retries cannot duplicate or reorder
    "acks": "all",
    "linger.ms": 10,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    # Java's partitioner: a key lands on the same partition whichever client produced it.
    "partitioner": "murmur2_random",
}


@dataclass(frozen=True, slots=True)
class OutMessage:
    """One record to publish. The key decides the partition (and so per-key ordering)."""

    topic: str
    key: bytes | None
    value: bytes | None  # None: a tombstone (deletes the key on a compacted topic)
    headers: tuple[Header, ...] = ()


class PublishError(BrokerUnavailableError):
    """Some messages of a publish() call were not acknowledged; counts say how many."""

    def __init__(
        self, topics: str, sent: int, acked: int, failed: int, pending: int, reasons: Counter[str]
    ) -> None:
        self.sent = sent
        self.acked = acked
        self.failed = failed
        self.pending = pending  # neither acknowledged nor failed when the call gave up
        self.reasons = dict(reasons)
        why = ", ".join(f"{k} x{v}" for k, v in reasons.most_common(3)) or "timeout"
        super().__init__(
            f"publish to {topics}: {failed + pending} of {sent} messages not acknowledged "
            f"({failed} failed, {pending} still pending; {why})"
        )


class _Tracker:
    """Delivery-report counter for one publish() call."""

    __slots__ = ("acked", "done", "failed", "lock", "reasons", "sealed", "total")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.total = 0  # known once sealed
        self.sealed = False
        self.acked = 0
        self.failed = 0
        self.reasons: Counter[str] = Counter()

    def report(self, err: KafkaError | None, msg: Message) -> None:
        with self.lock:
            if err is None:
                self.acked += 1
            else:
                self.failed += 1
                self.reasons[err.name()] += 1
            self._check()

    def local_failure(self, reason: str) -> None:
        """A message librdkafka refused outright (no report will come for it)."""
        with self.lock:
            self.failed += 1
            self.reasons[reason] += 1

    def seal(self, total: int) -> None:
        """Every message is handed over or refused: `done` now means all reports are in."""
        with self.lock:
            self.total = total
            self.sealed = True
            self._check()

    def _check(self) -> None:
        if self.sealed and self.acked + self.failed == self.total:
            self.done.set()


class Publisher:
    """An idempotent, acknowledged Kafka publisher; close() it (or use it as a context manager)."""

    def __init__(
        self,
        bootstrap: str,
        client_id: str = "fenghuo",
        *,
        delivery_timeout: float = 10.0,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        """`delivery_timeout`: how long librdkafka keeps retrying a message before failing it.

        `config` entries override the defaults (librdkafka property names).
        """
        self.delivery_timeout = delivery_timeout
        self._fatal: KafkaError | None = None
        self._last_warned: dict[int, float] = {}
        conf: dict[str, Any] = {
            **DEFAULT_CONFIG,
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "message.timeout.ms": int(delivery_timeout * 1000),
            "logger": RdkafkaLog(logging.getLogger(f"{__name__}.rdkafka")),
            "error_cb": self._on_error,
        }
        conf.update(config or {})
        self._producer = Producer(conf)
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._serve, name="fenghuo-kafka-dr", daemon=True)
        self._poller.start()

    def publish(self, messages: Iterable[OutMessage], timeout: float | None = None) -> int:
        """Publish and wait until every message is acknowledged; return how many were.

        Raises PublishError (a BrokerUnavailableError) if any delivery failed or `timeout`
        (default: the delivery timeout + 5 s) passed first. Messages still pending then may yet
        be delivered: a caller that retries must tolerate duplicates (ids are deterministic).
        """
        if self._closed.is_set():
            msg = "publisher is closed"
            raise BrokerUnavailableError(msg)
        if self._fatal is not None:
            msg = f"producer hit a fatal error, create a new Publisher: {self._fatal.str()}"
            raise BrokerUnavailableError(msg)
        limit = self.delivery_timeout + 5.0 if timeout is None else timeout
        deadline = time.monotonic() + limit
        tracker = _Tracker()
        total = 0
        topics: set[str] = set()
        for m in messages:
            total += 1
            topics.add(m.topic)
            self._produce(m, tracker, deadline)
        tracker.seal(total)
        # Send now instead of waiting out linger.ms: the caller is blocked on the acknowledgement.
        self._producer.flush(0)
        tracker.done.wait(max(0.0, deadline - time.monotonic()))
        with tracker.lock:
            acked, failed, reasons = tracker.acked, tracker.failed, Counter(tracker.reasons)
        if acked != total:
            where = ", ".join(sorted(topics))
            raise PublishError(where, total, acked, failed, total - acked - failed, reasons)
        return acked

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for every outstanding message of every caller; return how many are left."""
        return int(self._producer.flush(timeout))

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is outstanding (up to `timeout`), then release the client; idempotent."""
        if self._closed.is_set():
            return
        left = self.flush(timeout)
        if left:
            log.warning("closing the Kafka publisher with %d messages undelivered", left)
        self._closed.set()
        self._poller.join()
        self._producer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _produce(self, m: OutMessage, tracker: _Tracker, deadline: float) -> None:
        """Hand one message to librdkafka, waiting for queue space until the deadline."""
        while True:
            try:
                self._producer.produce(
                    m.topic,
                    m.value,
                    m.key,
                    on_delivery=tracker.report,
                    headers=list(m.headers) if m.headers else None,
                )
            except BufferError:
                if time.monotonic() >= deadline:
                    tracker.local_failure("_QUEUE_FULL")
                    return
                self._producer.poll(0.05)  # serve reports to free queue space
                continue
            except KafkaException as exc:  # e.g. message too large, unknown topic, fatal state
                tracker.local_failure(exc.args[0].name())
                return
            return

    def _serve(self) -> None:
        """Serve delivery reports, errors and logs until close()."""
        while not self._closed.is_set():
            self._producer.poll(0.1)

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err
            log.error("Kafka producer fatal error: %s", err.str())
            return
        # Transport errors repeat on every reconnect while a broker is down; librdkafka retries
        # by itself, so warn once per error code and minute.
        now = time.monotonic()
        if now - self._last_warned.get(err.code(), -_WARN_EVERY) >= _WARN_EVERY:
            self._last_warned[err.code()] = now
            log.warning("Kafka producer error (retrying): %s", err.str())
        else:
            log.debug("Kafka producer error (retrying): %s", err.str())


class RdkafkaLog:
    """Routes librdkafka's log lines to Python logging.

    Connection failures ("FAIL") are logged at DEBUG: error_cb already reports them, rate-limited.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def log(self, level: int, fmt: str, *args: object) -> None:
        if args and args[0] == "FAIL":
            level = logging.DEBUG
        self._logger.log(level, fmt, *args)
