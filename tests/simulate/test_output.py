"""The files `fenghuo simulate` writes: real formats that the real parsers read with no record
error, every event attributed, the inventory and labels valid, byte-identical for a seed."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from fenghuo.ingest.parsers import RecordError
from fenghuo.inventory import parse_inventory
from fenghuo.model import Event, Family, ProcessExec, SyscallActivity, VmLifecycle
from fenghuo.simulate import SimulationResult, load_labels, run_simulate
from fenghuo.simulate.plan import HOST_KINDS, KINDS
from fenghuo.simulate.render.vpcflow import HEADER
from tests.simulate.conftest import CONFIG, parse_simulation

Simulation = tuple[Path, SimulationResult]


@pytest.fixture(scope="module")
def parsed(
    simulation: Simulation,
) -> tuple[list[tuple[dict[str, object], Event]], list[RecordError]]:
    return parse_simulation(simulation[0])


def test_every_file_parses_with_zero_record_errors(
    simulation: Simulation,
    parsed: tuple[list[tuple[dict[str, object], Event]], list[RecordError]],
) -> None:
    events, errors = parsed
    assert errors == []
    per_file = Counter(str(entry["path"]) for entry, _event in events)
    manifest = json.loads((simulation[0] / "manifest.json").read_text())
    # One normalised event per simulated event, exactly as the manifest counts them.
    assert {e["path"]: e["events"] for e in manifest} == {
        e["path"]: per_file[e["path"]] for e in manifest
    }
    assert sum(per_file.values()) == simulation[1].events
    assert {e["format"] for e in manifest if e["events"]} == {
        "auditd",
        "libvirt-events",
        "falco",
        "cloudtrail",
        "vpcflow",
    }


def test_every_event_is_attributed_except_churned_vms(
    simulation: Simulation,
    parsed: tuple[list[tuple[dict[str, object], Event]], list[RecordError]],
) -> None:
    """Unattributed on purpose: VMs launched and terminated between inventory snapshots (their
    libvirt domains are named by instance id, their QEMU by the same name)."""
    events, _ = parsed
    inventory_vms = {vm.name for vm in simulation[1].world.vms()}
    statuses = Counter(event.attribution for _entry, event in events)
    assert statuses["pending"] == 0
    assert statuses["attributed"] > 0.9 * len(events)
    for _entry, event in events:
        if event.attribution == "provider":
            assert event.family is Family.HYPERVISOR
            assert event.host_id is not None
        if event.attribution != "unattributed":
            continue
        if isinstance(event, VmLifecycle):
            name = event.vm_name
        else:  # the churned VM's QEMU (and what it runs, binds) named by its command line
            assert isinstance(event, ProcessExec | SyscallActivity), event
            name = event.process.vm_name or ""
        assert name.startswith("i-0"), event
        assert name not in inventory_vms, event


def test_inventory_is_valid_and_multi_tenant(simulation: Simulation) -> None:
    inventory = parse_inventory((simulation[0] / "inventory.yaml").read_text())
    assert len(inventory.tenants) == CONFIG.tenants
    assert len(inventory.hosts) == CONFIG.hosts
    assert sum(len(h.vms) for h in inventory.hosts) == CONFIG.vms
    assert {s.name for s in inventory.shared_services} == {"dns", "ntp", "metadata"}
    assert inventory.peerings
    assert sum(len(h.containers) for h in inventory.hosts) >= CONFIG.tenants
    shared = [h for h in inventory.hosts if len({vm.tenant for vm in h.vms}) >= 2]
    assert len(shared) >= CONFIG.hosts // 2  # co-residency is the rule, not the exception


def test_labels_follow_the_contract_and_cover_every_kind(simulation: Simulation) -> None:
    root, result = simulation
    raw = json.loads((root / "labels.json").read_text())
    contract = ["id", "kind", "tenant_id", "actor_tenant_id", "host_id", "vm_id", "start", "end"]
    assert all(list(entry)[: len(contract)] == contract for entry in raw["attacks"])
    labels = load_labels(root / "labels.json")
    assert labels == result.labels
    assert {label.kind for label in labels} == set(KINDS)
    tenants = {t.id for t in result.world.tenants}
    hosts = {h.id for h in result.world.hosts}
    start, end = CONFIG.start, CONFIG.end
    for label in labels:
        assert start <= label.start <= label.end <= end, label
        assert label.tenant_id in tenants
        assert label.tenant_id != label.actor_tenant_id
        assert label.actor_tenant_id is None or label.actor_tenant_id in tenants
        if label.kind in HOST_KINDS or label.kind == "container_escape":
            assert label.host_id in hosts
        else:
            assert label.host_id is None
        assert label.expected_detectors


def test_layout_and_manifest(simulation: Simulation) -> None:
    root, result = simulation
    manifest = json.loads((root / "manifest.json").read_text())
    assert all(set(entry) == {"format", "path", "host", "events"} for entry in manifest)
    hosts = sorted(h.id for h in result.world.hosts)
    for fmt, folder in (("auditd", "auditd"), ("libvirt-events", "libvirt")):
        entries = [e for e in manifest if e["format"] == fmt]
        assert sorted(e["host"] for e in entries) == hosts
        assert all(e["path"] == f"{folder}/{e['host']}.log" for e in entries)
    singles = {e["format"]: e["path"] for e in manifest if e["host"] is None}
    assert singles == {
        "falco": "falco/alerts.jsonl",
        "cloudtrail": "cloudtrail/records.jsonl",
        "vpcflow": "vpcflow/flows.log",
    }
    assert (root / "vpcflow/flows.log").read_text().splitlines()[0] == HEADER
    for line in (root / "auditd/hv-01.log").read_text().splitlines():
        assert line.startswith("node=hv-01 type=")


def test_same_seed_same_bytes(simulation: Simulation, tmp_path: Path) -> None:
    root = simulation[0]
    run_simulate(CONFIG, tmp_path)
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    for name in files:
        assert (root / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_another_seed_another_cloud(simulation: Simulation, tmp_path: Path) -> None:
    other = run_simulate(replace(CONFIG, seed=CONFIG.seed + 1), tmp_path)
    assert other.world.inventory_yaml() != simulation[1].world.inventory_yaml()
    assert (tmp_path / "labels.json").read_text() != (simulation[0] / "labels.json").read_text()


def test_events_spread_over_the_run_and_interleaved(
    parsed: tuple[list[tuple[dict[str, object], Event]], list[RecordError]],
) -> None:
    events, _ = parsed
    quarter = CONFIG.duration / 4
    for fmt in ("auditd", "libvirt-events", "cloudtrail", "vpcflow"):
        times = [e.event_time for _entry, e in events if e.source_format == fmt]
        quarters = {int((t - CONFIG.start) / quarter) for t in times if t < CONFIG.end}
        assert quarters == {0, 1, 2, 3}, fmt
    assert all(CONFIG.start <= e.event_time < CONFIG.end for _entry, e in events)
