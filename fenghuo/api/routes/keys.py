"""`/api/v1/keys`: API keys, for admins. A new key's token is in the creation answer only (the
store keeps its hash); listing shows no secrets. Creating and revoking write audit entries."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import Admin, Caller, Services, ServicesDep
from fenghuo.api.ops_views import KeyCreated, KeyList, KeyView
from fenghuo.api.problems import Problem
from fenghuo.api.schemas import documented, respond
from fenghuo.model.ids import stable_id
from fenghuo.store.base import AuditEntry
from fenghuo.store.keys import ApiKey, ApiKeyError, Role

router = APIRouter(prefix="/keys", tags=["keys"])

KeyId = Annotated[str, Path(max_length=200, description="the key's id")]


class KeyRequest(BaseModel):
    role: Role
    tenant_id: str | None = Field(
        default=None, max_length=200, description="for a tenant_viewer: the tenant it may see"
    )
    name: str = Field(default="", max_length=200, description="a label shown in audit records")


def key_view(key: ApiKey) -> KeyView:
    return KeyView(
        id=key.id,
        name=key.name,
        role=key.role.value,
        tenant_id=key.tenant_id,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


def key_audit(
    action: str, key: ApiKey, actor: str, role: str, request_id: str | None = None
) -> AuditEntry:
    """The audit entry of creating or revoking a key (shared with the command line)."""
    details: dict[str, Any] = {"role": key.role.value, "name": key.name}
    return AuditEntry(
        id=stable_id("audit", action, key.id),
        at=dt.datetime.now(dt.UTC),
        actor=actor,
        role=role,
        action=action,
        target=f"key:{key.id}",
        tenant_id=key.tenant_id,
        request_id=request_id,
        details=details,
    )


def _checked(body: KeyRequest, services: Services) -> None:
    if body.role is Role.TENANT_VIEWER:
        if not body.tenant_id:
            raise Problem(422, "Invalid request", "a tenant_viewer key needs a tenant_id")
        inventory = services.inventory()
        if inventory is not None and body.tenant_id not in inventory.tenants:
            raise Problem(422, "Invalid request", f"no tenant {body.tenant_id} in the inventory")
    elif body.tenant_id:
        raise Problem(422, "Invalid request", f"a {body.role.value} key has no tenant")


@router.post(
    "",
    status_code=201,
    summary="Create a key (its token is shown in this answer only)",
    responses=documented(KeyCreated, "The key and its token", status=201),
)
async def create_key(
    body: KeyRequest, request: Request, caller: Admin, services: ServicesDep
) -> JSONResponse:
    _checked(body, services)
    request_id = request.headers.get("x-request-id")

    def create() -> KeyCreated:
        try:
            key, token = services.store.keys.create(body.role, body.tenant_id, body.name)
        except ApiKeyError as exc:
            raise Problem(422, "Invalid request", str(exc)) from None
        services.store.audit.append(_audit("key.create", key, caller, request_id))
        return KeyCreated(key=key_view(key), token=token)

    return respond(caller, await run_in_threadpool(create), status=201)


def _audit(action: str, key: ApiKey, caller: Caller, request_id: str | None) -> AuditEntry:
    return key_audit(action, key, caller.actor, caller.key.role.value, request_id)


@router.get(
    "",
    summary="List keys (no secrets)",
    responses=documented(KeyList, "Every key, oldest first, revoked ones included"),
)
async def list_keys(caller: Admin, services: ServicesDep) -> JSONResponse:
    keys = await run_in_threadpool(services.store.keys.list)
    return respond(caller, KeyList(items=[key_view(k) for k in keys]))


@router.delete(
    "/{key_id}",
    summary="Revoke a key",
    responses=documented(KeyView, "The revoked key", errors=(401, 403, 404)),
)
async def revoke_key(
    key_id: KeyId, request: Request, caller: Admin, services: ServicesDep
) -> JSONResponse:
    request_id = request.headers.get("x-request-id")

    def revoke() -> KeyView | None:
        if not services.store.keys.revoke(key_id):
            return None
        key = next(k for k in services.store.keys.list() if k.id == key_id)
        services.store.audit.append(_audit("key.revoke", key, caller, request_id))
        return key_view(key)

    revoked = await run_in_threadpool(revoke)
    if revoked is None:
        raise Problem(404, "Not found", f"no active key {key_id}")
    return respond(caller, revoked)
