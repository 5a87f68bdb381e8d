"""Topic names follow the contract; creation is idempotent."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource  # where confluent_kafka.admin gets it

from fenghuo.errors import BrokerUnavailableError
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.topics import TopicError, Topics, ensure_configured_topics, ensure_topics
from fenghuo.settings import Settings


def test_default_names_match_the_contract() -> None:
    t = Topics()
    assert t.hypervisor == "fenghuo.telemetry.hypervisor"
    assert t.tenant == "fenghuo.telemetry.tenant"
    assert t.network == "fenghuo.telemetry.network"
    assert t.dlq == "fenghuo.dlq"
    assert t.alerts == "fenghuo.alerts"
    assert t.incidents == "fenghuo.incidents"
    assert len(set(t.all())) == 6
    assert Topics("acme.").alerts == "acme.alerts"


def test_session_broker_has_the_default_topics(broker: KafkaBroker) -> None:
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=5)
    assert set(Topics().all()) <= set(md.topics)


def test_ensure_topics_is_idempotent(broker: KafkaBroker) -> None:
    t = Topics(prefix="idem.")
    assert ensure_topics(broker.bootstrap, t, partitions=2) == sorted(t.all())
    assert ensure_topics(broker.bootstrap, t, partitions=2) == []
    # one new name among existing ones: only it is created
    assert ensure_topics(broker.bootstrap, [*t.all(), "idem.extra"]) == ["idem.extra"]
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=5)
    assert all(len(md.topics[n].partitions) == 2 for n in t.all())
    assert len(md.topics["idem.extra"].partitions) == 3


def test_topics_fixture_isolates_tests(topics: Topics, broker: KafkaBroker) -> None:
    assert topics.prefix != "fenghuo."
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=5)
    assert set(topics.all()) <= set(md.topics)


def test_unreachable_broker_raises() -> None:
    with pytest.raises(BrokerUnavailableError):
        ensure_topics(f"127.0.0.1:{free_port()}", Topics(), timeout=2)


def test_min_insync_replicas_beyond_the_replication_factor_is_refused() -> None:
    with pytest.raises(TopicError, match=r"min\.insync\.replicas 2"):
        ensure_topics(f"127.0.0.1:{free_port()}", Topics(), min_insync_replicas=2)


def test_min_insync_replicas_is_set_on_the_created_topics(broker: KafkaBroker) -> None:
    t = Topics(prefix="minisr.")
    ensure_topics(broker.bootstrap, t, min_insync_replicas=1)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, t.alerts)
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    assert configs["min.insync.replicas"].value == "1"
    assert not configs["min.insync.replicas"].is_default


def test_configured_topics_take_the_settings_partitions_and_replication(
    broker: KafkaBroker,
) -> None:
    t = Topics(prefix="configured.")
    settings = Settings(topic_partitions=2, topic_replication_factor=1, topic_min_insync_replicas=1)
    assert sorted(ensure_configured_topics(broker.bootstrap, t, settings)) == sorted(t.all())
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    assert len(admin.list_topics(t.alerts, timeout=10).topics[t.alerts].partitions) == 2
    resource = ConfigResource(ConfigResource.Type.TOPIC, t.alerts)
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    assert configs["min.insync.replicas"].value == "1"


def test_a_replication_factor_the_cluster_cannot_hold_is_an_error(broker: KafkaBroker) -> None:
    settings = Settings(topic_replication_factor=3, topic_min_insync_replicas=2)
    with pytest.raises(TopicError, match="replication"):
        ensure_configured_topics(broker.bootstrap, Topics(prefix="rf3."), settings)
