"""Deterministic ids: the fast path equals uuid5 exactly, so ids never change."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from fenghuo.model.ids import FENGHUO_NAMESPACE, event_id, stable_id


@given(st.lists(st.one_of(st.none(), st.text(), st.integers()), max_size=5))
def test_stable_id_is_uuid5(parts: list[object]) -> None:
    canonical = "\x1f".join("" if p is None else str(p) for p in parts)
    assert stable_id(*parts) == str(uuid.uuid5(FENGHUO_NAMESPACE, canonical))


def test_event_ids_differ_by_format_and_record() -> None:
    assert event_id("auditd", "hv-01", "1:2") != event_id("auditd", "hv-02", "1:2")
    assert event_id("auditd", "x") != event_id("falco", "x")
