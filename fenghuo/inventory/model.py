"""The inventory file (CONTRACTS.md): the provider's view of who owns what.

Loading validates the shape (pydantic) and then the cross-references a typo would break: unknown
tenants, duplicate ids, overlapping CIDRs. Every problem is reported at once, with its location,
so an operator fixes the file in one pass.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    IPvAnyNetwork,
    ValidationError,
    field_validator,
)

from fenghuo.errors import InventoryError

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tenant(_Strict):
    id: str = Field(min_length=1)
    name: str = ""
    accounts: tuple[str, ...] = ()
    vpcs: tuple[str, ...] = ()
    cidrs: tuple[IPvAnyNetwork, ...] = ()
    critical_infrastructure: bool = False
    # A state organ or its unit: the national reporting rules give it a 2-hour deadline.
    state_organ: bool = False
    # The province (or municipality) whose cyberspace administration the tenant reports to,
    # e.g. "beijing"; regulator collections may select tenants by it.
    province: str | None = None

    @field_validator("accounts", mode="before")
    @classmethod
    def _accounts_as_text(cls, value: object) -> object:
        # YAML reads an unquoted 111111111111 as an int; account ids are strings everywhere.
        if isinstance(value, list | tuple):
            return tuple(str(v) for v in value)
        return value


class SharedService(_Strict):
    name: str = Field(min_length=1)
    cidr: IPvAnyNetwork


class Vm(_Strict):
    name: str = Field(min_length=1)
    uuid: str | None = None
    tenant: str
    instance_id: str | None = None
    ips: tuple[IPvAnyAddress, ...] = ()
    interfaces: tuple[str, ...] = ()
    disks: tuple[str, ...] = ()
    seclabel: str | None = None


class Container(_Strict):
    id: str = Field(min_length=1)
    tenant: str
    name: str | None = None


class Host(_Strict):
    id: str = Field(min_length=1)
    ip: IPvAnyAddress | None = None
    vms: tuple[Vm, ...] = ()
    containers: tuple[Container, ...] = ()


class Inventory(_Strict):
    tenants: tuple[Tenant, ...] = ()
    peerings: tuple[tuple[str, str], ...] = ()
    shared_services: tuple[SharedService, ...] = ()
    hosts: tuple[Host, ...] = ()


def _duplicates(labelled: Iterable[tuple[str, str]]) -> list[str]:
    """`(value, where)` pairs -> one problem per value that occurs more than once."""
    places: dict[str, list[str]] = defaultdict(list)
    for value, where in labelled:
        places[value].append(where)
    return [
        f"duplicate {value!r} at {', '.join(wheres)}"
        for value, wheres in places.items()
        if len(wheres) > 1
    ]


def mcs_categories(context: str) -> str | None:
    """The MCS categories of an SELinux context, normalised (`...:s0:c202,c101` -> "c101,c202").

    sVirt gives each VM's qemu process and its images a unique category pair; that pair is what
    ties a process or a file to one VM. Ranges (`s0-s0:c0.c1023`) name no single VM.
    """
    parts = context.split(":", 4)
    if len(parts) < 5 or "-" in parts[3] or "." in parts[4]:
        return None
    cats = sorted(c for c in parts[4].split(",") if c)
    return ",".join(cats) or None


def _cross_reference_problems(inv: Inventory) -> list[str]:
    tenant_ids = {t.id for t in inv.tenants}
    problems = _duplicates((t.id, f"tenants[{i}]") for i, t in enumerate(inv.tenants))
    problems += _duplicates(
        (a, f"tenants[{i}].accounts") for i, t in enumerate(inv.tenants) for a in t.accounts
    )
    problems += _duplicates(
        (v, f"tenants[{i}].vpcs") for i, t in enumerate(inv.tenants) for v in t.vpcs
    )
    problems += _duplicates((h.id, f"hosts[{i}]") for i, h in enumerate(inv.hosts))
    vms = [
        (f"hosts[{i}].vms[{j}]", vm) for i, h in enumerate(inv.hosts) for j, vm in enumerate(h.vms)
    ]
    problems += _duplicates((vm.name, where) for where, vm in vms)
    problems += _duplicates((vm.uuid.lower(), where) for where, vm in vms if vm.uuid)
    problems += _duplicates((vm.instance_id, where) for where, vm in vms if vm.instance_id)
    problems += _duplicates((str(ip), where) for where, vm in vms for ip in vm.ips)
    problems += _duplicates((eni, where) for where, vm in vms for eni in vm.interfaces)
    problems += _duplicates((d, where) for where, vm in vms for d in vm.disks)
    labels = [(mcs_categories(vm.seclabel), where) for where, vm in vms if vm.seclabel]
    problems += _duplicates((f"sVirt categories {c}", w) for c, w in labels if c)
    problems += [
        f"{w}.seclabel: no MCS category pair in the sVirt label" for c, w in labels if not c
    ]
    containers = [
        (f"hosts[{i}].containers[{j}]", c)
        for i, h in enumerate(inv.hosts)
        for j, c in enumerate(h.containers)
    ]
    problems += _duplicates((c.id, where) for where, c in containers)
    for where, vm in vms:
        if vm.tenant not in tenant_ids:
            problems.append(f"{where} ({vm.name}): unknown tenant {vm.tenant!r}")
    for where, c in containers:
        if c.tenant not in tenant_ids:
            problems.append(f"{where} ({c.id}): unknown tenant {c.tenant!r}")
    for i, pair in enumerate(inv.peerings):
        problems += [f"peerings[{i}]: unknown tenant {t!r}" for t in pair if t not in tenant_ids]
    problems += _cidr_overlaps(inv)
    return problems


def _cidr_overlaps(inv: Inventory) -> list[str]:
    owned: list[tuple[IpNetwork, str]] = [
        (net, f"tenant {t.id}") for t in inv.tenants for net in t.cidrs
    ]
    owned += [(s.cidr, f"shared service {s.name}") for s in inv.shared_services]
    problems = []
    for i, (net_a, owner_a) in enumerate(owned):
        for net_b, owner_b in owned[i + 1 :]:
            if owner_a != owner_b and net_a.version == net_b.version and net_a.overlaps(net_b):
                problems.append(f"CIDR {net_a} of {owner_a} overlaps {net_b} of {owner_b}")
    return problems


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_inventory(text: str, source: str = "<inventory>") -> Inventory:
    """Validate inventory YAML; raise InventoryError listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InventoryError(source, [f"not valid YAML: {exc}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InventoryError(source, ["the top level must be a mapping (tenants:, hosts:, ...)"])
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_location(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise InventoryError(source, problems) from None
    problems = _cross_reference_problems(inventory)
    if problems:
        raise InventoryError(source, problems)
    return inventory


def load_inventory(path: Path) -> Inventory:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    return parse_inventory(text, str(path))
