"""Pseudonymous STIX feeds never carry another tenant's real identifiers.

The identifiers are read from the inventory YAML here, independently of the code under test
(tenant ids and names, cloud accounts, VPCs, VM names, UUIDs, instance ids, addresses, interfaces,
disks, container ids), and every string of every object of every pseudonymous bundle of the
simulated hour (keys included) is scanned for them as whole tokens; bundles are built both
without and with the hour's alerts (whose details add flows and files: disk image paths name VMs).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from fenghuo.api.pseudonyms import pseudonym
from fenghuo.intel.collections import IdentityPolicy, Tlp
from fenghuo.intel.stix import FeedView, incident_bundle
from fenghuo.intel.stix.view import Masker
from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import load_inventory, parse_inventory
from fenghuo.model.alert import Alert, Entity, Severity
from fenghuo.model.incident import BlastRadius, Grade, GraphNode, Incident, TimelineEntry
from tests.api.seeded import Hour

KEY = b"another-test-key"


@pytest.fixture(scope="module")
def inventory(hour: Hour) -> InventoryIndex:
    return InventoryIndex(load_inventory(hour.root / "inventory.yaml"))


@pytest.fixture(scope="module")
def identifiers(hour: Hour) -> dict[str, set[str]]:
    """Tenant -> every identifier of it and its property, straight from the YAML."""
    raw = yaml.safe_load((hour.root / "inventory.yaml").read_text())
    found: dict[str, set[str]] = {}
    for tenant in raw["tenants"]:
        names = {tenant["id"], tenant.get("name") or ""}
        names |= {str(a) for a in tenant.get("accounts", [])} | set(tenant.get("vpcs", []))
        found.setdefault(tenant["id"], set()).update(names)
    for host in raw["hosts"]:
        for vm in host.get("vms", []):
            mine = found.setdefault(vm["tenant"], set())
            mine |= {vm["name"], vm.get("uuid") or "", vm.get("instance_id") or ""}
            mine |= {str(ip) for ip in vm.get("ips", [])} | set(vm.get("interfaces", []))
            mine |= set(vm.get("disks", []))
        for container in host.get("containers", []):
            found.setdefault(container["tenant"], set()).add(container["id"])
    for names in found.values():
        names.discard("")
    return found


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def leaks(bundle: dict[str, Any], forbidden: set[str]) -> list[tuple[str, str]]:
    """(identifier, text) for each whole-token occurrence of a forbidden identifier."""
    text = "\n".join(strings(bundle))
    found = []
    for name in forbidden:
        pattern = rf"(?<![A-Za-z0-9_.\-]){re.escape(name)}(?![A-Za-z0-9_\-]|\.\d)"
        if match := re.search(pattern, text):
            found.append((name, text[max(0, match.start() - 60) : match.end() + 60]))
    return found


def tenant_tokens(text: str, tenant_names: set[str]) -> set[str]:
    """Tenant ids appearing even as one part of a longer name ("globex-app-role")."""
    return {t for t in re.split(r"[^0-9A-Za-z]+", text) if t in tenant_names}


def feed(inventory: InventoryIndex, own_tenant: str | None = None) -> FeedView:
    return FeedView(
        tlp=Tlp.AMBER,
        identities=IdentityPolicy.PSEUDONYMOUS,
        own_tenant=own_tenant,
        pseudonym_key=KEY,
        inventory=inventory,
    )


def test_identifier_list_is_not_empty(identifiers: dict[str, set[str]]) -> None:
    assert len(identifiers) >= 6
    assert all(len(names) > 5 for names in identifiers.values())


@pytest.mark.parametrize("with_alerts", [False, True], ids=["incident", "with-alerts"])
def test_regulator_view_carries_no_tenant_identifier(
    hour: Hour, inventory: InventoryIndex, identifiers: dict[str, set[str]], with_alerts: bool
) -> None:
    everyone = set().union(*identifiers.values())
    tenant_ids = set(identifiers)
    alerts = hour.alerts if with_alerts else []
    for incident in hour.incidents:
        bundle = incident_bundle(incident, feed(inventory), alerts=alerts)
        assert leaks(bundle, everyone) == [], incident.id
        assert tenant_tokens("\n".join(strings(bundle)), tenant_ids) == set(), incident.id
        names = {o["name"] for o in bundle["objects"] if o["type"] == "identity"}
        expected = {
            pseudonym(KEY, "tenant", t) for t in (*incident.tenants, *incident.actor_tenants)
        }
        assert expected <= names  # the API's pseudonyms, the same everywhere


@pytest.mark.parametrize("with_alerts", [False, True], ids=["incident", "with-alerts"])
def test_own_tenant_view_hides_only_the_others(
    hour: Hour, inventory: InventoryIndex, identifiers: dict[str, set[str]], with_alerts: bool
) -> None:
    alerts = hour.alerts if with_alerts else []
    checked = 0
    for incident in hour.incidents:
        for own in incident.tenants:
            others = set().union(*(v for k, v in identifiers.items() if k != own))
            # An identifier both tenants use (none in the hour) would be the viewer's to see.
            others -= identifiers[own]
            bundle = incident_bundle(incident, feed(inventory, own), alerts=alerts)
            assert leaks(bundle, others) == [], (incident.id, own)
            text = "\n".join(strings(bundle))
            names = {o["name"] for o in bundle["objects"] if o["type"] == "identity"}
            assert own in names
            own_vms = [
                e.id for e in incident.entities if e.type == "vm" and e.id in identifiers[own]
            ]
            infra = {o["name"] for o in bundle["objects"] if o["type"] == "infrastructure"}
            assert set(own_vms) <= infra
            for other in {*incident.tenants, *incident.actor_tenants} - {own}:
                assert pseudonym(KEY, "tenant", other) in names
            assert own in tenant_tokens(text, set(identifiers))
            checked += 1
    assert checked >= len(hour.incidents)


def test_hidden_addresses_stay_valid_and_reserved(hour: Hour, inventory: InventoryIndex) -> None:
    tenant_nets = [ipaddress.ip_network(c) for t in inventory.tenants.values() for c in t.cidrs]
    seen = 0
    for incident in hour.incidents:
        real = {e.id for e in incident.entities if e.type == "ip"}
        bundle = incident_bundle(incident, feed(inventory), alerts=hour.alerts)
        for obj in bundle["objects"]:
            if obj["type"] not in ("ipv4-addr", "ipv6-addr"):
                continue
            address = ipaddress.ip_address(obj["value"])
            seen += 1
            in_tenant = any(address in net for net in tenant_nets)
            assert not in_tenant, obj["value"]
            if obj["value"] not in real:
                assert address in ipaddress.ip_network("198.18.0.0/15")
    assert seen > 0


def test_granted_view_keeps_identities(hour: Hour, inventory: InventoryIndex) -> None:
    incident = next(i for i in hour.incidents if i.actor_tenants)
    granted = FeedView(
        tlp=Tlp.RED,
        identities=IdentityPolicy.GRANTED,
        own_tenant=None,
        pseudonym_key=KEY,
        inventory=inventory,
    )
    bundle = incident_bundle(incident, granted)
    names = {o["name"] for o in bundle["objects"] if o["type"] == "identity"}
    assert {*incident.tenants, *incident.actor_tenants} <= names
    values = {o["value"] for o in bundle["objects"] if o["type"] == "ipv4-addr"}
    assert values == {e.id for e in incident.entities if e.type == "ip"}


def test_pseudonymous_ids_do_not_derive_from_real_names(
    hour: Hour, inventory: InventoryIndex
) -> None:
    """A VM's infrastructure id in a pseudonymous feed differs from the granted feed's, so a
    reader who knows the namespace cannot confirm a guessed VM name from an id."""
    incident = next(i for i in hour.incidents if any(e.type == "vm" for e in i.entities))
    granted = FeedView(
        tlp=Tlp.AMBER,
        identities=IdentityPolicy.GRANTED,
        own_tenant=None,
        pseudonym_key=KEY,
        inventory=inventory,
    )

    def vm_ids(view: FeedView) -> set[str]:
        bundle = incident_bundle(incident, view)
        return {
            o["id"]
            for o in bundle["objects"]
            if o["type"] == "infrastructure" and not o["name"].startswith("hv-")
        }

    assert vm_ids(granted)
    assert vm_ids(granted).isdisjoint(vm_ids(feed(inventory)))


def disk_files(bundle: dict[str, Any]) -> set[str]:
    objects = {o["id"]: o for o in bundle["objects"]}
    return {
        f"{objects[o['parent_directory_ref']]['path']}/{o['name']}"
        for o in bundle["objects"]
        if o["type"] == "file" and o["name"].endswith(".qcow2")
    }


def test_disk_image_files_are_masked_like_their_vms(hour: Hour, inventory: InventoryIndex) -> None:
    """A disk image path names its VM: a reader who may not see the VM reads the VM's pseudonym
    in the file name (the same as the VM's infrastructure object); its owner reads it as is."""
    raw = yaml.safe_load((hour.root / "inventory.yaml").read_text())
    owner = {d: vm["tenant"] for h in raw["hosts"] for vm in h.get("vms", []) for d in vm["disks"]}
    checked = 0
    for incident in hour.incidents:
        paths = {
            a.details["path"]
            for a in hour.alerts
            if a.id in incident.alert_ids and str(a.details.get("path", "")).endswith(".qcow2")
        }
        for path in paths:
            regulator = incident_bundle(incident, feed(inventory), alerts=hour.alerts)
            shown = disk_files(regulator)
            assert path not in shown
            assert len(shown) == 1
            (name,) = shown
            vm = path.rsplit("/", 1)[1].removesuffix(".qcow2")
            assert name == f"/var/lib/libvirt/images/{pseudonym(KEY, 'vm', vm)}.qcow2"
            infra = {o["name"] for o in regulator["objects"] if o["type"] == "infrastructure"}
            assert pseudonym(KEY, "vm", vm) in infra
            mine = incident_bundle(incident, feed(inventory, owner[path]), alerts=hour.alerts)
            assert disk_files(mine) == {path}
            checked += 1
    assert checked >= 2


def test_a_disk_path_naming_nothing_known_is_still_masked(inventory: InventoryIndex) -> None:
    """A hidden VM's disk whose path the text rewrite leaves alone (here: no rewrite at all)
    gets a pseudonymous file name, from the inventory's disk list."""
    vm = next(v for h in inventory.hosts.values() for v in h.vms if v.disks)
    (disk, *_) = vm.disks
    shown = Masker(feed(inventory)).path(disk, lambda value: value)
    assert shown != disk
    assert shown == f"{disk.rpartition('/')[0]}/{pseudonym(KEY, 'disk', disk)}"
    assert Masker(feed(inventory, vm.tenant)).path(disk, lambda value: value) == disk


# acme owns a VM whose name holds globex's id as a token; globex owns a VM of its own.
JOINED_YAML = """
tenants:
  - {id: acme, name: Acme Corp, accounts: ["111111111111"], cidrs: ["10.1.0.0/16"]}
  - {id: globex, name: Globex Corporation, accounts: ["222222222222"], cidrs: ["10.2.0.0/16"]}
hosts:
  - id: hv-01
    vms:
      - name: acme-globex-bridge
        tenant: acme
        ips: ["10.1.0.12"]
        disks: [/var/lib/libvirt/images/acme-globex-bridge.qcow2]
      - {name: globex-web-1, tenant: globex, ips: ["10.2.0.11"]}
"""
BRIDGE_DISK = "/var/lib/libvirt/images/acme-globex-bridge.qcow2"


def joined_case() -> tuple[InventoryIndex, Incident, list[Alert]]:
    """globex's VM opened the disk of acme's VM "acme-globex-bridge"."""
    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    text = "globex-web-1 (globex->acme) opened the disk of acme-globex-bridge on hv-01"
    alert = Alert(
        id="a-joined-1",
        detector="cross-vm-access",
        title="Cross-VM disk access: acme-globex-bridge",
        summary=text,
        severity=Severity.HIGH,
        confidence=0.9,
        technique="T1611",
        category="HTA",
        tenant_id="acme",
        actor_tenant_id="globex",
        host_id="hv-01",
        vm_id="globex-web-1",
        first_seen=at,
        last_seen=at,
        detected_at=at,
        details={"path": BRIDGE_DISK, "victim_vm": "acme-globex-bridge"},
    )
    incident = Incident(
        id="inc-joined-1",
        title="acme-globex-bridge disk opened by globex",
        summary=text,
        severity=Severity.HIGH,
        alert_ids=(alert.id,),
        tenants=("acme",),
        actor_tenants=("globex",),
        hosts=("hv-01",),
        first_seen=at,
        last_seen=at,
        updated_at=at,
        category="HTA",
        grade=Grade.II,
        blast_radius=BlastRadius(tenants=("acme",), vms=("acme-globex-bridge",)),
        entities=(
            Entity("tenant", "acme"),
            Entity("tenant", "globex"),
            Entity("vm", "acme-globex-bridge"),
            Entity("vm", "globex-web-1"),
        ),
        timeline=(
            TimelineEntry(
                time=at,
                alert_id=alert.id,
                detector=alert.detector,
                severity=alert.severity,
                summary=text,
            ),
        ),
        nodes=(GraphNode(id="vm:acme-globex-bridge", type="vm", label="acme-globex-bridge"),),
    )
    return InventoryIndex(parse_inventory(JOINED_YAML)), incident, [alert]


def test_own_view_keeps_own_identifiers_that_hold_another_tenant() -> None:
    """acme reads its own VM "acme-globex-bridge" as it is everywhere (names, text, graph, its
    disk image's file), while globex, joined to other text or standing alone, is hidden."""
    inventory, incident, alerts = joined_case()
    bundle = incident_bundle(incident, feed(inventory, "acme"), alerts=alerts)
    text = "\n".join(strings(bundle))
    infra = {o["name"] for o in bundle["objects"] if o["type"] == "infrastructure"}
    assert "acme-globex-bridge" in infra
    assert disk_files(bundle) == {BRIDGE_DISK}
    (sdo,) = (o for o in bundle["objects"] if o["type"] == "incident")
    globex, web = pseudonym(KEY, "tenant", "globex"), pseudonym(KEY, "vm", "globex-web-1")
    assert sdo["name"] == f"acme-globex-bridge disk opened by {globex}"
    assert sdo["description"] == (
        f"{web} ({globex}->acme) opened the disk of acme-globex-bridge on hv-01"
    )
    # globex appears only inside acme's own VM name.
    assert "globex" not in tenant_tokens(text.replace("acme-globex-bridge", ""), {"globex"})
    assert leaks(bundle, {"globex-web-1", "10.2.0.11", "222222222222"}) == []


def test_others_views_hide_a_vm_that_holds_another_tenant() -> None:
    inventory, incident, alerts = joined_case()
    bridge = pseudonym(KEY, "vm", "acme-globex-bridge")
    for view in (feed(inventory), feed(inventory, "globex")):
        bundle = incident_bundle(incident, view, alerts=alerts)
        text = "\n".join(strings(bundle))
        assert "acme-globex-bridge" not in text
        infra = {o["name"] for o in bundle["objects"] if o["type"] == "infrastructure"}
        assert bridge in infra
        assert disk_files(bundle) == {f"/var/lib/libvirt/images/{bridge}.qcow2"}
        assert "acme" not in tenant_tokens(text, {"acme"})
