"""A real TAXII server for the TAXII tests: uvicorn on a loopback port, a real SQLite store, keys
of every role and collections made for the tests, plus STIX objects built as JSON (and through
stix2 for a few, to show that what the library makes is stored unchanged)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fenghuo.api.deps import Services
from fenghuo.ingest.kafka.broker import free_port
from fenghuo.intel.collections import Collection, CollectionFilter, IdentityPolicy
from fenghuo.platform import ApiServer
from fenghuo.settings import Settings
from fenghuo.store.keys import ApiKey, Role
from fenghuo.store.sqlite import SqliteStore

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
NAMESPACE = uuid.UUID("1c4c6a59-5b55-4d1c-9a1e-0f7d8f2e6a11")
T0 = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def stix_time(time: dt.datetime) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def indicator(name: str, *, minute: int = 0, created_minute: int = 0) -> dict[str, Any]:
    """An indicator whose id depends on `name` only; `minute` sets its `modified` (version)."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(NAMESPACE, name)}",
        "created": stix_time(T0 + dt.timedelta(minutes=created_minute)),
        "modified": stix_time(T0 + dt.timedelta(minutes=minute)),
        "name": name,
        "pattern": f"[domain-name:value = '{name}.example']",
        "pattern_type": "stix",
        "valid_from": stix_time(T0),
    }


def ipv4(address: str) -> dict[str, Any]:
    """A cyber observable: no created/modified, its id from its value."""
    return {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": f"ipv4-addr--{uuid.uuid5(NAMESPACE, address)}",
        "value": address,
    }


@dataclass
class TaxiiApi:
    url: str  # the discovery URL, http://127.0.0.1:PORT/taxii2/
    store: SqliteStore
    tokens: dict[str, str] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    client: httpx.Client = field(default_factory=httpx.Client)

    @property
    def root(self) -> str:
        return f"{self.url}fenghuo/"

    def collection_url(self, collection_id: str) -> str:
        return f"{self.root}collections/{collection_id}/"

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str, url: str, **params: Any) -> httpx.Response:
        headers = {"Accept": TAXII, **self.bearer(who)}
        return self.client.get(url, headers=headers, params=params)

    def collection(self, title: str, *, readers: tuple[str, ...] = (), **fields: Any) -> Collection:
        return self.store.collections.create(
            Collection(
                id=str(uuid.uuid4()),
                title=title,
                readers=tuple(self.keys[r].id for r in readers),
                created_at=dt.datetime.now(dt.UTC),
                **fields,
            )
        )

    def own_collection(self, tenant: str) -> Collection:
        """A tenant's own pseudonymous collection, granted to its viewer."""
        return self.collection(
            f"{tenant} own incidents",
            readers=(f"viewer:{tenant}",),
            own_tenant=tenant,
            identities=IdentityPolicy.PSEUDONYMOUS,
            filter=CollectionFilter(tenants=(tenant,)),
        )


@contextmanager
def taxii_api(tmp: Path) -> Iterator[TaxiiApi]:
    settings = Settings(
        data_dir=tmp / "var", pseudonym_key="taxii-test-pseudonym-key", auth_failure_limit=100_000
    )
    store = SqliteStore(settings.db_path)
    api = TaxiiApi("", store)
    for who, role, tenant in (
        ("admin", Role.ADMIN, None),
        ("soc", Role.SOC_ANALYST, None),
        ("regulator-a", Role.REGULATOR, None),
        ("regulator-b", Role.REGULATOR, None),
        ("ingest", Role.INGEST, None),
        ("viewer:acme", Role.TENANT_VIEWER, "acme"),
        ("viewer:globex", Role.TENANT_VIEWER, "globex"),
    ):
        key, token = store.keys.create(role, tenant, name=who)
        api.keys[who], api.tokens[who] = key, token
    port = free_port()
    server = ApiServer(Services(settings, store, None, lambda: True), "127.0.0.1", port)
    server.start()
    api.url = f"http://127.0.0.1:{port}/taxii2/"
    try:
        with httpx.Client(timeout=30) as client:
            api.client = client
            yield api
    finally:
        server.stop()
        store.close()
