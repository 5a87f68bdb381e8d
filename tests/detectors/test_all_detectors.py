"""Suite-wide detector test: every detector's metadata is valid, ids are unique, and every
positive and negative case passes (no JVM)."""

from __future__ import annotations

import pytest

from fenghuo.detectors.base import Case, Detector
from fenghuo.detectors.registry import all_detectors, discover, metadata_problems
from fenghuo.detectors.testing import case_problems, run_case

DETECTORS = all_detectors()
CASES = [(cls, case) for cls in DETECTORS.values() for case in cls.cases]


def test_registry_finds_detectors_with_unique_ids() -> None:
    found = discover()
    assert found, "no detector discovered"
    assert len({cls.meta.id for cls in found.values()}) == len(found)


@pytest.mark.parametrize("cls", list(DETECTORS.values()), ids=lambda c: c.meta.id)
def test_metadata_is_valid(cls: type[Detector]) -> None:
    assert metadata_problems(cls, cls.meta.id.replace("-", "_")) == []


@pytest.mark.parametrize("cls", list(DETECTORS.values()), ids=lambda c: c.meta.id)
def test_has_positive_and_negative_cases(cls: type[Detector]) -> None:
    assert any(case.expect for case in cls.cases), "no positive case"
    assert any(not case.expect for case in cls.cases), "no negative case"
    assert len({case.name for case in cls.cases}) == len(cls.cases), "case names repeat"


@pytest.mark.parametrize(
    ("cls", "case"), CASES, ids=[f"{c.meta.id}: {case.name}" for c, case in CASES]
)
def test_case(cls: type[Detector], case: Case) -> None:
    alerts = run_case(cls(), case)
    assert case_problems(case, alerts) == []
    for alert in alerts:
        assert alert.detector == cls.meta.id
        assert alert.evidence, "an alert without evidence"
        assert alert.summary
