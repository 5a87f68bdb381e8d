"""Embedded broker fixtures: one Apache Kafka node per test session (in a temporary data dir),
a fresh topic prefix per test.

Tests that use `broker` (directly or through `topics`) get the `kafka` marker automatically, so
`pytest -m "not kafka"` runs everything else.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.topics import Topics, ensure_topics


@pytest.fixture(scope="session")
def broker() -> Iterator[KafkaBroker]:
    """A running embedded broker with the default topics created; stopped after the session."""
    with KafkaBroker() as b:
        ensure_topics(b.bootstrap, Topics())
        yield b


@pytest.fixture
def topics(broker: KafkaBroker) -> Topics:
    """Topics under a prefix unique to this test (already created), so tests never share data."""
    t = Topics(prefix=f"t{uuid4().hex[:8]}.")
    ensure_topics(broker.bootstrap, t)
    return t


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "broker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)
