"""Rate limiting of failed authentication: the limiter on a fixed clock, then a real server from
127.0.0.1 with a small limit and a short window. Also: the CLI's key commands write audit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from fenghuo.api.deps import Services
from fenghuo.api.ratelimit import AuthFailureLimiter
from fenghuo.cli import main
from fenghuo.ingest.kafka.broker import free_port
from fenghuo.platform import ApiServer
from fenghuo.settings import Settings, get_settings
from fenghuo.store.base import Scope
from fenghuo.store.keys import Role
from fenghuo.store.sqlite import SqliteStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_blocked_after_limit_failures_within_the_window(clock: Clock) -> None:
    limiter = AuthFailureLimiter(3, 60, clock=clock)
    for _ in range(2):
        limiter.record_failure("10.0.0.1")
        clock.now += 10
    assert limiter.retry_after("10.0.0.1") is None
    limiter.record_failure("10.0.0.1")  # third failure at t+20
    # Blocked until the first failure (t+0) leaves the window: 60 - 20 = 40 s from now.
    assert limiter.retry_after("10.0.0.1") == 40
    clock.now += 39.5
    assert limiter.retry_after("10.0.0.1") == 1
    clock.now += 0.5
    assert limiter.retry_after("10.0.0.1") is None
    assert limiter.failures_total == 3
    assert limiter.limited_total == 2


def test_other_addresses_are_not_affected(clock: Clock) -> None:
    limiter = AuthFailureLimiter(2, 60, clock=clock)
    limiter.record_failure("10.0.0.1")
    limiter.record_failure("10.0.0.1")
    limiter.record_failure("10.0.0.2")
    assert limiter.retry_after("10.0.0.1") is not None
    assert limiter.retry_after("10.0.0.2") is None
    assert limiter.retry_after("10.0.0.3") is None


def test_failures_spread_over_more_than_the_window_do_not_block(clock: Clock) -> None:
    limiter = AuthFailureLimiter(3, 60, clock=clock)
    for _ in range(10):
        limiter.record_failure("10.0.0.1")
        clock.now += 31  # never three within 60 s
        assert limiter.retry_after("10.0.0.1") is None


def test_memory_is_bounded(clock: Clock) -> None:
    limiter = AuthFailureLimiter(1, 60, max_addresses=3, clock=clock)
    for n in range(5):
        limiter.record_failure(f"10.0.0.{n}")
        clock.now += 1
    assert len(limiter) == 3
    # The two that failed least recently were evicted; the newest three are still blocked.
    assert [limiter.retry_after(f"10.0.0.{n}") is not None for n in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]
    clock.now += 61
    limiter.record_failure("10.0.0.9")
    assert len(limiter) == 1  # expired addresses are forgotten


def test_thread_safe(clock: Clock) -> None:
    limiter = AuthFailureLimiter(5, 60, max_addresses=50, clock=clock)

    def hammer(worker: int) -> None:
        for n in range(2000):
            limiter.record_failure(f"10.{worker}.{n % 100}.1")
            limiter.retry_after(f"10.{worker}.{n % 7}.1")

    threads = [threading.Thread(target=hammer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert limiter.failures_total == 16_000
    assert len(limiter) <= 50


def test_refuses_a_bad_configuration() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AuthFailureLimiter(0, 60)


# --- a real server --------------------------------------------------------------------------


@pytest.fixture
def small_limit(tmp_path: Path) -> Iterator[tuple[httpx.Client, str]]:
    settings = Settings(data_dir=tmp_path, auth_failure_limit=3, auth_failure_window_s=1.5)
    store = SqliteStore(settings.db_path)
    _key, token = store.keys.create(Role.ADMIN, name="limit-admin")
    port = free_port()
    server = ApiServer(Services(settings, store, None, lambda: True), "127.0.0.1", port)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client, token
    finally:
        server.stop()
        store.close()


def test_real_server_limits_failed_authentication(small_limit: tuple[httpx.Client, str]) -> None:
    client, token = small_limit
    good = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/keys", headers=good).status_code == 200
    bad = {"Authorization": f"Bearer {token[:-2]}xx"}
    statuses = [client.get("/api/v1/tenants", headers=bad).status_code for _ in range(2)]
    statuses.append(client.get("/api/v1/tenants").status_code)  # no key at all counts too
    assert statuses == [401, 401, 401]
    # Now every authenticated request from this address is refused, a valid key's as well.
    refused = client.get("/api/v1/keys", headers=good)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 2
    assert client.post("/api/v1/ingest/vpcflow", headers=bad).status_code == 429
    # Unauthenticated routes are not affected.
    assert client.get("/healthz").status_code == 200
    metrics = {
        s.name: s.value
        for f in text_string_to_metric_families(client.get("/metrics").text)
        for s in f.samples
    }
    assert metrics["fenghuo_auth_failures_total"] == 3
    assert metrics["fenghuo_auth_rate_limited_total"] == 2
    # Once the window has passed, the valid key works again.
    threading.Event().wait(retry_after + 0.1)
    assert client.get("/api/v1/keys", headers=good).status_code == 200


# --- the command line ---------------------------------------------------------------------


def test_cli_key_commands_write_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENGHUO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FENGHUO_STORE", "sqlite")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        created = runner.invoke(
            main, ["keys", "create", "--role", "tenant_viewer", "--tenant", "acme", "--name", "ops"]
        )
        assert created.exit_code == 0, created.output
        key_id = created.output.split()[2]
        revoked = runner.invoke(main, ["keys", "revoke", key_id])
        assert revoked.exit_code == 0, revoked.output
        missing = runner.invoke(main, ["keys", "revoke", key_id])
        assert missing.exit_code != 0
        listed = runner.invoke(main, ["keys", "list"])
        assert key_id in listed.output
        assert "revoked" in listed.output
    finally:
        get_settings.cache_clear()
    store = SqliteStore(tmp_path / "fenghuo.db")
    try:
        entries = store.audit.list(Scope.everything()).items
        scoped = store.audit.list(Scope.of("acme")).items
    finally:
        store.close()
    assert [(e.action, e.actor, e.target, e.tenant_id) for e in entries] == [
        ("key.revoke", "cli", f"key:{key_id}", "acme"),
        ("key.create", "cli", f"key:{key_id}", "acme"),
    ]
    assert entries[1].details == {"role": "tenant_viewer", "name": "ops"}
    assert scoped == entries
