"""What `fenghuo up` sets up for regulators: a demo collection of the incidents the national rules
require to be reported, a demo regulator key granted it, and the feed service that fills it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from fenghuo.graph.runner import ServiceThread
from fenghuo.intel.collections import Collection, CollectionFilter, new_collection_id
from fenghuo.inventory import InventoryStore
from fenghuo.model.incident import Grade
from fenghuo.settings import Settings
from fenghuo.store.base import Store
from fenghuo.store.keys import Role

if TYPE_CHECKING:
    from fenghuo.intel.feed_service import FeedService

DEMO_ALIAS = "national-reportable"


def demo_collection(store: Store) -> Collection:
    """The demo regulator collection (created once, found again on later runs): incidents
    graded 较大 (III) or above, TLP:AMBER, tenants by pseudonym."""
    for collection in store.collections.list():
        if collection.alias == DEMO_ALIAS:
            return collection
    return store.collections.create(
        Collection(
            id=new_collection_id(),
            title="较大及以上网络安全事件 / Incidents graded III (serious) and above",
            description=(
                "Every incident graded 较大 (III) or above by GB/T 20986-2023, as the 2025"
                " national incident-reporting measures require to be reported; tenants by"
                " pseudonym."
            ),
            alias=DEMO_ALIAS,
            filter=CollectionFilter(min_grade=Grade.III),
            created_at=dt.datetime.now(dt.UTC),
        )
    )


def start_regulator_feed(
    settings: Settings,
    store: Store,
    inventory: InventoryStore,
    bootstrap: str,
    url: str,
    rotate_key: Callable[[Role], str],
    echo: Callable[[str], None],
) -> ServiceThread[FeedService]:
    """Create the demo collection and a fresh demo regulator key granted it, start the feed
    service, and print where a TAXII client reads it."""
    from fenghuo.intel.feed_service import start_feed

    collection = demo_collection(store)
    token = rotate_key(Role.REGULATOR)
    key = store.keys.verify(token)
    assert key is not None  # just created
    store.collections.grant(collection.id, [key.id])
    running = start_feed(settings, inventory, bootstrap)
    collection_url = f"{url}/taxii2/fenghuo/collections/{collection.id}/"
    echo(f"taxii      {url}/taxii2/  (collection {collection.id}: graded III and above)")
    echo(f"regulator key {token}  (demo regulator key, shown once)")
    echo(
        '           python -c "from taxii2client.v21 import Collection, as_pages; '
        f"c = Collection('{collection_url}', user='regulator', password='{token}'); "
        "print(sum(len(p.get('objects', [])) for p in as_pages(c.get_objects, per_request=100)))\""
    )
    return running
