"""Who calls the TAXII server, and which collections it may see.

A key is sent as `Authorization: Bearer <key>` (as on /api/v1) or as HTTP Basic with the key as
password (the username is ignored): the OASIS client and most TAXII tools only speak Basic.
Failures count against the same failed-authentication limiter as /api/v1.

Admins and SOC analysts see every collection; a regulator or tenant viewer only those granted
to it (`Collection.readable_by`); ingest keys may not use TAXII at all (403). A collection the
caller may not see answers exactly like one that does not exist (same status, same bytes).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from fenghuo.api.deps import Services
from fenghuo.api.ratelimit import record_failure, refuse_if_limited
from fenghuo.intel.collections import Collection
from fenghuo.intel.taxii.http import TaxiiError
from fenghuo.store.keys import ApiKey, Role

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="fenghuo-taxii", Bearer'}
TAXII_ROLES = (Role.ADMIN, Role.SOC_ANALYST, Role.REGULATOR, Role.TENANT_VIEWER)
_SEE_ALL = (Role.ADMIN, Role.SOC_ANALYST)
_WRITERS = (Role.ADMIN, Role.SOC_ANALYST, Role.REGULATOR)


def not_found() -> TaxiiError:
    """The one answer for a collection that is missing or not the caller's to see."""
    return TaxiiError(
        404, "Not found", "the collection does not exist or is not shared with this key"
    )


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _token(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _user, sep, password = decoded.partition(":")
        return password if sep and password else None
    return None


def _caller(request: Request) -> ApiKey:
    refuse_if_limited(request)
    token = _token(request.headers.get("authorization", ""))
    if token is None:
        record_failure(request)
        raise TaxiiError(
            401,
            "Missing API key",
            "send Authorization: Bearer <key>, or HTTP Basic with the key as password",
            headers=_CHALLENGE,
        )
    key = services_of(request).store.keys.verify(token)
    if key is None:
        record_failure(request)
        raise TaxiiError(
            401, "Invalid API key", "the key is unknown or revoked", headers=_CHALLENGE
        )
    if key.role not in TAXII_ROLES:
        raise TaxiiError(403, "Forbidden", f"role {key.role.value} may not use TAXII")
    return key


TaxiiCaller = Annotated[ApiKey, Depends(_caller)]


def visible(collection: Collection | None, key: ApiKey) -> Collection:
    """The collection if the key may read it; the 404 of a missing one otherwise."""
    if collection is None or not collection.readable_by(key):
        raise not_found()
    return collection


def can_write(collection: Collection, key: ApiKey) -> bool:
    """Writable collections accept POSTs from admins, SOC analysts and granted regulators;
    tenant viewers only read."""
    return collection.can_write and key.role in _WRITERS


def sees_every_status(key: ApiKey) -> bool:
    return key.role in _SEE_ALL
