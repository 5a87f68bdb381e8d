"""The inventory as a live value: the file is re-read when it changes, without a restart.

Callers ask `current()` per batch. A change is noticed by the file's modification time and size,
checked at most every `check_interval` seconds; a file that fails validation is logged and the
last good inventory stays in force, so a typo never blinds attribution.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from fenghuo.errors import InventoryError
from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import Inventory, load_inventory

log = logging.getLogger(__name__)


class InventoryStore:
    def __init__(self, path: Path, check_interval: float = 1.0) -> None:
        self.path = path
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._index = InventoryIndex(load_inventory(path))  # the first load must succeed
        self._next_check = time.monotonic() + check_interval
        self.reloads = 0
        self.last_error: InventoryError | None = None

    @classmethod
    def fixed(cls, inventory: Inventory) -> InventoryStore:
        """A store that never reloads (tests, replay of a fixed scenario)."""
        store = cls.__new__(cls)
        store.path = Path("<fixed>")
        store.check_interval = float("inf")
        store._lock = threading.Lock()
        store._stamp = None
        store._index = InventoryIndex(inventory)
        store._next_check = float("inf")
        store.reloads = 0
        store.last_error = None
        return store

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def current(self) -> InventoryIndex:
        now = time.monotonic()
        if now >= self._next_check:
            with self._lock:
                if now >= self._next_check:
                    self._next_check = now + self.check_interval
                    stamp = self._file_stamp()
                    if stamp is not None and stamp != self._stamp:
                        self._stamp = stamp
                        self._reload_locked()
        return self._index

    def reload(self) -> bool:
        """Re-read the file now; True when the new inventory took effect."""
        with self._lock:
            self._stamp = self._file_stamp()
            return self._reload_locked()

    def _reload_locked(self) -> bool:
        try:
            index = InventoryIndex(load_inventory(self.path))
        except InventoryError as exc:
            self.last_error = exc
            log.error("inventory reload failed, keeping the previous one: %s", exc)
            return False
        self._index = index
        self.last_error = None
        self.reloads += 1
        log.info("inventory reloaded from %s", self.path)
        return True
