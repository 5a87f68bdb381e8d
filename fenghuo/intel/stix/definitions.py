"""The fixed objects every bundle shares: TLP 2.0 markings, extension definitions, the provider.

TLP 2.0 marking definitions carry the exact OASIS ids, `created` 2022-10-01T00:00:00.000Z and the
`tlp_2_0` property extension (extension-definition--60a3c5c5-…): stix2's `TLP_*` constants are
TLP 1.0 (other ids) and must not be used.

The Incident Core Extension object is reproduced as OASIS publishes it
(cti-stix-common-objects `objects/extension-definition/extension-definition--ef765651-….json`,
version 1.1.0, modified 2022-10-27T15:09:00.000Z). The properties we write follow its JSON schema
as of commit 563d8d440c30fe594ed07b1f565571dbb59df186 of that repository
(`extension-definition-specifications/incident-core/extension-definition--ef765651-….json`):
`criticality` an integer 0-100, `investigation_status` a string, `impacted_entity_counts` keys of
lower-case words and dashes. The repository's schemas disagree on `determination`'s values
(older ones: suspected/confirmed/false-positive; that commit: blocked, failed-attempt,
false-positive, low-value, successful-attempt, suspected); we only write `suspected` and
`false-positive`, which every version and CONTRACTS.md accept.

Definitions are public specifications, so they (and the provider identity) are marked TLP:CLEAR
whatever the feed's level: the same id then has the same content in every collection.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import stix2

from fenghuo.intel.collections import Tlp

# UUIDv5 namespace of every Fenghuo STIX id (fixed forever: changing it renames every object).
STIX_NAMESPACE = uuid.UUID("c1a70eaf-df76-4147-9474-598645baf2dd")

TLP_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP_CREATED = "2022-10-01T00:00:00.000Z"
TLP_MARKING_IDS: dict[Tlp, str] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

INCIDENT_CORE_ID = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
INCIDENT_CORE_SCHEMA_COMMIT = "563d8d440c30fe594ed07b1f565571dbb59df186"
_INCIDENT_CORE_AUTHOR = "identity--8ce3f695-d5a4-4dc8-9e93-a65af453a31a"  # as OASIS publishes it

# Fenghuo's own property extension of `incident` (GB/T 20986-2023, national reporting, blast
# radius, risk). Its id is fixed; a change of its properties is a new `version` (semver) and a
# later `modified`, never a new id.
FENGHUO_EXTENSION_ID = "extension-definition--238481dd-7072-4174-9522-5f6b43558592"
FENGHUO_EXTENSION_VERSION = "1.0.0"
FENGHUO_EXTENSION_SCHEMA = "https://fenghuo.example/docs/stix/extensions/incident-cn/1.0.0.json"
_FENGHUO_EXTENSION_CREATED = "2026-12-01T00:00:00.000Z"
FENGHUO_EXTENSION_PROPERTIES = (
    "incident_id",
    "severity",
    "gbt_20986",
    "reporting",
    "blast_radius",
    "risk_score",
    "sequences",
)

# `created` of the provider identity: it does not belong to any incident, so it has a fixed date.
_PROVIDER_CREATED = "2026-01-01T00:00:00.000Z"


def stix_id(kind: str, *parts: str) -> str:
    """`<kind>--<uuid5>` of the parts (incident id first, then the object's role)."""
    return f"{kind}--{uuid.uuid5(STIX_NAMESPACE, '/'.join((kind, *parts)))}"


def incident_stix_id(incident_id: str) -> str:
    """The STIX id of a Fenghuo incident (the same in every collection and export)."""
    return stix_id("incident", incident_id)


def provider_identity_id(provider_name: str) -> str:
    return stix_id("identity", "provider", provider_name)


def stix_time(value: dt.datetime) -> str:
    """Millisecond STIX timestamp text, the precision stix2 writes `created`/`modified` in."""
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def to_json(obj: Any) -> dict[str, Any]:
    """A stix2 object as a plain JSON dict (through stix2's own serialiser)."""
    result: dict[str, Any] = json.loads(obj.serialize())
    return result


def tlp_marking(level: Tlp) -> dict[str, Any]:
    return to_json(
        stix2.v21.MarkingDefinition(
            id=TLP_MARKING_IDS[level],
            created=TLP_CREATED,
            name=f"TLP:{level.value.upper()}",
            extensions={
                TLP_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": level.value}
            },
        )
    )


def provider_identity(provider_name: str) -> dict[str, Any]:
    identity_id = provider_identity_id(provider_name)
    return to_json(
        stix2.v21.Identity(
            id=identity_id,
            created_by_ref=identity_id,
            created=_PROVIDER_CREATED,
            modified=_PROVIDER_CREATED,
            name=provider_name,
            identity_class="organization",
            sectors=["technology"],
            description="The cloud provider operating Fenghuo: creator of this feed's objects.",
            object_marking_refs=[TLP_MARKING_IDS[Tlp.CLEAR]],
        )
    )


def incident_core_definition() -> dict[str, Any]:
    return to_json(
        stix2.v21.ExtensionDefinition(
            id=INCIDENT_CORE_ID,
            created_by_ref=_INCIDENT_CORE_AUTHOR,
            created="2020-10-19T20:51:00.000Z",
            modified="2022-10-27T15:09:00.000Z",
            name="Incident Core Extension",
            description=(
                "A core extension of the Incident object to allow core details of the Incident"
                " to be shared while tracking major details tied to the incident's timeline."
                "  Multiple Incidents can be tied together via relationships if a higher degree"
                " of fidelity is needed across phases."
            ),
            schema=(
                "https://github.com/oasis-open/cti-stix-common-objects/tree/main/"
                "extension-definition-specifications/incident-core"
            ),
            version="1.1.0",
            extension_types=["property-extension"],
            object_marking_refs=[TLP_MARKING_IDS[Tlp.CLEAR]],
        )
    )


def fenghuo_definition(provider_name: str) -> dict[str, Any]:
    return to_json(
        stix2.v21.ExtensionDefinition(
            id=FENGHUO_EXTENSION_ID,
            created_by_ref=provider_identity_id(provider_name),
            created=_FENGHUO_EXTENSION_CREATED,
            modified=_FENGHUO_EXTENSION_CREATED,
            name="Fenghuo incident: GB/T 20986-2023 and national reporting",
            description=(
                "Property extension of incident: GB/T 20986-2023 category and level (grade),"
                " the reporting duty under the 国家网络安全事件报告管理办法 (required, deadline,"
                " state, basis), the blast radius (counts and pseudonymised names) and the risk"
                " score (0-100)."
            ),
            schema=FENGHUO_EXTENSION_SCHEMA,
            version=FENGHUO_EXTENSION_VERSION,
            extension_types=["property-extension"],
            object_marking_refs=[TLP_MARKING_IDS[Tlp.CLEAR]],
        )
    )


def shared_definitions(level: Tlp, provider_name: str) -> list[dict[str, Any]]:
    """TLP:CLEAR (the definitions' own marking) and the feed's level, both extension
    definitions and the provider identity, in that order."""
    markings = [tlp_marking(Tlp.CLEAR)]
    if level is not Tlp.CLEAR:
        markings.append(tlp_marking(level))
    return [
        *markings,
        incident_core_definition(),
        fenghuo_definition(provider_name),
        provider_identity(provider_name),
    ]
