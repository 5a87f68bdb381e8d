"""`/api/v1/collections`: TAXII collections, for admins. A collection is a saved filter over
incidents with a TLP level and an identity policy (`fenghuo.intel.collections`); its objects are
served under /taxii2/ to the keys it is granted to. Creating and granting write audit entries."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import Admin, Services, ServicesDep
from fenghuo.api.problems import Problem
from fenghuo.api.schemas import documented, respond
from fenghuo.intel.collections import (
    Collection,
    CollectionError,
    CollectionFilter,
    IdentityPolicy,
    Tlp,
    grantable,
    new_collection_id,
)
from fenghuo.intel.feed import FeedError, writer_for
from fenghuo.model.alert import Severity
from fenghuo.model.ids import stable_id
from fenghuo.model.incident import Grade
from fenghuo.store.base import AuditEntry, Store

log = logging.getLogger(__name__)

router = APIRouter(prefix="/collections", tags=["collections"])

CollectionId = Annotated[str, Path(max_length=100, description="the collection's id")]
_Name = Annotated[str, Field(min_length=1, max_length=200)]


class FilterRequest(BaseModel):
    min_grade: Grade | None = None
    min_severity: Severity | None = None
    reportable_only: bool = False
    tenants: list[_Name] = Field(default_factory=list, max_length=100)
    provinces: list[_Name] = Field(default_factory=list, max_length=100)


class CollectionRequest(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    alias: str | None = Field(default=None, max_length=100)
    tlp: Tlp = Tlp.AMBER
    identities: IdentityPolicy = IdentityPolicy.PSEUDONYMOUS
    own_tenant: str | None = Field(default=None, max_length=200)
    filter: FilterRequest = Field(default_factory=FilterRequest)
    can_write: bool = False
    readers: list[_Name] = Field(default_factory=list, max_length=100)


class GrantRequest(BaseModel):
    key_ids: list[_Name] = Field(max_length=100, description="regulator or tenant_viewer keys")


class CollectionList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Collection]


def check_grants(store: Store, collection: Collection, key_ids: list[str]) -> None:
    """CollectionError unless every key exists, is live and may be granted the collection
    (shared with the command line)."""
    keys = {k.id: k for k in store.keys.list() if k.revoked_at is None}
    for key_id in key_ids:
        key = keys.get(key_id)
        if key is None:
            msg = f"no active key {key_id}"
            raise CollectionError(msg)
        grantable(collection, key)


def collection_audit(
    action: str, collection: Collection, actor: str, role: str, details: dict[str, Any]
) -> AuditEntry:
    """The audit entry of creating or granting a collection (shared with the command line)."""
    at = dt.datetime.now(dt.UTC)
    return AuditEntry(
        id=stable_id("audit", action, collection.id, at.isoformat()),
        at=at,
        actor=actor,
        role=role,
        action=action,
        target=f"collection:{collection.id}",
        tenant_id=collection.own_tenant,
        details=details,
    )


def _backfill(services: Services, collection: Collection) -> None:
    """Fill a new collection with the stored incidents it selects (the feed service only
    writes incidents that change from now on). A failure leaves it to fill as they change."""
    try:
        writer_for(services.settings, services.store, services.inventory).backfill(collection)
    except FeedError as exc:
        log.warning("collection %s not filled from the store: %s", collection.id, exc)


def build_collection(body: CollectionRequest) -> Collection:
    return Collection(
        id=new_collection_id(),
        title=body.title,
        description=body.description,
        alias=body.alias,
        tlp=body.tlp,
        identities=body.identities,
        own_tenant=body.own_tenant,
        filter=CollectionFilter(
            min_grade=body.filter.min_grade,
            min_severity=body.filter.min_severity,
            reportable_only=body.filter.reportable_only,
            tenants=tuple(body.filter.tenants),
            provinces=tuple(body.filter.provinces),
        ),
        can_write=body.can_write,
        readers=tuple(dict.fromkeys(body.readers)),
        created_at=dt.datetime.now(dt.UTC),
    )


@router.post(
    "",
    status_code=201,
    summary="Create a TAXII collection (a saved filter with a TLP level and identity policy)",
    responses=documented(Collection, "The new collection", status=201),
)
async def create_collection(
    body: CollectionRequest, request: Request, caller: Admin, services: ServicesDep
) -> JSONResponse:
    collection = build_collection(body)
    store = services.store

    def create() -> Collection:
        try:
            check_grants(store, collection, list(collection.readers))
            created = store.collections.create(collection)
        except CollectionError as exc:
            raise Problem(422, "Invalid collection", str(exc)) from None
        entry = collection_audit(
            "collection.create", created, caller.actor, caller.key.role.value, {"title": body.title}
        )
        store.audit.append(msgspec.structs.replace(entry, request_id=_request_id(request)))
        _backfill(services, created)
        return created

    return respond(caller, await run_in_threadpool(create), status=201)


@router.get(
    "",
    summary="List TAXII collections with their grants",
    responses=documented(CollectionList, "Every collection, oldest first"),
)
async def list_collections(caller: Admin, services: ServicesDep) -> JSONResponse:
    found = await run_in_threadpool(services.store.collections.list)
    return respond(caller, CollectionList(items=list(found)))


@router.post(
    "/{collection_id}/grants",
    summary="Grant a collection to regulator or tenant viewer keys (idempotent)",
    responses=documented(Collection, "The collection with its readers", errors=(401, 403, 404)),
)
async def grant_collection(
    collection_id: CollectionId,
    body: GrantRequest,
    request: Request,
    caller: Admin,
    services: ServicesDep,
) -> JSONResponse:
    store = services.store

    def grant() -> Collection | None:
        collection = store.collections.get(collection_id)
        if collection is None:
            return None
        try:
            check_grants(store, collection, body.key_ids)
        except CollectionError as exc:
            raise Problem(422, "Invalid grant", str(exc)) from None
        granted = store.collections.grant(collection_id, body.key_ids)
        entry = collection_audit(
            "collection.grant",
            granted,
            caller.actor,
            caller.key.role.value,
            {"key_ids": body.key_ids},
        )
        store.audit.append(msgspec.structs.replace(entry, request_id=_request_id(request)))
        return granted

    granted = await run_in_threadpool(grant)
    if granted is None:
        raise Problem(404, "Not found", f"no collection {collection_id}")
    return respond(caller, granted)


def _request_id(request: Request) -> str | None:
    return request.headers.get("x-request-id")
