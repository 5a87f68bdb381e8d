"""The labels file (CONTRACTS.md "Labels and scoring"): what was attacked, by whom, where, when.

`{"attacks": [...]}` with one entry per attack: `id, kind, tenant_id` (the victim),
`actor_tenant_id, host_id, vm_id` (null when they do not apply) and `start`, `end` (RFC 3339
UTC, the first and last malicious event). The simulator adds `variant`, `description` and
`expected_detectors`; readers ignore keys they do not know.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import msgspec

from fenghuo.errors import ConfigError

UtcDatetime = Annotated[dt.datetime, msgspec.Meta(tz=True)]


class LabelsError(ConfigError):
    """A labels file that cannot be used for scoring."""


class AttackLabel(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: str
    tenant_id: str
    actor_tenant_id: str | None = None
    host_id: str | None = None
    vm_id: str | None = None
    start: UtcDatetime
    end: UtcDatetime
    variant: str | None = None
    description: str | None = None
    # The detectors meant to catch it: the contract's rule credits any matching alert, this
    # says which alerts are the intended detection.
    expected_detectors: tuple[str, ...] = ()


class LabelsFile(msgspec.Struct, kw_only=True):
    attacks: list[AttackLabel]
    simulation: dict[str, Any] | None = None


def encode_labels(labels: Sequence[AttackLabel], simulation: dict[str, Any] | None = None) -> str:
    """The labels document, indented, keys in contract order, ending with a newline."""
    document: dict[str, Any] = {"attacks": [msgspec.to_builtins(label) for label in labels]}
    if simulation is not None:
        document["simulation"] = simulation
    return msgspec.json.format(msgspec.json.encode(document), indent=2).decode() + "\n"


def decode_labels(data: bytes | str, source: str = "<labels>") -> list[AttackLabel]:
    """Parse and check a labels document: valid shape, unique ids, start <= end."""
    try:
        parsed = msgspec.json.decode(data, type=LabelsFile)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        msg = f"{source}: not a valid labels file: {exc}"
        raise LabelsError(msg) from None
    problems = []
    seen: set[str] = set()
    for label in parsed.attacks:
        if label.id in seen:
            problems.append(f"duplicate attack id {label.id!r}")
        seen.add(label.id)
        if label.end < label.start:
            problems.append(f"attack {label.id}: end {label.end} is before start {label.start}")
    if problems:
        msg = f"{source}: " + "; ".join(problems)
        raise LabelsError(msg)
    return parsed.attacks


def load_labels(path: Path) -> list[AttackLabel]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"cannot read labels {path}: {exc.strerror or exc}"
        raise LabelsError(msg) from None
    return decode_labels(data, str(path))
