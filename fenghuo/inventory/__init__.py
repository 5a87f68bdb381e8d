"""The provider's inventory: who owns which accounts, networks, hosts, VMs and containers."""

from __future__ import annotations

from fenghuo.inventory.index import ContainerRecord, InventoryIndex, VmRecord
from fenghuo.inventory.model import Inventory, load_inventory, mcs_categories, parse_inventory
from fenghuo.inventory.store import InventoryStore

__all__ = [
    "ContainerRecord",
    "Inventory",
    "InventoryIndex",
    "InventoryStore",
    "VmRecord",
    "load_inventory",
    "mcs_categories",
    "parse_inventory",
]
