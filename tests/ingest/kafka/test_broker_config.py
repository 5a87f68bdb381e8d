"""server.properties of a cluster node: roles, voters and replication follow the layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from fenghuo.errors import ConfigError
from fenghuo.ingest.kafka.broker_config import ClusterNode, cluster_server_properties


def parse(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if not line.startswith("#"))
    return {k: v for k, v in pairs}


NODES = [ClusterNode(1, 9192, 9193), ClusterNode(2, 9292), ClusterNode(3, 9392)]


def test_controller_and_broker_only_nodes() -> None:
    one = parse(cluster_server_properties("127.0.0.1", NODES[0], NODES, Path("/d1")))
    two = parse(
        cluster_server_properties(
            "127.0.0.1", NODES[1], NODES, Path("/d2"), {"controlled.shutdown.enable": "false"}
        )
    )
    assert one["process.roles"] == "broker,controller"
    assert one["listeners"] == "PLAINTEXT://127.0.0.1:9192,CONTROLLER://127.0.0.1:9193"
    assert two["process.roles"] == "broker"
    assert two["listeners"] == "PLAINTEXT://127.0.0.1:9292"
    assert one["controller.quorum.voters"] == two["controller.quorum.voters"] == "1@127.0.0.1:9193"
    assert two["node.id"] == "2"
    assert two["log.dirs"] == "/d2"
    for props in (one, two):
        assert props["offsets.topic.replication.factor"] == "3"
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["transaction.state.log.min.isr"] == "2"
    assert two["controlled.shutdown.enable"] == "false"


def test_a_cluster_without_a_controller_is_refused() -> None:
    brokers = [ClusterNode(1, 9192), ClusterNode(2, 9292)]
    with pytest.raises(ConfigError, match="controller"):
        cluster_server_properties("127.0.0.1", brokers[0], brokers, Path("/d"))
