"""Revocation: the last version of each object of an incident that no longer exists.

When the correlator retires an incident (merged into another, renamed), a feed that carried it
must tell its readers: each SDO/SRO gets a new version with `revoked: true` and a `modified` later
than its last one (STIX: a new version's `modified` must be later; at least 1 ms, the precision
of the timestamps we write). SCOs have no versions and may be shared with other incidents, and
marking and extension definitions and the provider identity (the creator of every object) are
shared by every incident, so they are left alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import stix2

from fenghuo.intel.stix.definitions import stix_time, to_json

_MS = dt.timedelta(milliseconds=1)
_NOT_VERSIONED = {"marking-definition", "extension-definition", "language-content"}


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def revoked_versions(latest: Sequence[dict[str, Any]], at: dt.datetime) -> list[dict[str, Any]]:
    """New versions (revoked, `modified = max(at, old modified + 1 ms)`) of the SDOs and SROs
    among `latest`; objects already revoked are not revoked again."""
    versions: list[dict[str, Any]] = []
    for body in latest:
        if "modified" not in body or body["type"] in _NOT_VERSIONED or body.get("revoked"):
            continue  # SCOs carry no `modified`; definitions are shared
        if body.get("created_by_ref") == body["id"]:
            continue  # the provider identity (it creates itself) is every incident's creator
        modified = max(at.astimezone(dt.UTC), _parse(body["modified"]) + _MS)
        new = stix2.parse(
            {**body, "revoked": True, "modified": stix_time(modified)}, allow_custom=True
        )
        versions.append(to_json(new))
    return versions
