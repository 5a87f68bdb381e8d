"""Topic names (see CONTRACTS.md, "Kafka topics") and idempotent topic creation."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic  # where confluent_kafka.admin gets it (typed there)

from fenghuo.errors import BrokerUnavailableError, IngestError
from fenghuo.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "fenghuo."


class TopicError(IngestError):
    """The broker answered but refused to create a topic (bad name, config, partitions...)."""


@dataclass(frozen=True)
class Topics:
    """Fenghuo's topic names under one prefix; a per-test prefix isolates tests on one broker."""

    prefix: str = DEFAULT_PREFIX

    @property
    def hypervisor(self) -> str:
        return f"{self.prefix}telemetry.hypervisor"

    @property
    def tenant(self) -> str:
        return f"{self.prefix}telemetry.tenant"

    @property
    def network(self) -> str:
        return f"{self.prefix}telemetry.network"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}dlq"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}alerts"

    @property
    def incidents(self) -> str:
        return f"{self.prefix}incidents"

    def telemetry(self) -> tuple[str, str, str]:
        return (self.hypervisor, self.tenant, self.network)

    def all(self) -> tuple[str, ...]:
        return (*self.telemetry(), self.dlq, self.alerts, self.incidents)


def ensure_configured_topics(
    bootstrap: str, topics: Topics, settings: Settings, *, timeout: float = 15.0
) -> list[str]:
    """`ensure_topics` with the partitions, replication factor and min ISR of the settings."""
    return ensure_topics(
        bootstrap,
        topics,
        partitions=settings.topic_partitions,
        replication_factor=settings.topic_replication_factor,
        min_insync_replicas=settings.topic_min_insync_replicas,
        timeout=timeout,
    )


def ensure_topics(
    bootstrap: str,
    topics: Topics | Iterable[str],
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    min_insync_replicas: int | None = None,
    timeout: float = 15.0,
    config: Mapping[str, str] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created by this call.

    `min_insync_replicas` (the topic's `min.insync.replicas`; None: the broker's default) is
    how many replicas must hold a record before an acks=all producer, as Fenghuo's are, is told
    it is stored: with a replication factor of 3 and 2 here, one broker may die without losing
    or refusing anything, and with two down the broker refuses (NOT_ENOUGH_REPLICAS) rather than
    acknowledging a record a single disk holds. `config` adds other topic settings.

    An existing topic is left as it is (its partitions and settings are not changed). Returns
    only once the broker's metadata lists every topic, so a producer started next will find them.
    """
    if min_insync_replicas is not None and not 1 <= min_insync_replicas <= replication_factor:
        msg = (
            f"min.insync.replicas {min_insync_replicas} must be between 1 and the replication "
            f"factor {replication_factor}"
        )
        raise TopicError(msg)
    names = list(topics.all() if isinstance(topics, Topics) else topics)
    deadline = time.monotonic() + timeout
    admin = AdminClient({"bootstrap.servers": bootstrap})
    settings = dict(config or {})
    if min_insync_replicas is not None:
        settings["min.insync.replicas"] = str(min_insync_replicas)
    new = [NewTopic(n, partitions, replication_factor, config=settings) for n in sorted(set(names))]
    futures = admin.create_topics(new, request_timeout=timeout, operation_timeout=timeout)
    created: list[str] = []
    for name, fut in futures.items():
        try:
            fut.result(timeout=max(0.0, deadline - time.monotonic()))
        except KafkaException as exc:
            err: KafkaError = exc.args[0]
            if err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            if err.code() in (KafkaError._TIMED_OUT, KafkaError._TRANSPORT):
                msg = f"broker {bootstrap} did not create topic {name}: {err.str()}"
                raise BrokerUnavailableError(msg) from exc
            msg = f"cannot create topic {name} on {bootstrap}: {err.str()}"
            raise TopicError(msg) from exc
        except concurrent.futures.TimeoutError as exc:
            msg = f"broker {bootstrap} did not answer a topic creation in {timeout:.1f} s"
            raise BrokerUnavailableError(msg) from exc
        else:
            created.append(name)
    _wait_listed(admin, bootstrap, set(names), deadline)
    return sorted(created)


def _wait_listed(admin: AdminClient, bootstrap: str, names: set[str], deadline: float) -> None:
    missing = set(names)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            msg = f"topics {sorted(missing)} still missing from {bootstrap}'s metadata"
            raise BrokerUnavailableError(msg)
        try:
            md = admin.list_topics(timeout=min(remaining, 2.0))
        except KafkaException:
            continue
        missing = {n for n in names if n not in md.topics or md.topics[n].error is not None}
        if not missing:
            return
        time.sleep(0.05)  # polling interval while the controller propagates the new topics


def wait_for_partitions(
    consumer: Consumer, topic: str, stop: threading.Event, who: str
) -> list[int] | None:
    """The topic's partition ids, waiting for it to exist (None if stopped first)."""
    error = "no answer"
    warned = time.monotonic()
    while not stop.is_set():
        try:
            md = consumer.list_topics(topic, timeout=2.0)
        except KafkaException as exc:
            error = str(exc)
        else:
            found = md.topics.get(topic)
            if found is not None and found.error is None and found.partitions:
                return sorted(found.partitions)
            error = str(found.error) if found is not None else "unknown topic"
        if time.monotonic() - warned > 30:
            log.warning("%s: waiting for topic %s (%s)", who, topic, error)
            warned = time.monotonic()
        stop.wait(0.2)  # polling interval while the topic is being created
    return None
