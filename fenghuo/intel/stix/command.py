"""`fenghuo stix export`: incidents from the configured store as STIX 2.1 bundles, one per line.

JSON lines (one bundle per incident, newest first) rather than one JSON array: a large export
streams, and each line is a complete bundle a regulator's tooling can validate or import alone.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import click

from fenghuo.errors import FenghuoError
from fenghuo.intel.collections import IdentityPolicy, Tlp
from fenghuo.intel.stix import FeedView, incident_bundle
from fenghuo.inventory.index import InventoryIndex
from fenghuo.inventory.model import load_inventory
from fenghuo.model.incident import Incident
from fenghuo.store.base import IncidentQuery, Scope, Store


class ExportError(FenghuoError):
    """An export that cannot be done as asked (unknown incident, bad time)."""


def _parse_since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        msg = f"--since {value!r} is not an RFC 3339 time"
        raise ExportError(msg) from exc
    if parsed.tzinfo is None:
        msg = f"--since {value!r} needs a time zone (e.g. 2026-01-05T10:00:00Z)"
        raise ExportError(msg)
    return parsed.astimezone(dt.UTC)


def selected_incidents(
    store: Store, incident_id: str | None, since: dt.datetime | None
) -> Iterator[Incident]:
    """One incident, or every incident whose evidence reaches `since` or later (with the
    analyst's status, which the export's determination and investigation status follow)."""
    everything = Scope.everything()
    if incident_id is not None:
        view = store.incidents.get(everything, incident_id)
        if view is None:
            msg = f"no incident {incident_id}"
            raise ExportError(msg)
        yield view.incident
        return
    cursor: str | None = None
    while True:
        page = store.incidents.list(everything, IncidentQuery(since=since), cursor=cursor)
        yield from (item.incident for item in page.items)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@click.group()
def stix() -> None:
    """STIX 2.1 export of incidents (the regulator feed's objects)."""


@stix.command("export")
@click.option("--incident", "incident_id", help="export this incident only")
@click.option("--since", help="incidents with evidence at or after this RFC 3339 time")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="output file: JSON lines, one complete bundle per line",
)
@click.option(
    "--tlp",
    type=click.Choice([t.value for t in Tlp]),
    default=Tlp.AMBER.value,
    show_default=True,
    help="TLP 2.0 level marked on every object",
)
@click.option(
    "--identities",
    type=click.Choice([p.value for p in IdentityPolicy]),
    default=IdentityPolicy.PSEUDONYMOUS.value,
    show_default=True,
    help="tenants by keyed-HMAC pseudonym, or by their real identities",
)
@click.option(
    "--inventory",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="inventory YAML (default: the configured one); needed to hide VMs and addresses",
)
def export(
    incident_id: str | None,
    since: str | None,
    out: Path,
    tlp: str,
    identities: str,
    inventory: Path | None,
) -> None:
    """Write one STIX 2.1 bundle per incident to OUT as JSON lines (one complete bundle per
    line, newest incident first). Pseudonymous exports show every tenant by the same
    pseudonym as the API and map tenants' addresses into 198.18.0.0/15."""
    from fenghuo.settings import get_settings
    from fenghuo.store.factory import open_store

    if incident_id is not None and since is not None:
        msg = "give --incident or --since, not both"
        raise click.UsageError(msg)
    settings = get_settings()
    inventory_path = inventory or settings.inventory
    index = InventoryIndex(load_inventory(inventory_path)) if inventory_path else None
    policy = IdentityPolicy(identities)
    if policy is IdentityPolicy.PSEUDONYMOUS and index is None:
        click.echo("warning: no inventory: only tenant ids and private addresses hidden", err=True)
    view = FeedView(
        tlp=Tlp(tlp),
        identities=policy,
        own_tenant=None,
        pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
        inventory=index,
        provider_name=settings.provider_name,
    )
    since_time = _parse_since(since)
    store = open_store(settings)
    count = 0
    try:
        incidents = selected_incidents(store, incident_id, since_time)
        first = next(incidents, None)  # an unknown incident fails before OUT is touched
        with out.open("w", encoding="utf-8") as sink:
            for incident in itertools.chain([first] if first else [], incidents):
                bundle = incident_bundle(incident, view)
                sink.write(json.dumps(bundle, ensure_ascii=False, separators=(",", ":")) + "\n")
                count += 1
    finally:
        store.close()
    click.echo(f"wrote {count} bundles ({tlp}, {identities}) to {out}")
