"""The feed writer over the simulated hour: incidents in, a collection's objects and the reports
out; what a regulator then reads with the OASIS client is valid STIX, pseudonymous, and each
version exactly once. Real SQLite store, real uvicorn server, real taxii2-client."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import Collection as RemoteCollection
from taxii2client.v21 import as_pages

from fenghuo.intel.collections import Collection, CollectionFilter, Tlp
from fenghuo.intel.feed import FeedWriter
from fenghuo.intel.objects import ObjectQuery
from fenghuo.intel.reports.repository import ReportQuery
from fenghuo.intel.stix import incident_stix_id
from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import load_inventory
from fenghuo.model.incident import Grade, Incident
from fenghuo.store.base import Scope
from fenghuo.store.sqlite import SqliteStore
from tests.api.seeded import Hour
from tests.intel.taxii_support import TaxiiApi, taxii_api

KEY = b"feed-test-pseudonym-key"
NOW = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
# 103: our SDO/SRO ids are UUIDv5 (deterministic by contract), the validator wants UUIDv4.
# 301: a network-traffic whose source port no detector reports (probes, accepted flows).
ACCEPTED = {"103", "301"}
_RANK = {Grade.IV: 0, Grade.III: 1, Grade.II: 2, Grade.I: 3}


def serious(hour: Hour) -> list[Incident]:
    return [i for i in hour.incidents if _RANK[i.grade] >= _RANK[Grade.III]]


@pytest.fixture(scope="module")
def inventory(hour: Hour) -> InventoryIndex:
    return InventoryIndex(load_inventory(hour.root / "inventory.yaml"))


@pytest.fixture
def served(tmp_path: Path, hour: Hour) -> Iterator[TaxiiApi]:
    with taxii_api(tmp_path) as api:
        api.store.alerts.upsert(hour.alerts)
        api.store.incidents.upsert(hour.incidents)
        yield api


def national(api: TaxiiApi) -> Collection:
    return api.collection(
        "graded III and above",
        readers=("regulator-a",),
        tlp=Tlp.AMBER,
        filter=CollectionFilter(min_grade=Grade.III),
    )


def writer(store: SqliteStore, inventory: InventoryIndex) -> FeedWriter:
    return FeedWriter(store, KEY, lambda: inventory, clock=lambda: NOW)


def latest(store: SqliteStore, collection: Collection) -> list[dict[str, Any]]:
    objects, cursor = [], None
    while True:
        page = store.objects.page(collection.id, ObjectQuery(), limit=1000, cursor=cursor)
        objects += [o.body for o in page.objects]
        if page.next is None:
            return objects
        cursor = page.next


def forbidden(hour: Hour) -> set[str]:
    """Every tenant's identifiers, straight from the inventory YAML."""
    raw = yaml.safe_load((hour.root / "inventory.yaml").read_text())
    names: set[str] = set()
    for tenant in raw["tenants"]:
        names |= {tenant["id"], tenant.get("name") or ""}
        names |= {str(a) for a in tenant.get("accounts", [])} | set(tenant.get("vpcs", []))
    for host in raw["hosts"]:
        for vm in host.get("vms", []):
            names |= {vm["name"], vm.get("uuid") or "", vm.get("instance_id") or ""}
            names |= {str(ip) for ip in vm.get("ips", [])} | set(vm.get("interfaces", []))
        names |= {c["id"] for c in host.get("containers", [])}
    names.discard("")
    return names


def leaks(objects: list[dict[str, Any]], names: set[str]) -> list[str]:
    text = msgspec.json.encode(objects).decode()
    return [
        name
        for name in names
        if re.search(rf"(?<![A-Za-z0-9_.\-]){re.escape(name)}(?![A-Za-z0-9_\-]|\.\d)", text)
    ]


def test_the_collection_holds_exactly_the_serious_incidents_as_valid_stix(
    served: TaxiiApi, hour: Hour, inventory: InventoryIndex
) -> None:
    collection = national(served)
    assert serious(hour), "the hour must have incidents graded III or above"
    writer(served.store, inventory).write(hour.incidents)
    objects = latest(served.store, collection)
    incidents = {o["id"] for o in objects if o["type"] == "incident"}
    assert incidents == {incident_stix_id(i.id) for i in serious(hour)}
    assert len({o["id"] for o in objects}) == len(objects)  # latest versions: one per id
    bundle = {"type": "bundle", "id": "bundle--6b2c6c53-3c2e-4e0c-9a55-2b8f0a3c1d10"}
    result = validate_instance({**bundle, "objects": objects}, ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.errors]
    codes = [re.search(r"\{(\d+)\}", str(w)) for w in result.warnings]
    assert all(codes), result.warnings
    assert {m.group(1) for m in codes if m} <= ACCEPTED
    assert not leaks(objects, forbidden(hour))


def test_writing_again_adds_nothing_and_a_change_versions_only_what_changed(
    served: TaxiiApi, hour: Hour, inventory: InventoryIndex
) -> None:
    collection = national(served)
    feed = writer(served.store, inventory)
    feed.write(hour.incidents)
    count = served.store.objects.count(collection.id)
    feed.write(hour.incidents)
    assert served.store.objects.count(collection.id) == count

    target = serious(hour)[0]
    before = {o["id"]: o for o in latest(served.store, collection)}
    changed = msgspec.structs.replace(
        target,
        summary=target.summary + " (updated)",
        updated_at=target.updated_at + dt.timedelta(minutes=5),
    )
    feed.write([changed])
    after = {o["id"]: o for o in latest(served.store, collection)}
    versioned = {i for i in after if after[i].get("modified") != before[i].get("modified")}
    assert incident_stix_id(target.id) in versioned
    for ident in versioned:
        assert after[ident]["modified"] > before[ident]["modified"]
    assert served.store.objects.count(collection.id) == count + len(versioned)
    # Same content with a later updated_at: nothing new.
    feed.write([msgspec.structs.replace(changed, updated_at=changed.updated_at.replace(year=2027))])
    assert served.store.objects.count(collection.id) == count + len(versioned)


def test_a_retired_incident_is_revoked(
    served: TaxiiApi, hour: Hour, inventory: InventoryIndex
) -> None:
    collection = national(served)
    feed = writer(served.store, inventory)
    feed.write(hour.incidents)
    target = serious(hour)[0]
    feed.write([], retired=[target.id])
    stored = served.store.objects.latest(collection.id, [incident_stix_id(target.id)])
    assert stored[incident_stix_id(target.id)].body["revoked"] is True
    others = served.store.objects.latest(collection.id, [incident_stix_id(serious(hour)[1].id)])
    assert not others[incident_stix_id(serious(hour)[1].id)].body.get("revoked")
    revoked_ids = set(served.store.objects.ids_of_source(collection.id, target.id))
    for obj in latest(served.store, collection):
        if obj["id"] in revoked_ids and "modified" in obj and obj["type"] != "identity":
            assert obj.get("revoked") is True, obj["id"]


def test_a_new_collection_is_backfilled_from_the_store(
    served: TaxiiApi, hour: Hour, inventory: InventoryIndex
) -> None:
    collection = national(served)
    assert writer(served.store, inventory).backfill(collection) == len(serious(hour))
    incidents = {o["id"] for o in latest(served.store, collection) if o["type"] == "incident"}
    assert incidents == {incident_stix_id(i.id) for i in serious(hour)}


def test_reports_are_drafted_for_the_reportable_incidents(
    served: TaxiiApi, hour: Hour, inventory: InventoryIndex
) -> None:
    writer(served.store, inventory).write(hour.incidents)
    reportable = {i.id for i in hour.incidents if i.reporting.required}
    assert reportable
    reports = served.store.reports.list(Scope.everything(), ReportQuery(), NOW)
    assert {r.incident_id for r in reports if r.kind == "initial"} == reportable
    deadlines = {i.id: i.reporting.deadline for i in hour.incidents}
    assert all(r.due_at == deadlines[r.incident_id] for r in reports if r.kind == "initial")


def test_a_regulator_reads_every_version_once_through_the_oasis_client(
    served: TaxiiApi, hour: Hour, inventory: InventoryIndex
) -> None:
    collection = national(served)
    feed = writer(served.store, inventory)
    feed.write(hour.incidents)
    target = serious(hour)[0]
    feed.write([msgspec.structs.replace(target, summary="changed", updated_at=NOW)])
    url = served.collection_url(collection.id)
    remote = RemoteCollection(url, user="regulator", password=served.tokens["regulator-a"])
    seen: list[tuple[str, str]] = []
    for envelope in as_pages(remote.get_objects, per_request=50, version="all"):
        seen += [(o["id"], o.get("modified", "")) for o in envelope.get("objects", [])]
    assert len(seen) == len(set(seen)) == served.store.objects.count(collection.id)
    # Another regulator is not granted it: the collection does not exist for it.
    other = RemoteCollection(url, user="regulator", password=served.tokens["regulator-b"])
    with pytest.raises(Exception, match="404"):
        other.get_objects()


def test_created_is_kept_and_a_revoked_incident_stays_revoked(
    served: TaxiiApi, hour: Hour, inventory: InventoryIndex
) -> None:
    collection = national(served)
    feed = writer(served.store, inventory)
    feed.write(hour.incidents)
    target = serious(hour)[0]
    ident = incident_stix_id(target.id)
    first = served.store.objects.latest(collection.id, [ident])[ident].body
    earlier = msgspec.structs.replace(
        target,
        first_seen=target.first_seen - dt.timedelta(minutes=3),
        summary=target.summary + " (an earlier alert)",
        updated_at=target.updated_at + dt.timedelta(minutes=5),
    )
    feed.write([earlier])
    second = served.store.objects.latest(collection.id, [ident])[ident].body
    assert second["modified"] > first["modified"]  # the incident changed
    assert second["created"] == first["created"]  # but a version never changes `created`
    feed.write([], retired=[target.id])
    count = served.store.objects.count(collection.id)
    feed.write([msgspec.structs.replace(earlier, summary="back", updated_at=NOW)])
    assert served.store.objects.latest(collection.id, [ident])[ident].body["revoked"] is True
    assert served.store.objects.count(collection.id) == count
