"""Every container has resource requests and limits (CPU and memory), in compose and in every
Kubernetes workload and operator resource; and memory limits leave room for what runs inside."""

from __future__ import annotations

import re

from tests.deploy import manifests as m

_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "ki": 2**10, "mi": 2**20, "gi": 2**30}


def _bytes(text: str | int) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([a-zA-Z]*?)b?", str(text).strip())
    assert match, f"not a memory size: {text!r}"
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def test_every_compose_service_has_limits_and_reservations() -> None:
    for name, service in m.compose()["services"].items():
        resources = service.get("deploy", {}).get("resources", {})
        limits, reservations = resources.get("limits", {}), resources.get("reservations", {})
        assert {"cpus", "memory"} <= set(limits), name
        assert {"cpus", "memory"} <= set(reservations), name
        assert _bytes(reservations["memory"]) <= _bytes(limits["memory"]), name
        assert float(reservations["cpus"]) <= float(limits["cpus"]), name


def test_every_k8s_container_has_requests_and_limits() -> None:
    seen = 0
    for owner, spec in m.pod_specs():
        for container in spec.get("initContainers", []) + spec["containers"]:
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(kind, {})), (owner, kind)
            assert _bytes(resources["requests"]["memory"]) <= _bytes(resources["limits"]["memory"])
            seen += 1
    assert seen == 5  # api, correlator, archive, feed, opensearch


def test_operator_resources_have_requests_and_limits() -> None:
    pool = m.k8s_one("KafkaNodePool", "dual-role")["spec"]["resources"]
    assert {"cpu", "memory"} <= set(pool["requests"]) & set(pool["limits"])
    # The broker's heap stays below its container's memory (page cache needs the rest).
    heap = m.k8s_one("KafkaNodePool", "dual-role")["spec"]["jvmOptions"]["-Xmx"]
    assert _bytes(heap) <= _bytes(pool["limits"]["memory"]) / 2
    operators = m.k8s_one("Kafka", "fenghuo")["spec"]["entityOperator"]
    for name in ("topicOperator", "userOperator"):
        resources = operators[name]["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"]), name
    (flink,) = m.k8s_objects("FlinkDeployment")
    for role in ("jobManager", "taskManager"):
        assert {"cpu", "memory"} <= set(flink["spec"][role]["resource"]), role


def test_search_heap_is_half_the_container_memory_at_most() -> None:
    (opensearch,) = [s for o, s in m.pod_specs() if o == "opensearch"]
    (container,) = opensearch["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    heap = re.search(r"-Xmx(\S+)", env["OPENSEARCH_JAVA_OPTS"])
    assert heap
    assert _bytes(heap.group(1)) <= _bytes(container["resources"]["limits"]["memory"]) / 2
    search = m.compose()["services"]["search"]
    heap = re.search(r"-Xmx(\S+)", search["environment"]["OPENSEARCH_JAVA_OPTS"])
    assert heap
    assert _bytes(heap.group(1)) <= _bytes(search["deploy"]["resources"]["limits"]["memory"]) / 2


def test_flink_memory_fits_its_containers() -> None:
    env = m.compose_env(m.compose()["services"]["jobmanager"])
    properties = dict(line.split(": ", 1) for line in env["FLINK_PROPERTIES"].splitlines())
    for role, service in (("jobmanager", "jobmanager"), ("taskmanager", "taskmanager")):
        process = _bytes(properties[f"{role}.memory.process.size"])
        limit = _bytes(m.compose()["services"][service]["deploy"]["resources"]["limits"]["memory"])
        assert process <= limit, role


def test_the_size_parser() -> None:
    assert _bytes("4Gi") == 4 * 2**30
    assert _bytes("1536m") == 1.536e9
    assert _bytes("2g") == 2e9
    assert _bytes("512Mi") == 512 * 2**20
