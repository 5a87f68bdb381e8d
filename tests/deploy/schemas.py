"""Offline schema validation of deploy/: built-in Kubernetes kinds with kubernetes-validate (the
Kubernetes JSON schemas it bundles, strict: unknown fields are errors), custom resources with
the OpenAPI v3 schemas of the vendored operator CRDs (deploy/k8s/schemas/), and the compose
files with the Compose Specification's schema (as shipped by check-jsonschema)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate

from tests.deploy import manifests as m

# A Kubernetes release still maintained when this was written; the manifests use only APIs GA
# long before it (apps/v1, policy/v1, v1).
KUBERNETES_VERSION = "1.34"


def validate_builtin(doc: dict[str, Any]) -> None:
    """Raise kubernetes_validate.ValidationError (or SchemaNotFoundError for an unknown kind)."""
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the served version's openAPIV3Schema, from every vendored CRD."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(m.K8S_SCHEMAS.glob("*.y*ml")):
        crd = m.load_yaml(path)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                out[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return out


def validate_custom(doc: dict[str, Any]) -> None:
    """Raise KeyError for a kind without a vendored CRD, jsonschema.ValidationError if invalid."""
    schema = crd_schemas()[(doc["apiVersion"], doc["kind"])]
    jsonschema.Draft7Validator(schema).validate(doc)


@functools.cache
def compose_schema() -> dict[str, Any]:
    ref = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema: dict[str, Any] = json.loads(ref.read_text(encoding="utf-8"))
    return schema


def validate_compose(path: Path) -> None:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    validator.validate(m.load_yaml(path))
