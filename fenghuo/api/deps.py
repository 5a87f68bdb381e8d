"""Typed request dependencies: the services the app was built with, and the caller's key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from fenghuo.api.problems import Problem
from fenghuo.ingest.pipeline import Ingestor
from fenghuo.settings import Settings
from fenghuo.store.keys import ApiKey, KeyStore, Role


@dataclass
class Services:
    settings: Settings
    keys: KeyStore
    ingestor: Ingestor
    broker_ready: Callable[[], bool]


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _caller(request: Request, services: ServicesDep) -> ApiKey:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": "Bearer"}
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Missing API key", "send Authorization: Bearer <key>", headers=challenge)
    key = services.keys.verify(token.strip())
    if key is None:
        raise Problem(401, "Invalid API key", "the key is unknown or revoked", headers=challenge)
    return key


CurrentKey = Annotated[ApiKey, Depends(_caller)]


def _ingest_caller(key: CurrentKey) -> ApiKey:
    if key.role not in (Role.INGEST, Role.ADMIN):
        raise Problem(403, "Forbidden", f"role {key.role.value} may not submit telemetry")
    return key


IngestCaller = Annotated[ApiKey, Depends(_ingest_caller)]
