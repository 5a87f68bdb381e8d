"""Operations over a real server: keys and the audit trail, /metrics, /readyz, the body limit
and request ids."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fenghuo.api.deps import Services
from fenghuo.ingest.kafka.broker import free_port
from fenghuo.platform import ApiServer
from fenghuo.settings import Settings
from fenghuo.store.base import AlertQuery, Scope, StoreError
from fenghuo.store.sqlite import SqliteAlerts, SqliteStore
from tests.api.seeded import SeededApi, replay_hour, seeded_api

API = "/api/v1"
OPEN = {"new", "acknowledged", "investigating"}
LIMIT = 64 * 1024  # Settings.api_max_body_bytes by default


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededApi]:
    tmp = tmp_path_factory.mktemp("ops-admin")
    with seeded_api(tmp, replay_hour(tmp)) as running:
        yield running


def create_key(
    api: SeededApi, body: dict[str, object], request_id: str | None = None
) -> dict[str, Any]:
    headers = api.auth("admin")
    if request_id:
        headers["X-Request-ID"] = request_id
    response = api.client.post(f"{API}/keys", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@contextmanager
def served(services: Services) -> Iterator[httpx.Client]:
    """Another real server (uvicorn on a loopback port) over the given services."""
    port = free_port()
    server = ApiServer(services, "127.0.0.1", port)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.stop()
        services.store.close()


# --- keys and audit -----------------------------------------------------------------------


def test_key_create_list_revoke_with_audit(api: SeededApi) -> None:
    created = create_key(
        api, {"role": "tenant_viewer", "tenant_id": "acme", "name": "portal"}, "req-keys-1"
    )
    key, token = created["key"], created["token"]
    assert key["role"] == "tenant_viewer"
    assert key["tenant_id"] == "acme"
    assert key["revoked_at"] is None
    assert token.startswith("fhk_")
    # The new key works, with its tenant's scope.
    auth = {"Authorization": f"Bearer {token}"}
    tenants = api.client.get(f"{API}/tenants", headers=auth)
    assert [t["tenant_id"] for t in tenants.json()["items"]] == ["acme"]
    # Listed without any secret.
    listed = api.get("admin", f"{API}/keys")
    assert listed.status_code == 200
    ids = [k["id"] for k in listed.json()["items"]]
    assert key["id"] in ids
    assert token.split("_")[2] not in listed.text
    assert all(set(k) == set(key) for k in listed.json()["items"])
    assert api.store.keys.verify(token) is not None
    # Revoked: the token no longer authenticates; a second revoke is a 404.
    revoked = api.client.delete(f"{API}/keys/{key['id']}", headers=api.auth("admin"))
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert api.client.get(f"{API}/tenants", headers=auth).status_code == 401
    again = api.client.delete(f"{API}/keys/{key['id']}", headers=api.auth("admin"))
    assert again.status_code == 404
    # Both changes are in the audit trail, newest first, with who, what and which request.
    entries = api.get("admin", f"{API}/audit").json()["items"]
    mine = [e for e in entries if e["target"] == f"key:{key['id']}"]
    assert [e["action"] for e in mine] == ["key.revoke", "key.create"]
    assert all(e["actor"] == "test-admin" and e["role"] == "admin" for e in mine)
    assert all(e["tenant_id"] == "acme" for e in mine)
    assert mine[1]["request_id"] == "req-keys-1"
    assert mine[1]["details"] == {"role": "tenant_viewer", "name": "portal"}


@pytest.mark.parametrize(
    "body",
    [
        {"role": "tenant_viewer"},
        {"role": "tenant_viewer", "tenant_id": "no-such-tenant"},
        {"role": "admin", "tenant_id": "acme"},
        {"role": "superuser"},
        {"role": "ingest", "name": "x" * 201},
    ],
)
def test_invalid_key_requests(api: SeededApi, body: dict[str, object]) -> None:
    before = len(api.store.keys.list())
    response = api.client.post(f"{API}/keys", json=body, headers=api.auth("admin"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert len(api.store.keys.list()) == before


@pytest.mark.parametrize("who", ["soc_analyst", "viewer:acme", "regulator", "ingest"])
def test_keys_are_for_admins_only(api: SeededApi, who: str) -> None:
    admin_key = api.store.keys.list()[0]
    calls = [
        api.client.get(f"{API}/keys", headers=api.auth(who)),
        api.client.post(f"{API}/keys", json={"role": "ingest"}, headers=api.auth(who)),
        api.client.delete(f"{API}/keys/{admin_key.id}", headers=api.auth(who)),
    ]
    assert [c.status_code for c in calls] == [403, 403, 403]
    assert api.store.keys.verify(api.tokens["admin"]) is not None


def test_audit_pages_and_tenant_scope(api: SeededApi) -> None:
    made = [
        create_key(api, {"role": "tenant_viewer", "tenant_id": t, "name": f"audit-{t}"})["key"]
        for t in ("acme", "globex", "acme")
    ]
    full = api.get("admin", f"{API}/audit", limit=500).json()
    assert full["next_cursor"] is None
    times = [e["at"] for e in full["items"]]
    assert times == sorted(times, reverse=True)
    assert full["items"][0]["target"] == f"key:{made[-1]['id']}"
    # Cursor pages of two give the same entries in the same order.
    paged, cursor = [], None
    while True:
        params: dict[str, object] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("soc_analyst", f"{API}/audit", **params).json()
        assert len(page["items"]) <= 2
        paged += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == full["items"]
    assert api.get("admin", f"{API}/audit", cursor="not-a-cursor").status_code == 400
    # A tenant viewer reads the entries about its tenant only, others' keys not at all.
    acme = api.get("viewer:acme", f"{API}/audit", limit=500)
    assert acme.status_code == 200
    expected = [e for e in full["items"] if e["tenant_id"] == "acme"]
    assert acme.json()["items"] == expected
    assert {f"key:{made[0]['id']}", f"key:{made[2]['id']}"} <= {e["target"] for e in expected}
    assert made[1]["id"] not in acme.text
    assert "globex" not in acme.text


@pytest.mark.parametrize("who", ["regulator", "ingest"])
def test_audit_refused_to_other_roles(api: SeededApi, who: str) -> None:
    assert api.get(who, f"{API}/audit").status_code == 403


# --- metrics ------------------------------------------------------------------------------


def scrape(api: SeededApi) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def test_metrics_count_requests_by_route_template(api: SeededApi) -> None:
    route = labels(method="GET", route=f"{API}/tenants/{{tenant_id}}", status="404")
    ok_route = labels(method="GET", route=f"{API}/hosts/{{host_id}}", status="200")
    before = scrape(api)
    for n in range(3):
        assert api.get("admin", f"{API}/tenants/missing-{n}").status_code == 404
    for host in ("hv-01", "hv-02"):
        assert api.get("admin", f"{API}/hosts/{host}").status_code == 200
    assert (
        api.client.get(f"{API}/tenants", headers={"Authorization": "Bearer wrong"}).status_code
        == 401
    )
    after = scrape(api)
    count = "fenghuo_http_requests_total"
    assert after[(count, route)] - before.get((count, route), 0) == 3
    assert after[(count, ok_route)] - before.get((count, ok_route), 0) == 2
    hist = "fenghuo_http_request_duration_seconds_count"
    assert after[(hist, route)] - before.get((hist, route), 0) == 3
    unauth = labels(method="GET", route=f"{API}/tenants", status="401")
    assert after[(count, unauth)] - before.get((count, unauth), 0) == 1
    failures = ("fenghuo_auth_failures_total", ())
    assert after[failures] - before.get(failures, 0) == 1
    assert ("fenghuo_auth_rate_limited_total", ()) in after
    # Ids never become label values.
    label_values = {v for _name, sample_labels in after for _k, v in sample_labels}
    assert not any("missing-" in v or "hv-0" in v for v in label_values)


def test_metrics_say_the_store_is_up_and_nothing_about_its_contents(api: SeededApi) -> None:
    samples = scrape(api)
    assert samples[("fenghuo_store_up", ())] == 1
    # Public, so no tenant data: not even cloud-wide counts a tenant could subtract from.
    names = {name for name, _labels in samples}
    assert not {n for n in names if "alerts" in n or "incidents" in n}


def test_metrics_registries_are_per_app(tmp_path: Path) -> None:
    counts = []
    for n, requests in enumerate((2, 1)):
        settings = Settings(data_dir=tmp_path / str(n))
        services = Services(settings, SqliteStore(settings.db_path), None, lambda: True)
        with served(services) as client:
            for _ in range(requests):
                client.get("/healthz")
            parsed = text_string_to_metric_families(client.get("/metrics").text)
            counts.append(
                [
                    s.value
                    for f in parsed
                    for s in f.samples
                    if s.name == "fenghuo_http_requests_total" and s.labels["route"] == "/healthz"
                ]
            )
    assert counts == [[2], [1]]


# --- readiness ----------------------------------------------------------------------------


def test_readyz_without_broker(api: SeededApi) -> None:
    response = api.client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "store": True, "broker": None, "not_ready": []}


class _BrokenAlerts(SqliteAlerts):
    def count(self, scope: Scope, query: AlertQuery = AlertQuery()) -> int:  # noqa: B008
        msg = "the store is down"
        raise StoreError(msg)


class _BrokenStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.alerts = _BrokenAlerts(self._writer)


def test_readyz_names_the_store_when_it_fails(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    services = Services(settings, _BrokenStore(settings.db_path), None, lambda: True)
    with served(services) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["not_ready"] == ["store"]
        assert response.json()["store"] is False
        assert client.get("/healthz").status_code == 200
        parsed = text_string_to_metric_families(client.get("/metrics").text)
        up = [s.value for f in parsed for s in f.samples if s.name == "fenghuo_store_up"]
        assert up == [0]


# --- body limit and request ids -----------------------------------------------------------


def test_declared_body_over_the_limit_is_413(api: SeededApi) -> None:
    before = len(api.store.keys.list())
    response = api.client.post(
        f"{API}/keys",
        content=b'{"role": "ingest", "name": "' + b"x" * LIMIT + b'"}',
        headers={**api.auth("admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["limit"] == LIMIT
    assert len(api.store.keys.list()) == before


def test_streamed_body_over_the_limit_is_413(api: SeededApi) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"role": "ingest", "name": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    before = len(api.store.keys.list())
    response = api.client.post(
        f"{API}/keys",
        content=chunks(),
        headers={**api.auth("admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert len(api.store.keys.list()) == before
    # A body under the limit, also streamed, is served.
    small = api.client.post(
        f"{API}/keys",
        content=iter([b'{"role": "ingest", ', b'"name": "streamed"}']),
        headers={**api.auth("admin"), "Content-Type": "application/json"},
    )
    assert small.status_code == 201


def test_ingest_keeps_its_own_limit(api: SeededApi) -> None:
    # Past the API limit but within ingest's: not 413 (this API has no broker, hence 503).
    response = api.client.post(
        f"{API}/ingest/vpcflow", content=b"x" * (LIMIT * 2), headers=api.auth("ingest")
    )
    assert response.status_code == 503


def test_request_ids(api: SeededApi) -> None:
    kept = api.client.get("/healthz", headers={"X-Request-ID": "abc-123.x:y"})
    assert kept.headers["x-request-id"] == "abc-123.x:y"
    fresh = api.client.get("/healthz")
    other = api.client.get("/healthz")
    assert len(fresh.headers["x-request-id"]) == 32
    assert fresh.headers["x-request-id"] != other.headers["x-request-id"]
    for insane in ("x" * 129, "a b", "-leading-dash", "ü"):
        replaced = api.client.get("/healthz", headers={b"X-Request-ID": insane.encode()})
        assert replaced.headers["x-request-id"] != insane
        assert len(replaced.headers["x-request-id"]) == 32
    problem = api.client.get(f"{API}/tenants")
    assert problem.status_code == 401
    assert len(problem.headers["x-request-id"]) == 32
