"""Ports and health checks in deploy/ agree with the code: the API's port from the settings, the
probe paths from the health router (fenghuo/api/routes/health.py), liveness on /healthz and
readiness on /readyz."""

from __future__ import annotations

import json
from typing import Any

from fenghuo.api.routes.health import router
from fenghuo.settings import Settings
from tests.deploy import manifests as m

ROUTES = {getattr(route, "path", "") for route in router.routes}
LIVENESS, READINESS = "/healthz", "/readyz"


def test_the_health_routes_exist_in_the_code() -> None:
    assert {LIVENESS, READINESS} <= ROUTES


def _api_port_default() -> int:
    default = Settings.model_fields["api_port"].default
    assert isinstance(default, int)
    return default


def test_platform_image_exposes_and_checks_the_api_port() -> None:
    image = m.dockerfile("platform.Dockerfile")
    port = int(image.env()["FENGHUO_API_PORT"])
    assert port == _api_port_default()
    assert image.all("EXPOSE") == [str(port)]
    (check,) = image.all("HEALTHCHECK")
    route = json.loads(check.split("CMD", 1)[1])[-1]
    assert route == LIVENESS
    assert image.env()["FENGHUO_API_HOST"] == "0.0.0.0"  # reachable from outside the container


def test_compose_api_port_and_readiness_check() -> None:
    api = m.compose()["services"]["api"]
    env = m.compose_env(api)
    port = int(env["FENGHUO_API_PORT"])
    assert [p.rsplit(":", 1)[1] for p in api["ports"]] == [str(port)]
    test = api["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "/opt/fenghuo/healthcheck.py"]
    assert test[3] == READINESS
    # Services without HTTP turn the image's check off rather than fail it forever.
    for name in ("correlator", "archive", "feed"):
        assert m.compose()["services"][name]["healthcheck"] == {"disable": True}, name


def test_compose_waits_for_health_before_starting_dependants() -> None:
    services = m.compose()["services"]
    for name in ("api", "correlator", "archive", "feed"):
        depends = services[name]["depends_on"]
        assert depends["search"]["condition"] == "service_healthy", name
        assert depends["kafka-topics"]["condition"] == "service_completed_successfully", name
        assert "healthcheck" in services["search"]


def _api_container() -> dict[str, Any]:
    deployment = m.k8s_one("Deployment", "fenghuo-api")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def test_k8s_api_probes_and_port() -> None:
    container = _api_container()
    port = int(m.settings_configmap()["FENGHUO_API_PORT"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": port}
    probes = {kind: container[kind]["httpGet"] for kind in ("readinessProbe", "livenessProbe")}
    assert probes["readinessProbe"] == {"path": READINESS, "port": "http"}
    assert probes["livenessProbe"] == {"path": LIVENESS, "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] in ROUTES


def test_k8s_service_reaches_the_api_port() -> None:
    service = m.k8s_one("Service", "fenghuo-api")
    deployment = m.k8s_one("Deployment", "fenghuo-api")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == "http"
    assert port["port"] == int(m.settings_configmap()["FENGHUO_API_PORT"])
