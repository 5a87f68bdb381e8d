"""One incident as STIX 2.1 objects, built only through stix2 and returned as JSON dicts.

What a bundle holds (besides the shared definitions, `definitions.shared_definitions`):

- `incident` with the Incident Core Extension (determination, investigation status, criticality
  from the risk score, impacted entity counts, incident types, detection methods) and Fenghuo's
  own property extension (GB/T 20986-2023 category and level, reporting duty, blast radius, risk);
- `attack-pattern` per ATT&CK technique of the incident's detectors (`mitre-attack` reference);
- `course-of-action` per detector (its runbook), `mitigates` the technique's attack pattern;
- `identity` per affected or acting tenant; the technique `targets` each affected tenant;
- `infrastructure` per hypervisor host and VM; a host `consists-of` the VMs it runs;
- `observed-data` with the evidence as SCOs (addresses, accounts, processes from the incident's
  entities; with `alerts`, the flows and files of their details, `evidence.py`), and a
  `sighting` of each attack pattern (seen by the provider) that points at it;
- `related-to` relationships from the incident to everything it involves (STIX 2.1 defines no
  other relationship for `incident`, and the validator warns on undefined ones).

Ids are UUIDv5 (`definitions.STIX_NAMESPACE`) of the incident id and the object's role, the role
taken from what the reader sees (a pseudonymous VM's id derives from its pseudonym, so the id
cannot confirm a guessed name). Every SDO/SRO is `created` at the incident's `first_seen`. An
object whose content follows only from its id (technique, runbook, tenant, host, relationship)
keeps `modified == created`; the incident, its observed data and sightings, whose content follows
the incident's state, are `modified` at `max(created, updated_at)`. So a changed incident yields
new versions of exactly the objects that can have changed, under the same ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import stix2

from fenghuo.detectors.base import DetectorMeta
from fenghuo.detectors.registry import all_detectors
from fenghuo.intel.stix.definitions import (
    FENGHUO_EXTENSION_ID,
    INCIDENT_CORE_ID,
    TLP_MARKING_IDS,
    incident_stix_id,
    provider_identity_id,
    stix_id,
    stix_time,
    to_json,
)
from fenghuo.intel.stix.evidence import Evidence, address_sco, incident_alerts
from fenghuo.intel.stix.extensions import fenghuo_properties, incident_core_properties
from fenghuo.intel.stix.view import FeedView, Masker
from fenghuo.model.alert import Alert
from fenghuo.model.incident import Incident

# ATT&CK names of the techniques Fenghuo's detectors report (enterprise matrix, v16).
TECHNIQUE_NAMES = {
    "T1078.004": "Valid Accounts: Cloud Accounts",
    "T1499.004": "Endpoint Denial of Service: Application or System Exploitation",
    "T1530": "Data from Cloud Storage",
    "T1537": "Transfer Data to Cloud Account",
    "T1562.008": "Impair Defenses: Disable or Modify Cloud Logs",
    "T1580": "Cloud Infrastructure Discovery",
    "T1599": "Network Boundary Bridging",
    "T1611": "Escape to Host",
}


def _detector_meta() -> dict[str, DetectorMeta]:
    return {detector_id: cls.meta for detector_id, cls in all_detectors().items()}


class _Builder:
    """Collects one incident's objects for one view."""

    def __init__(self, incident: Incident, view: FeedView, alerts: Sequence[Alert] = ()) -> None:
        self.original = incident
        self.masker = Masker(view)
        self.incident = self.masker.incident(incident)  # everything below reads the masked copy
        self.view = view
        self.created = incident.first_seen
        self.modified = max(incident.first_seen, incident.updated_at)
        self.common: dict[str, Any] = {
            "created_by_ref": provider_identity_id(view.provider_name),
            "object_marking_refs": [TLP_MARKING_IDS[view.tlp]],
            "created": stix_time(self.created),
        }
        self.objects: list[Any] = []
        self.incident_id = incident_stix_id(incident.id)
        self.meta = _detector_meta()
        self.alerts = incident_alerts(incident, alerts)

    def sid(self, kind: str, *role: str) -> str:
        return stix_id(kind, self.original.id, *role)

    def process_id(self, host: str, pid: str) -> str:
        """The validator requires UUIDv4 for `process` (no id-contributing properties): the
        UUIDv5 digest with the version bits set to 4, so it stays deterministic."""
        digest = uuid.UUID(self.sid("process", host, pid).split("--")[1])
        return f"process--{uuid.UUID(bytes=digest.bytes, version=4)}"

    def static(self) -> dict[str, Any]:
        return {**self.common, "modified": stix_time(self.created)}

    def dynamic(self) -> dict[str, Any]:
        return {**self.common, "modified": stix_time(self.modified)}

    def relate(self, source: str, kind: str, target: str, description: str | None = None) -> None:
        extra = {"description": description} if description else {}
        self.objects.append(
            stix2.v21.Relationship(
                id=self.sid("relationship", kind, source, target),
                source_ref=source,
                relationship_type=kind,
                target_ref=target,
                **extra,
                **self.static(),
            )
        )

    # --- the parts ------------------------------------------------------------------------

    def detectors(self) -> list[str]:
        return sorted({entry.detector for entry in self.incident.timeline})

    def techniques(self) -> dict[str, list[str]]:
        """Technique -> the incident's detectors reporting it (known detectors only)."""
        found: dict[str, list[str]] = {}
        for detector in self.detectors():
            if (meta := self.meta.get(detector)) is not None:
                found.setdefault(meta.technique, []).append(detector)
        return found

    def attack_patterns(self) -> dict[str, str]:
        ids: dict[str, str] = {}
        for technique, detectors in sorted(self.techniques().items()):
            ap_id = self.sid("attack-pattern", technique)
            ids[technique] = ap_id
            titles = "; ".join(self.meta[d].title for d in detectors)
            self.objects.append(
                stix2.v21.AttackPattern(
                    id=ap_id,
                    name=TECHNIQUE_NAMES.get(technique, f"ATT&CK {technique}"),
                    description=f"Reported by Fenghuo detectors: {titles}",
                    external_references=[
                        {
                            "source_name": "mitre-attack",
                            "external_id": technique,
                        }
                    ],
                    **self.static(),
                )
            )
            self.relate(self.incident_id, "related-to", ap_id)
        return ids

    def courses_of_action(self, patterns: dict[str, str]) -> None:
        for detector in self.detectors():
            meta = self.meta.get(detector)
            if meta is None:
                continue
            coa_id = self.sid("course-of-action", detector)
            self.objects.append(
                stix2.v21.CourseOfAction(
                    id=coa_id,
                    name=f"Runbook: {meta.title}",
                    description=meta.runbook,
                    external_references=[{"source_name": "fenghuo", "external_id": detector}],
                    **self.static(),
                )
            )
            self.relate(coa_id, "mitigates", patterns[meta.technique])

    def identities(self, patterns: dict[str, str]) -> None:
        affected = list(dict.fromkeys(self.incident.tenants))
        actors = [t for t in dict.fromkeys(self.incident.actor_tenants) if t not in affected]
        for tenant in [*affected, *actors]:
            identity_id = self.sid("identity", "tenant", tenant)
            self.objects.append(
                stix2.v21.Identity(
                    id=identity_id,
                    name=tenant,
                    identity_class="organization",
                    description="A tenant of the cloud (its pseudonym unless the feed is granted"
                    " identities).",
                    **self.static(),
                )
            )
            if tenant in affected:
                self.relate(self.incident_id, "related-to", identity_id, "affected tenant")
                for ap_id in patterns.values():
                    self.relate(ap_id, "targets", identity_id)
            else:
                self.relate(
                    self.incident_id, "related-to", identity_id, "tenant the activity came from"
                )

    def infrastructure(self) -> None:
        hosts = list(
            dict.fromkeys(
                [*self.incident.hosts, *(e.id for e in self.incident.entities if e.type == "host")]
            )
        )
        host_ids = {host: self.sid("infrastructure", "host", host) for host in hosts}
        for host, infra_id in host_ids.items():
            self.objects.append(
                stix2.v21.Infrastructure(
                    id=infra_id,
                    name=host,
                    description="Hypervisor host of the cloud provider.",
                    **self.static(),
                )
            )
            self.relate(self.incident_id, "related-to", infra_id)
        # VM names come from the real incident (for the inventory's host), shown masked.
        real_vms = [e.id for e in self.original.entities if e.type == "vm"]
        shown_vms = [e.id for e in self.incident.entities if e.type == "vm"]
        inventory = self.view.inventory
        for real, shown in zip(real_vms, shown_vms, strict=True):
            vm_id = self.sid("infrastructure", "vm", shown)
            self.objects.append(
                stix2.v21.Infrastructure(
                    id=vm_id,
                    name=shown,
                    description="Virtual machine of a tenant.",
                    **self.static(),
                )
            )
            self.relate(self.incident_id, "related-to", vm_id)
            record = inventory.vm_by_name(real) if inventory is not None else None
            if record is not None and record.host in host_ids:
                self.relate(host_ids[record.host], "consists-of", vm_id)

    def observables(self) -> list[Any]:
        """The evidence SCOs: the entities', then the alerts' (`Evidence`); stix2's
        deterministic ids (a process has no id-contributing property, so its id is ours:
        `process_id`)."""
        marking = {"object_marking_refs": [TLP_MARKING_IDS[self.view.tlp]]}
        found = Evidence(self.masker, self.original, self.alerts, marking)
        scos: dict[str, Any] = {}
        for entity in self.incident.entities:
            sco: Any = None
            if entity.type == "ip":
                sco = address_sco(entity.id, marking)
            elif entity.type == "account":
                sco = stix2.v21.UserAccount(user_id=entity.id, **marking)
            elif entity.type == "process" and ":" in entity.id:
                host, _, pid = entity.id.rpartition(":")
                if pid.isdigit():
                    image = found.images.get((host, int(pid)))
                    sco = stix2.v21.Process(
                        id=self.process_id(host, pid),
                        pid=int(pid),
                        **({"image_ref": image} if image else {}),
                        **marking,
                    )
            if sco is not None:
                scos.setdefault(sco.id, sco)
        for sco_id, sco in found.scos.items():
            scos.setdefault(sco_id, sco)
        return list(scos.values())

    def evidence(self, patterns: dict[str, str]) -> str | None:
        scos = self.observables()
        if not scos:
            return None
        observed_id = self.sid("observed-data")
        self.objects.extend(scos)
        self.objects.append(
            stix2.v21.ObservedData(
                id=observed_id,
                first_observed=self.incident.first_seen,
                last_observed=max(self.incident.last_seen, self.incident.first_seen),
                number_observed=max(1, len(self.incident.alert_ids)),
                object_refs=[sco.id for sco in scos],
                **self.dynamic(),
            )
        )
        provider = provider_identity_id(self.view.provider_name)
        for technique, ap_id in patterns.items():
            times = [
                e.time
                for e in self.incident.timeline
                if (m := self.meta.get(e.detector)) is not None and m.technique == technique
            ]
            self.objects.append(
                stix2.v21.Sighting(
                    id=self.sid("sighting", technique),
                    sighting_of_ref=ap_id,
                    observed_data_refs=[observed_id],
                    where_sighted_refs=[provider],
                    first_seen=min(times),
                    last_seen=max(times),
                    count=len(times),
                    **self.dynamic(),
                )
            )
        self.relate(self.incident_id, "related-to", observed_id)
        return observed_id

    def incident_object(self) -> None:
        self.objects.append(
            stix2.v21.Incident(
                id=self.incident_id,
                name=self.incident.title,
                description=self.incident.summary or self.incident.title,
                labels=[f"severity:{self.incident.severity.value}"],
                external_references=[{"source_name": "fenghuo", "external_id": self.original.id}],
                extensions={
                    INCIDENT_CORE_ID: incident_core_properties(self.incident, self.detectors()),
                    FENGHUO_EXTENSION_ID: fenghuo_properties(self.incident),
                },
                **self.dynamic(),
            )
        )

    def build(self) -> list[dict[str, Any]]:
        self.incident_object()
        patterns = self.attack_patterns()
        self.courses_of_action(patterns)
        self.identities(patterns)
        self.infrastructure()
        self.evidence(patterns)
        return [to_json(obj) for obj in self.objects]


def incident_objects(
    incident: Incident, view: FeedView, *, alerts: Sequence[Alert] = ()
) -> list[dict[str, Any]]:
    """Every object of the incident's bundle except the shared definitions; deterministic
    (same incident, view and set of alerts: the same list, in the same order, whatever the
    alerts' order). `alerts`: the incident's alerts at hand (any subset; others are ignored),
    whose details add the flows and files of the evidence (`evidence.py`)."""
    return _Builder(incident, view, alerts).build()
