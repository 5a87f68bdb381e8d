"""The session's search node fixtures: `search_url()` and `search_node` are the same node, and
the `search` marker goes exactly to the tests that use it (by fixture or as the "opensearch"
backend)."""

from __future__ import annotations

import pytest

from fenghuo.store.search_node import SearchNode
from tests.fixtures_search import SEARCH_BACKEND, search_url


def test_search_url_is_the_session_nodes(
    search_node: SearchNode, request: pytest.FixtureRequest
) -> None:
    assert search_url() == search_node.url
    assert search_node.is_running()
    assert request.node.get_closest_marker("search") is not None


@pytest.mark.parametrize("kind", [SEARCH_BACKEND, "sqlite"])
def test_the_opensearch_backend_kind_is_marked(kind: str, request: pytest.FixtureRequest) -> None:
    marked = request.node.get_closest_marker("search") is not None
    assert marked == (kind == "opensearch")


def test_other_tests_are_not_marked(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("search") is None
