"""Inventory validation: every problem reported at once, with where it is."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.errors import InventoryError
from fenghuo.inventory import load_inventory, mcs_categories, parse_inventory

VALID = textwrap.dedent(
    """
    tenants:
      - {id: acme, accounts: [111111111111], vpcs: [vpc-a], cidrs: [10.1.0.0/16]}
      - {id: globex, accounts: ["222222222222"], cidrs: [10.2.0.0/16]}
    peerings: [[acme, globex]]
    shared_services: [{name: dns, cidr: 10.255.0.0/24}]
    hosts:
      - id: hv-01
        vms:
          - {name: a1, tenant: acme, seclabel: "system_u:system_r:svirt_t:s0:c1,c2"}
        containers:
          - {id: abcdefabcdef, tenant: globex}
    """
)


def problems_of(text: str) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "inv.yaml")
    assert caught.value.source == "inv.yaml"
    return caught.value.problems


def test_valid_inventory_loads_with_accounts_as_text() -> None:
    inv = parse_inventory(VALID)
    assert inv.tenants[0].accounts == ("111111111111",)
    assert inv.hosts[0].vms[0].tenant == "acme"


def test_demo_inventory_is_valid() -> None:
    inv = load_inventory(demo_inventory_path())
    assert {t.id for t in inv.tenants} >= {"acme", "globex"}


def test_unknown_tenants_are_named_with_their_location() -> None:
    text = VALID.replace("tenant: acme,", "tenant: acmee,").replace(
        "[[acme, globex]]", "[[acme, initech]]"
    )
    problems = problems_of(text)
    assert "hosts[0].vms[0] (a1): unknown tenant 'acmee'" in problems
    assert "peerings[0]: unknown tenant 'initech'" in problems


def test_overlapping_cidrs_between_tenants_and_services() -> None:
    text = VALID.replace("cidrs: [10.2.0.0/16]", "cidrs: [10.1.128.0/17]").replace(
        "10.255.0.0/24", "10.1.5.0/24"
    )
    problems = problems_of(text)
    assert "CIDR 10.1.0.0/16 of tenant acme overlaps 10.1.128.0/17 of tenant globex" in problems
    assert "CIDR 10.1.0.0/16 of tenant acme overlaps 10.1.5.0/24 of shared service dns" in problems


def test_duplicate_ids_are_reported_all_at_once() -> None:
    text = VALID.replace('accounts: ["222222222222"]', "accounts: [111111111111]")
    text = text.replace(
        "      - {name: a1,",
        '      - {name: a1, tenant: globex, seclabel: "system_u:system_r:svirt_t:s0:c2,c1"}\n'
        "      - {name: a1,",
    )
    problems = problems_of(text)
    assert any(p.startswith("duplicate '111111111111'") for p in problems)
    assert any(p.startswith("duplicate 'a1'") for p in problems)
    # c2,c1 and c1,c2 are the same sVirt category pair: two VMs must never share one.
    assert any("sVirt categories c1,c2" in p for p in problems)


def test_unknown_fields_are_rejected() -> None:
    problems = problems_of(VALID.replace("peerings:", "peering:"))
    assert any(p.startswith("peering:") for p in problems)


def test_schema_errors_give_paths() -> None:
    problems = problems_of("tenants:\n  - {id: x, cidrs: [10.0.0.0/33]}\n")
    assert any(p.startswith("tenants[0].cidrs[0]:") for p in problems)
    assert problems_of("- just a list\n") == [
        "the top level must be a mapping (tenants:, hosts:, ...)"
    ]
    assert problems_of("tenants: [\n")[0].startswith("not valid YAML")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read"):
        load_inventory(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ("system_u:system_r:svirt_t:s0:c101,c202", "c101,c202"),
        ("system_u:object_r:svirt_image_t:s0:c202,c101", "c101,c202"),
        ("unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023", None),
        ("system_u:system_r:init_t:s0", None),
        ("garbage", None),
    ],
)
def test_mcs_categories(context: str, expected: str | None) -> None:
    assert mcs_categories(context) == expected
