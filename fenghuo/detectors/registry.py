"""Detector discovery: every module in `fenghuo.detectors.rules` that defines a `Detector`
subclass contributes it. Adding a detector touches no central list; a duplicate id is an error,
never a silent override."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Iterable

from fenghuo.detectors import rules
from fenghuo.detectors.base import Detector
from fenghuo.detectors.taxonomy import is_category, is_technique
from fenghuo.errors import ConfigError


class RegistryError(ConfigError):
    """A detector module is malformed or two detectors share an id."""


def metadata_problems(detector: type[Detector], module_name: str) -> list[str]:
    """Everything wrong with a detector's metadata (empty when it is valid)."""
    meta = detector.meta
    problems = []
    if meta.id.replace("-", "_") != module_name:
        problems.append(f"id {meta.id!r} does not match its module {module_name!r}")
    if not meta.title or not meta.description or not meta.runbook:
        problems.append("title, description and runbook are required")
    if not 0.0 < meta.confidence <= 1.0:
        problems.append(f"confidence {meta.confidence} is not in (0, 1]")
    if not is_technique(meta.technique):
        problems.append(f"technique {meta.technique!r} is not an ATT&CK id (T1234 or T1234.001)")
    if not is_category(meta.category):
        problems.append(f"category {meta.category!r} is not a GB/T 20986-2023 category code")
    if meta.dedup_window.total_seconds() <= 0:
        problems.append("dedup_window must be positive")
    if not getattr(detector, "inputs", ()):
        problems.append("inputs (the event classes it reads) must not be empty")
    return [f"{meta.id}: {p}" for p in problems]


def _detector_classes(module_name: str) -> list[type[Detector]]:
    module = importlib.import_module(f"{rules.__name__}.{module_name}")
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Detector)
        and value is not Detector
        and value.__module__ == module.__name__
        and "meta" in vars(value)
    ]


def discover() -> dict[str, type[Detector]]:
    """id -> detector class for every rule module; raises RegistryError on any problem."""
    found: dict[str, type[Detector]] = {}
    problems: list[str] = []
    for info in sorted(pkgutil.iter_modules(rules.__path__), key=lambda i: i.name):
        classes = _detector_classes(info.name)
        if len(classes) != 1:
            problems.append(f"module {info.name} defines {len(classes)} detectors, expected 1")
            continue
        cls = classes[0]
        problems += metadata_problems(cls, info.name)
        if cls.meta.id in found:
            problems.append(f"duplicate detector id {cls.meta.id!r}")
        found[cls.meta.id] = cls
    if problems:
        raise RegistryError("; ".join(problems))
    return found


@functools.cache
def all_detectors() -> dict[str, type[Detector]]:
    return discover()


def instantiate(ids: Iterable[str] | None = None) -> list[Detector]:
    """Detector instances, all or the chosen ids (unknown ids are an error)."""
    classes = all_detectors()
    chosen = list(ids) if ids is not None else sorted(classes)
    unknown = [i for i in chosen if i not in classes]
    if unknown:
        msg = f"unknown detectors: {', '.join(unknown)}"
        raise RegistryError(msg)
    return [classes[i]() for i in chosen]
