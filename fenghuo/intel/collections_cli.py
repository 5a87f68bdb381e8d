"""`fenghuo collections ...`: create, list and grant TAXII collections from the command line,
with the same checks and audit entries as /api/v1/collections."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from fenghuo.api.routes.collections import check_grants, collection_audit
from fenghuo.intel.collections import (
    Collection,
    CollectionError,
    CollectionFilter,
    IdentityPolicy,
    Tlp,
    new_collection_id,
)
from fenghuo.intel.feed import FeedError, writer_for
from fenghuo.inventory import InventoryStore
from fenghuo.model.incident import Grade
from fenghuo.settings import get_settings
from fenghuo.store.factory import open_store
from fenghuo.store.keys import Role

_ACTOR = "cli"


@click.group("collections")
def collections() -> None:
    """TAXII collections: saved incident filters with a TLP level, served under /taxii2/."""


@collections.command("create")
@click.option("--title", required=True)
@click.option("--description", default="")
@click.option("--tlp", type=click.Choice([t.value for t in Tlp]), default=Tlp.AMBER.value)
@click.option(
    "--identities",
    type=click.Choice([p.value for p in IdentityPolicy]),
    default=IdentityPolicy.PSEUDONYMOUS.value,
    help="tenants by pseudonym, or by their real identities",
)
@click.option("--min-grade", type=click.Choice([g.value for g in Grade]), help="e.g. III")
@click.option("--tenant", "tenants", multiple=True, help="incidents of this tenant (repeatable)")
@click.option("--province", "provinces", multiple=True, help="tenants of this province")
@click.option("--own-tenant", help="a tenant's own collection (its identifiers readable)")
@click.option("--writable", is_flag=True, help="accept objects POSTed by granted keys")
@click.option("--grant", "grants", multiple=True, help="key id to grant it to (repeatable)")
@click.option(
    "--inventory",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="the inventory (default FENGHUO_INVENTORY): what a pseudonymous collection hides",
)
def create(
    title: str,
    description: str,
    tlp: str,
    identities: str,
    min_grade: str | None,
    tenants: tuple[str, ...],
    provinces: tuple[str, ...],
    own_tenant: str | None,
    writable: bool,
    grants: tuple[str, ...],
    inventory: Path | None,
) -> None:
    collection = Collection(
        id=new_collection_id(),
        title=title,
        description=description,
        tlp=Tlp(tlp),
        identities=IdentityPolicy(identities),
        own_tenant=own_tenant,
        filter=CollectionFilter(
            min_grade=Grade(min_grade) if min_grade else None,
            tenants=tenants,
            provinces=provinces,
        ),
        can_write=writable,
        readers=tuple(dict.fromkeys(grants)),
        created_at=dt.datetime.now(dt.UTC),
    )
    settings = get_settings()
    path = inventory or settings.inventory
    index = InventoryStore(path).current() if path else None
    store = open_store(settings)
    try:
        check_grants(store, collection, list(collection.readers))
        created = store.collections.create(collection)
        store.audit.append(
            collection_audit("collection.create", created, _ACTOR, Role.ADMIN.value, {})
        )
        click.echo(f"created collection {created.id} ({created.title}, TLP:{created.tlp.upper()})")
        filled = writer_for(settings, store, lambda: index).backfill(created)
        click.echo(f"filled with the {filled} stored incidents it selects")
    except CollectionError as exc:
        raise click.ClickException(str(exc)) from None
    except FeedError as exc:
        msg = f"not filled from the store: {exc}; the feed service fills it as incidents change"
        raise click.ClickException(msg) from None
    finally:
        store.close()


@collections.command("list")
def list_() -> None:
    store = open_store(get_settings())
    try:
        found = store.collections.list()
    finally:
        store.close()
    for c in found:
        readers = ",".join(c.readers) or "-"
        write = "rw" if c.can_write else "r"
        click.echo(f"{c.id}  {c.tlp.value:<12} {write:<2} {c.title}  readers: {readers}")


@collections.command("grant")
@click.argument("collection_id")
@click.argument("key_id")
def grant(collection_id: str, key_id: str) -> None:
    store = open_store(get_settings())
    try:
        collection = store.collections.get(collection_id)
        if collection is None:
            msg = f"no collection {collection_id}"
            raise CollectionError(msg)
        check_grants(store, collection, [key_id])
        granted = store.collections.grant(collection_id, [key_id])
        store.audit.append(
            collection_audit(
                "collection.grant", granted, _ACTOR, Role.ADMIN.value, {"key_ids": [key_id]}
            )
        )
    except CollectionError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    click.echo(f"granted {collection_id} to {key_id}")
