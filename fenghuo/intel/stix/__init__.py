"""Incidents as STIX 2.1 for regulators and tenants' own teams (CONTRACTS.md, "STIX 2.1").

Built only through `stix2` and handed out as JSON dicts. `incident_objects` is one incident as
one feed shows it (`FeedView`: TLP 2.0 level, identities or pseudonyms); `shared_objects` are
the definitions every bundle needs (markings, extension definitions, the provider identity);
`incident_bundle` puts both in a bundle; `revoked_versions` retires an incident's objects.
The TAXII feed writer (`fenghuo.intel.feed`) and `fenghuo stix export` call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import stix2

from fenghuo.intel.stix.build import incident_objects
from fenghuo.intel.stix.definitions import (
    FENGHUO_EXTENSION_ID,
    INCIDENT_CORE_ID,
    STIX_NAMESPACE,
    TLP_MARKING_IDS,
    incident_stix_id,
    shared_definitions,
    stix_id,
    to_json,
)
from fenghuo.intel.stix.versions import revoked_versions
from fenghuo.intel.stix.view import FeedView
from fenghuo.model.alert import Alert
from fenghuo.model.incident import Incident

__all__ = [
    "FENGHUO_EXTENSION_ID",
    "INCIDENT_CORE_ID",
    "STIX_NAMESPACE",
    "TLP_MARKING_IDS",
    "FeedView",
    "incident_bundle",
    "incident_objects",
    "incident_stix_id",
    "revoked_versions",
    "shared_objects",
]


def shared_objects(view: FeedView) -> list[dict[str, Any]]:
    """The TLP 2.0 marking definitions used (TLP:CLEAR for the definitions, the feed's level),
    the Incident Core and Fenghuo extension definitions and the provider identity."""
    return shared_definitions(view.tlp, view.provider_name)


def incident_bundle(
    incident: Incident, view: FeedView, *, alerts: Sequence[Alert] = ()
) -> dict[str, Any]:
    """A bundle (shared objects, then the incident's), its id deterministic like the rest;
    `alerts` as for `incident_objects`."""
    objects = [*shared_objects(view), *incident_objects(incident, view, alerts=alerts)]
    bundle_id = stix_id(
        "bundle", incident.id, view.tlp.value, view.identities.value, view.own_tenant or ""
    )
    bundle = stix2.v21.Bundle(id=bundle_id, objects=objects, allow_custom=True)
    return to_json(bundle)
