"""Fixtures of the fault tests: one three-broker cluster for the whole package (a start costs
about 15 s), healed after every test; fresh topics with a replication factor of 3 and
`min.insync.replicas` 2 per test; the simulated hour's files; and a way to print count lines
whatever pytest's capture mode."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from fenghuo.simulate import SimulationConfig, run_simulate
from tests.kafka_cluster import KafkaCluster

REPLICATION_FACTOR = 3
MIN_INSYNC_REPLICAS = 2


@pytest.fixture(scope="package")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    with KafkaCluster(tmp_path_factory.mktemp("kafka-cluster")) as cluster:
        yield cluster


@pytest.fixture
def cluster(kafka_cluster: KafkaCluster) -> Iterator[KafkaCluster]:
    """The package's cluster, whole again (every node up, every replica in sync) after the test."""
    kafka_cluster.heal()
    yield kafka_cluster
    kafka_cluster.heal()


@pytest.fixture
def cluster_topics(cluster: KafkaCluster) -> Topics:
    """Fenghuo's topics under a prefix of this test's, created as an operator of a cluster would."""
    topics = Topics(prefix=f"f{uuid.uuid4().hex[:8]}.")
    ensure_topics(
        cluster.bootstrap,
        topics,
        replication_factor=REPLICATION_FACTOR,
        min_insync_replicas=MIN_INSYNC_REPLICAS,
    )
    cluster.wait_isr_full(topics.all())
    return topics


@pytest.fixture(scope="package")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default simulated hour (seed 7) as files: inventory.yaml, vpcflow/flows.log..."""
    root = tmp_path_factory.mktemp("simulated")
    run_simulate(SimulationConfig(), root)
    return root


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    """Print a line to the terminal even while pytest captures output (without -s)."""

    def say(line: str) -> None:
        with capsys.disabled():
            print(f"\n{line}")

    return say
