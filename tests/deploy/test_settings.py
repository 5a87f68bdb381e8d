"""Every FENGHUO_* variable deploy/ names is a real setting, and every container's settings
pass the Settings model's own validation (types, ranges, the store needing its URL, the
production refusal of placeholder secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.deploy import manifests as m
from tests.deploy.settings_check import (
    MENTION,
    known_names,
    setting_names,
    settings_from,
    store_backends,
)

FENGHUO_IMAGES = ("fenghuo:", "fenghuo-flink:")


def _text_files() -> list[Path]:
    files = sorted(m.DEPLOY.rglob("*"))
    return [p for p in files if p.is_file() and m.K8S_SCHEMAS not in p.parents]


def test_every_fenghuo_variable_named_in_deploy_is_a_setting() -> None:
    named: dict[str, set[str]] = {}
    for path in _text_files():
        for name in MENTION.findall(path.read_text(encoding="utf-8")):
            named.setdefault(name, set()).add(str(path.relative_to(m.ROOT)))
    unknown = {name: sorted(where) for name, where in named.items() if name not in known_names()}
    assert not unknown, f"not settings (fenghuo/settings.py): {unknown}"
    # The check saw the files that matter (not an empty scan passing vacuously).
    assert {"FENGHUO_KAFKA_BOOTSTRAP", "FENGHUO_STORE", "FENGHUO_API_PORT"} <= set(named)


def test_the_name_check_refuses_a_misspelt_setting() -> None:
    assert "FENGHUO_KAFKA_BOOTSTRAP" in setting_names()
    assert "FENGHUO_KAFKA_BOOTSTRAPS" not in known_names()
    assert MENTION.findall("x FENGHUO_API_PORT=1 FENGHUO_TOPIC_PARTITION") == [
        "FENGHUO_API_PORT",
        "FENGHUO_TOPIC_PARTITION",
    ]


def _fenghuo_services() -> dict[str, dict[str, str]]:
    services = m.compose()["services"]
    return {
        name: m.compose_env(svc)
        for name, svc in services.items()
        if str(svc.get("image", "")).startswith(FENGHUO_IMAGES)
    }


def test_compose_services_settings_are_valid_in_production() -> None:
    services = _fenghuo_services()
    assert set(services) == {"api", "correlator", "archive", "feed", "jobmanager", "taskmanager"}
    for name, env in services.items():
        settings = settings_from(env)
        assert settings.environment == "production", name
        assert settings.kafka_bootstrap.count(":9092") == 3, name
        assert settings.inventory is not None, name


def test_k8s_settings_are_valid_in_production() -> None:
    env = m.settings_configmap()
    secret = m.k8s_one("Secret", "fenghuo-secrets")["stringData"]
    # The example Secret holds the placeholder on purpose: production refuses it.
    with pytest.raises(ValidationError, match="FENGHUO_PSEUDONYM_KEY"):
        settings_from(env | secret)
    real = {key: m.STAND_IN_SECRET for key in secret}
    settings = settings_from(env | real)
    assert settings.environment == "production"
    assert settings.api_host == "0.0.0.0"


def test_compose_requires_the_pseudonym_key() -> None:
    raw = m.compose()["services"]["api"]["environment"]["FENGHUO_PSEUDONYM_KEY"]
    assert raw.startswith("${PSEUDONYM_KEY:?"), "compose must refuse to start without a key"


def test_the_store_backend_named_in_deploy_exists() -> None:
    values = {env["FENGHUO_STORE"] for env in _fenghuo_services().values()}
    values.add(m.settings_configmap()["FENGHUO_STORE"])
    override = m.load_yaml(m.COMPOSE_FILES[1])
    values.add(override["x-elasticsearch-store"]["FENGHUO_STORE"])
    assert values == {"opensearch", "elasticsearch"}
    assert values <= set(store_backends())
