"""Report drafts written from the incident: the analyst starts from what the correlator knows
(title, summary, timeline, blast radius, grade and its basis, hosts, matched sequences) instead of
a blank form, and edits before submitting.

Chinese first, English alongside. Sections the correlator cannot know (measures taken, losses,
lessons) are drafted as an explicit "to be completed" so that an unedited draft never reads as a
statement of fact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fenghuo.intel.reports.model import (
    Report,
    ReportConfig,
    ReportKind,
    Section,
    report_id,
)
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.incident import Grade, Incident

_GRADE_ORDER = {Grade.IV: 0, Grade.III: 1, Grade.II: 2, Grade.I: 3}
GRADE_NAMES = {
    Grade.I: ("特别重大", "extraordinarily serious"),
    Grade.II: ("重大", "major"),
    Grade.III: ("较大", "serious"),
    Grade.IV: ("一般", "general"),
}
_TODO_ZH = "(待分析人员填写)"
_TODO_EN = "(to be completed by the analyst)"
MAX_TIMELINE = 20  # timeline lines quoted in a draft; the incident keeps them all

Text = tuple[str, str]  # (zh, en)


def reporting_tenant(incident: Incident, inventory: InventoryIndex | None) -> str | None:
    """The tenant a report is filed for: the one whose flags set the deadline (a critical
    information infrastructure operator, else a state organ), else the first affected one."""
    candidates = list(
        dict.fromkeys((*incident.tenants, *incident.blast_radius.tenants, *incident.actor_tenants))
    )
    if inventory is not None:
        for flag in ("critical_infrastructure", "state_organ"):
            for name in candidates:
                record = inventory.tenants.get(name)
                if record is not None and getattr(record, flag):
                    return name
    return candidates[0] if candidates else None


def utc_text(value: dt.datetime) -> str:
    """A time as the reports write it: UTC, to the second (`2026-01-05 10:05:14 UTC`)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _list(values: tuple[str, ...] | list[str], empty: str = "-") -> str:
    return ", ".join(values) if values else empty


def _reporting_unit(incident: Incident, inventory: InventoryIndex | None) -> Text:
    tenant = reporting_tenant(incident, inventory)
    record = inventory.tenants.get(tenant) if inventory is not None and tenant else None
    flags_zh, flags_en = [], []
    if record is not None and record.critical_infrastructure:
        flags_zh.append("关键信息基础设施运营者")
        flags_en.append("critical information infrastructure operator")
    if record is not None and record.state_organ:
        flags_zh.append("国家机关")
        flags_en.append("state organ")
    name = record.name if record is not None and record.name else tenant or "-"
    zh = f"云服务提供方 (代租户 {tenant or '-'}: {name}"
    en = f"The cloud service provider, for tenant {tenant or '-'} ({name}"
    if flags_zh:
        zh += "; " + "、".join(flags_zh)
        en += "; " + ", ".join(flags_en)
    if record is not None and record.province:
        zh += f"; 属地: {record.province}"
        en += f"; province: {record.province}"
    return zh + ")", en + ")"


def _affected(incident: Incident, _inventory: InventoryIndex | None) -> Text:
    radius = incident.blast_radius
    zh = (
        f"宿主机: {_list(incident.hosts)}; 虚拟机: {_list(radius.vms)};"
        f" 云资源: {_list(radius.resources)}; 涉及租户: {_list(radius.tenants)}"
    )
    en = (
        f"Hosts: {_list(incident.hosts)}; VMs: {_list(radius.vms)};"
        f" cloud resources: {_list(radius.resources)}; tenants exposed: {_list(radius.tenants)}"
    )
    return zh, en


def _detected(value: object) -> str:
    """The discovery time (the incident's earliest detection, RFC 3339 in its details) written
    like every other time of the report."""
    if not isinstance(value, str):
        return "-"
    try:
        return utc_text(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return value


def _time_place(incident: Incident, inventory: InventoryIndex | None) -> Text:
    discovered = _detected(incident.details.get("detected_at"))
    tenant = reporting_tenant(incident, inventory)
    record = inventory.tenants.get(tenant) if inventory is not None and tenant else None
    province = record.province if record is not None and record.province else "-"
    span = f"{utc_text(incident.first_seen)} - {utc_text(incident.last_seen)}"
    return (
        f"发生时间: {span}; 发现时间: {discovered}; 地点: 宿主机 {_list(incident.hosts)},"
        f" 属地 {province}",
        f"Occurred: {span}; discovered: {discovered}; where: hosts {_list(incident.hosts)},"
        f" province {province}",
    )


def _type_level(incident: Incident, _inventory: InventoryIndex | None) -> Text:
    zh_name, en_name = GRADE_NAMES[incident.grade]
    return (
        f"类别 (GB/T 20986-2023): {incident.category}; 级别: {zh_name} ({incident.grade.value});"
        f" 定级依据: {incident.grade_basis}; 事件: {incident.title}",
        f"Category (GB/T 20986-2023): {incident.category}; level: {en_name}"
        f" ({incident.grade.value}); basis: {incident.grade_basis}; incident: {incident.title}",
    )


def _timeline(incident: Incident) -> str:
    lines = [
        f"{utc_text(e.time)} [{e.severity.value}] {e.detector}: {e.summary}"
        for e in incident.timeline[:MAX_TIMELINE]
    ]
    if len(incident.timeline) > MAX_TIMELINE:
        lines.append(f"... (+{len(incident.timeline) - MAX_TIMELINE})")
    return "\n".join(lines)


def _impact(incident: Incident, _inventory: InventoryIndex | None) -> Text:
    radius = incident.blast_radius
    zh = (
        f"{incident.summary}\n涉及 {len(radius.tenants)} 个租户、{len(radius.vms)} 台虚拟机;"
        f" 告警 {len(incident.alert_ids)} 条。时间线:\n{_timeline(incident)}"
    )
    en = (
        f"{incident.summary}\n{len(radius.tenants)} tenants and {len(radius.vms)} VMs exposed;"
        f" {len(incident.alert_ids)} alerts. Timeline:\n{_timeline(incident)}"
    )
    return zh, en


def _todo(_incident: Incident, _inventory: InventoryIndex | None) -> Text:
    return _TODO_ZH, _TODO_EN


def _trend(incident: Incident, _inventory: InventoryIndex | None) -> Text:
    if not incident.sequences:
        return _TODO_ZH, _TODO_EN
    chain = ", ".join(incident.sequences)
    return (
        f"已识别攻击链: {chain}; 攻击者可能继续横向移动。{_TODO_ZH}",
        f"Attack sequences matched: {chain}; the attacker may move further. {_TODO_EN}",
    )


def _attack_path(incident: Incident, _inventory: InventoryIndex | None) -> Text:
    steps = "\n".join(f"{e.source} -> {e.target} ({e.detector})" for e in incident.edges[:30])
    chain = _list(incident.sequences)
    return (
        f"攻击链: {chain}\n路径:\n{steps or '-'}\n漏洞: {_TODO_ZH}",
        f"Sequences: {chain}\nPath:\n{steps or '-'}\nVulnerability: {_TODO_EN}",
    )


def _cause(incident: Incident, _inventory: InventoryIndex | None) -> Text:
    return f"{incident.summary}\n{_TODO_ZH}", f"{incident.summary}\n{_TODO_EN}"


def _losses(incident: Incident, inventory: InventoryIndex | None) -> Text:
    zh, en = _affected(incident, inventory)
    return f"{zh}\n{_TODO_ZH}", f"{en}\n{_TODO_EN}"


def _progress(incident: Incident, _inventory: InventoryIndex | None) -> Text:
    return (
        f"当前状态: {incident.status.value}; 最近证据时间: {utc_text(incident.last_seen)}",
        f"Status: {incident.status.value}; latest evidence: {utc_text(incident.last_seen)}",
    )


_WRITERS: dict[str, Callable[[Incident, InventoryIndex | None], Text]] = {
    "reporting_unit": _reporting_unit,
    "affected_system": _affected,
    "time_place": _time_place,
    "type_level": _type_level,
    "impact": _impact,
    "trend": _trend,
    "attack_path": _attack_path,
    "cause": _cause,
    "preliminary_cause": _cause,
    "losses": _losses,
    "progress": _progress,
}


def sections(
    kind: ReportKind, incident: Incident, inventory: InventoryIndex | None, config: ReportConfig
) -> tuple[Section, ...]:
    """The drafted sections of a kind of report, in the configured order. The escalation note
    is written only for 重大 (II) and above; a section without a writer is left to the analyst."""
    drafted = []
    for spec in config.sections.of(kind).items:
        if spec.key == "escalation":
            serious = _GRADE_ORDER[incident.grade] >= _GRADE_ORDER[config.escalation.min_grade]
            if not serious:
                continue
            zh, en = config.escalation.zh.strip(), config.escalation.en.strip()
        else:
            zh, en = _WRITERS.get(spec.key, _todo)(incident, inventory)
        drafted.append(
            Section(
                key=spec.key,
                title_zh=spec.zh,
                title_en=spec.en,
                zh=zh,
                en=en,
                required=spec.required,
                first=spec.first,
            )
        )
    return tuple(drafted)


def draft(
    kind: ReportKind,
    incident: Incident,
    inventory: InventoryIndex | None,
    config: ReportConfig,
    *,
    now: dt.datetime,
    due_at: dt.datetime | None,
    basis: str,
    sequence: int = 1,
) -> Report:
    """A new draft report of `kind` about `incident`."""
    return Report(
        id=report_id(incident.id, kind, sequence),
        incident_id=incident.id,
        kind=kind,
        sequence=sequence,
        tenant_id=reporting_tenant(incident, inventory),
        grade=incident.grade,
        category=incident.category,
        due_at=due_at,
        due_from=due_at - config.due_soon_hours.of(kind) if due_at is not None else None,
        basis=basis,
        sections=sections(kind, incident, inventory, config),
        created_at=now,
        updated_at=now,
    )
