"""Typed request dependencies: the services the app was built with, the caller's key, and the
caller's view of the data (scope and pseudonyms), resolved once per request.

Every read route takes a `Viewer` (or `Triager`, `Admin`): its `scope` goes into the store query
itself, and its `redactor` rewrites the response for a tenant viewer. A route cannot reach the
store without having resolved one, because the scope is a required argument of every read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from fenghuo.api.problems import Problem
from fenghuo.api.pseudonyms import Redactor
from fenghuo.api.ratelimit import record_failure, refuse_if_limited
from fenghuo.evidence.archive import EventArchive
from fenghuo.ingest.pipeline import Ingestor
from fenghuo.inventory.index import InventoryIndex
from fenghuo.settings import Settings
from fenghuo.store.base import Scope, Store
from fenghuo.store.keys import ApiKey, Role


@dataclass
class Services:
    settings: Settings
    store: Store
    ingestor: Ingestor | None  # None: a read-only API (no broker to publish to)
    broker_ready: Callable[[], bool]
    inventory: Callable[[], InventoryIndex | None] = lambda: None
    # The clock of time-dependent answers (a report's due/overdue state): tests pass a fixed one.
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    # The console's static files (None: `fenghuo.api.console.console_dir()`); tests pass their own.
    console: Path | None = None
    # Alerts' evidence events (fenghuo.evidence); None: the evidence route answers 503.
    events: EventArchive | None = None


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _caller(request: Request, services: ServicesDep) -> ApiKey:
    refuse_if_limited(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        record_failure(request)
        raise Problem(
            401, "Missing API key", "send Authorization: Bearer <key>", headers=_CHALLENGE
        )
    key = services.store.keys.verify(token.strip())
    if key is None:
        record_failure(request)
        raise Problem(401, "Invalid API key", "the key is unknown or revoked", headers=_CHALLENGE)
    request.state.key = key
    return key


CurrentKey = Annotated[ApiKey, Depends(_caller)]


def _require(key: ApiKey, roles: tuple[Role, ...], what: str) -> None:
    if key.role not in roles:
        raise Problem(403, "Forbidden", f"role {key.role.value} may not {what}")


def _ingest_caller(key: CurrentKey) -> ApiKey:
    _require(key, (Role.INGEST, Role.ADMIN), "submit telemetry")
    return key


IngestCaller = Annotated[ApiKey, Depends(_ingest_caller)]


@dataclass(frozen=True)
class Caller:
    """Who is asking and what they may see: the store scope and the pseudonym rewriter."""

    key: ApiKey
    scope: Scope
    redactor: Redactor

    @property
    def actor(self) -> str:
        return self.key.name or self.key.id

    @property
    def tenant(self) -> str | None:
        return self.scope.tenant


def caller_for(key: ApiKey, services: Services) -> Caller:
    scope = Scope.for_key(key)
    secret = services.settings.pseudonym_key.get_secret_value().encode()
    if key.role is Role.REGULATOR:  # outside the cloud: every tenant by pseudonym
        return Caller(key, scope, Redactor.for_outsider(secret, services.inventory()))
    if scope.tenant is None:
        return Caller(key, scope, Redactor.none())
    return Caller(key, scope, Redactor.for_viewer(secret, scope.tenant, services.inventory()))


_READERS = (Role.ADMIN, Role.SOC_ANALYST, Role.TENANT_VIEWER)
_TRIAGERS = (Role.ADMIN, Role.SOC_ANALYST)


def _viewer(key: CurrentKey, services: ServicesDep) -> Caller:
    _require(key, _READERS, "read alerts and incidents")
    return caller_for(key, services)


def _triager(key: CurrentKey, services: ServicesDep) -> Caller:
    _require(key, _TRIAGERS, "triage alerts and incidents")
    return caller_for(key, services)


def _admin(key: CurrentKey, services: ServicesDep) -> Caller:
    _require(key, (Role.ADMIN,), "manage keys and configuration")
    return caller_for(key, services)


def _report_reader(key: CurrentKey, services: ServicesDep) -> Caller:
    _require(key, (*_READERS, Role.REGULATOR), "read regulator reports")
    return caller_for(key, services)


Viewer = Annotated[Caller, Depends(_viewer)]
"""Roles that read the security data: admin and soc_analyst (every tenant), tenant_viewer (its
own tenant; others by pseudonym). Regulators read through TAXII, ingest keys only submit."""
Triager = Annotated[Caller, Depends(_triager)]
"""Roles that act on alerts and incidents: admin and soc_analyst."""
Admin = Annotated[Caller, Depends(_admin)]
ReportReader = Annotated[Caller, Depends(_report_reader)]
"""Readers of regulator reports: the `Viewer` roles, and regulators (the reports of incidents
their granted collections select, every tenant by pseudonym)."""
