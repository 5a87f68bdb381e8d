"""Committed offsets are asked for again while the group coordinator moves or loads."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from fenghuo.ingest.kafka.service_consumer import committed_offsets


class Coordinator:
    """Answers `committed()` with the given errors first, then with offsets."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)
        self.calls = 0

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        self.calls += 1
        if self.errors:
            code = self.errors.pop(0)
            retriable = code != KafkaError.GROUP_AUTHORIZATION_FAILED
            raise KafkaException(KafkaError(code, "test", retriable=retriable))
        return [
            TopicPartition(tp.topic, tp.partition, 5 if tp.partition else -1001)
            for tp in partitions
        ]


def ask(consumer: Any, stop: threading.Event | None = None) -> dict[int, int] | None:
    return committed_offsets(consumer, "t", [0, 1], stop or threading.Event(), "test")


def test_not_coordinator_and_loading_are_asked_again() -> None:
    coordinator = Coordinator(KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS)
    assert ask(coordinator) == {1: 5}  # partition 0 has no committed offset
    assert coordinator.calls == 3


def test_a_stop_ends_the_wait() -> None:
    stop = threading.Event()
    stop.set()
    assert ask(Coordinator(KafkaError.NOT_COORDINATOR), stop) is None


def test_a_non_retriable_error_is_raised() -> None:
    with pytest.raises(KafkaException):
        ask(Coordinator(KafkaError.GROUP_AUTHORIZATION_FAILED))
