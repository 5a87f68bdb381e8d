"""Every object in deploy/k8s and both compose files validate against their schemas, offline;
and the validators do refuse a broken object (so a pass means something)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy import manifests as m
from tests.deploy.schemas import (
    compose_schema,
    crd_schemas,
    validate_builtin,
    validate_compose,
    validate_custom,
)

CUSTOM_GROUPS = ("kafka.strimzi.io/", "flink.apache.org/")


def _split() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    builtin: list[dict[str, Any]] = []
    custom: list[dict[str, Any]] = []
    for _, doc in m.k8s_documents():
        (custom if str(doc["apiVersion"]).startswith(CUSTOM_GROUPS) else builtin).append(doc)
    return builtin, custom


def test_builtin_objects_validate_against_the_kubernetes_schemas() -> None:
    builtin, _ = _split()
    kinds = sorted({str(doc["kind"]) for doc in builtin})
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "Namespace",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Secret",
        "Service",
        "StatefulSet",
    ]
    for doc in builtin:
        validate_builtin(doc)


def test_custom_resources_validate_against_the_operator_crds() -> None:
    _, custom = _split()
    kinds = sorted({str(doc["kind"]) for doc in custom})
    assert kinds == ["FlinkDeployment", "Kafka", "KafkaNodePool", "KafkaTopic"]
    assert {kind for _, kind in crd_schemas()} == set(kinds)
    for doc in custom:
        validate_custom(doc)


def test_the_validators_refuse_broken_objects() -> None:
    deployment = copy.deepcopy(m.k8s_one("Deployment", "fenghuo-api"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"][
        "port"
    ] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_builtin(deployment)
    typo = copy.deepcopy(m.k8s_one("Deployment", "fenghuo-api"))
    typo["spec"]["replica"] = 2  # strict: an unknown field is an error
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_builtin(typo)
    flink = copy.deepcopy(m.k8s_one("FlinkDeployment", "fenghuo-stream"))
    flink["spec"]["job"]["upgradeMode"] = "whenever"
    with pytest.raises(jsonschema.ValidationError):
        validate_custom(flink)
    topic = copy.deepcopy(m.k8s_objects("KafkaTopic")[0])
    topic["spec"]["partitions"] = "twelve"
    with pytest.raises(jsonschema.ValidationError):
        validate_custom(topic)


@pytest.mark.parametrize("path", m.COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_files_validate_against_the_compose_spec(path: Path) -> None:
    validate_compose(path)


def test_the_compose_schema_refuses_a_broken_service() -> None:
    validator = jsonschema.validators.validator_for(compose_schema())(compose_schema())
    assert validator.is_valid(m.compose())
    broken = m.compose()
    broken["services"]["api"]["healthcheck"]["interval"] = ["15s"]
    assert not validator.is_valid(broken)
    unknown = m.compose()
    unknown["services"]["api"]["healtcheck"] = unknown["services"]["api"].pop("healthcheck")
    assert not validator.is_valid(unknown)
