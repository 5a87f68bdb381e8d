"""A real gateway: the FastAPI app served by uvicorn on a loopback port, publishing to a broker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from fenghuo.api.deps import Services
from fenghuo.demo.samples import demo_inventory_path
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.ingest.pipeline import Ingestor
from fenghuo.inventory import InventoryStore
from fenghuo.platform import ApiServer, broker_reachable, open_ingest
from fenghuo.settings import Settings
from fenghuo.store.keys import KeyStore, Role
from fenghuo.store.sqlite import SqliteStore


@dataclass
class Gateway:
    url: str
    client: httpx.Client
    keys: KeyStore
    ingest_token: str
    bootstrap: str
    topics: Topics
    ingestor: Ingestor

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.ingest_token}"}


@contextmanager
def running_gateway(
    tmp_path: Path,
    bootstrap: str,
    topics: Topics,
    max_body: int = 16 * 1024 * 1024,
    inventory: InventoryStore | None = None,
    kafka_timeout_s: float = 3,
) -> Iterator[Gateway]:
    """`kafka_timeout_s`: how long a publish may wait for acknowledgement (production: 10 s)."""
    config = Settings(
        data_dir=tmp_path / "var",
        kafka_timeout_s=kafka_timeout_s,
        ingest_max_body_bytes=max_body,
        topic_prefix=topics.prefix,
    )
    store = SqliteStore(config.db_path)
    keys = store.keys
    _key, token = keys.create(Role.INGEST, name="test-ingest")
    chosen_inventory = inventory or InventoryStore(demo_inventory_path())
    # Wired as `fenghuo serve` wires it: one Kafka transaction per request.
    with open_ingest(config, chosen_inventory, bootstrap, transactional=True) as parts:
        ingestor = parts.ingestor
        services = Services(config, store, ingestor, lambda: broker_reachable(bootstrap, 1.0))
        port = free_port()
        server = ApiServer(services, "127.0.0.1", port)
        server.start()
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=url, timeout=30) as client:
                yield Gateway(url, client, keys, token, bootstrap, topics, ingestor)
        finally:
            server.stop()


@pytest.fixture
def gateway(broker: KafkaBroker, topics: Topics, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(tmp_path, broker.bootstrap, topics) as running:
        yield running


@pytest.fixture
def dead_gateway(tmp_path: Path) -> Iterator[Gateway]:
    """A gateway whose broker does not exist: every publish fails."""
    with running_gateway(tmp_path, f"127.0.0.1:{free_port()}", Topics("dead.")) as running:
        yield running
