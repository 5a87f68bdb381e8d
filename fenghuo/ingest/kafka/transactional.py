"""All-or-nothing publishing: each `publish()` call is one Kafka transaction (the ingest gateway).

Why: an acknowledged-or-not producer cannot promise "nothing of a refused request is stored". When
a delivery times out, librdkafka may already have written the records ("possibly persisted"), so a
sender that resends after a 503 stored them twice. In a transaction the records of a request
become visible to `read_committed` consumers (every consumer of the telemetry topics) only at
commit; a failed or timed-out request is aborted and its records are never seen.

- `publish()` returns only after `commit_transaction` succeeded; any failure or timeout aborts
  (best effort, bounded) and raises `BrokerUnavailableError` (the gateway's 503).
- A producer whose transaction failed is closed and a new one created on the next call, under
  the same `transactional.id`: its `init_transactions` fences the old one (nothing late of it can
  be written) and makes the coordinator abort whatever the old one left open. So a fatal error
  (e.g. a fenced or expired producer) never leaves the gateway answering 503 until a restart.
- A transactional producer carries one transaction at a time: a small pool of producers (one
  slot each, own `transactional.id`) lets that many requests publish at once; more wait for a
  slot until their deadline.
- `transactional.id` = `<prefix>-<host>-<pid>-<slot>`: unique per process, so gateways on many
  hosts or workers never fence each other, and stable for the life of the process, so a
  re-created producer fences its failed predecessor. A transaction left open by a process that
  died is aborted by the coordinator after `transaction.timeout.ms` (twice the delivery timeout
  here); until then `read_committed` readers of its partitions wait, they lose nothing.
- The one case left ambiguous: the commit request reached the coordinator but its answer did not
  come back within the deadline. The abort then fails (the commit is under way) and the request is
  answered 503 although its records become visible; this needs the broker to fail exactly between
  receiving and answering the commit.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from confluent_kafka import KafkaError, KafkaException, Producer

from fenghuo.errors import BrokerUnavailableError
from fenghuo.ingest.kafka.producer import DEFAULT_CONFIG, OutMessage, RdkafkaLog

log = logging.getLogger(__name__)

# Bounds on the abort of a failed transaction: it is best effort (the next producer's
# init_transactions aborts what is left open), so it gets what is left of the request's deadline,
# at least ABORT_MIN_S and at most ABORT_MAX_S.
ABORT_MIN_S = 0.5
ABORT_MAX_S = 3.0


class TransactionError(BrokerUnavailableError):
    """A transaction did not commit; nothing of it is visible to read_committed consumers."""


def transactional_id_prefix(prefix: str) -> str:
    """`<prefix>-<host>-<pid>`: unique per gateway process (see the module docstring)."""
    return f"{prefix}-{socket.gethostname()}-{os.getpid()}"


class _Slot:
    """One transactional producer, created on demand and replaced after a failure."""

    def __init__(self, transactional_id: str, config: Mapping[str, Any]) -> None:
        self.transactional_id = transactional_id
        self._config = config
        self._producer: Producer | None = None

    def publish(self, messages: Iterable[OutMessage], deadline: float) -> int:
        producer = self._ready(deadline)
        try:
            producer.begin_transaction()
            count = 0
            for m in messages:
                _produce(producer, m, deadline)
                count += 1
            producer.commit_transaction(_remaining(deadline))
        except KafkaException as exc:  # a refused message, a failed delivery, a timeout
            self._abort(producer, deadline)
            raise TransactionError(_describe("publish", exc)) from None
        except BaseException:
            self._abort(producer, deadline)
            raise
        producer.poll(0)  # serve queued logs and error callbacks
        return count

    def close(self) -> None:
        # A kept producer has no transaction open (a failed one was discarded): closes at once.
        if self._producer is not None:
            self._producer.close()
            self._producer = None

    def _ready(self, deadline: float) -> Producer:
        """The slot's producer, created and registered with the coordinator if need be."""
        if self._producer is not None:
            return self._producer
        producer = Producer({**self._config, "transactional.id": self.transactional_id})
        try:
            producer.init_transactions(_remaining(deadline))
        except KafkaException as exc:
            self._discard(producer)
            raise TransactionError(_describe("init", exc)) from None
        self._producer = producer
        return producer

    def _abort(self, producer: Producer, deadline: float) -> None:
        """Abort (bounded), then drop the producer: the next call starts with a fresh one."""
        try:
            producer.abort_transaction(min(max(_remaining(deadline), ABORT_MIN_S), ABORT_MAX_S))
        except KafkaException as exc:
            log.warning(
                "%s: abort failed (%s); the next producer's init aborts what is left open",
                self.transactional_id,
                exc.args[0].str(),
            )
        self._discard(producer)

    def _discard(self, producer: Producer) -> None:
        if producer is self._producer:
            self._producer = None
        # Nothing of a failed transaction may be sent late: drop what is queued, then close.
        try:
            producer.purge(in_queue=True, in_flight=True, blocking=False)
            producer.flush(0)
        except KafkaException as exc:  # a producer in a fatal state refuses even these
            log.debug("%s: purge on discard: %s", self.transactional_id, exc.args[0].str())
        # close() aborts the open transaction and flushes without a bound, and hangs on a
        # producer in a fatal state: off the request path, which the successor has fenced.
        threading.Thread(
            target=producer.close, name=f"close-{self.transactional_id}", daemon=True
        ).start()


class TransactionalPublisher:
    """A MessageSink whose every publish() is one transaction; close() it after the last call."""

    def __init__(
        self,
        bootstrap: str,
        transactional_id: str,
        *,
        client_id: str = "fenghuo-gateway",
        delivery_timeout: float = 10.0,
        producers: int = 2,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        """`transactional_id`: the prefix of the slots' ids (`<id>-<slot>`), unique per process
        (`transactional_id_prefix`); `producers`: how many requests may publish at once."""
        if producers < 1:
            msg = f"a transactional publisher needs at least one producer, not {producers}"
            raise ValueError(msg)
        delivery_ms = int(delivery_timeout * 1000)
        conf: dict[str, Any] = {
            **DEFAULT_CONFIG,
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "linger.ms": 5,  # commit_transaction sends at once; a short linger only batches
            "message.timeout.ms": delivery_ms,
            # Must cover a whole request; a transaction left open by a dead process blocks
            # read_committed readers of its partitions this long before the coordinator aborts it.
            "transaction.timeout.ms": 2 * delivery_ms,
            "logger": RdkafkaLog(logging.getLogger(f"{__name__}.rdkafka")),
        }
        conf.update(config or {})
        self._free: queue.Queue[_Slot] = queue.Queue()
        self._slots = [_Slot(f"{transactional_id}-{i}", conf) for i in range(producers)]
        for slot in self._slots:
            self._free.put(slot)
        self._closed = threading.Event()

    def publish(self, messages: Iterable[OutMessage], timeout: float) -> int:
        """Publish `messages` in one transaction within `timeout` seconds; return how many.

        Raises TransactionError (a BrokerUnavailableError) if it did not commit: then none of
        them is visible to read_committed consumers, and a resend cannot duplicate them.
        """
        if self._closed.is_set():
            msg = "publisher is closed"
            raise BrokerUnavailableError(msg)
        deadline = time.monotonic() + timeout
        try:
            slot = self._free.get(timeout=timeout)
        except queue.Empty:
            msg = f"no transactional producer free within {timeout:g} s; nothing was published"
            raise TransactionError(msg) from None
        try:
            return slot.publish(messages, deadline)
        finally:
            self._free.put(slot)

    def close(self) -> None:
        """Close every producer, waiting for the calls in progress; idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        for _ in self._slots:
            self._free.get().close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _produce(producer: Producer, m: OutMessage, deadline: float) -> None:
    """Hand one message to librdkafka, waiting for queue space until the deadline."""
    while True:
        try:
            producer.produce(
                m.topic, m.value, m.key, headers=list(m.headers) if m.headers else None
            )
        except BufferError:
            if time.monotonic() >= deadline:
                msg = "the producer queue stayed full until the deadline"
                raise TransactionError(msg) from None
            producer.poll(0.05)
            continue
        return


def _remaining(deadline: float) -> float:
    # librdkafka treats a zero timeout as "do not wait"; keep a sliver so the call can fail.
    return max(deadline - time.monotonic(), 0.01)


def _describe(step: str, exc: KafkaException) -> str:
    err = exc.args[0]
    if not isinstance(err, KafkaError):
        return f"transaction {step} failed: {exc}; nothing was published"
    kind = "fatal" if err.fatal() else "abortable" if err.txn_requires_abort() else "retriable"
    return f"transaction {step} failed ({kind}: {err.str()}); nothing was published"
