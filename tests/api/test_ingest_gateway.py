"""The HTTP ingest gateway against the embedded broker: 202 only after acknowledgement, per-record
errors dead-lettered, 503 + Retry-After when the broker is down, keys, limits, encodings."""

from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import pytest

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.consume import count_messages, read_messages
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.inventory import InventoryStore
from fenghuo.store.keys import Role
from tests.api.conftest import Gateway, running_gateway
from tests.fixtures_ingest import FileSet
from tests.ingest.test_ingest_cli_to_broker import assert_topics_hold

pytestmark = pytest.mark.kafka

FLOW_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status"
)
GOOD_FLOW = "2 111111111111 eni-0acme0001 10.1.0.11 10.2.0.21 49152 443 6 20 4249 1767607200 1767607260 ACCEPT OK"  # noqa: E501


def test_mixed_file_set_through_gateway(gateway: Gateway, mixed_files: FileSet) -> None:
    accepted = rejected = 0
    for fmt, path, host in mixed_files.files:
        params = {"host": host} if host else {}
        response = gateway.client.post(
            f"/api/v1/ingest/{fmt}",
            content=path.read_bytes(),
            headers=gateway.auth(),
            params=params,
        )
        assert response.status_code == 202, response.text
        body = response.json()
        accepted += body["accepted"]
        rejected += body["rejected"]
        assert len(body["errors"]) == body["rejected"]
    assert accepted == sum(mixed_files.per_topic.values())
    assert rejected == mixed_files.dead_letters
    assert_topics_hold(gateway.bootstrap, gateway.topics, mixed_files)
    # The console's "events ingested per second" counts what the broker acknowledged.
    assert gateway.ingestor.meter.total == accepted


def test_per_record_errors_name_lines_and_reach_the_dlq(gateway: Gateway) -> None:
    body = "\n".join([FLOW_HEADER, GOOD_FLOW, "2 111111111111 eni-x 10.1.0.11", GOOD_FLOW]) + "\n"
    body_bytes = body.encode() + b"2 \xff\xfe broken utf-8\n"
    response = gateway.client.post(
        "/api/v1/ingest/vpcflow", content=body_bytes, headers=gateway.auth()
    )
    assert response.status_code == 202
    result = response.json()
    assert result["accepted"] == 2
    assert result["rejected"] == 2
    assert result["topics"] == {gateway.topics.network: 2}
    lines = sorted(e["line"] for e in result["errors"])
    assert lines == [3, 5]
    assert any("UTF-8" in e["reason"] for e in result["errors"])
    letters = read_messages(gateway.bootstrap, gateway.topics.dlq, 2, timeout=20)
    dead = sorted((json.loads(m.value or b"{}") for m in letters), key=lambda d: d["line"])
    assert [d["line"] for d in dead] == [3, 5]
    assert dead[0]["received_via"] == "http:test-ingest"
    assert dead[0]["raw"] == "2 111111111111 eni-x 10.1.0.11"
    assert [m.key for m in letters] == [b"vpcflow", b"vpcflow"]


def test_gzip_body(gateway: Gateway) -> None:
    payload = gzip.compress(f"{FLOW_HEADER}\n{GOOD_FLOW}\n".encode())
    headers = {**gateway.auth(), "Content-Encoding": "gzip"}
    response = gateway.client.post("/api/v1/ingest/vpcflow", content=payload, headers=headers)
    assert response.status_code == 202
    assert response.json()["accepted"] == 1


def test_broker_down_is_503_with_retry_after(dead_gateway: Gateway) -> None:
    response = dead_gateway.client.post(
        "/api/v1/ingest/vpcflow",
        content=f"{FLOW_HEADER}\n{GOOD_FLOW}\n",
        headers=dead_gateway.auth(),
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == "application/problem+json"
    assert "nothing from this request was committed" in response.json()["detail"]
    ready = dead_gateway.client.get("/readyz")
    assert ready.status_code == 503


def test_readiness_and_health(gateway: Gateway) -> None:
    assert gateway.client.get("/healthz").json() == {"status": "ok"}
    assert gateway.client.get("/readyz").json()["broker"] is True


@pytest.mark.parametrize(
    ("headers", "status", "title"),
    [
        ({}, 401, "Missing API key"),
        ({"Authorization": "Basic abc"}, 401, "Missing API key"),
        ({"Authorization": "Bearer fhk_0000000000000000_nope"}, 401, "Invalid API key"),
    ],
)
def test_authentication(gateway: Gateway, headers: dict[str, str], status: int, title: str) -> None:
    response = gateway.client.post("/api/v1/ingest/vpcflow", content=GOOD_FLOW, headers=headers)
    assert response.status_code == status
    assert response.json()["title"] == title
    assert response.headers["www-authenticate"] == "Bearer"
    assert count_messages(gateway.bootstrap, gateway.topics.network) == 0


def test_only_ingest_and_admin_roles_may_submit(gateway: Gateway) -> None:
    _key, viewer = gateway.keys.create(Role.TENANT_VIEWER, "acme")
    response = gateway.client.post(
        "/api/v1/ingest/vpcflow", content=GOOD_FLOW, headers=gateway.auth(viewer)
    )
    assert response.status_code == 403
    _key, admin = gateway.keys.create(Role.ADMIN)
    response = gateway.client.post(
        "/api/v1/ingest/vpcflow", content=f"{FLOW_HEADER}\n{GOOD_FLOW}", headers=gateway.auth(admin)
    )
    assert response.status_code == 202


def test_revoked_key_is_refused(gateway: Gateway) -> None:
    key, token = gateway.keys.create(Role.INGEST)
    gateway.keys.revoke(key.id)
    response = gateway.client.post(
        "/api/v1/ingest/vpcflow", content=GOOD_FLOW, headers=gateway.auth(token)
    )
    assert response.status_code == 401


def test_unknown_format_is_404(gateway: Gateway) -> None:
    response = gateway.client.post("/api/v1/ingest/syslog", content="x", headers=gateway.auth())
    assert response.status_code == 404
    assert "auditd" in response.json()["detail"]


def test_body_limits(broker: KafkaBroker, topics: Topics, tmp_path: Path) -> None:
    with running_gateway(tmp_path, broker.bootstrap, topics, max_body=4096) as gateway:
        big = (GOOD_FLOW + "\n") * 100
        response = gateway.client.post(
            "/api/v1/ingest/vpcflow", content=big, headers=gateway.auth()
        )
        assert response.status_code == 413
        assert response.json()["limit"] == 4096
        bomb = gzip.compress(b"0" * 1_000_000)
        headers = {**gateway.auth(), "Content-Encoding": "gzip"}
        response = gateway.client.post("/api/v1/ingest/vpcflow", content=bomb, headers=headers)
        assert response.status_code == 413
        assert "decompressed" in response.json()["detail"]
        headers = {**gateway.auth(), "Content-Encoding": "br"}
        response = gateway.client.post("/api/v1/ingest/vpcflow", content=b"x", headers=headers)
        assert response.status_code == 415


def test_inventory_edit_takes_effect_without_restart(
    broker: KafkaBroker, topics: Topics, tmp_path: Path
) -> None:
    path = tmp_path / "inventory.yaml"
    text = demo_inventory_path().read_text()
    path.write_text(text)
    store = InventoryStore(path, check_interval=0)
    body = f"{FLOW_HEADER}\n{GOOD_FLOW}\n"
    with running_gateway(tmp_path, broker.bootstrap, topics, inventory=store) as gateway:
        first = gateway.client.post("/api/v1/ingest/vpcflow", content=body, headers=gateway.auth())
        assert first.status_code == 202
        # The operator moves account 111111111111 from acme to a new tenant: no restart.
        edited = (
            text.replace('accounts: ["111111111111"]', "accounts: []")
            .replace(
                "tenants:\n",
                'tenants:\n  - {id: newco, accounts: ["111111111111"], cidrs: ["10.9.0.0/16"]}\n',
                1,
            )
            .replace('interfaces: ["eni-0acme0001"]', "interfaces: []")
        )
        path.write_text(edited)
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
        second = gateway.client.post("/api/v1/ingest/vpcflow", content=body, headers=gateway.auth())
        assert second.status_code == 202
    messages = read_messages(broker.bootstrap, topics.network, 2, timeout=20)
    keys = sorted((m.key or b"").decode() for m in messages)
    assert keys == ["acme", "newco"]
    assert store.reloads == 1
