"""Topics in deploy/ are the code's topics (fenghuo.ingest.kafka.topics) under the default
prefix: every one declared, nothing else, with the replication that keeps acknowledged records."""

from __future__ import annotations

from fenghuo.ingest.kafka.topics import DEFAULT_PREFIX, Topics
from tests.deploy import manifests as m

EXPECTED = set(Topics(DEFAULT_PREFIX).all())


def test_the_deployments_use_the_default_prefix() -> None:
    assert m.settings_configmap()["FENGHUO_TOPIC_PREFIX"] == DEFAULT_PREFIX
    for name in ("api", "correlator", "archive", "feed", "jobmanager", "taskmanager"):
        env = m.compose_env(m.compose()["services"][name])
        assert env["FENGHUO_TOPIC_PREFIX"] == DEFAULT_PREFIX, name


def test_kafka_topics_are_exactly_the_codes_topics() -> None:
    topics = m.k8s_objects("KafkaTopic")
    names = [t["spec"]["topicName"] for t in topics]
    assert sorted(names) == sorted(EXPECTED)
    settings = m.settings_configmap()
    partitions = int(settings["FENGHUO_TOPIC_PARTITIONS"])
    assert settings["FENGHUO_TOPIC_REPLICATION_FACTOR"] == "3"
    assert settings["FENGHUO_TOPIC_MIN_INSYNC_REPLICAS"] == "2"
    for topic in topics:
        spec = topic["spec"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "fenghuo"
        assert spec["replicas"] == 3, spec["topicName"]
        assert int(spec["config"]["min.insync.replicas"]) == 2, spec["topicName"]
        assert spec["partitions"] == partitions, spec["topicName"]
        telemetry = spec["topicName"] in Topics(DEFAULT_PREFIX).telemetry()
        retention = m.compose_env(m.compose()["services"]["kafka-topics"])
        expected = retention["TELEMETRY_RETENTION_MS" if telemetry else "RETENTION_MS"]
        assert spec["config"]["retention.ms"] == int(expected), spec["topicName"]


def test_compose_creates_exactly_the_codes_topics() -> None:
    init = m.compose()["services"]["kafka-topics"]
    env = m.compose_env(init)
    telemetry, other = env["TELEMETRY_TOPICS"].split(), env["OTHER_TOPICS"].split()
    assert sorted(telemetry) == sorted(Topics(DEFAULT_PREFIX).telemetry())
    assert sorted(telemetry + other) == sorted(EXPECTED)
    assert env["REPLICATION_FACTOR"] == "3"
    assert env["MIN_INSYNC_REPLICAS"] == "2"
    api = m.compose_env(m.compose()["services"]["api"])
    # A Fenghuo process that creates a missing topic creates it the same way.
    assert api["FENGHUO_TOPIC_REPLICATION_FACTOR"] == env["REPLICATION_FACTOR"]
    assert api["FENGHUO_TOPIC_MIN_INSYNC_REPLICAS"] == env["MIN_INSYNC_REPLICAS"]
    assert env["PARTITIONS"] == api["FENGHUO_TOPIC_PARTITIONS"]
    # The script uses the variables it is given (not a second, hard-coded list).
    script = "\n".join(init["command"])
    variables = ("TELEMETRY_TOPICS", "OTHER_TOPICS", "PARTITIONS", "REPLICATION_FACTOR")
    for variable in (*variables, "MIN_INSYNC_REPLICAS", "TELEMETRY_RETENTION_MS", "RETENTION_MS"):
        assert f"$${variable}" in script


def test_brokers_refuse_what_could_lose_or_invent_topics() -> None:
    compose = m.compose()
    brokers = [
        s for n, s in compose["services"].items() if n.startswith("kafka-") and n[-1].isdigit()
    ]
    assert len(brokers) == 3
    for broker in brokers:
        env = m.compose_env(broker)
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    kafka = m.k8s_one("Kafka", "fenghuo")["spec"]["kafka"]["config"]
    assert kafka["min.insync.replicas"] == 2
    assert kafka["default.replication.factor"] == 3
    assert kafka["auto.create.topics.enable"] is False
    pool = m.k8s_one("KafkaNodePool", "dual-role")["spec"]
    assert pool["replicas"] == 3
    assert set(pool["roles"]) == {"controller", "broker"}
