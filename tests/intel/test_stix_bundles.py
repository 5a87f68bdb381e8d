"""The STIX 2.1 export of the simulated hour's incidents: valid, marked, deterministic, versioned.

Every bundle (each incident; granted, regulator-pseudonymous and own-tenant views; several TLP
levels) must pass `stix2validator.validate_instance` with no error and no warning except:

- 103 "Given ID value ... is not a valid UUIDv4 ID": our SDO/SRO ids are UUIDv5 of the incident
  id and the object's role (CONTRACTS.md: re-exports and restarts must produce the same ids).
  STIX 2.1 recommends, not requires, UUIDv4 for them, and allows UUIDv5 for deterministic ids.

Bundles built with the incident's alerts (`alerts=`) carry their flows and files as SCOs; there
the validator may also warn 301 ("should contain both the 'src_port' and 'dst_port'") on a
`network-traffic` object, and only there: the detectors' details do not report the initiator's
ephemeral port, and the export does not make one up.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import re
from typing import Any

import msgspec
import pytest
from stix2validator import ValidationOptions, validate_instance

from fenghuo.intel.collections import IdentityPolicy, Tlp
from fenghuo.intel.stix import (
    FeedView,
    incident_bundle,
    incident_objects,
    revoked_versions,
    shared_objects,
)
from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import load_inventory
from fenghuo.model.alert import Alert
from fenghuo.model.incident import Incident
from tests.api.seeded import Hour

ACCEPTED_WARNINGS = {"103"}
KEY = b"test-pseudonym-key"
TLP_IDS = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
INCIDENT_CORE = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
VERSIONED = {"marking-definition", "extension-definition"}


@pytest.fixture(scope="module")
def inventory(hour: Hour) -> InventoryIndex:
    return InventoryIndex(load_inventory(hour.root / "inventory.yaml"))


def view(
    inventory: InventoryIndex,
    tlp: Tlp = Tlp.AMBER,
    identities: IdentityPolicy = IdentityPolicy.PSEUDONYMOUS,
    own_tenant: str | None = None,
) -> FeedView:
    return FeedView(
        tlp=tlp,
        identities=identities,
        own_tenant=own_tenant,
        pseudonym_key=KEY,
        inventory=inventory,
    )


def views(inventory: InventoryIndex, incident: Incident) -> list[FeedView]:
    return [
        view(inventory, Tlp.RED, IdentityPolicy.GRANTED),
        view(inventory, Tlp.CLEAR, IdentityPolicy.GRANTED),
        view(inventory, Tlp.AMBER),
        view(inventory, Tlp.GREEN),
        view(inventory, Tlp.AMBER_STRICT, own_tenant=incident.tenants[0]),
    ]


def warning_codes(warnings: list[str]) -> set[str]:
    codes = set()
    for warning in warnings:
        match = re.search(r"\{(\d+)\}", warning)
        assert match, warning
        codes.add(match.group(1))
    return codes


def test_the_hour_has_incidents_worth_exporting(hour: Hour) -> None:
    assert len(hour.incidents) >= 10
    assert any(i.actor_tenants for i in hour.incidents)  # cross-tenant
    assert any(e.type == "ip" for i in hour.incidents for e in i.entities)


def test_every_bundle_validates(hour: Hour, inventory: InventoryIndex) -> None:
    options = ValidationOptions(version="2.1")
    checked = 0
    for incident in hour.incidents:
        for feed in views(inventory, incident):
            bundle = incident_bundle(incident, feed)
            result = validate_instance(bundle, options)
            assert result.is_valid, (incident.id, feed, [e.message for e in result.errors])
            unexpected = warning_codes(result.warnings) - ACCEPTED_WARNINGS
            assert not unexpected, (incident.id, feed.tlp, result.warnings)
            checked += 1
    assert checked == 5 * len(hour.incidents)


def unexpected_warnings(warnings: list[str]) -> list[str]:
    """Warnings beyond 103, and beyond 301 on a network-traffic object (module docstring)."""
    found = []
    for warning in warnings:
        codes = warning_codes([warning])
        if codes <= ACCEPTED_WARNINGS:
            continue
        if codes == {"301"} and re.match(r"network-traffic--[0-9a-f-]{36}: ", warning):
            continue
        found.append(warning)
    return found


def test_every_bundle_with_alerts_validates(hour: Hour, inventory: InventoryIndex) -> None:
    options = ValidationOptions(version="2.1")
    checked = 0
    for incident in hour.incidents:
        for feed in views(inventory, incident):
            bundle = incident_bundle(incident, feed, alerts=hour.alerts)
            result = validate_instance(bundle, options)
            assert result.is_valid, (incident.id, feed, [e.message for e in result.errors])
            assert unexpected_warnings(result.warnings) == [], (incident.id, feed.tlp)
            checked += 1
    assert checked == 5 * len(hour.incidents)


def own_alerts(hour: Hour, incident: Incident) -> list[Alert]:
    return [a for a in hour.alerts if a.id in incident.alert_ids]


def expected_flows(alerts: list[Alert]) -> set[tuple[str | None, str | None, int | None]]:
    """(source, destination, destination port) of the flows the details report, read here
    independently: an accepted flow's initiator, responder and service port; each target of a
    probing alert, from its one source, a port only when one service was probed."""
    found: set[tuple[str | None, str | None, int | None]] = set()
    for alert in alerts:
        details = alert.details
        if "initiator" in details:
            service_port = int(details["service"].split("/")[0])
            found.add((details["initiator"], details["responder"], service_port))
        elif details.get("targets"):
            services = details["services"]
            port = int(services[0].split("/")[0]) if len(services) == 1 else None
            (source,) = details["sources"]  # one source in the hour
            found |= {(source, target, port) for target in details["targets"]}
    return found


def expected_paths(alerts: list[Alert]) -> set[str]:
    """The files the details name: binaries, disk images, written and escaped-through files."""
    paths: set[str] = set()
    for alert in alerts:
        details = alert.details
        paths |= {details[k] for k in ("exe", "path", "file") if k in details}
        paths |= set(details.get("paths", []))
        paths |= {a for a in details.get("argv", [])[1:] if a.startswith("/")}
    return paths


def test_bundles_with_alerts_carry_flows_and_files(hour: Hour, inventory: InventoryIndex) -> None:
    feed = view(inventory, Tlp.RED, IdentityPolicy.GRANTED)
    flows_seen = files_seen = 0
    for incident in hour.incidents:
        alerts = own_alerts(hour, incident)
        assert len(alerts) == len(incident.alert_ids)  # the hour has every incident's alerts
        objects = _by_id(incident_objects(incident, feed, alerts=alerts))
        traffic = [o for o in objects.values() if o["type"] == "network-traffic"]
        flows = {
            (
                objects[o["src_ref"]]["value"] if "src_ref" in o else None,
                objects[o["dst_ref"]]["value"] if "dst_ref" in o else None,
                o.get("dst_port"),
            )
            for o in traffic
        }
        assert flows == expected_flows(alerts), incident.id
        for o in traffic:
            assert o["protocols"][0] in ("ipv4", "ipv6")
            assert {objects[o[r]]["type"] for r in ("src_ref", "dst_ref") if r in o} <= {
                "ipv4-addr",
                "ipv6-addr",
            }
        files = {
            f"{objects[o['parent_directory_ref']]['path'].rstrip('/')}/{o['name']}"
            for o in objects.values()
            if o["type"] == "file"
        }
        assert expected_paths(alerts) <= files, incident.id
        for alert in alerts:  # an accepted flow's volume counts for its sender
            if "initiator" in alert.details:
                (flow,) = [
                    o
                    for o in traffic
                    if objects[o["src_ref"]]["value"] == alert.details["initiator"]
                    and objects[o["dst_ref"]]["value"] == alert.details["responder"]
                    and f"{o.get('dst_port')}/tcp" == alert.details["service"]
                ]
                counts = {flow.get("src_byte_count"), flow.get("dst_byte_count")}
                assert alert.details["bytes"] in counts
        scos = {i for i, o in objects.items() if "modified" not in o and "spec_version" in o}
        observed = [o for o in objects.values() if o["type"] == "observed-data"]
        assert {r for o in observed for r in o["object_refs"]} == scos  # every SCO is evidence
        without = incident_objects(incident, feed)
        assert not {o["type"] for o in without} & {"network-traffic", "file", "directory"}
        flows_seen += len(traffic)
        files_seen += len(files)
    assert flows_seen >= 2  # the hour's accepted flow and probing
    assert files_seen >= 5  # disk images, binaries, an authorized_keys, core_pattern...


def test_disk_images_are_files_in_their_directory(hour: Hour, inventory: InventoryIndex) -> None:
    incident = next(
        i for i in hour.incidents if any("qcow2" in str(a.details) for a in own_alerts(hour, i))
    )
    feed = view(inventory, Tlp.RED, IdentityPolicy.GRANTED)
    objects = _by_id(incident_objects(incident, feed, alerts=own_alerts(hour, incident)))
    disks = [o for o in objects.values() if o["type"] == "file" and o["name"].endswith(".qcow2")]
    assert disks
    for disk in disks:
        assert objects[disk["parent_directory_ref"]]["path"] == "/var/lib/libvirt/images"
    images = {o.get("image_ref") for o in objects.values() if o["type"] == "process"}
    assert {objects[i]["name"] for i in images if i} >= {"qemu-kvm"}  # the process's binary


def test_alert_order_and_copies_do_not_matter(hour: Hour, inventory: InventoryIndex) -> None:
    shuffler = random.Random(20)
    for incident in hour.incidents:
        for feed in (view(inventory), view(inventory, identities=IdentityPolicy.GRANTED)):
            alerts = own_alerts(hour, incident)
            first = incident_objects(incident, feed, alerts=alerts)
            for _ in range(3):
                shuffled = [*alerts, *hour.alerts, *alerts]  # copies, other incidents' alerts
                shuffler.shuffle(shuffled)
                assert incident_objects(incident, feed, alerts=shuffled) == first, incident.id
            assert incident_objects(incident, feed, alerts=alerts[::-1]) == first
            assert incident_bundle(incident, feed, alerts=tuple(reversed(alerts))) == (
                incident_bundle(incident, feed, alerts=alerts)
            )


def test_hidden_flow_ends_are_reserved_addresses(hour: Hour, inventory: InventoryIndex) -> None:
    tenant_nets = [ipaddress.ip_network(c) for t in inventory.tenants.values() for c in t.cidrs]
    ends = 0
    for incident in hour.incidents:
        objects = _by_id(incident_objects(incident, view(inventory), alerts=hour.alerts))
        for o in objects.values():
            if o["type"] != "network-traffic":
                continue
            for ref in ("src_ref", "dst_ref"):
                if ref in o:
                    address = ipaddress.ip_address(objects[o[ref]]["value"])
                    assert not any(address in net for net in tenant_nets), o["id"]
                    ends += 1
    assert ends > 0


def test_bundle_contents(hour: Hour, inventory: InventoryIndex) -> None:
    incident = next(i for i in hour.incidents if i.hosts and i.actor_tenants)
    objects = incident_objects(incident, view(inventory, identities=IdentityPolicy.GRANTED))
    types = {o["type"] for o in objects}
    assert {
        "incident",
        "attack-pattern",
        "course-of-action",
        "identity",
        "infrastructure",
        "observed-data",
        "sighting",
        "relationship",
    } <= types
    (inc,) = [o for o in objects if o["type"] == "incident"]
    core = inc["extensions"][INCIDENT_CORE]
    assert core["extension_type"] == "property-extension"
    assert core["determination"] == "suspected"
    assert core["investigation_status"] == "new"
    assert core["criticality"] == round(incident.risk_score)
    own = next(v for k, v in inc["extensions"].items() if k not in (INCIDENT_CORE,))
    assert own["gbt_20986"]["category"] == incident.category
    assert own["gbt_20986"]["level"] == incident.grade.value
    assert own["reporting"]["required"] is incident.reporting.required
    assert own["blast_radius"]["vm_count"] == len(incident.blast_radius.vms)
    refs = [
        r
        for o in objects
        if o["type"] == "attack-pattern"
        for r in o["external_references"]
        if r["source_name"] == "mitre-attack"
    ]
    assert refs
    assert all(re.fullmatch(r"T\d{4}(\.\d{3})?", r["external_id"]) for r in refs)
    names = {o["name"] for o in objects if o["type"] == "identity"}
    assert {*incident.tenants, *incident.actor_tenants} == names
    ids = {o["id"] for o in objects} | {o["id"] for o in shared_objects(view(inventory))}
    for rel in (o for o in objects if o["type"] == "relationship"):
        assert rel["source_ref"] in ids
        assert rel["target_ref"] in ids


def test_analyst_status_drives_the_incident_core(hour: Hour, inventory: InventoryIndex) -> None:
    from fenghuo.model.incident import IncidentStatus

    incident = hour.incidents[0]
    cases = {
        IncidentStatus.INVESTIGATING: ("suspected", "open"),
        IncidentStatus.FALSE_POSITIVE: ("false-positive", "closed"),
        IncidentStatus.RESOLVED: ("suspected", "closed"),
    }
    for status, (determination, investigation) in cases.items():
        changed = msgspec.structs.replace(incident, status=status)
        (inc,) = [o for o in incident_objects(changed, view(inventory)) if o["type"] == "incident"]
        core = inc["extensions"][INCIDENT_CORE]
        assert (core["determination"], core["investigation_status"]) == (
            determination,
            investigation,
        )


def test_tlp_2_0_markings_are_the_oasis_ones(inventory: InventoryIndex) -> None:
    for level in Tlp:
        shared = shared_objects(view(inventory, level))
        markings = {o["id"]: o for o in shared if o["type"] == "marking-definition"}
        assert TLP_IDS[level.value] in markings
        for marking_id, marking in markings.items():
            name = next(k for k, v in TLP_IDS.items() if v == marking_id)
            assert marking["created"] == "2022-10-01T00:00:00.000Z"
            assert marking["name"] == f"TLP:{name.upper()}"
            assert marking["extensions"] == {
                TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": name}
            }
            assert "definition_type" not in marking  # not TLP 1.0
    definitions = {o["id"] for o in shared_objects(view(inventory))}
    assert INCIDENT_CORE in definitions


def test_every_object_is_marked(hour: Hour, inventory: InventoryIndex) -> None:
    for incident in hour.incidents:
        for level in (Tlp.GREEN, Tlp.RED):
            feed = view(inventory, level)
            provider = next(o["id"] for o in shared_objects(feed) if o["type"] == "identity")
            bundle = incident_bundle(incident, feed)
            for obj in bundle["objects"]:
                if obj["type"] == "marking-definition":
                    assert "object_marking_refs" not in obj
                    continue
                marks = set(obj["object_marking_refs"])
                assert len(marks) == 1, obj["id"]
                assert marks <= set(TLP_IDS.values()), obj["id"]
                if obj["type"] == "extension-definition" or obj["id"] == provider:
                    assert marks == {TLP_IDS["clear"]}  # public definitions, the provider
                else:
                    assert marks == {TLP_IDS[level.value]}, obj["id"]
                if "created_by_ref" in obj and obj["type"] not in VERSIONED:
                    assert obj["created_by_ref"].startswith("identity--")
            defined = {o["id"] for o in bundle["objects"] if o["type"] == "extension-definition"}
            for obj in bundle["objects"]:
                used = set(obj.get("extensions", {})) - {TLP_EXTENSION}
                assert used <= defined, obj["id"]  # every extension used is published with it
                assert not [k for k in _keys(obj) if k.startswith("x_")], obj["id"]
            marking_ids = {o["id"] for o in bundle["objects"] if o["type"] == "marking-definition"}
            used = {m for o in bundle["objects"] for m in o.get("object_marking_refs", [])}
            assert used <= marking_ids  # every marking used is in the bundle


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


def test_every_sdo_and_sro_names_the_provider(hour: Hour, inventory: InventoryIndex) -> None:
    feed = view(inventory)
    provider = next(o for o in shared_objects(feed) if o["type"] == "identity")
    for incident in hour.incidents:
        for obj in incident_objects(incident, feed):
            if "modified" in obj:  # SDOs and SROs
                assert obj["created_by_ref"] == provider["id"]


def test_ids_are_deterministic(hour: Hour, inventory: InventoryIndex) -> None:
    for incident in hour.incidents:
        feed = view(inventory)
        first = incident_bundle(incident, feed)
        again = incident_bundle(
            msgspec.json.decode(msgspec.json.encode(incident), type=Incident), feed
        )
        assert first == again
        ids = [o["id"] for o in first["objects"]]
        assert len(ids) == len(set(ids))


def _by_id(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in objects}


def test_a_changed_incident_keeps_ids_and_versions_what_changed(
    hour: Hour, inventory: InventoryIndex
) -> None:
    incident = next(i for i in hour.incidents if i.hosts)
    changed = msgspec.structs.replace(
        incident,
        updated_at=incident.updated_at + dt.timedelta(minutes=5),
        risk_score=min(100.0, incident.risk_score + 3),
        last_seen=incident.last_seen + dt.timedelta(minutes=1),
    )
    feed = view(inventory)
    before, after = (
        _by_id(incident_objects(incident, feed)),
        _by_id(incident_objects(changed, feed)),
    )
    assert before.keys() == after.keys()
    bumped = set()
    for object_id, old in before.items():
        new = after[object_id]
        assert new.get("created") == old.get("created")
        if "modified" not in old:
            assert new == old  # SCOs do not version
        elif new["modified"] == old["modified"]:
            assert new == old, f"{object_id} changed without a new version"
        else:
            assert new["modified"] > old["modified"]
            bumped.add(old["type"])
    assert {"incident", "observed-data", "sighting"} <= bumped
    assert not bumped & {"attack-pattern", "identity", "course-of-action", "infrastructure"}
    (inc,) = [o for o in after.values() if o["type"] == "incident"]
    assert inc["modified"] == changed.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_revoked_versions(hour: Hour, inventory: InventoryIndex) -> None:
    incident = hour.incidents[0]
    feed = view(inventory)
    latest = [*shared_objects(feed), *incident_objects(incident, feed)]
    at = incident.updated_at + dt.timedelta(hours=1)
    versions = revoked_versions(latest, at)
    provider = next(o["id"] for o in shared_objects(feed) if o["type"] == "identity")
    versioned = [
        o for o in latest if "modified" in o and o["type"] not in VERSIONED and o["id"] != provider
    ]
    assert len(versioned) > 10
    assert {v["id"] for v in versions} == {o["id"] for o in versioned}
    assert not {v["type"] for v in versions} & {
        "marking-definition",
        "extension-definition",
        "ipv4-addr",
        "process",
        "user-account",
    }
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    old = _by_id(latest)
    options = ValidationOptions(version="2.1")
    for version in versions:
        assert version["revoked"] is True
        assert version["modified"] == stamp
        assert {k: v for k, v in version.items() if k not in ("revoked", "modified")} == {
            k: v for k, v in old[version["id"]].items() if k not in ("revoked", "modified")
        }
        result = validate_instance(version, options)
        assert result.is_valid
        assert not warning_codes(result.warnings) - ACCEPTED_WARNINGS

    # A clock behind the last version still moves `modified` forward, by 1 ms.
    early = revoked_versions(latest, incident.first_seen - dt.timedelta(days=1))
    (inc,) = [v for v in early if v["type"] == "incident"]
    last = dt.datetime.fromisoformat(old[inc["id"]]["modified"].replace("Z", "+00:00"))
    assert dt.datetime.fromisoformat(inc["modified"].replace("Z", "+00:00")) == last + dt.timedelta(
        milliseconds=1
    )
    # Already revoked objects are not revoked again.
    assert revoked_versions(versions, at + dt.timedelta(hours=1)) == []


def test_bundle_ids_differ_per_view(hour: Hour, inventory: InventoryIndex) -> None:
    incident = hour.incidents[0]
    a = incident_bundle(incident, view(inventory, Tlp.AMBER))
    b = incident_bundle(incident, view(inventory, Tlp.RED))
    assert a["type"] == "bundle"
    assert a["id"] != b["id"]
