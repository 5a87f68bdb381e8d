"""The simulated cloud: configurable size, valid inventory, co-residency, deterministic."""

from __future__ import annotations

import datetime as dt

import pytest

from fenghuo.inventory import parse_inventory
from fenghuo.simulate import SimulationConfig, create_world, parse_duration
from fenghuo.simulate.config import SimulationConfigError
from fenghuo.simulate.plan import CATALOGUE


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("1h", 3600), ("1h30m", 5400), ("2d", 172800), ("45", 45)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1x", "h", "1h 30m", "-5m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(SimulationConfigError):
        parse_duration(text)


@pytest.mark.parametrize(
    "changes",
    [
        {"duration": dt.timedelta(minutes=1)},
        {"tenants": 2},
        {"vms": 3},
        {"rate": 0},
        {"start": dt.datetime(2026, 1, 5)},  # noqa: DTZ001 - naive on purpose
        {"attack_rounds": -1},
    ],
)
def test_config_is_validated(changes: dict[str, object]) -> None:
    with pytest.raises(SimulationConfigError):
        SimulationConfig(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("tenants", "hosts", "vms"), [(3, 2, 5), (6, 8, 40), (12, 20, 150)])
def test_world_of_any_size_is_a_valid_inventory(tenants: int, hosts: int, vms: int) -> None:
    world = create_world(SimulationConfig(seed=5, tenants=tenants, hosts=hosts, vms=vms))
    inventory = parse_inventory(world.inventory_yaml())
    assert len(inventory.tenants) == tenants
    assert len(inventory.hosts) == hosts
    assert sum(len(h.vms) for h in inventory.hosts) == vms
    assert all(world.vms_of(t.id) for t in world.tenants)
    assert any(len(h.tenants()) >= 2 for h in world.hosts)
    # Every planned attack names tenants of this world, never the same one twice.
    for plan in world.attacks:
        assert plan.victim != plan.actor
        assert plan.victim in {t.id for t in world.tenants}


def test_every_scenario_is_planned_each_round() -> None:
    world = create_world(SimulationConfig(seed=9, attack_rounds=2))
    kinds = sorted((p.kind, p.variant) for p in world.attacks)
    assert kinds == sorted([(k, v) for k, v, _ in CATALOGUE] * 2)
    assert len({p.vm for p in world.attacks if p.host and p.vm}) == len(
        [p for p in world.attacks if p.host and p.vm]
    )  # an attacker VM serves one scenario: its QEMU pid is the scenario's


def test_benign_only_run_has_no_attacks() -> None:
    assert create_world(SimulationConfig(attack_rounds=0)).attacks == []


def test_same_seed_same_world() -> None:
    config = SimulationConfig(seed=21)
    assert create_world(config).inventory_yaml() == create_world(config).inventory_yaml()
