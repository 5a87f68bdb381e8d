"""The two property extensions of `incident`: OASIS Incident Core and Fenghuo's own.

Both read the incident as the feed's reader may see it (already masked by `view.Masker`), so
their names (blast radius, grade basis) are pseudonyms where the reader gets pseudonyms.

Incident Core (schema pinned in `definitions`): `determination` comes from the analyst status
(`false_positive` -> `false-positive`, anything else `suspected`: the correlator never confirms,
and Fenghuo's analyst states have no "confirmed"); `investigation_status` `new` until an analyst
acts, `open` while acknowledged or investigating, `closed` once resolved or a false positive;
`criticality` the risk score rounded into 0-100.

Fenghuo's extension (`definitions.FENGHUO_EXTENSION_ID`): GB/T 20986-2023 category and level,
the reporting duty (`state`: `not-required`, `due` while no report was sent, `submitted` once
one was; whether a due report is overdue depends on the reader's clock, so the deadline is given
and the state does not claim it), the blast radius (counts and names), the risk score.
"""

from __future__ import annotations

from typing import Any

from fenghuo.detectors.taxonomy import GBT20986_CATEGORIES
from fenghuo.intel.stix.definitions import stix_time
from fenghuo.model.incident import Grade, Incident, IncidentStatus

_INVESTIGATION = {
    IncidentStatus.NEW: "new",
    IncidentStatus.ACKNOWLEDGED: "open",
    IncidentStatus.INVESTIGATING: "open",
    IncidentStatus.RESOLVED: "closed",
    IncidentStatus.FALSE_POSITIVE: "closed",
}
GRADE_NAMES = {
    Grade.I: ("特别重大", "extraordinarily serious"),
    Grade.II: ("重大", "major"),
    Grade.III: ("较大", "serious"),
    Grade.IV: ("一般", "general"),
}


def _slug(text: str) -> str:
    return "-".join(text.casefold().replace(" incident", "").split())


def incident_core_properties(incident: Incident, detectors: list[str]) -> dict[str, Any]:
    determination = (
        "false-positive" if incident.status is IncidentStatus.FALSE_POSITIVE else "suspected"
    )
    radius = incident.blast_radius
    organisations = {*incident.tenants, *radius.tenants}
    systems = {*radius.vms, *radius.hosts, *incident.hosts}
    counts = {"organizations": len(organisations), "information-systems": len(systems)}
    category = GBT20986_CATEGORIES.get(incident.category)
    properties: dict[str, Any] = {
        "extension_type": "property-extension",
        "determination": determination,
        "investigation_status": _INVESTIGATION[incident.status],
        "criticality": max(0, min(100, round(incident.risk_score))),
        "impacted_entity_counts": {k: v for k, v in counts.items() if v},
        "detection_methods": [f"fenghuo:{d}" for d in detectors] or ["fenghuo"],
    }
    if category is not None:
        properties["incident_types"] = [_slug(category[1])]
    return properties


def _reporting_state(incident: Incident) -> str:
    if not incident.reporting.required:
        return "not-required"
    return "submitted" if incident.reporting.sent else "due"


def fenghuo_properties(incident: Incident) -> dict[str, Any]:
    category = GBT20986_CATEGORIES.get(incident.category, ("", ""))
    grade_zh, grade_en = GRADE_NAMES[incident.grade]
    reporting: dict[str, Any] = {
        "required": incident.reporting.required,
        "state": _reporting_state(incident),
        "basis": incident.reporting.basis,
        "reports_sent": len(incident.reporting.sent),
    }
    if incident.reporting.deadline is not None:
        reporting["deadline"] = stix_time(incident.reporting.deadline)
    radius = incident.blast_radius
    properties = {
        "extension_type": "property-extension",
        "incident_id": incident.id,
        "severity": incident.severity.value,
        "gbt_20986": {
            "standard": "GB/T 20986-2023",
            "category": incident.category,
            "category_name": category[0],
            "category_name_en": category[1],
            "level": incident.grade.value,
            "level_name": grade_zh,
            "level_name_en": grade_en,
            "basis": incident.grade_basis,
        },
        "reporting": reporting,
        "blast_radius": {
            "tenant_count": len(radius.tenants),
            "vm_count": len(radius.vms),
            "host_count": len(radius.hosts),
            "resource_count": len(radius.resources),
            "tenants": sorted(radius.tenants),
            "vms": sorted(radius.vms),
            "hosts": sorted(radius.hosts),
            "resources": sorted(radius.resources),
        },
        "risk_score": round(incident.risk_score, 2),
        "sequences": list(incident.sequences),
    }
    return _without_empty(properties)


def _without_empty(value: dict[str, Any]) -> dict[str, Any]:
    """STIX forbids empty lists (and the validator rejects them inside extensions too)."""
    result: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict):
            item = _without_empty(item)
        if item == [] or item == "":
            continue
        result[key] = item
    return result
