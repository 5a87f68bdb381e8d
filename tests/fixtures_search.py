"""The tests' search server: one embedded OpenSearch 2.19.6 node per test session.

It starts on first use, from the `search_node` fixture or from `search_url()` (for code that is
not a fixture, such as the store backends' opener), in a temporary data dir with the heap of
FENGHUO_SEARCH_HEAP (default 512m), and stops at the end of the session. Tests share it: each one
works under index names of its own.

Tests that use `search_node`, or run with a parameter value "opensearch" (the store backend of
that name), get the `search` marker automatically, so `pytest -m "not search"` runs everything
else.
"""

from __future__ import annotations

import pytest

from fenghuo.settings import get_settings
from fenghuo.store.search_node import SearchNode

SEARCH_BACKEND = "opensearch"


class _SessionNode:
    """The session's node, started once; a failed start is remembered, so that the tests after
    the first fail at once with its reason instead of each waiting for a node that cannot start."""

    def __init__(self) -> None:
        self.node: SearchNode | None = None
        self.failure: str | None = None

    def get(self) -> SearchNode:
        if self.failure is not None:
            pytest.fail(f"the session's search node did not start:\n{self.failure}")
        if self.node is None:
            node = SearchNode(heap=get_settings().search_heap)
            try:
                node.start()
            except Exception as exc:
                self.failure = str(exc)
                raise
            self.node = node
        return self.node

    def stop(self) -> None:
        if self.node is not None:
            self.node.stop()
            self.node = None


_SESSION = _SessionNode()


def search_url() -> str:
    """The REST URL of the session's node (started on the first call)."""
    return _SESSION.get().url


@pytest.fixture(scope="session")
def search_node() -> SearchNode:
    """The session's running node; stopped after the session."""
    return _SESSION.get()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        uses_backend = SEARCH_BACKEND in params.values()
        if "search_node" in getattr(item, "fixturenames", ()) or uses_backend:
            item.add_marker(pytest.mark.search)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _SESSION.stop()
