"""A real API over a real SQLite store holding the simulated hour's alerts and incidents.

The simulated hour (seed 7: six tenants, every attack kind, cross-tenant incidents) is replayed
once per test session with `--incidents`; its alerts and incidents are written to a fresh store,
keys of every role are created (one tenant viewer per tenant), the events the alerts name are
put in an event archive, and uvicorn serves the app on a loopback port (no broker: the API's read
side does not need one).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fenghuo.api.deps import Services
from fenghuo.evidence.sqlite_archive import SqliteEventArchive
from fenghuo.ingest.kafka.broker import free_port
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RecordError, raw_lines
from fenghuo.inventory import InventoryStore
from fenghuo.model.alert import Alert, decode_alert
from fenghuo.model.events import Event
from fenghuo.model.incident import Incident, decode_incident
from fenghuo.platform import ApiServer
from fenghuo.settings import Settings
from fenghuo.simulate import SimulationConfig, run_simulate
from fenghuo.store.keys import Role
from fenghuo.store.sqlite import SqliteStore
from fenghuo.streaming.replay_files import InputSpec, run_replay

PSEUDONYM_KEY = "test-pseudonym-key"


@dataclass(frozen=True)
class Hour:
    root: Path
    alerts: list[Alert]
    incidents: list[Incident]
    evidence: list[Event] = field(default_factory=list)  # every event an alert names

    @property
    def tenants(self) -> list[str]:
        return sorted({t for i in self.incidents for t in (*i.tenants, *i.actor_tenants)})


def replay_hour(root: Path) -> Hour:
    """The default simulated hour, replayed to alerts and incidents (files under `root`)."""
    sim = root / "hour"
    run_simulate(SimulationConfig(), sim)
    specs = [
        InputSpec(e["format"], sim / e["path"], e["host"] or None)
        for e in json.loads((sim / "manifest.json").read_text())
        if e["events"]
    ]
    alerts_out, incidents_out = root / "alerts.jsonl", root / "incidents.jsonl"
    run_replay(sim / "inventory.yaml", specs, alerts_out, incidents_out=incidents_out)
    alerts = [decode_alert(line) for line in alerts_out.read_bytes().splitlines()]
    incidents = [decode_incident(line) for line in incidents_out.read_bytes().splitlines()]
    return Hour(sim, alerts, incidents, _evidence(sim / "inventory.yaml", specs, alerts))


def _evidence(inventory: Path, specs: list[InputSpec], alerts: list[Alert]) -> list[Event]:
    """The hour's events that some alert names, normalised again from the simulated files
    (what the archive service would have kept from the telemetry topics)."""
    named = {ident for alert in alerts for ident in alert.evidence}
    normaliser = Normaliser(InventoryStore(inventory))
    kept: dict[str, Event] = {}
    for spec in specs:
        with spec.path.open() as handle:
            for result in normaliser.stream(
                spec.format, raw_lines(str(spec.path), handle), spec.host_id
            ):
                if not isinstance(result, RecordError) and result.id in named:
                    kept[result.id] = result
    return list(kept.values())


@dataclass
class SeededApi:
    url: str
    client: httpx.Client
    store: SqliteStore
    hour: Hour
    tokens: dict[str, str] = field(default_factory=dict)  # "admin", "soc_analyst", "viewer:<t>"
    archive: SqliteEventArchive | None = None  # the events the alerts name

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str, path: str, **params: object) -> httpx.Response:
        return self.client.get(path, headers=self.auth(who), params=params)  # type: ignore[arg-type]

    def every(self, who: str, kind: str, **params: object) -> dict[str, dict[str, Any]]:
        """Every item of `/api/v1/<kind>` (alerts or incidents) the API lists for this query,
        following next_cursor: id -> the item ({alert or incident, state})."""
        one = kind.rstrip("s")
        out: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
            response = self.get(who, f"/api/v1/{kind}", **query)
            assert response.status_code == 200, response.text
            body = response.json()
            out.update({item[one]["id"]: item for item in body["items"]})
            cursor = body.get("next_cursor")
            if not cursor:
                return out


@contextmanager
def seeded_api(tmp: Path, hour: Hour) -> Iterator[SeededApi]:
    settings = Settings(data_dir=tmp / "var", pseudonym_key=PSEUDONYM_KEY)
    store = SqliteStore(settings.db_path)
    store.alerts.upsert(hour.alerts)
    store.incidents.upsert(hour.incidents)
    tokens = {}
    for role in (Role.ADMIN, Role.SOC_ANALYST, Role.REGULATOR, Role.INGEST):
        tokens[role.value] = store.keys.create(role, name=f"test-{role.value}")[1]
    for tenant in hour.tenants:
        tokens[f"viewer:{tenant}"] = store.keys.create(
            Role.TENANT_VIEWER, tenant, name=f"viewer-{tenant}"
        )[1]
    inventory = InventoryStore(hour.root / "inventory.yaml")
    archive = SqliteEventArchive(settings.events_db)
    archive.put(hour.evidence, dt.datetime.now(dt.UTC))
    services = Services(settings, store, None, lambda: True, inventory.current, events=archive)
    port = free_port()
    server = ApiServer(services, "127.0.0.1", port)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield SeededApi(url, client, store, hour, tokens, archive)
    finally:
        server.stop()
        store.close()
