"""TAXII collections: saved filters over incidents, each with a TLP level and an identity policy.

A collection is what a regulator (or a tenant's own security team) is granted: "all incidents
graded 较大 (III) or above", "this province's tenants", "tenant T's own incidents". Its objects
are precomputed for it (`fenghuo.intel.objects`): the same incident reads differently in two
collections (markings, pseudonyms), so objects are stored per collection.

Who reads what: admins and SOC analysts read every collection; a `regulator` or `tenant_viewer`
key reads only the collections whose `readers` name its key id. A tenant viewer may only be
granted a collection of its own tenant (`own_tenant` and the filter's `tenants` are its tenant):
`grantable` checks that, and the server checks it again on every read.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from typing import Protocol

import msgspec

from fenghuo.errors import FenghuoError
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.alert import Severity, UtcDatetime
from fenghuo.model.incident import Grade, Incident
from fenghuo.store.keys import ApiKey, Role

_GRADE_RANK = {Grade.IV: 0, Grade.III: 1, Grade.II: 2, Grade.I: 3}


class CollectionError(FenghuoError):
    """A collection cannot be created or granted as asked."""


class Tlp(enum.StrEnum):
    """TLP 2.0 levels (FIRST), marked on every object of a collection."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"


class IdentityPolicy(enum.StrEnum):
    """How tenants appear in a collection's objects: by their stable pseudonym (the API's keyed
    HMAC), or by their real identities (a feed granted identities)."""

    PSEUDONYMOUS = "pseudonymous"
    GRANTED = "granted"


def grade_at_least(grade: Grade, minimum: Grade) -> bool:
    return _GRADE_RANK[grade] >= _GRADE_RANK[minimum]


class CollectionFilter(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which incidents a collection carries (every condition set must hold)."""

    min_grade: Grade | None = None  # e.g. III: 较大 and above
    min_severity: Severity | None = None
    reportable_only: bool = False  # only incidents the national rules require to be reported
    tenants: tuple[str, ...] = ()  # incidents affecting or coming from one of these tenants
    provinces: tuple[str, ...] = ()  # incidents of tenants in these provinces (inventory)

    def matches(self, incident: Incident, inventory: InventoryIndex | None) -> bool:
        if self.min_grade is not None and not grade_at_least(incident.grade, self.min_grade):
            return False
        if self.min_severity is not None and not incident.severity.at_least(self.min_severity):
            return False
        if self.reportable_only and not incident.reporting.required:
            return False
        involved = {*incident.tenants, *incident.actor_tenants}
        if self.tenants and involved.isdisjoint(self.tenants):
            return False
        if self.provinces:
            if inventory is None:
                return False
            provinces = {_province(inventory, t) for t in involved}
            if provinces.isdisjoint(self.provinces):
                return False
        return True


def _province(inventory: InventoryIndex, tenant: str) -> str | None:
    record = inventory.tenants.get(tenant)
    return record.province if record is not None else None


class Collection(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # a UUID (TAXII collection ids are UUIDs; the id appears in the collection's URL)
    title: str
    description: str = ""
    alias: str | None = None
    tlp: Tlp = Tlp.AMBER
    identities: IdentityPolicy = IdentityPolicy.PSEUDONYMOUS
    # A tenant's own security team: its own identifiers stay readable, others are pseudonyms.
    own_tenant: str | None = None
    filter: CollectionFilter = CollectionFilter()
    can_write: bool = False  # accepts POSTed objects (a status resource answers)
    readers: tuple[str, ...] = ()  # key ids of regulator / tenant_viewer keys granted
    created_at: UtcDatetime

    def readable_by(self, key: ApiKey) -> bool:
        """Admins and SOC analysts read every collection; regulators and tenant viewers only
        what they were granted (a tenant viewer only its own tenant's collection)."""
        if key.role in (Role.ADMIN, Role.SOC_ANALYST):
            return True
        if key.role is Role.REGULATOR:
            return key.id in self.readers
        if key.role is Role.TENANT_VIEWER:
            return key.id in self.readers and self.is_own_collection_of(key.tenant_id)
        return False

    def is_own_collection_of(self, tenant: str | None) -> bool:
        return (
            tenant is not None
            and self.own_tenant == tenant
            and self.identities is IdentityPolicy.PSEUDONYMOUS
            and self.filter.tenants == (tenant,)
        )


def new_collection_id() -> str:
    return str(uuid.uuid4())


def grantable(collection: Collection, key: ApiKey) -> None:
    """Raise unless `key` may be granted `collection`."""
    if key.role is Role.REGULATOR:
        return
    if key.role is Role.TENANT_VIEWER and collection.is_own_collection_of(key.tenant_id):
        return
    msg = (
        f"key {key.id} ({key.role.value}) cannot be granted collection {collection.id}: only"
        " regulator keys, or a tenant viewer for its own tenant's pseudonymous collection"
    )
    raise CollectionError(msg)


class CollectionRepository(Protocol):
    def create(self, collection: Collection) -> Collection: ...

    def get(self, collection_id: str) -> Collection | None: ...

    def list(self) -> Sequence[Collection]:
        """Every collection, oldest first (created_at, then id)."""

    def grant(self, collection_id: str, key_ids: Iterable[str]) -> Collection:
        """Add readers (idempotent); CollectionError when the collection is unknown."""

    def revoke_grant(self, collection_id: str, key_id: str) -> Collection: ...

    def delete(self, collection_id: str) -> bool: ...
