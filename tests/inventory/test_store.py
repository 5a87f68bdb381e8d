"""Reloading the inventory takes effect without a restart; a bad edit keeps the last good one."""

from __future__ import annotations

import os
from pathlib import Path

from fenghuo.inventory import InventoryStore

BASE = "tenants:\n  - {id: acme, accounts: ['111111111111']}\n"


def _write(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    # Filesystems with coarse timestamps: make each version's mtime distinct explicitly.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


def test_changed_file_is_picked_up_on_next_use(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    _write(path, BASE, 0)
    store = InventoryStore(path, check_interval=0)
    assert store.current().tenant_of_account("222222222222") is None

    _write(path, BASE + "  - {id: globex, accounts: ['222222222222']}\n", 1)
    assert store.current().tenant_of_account("222222222222") == "globex"
    assert store.reloads == 1


def test_invalid_edit_keeps_previous_inventory(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    _write(path, BASE, 0)
    store = InventoryStore(path, check_interval=0)
    _write(path, "tenants: [{id: acme}, {id: acme}]\n", 1)
    index = store.current()
    assert index.tenant_of_account("111111111111") == "acme"
    assert store.last_error is not None
    assert "duplicate 'acme'" in str(store.last_error)

    _write(path, BASE.replace("acme", "acme2"), 2)
    assert store.current().tenant_of_account("111111111111") == "acme2"
    assert store.last_error is None


def test_explicit_reload(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    _write(path, BASE, 0)
    store = InventoryStore(path, check_interval=3600)
    _write(path, BASE.replace("acme", "other"), 1)
    # Not yet time to look at the file again: still the old inventory ...
    assert store.current().tenant_of_account("111111111111") == "acme"
    # ... until asked explicitly (as SIGHUP handlers and admin endpoints do).
    assert store.reload() is True
    assert store.current().tenant_of_account("111111111111") == "other"
