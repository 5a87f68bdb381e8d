"""The regulator report (CONTRACTS.md "Regulator reporting") and its configuration.

A report is a document the provider files with the authorities about one incident: the first
report (`initial`), follow-ups (`update`) and the closing summary (`closing`). Its id is
deterministic from the incident, the kind and a sequence number, so drafting the same report
twice (a replay, a retry, two service instances) writes one document.

Only `draft` and `submitted` are ever stored: whether an unsubmitted report is `due` or `overdue`
depends on the clock, so `state_at(report, now)` computes it at read time (a stored `overdue`
would be stale the moment it was written, and a stored `draft` would never turn overdue).
"""

from __future__ import annotations

import datetime as dt
import enum
from importlib import resources
from pathlib import Path

import msgspec
import yaml

from fenghuo.errors import ConfigError
from fenghuo.model.alert import UtcDatetime
from fenghuo.model.ids import stable_id
from fenghuo.model.incident import Grade
from fenghuo.store.base import epoch_ms


class ReportError(ConfigError):
    """A report configuration that cannot be used."""


class ReportKind(enum.StrEnum):
    INITIAL = "initial"
    UPDATE = "update"
    CLOSING = "closing"


class ReportState(enum.StrEnum):
    DRAFT = "draft"  # not submitted; the deadline is not near (or there is none)
    DUE = "due"  # not submitted; the deadline is near and has not passed
    OVERDUE = "overdue"  # not submitted; the deadline has passed
    SUBMITTED = "submitted"


class Section(msgspec.Struct, frozen=True, kw_only=True):
    """One text field of a report: Chinese first (the filed text), English alongside."""

    key: str
    title_zh: str
    title_en: str
    zh: str = ""
    en: str = ""
    required: bool = True
    first: bool = False  # may be reported ahead of the rest (先行报告)


class Report(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    incident_id: str
    kind: ReportKind
    sequence: int = 1  # 1 for initial and closing; updates count up
    tenant_id: str | None  # the reporting tenant (the one whose flags set the deadline)
    grade: Grade
    category: str  # GB/T 20986-2023 category code
    due_at: UtcDatetime | None  # None: no deadline (an update report nobody set one for)
    due_from: UtcDatetime | None = None  # from when an unsubmitted report counts as due
    basis: str = ""  # the rule and source of the deadline
    state: ReportState = ReportState.DRAFT  # stored: draft or submitted; read: see state_at
    submitted_at: UtcDatetime | None = None
    channel: str | None = None  # how it was filed (e.g. "12387 platform", "phone")
    submitted_by: str | None = None
    sections: tuple[Section, ...] = ()
    created_at: UtcDatetime
    updated_at: UtcDatetime
    edited_by: str | None = None  # the last analyst who edited it: drafting leaves it alone then


def report_id(incident_id: str, kind: ReportKind, sequence: int = 1) -> str:
    return stable_id("report", incident_id, kind.value, sequence)


def state_at(report: Report, now: dt.datetime) -> ReportState:
    """The state at `now` (millisecond precision, as the store compares it)."""
    if report.submitted_at is not None or report.state is ReportState.SUBMITTED:
        return ReportState.SUBMITTED
    if report.due_at is None:
        return ReportState.DRAFT
    now_ms = epoch_ms(now)
    if epoch_ms(report.due_at) < now_ms:
        return ReportState.OVERDUE
    if report.due_from is None or epoch_ms(report.due_from) <= now_ms:
        return ReportState.DUE
    return ReportState.DRAFT


def as_of(report: Report, now: dt.datetime) -> Report:
    """The report with its state computed for `now` (what every read returns)."""
    return msgspec.structs.replace(report, state=state_at(report, now))


# --- configuration (reports.yaml) ------------------------------------------------------------


class SectionSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    key: str
    zh: str
    en: str
    first: bool = False
    required: bool = True


class SectionList(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    source: str
    items: tuple[SectionSpec, ...]


class Sections(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    initial: SectionList
    update: SectionList
    closing: SectionList

    def of(self, kind: ReportKind) -> SectionList:
        lists: dict[ReportKind, SectionList] = {
            ReportKind.INITIAL: self.initial,
            ReportKind.UPDATE: self.update,
            ReportKind.CLOSING: self.closing,
        }
        return lists[kind]


class Closing(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    deadline_days: int
    source: str


class Escalation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    min_grade: Grade
    zh: str
    en: str
    source: str


class DueSoon(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    initial: int
    update: int
    closing: int

    def of(self, kind: ReportKind) -> dt.timedelta:
        hours = {
            ReportKind.INITIAL: self.initial,
            ReportKind.UPDATE: self.update,
            ReportKind.CLOSING: self.closing,
        }[kind]
        return dt.timedelta(hours=hours)


class ReportConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    closing: Closing
    due_soon_hours: DueSoon
    escalation: Escalation
    sections: Sections


def parse_config(text: str, source: str = "<reports>") -> ReportConfig:
    try:
        config = msgspec.convert(yaml.safe_load(text), ReportConfig)
    except (yaml.YAMLError, msgspec.ValidationError) as exc:
        msg = f"{source}: not a valid report configuration: {exc}"
        raise ReportError(msg) from None
    for kind in ReportKind:
        keys = [s.key for s in config.sections.of(kind).items]
        if len(set(keys)) != len(keys):
            msg = f"{source}: sections.{kind.value}: duplicate section keys in {keys}"
            raise ReportError(msg)
    return config


def load_config(path: Path | None = None) -> ReportConfig:
    """The configuration in `path`, or the packaged `reports.yaml`."""
    if path is None:
        package = resources.files("fenghuo.intel.reports")
        text = package.joinpath("reports.yaml").read_text("utf-8")
        return parse_config(text, "fenghuo/intel/reports/reports.yaml")
    return parse_config(path.read_text("utf-8"), str(path))
